"""RWKV's recurrent state after a text's last token as a sentence vector: a summary no Transformer has (BlinkDL
suggests the final state as an embedding, RWKV-LM issue 24; EmbeddingRWKV reads the time-mix state of fine-tuned
RWKV-7 layers). Three poolings, for the state of block ``L`` (hidden state ``L``; the last entry, ``ln_out``, has no
recurrence of its own and takes the last block's state):

- ``wkv_state_full``: every head's WKV matrix ``S_h`` (N x N), flattened: exact, H * N * N wide (1.6B: 131,072
  per layer, so for small models or few layers);
- ``wkv_state``: each head's matrix sketched on both sides, ``P^T S_h Q`` with P, Q (N x m) seeded standard normal
  / sqrt(m), m = :data:`SKETCH` (flattened exactly when N <= m): H * m * m wide (1.6B: 8,192). The same P, Q for
  every head and layer (seed :data:`SKETCH_SEED`), so E <P^T A Q, P^T B Q> = <A, B>: inner products and cosines
  are preserved in expectation (``benchmarks/state_sketch.py`` measures what it changes on real weights);
- ``shift_state``: the two token-shift vectors (the last token's normalised inputs of time and channel mixing),
  concatenated: 2C wide.
"""

from __future__ import annotations

import torch

from rwkv_mteb.layerwise.variants import STATE_POOLINGS, STATE_SKETCH, STATE_SKETCH_SEED

__all__ = ["SKETCH", "STATE_POOLINGS", "reduce_state", "sketch_matrices", "state_width"]
SKETCH, SKETCH_SEED = STATE_SKETCH, STATE_SKETCH_SEED  # the cache key names both (variants.pooling_key)
_sketches: dict[tuple[int, int], torch.Tensor] = {}


def sketch_matrices(size: int, width: int = SKETCH) -> torch.Tensor:
    """(2, size, width) float32: P and Q, seeded, the same on every machine (drawn on the CPU)."""
    if (size, width) not in _sketches:
        generator = torch.Generator().manual_seed(SKETCH_SEED)
        _sketches[size, width] = torch.randn(2, size, width, generator=generator) / width**0.5
    return _sketches[size, width]


def state_width(pooling: str, heads: int, size: int, hidden: int) -> int:
    if pooling == "shift_state":
        return 2 * hidden
    if pooling == "wkv_state_full" or size <= SKETCH:
        return heads * size * size
    return heads * SKETCH * SKETCH


def reduce_state(pooling: str, layer_state: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """(B, width) float32 from one block's (att shift (B, C), WKV (B, H, N, N), ffn shift (B, C))."""
    att_shift, wkv, ffn_shift = layer_state
    if pooling == "shift_state":
        return torch.cat([att_shift.float(), ffn_shift.float()], dim=-1)
    size = wkv.shape[-1]
    if pooling == "wkv_state_full" or size <= SKETCH:
        return wkv.float().flatten(1)
    p, q = sketch_matrices(size).to(wkv.device)
    return (p.T @ wkv.float() @ q).flatten(1)
