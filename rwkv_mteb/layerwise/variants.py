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


# the axes of a layer-wise variant as MTEB ``experiment_kwargs``, in the order names spell them; a default
# (mean pooling, no prompt, no intervention) is left out, so the name and the experiment folder stay short
AXES = ("layer", "layers", "combine", "pooling", "prompt", "ablate")
AXIS_DEFAULTS = {"pooling": "mean", "combine": "mean", "prompt": "none", "ablate": "none"}


def experiment_kwargs(
    layers: list[int] | int, pooling: str = "mean", prompt: str = "none", ablate: str = "none", combine: str = "mean"
) -> dict[str, object]:
    """A variant's MTEB ``experiment_kwargs``: ``layer`` (one hidden state) or ``layers`` and ``combine``, then
    every non-default axis (``prompt``: a built-in's name or ``tpl-<digest>``; ``ablate``: canonical text)."""
    layers = [layers] if isinstance(layers, int) else list(layers)
    axes: dict[str, object] = {"layer": layers[0]} if len(layers) == 1 else {"layers": layers, "combine": combine}
    axes |= {"pooling": pooling, "prompt": prompt, "ablate": ablate}
    return {k: v for k, v in axes.items() if AXIS_DEFAULTS.get(k) != v}


def display_name(base: str, kwargs: dict[str, object] | None) -> str:
    """The name a user types for an experiment of ``base``: ``"<hub id> (layer=K, pooling=P, ...)"``, axes in
    :data:`AXES` order (any other keys after them, sorted); the bare name when there are none."""
    if not kwargs:
        return base
    keys = [k for k in AXES if k in kwargs] + sorted(set(kwargs) - set(AXES))

    def text(value: object) -> str:
        return f"[{','.join(map(str, value))}]" if isinstance(value, list | tuple) else str(value)

    return f"{base} ({', '.join(f'{k}={text(kwargs[k])}' for k in keys)})"


def variant_name(base: str, layer: int, pooling: str = "mean", prompt: str = "none", ablate: str = "none") -> str:
    """One axis per non-default choice: ``"<hub id> (layer=K)"`` for mean pooling of the plain text,
    ``"... (layer=K, pooling=P, prompt=eol, ablate=time_mix@3)"`` otherwise."""
    return display_name(base, experiment_kwargs(layer, pooling, prompt, ablate))


def method_label(pooling: str | None, prompt: str | None = None, ablate: str | None = None) -> str:
    """How tables and plots name a layer-wise method: the pooling, then a prompt and an intervention when set."""
    label = str(pooling)
    label += f", {prompt}" if prompt not in (None, "none") else ""
    return label + (f", ablate={ablate}" if ablate not in (None, "none") else "")


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
