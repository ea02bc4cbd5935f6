"""One layer's token states as a sentence-transformers input module: what a trained pooling head reads
(``token_embeddings``, ``attention_mask``, like sentence-transformers' ``Transformer`` module).

While the backbone is frozen (no weight requires a gradient) each text's states are computed once and kept (in
memory, keyed by the text and the backbone's identity and dtype), so a head trains for many epochs at the cost of
one pass; while the backbone
is trained they are computed with a graph every time. Saved like the layer-wise encoder: the backbone's own
files in ``backbone/``, or only a reference to the registered base model (:mod:`rwkv_mteb.training.base_ref`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import torch
from sentence_transformers.base.modules import InputModule

from rwkv_mteb.backbones import Backbone
from rwkv_mteb.training.base_ref import load_base, save_base


class TokenStates(InputModule):
    config_file_name = "token_states_config.json"
    config_keys: ClassVar[list[str]] = ["family", "layer", "model_id"]
    save_in_root = False

    def __init__(self, backbone: Backbone, layer: int, model_id: str | None = None) -> None:
        super().__init__()
        backbone.check_layers([layer])
        self.backbone, self.tokenizer = backbone, backbone.tokenizer
        self.family, self.layer, self.model_id = backbone.family, layer, model_id
        self.save_backbone = True  # False: the saved folder names the base model instead of copying it
        self.memo: dict[str, torch.Tensor] = {}
        self.tokens_seen = 0
        self.tokens_trained = 0  # tokens of the forward passes that built a graph (a training step's)

    @property
    def revision(self) -> str:
        return self.backbone.revision

    def preprocess(self, inputs: list[str], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        texts = [prompt + t for t in inputs] if prompt else list(inputs)
        ids = self.tokenizer(texts)
        self.tokens_seen += sum(map(len, ids))
        return {"texts": texts, "input_ids": ids}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        ids = features["input_ids"]
        if self.backbone.differentiable and torch.is_grad_enabled():
            self.tokens_trained += sum(map(len, ids))
            hidden, mask = self.backbone.token_batch(ids, self.layer)
        elif any(p.requires_grad for p in self.backbone.parameters()):  # weights that may change: no memo
            with torch.no_grad():
                hidden, mask = self.backbone.token_batch(ids, self.layer)
        else:
            hidden, mask = self._from_memo(features["texts"], ids)
        features["token_embeddings"], features["attention_mask"] = hidden, mask
        return features

    def _from_memo(self, texts: list[str], ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        key = f"{self.backbone.identity}\0{self.backbone.dtype}\0"
        missing = [i for i, t in enumerate(texts) if key + t not in self.memo]
        if missing:
            with torch.no_grad():
                hidden, mask = self.backbone.token_batch([ids[i] for i in missing], self.layer)
            for row, i in enumerate(missing):
                self.memo[key + texts[i]] = hidden[row, : int(mask[row].sum())].detach()
        states = [self.memo[key + t] for t in texts]
        width, longest = states[0].shape[-1], max(len(s) for s in states)
        hidden = states[0].new_zeros(len(states), longest, width)
        mask = torch.zeros(len(states), longest, dtype=torch.long, device=hidden.device)
        for row, s in enumerate(states):
            hidden[row, : len(s)], mask[row, : len(s)] = s, 1
        return hidden, mask

    def get_embedding_dimension(self) -> int:
        return self.backbone.hidden_size

    def get_sentence_embedding_dimension(self) -> int:
        return self.backbone.hidden_size

    @property
    def max_seq_length(self) -> float:
        return float("inf")

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        self.save_config(output_path)
        save_base(self, Path(output_path))

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", **kwargs: Any) -> TokenStates:
        folder = Path(model_name_or_path) / subfolder
        config = json.loads((folder / cls.config_file_name).read_text())
        return cls(load_base(folder, config), config["layer"], config.get("model_id"))
