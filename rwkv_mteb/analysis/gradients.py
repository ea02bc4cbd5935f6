"""Gradient norms of the language-model loss with respect to each layer's hidden states (the seed paper's 6.2):
||dL/dh_l|| (Frobenius over the text's positions and channels) for next-token cross-entropy averaged over the text,
each text's own loss (texts batched right-padded: causal models need no mask, and norms cover real positions
only), grouped in token-length buckets.

The paper approximates ||dL/dh_l|| ~ gamma^(L - l) ||dL/dh_L||; :func:`fit_gamma` fits gamma by least squares of
log ||dL/dh_l|| on (L - l) over the blocks' outputs (the final normalised entry is left out: its scale is the
norm's, not the residual stream's). gamma < 1: gradients shrink towards the input; > 1: they grow.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

BUCKETS = (16, 32, 64)  # token-length edges: <=16, 17-32, 33-64, >64


def bucket_of(length: int, edges: tuple[int, ...] = BUCKETS) -> str:
    low = 1
    for edge in edges:
        if length <= edge:
            return f"{low}-{edge}"
        low = edge + 1
    return f">{edges[-1]}"


def fit_gamma(norms: list[float] | np.ndarray) -> float:
    """gamma from norms g_0..g_L (hidden states in order, the last left out): g_l ~ c gamma^(L' - l)."""
    g = np.asarray(norms, dtype=np.float64)[:-1]
    keep = g > 0
    depth_to_top = (len(g) - 1 - np.arange(len(g)))[keep]
    if keep.sum() < 2:
        return float("nan")
    slope = np.polyfit(depth_to_top, np.log(g[keep]), 1)[0]
    return float(np.exp(slope))


HiddenStates = Callable[[torch.Tensor, torch.Tensor], tuple[list[torch.Tensor], torch.Tensor]]


def _activations_only(model: torch.nn.Module, embeddings: torch.nn.Module) -> None:
    """Gradients flow through the activations only: the weights are frozen and the embedding output is made a
    leaf that requires a gradient, so no weight gradient is ever computed or stored."""
    model.requires_grad_(False)
    embeddings.register_forward_hook(lambda _module, _args, output: output.detach().requires_grad_())


def rwkv_forward(model: torch.nn.Module) -> HiddenStates:
    """(hidden states, logits) of our RWKV model with its head, differentiable (the per-token WKV form: the
    chunked one updates tensors in place). Right padding needs no mask: a position never sees a later one."""
    model.set_wkv_chunk(1)
    _activations_only(model, model.rwkv.embeddings if hasattr(model, "rwkv") else model.emb)

    def forward(tokens: torch.Tensor, mask: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        hidden = [h for _, h in model.iter_hidden_states(tokens, model.initial_state(len(tokens), tokens.device))]
        return hidden, model.head(hidden[-1].to(model.head.weight.dtype)).float()

    return forward


def transformers_forward(model: torch.nn.Module) -> HiddenStates:
    _activations_only(model, model.get_input_embeddings())

    def forward(tokens: torch.Tensor, mask: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        out = model(input_ids=tokens, attention_mask=mask.long(), output_hidden_states=True)
        return list(out.hidden_states), out.logits.float()

    return forward


def gradient_norms(forward: HiddenStates, batch: list[list[int]]) -> list[list[float]]:
    """||dL/dh_l|| for every hidden state of each text (at least two tokens each), L being that text's own mean
    next-token loss: the texts run right-padded in one batch, the loss is the sum of the texts' losses (so each
    text's gradient is its own) and norms cover its real positions only."""
    lengths = torch.tensor([len(ids) for ids in batch])
    tokens = torch.zeros(len(batch), int(lengths.max()), dtype=torch.long)
    for row, ids in enumerate(batch):
        tokens[row, : len(ids)] = torch.tensor(ids)
    real = torch.arange(tokens.shape[1])[None] < lengths[:, None]
    with torch.enable_grad():
        hidden, logits = forward(tokens, real)
        for h in hidden:
            h.retain_grad()
        per_token = F.cross_entropy(logits[:, :-1].transpose(1, 2), tokens[:, 1:], reduction="none")
        targets = real[:, 1:].float()
        (per_token * targets / targets.sum(1, keepdim=True)).sum().backward()
    out = []
    for row in range(len(batch)):
        keep = real[row]
        out.append([float(h.grad[row][keep].double().norm()) if h.grad is not None else 0.0 for h in hidden])
    return out


def bucketed_norms(forward: HiddenStates, texts_ids: list[list[int]], batch_size: int = 16) -> dict[str, dict]:
    """Per length bucket: texts, mean norm per layer, and gamma fitted to those means (texts of one token have no
    next-token target and are left out)."""
    usable = sorted((ids for ids in texts_ids if len(ids) >= 2), key=len)
    groups: dict[str, list[list[float]]] = {}
    for first in range(0, len(usable), batch_size):
        batch = usable[first : first + batch_size]
        for ids, norms in zip(batch, gradient_norms(forward, batch), strict=True):
            groups.setdefault(bucket_of(len(ids)), []).append(norms)
    out = {}
    for bucket, rows in groups.items():
        mean = np.mean(np.array(rows), axis=0)
        gamma = fit_gamma(mean)
        norms = [float(v) for v in mean]
        out[bucket] = {"texts": len(rows), "norms": norms, "gamma": gamma if np.isfinite(gamma) else None}
    return out
