"""The layer-wise encoder: a sentence-transformers input module that turns a language model's hidden states
into sentence vectors.

``layers`` picks hidden states (reference layout, see ``rwkv/modeling_rwkv6``), ``pooling`` one of
:data:`~rwkv_mteb.layerwise.variants.POOLINGS`, ``prompt`` a zero-shot method (:mod:`rwkv_mteb.layerwise.prompts`:
none, ``eol``, ``echo`` or a template), ``ablate`` an intervention on the forward pass
(:mod:`rwkv_mteb.interventions`), and several layers combine by their mean or their concatenation. One
forward pass pools every requested layer (and every pooling a sweep asks for), so a sweep over all layers costs
about one pass; vectors go through the vector cache (:mod:`rwkv_mteb.cache`) when it is on.

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

from rwkv_mteb.backbones import Backbone
from rwkv_mteb.cache.schema import key as cache_key
from rwkv_mteb.cache.store import BackboneCaches, VectorCache
from rwkv_mteb.config import cache_requested_layers_only
from rwkv_mteb.errors import VariantError
from rwkv_mteb.interventions.spec import Intervention
from rwkv_mteb.layerwise.prompts import SIDES, Prompt
from rwkv_mteb.layerwise.session import SweepSession
from rwkv_mteb.layerwise.variants import check_combine, check_pooling, experiment_kwargs, pooling_key
from rwkv_mteb.provenance.identity import worker_label
from rwkv_mteb.provenance.records import SWEEP_PASS, THIS_EVALUATION, VECTOR_CACHE
from rwkv_mteb.training.base_ref import load_base, save_base


class LayerwiseEncoder(InputModule):
    config_file_name = "layerwise_config.json"
    config_keys: ClassVar[list[str]] = [
        "family",
        "layers",
        "pooling",
        "combine",
        "dtype",
        "model_id",
        "prompt",
        "ablate",
    ]
    modalities: ClassVar[list[str]] = ["text"]
    save_in_root = False

    def __init__(
        self,
        backbone: Backbone,
        layers: list[int] | int,
        pooling: str = "mean",
        combine: str = "mean",
        model_id: str | None = None,
        cache: bool | VectorCache | BackboneCaches = True,
        prompt: str | Prompt | None = None,
        session: SweepSession | None = None,
        ablate: str | Intervention | None = None,
    ) -> None:
        super().__init__()
        layers = [layers] if isinstance(layers, int) else list(layers)
        if not layers:
            raise VariantError("layers must name at least one hidden state")
        backbone.check_layers(layers)
        self.backbone = backbone  # a submodule: SentenceTransformer.to/half/parameters reach the weights
        self.tokenizer = backbone.tokenizer
        self.family = backbone.family
        self.layers, self.model_id = layers, model_id
        self.pooling, self.combine = check_pooling(pooling, backbone.family), check_combine(combine)
        self.prompt = Prompt.of(prompt)  # the zero-shot method; the saved config holds its template
        self.ablate = Intervention.parse(ablate)
        self.ablate.check(backbone.family, backbone.num_hidden_states - 1)
        self.caches = cache if isinstance(cache, BackboneCaches) else BackboneCaches(cache)
        self.session = session
        self.save_backbone = True  # False: a saved folder names the base model instead of copying its weights
        # what this view served, read by the profiling hook: tokens of the texts it encoded, sentences found in
        # the cache, sentences per worker that computed them and per origin (this evaluation, a sweep's pass, an
        # earlier run's cache), and the pass whose vectors it served last
        self.tokens_seen = 0
        self.tokens_trained = 0  # tokens of the forward passes that built a graph (a training step's)
        self.input_lengths: list[int] = []  # each input's tokens, prompt included, before any cut
        self.cache_hits = 0
        self.producers: Counter[str] = Counter()
        self.origins: Counter[str] = Counter()
        self.sweep_pass: Any = None

    @property
    def dtype(self) -> str:
        return self.backbone.dtype

    @property
    def revision(self) -> str:
        """How MTEB files this model's results: the checkpoint's hub commit or content digest. The variant (layer,
        pooling, prompt, intervention) is the experiment, not the revision: see :attr:`experiment_kwargs`."""
        return self.backbone.revision

    @property
    def experiment_kwargs(self) -> dict[str, object]:
        """This view as MTEB's ``experiment_kwargs``: what its vectors are (the result folder MTEB files it in)."""
        return experiment_kwargs(self.layers, self.pooling, self.prompt.name, self.ablate.name, self.combine)

    @property
    def cache(self) -> VectorCache | None:
        """The vector cache for the backbone's current weights and dtype (None when caching is off)."""
        return self.caches.for_backbone(self.backbone, self.model_id)

    def view(
        self,
        layers: list[int] | int,
        pooling: str | None = None,
        combine: str | None = None,
        prompt: Any = None,
        ablate: str | Intervention | None = None,
    ) -> LayerwiseEncoder:
        """Another view on the same backbone, cache and session: no second copy of the weights. ``prompt``
        and ``ablate`` None keep this view's."""
        return LayerwiseEncoder(
            self.backbone,
            layers,
            pooling or self.pooling,
            combine or self.combine,
            self.model_id,
            self.caches,
            self.prompt if prompt is None else prompt,
            self.session,
            self.ablate if ablate is None else ablate,
        )

    def as_model(self) -> LayerwiseModel:
        """This module alone as a SentenceTransformer (what MTEB evaluates)."""
        return LayerwiseModel(modules=[self], device=str(self.backbone.device), similarity_fn_name="cosine")

    def method(self, pooling: str | None = None, side: str | None = None) -> str:
        """How this view's vectors of a ``side``'s inputs are made, as the vector cache keys them (an intervention
        is part of it): a one-side prompt's other side shares the unprompted vectors."""
        method = self.prompt.for_side(side).method(pooling_key(pooling or self.pooling))
        return f"{method}|ablate={self.ablate.name}" if self.ablate else method

    def encode_texts(self, texts: list[str], side: str | None = None) -> tuple[list[list[int]], list[int]]:
        """Token ids of the prompted texts of ``side`` and where each one's pooled span starts."""
        return self.prompt.for_side(side).encode(self.tokenizer, texts)

    def computed_layers(self) -> list[int]:
        """The layers a cache miss computes and stores: every layer up to the deepest requested one (so that any
        shallower variant is then served from the cache), or only the requested ones."""
        return sorted(set(self.layers)) if cache_requested_layers_only() else list(range(max(self.layers) + 1))

    # ----------------------------------------------------------------- sentence-transformers interface

    def preprocess(self, inputs: list[str], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """``prompt`` is sentence-transformers' instruction prefix (prepended to each text), not the zero-shot
        method, which :meth:`encode_texts` applies around the prefixed text."""
        texts = [prompt + t for t in inputs] if prompt else list(inputs)
        side = kwargs.get("task") if kwargs.get("task") in SIDES else None  # encode_query / encode_document
        token_ids, starts = self.encode_texts(texts, side)
        self.tokens_seen += sum(map(len, token_ids))
        self.input_lengths.extend(map(len, token_ids))
        # "input_ids": the key sentence-transformers' trainer collects a column's features by
        return {"texts": texts, "input_ids": token_ids, "starts": starts, "side": side}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if self.backbone.differentiable and torch.is_grad_enabled():  # training the backbone: no cache, a graph
            self.tokens_trained += sum(map(len, features["input_ids"]))
            with self.backbone.intervened(self.ablate):
                pooled = self.backbone.pooled(features["input_ids"], self.layers, self.pooling, features["starts"])
        else:
            texts, ids, starts = features["texts"], features["input_ids"], features["starts"]
            vectors = self.pooled_layers(texts, ids, starts, features.get("side"))
            pooled = torch.from_numpy(vectors).to(self.backbone.device)
        features["layer_embeddings"] = pooled
        features["sentence_embedding"] = pooled.mean(1) if self.combine == "mean" else pooled.flatten(1)
        return features

    @property
    def max_input_tokens(self) -> int | None:
        """Where the backbone cuts an input (a transformers model's maximum positions); None: never (RWKV)."""
        return getattr(self.backbone, "max_tokens", None)

    @property
    def max_seq_length(self) -> float:
        return float("inf")

    def get_embedding_dimension(self) -> int:
        width = self.backbone.pooled_width(self.pooling)
        return width * len(self.layers) if self.combine == "concat" else width

    def get_sentence_embedding_dimension(self) -> int:
        return self.get_embedding_dimension()

    def get_config_dict(self) -> dict[str, Any]:
        config = {k: getattr(self, k) for k in self.config_keys if k not in ("prompt", "ablate")}
        return {**config, "prompt": self.prompt.spec, "ablate": self.ablate.name}

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        """The backbone's files, or (``save_backbone`` False: a head on a frozen backbone) a reference to it."""
        self.save_config(output_path)
        save_base(self, Path(output_path))

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", **kwargs: Any) -> LayerwiseEncoder:
        folder = Path(model_name_or_path) / subfolder
        config = json.loads((folder / cls.config_file_name).read_text())
        backbone = load_base(folder, config)
        return cls(
            backbone,
            config["layers"],
            config["pooling"],
            config["combine"],
            config.get("model_id"),
            prompt=config.get("prompt"),
            ablate=config.get("ablate"),
        )

    # ----------------------------------------------------------------- the work

    def pooled_layers(
        self,
        texts: list[str],
        token_ids: list[list[int]] | None = None,
        starts: list[int] | None = None,
        side: str | None = None,
    ) -> np.ndarray:
        """(len(texts), len(self.layers), C) float32 for inputs of ``side``, from the cache where possible."""
        if self.session is not None and self.session.recorder is not None:
            return self._stand_in(texts, side)
        if token_ids is None or starts is None:
            token_ids, starts = self.encode_texts(texts, side)
        here = worker_label(str(self.backbone.device))
        cache = self.cache
        if cache is None:
            self._served(here, THIS_EVALUATION, len(texts))
            with self.backbone.intervened(self.ablate):
                return self.backbone.pooled(token_ids, self.layers, self.pooling, starts).cpu().numpy()
        keys = [cache_key(self.method(side=side), t) for t in texts]
        found = self.session.memo.get(keys, self.layers) if self.session and self.session.memo else {}
        rest = [k for k in dict.fromkeys(keys) if k not in found]
        found.update(cache.get(rest, self.layers) if rest else {})
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.cache_hits += len(keys) - len(missing)
        for k in keys:
            if k in found:
                self._served_found(k)
        if missing:
            fresh = self.compute([token_ids[i] for i in missing], [starts[i] for i in missing])
            self.store([texts[i] for i in missing], fresh, here, side=side)
            mine = fresh[self.pooling][:, [self.computed_layers().index(layer) for layer in self.layers]]
            found.update({keys[i]: mine[n] for n, i in enumerate(missing)})
            self._served(here, THIS_EVALUATION, len(missing))
        return np.stack([found[k] for k in keys])

    def compute(self, token_ids: list[list[int]], starts: list[int]) -> dict[str, np.ndarray]:
        """pooling -> (n, len(computed_layers()), C) for this view's pooling and every pooling the sweep computes
        with it: one forward pass."""
        poolings = (self.pooling, *(p for p in (self.session.poolings if self.session else ()) if p != self.pooling))
        with self.backbone.intervened(self.ablate):
            fresh = self.backbone.pooled_many(token_ids, self.computed_layers(), poolings, starts)
        return {pooling: vectors.cpu().numpy() for pooling, vectors in fresh.items()}

    def store(
        self,
        texts: list[str],
        vectors: dict[str, np.ndarray],
        worker: str,
        pass_id: str | None = None,
        side: str | None = None,
    ) -> None:
        """Put freshly computed vectors of ``texts`` (inputs of ``side``; pooling -> rows of every computed layer)
        into the cache and the sweep's memo, remembering which pass and worker made them: the one way the cache is
        filled."""
        cache, computed = self.cache, self.computed_layers()
        if cache is None:
            return
        for pooling, rows in vectors.items():
            method = self.method(pooling, side)
            made = {cache_key(method, t): rows[n] for n, t in enumerate(texts)}
            cache.put(made, method, computed)
            if self.session is not None and self.session.memo is not None:
                self.session.memo.put(made, computed)
            if self.session is not None and pass_id is not None:
                self.session.origin.update(dict.fromkeys(made, (pass_id, worker)))

    def _served(self, worker: str, origin: str, count: int) -> None:
        self.producers[worker] += count
        self.origins[origin] += count

    def _served_found(self, key: str) -> None:
        origin = self.session.origin.get(key) if self.session is not None else None
        if origin is None:
            self._served(VECTOR_CACHE, VECTOR_CACHE, 1)
            return
        pass_id, worker = origin
        self._served(worker, SWEEP_PASS, 1)
        self.sweep_pass = self.session.passes.get(pass_id, self.sweep_pass)

    def _stand_in(self, texts: list[str], side: str | None) -> np.ndarray:
        """Record the texts and their side; answer with vectors seeded by each text (distinct, deterministic,
        never used)."""
        self.session.recorder.update(dict.fromkeys((side, t) for t in texts))
        out = np.empty((len(texts), len(self.layers), self.backbone.pooled_width(self.pooling)), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            out[row] = np.random.default_rng(seed).standard_normal(out.shape[1:], dtype=np.float32)
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
