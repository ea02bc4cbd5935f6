"""Augmented copies of a text, for the metrics that compare views of the same texts (LiDAR, DiME, InfoNCE).

Skean et al. make each view with nlpaug's ``SplitAug``, ``RandomCharAug`` and ``KeyboardAug`` in sequence, all at
their defaults (their ``text_augmentation``); so does :func:`augmented_views`. Each view is a separate draw. The
draws are seeded by the text itself (and a seed), so a text's views do not depend on which other texts were
sampled or in what order, and a rerun gives the same views (and therefore the same cached vectors). nlpaug draws
from Python's ``random`` and NumPy's global generator: both are seeded for the call and restored after it.
"""

from __future__ import annotations

import hashlib
import random
from functools import lru_cache
from typing import Any

import numpy as np


@lru_cache(maxsize=1)
def _augmenter() -> Any:
    import nlpaug.augmenter.char as nac
    import nlpaug.augmenter.word as naw
    import nlpaug.flow as naf

    return naf.Sequential([naw.SplitAug(), nac.RandomCharAug(), nac.KeyboardAug()])


def augmented_views(text: str, count: int, seed: int = 0) -> list[str]:
    """``count`` augmented copies of ``text`` (a text too short to change comes back as it is)."""
    draw = int.from_bytes(hashlib.sha256(f"{seed}\0{text}".encode()).digest()[:4], "little")
    python_state, numpy_state = random.getstate(), np.random.get_state()
    random.seed(draw)
    np.random.seed(draw)
    try:
        views = []
        for _ in range(count):
            out = _augmenter().augment(text, n=1)
            views.append(out[0] if isinstance(out, list) and out and out[0] else text)
        return views
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
