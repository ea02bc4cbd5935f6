"""Registered layer-wise models: every hidden state of each language model, as MTEB model variants.

Names follow MTEB's variant naming, ``"<hub id> (layer=K)"`` (mean pooling) and
``"<hub id> (layer=K, pooling=P)"``. Weights come from ``RWKV_MTEB_MODEL_PATHS`` (the variant's name or the
bare hub id), else from the hub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mteb.models.model_meta import ModelMeta, ScoringFunction
from sentence_transformers import SentenceTransformer

from rwkv_mteb.errors import ModelUnavailableError
from rwkv_mteb.model_sources import local_path, require_hub
from rwkv_mteb.rwkv.pooling import POOLINGS

RWKV_CITATION = """@inproceedings{peng-etal-2024-eagle,
  title = {Eagle and Finch: {RWKV} with Matrix-Valued States and Dynamic Recurrence},
  author = {Peng, Bo and Goldstein, Daniel and Anthony, Quentin and others},
  booktitle = {First Conference on Language Modeling},
  year = {2024},
}"""


@dataclass(frozen=True)
class LanguageModel:
    name: str
    family: str  # "rwkv6" (our model code) or "transformers"
    hidden_states: int  # entries in the reference layout
    width: int
    n_parameters: int
    license: str
    release_date: str
    max_tokens: float


LANGUAGE_MODELS = [
    LanguageModel("RWKV/v6-Finch-1B6-HF", "rwkv6", 25, 2048, 1_600_000_000, "apache-2.0", "2024-05-01", float("inf")),
    LanguageModel("RWKV/v6-Finch-3B-HF", "rwkv6", 33, 2560, 3_100_000_000, "apache-2.0", "2024-05-01", float("inf")),
    LanguageModel("RWKV/v6-Finch-7B-HF", "rwkv6", 33, 4096, 7_600_000_000, "apache-2.0", "2024-05-01", float("inf")),
    LanguageModel(
        "RWKV/rwkv-4-169m-pile", "transformers", 13, 768, 169_000_000, "apache-2.0", "2023-05-01", float("inf")
    ),
    LanguageModel(
        "RWKV/rwkv-4-430m-pile", "transformers", 25, 1024, 430_000_000, "apache-2.0", "2023-05-01", float("inf")
    ),
    LanguageModel("openai-community/gpt2", "transformers", 13, 768, 124_000_000, "mit", "2019-02-14", 1024),
    LanguageModel("EleutherAI/pythia-160m", "transformers", 13, 768, 162_000_000, "apache-2.0", "2023-02-13", 2048),
    LanguageModel(
        "state-spaces/mamba-130m-hf", "transformers", 25, 768, 129_000_000, "apache-2.0", "2024-03-06", float("inf")
    ),
]
BY_NAME = {lm.name: lm for lm in LANGUAGE_MODELS}

_VARIANT = re.compile(r"^(?P<base>[^()]+?) \((?P<args>[^()]*)\)$")


def variant_name(base: str, layer: int, pooling: str = "mean") -> str:
    return f"{base} (layer={layer})" if pooling == "mean" else f"{base} (layer={layer}, pooling={pooling})"


def parse_name(name: str) -> tuple[str, dict[str, str]]:
    """``"RWKV/v6-Finch-1B6-HF (layer=3, pooling=max)"`` -> ("RWKV/v6-Finch-1B6-HF", {"layer": "3", ...})."""
    match = _VARIANT.match(name)
    if not match:
        return name, {}
    args = dict(part.strip().split("=", 1) for part in match["args"].split(",") if "=" in part)
    return match["base"], args


def resolve_source(lm: LanguageModel, name: str, revision: str | None) -> tuple[str | Path, bool]:
    """(where the weights are, whether that is a local path)."""
    for candidate in (name, lm.name):
        path = local_path(candidate)
        if path is not None:
            return path, True
    require_hub(lm.name)
    if lm.family == "transformers":
        return lm.name, False
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(
            lm.name, revision=revision, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.pth"]
        )
    except Exception as exc:
        raise ModelUnavailableError(
            f"could not download {lm.name} from the hub ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            f"set RWKV_MTEB_MODEL_PATHS='{lm.name}=/path/to/checkpoint'"
        ) from None
    return Path(folder), True


def build_layerwise(
    name: str,
    revision: str | None = None,
    device: str | None = None,
    *,
    layers: list[int] | None = None,
    pooling: str | None = None,
    combine: str = "mean",
    dtype: str | None = None,
    cache: bool | None = None,
) -> SentenceTransformer:
    """The SentenceTransformer for a registered variant name, or for a bare hub id with explicit options."""
    from rwkv_mteb.rwkv.layerwise import LayerwiseEncoder, load_backbone

    base, args = parse_name(name)
    lm = BY_NAME.get(base)
    if lm is None:
        raise ModelUnavailableError(f"{base!r} is not a language model rwkv-mteb knows ({sorted(BY_NAME)})")
    if layers is None:
        if "layer" not in args:
            raise ModelUnavailableError(f"say which layer(s) of {base} to pool: e.g. '{variant_name(base, 1)}'")
        layers = [int(args["layer"])]
    pooling = pooling or args.get("pooling", "mean")
    device = device or ("cuda" if _cuda() else "cpu")
    dtype = dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    source, local = resolve_source(lm, name, revision)
    backbone = load_backbone(lm.family, source, dtype=dtype, device=device, revision=revision, local_only=local)
    use_cache = _cache_enabled() if cache is None else cache
    module = LayerwiseEncoder(backbone, layers, pooling, combine, model_id=lm.name, cache=use_cache)
    return SentenceTransformer(modules=[module], device=device, similarity_fn_name="cosine")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _cache_enabled() -> bool:
    import os

    return os.environ.get("RWKV_MTEB_VECTOR_CACHE", "1").strip().lower() not in {"0", "false", "no", "off"}


def rwkv_metas() -> list[ModelMeta]:
    from rwkv_mteb.model_metas import BUILDERS, mteb_loader

    metas = []
    for lm in LANGUAGE_MODELS:
        for layer in range(lm.hidden_states):
            for pooling in POOLINGS:
                name = variant_name(lm.name, layer, pooling)
                BUILDERS[name] = build_layerwise
                metas.append(
                    ModelMeta(
                        loader=mteb_loader,
                        name=name,
                        revision=None,
                        release_date=lm.release_date,
                        languages=["eng-Latn"],
                        n_parameters=lm.n_parameters,
                        memory_usage_mb=None,
                        max_tokens=lm.max_tokens,
                        embed_dim=lm.width,
                        license=lm.license,
                        open_weights=True,
                        public_training_code=None,
                        public_training_data=None,
                        framework=["PyTorch", "Sentence Transformers"],
                        reference=f"https://huggingface.co/{lm.name}",
                        similarity_fn_name=ScoringFunction.COSINE,
                        use_instructions=False,
                        training_datasets=set(),
                        adapted_from=lm.name,
                        citation=RWKV_CITATION if lm.name.startswith("RWKV/v6") else None,
                    )
                )
        BUILDERS[lm.name] = build_layerwise
    return metas
