"""Any transformers model that returns hidden states as a backbone (RWKV-4 ``RwkvModel``, GPT-2, Pythia,
Mamba, Llama-type models, ...), from a folder, the hub, or a GGUF file (dequantized by transformers). RWKV-4's
inference-time halving of the hidden state every ``rescale_every`` blocks is switched off, so layers keep their
true scale and can be averaged or concatenated."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer

from rwkv_mteb.backbones.base import Backbone, check_dtype, pad_right, span_starts
from rwkv_mteb.backbones.pooling import PoolAccumulator
from rwkv_mteb.interventions.apply import on_transformers
from rwkv_mteb.interventions.spec import Intervention
from rwkv_mteb.provenance.identity import path_digest, revision_of
from rwkv_mteb.rwkv.modeling_rwkv6 import upcast
from rwkv_mteb.rwkv.tokenization_rwkv import ByteTokenizer


class HFTokenizer:
    """A transformers tokenizer, with the model's own special tokens; empty texts get the EOS/BOS/0 token."""

    def __init__(self, tokenizer) -> None:  # type: ignore[no-untyped-def]
        self.tokenizer = tokenizer
        fallback = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.bos_token_id
        self.empty_id = fallback if fallback is not None else 0
        # the special tokens the model puts before a text (a BOS, or nothing), kept first in a prompted input
        self.special_prefix = tuple(tokenizer("", add_special_tokens=True)["input_ids"])

    def __call__(self, texts: list[str]) -> list[list[int]]:
        encoded = self.tokenizer(list(texts), add_special_tokens=True)["input_ids"]
        return [ids or [self.empty_id] for ids in encoded]

    def plain(self, texts: list[str]) -> list[list[int]]:
        return list(self.tokenizer(list(texts), add_special_tokens=False)["input_ids"])

    def save(self, folder: Path) -> None:
        self.tokenizer.save_pretrained(folder)


def gguf_quantization(path: Path) -> str:
    """The quantization a GGUF file declares (``general.file_type``), e.g. ``q4_1``. ``gguf`` comes with the
    ``offline`` extra (transformers needs it to read the file too), so it is imported only for a GGUF file."""
    from gguf import GGUFReader, LlamaFileType

    field = GGUFReader(str(path)).fields["general.file_type"]
    return LlamaFileType(int(field.parts[field.data[0]][0])).name.removeprefix("MOSTLY_").lower()


class TransformersModel(Backbone):
    family = "transformers"

    def __init__(
        self,
        source: str | Path,
        dtype: str = "float32",
        device: str | torch.device = "cpu",
        revision: str | None = None,
        local_only: bool = False,
    ) -> None:
        gguf = Path(source).suffix == ".gguf" and Path(source).is_file()
        local = gguf or Path(source).is_dir()
        super().__init__(Path(source) if local else str(source))
        # a GGUF file (weights and tokenizer in one file; transformers dequantizes it) is read from its folder
        where = str(Path(source).parent) if gguf else str(source)
        kwargs = {"revision": revision, "local_files_only": local_only}
        if gguf:
            kwargs["gguf_file"] = Path(source).name
        self.location = (where, dict(kwargs))  # what another head on the same weights loads from (analyze)
        config = AutoConfig.from_pretrained(where, **kwargs)
        if getattr(config, "model_type", "") == "rwkv":
            config.rescale_every = 0  # keep every layer at its true scale (see the module docstring)
        self.model = AutoModel.from_pretrained(where, config=config, dtype=check_dtype(dtype), **kwargs)
        self.model.to(device).eval()
        has_tokenizer = (
            not local
            or gguf
            or any((Path(source) / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "vocab.json"))
        )
        if not has_tokenizer and config.vocab_size == 256:  # byte-level (e.g. rwkv.cpp's test models)
            self.tokenizer = ByteTokenizer()
        else:
            self.tokenizer = HFTokenizer(AutoTokenizer.from_pretrained(where, **kwargs))
        # a model read from the hub is identified by the commit it came from
        self._hub_commit = None if local else getattr(config, "_commit_hash", None) or revision
        self.gguf_type = gguf_quantization(Path(source)) if gguf else None
        self.num_hidden_states = config.num_hidden_layers + 1
        self.hidden_size = config.hidden_size
        limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        self.max_tokens = int(limit) if limit else None

    @property
    def identity(self) -> str:
        if self._identity is None and isinstance(self.source, Path):
            self._identity = path_digest(self.source)
        elif self._identity is None and self._hub_commit:
            self._identity = hashlib.sha256(f"hub\0{self.source}\0{self._hub_commit}".encode()).hexdigest()
        return super().identity

    @property
    def revision(self) -> str:
        """A GGUF file's results are filed as ``gguf-<quantization>-sha256-...``: never as the hub model's."""
        if self._hub_commit:
            return self._with_dtype(self._hub_commit)
        if self.gguf_type:
            return self._with_dtype(f"gguf-{self.gguf_type}-{revision_of(self.identity)}")
        return super().revision

    @contextmanager
    def intervened(self, intervention: Intervention) -> Iterator[None]:
        """Forward hooks on decoder layer ``L`` (hidden state ``L + 1``), removed on exit."""
        with on_transformers(self.model, self.num_hidden_states - 1, intervention):
            yield

    def _pooled_many(
        self, ids: list[list[int]], layers: list[int], poolings: tuple[str, ...], starts: list[int] | None
    ) -> dict[str, torch.Tensor]:
        self.check_layers(layers)
        if self.max_tokens:
            ids = [seq[: self.max_tokens] for seq in ids]
        tokens, lengths = pad_right(ids, self.device)
        begin = span_starts(starts, list(range(len(ids))), lengths)
        mask = (torch.arange(tokens.shape[1], device=tokens.device)[None] < lengths[:, None]).long()
        out = self.model(input_ids=tokens, attention_mask=mask, output_hidden_states=True)
        result = {}
        for pooling in poolings:
            acc = PoolAccumulator(pooling, lengths, len(layers), self.hidden_size, begin, self.stream_dtype)
            for slot, layer in enumerate(layers):
                acc.add(slot, upcast(out.hidden_states[layer]), 0)
            result[pooling] = acc.result()
        return result

    def _token_batch(self, ids: list[list[int]], layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        ids = [seq[: self.max_tokens] for seq in ids] if self.max_tokens else ids
        tokens, lengths = pad_right(ids, self.device)
        mask = (torch.arange(tokens.shape[1], device=tokens.device)[None] < lengths[:, None]).long()
        out = self.model(input_ids=tokens, attention_mask=mask, output_hidden_states=True)
        return upcast(out.hidden_states[layer]), mask

    @torch.no_grad()
    def token_states(self, ids: list[int], layers: list[int]) -> np.ndarray:
        self.check_layers(layers)
        ids = ids[: self.max_tokens] if self.max_tokens else ids
        tokens = torch.tensor([ids], dtype=torch.long, device=self.device)
        hidden = self.model(input_ids=tokens, output_hidden_states=True).hidden_states
        return torch.stack([hidden[k][0].float().cpu() for k in layers]).numpy()

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)
        self.tokenizer.save(folder)
