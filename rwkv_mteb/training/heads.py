"""Heads trained on a language model's hidden states, as sentence-transformers modules (saved with their
config and weights, reloaded by ``SentenceTransformer(path)``).

- :class:`ScalarMix`: ELMo's task-specific combination of layers (Peters et al., 2018, "Deep contextualized word
  representations", eq. 1): ``gamma * sum_j softmax(w)_j h_j`` over the pooled vectors of every layer, the seed
  paper's "hierarchical pooling" (its 6.7). It reads ``layer_embeddings`` of the layer-wise encoder, so it trains
  on cached vectors. With ``layer_norm`` (the default) each layer's vector is layer-normalised first, the variant
  ELMo's section 3.2 reports helping (AllenNLP's ``do_layer_norm``): a language model's layers differ in scale by
  orders of magnitude (SmolLM2's hidden state 12 onwards), and an unnormalised mix is then the loudest layer.
- :class:`AttentionPooling`: the seed paper's attention-weighted pooling with a learnable query (its 6.3):
  ``a = softmax_t(q . h_t / sqrt(C))`` over the real tokens of one layer, the sentence vector ``sum_t a_t h_t``.
  It reads ``token_embeddings`` and ``attention_mask`` (:class:`~rwkv_mteb.training.tokens.TokenStates`), and
  keeps the last batch's weights for inspection (:attr:`last_weights`).

A linear projection after either is sentence-transformers' own ``Dense`` module.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from sentence_transformers.base.modules.module import Module
from torch import nn


class _Saved(Module):
    """Config plus safetensors weights, sentence-transformers' convention for a small trained module."""

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        self.save_config(output_path)
        self.save_torch_weights(output_path, safe_serialization=safe_serialization)

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", **kwargs: Any) -> Module:
        hub = {k: kwargs[k] for k in ("token", "cache_folder", "revision", "local_files_only") if k in kwargs}
        config = cls.load_config(model_name_or_path=model_name_or_path, subfolder=subfolder, **hub)
        model = cls(**config)
        return cls.load_torch_weights(model_name_or_path=model_name_or_path, model=model, subfolder=subfolder, **hub)


class ScalarMix(_Saved):
    config_keys: ClassVar[list[str]] = ["layers", "embedding_dimension", "layer_norm"]

    def __init__(self, layers: int, embedding_dimension: int, layer_norm: bool = True) -> None:
        super().__init__()
        self.layers, self.embedding_dimension, self.layer_norm = layers, embedding_dimension, layer_norm
        self.weights = nn.Parameter(torch.zeros(layers))  # softmax of zeros: the plain mean of the layers
        self.gamma = nn.Parameter(torch.ones(()))

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        layered = features["layer_embeddings"]  # (B, layers, C)
        if self.layer_norm:
            layered = torch.nn.functional.layer_norm(layered, layered.shape[-1:])
        mix = torch.softmax(self.weights, 0).to(layered.dtype)
        features["sentence_embedding"] = self.gamma.to(layered.dtype) * torch.einsum("l,blc->bc", mix, layered)
        return features

    def get_embedding_dimension(self) -> int:
        return self.embedding_dimension

    def get_sentence_embedding_dimension(self) -> int:
        return self.embedding_dimension


class AttentionPooling(_Saved):
    config_keys: ClassVar[list[str]] = ["embedding_dimension"]

    def __init__(self, embedding_dimension: int) -> None:
        super().__init__()
        self.embedding_dimension = embedding_dimension
        self.query = nn.Parameter(torch.zeros(embedding_dimension))  # zeros: uniform weights, the mean, at start
        self.last_weights: torch.Tensor | None = None

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        tokens, mask = features["token_embeddings"], features["attention_mask"].bool()  # (B, T, C), (B, T)
        scores = tokens @ self.query.to(tokens.dtype) / math.sqrt(self.embedding_dimension)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        self.last_weights = weights.detach()
        features["token_weights"] = weights
        features["sentence_embedding"] = torch.einsum("bt,btc->bc", weights, tokens)
        return features

    def get_embedding_dimension(self) -> int:
        return self.embedding_dimension

    def get_sentence_embedding_dimension(self) -> int:
        return self.embedding_dimension
