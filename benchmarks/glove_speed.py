"""GloVe: our encoder (StaticEmbedding: Rust word-level tokenizer + EmbeddingBag) against sentence-transformers'
stock WordEmbeddings + WhitespaceTokenizer + Pooling pipeline, on the same sentences. Goal: >= 1.5x
sentences/s, identical vectors where the two tokenizations agree (every word known, nothing stripped)."""

from __future__ import annotations

import numpy as np
from _common import best_of, mrpc_sentences, report
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Pooling, WordEmbeddings
from sentence_transformers.sentence_transformer.modules.tokenizer import WhitespaceTokenizer

from rwkv_mteb.models.glove import build_glove_model, packaged_glove_50d


def main() -> None:
    words, vectors = packaged_glove_50d()
    ours = build_glove_model(words, vectors)
    tokenizer = WhitespaceTokenizer(vocab=words, stop_words=[], do_lower_case=True)
    stock = SentenceTransformer(
        modules=[WordEmbeddings(tokenizer, vectors, update_embeddings=False), Pooling(50, "mean")], device="cpu"
    )
    texts = mrpc_sentences() * 4
    t_ours = best_of(lambda: ours.encode(texts, batch_size=256))
    t_stock = best_of(lambda: stock.encode(texts, batch_size=256))
    vocab = set(words)
    agree = [t for t in set(texts) if all(w in vocab for w in t.lower().split())]
    diff = float(np.abs(ours.encode(agree) - stock.encode(agree)).max()) if agree else None
    report(
        "glove_speed",
        {
            "sentences": len(texts),
            "sentences_per_second_ours": len(texts) / t_ours,
            "sentences_per_second_stock": len(texts) / t_stock,
            "speedup": t_stock / t_ours,
            "sentences_where_tokenizations_agree": len(agree),
            "max_abs_diff_where_they_agree": diff,
            "goal": "speedup >= 1.5, identical vectors where tokenizations agree",
        },
    )


if __name__ == "__main__":
    main()
