"""Synthetic long-document retrieval in the manner of LongEmbed's passkey and needle tasks (Zhu et al. 2024,
arXiv:2404.12096), built from real sentences so that a user can regenerate every byte offline.

Each split ``test_<L>`` holds ``documents`` documents of at most ``L`` tokens (RWKV's World tokenizer, the one
RWKV-6 "Finch" reads: lengths are the same for every model, whatever its own tokenizer makes of them) and one
query per document. A document is a haystack of MRPC train sentences (a seeded draw per document) with one
target placed at a sentence boundary near a declared depth (0 = start, 1 = end; depths cycle over the
documents):

- ``passkey``: the target is "The pass key for <name> is <key>. Remember it. <key> is the pass key for <name>.",
  the query "What is the pass key for <name>?"; names and keys are unique in the split and in no filler sentence.
- ``needle``: the target is the second sentence of a close STS-B train paraphrase pair (score >= 4.6), the query
  its first sentence: finding the document needs the meaning, not a shared name.

The relevant document of each query is its own; every other document of the split is a distractor, so chance
level of nDCG@1 is 1/documents. Reranking (``candidates``) ranks each query's own document among
``candidates - 1`` others of the split drawn by the seed (chance MAP = mean of 1/rank over the candidates).
``documents.tsv`` beside the files says, per document, its exact token count, the declared and the measured
depth (filler tokens before the target / filler tokens) and the target.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rwkv_mteb.errors import TaskDefinitionError
from rwkv_mteb.rwkv.tokenization_rwkv import WorldTokenizer
from rwkv_mteb.tasks.generators.sources import filler_sentences, needle_pairs

FIRST_NAMES = (
    "Aurelio", "Brunhilde", "Casimir", "Delphine", "Evander", "Fenella", "Gideon", "Hortense", "Isidore",
    "Jacinta", "Leopold", "Marisol", "Nikolai", "Ottilie", "Percival", "Quintana", "Rosalind", "Sylvester",
    "Theodora", "Ulysses",
)  # fmt: skip
LAST_NAMES = (
    "Abernathy", "Brightwater", "Castellanos", "Dunsmore", "Eckhardt", "Fairweather", "Gallowglass", "Hargreave",
    "Ingleby", "Jorgensen", "Kilbride", "Lindqvist", "Montgomerie", "Northcott", "Oyelaran", "Pennington",
    "Quigley", "Rosenthal", "Stravinsky", "Thistlewood",
)  # fmt: skip


@dataclass(frozen=True)
class Target:
    text: str  # what is hidden in the document
    query: str  # what asks for it
    key: str  # what identifies it in the document (a passkey, or the needle itself)


@dataclass(frozen=True)
class Document:
    text: str
    tokens: int
    depth: float  # declared
    measured_depth: float
    target: Target


def split_length(name: str) -> int:
    match = re.fullmatch(r"test_(\d+)", name)
    if not match:
        raise TaskDefinitionError(f"a long-context split is named test_<tokens> (e.g. test_4096); got {name!r}")
    return int(match.group(1))


def _passkey_targets(rng: np.random.Generator, count: int, filler: str) -> list[Target]:
    names = [f"{a} {b}" for a in FIRST_NAMES for b in LAST_NAMES if a not in filler and b not in filler]
    if count > len(names):
        raise TaskDefinitionError(f"passkey: {count} documents per split, but only {len(names)} unique names")
    chosen = [names[i] for i in rng.permutation(len(names))[:count]]
    keys: list[str] = []
    while len(keys) < count:
        key = str(int(rng.integers(10_000, 100_000)))
        if key not in filler and key not in keys:  # not even inside a longer number of the haystack
            keys.append(key)
    return [
        Target(
            f"The pass key for {n} is {k}. Remember it. {k} is the pass key for {n}.",
            f"What is the pass key for {n}?",
            k,
        )
        for n, k in zip(chosen, keys, strict=True)
    ]


def _needle_targets(rng: np.random.Generator, count: int, filler: str) -> list[Target]:
    pairs = [(q, n) for q, n in needle_pairs() if n not in filler]
    if count > len(pairs):
        raise TaskDefinitionError(f"needle: {count} documents per split, but only {len(pairs)} needle pairs")
    return [Target(pairs[i][1], pairs[i][0], pairs[i][1]) for i in rng.permutation(len(pairs))[:count]]


TARGETS: dict[str, Callable[[np.random.Generator, int, str], list[Target]]] = {
    "passkey": _passkey_targets,
    "needle": _needle_targets,
}


class _Haystack:
    """The filler sentences with their token counts (each as it reads after a space)."""

    def __init__(self, tokenizer: WorldTokenizer) -> None:
        self.tokenizer = tokenizer
        self.sentences = filler_sentences()
        self.costs = np.array([len(ids) for ids in tokenizer.plain([" " + s for s in self.sentences])])

    def count(self, text: str) -> int:
        return len(self.tokenizer.plain([text])[0])

    def document(self, rng: np.random.Generator, length: int, depth: float, target: Target) -> Document:
        budget = length - self.count(" " + target.text)
        order = np.roll(rng.permutation(len(self.sentences)), -int(rng.integers(len(self.sentences))))
        chosen: list[int] = []
        total = 0
        for index in order:
            if total + self.costs[index] > budget:
                break
            chosen.append(int(index))
            total += int(self.costs[index])
        while True:
            cumulative = np.concatenate([[0], np.cumsum(self.costs[chosen])])
            cut = int(np.argmin(np.abs(cumulative - depth * cumulative[-1])))
            pieces = [self.sentences[i] for i in chosen]
            text = " ".join([*pieces[:cut], target.text, *pieces[cut:]])
            tokens = self.count(text)
            if tokens <= length:
                break
            chosen.pop()  # the joined text tokenized longer than its pieces: drop a filler sentence and retry
        before = self.count(" ".join(pieces[:cut])) if cut else 0
        after = self.count(" ".join(pieces[cut:])) if cut < len(pieces) else 0
        return Document(text, tokens, depth, before / max(before + after, 1), target)


def generate(kind: str, seed: int, splits: list[str], documents: int, depths: list[float]) -> dict[str, list[Document]]:
    """Per split, its documents (query ``i`` asks for document ``i``). Deterministic in its arguments."""
    if kind not in TARGETS:
        raise TaskDefinitionError(f"unknown long-context generator {kind!r}; choose one of {sorted(TARGETS)}")
    haystack = _Haystack(WorldTokenizer())
    filler = "\n".join(haystack.sentences)
    out = {}
    for split in splits:
        length = split_length(split)
        rng = np.random.default_rng([seed, length])
        targets = TARGETS[kind](rng, documents, filler)
        out[split] = [
            haystack.document(rng, length, depths[i % len(depths)], target) for i, target in enumerate(targets)
        ]
    return out


def candidates(seed: int, split: str, count: int, per_query: int) -> list[list[int]]:
    """Reranking candidates: each query's own document among ``per_query - 1`` others, in a seeded order."""
    if per_query > count:
        raise TaskDefinitionError(f"{per_query} candidates per query, but a split holds only {count} documents")
    rng = np.random.default_rng([seed, split_length(split), 1])
    out = []
    for own in range(count):
        others = [int(i) for i in rng.permutation(count) if i != own][: per_query - 1]
        out.append([int(i) for i in rng.permutation([own, *others])])
    return out
