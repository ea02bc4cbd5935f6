"""The real sentences a generated task is built from: MRPC and STS-B as their task files read them (checksums
verified), so a generated task is as reproducible as the data under it."""

from __future__ import annotations

import re
from functools import cache

from rwkv_mteb.errors import DataError


def _split(task: str, split: str) -> dict[str, list]:
    from rwkv_mteb.tasks.data import load_splits
    from rwkv_mteb.tasks.spec import builtin_task_dir, parse_task_file

    spec = parse_task_file(builtin_task_dir() / f"{task}.toml")
    return load_splits(spec, [split])[split].to_dict()


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@cache
def filler_sentences() -> tuple[str, ...]:
    """Every distinct sentence of MRPC's train split, in file order: the haystack."""
    rows = _split("MRPCZeroShot", "train")
    seen: dict[str, None] = {}
    for pair in zip(rows["sentence1"], rows["sentence2"], strict=True):
        for sentence in map(_clean, pair):
            if sentence:
                seen.setdefault(sentence, None)
    if not seen:
        raise DataError("MRPC train has no sentences to build filler from; check the data folder")
    return tuple(seen)


@cache
def needle_pairs(min_score: float = 4.6, min_words: int = 6) -> tuple[tuple[str, str], ...]:
    """Close paraphrases from STS-B train (score >= ``min_score``, both sides >= ``min_words`` words): the
    second sentence is hidden in a document, the first one asks for it."""
    rows = _split("STSBenchmarkZeroShot", "train")
    out = []
    for first, second, score in zip(rows["sentence1"], rows["sentence2"], rows["score"], strict=True):
        first, second = _clean(first), _clean(second)
        if score >= min_score and min(len(first.split()), len(second.split())) >= min_words and first != second:
            out.append((first, second))
    return tuple(dict.fromkeys(out))
