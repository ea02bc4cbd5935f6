"""The axes of a layer-wise variant, declared once and torch-free (model registration imports this module while
``import mteb`` runs): poolings, how several layers combine, and which prompt methods are registered."""

from __future__ import annotations

from rwkv_mteb.errors import VariantError

POOLINGS = ("mean", "weighted_mean", "max", "last", "first_last")
# RWKV only: the recurrent state after the last token (rwkv_mteb.backbones.state); built on demand, not registered
STATE_POOLINGS = ("wkv_state", "wkv_state_full", "shift_state")
ALL_POOLINGS = (*POOLINGS, *STATE_POOLINGS)
# the sketch of ``wkv_state`` (rwkv_mteb.backbones.state): width m per side and the seed of P and Q
STATE_SKETCH, STATE_SKETCH_SEED = 16, 0


def pooling_key(pooling: str) -> str:
    """How the vector cache names a pooling: with every parameter that changes its vectors (the sketch's)."""
    return f"{pooling}[sketch={STATE_SKETCH},seed={STATE_SKETCH_SEED}]" if pooling == "wkv_state" else pooling
COMBINES = ("mean", "concat")
# the registered prompt variants: every pooling without a prompt, PromptEOL by its last token, echo by the mean or
# the last token of the second copy; any other template or combination is built on the fly (sweep --prompt)
PROMPT_VARIANTS = {"none": POOLINGS, "eol": ("last",), "echo": ("mean", "last")}


def check_pooling(pooling: str, family: str | None = None) -> str:
    """``family``: the backbone's, when known (state poolings need an RWKV-6/-7 backbone)."""
    if pooling not in ALL_POOLINGS:
        raise VariantError(f"unknown pooling {pooling!r}; choose one of {', '.join(ALL_POOLINGS)}")
    if pooling in STATE_POOLINGS and family is not None and family not in ("rwkv6", "rwkv7"):
        raise VariantError(f"pooling {pooling!r} reads RWKV's recurrent state; a {family} model has none")
    return pooling


def check_combine(combine: str) -> str:
    if combine not in COMBINES:
        raise VariantError(f"unknown combine {combine!r}; choose one of {', '.join(COMBINES)}")
    return combine


def variant_name(base: str, layer: int, pooling: str = "mean", prompt: str = "none", ablate: str = "none") -> str:
    """MTEB's variant naming, one axis per non-default choice: ``"<hub id> (layer=K)"`` for mean pooling of the
    plain text, ``"... (layer=K, pooling=P, prompt=eol, ablate=time_mix@3)"`` otherwise (``prompt`` is a
    built-in's name or ``tpl-<digest>`` of a user template; ``ablate`` an intervention's canonical text)."""
    axes = [f"layer={layer}"]
    axes += [f"pooling={pooling}"] if pooling != "mean" else []
    axes += [f"prompt={prompt}"] if prompt != "none" else []
    axes += [f"ablate={ablate}"] if ablate != "none" else []
    return f"{base} ({', '.join(axes)})"


def parse_variant_name(name: str) -> tuple[str, dict[str, str]] | None:
    """``"<base> (layer=K, pooling=P, ...)"`` -> (base, {axis: value}); None when the name has no axes."""
    if not name.endswith(")") or " (" not in name:
        return None
    base, _, axes = name[:-1].rpartition(" (")
    parsed = {}
    for part in axes.split(", "):
        key, sep, value = part.partition("=")
        if not sep or key in parsed:
            return None
        parsed[key] = value
    return base, parsed
