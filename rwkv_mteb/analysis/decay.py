"""RWKV's decay per layer and head (the seed paper's 6.1): how fast each channel of the WKV state forgets, and the
memory length in tokens that implies.

A channel kept with factor d in (0, 1) per token has lost a factor e after tau = -1 / ln d tokens (its e-folding
memory length; half-life = tau ln 2). RWKV-6: ln d = -exp(w), w = ``time_decay`` (static) plus a data-dependent
LoRA term; RWKV-7: ln d = -0.606531 sigmoid(w), w = ``w0`` plus its LoRA term. The static figures use the bias
alone; the data-dependent ones the decay the model actually applied on the task's texts (every token, every
channel), captured during a forward pass.
"""

from __future__ import annotations

import numpy as np
import torch

QUANTILES = (0.1, 0.5, 0.9)
MAX_MEMORY = 1e9  # tokens: where d = 1 to float precision the memory length is reported as this cap


def memory_length(log_decay: np.ndarray | torch.Tensor) -> np.ndarray:
    """tau = -1 / ln d in tokens, capped at :data:`MAX_MEMORY` (d = 1 to float precision)."""
    log_decay = np.asarray(log_decay, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.minimum(-1.0 / np.minimum(log_decay, -0.0), MAX_MEMORY)


def head_stats(log_decay: np.ndarray) -> list[dict[str, float]]:
    """Per head: quantiles of d and of tau over the head's channels (and tokens). ``log_decay``: (..., H, N)."""
    values = np.asarray(log_decay, dtype=np.float64)
    heads = values.shape[-2]
    per_head = values.reshape(-1, heads, values.shape[-1]).transpose(1, 0, 2).reshape(heads, -1)
    out = []
    for row in per_head:
        tau = memory_length(row)
        out.append(
            {
                **{f"decay_q{int(q * 100)}": float(np.quantile(np.exp(row), q)) for q in QUANTILES},
                **{f"memory_q{int(q * 100)}": float(np.quantile(tau, q)) for q in QUANTILES},
                "memory_mean_log": float(np.mean(np.log(tau))),
            }
        )
    return out


def static_log_decay(model: torch.nn.Module) -> list[np.ndarray]:
    """Per block, (H, N) log-decay from the bias alone (our RWKV-6 or RWKV-7 model)."""
    from rwkv_mteb.interventions.apply import rwkv_blocks
    from rwkv_mteb.rwkv.modeling_rwkv7 import DECAY_SCALE

    out = []
    for block in rwkv_blocks(model):
        mix = block.attention if hasattr(block, "attention") else block.att
        heads, size = mix.heads, mix.head_size
        if hasattr(mix, "time_decay"):
            log_d = -torch.exp(mix.time_decay.detach().double().view(heads, size))
        else:
            log_d = -DECAY_SCALE * torch.sigmoid(mix.w0.detach().double().view(heads, size))
        out.append(log_d.numpy())
    return out
