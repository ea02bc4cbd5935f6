"""Inside a trained attention pooling: each token's weight for chosen texts, grouped into words, and the share
of the weight that falls on content words rather than punctuation or stop words (scikit-learn's English list),
next to that share under a plain mean (every token weighing the same), so the number says what training moved.

A word is a run of tokens: a new one starts at a token that begins with a space, and at a switch between letters
or digits and punctuation, which works the same for subword (SmolLM2, World) and byte-level (rwkv.cpp) tokens.
"""

from __future__ import annotations

from typing import Any

import torch

KINDS = ("content", "stopword", "punctuation")


def piece(tokenizer: Any, token_id: int) -> str:
    """The text of one token: a transformers tokenizer's decode, the World tokenizer's, or the byte itself."""
    inner = getattr(tokenizer, "tokenizer", None) or getattr(tokenizer, "_tok", None)
    if inner is not None:
        return "" if token_id in getattr(inner, "all_special_ids", ()) else inner.decode([token_id])
    return bytes([token_id]).decode("utf-8", errors="replace")


def kind_of(word: str) -> str:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    stripped = word.strip()
    if not any(c.isalnum() for c in stripped):
        return "punctuation"
    return "stopword" if stripped.lower() in ENGLISH_STOP_WORDS else "content"


def words(pieces: list[str], weights: list[float]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for text, weight in zip(pieces, weights, strict=True):
        alnum = any(c.isalnum() for c in text)
        before = out[-1]["word"] if out else ""
        # a space-only token (byte-level models) opens the word that follows it
        starts = not out or (before.strip() != "" and (text[:1].isspace() or alnum != any(c.isalnum() for c in before)))
        if starts:
            out.append({"word": text, "weight": weight, "tokens": 1})
        else:
            out[-1]["word"] += text
            out[-1]["weight"] += weight
            out[-1]["tokens"] += 1
    for word in out:
        word["word"], word["kind"] = word["word"].strip(), kind_of(word["word"])
    return out


def export(model: Any, texts: list[str]) -> dict[str, Any]:
    """What ``attention_weights.json`` of a trained folder holds."""
    exported = attention_weights(model, texts)
    return {"content_share": content_share(exported), "texts": exported}


def attention_weights(model: Any, texts: list[str]) -> list[dict[str, Any]]:
    """Per text: its words with their summed weights (each text's weights sum to 1) and kinds."""
    states, head = model[0], model[1]
    features = states.preprocess(texts)
    with torch.no_grad():
        head(states(features))
    out = []
    for row, (text, ids) in enumerate(zip(texts, features["input_ids"], strict=True)):
        weights = head.last_weights[row, : len(ids)].tolist()
        out.append({"text": text, "words": words([piece(states.tokenizer, i) for i in ids], weights)})
    return out


def content_share(exported: list[dict[str, Any]]) -> dict[str, float]:
    """Mean share of weight on content words, trained and under a plain mean of the same tokens."""
    trained = [sum(w["weight"] for w in e["words"] if w["kind"] == "content") for e in exported]
    uniform = [
        sum(w["tokens"] for w in e["words"] if w["kind"] == "content") / sum(w["tokens"] for w in e["words"])
        for e in exported
    ]
    return {"trained": sum(trained) / len(trained), "mean_pooling": sum(uniform) / len(uniform)}
