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

A method can hold for one side of an asymmetric task only: ``eol@query`` prompts the inputs MTEB encodes as
queries (``encode_query``, its ``PromptType.query``) and leaves documents, and inputs of symmetric tasks (STS,
pair classification: no side), as plain text; ``@document`` the other way round. Instruction-following embedders
prompt queries only (E5-Mistral, Wang et al. 2024), which is the comparison this makes possible.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from rwkv_mteb.errors import PromptError

PLACEHOLDER = "{text}"
SIDES = ("query", "document")  # the sides of an asymmetric task, as sentence-transformers' `task` names them
BUILTIN_PROMPTS = {
    "eol": 'This sentence : "{text}" means in one word:"',
    "echo": "Rewrite the sentence: {text}, rewritten sentence: {text}",
}


@dataclass(frozen=True)
class Prompt:
    name: str  # "none", a built-in's name, or "tpl-<digest>" for a user template; "@<side>" after a one-side one
    template: str | None
    side: str | None = None  # None: every input; "query" or "document": that side's inputs only

    @classmethod
    def of(cls, value: str | Prompt | None) -> Prompt:
        """``None``/``"none"``/``"{text}"``: no prompt; a built-in's name; or a template holding ``{text}``;
        any of these but none followed by ``@query`` or ``@document``: for that side only."""
        if isinstance(value, Prompt):
            return value
        for side in SIDES:
            if isinstance(value, str) and value.endswith(f"@{side}"):
                base = cls.of(value.removesuffix(f"@{side}"))
                if base.is_none:
                    raise PromptError(f"prompt {value!r} prompts nothing: put a method before @{side}, e.g. eol@{side}")
                return cls(f"{base.name}@{side}", base.template, side)
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

    @property
    def spec(self) -> str | None:
        """What :meth:`of` rebuilds this method from (a saved config, a loader's kwargs): the template, then the
        side of a one-side method."""
        return None if self.template is None else self.template + (f"@{self.side}" if self.side else "")

    def for_side(self, side: str | None) -> Prompt:
        """The method an input of ``side`` (None: a symmetric task's) gets: this one, or none for the other side."""
        if self.side is None:
            return self
        if side == self.side:
            return Prompt(self.name.removesuffix(f"@{self.side}"), self.template)
        return Prompt("none", None)

    def method(self, pooling: str) -> str:
        """The vector cache's method string: the pooling alone without a prompt (so caches written before
        prompts existed stay valid), else pooling and the full template."""
        assert self.side is None, "a one-side method is resolved per input first (for_side)"
        return pooling if self.template is None else f"{pooling}|prompt={self.template}"

    def encode(self, tokenizer: Any, texts: list[str]) -> tuple[list[list[int]], list[int]]:
        """Token ids of each prompted text and the position where its pooled span starts."""
        assert self.side is None, "a one-side method is resolved per input first (for_side)"
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
