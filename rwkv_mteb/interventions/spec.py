"""Interventions on a language model's forward pass, as a variant axis: what to switch off or change in which
block, written ``kind@layers`` and joined with ``+`` (``time_mix@3+channel_mix@0-5``). Torch-free: model
registration parses names while ``import mteb`` runs.

Layers are block indices (0-based modules), not hidden-state indices: for RWKV the hidden state ``K < L`` is
block ``K``'s output, for a transformers model hidden state ``K`` is block ``K - 1``'s output (entry 0 is the
embeddings). Kinds:

- RWKV-6/-7: ``time_mix@L`` / ``channel_mix@L`` (that branch's output zeroed, the residual passes through; the
  branch still runs, so its recurrent state and RWKV-7's value residual from block 0 are unchanged),
  ``block@L`` (both branches zeroed: the block's output is its input), ``decay=static@L`` (the decay without
  its data-dependent LoRA term: RWKV-6 ``time_decay``, RWKV-7 ``w0``) and ``decay=scale:F@L`` (every log-decay
  multiplied by ``F``: decay rates scaled, so memory lengths divided by ``F``);
- transformers backbones: ``attention@L``, ``mlp@L`` (the sublayer's output zeroed) and ``block@L`` (the
  decoder layer returns its input), through forward hooks.

The canonical text (terms sorted, layer ranges compressed) is what variant names, cache keys and result
revisions carry, so two spellings of one intervention share their results and two interventions never do.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from itertools import groupby

from rwkv_mteb.errors import VariantError

RWKV_KINDS = ("time_mix", "channel_mix", "block", "decay=static", "decay=scale")
TRANSFORMERS_KINDS = ("attention", "mlp", "block")
KINDS = tuple(dict.fromkeys([*RWKV_KINDS, *TRANSFORMERS_KINDS]))
NONE = "none"
_TERM = re.compile(r"^(?P<kind>[a-z_]+(?:=static|=scale:(?P<factor>[0-9.eE+-]+))?)@(?P<layers>[0-9,\-]+)$")
EXAMPLE = "time_mix@3, channel_mix@0-5, block@2, decay=static@1, decay=scale:0.5@4, attention@3, mlp@5"


@dataclass(frozen=True, order=True)
class Term:
    kind: str  # one of KINDS
    layer: int
    factor: float | None = None  # decay=scale only

    @property
    def text_kind(self) -> str:
        return f"decay=scale:{self.factor:g}" if self.kind == "decay=scale" else self.kind


def _layers(text: str, term: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()) or (high and int(high) < int(low)):
            raise VariantError(f"bad layers {text!r} in intervention {term!r}: write L, L-M or L,M (block indices)")
        out += range(int(low), int(high or low) + 1)
    return out


def _compress(layers: list[int]) -> str:
    """[0, 1, 2, 5] -> "0-2,5": consecutive layers share ``layer - rank``."""
    ordered = sorted(layers)
    runs = [[v for _, v in g] for _, g in groupby(enumerate(ordered), key=lambda p: p[1] - p[0])]
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


@dataclass(frozen=True)
class Intervention:
    terms: tuple[Term, ...] = ()

    @classmethod
    def parse(cls, value: str | Intervention | None) -> Intervention:
        """``None``/``"none"``: intact; else ``kind@layers`` terms joined by ``+``."""
        if isinstance(value, Intervention):
            return value
        text = (value or NONE).strip()
        if text == NONE:
            return cls()
        terms: set[Term] = set()
        for raw in text.split("+"):
            match = _TERM.match(raw.strip())
            kind = match["kind"].split(":")[0] if match else None
            if match is None or kind not in KINDS:
                raise VariantError(f"unknown intervention {raw.strip()!r}; write kind@layers, e.g. {EXAMPLE}")
            factor = float(match["factor"]) if match["factor"] else None
            if factor is not None and not factor >= 0:
                raise VariantError(f"decay scale in {raw.strip()!r} must be a number >= 0")
            terms.update(Term(kind, layer, factor) for layer in _layers(match["layers"], raw.strip()))
        decays = [t.layer for t in terms if t.kind.startswith("decay")]
        if len(decays) != len(set(decays)):
            raise VariantError(f"intervention {text!r} changes the decay of one block twice; keep one decay term")
        return cls(tuple(sorted(terms)))

    def __bool__(self) -> bool:
        return bool(self.terms)

    @property
    def name(self) -> str:
        """Canonical text: one term per kind, its layers sorted and compressed (``channel_mix@0-5+time_mix@3``)."""
        if not self.terms:
            return NONE
        by_kind: dict[str, list[int]] = {}
        for t in self.terms:
            by_kind.setdefault(t.text_kind, []).append(t.layer)
        return "+".join(f"{kind}@{_compress(layers)}" for kind, layers in sorted(by_kind.items()))

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()[:12]

    def of_kind(self, kind: str) -> list[Term]:
        return [t for t in self.terms if t.kind == kind]

    def check(self, family: str, blocks: int) -> None:
        """One error line when a term does not apply to this model (wrong family or a block it lacks)."""
        allowed = TRANSFORMERS_KINDS if family == "transformers" else RWKV_KINDS
        wrong = sorted({t.text_kind for t in self.terms if t.kind not in allowed})
        if wrong:
            raise VariantError(
                f"intervention {', '.join(wrong)} does not apply to a {family} model; it takes {', '.join(allowed)}"
            )
        missing = sorted({t.layer for t in self.terms if t.layer >= blocks})
        if missing:
            raise VariantError(f"intervention {self.name}: block(s) {missing} do not exist (blocks 0..{blocks - 1})")
