"""Zero-shot prompt methods for language models: where the sentence goes in the input, and which tokens pool.

A template holds ``{text}`` once or more. The pooled tokens run from the first token of the *last* copy of the
text to the end of the input: the template before it is context only. That one rule gives

- ``eol`` (PromptEOL, Jiang et al. 2023): ``This sentence : "{text}" means in one word:"``, pooled by the last
  token (the registered variants use ``pooling=last``);
- ``echo`` (Springer et al. 2024): the text twice, pooled over the second copy, whose tokens have seen the
  whole sentence (what a recurrent model lacks on a single read);
- user templates such as ``"Represent this sentence for retrieval: {text}"``: the instruction is not pooled.

Pieces are tokenized separately and joined (special tokens first), so the pooled span is exactly the text's
tokens whatever the tokenizer merges at the seams.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from rwkv_mteb.errors import PromptError

PLACEHOLDER = "{text}"
BUILTIN_PROMPTS = {
    "eol": 'This sentence : "{text}" means in one word:"',
    "echo": "Rewrite the sentence: {text}, rewritten sentence: {text}",
}


@dataclass(frozen=True)
class Prompt:
    name: str  # "none", a built-in's name, or "tpl-<digest>" for a user template
    template: str | None

    @classmethod
    def of(cls, value: str | Prompt | None) -> Prompt:
        """``None``/``"none"``/``"{text}"``: no prompt; a built-in's name; or a template holding ``{text}``."""
        if isinstance(value, Prompt):
            return value
        if value is None or value in ("none", PLACEHOLDER, ""):
            return cls("none", None)
        if value in BUILTIN_PROMPTS:
            return cls(value, BUILTIN_PROMPTS[value])
        for name, template in BUILTIN_PROMPTS.items():  # a saved config holds the template itself
            if value == template:
                return cls(name, template)
        if PLACEHOLDER not in value:
            raise PromptError(
                f"prompt {value!r} is neither a built-in ({', '.join(['none', *BUILTIN_PROMPTS])}) nor a template: "
                f"put {PLACEHOLDER} where the sentence goes, e.g. 'Summarize: {PLACEHOLDER}'"
            )
        return cls("tpl-" + hashlib.sha256(value.encode()).hexdigest()[:8], value)

    @property
    def is_none(self) -> bool:
        return self.template is None

    def method(self, pooling: str) -> str:
        """The vector cache's method string: the pooling alone without a prompt (so caches written before
        prompts existed stay valid), else pooling and the full template."""
        return pooling if self.template is None else f"{pooling}|prompt={self.template}"

    def encode(self, tokenizer: Any, texts: list[str]) -> tuple[list[list[int]], list[int]]:
        """Token ids of each prompted text and the position where its pooled span starts."""
        if self.template is None:
            ids = tokenizer(texts)
            return ids, [0] * len(ids)
        pieces = self.template.split(PLACEHOLDER)
        literal = dict(zip(pieces, tokenizer.plain(pieces), strict=True))
        special = tokenizer.special_prefix
        out, starts = [], []
        for text_ids in tokenizer.plain(texts):
            ids, start = list(special), 0
            for i, piece in enumerate(pieces):
                if i:
                    start = len(ids)
                    ids += text_ids
                ids += literal[piece]
            if not ids:
                ids = [tokenizer.empty_id]
            out.append(ids)
            starts.append(min(start, len(ids) - 1))  # an empty last copy: pool the final token
        return out, starts
