"""``rwkv-mteb models``: the names rwkv-mteb serves, grouped by family, variants collapsed into one line."""

from __future__ import annotations

import re

from rwkv_mteb.layerwise.variants import POOLINGS, PROMPT_VARIANTS, STATE_POOLINGS
from rwkv_mteb.models.catalog import (
    DEFAULT_SBERT,
    GLOVE_METAS,
    LANGUAGE_MODELS,
    SIMCSE_METAS,
    registered_variant_names,
)
from rwkv_mteb.mteb_internals import model_registry


def natural_key(text: str) -> list[int | str]:
    """Sort ``layer=2`` before ``layer=10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def model_listing(expand: bool = False) -> str:
    registry = model_registry()
    lines = ["GloVe averaging (the seed paper's baseline)"]
    lines += [f"  {m.name}  dim {m.embed_dim}" for m in GLOVE_METAS]
    lines += ["Sentence-BERT (MTEB's metadata; packaged or local weights first)"]
    lines += [f"  {n}  dim {registry[n].embed_dim}" for n in DEFAULT_SBERT if n in registry]
    lines += ["SimCSE (the authors' pooling)"]
    lines += [f"  {m.name}  dim {m.embed_dim}" for m in SIMCSE_METAS]
    lines += ["Language models, layer by layer ('(layer=K)' alone means mean pooling of the plain text)"]
    if expand:
        lines += [f"  {name}" for name in sorted(registered_variant_names(), key=natural_key)]
    else:
        for lm in LANGUAGE_MODELS:
            lines.append(f"  {lm.name} (layer=0..{lm.hidden_states - 1}, pooling={'|'.join(POOLINGS)})  dim {lm.width}")
        prompts = "; ".join(f"prompt={p}: pooling={'|'.join(ps)}" for p, ps in PROMPT_VARIANTS.items() if p != "none")
        lines.append(f"  with zero-shot prompts ({prompts}); any template through `rwkv-mteb sweep --prompt`")
        lines.append(
            f"  resolved on demand: RWKV-6/-7 pooling={'|'.join(STATE_POOLINGS)}; interventions, e.g. "
            "(layer=K, ablate=time_mix@3) or (layer=K, ablate=mlp@5) (README: the paper's next experiments)"
        )
        lines.append("  (`rwkv-mteb models --all` lists every variant name)")
    return "\n".join(lines)
