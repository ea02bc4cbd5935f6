"""``ModelMeta`` declarations for the models rwkv-mteb serves, and the loaders MTEB calls for them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mteb.models.model_meta import ModelMeta, ScoringFunction
from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper
from sentence_transformers import SentenceTransformer

from rwkv_mteb import encoders
from rwkv_mteb.errors import ModelUnavailableError
from rwkv_mteb.model_sources import MINILM, MPNET

Builder = Callable[[str, str | None, str | None], SentenceTransformer]

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

# name -> the function that builds its SentenceTransformer; filled below and by the RWKV module
BUILDERS: dict[str, Builder] = {}


def load_encoder(
    name: str, revision: str | None = None, device: str | int | None = None, **options: Any
) -> SentenceTransformer:
    """The ``SentenceTransformer`` behind a registered model name (RWKV, GloVe, SBERT, SimCSE).

    ``options`` go to the builder: for a language model, ``layers``, ``pooling``, ``combine``, ``dtype``,
    ``cache`` (e.g. ``load_encoder("RWKV/v6-Finch-1B6-HF", layers=[1, 3], combine="concat")``).
    """
    from rwkv_mteb.registry import register

    register()
    if name not in BUILDERS:
        import difflib

        close = difflib.get_close_matches(name, list(BUILDERS), n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ModelUnavailableError(
            f"unknown model {name!r}: rwkv-mteb serves {len(BUILDERS)} model names "
            f"(list them with `rwkv-mteb models`).{hint}"
        )
    return BUILDERS[name](name, revision, encoders.torch_device(device), **options)


def mteb_loader(
    name: str, revision: str | None = None, device: str | int | None = None, **kwargs: Any
) -> SentenceTransformerEncoderWrapper:
    """The loader MTEB calls (``ModelMeta.loader``): our SentenceTransformer, in MTEB's standard wrapper, with
    the profiling hook attached."""
    from rwkv_mteb.profiling import profile

    start = time.perf_counter()
    model = load_encoder(name, revision, device)
    wrapper = SentenceTransformerEncoderWrapper(model, revision=revision, device=encoders.torch_device(device))
    return profile(wrapper, load_seconds=time.perf_counter() - start)


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


def glove_metas() -> list[ModelMeta]:
    metas = []
    for dim in encoders.GLOVE_DIMS:
        name = encoders.glove_name(dim)
        BUILDERS[name] = encoders.glove
        metas.append(
            _meta(
                name,
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
        )
    return metas


def simcse_metas() -> list[ModelMeta]:
    metas = []
    for name in encoders.SIMCSE_POOLERS:
        BUILDERS[name] = encoders.simcse
        metas.append(
            _meta(
                name,
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
        )
    return metas


def sbert_overrides(existing: dict[str, ModelMeta], names: list[str]) -> list[ModelMeta]:
    """MTEB's own metas for these models, with a loader that finds local or packaged weights before the hub."""
    out = []
    for name in names:
        meta = existing.get(name)
        if meta is not None and meta.loader is SentenceTransformerEncoderWrapper and not meta.loader_kwargs:
            BUILDERS[name] = encoders.sentence_transformer
            out.append(meta.model_copy(update={"loader": mteb_loader}))
    return out


DEFAULT_SBERT = [MINILM, MPNET]
