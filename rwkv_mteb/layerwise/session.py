"""What a sweep shares with every view of its layer-wise encoder, handed over when the encoder is built.

A sweep runs one forward pass per prompt and then lets MTEB evaluate every (layer, pooling) variant from its
vectors. The views it evaluates are separate :class:`~rwkv_mteb.layerwise.encoder.LayerwiseEncoder` objects over
one backbone; what they share lives here instead of being set on each of them from outside:

- ``poolings``: the poolings a cache miss computes and stores together (one pass for all of them);
- ``recorder``: during the dry run, the texts MTEB asks for and their side (answered with stand-in vectors);
- ``memo``: this run's rows in memory, so evaluations do not read every row back from disk;
- ``origin``: which pass (and which worker) made the vectors of each cache key in this run;
- ``passes``: the cost record of each pass, which every variant's profile then carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rwkv_mteb.cache.memo import Memo
from rwkv_mteb.provenance.records import PassCost


@dataclass
class SweepSession:
    poolings: tuple[str, ...] = ("mean",)
    recorder: dict[tuple[str | None, str], None] | None = None  # (side, text): see Prompt.for_side
    memo: Memo | None = None
    origin: dict[str, tuple[str, str]] = field(default_factory=dict)  # cache key -> (pass id, worker label)
    passes: dict[str, PassCost] = field(default_factory=dict)

    def record_texts(self) -> None:
        """Start recording the texts MTEB asks for (a dry run); ``recorder`` then holds them in order."""
        self.recorder = {}

    def stop_recording(self) -> list[tuple[str | None, str]]:
        """Each (side, text) MTEB asked for, in order of first request (side: query, document or None)."""
        requests, self.recorder = list(self.recorder or {}), None
        return requests
