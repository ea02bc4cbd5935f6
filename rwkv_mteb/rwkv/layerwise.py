"""The layer-wise encoder: a sentence-transformers input module that turns a language model's hidden states
into sentence vectors.

``layers`` picks hidden states (reference layout, see ``modeling_rwkv6``), ``pooling`` is one of mean (masked,
the default), weighted mean (position-weighted, SGPT), max, last token, or the average of first and last token,
``prompt`` a zero-shot method (:mod:`rwkv_mteb.rwkv.prompts`: none, ``eol``, ``echo`` or a template), and
several layers are combined by their mean or their concatenation. One forward pass pools every requested layer
(and every pooling a sweep asks for), so a sweep over all layers costs about one pass; results go through
:class:`VectorCache` when enabled.

Saved and reloaded like any sentence-transformers module: ``layerwise_config.json`` plus the backbone's own
files in ``backbone/``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import InputModule

from rwkv_mteb.config import cache_dir, cache_max_bytes, cache_requested_layers_only
from rwkv_mteb.distributed import worker_label
from rwkv_mteb.rwkv.backbones import Backbone, NativeRwkv, TransformersModel
from rwkv_mteb.rwkv.pooling import POOLINGS
from rwkv_mteb.rwkv.prompts import Prompt
from rwkv_mteb.rwkv.vector_cache import VectorCache

COMBINES = ("mean", "concat")


def load_backbone(
    family: str,
    source: str | Path,
    dtype: str = "float32",
    device: str = "cpu",
    revision: str | None = None,
    local_only: bool = True,
) -> Backbone:
    if family in ("rwkv6", "rwkv7"):  # the checkpoint itself says which
        return NativeRwkv(Path(source), dtype=dtype, device=device)
    if family == "transformers":
        return TransformersModel(source, dtype=dtype, device=device, revision=revision, local_only=local_only)
    raise ValueError(f"unknown backbone family {family!r}; use 'rwkv6', 'rwkv7' or 'transformers'")


class LayerwiseEncoder(InputModule):
    config_file_name = "layerwise_config.json"
    config_keys: ClassVar[list[str]] = ["family", "layers", "pooling", "combine", "dtype", "model_id", "prompt"]
    modalities: ClassVar[list[str]] = ["text"]
    save_in_root = False

    def __init__(
        self,
        backbone: Backbone,
        layers: list[int] | int,
        pooling: str = "mean",
        combine: str = "mean",
        model_id: str | None = None,
        cache: bool | VectorCache = True,
        prompt: str | Prompt | None = None,
    ) -> None:
        super().__init__()
        layers = [layers] if isinstance(layers, int) else list(layers)
        if not layers:
            raise ValueError("layers must name at least one hidden state")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}")
        if combine not in COMBINES:
            raise ValueError(f"unknown combine {combine!r}; choose one of {COMBINES}")
        backbone.check_layers(layers)
        self.backbone = backbone  # a submodule: SentenceTransformer.to/half/parameters reach the weights
        self.tokenizer = backbone.tokenizer
        self.family = backbone.family
        self.layers, self.pooling, self.combine, self.model_id = layers, pooling, combine, model_id
        self.method_prompt = Prompt.of(prompt)
        self.prompt = self.method_prompt.template  # what the saved config holds
        # the poolings a cache miss computes and stores together (one forward pass; a sweep sets several)
        self.together: tuple[str, ...] = (pooling,)
        # a sweep's dry run: the texts MTEB asks for are recorded (shared by every view) and answered with
        # stand-in vectors, so the sweep learns what to encode without reading any task's columns
        self.recorder: dict[str, None] | None = None
        # a sweep's rows of this run, kept in memory (shared by every view) so that evaluating each variant does
        # not read every row back from disk; the same keys and vectors as the cache, never outliving the sweep
        self.memo: Memo | None = None
        # True: the on-disk cache of this backbone in its current dtype, opened on first use
        self._cache: bool | VectorCache = cache
        self._open_caches: dict[str, VectorCache] = {}
        self.cache_hits = 0  # sentences served from the cache (the profiler reports them)
        self.tokens_seen = 0  # tokens of the texts encoded (the profiler reports them)
        # which worker computed the vectors of each cache key in this run (a sweep's pass, local or on Ray),
        # shared by every view; ``producers`` counts the sentences this view returned, per worker
        self.produced_by: dict[str, str] = {}
        self.producers: Counter[str] = Counter()

    @property
    def dtype(self) -> str:
        return self.backbone.dtype

    @property
    def revision(self) -> str:
        """How MTEB files this model's results: the checkpoint's hub commit or content digest."""
        return self.backbone.revision

    @property
    def cache(self) -> VectorCache | None:
        """The vector cache for the backbone's current weights and dtype (None when caching is off)."""
        if self._cache is True:
            name = self.backbone.cache_name()
            if name not in self._open_caches:
                about = {
                    "model": self.model_id or str(self.backbone.source),
                    "source": str(self.backbone.source),
                    "family": self.family,
                    "dtype": self.dtype,
                    "revision": self.backbone.revision,
                }
                path = cache_dir() / "vectors" / f"{name}.sqlite"
                self._open_caches[name] = VectorCache(path, about=about, max_bytes=cache_max_bytes())
            return self._open_caches[name]
        return None if self._cache is False or self._cache is None else self._cache  # the caller's, or none

    @cache.setter
    def cache(self, value: bool | VectorCache) -> None:
        self._cache = value

    def with_layers(
        self,
        layers: list[int] | int,
        pooling: str | None = None,
        combine: str | None = None,
        prompt: str | Prompt | None = None,
    ) -> LayerwiseEncoder:
        """Another view on the same loaded backbone (and cache): no second copy of the weights. ``prompt``
        None keeps this view's prompt."""
        view = LayerwiseEncoder(
            self.backbone,
            layers,
            pooling or self.pooling,
            combine or self.combine,
            self.model_id,
            self._cache,
            self.method_prompt if prompt is None else prompt,
        )
        view._open_caches = self._open_caches
        view.produced_by = self.produced_by
        view.recorder = self.recorder
        view.memo = self.memo
        return view

    def method(self, pooling: str | None = None) -> str:
        """How this view's vectors are made, as the vector cache keys them."""
        return self.method_prompt.method(pooling or self.pooling)

    def encode_texts(self, texts: list[str]) -> tuple[list[list[int]], list[int]]:
        """Token ids of the prompted texts and where each one's pooled span starts."""
        return self.method_prompt.encode(self.tokenizer, texts)

    # ----------------------------------------------------------------- sentence-transformers interface

    def preprocess(self, inputs: list[str], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        texts = [prompt + t for t in inputs] if prompt else list(inputs)  # sentence-transformers' own prefix
        token_ids, starts = self.encode_texts(texts)
        self.tokens_seen += sum(map(len, token_ids))
        return {"texts": texts, "token_ids": token_ids, "starts": starts}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        pooled = torch.from_numpy(self.pooled_layers(features["texts"], features["token_ids"], features["starts"]))
        features["layer_embeddings"] = pooled
        features["sentence_embedding"] = pooled.mean(1) if self.combine == "mean" else pooled.flatten(1)
        return features

    @property
    def max_seq_length(self) -> float:
        return float("inf")

    def get_embedding_dimension(self) -> int:
        width = self.backbone.hidden_size
        return width * len(self.layers) if self.combine == "concat" else width

    def get_sentence_embedding_dimension(self) -> int:
        return self.get_embedding_dimension()

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        self.save_config(output_path)
        self.backbone.save(Path(output_path) / "backbone")

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", **kwargs: Any) -> LayerwiseEncoder:
        folder = Path(model_name_or_path) / subfolder
        config = json.loads((folder / cls.config_file_name).read_text())
        backbone = load_backbone(config["family"], folder / "backbone", dtype=config.get("dtype", "float32"))
        return cls(
            backbone,
            config["layers"],
            config["pooling"],
            config["combine"],
            config.get("model_id"),
            prompt=config.get("prompt"),
        )

    # ----------------------------------------------------------------- the work

    def pooled_layers(
        self, texts: list[str], token_ids: list[list[int]] | None = None, starts: list[int] | None = None
    ) -> np.ndarray:
        """(len(texts), len(self.layers), C) float32, from the cache where possible."""
        if self.recorder is not None:
            return self._stand_in(texts)
        if token_ids is None:
            token_ids, starts = self.encode_texts(texts)
        here = worker_label(str(self.backbone.device))
        cache = self.cache
        if cache is None:
            self.producers[here] += len(texts)
            return self.backbone.pooled(token_ids, self.layers, self.pooling, starts).cpu().numpy()
        computed = self.computed_layers()
        keys = [VectorCache.key(self.method(), t) for t in texts]
        found = self.memo.get(keys, self.layers) if self.memo is not None else {}
        rest = [k for k in dict.fromkeys(keys) if k not in found]
        found.update(cache.get(rest, self.layers) if rest else {})
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.cache_hits += len(keys) - len(missing)
        self.producers.update(self.produced_by.get(k, "vector cache") for k in keys if k in found)
        if missing:
            together = (self.pooling, *(p for p in self.together if p != self.pooling))
            fresh = self.backbone.pooled_many(
                [token_ids[i] for i in missing],
                computed,
                together,
                None if starts is None else [starts[i] for i in missing],
            )
            for pooling, vectors in fresh.items():
                rows = vectors.cpu().numpy()
                method = self.method(pooling)
                made = {VectorCache.key(method, texts[i]): rows[n] for n, i in enumerate(missing)}
                cache.put(made, method, computed)
                if self.memo is not None:
                    self.memo.put(made, computed)
                self.produced_by.update(dict.fromkeys(made, here))
            wanted = [computed.index(layer) for layer in self.layers]
            mine = fresh[self.pooling].cpu().numpy()
            found.update({keys[i]: mine[n][wanted] for n, i in enumerate(missing)})
            self.producers[here] += len(missing)
        return np.stack([found[k] for k in keys])

    def _stand_in(self, texts: list[str]) -> np.ndarray:
        """Record the texts; answer with vectors seeded by each text (distinct, deterministic, never used)."""
        self.recorder.update(dict.fromkeys(texts))
        out = np.empty((len(texts), len(self.layers), self.backbone.hidden_size), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            out[row] = np.random.default_rng(seed).standard_normal(out.shape[1:], dtype=np.float32)
        return out

    def computed_layers(self) -> list[int]:
        """The layers a cache miss computes and stores: every layer up to the deepest requested one (so that any
        shallower variant is then served from the cache), or only the requested ones."""
        return sorted(set(self.layers)) if cache_requested_layers_only() else list(range(max(self.layers) + 1))


class Memo:
    """Rows a sweep computed in this process, up to ``max_bytes`` (later rows are read from the cache as usual)."""

    def __init__(self, max_bytes: int = 4 * 10**9) -> None:
        self.max_bytes, self.bytes = max_bytes, 0
        self.rows: dict[str, tuple[list[int], np.ndarray]] = {}

    def put(self, rows: dict[str, np.ndarray], layer_ids: list[int]) -> None:
        for key, row in rows.items():
            if self.bytes + row.nbytes > self.max_bytes:
                return
            if key not in self.rows:
                self.rows[key] = (layer_ids, row)
                self.bytes += row.nbytes

    def get(self, keys: list[str], layers: list[int]) -> dict[str, np.ndarray]:
        out = {}
        for key in keys:
            hit = self.rows.get(key)
            if hit is not None and set(layers) <= set(hit[0]):
                out[key] = hit[1][[hit[0].index(layer) for layer in layers]]
        return out


class LayerwiseModel(SentenceTransformer):
    """A SentenceTransformer whose ``encode`` groups texts by token count (its layer-wise module's tokenizer)
    instead of characters, so each batch holds sentences of nearly equal token length: fewer segments for a
    recurrent backbone, less padding for an attention one. Vectors are the same either way."""

    def _input_length(self, sample: Any) -> int:  # sentence-transformers' sort key (a static method there)
        module = self[0] if len(self) else None
        if isinstance(sample, str) and isinstance(module, LayerwiseEncoder):
            return len(module.tokenizer([sample])[0])
        return SentenceTransformer._input_length(sample)
