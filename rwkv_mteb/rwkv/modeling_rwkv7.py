"""RWKV-7 ("Goose") in pure PyTorch: exact, batched, chunkable, and returning every layer's hidden state.

Parameter names and shapes follow BlinkDL's checkpoint layout (``emb``, ``blocks.{i}.att.*``, ``blocks.{i}.ffn.*``,
``ln_out``, ``head``), so a ``.pth`` state dict loads with no renaming; :mod:`rwkv_mteb.rwkv.checkpoint_rwkv7` maps the
flash-linear-attention layout of the hub's ``fla-hub/rwkv7-*`` checkpoints onto it.

The math is the reference's: token shift with six learned mixes, low-rank (LoRA) decay, in-context learning
rate ``a``, value residual from the first block, gate; the state evolves by the generalised delta rule

    S_t = S_{t-1} (diag(w_t) - kk_t^T (kk_t * a_t)) + v_t^T k_t,    y_t = S_t r_t,

per head, followed by a per-head GroupNorm and the bonus ``(r * k * r_k).sum() * v``. Three choices of our own,
as in the RWKV-6 file: the residual stream and the state are float32 whatever the weight dtype; inputs are
right-padded (a position never sees a later one); the recurrent state is carried between calls, so long inputs
run chunk by chunk. Hidden states come in the reference layout: entry ``i < L`` is the output of block ``i``,
entry ``L`` is ``ln_out`` of entry ``L - 1``; there is no embeddings entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rwkv_mteb.rwkv.modeling_rwkv6 import stream_dtype, upcast

DECAY_SCALE = 0.606531  # exp(-0.5): the decay is exp(-exp(-0.5) * sigmoid(.)), in (0.545, 1)


@dataclass(frozen=True)
class Rwkv7Config:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    head_size: int = 64
    intermediate_size: int | None = None
    decay_lora: int = 64
    a_lora: int = 64
    value_lora: int = 32
    gate_lora: int = 128
    layer_norm_epsilon: float = 1e-5
    head_size_divisor: int = 8

    @property
    def num_heads(self) -> int:
        return self.hidden_size // self.head_size

    @property
    def ffn_size(self) -> int:
        return self.intermediate_size or 4 * self.hidden_size

    @property
    def group_norm_eps(self) -> float:
        return 1e-5 * self.head_size_divisor**2

    def to_dict(self) -> dict:
        return {**asdict(self), "model_type": "rwkv7", "architectures": ["Rwkv7ForCausalLM"]}


# one recurrent state per block: token-shift input of time mixing (B, C), the WKV state (B, H, N, N) in float32
# (rows: value channel, columns: key channel), token-shift input of channel mixing (B, C)
LayerState = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _shift(x: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """prev(x) - x, where prev moves x one step later in time and starts from the carried ``last``."""
    return torch.cat([last.unsqueeze(1), x[:, :-1]], dim=1) - x


def delta_step(
    state: torch.Tensor,
    w: torch.Tensor,
    kk: torch.Tensor,
    b: torch.Tensor,
    v: torch.Tensor | None,
    k: torch.Tensor | None,
) -> torch.Tensor:
    """One step of the rule, S <- S diag(w) - (S kk) b^T (+ v k^T); vectors (..., N), state (..., N, N)."""
    state = state * w[..., None, :] - (state @ kk[..., :, None]) @ b[..., None, :]
    return state if v is None or k is None else state + v[..., :, None] * k[..., None, :]


def wkv7_loop(
    r: torch.Tensor,
    w: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kk: torch.Tensor,
    a: torch.Tensor,
    state: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The recurrence one token at a time (the definition; float32). All inputs (B, T, H, N); state (B, H, N, N).

    S <- S diag(w) - (S kk) (kk * a)^T + v k^T;  y = S r.
    """
    out = torch.empty_like(r)
    b = kk * a
    for t in range(r.shape[1]):
        state = delta_step(state, w[:, t], kk[:, t], b[:, t], v[:, t], k[:, t])
        out[:, t] = (state @ r[:, t, :, :, None]).squeeze(-1)
    return out, state


def wkv7_chunked(
    r: torch.Tensor,
    w: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kk: torch.Tensor,
    a: torch.Tensor,
    state: torch.Tensor,
    chunk: int = 16,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same recurrence, chunk-parallel and exact up to float32 rounding.

    Each step is S <- S P_t + v_t k_t^T with the diagonal-plus-rank-one transition P_t = diag(w_t) - kk_t b_t^T.
    A chunk's effect on any entering state is linear: S_out = S_in A + U, with A the product of its transitions
    and U what the chunk adds from a zero state. Both are built for all chunks at once (``chunk`` steps, every
    chunk in parallel); a scan over chunks gives each chunk's entering state; a second pass over the positions
    of all chunks at once, each from its entering state, gives the outputs.
    """
    batch, length, heads, size = r.shape
    pad = (-length) % chunk
    if pad:  # padded steps: w = 1 and k = v = kk = 0 leave the state untouched
        r, k, v, kk, a = (F.pad(x, (0, 0, 0, 0, 0, pad)) for x in (r, k, v, kk, a))
        w = F.pad(w, (0, 0, 0, 0, 0, pad), value=1.0)
    chunks = (length + pad) // chunk

    def blocks(x: torch.Tensor) -> torch.Tensor:  # (B, T, H, N) -> (B, chunks, H, chunk, N)
        return x.view(batch, chunks, chunk, heads, size).transpose(2, 3)

    rc, wc, kc, vc, kkc = blocks(r), blocks(w), blocks(k), blocks(v), blocks(kk)
    bc = kkc * blocks(a)

    def step(s: torch.Tensor, t: int, inputs: bool) -> torch.Tensor:
        v_t, k_t = (vc[..., t, :], kc[..., t, :]) if inputs else (None, None)
        return delta_step(s, wc[..., t, :], kkc[..., t, :], bc[..., t, :], v_t, k_t)

    eye = torch.eye(size, dtype=r.dtype, device=r.device).expand(batch, chunks, heads, size, size)
    added = torch.zeros_like(eye)
    product = eye
    for t in range(chunk):
        added, product = step(added, t, True), step(product, t, False)
    entering = []
    for c in range(chunks):
        entering.append(state)
        state = state @ product[:, c] + added[:, c]
    s = torch.stack(entering, dim=1)  # (B, chunks, H, N, N)
    out = torch.empty_like(rc)
    for t in range(chunk):
        s = step(s, t, True)
        out[..., t, :] = (s @ rc[..., t, :, None]).squeeze(-1)
    out = out.transpose(2, 3).reshape(batch, chunks * chunk, heads, size)
    return out[:, :length], state


class Rwkv7TimeMix(nn.Module):
    def __init__(self, config: Rwkv7Config, index: int) -> None:
        super().__init__()
        c = config.hidden_size
        for name in ("r", "w", "k", "v", "a", "g"):
            setattr(self, f"x_{name}", nn.Parameter(torch.empty(1, 1, c)))
        self.w0, self.w1, self.w2 = self._lora(c, config.decay_lora, bias=True)
        self.a0, self.a1, self.a2 = self._lora(c, config.a_lora, bias=True)
        if index > 0:  # block 0's value is the residual source: it has no value mix
            self.v0, self.v1, self.v2 = self._lora(c, config.value_lora, bias=True)
        _, self.g1, self.g2 = self._lora(c, config.gate_lora, bias=False)
        self.k_k = nn.Parameter(torch.empty(1, 1, c))
        self.k_a = nn.Parameter(torch.empty(1, 1, c))
        self.r_k = nn.Parameter(torch.empty(config.num_heads, config.head_size))
        self.receptance = nn.Linear(c, c, bias=False)
        self.key = nn.Linear(c, c, bias=False)
        self.value = nn.Linear(c, c, bias=False)
        self.output = nn.Linear(c, c, bias=False)
        self.ln_x = nn.GroupNorm(config.num_heads, c, eps=config.group_norm_eps)
        self.index, self.heads, self.head_size = index, config.num_heads, config.head_size
        self.wkv_chunk = 1
        # interventions (rwkv_mteb.interventions): the decay without its LoRA term, and a factor on log-decay
        self.decay_static, self.decay_scale = False, 1.0
        self.decay_log: list[torch.Tensor] | None = None  # a list: each call's log-decay (B, T, H, N) is kept

    @staticmethod
    def _lora(width: int, rank: int, bias: bool) -> tuple[nn.Parameter | None, nn.Parameter, nn.Parameter]:
        zero = nn.Parameter(torch.empty(1, 1, width)) if bias else None
        return zero, nn.Parameter(torch.empty(width, rank)), nn.Parameter(torch.empty(rank, width))

    def forward(
        self, x: torch.Tensor, shift: torch.Tensor, wkv: torch.Tensor, v_first: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, length, _ = x.shape
        dx = _shift(x, shift)
        xr, xw, xk, xv, xa, xg = (x + dx * getattr(self, f"x_{n}") for n in ("r", "w", "k", "v", "a", "g"))
        shape = (batch, length, self.heads, self.head_size)
        r = upcast(self.receptance(xr))
        k = upcast(self.key(xk))
        v = upcast(self.value(xv))
        a = torch.sigmoid(upcast(self.a0 + (xa @ self.a1) @ self.a2))
        g = torch.sigmoid(xg @ self.g1) @ self.g2
        kk = F.normalize((k * upcast(self.k_k)).view(shape), dim=-1, p=2.0)
        k = k * (1 + (a - 1) * upcast(self.k_a))
        if self.index == 0:
            v_first = v
        else:
            assert v_first is not None
            v = v + (v_first - v) * torch.sigmoid(upcast(self.v0 + (xv @ self.v1) @ self.v2))
        decay = self.w0.expand_as(xw) if self.decay_static else self.w0 + torch.tanh(xw @ self.w1) @ self.w2
        log_w = -DECAY_SCALE * self.decay_scale * torch.sigmoid(upcast(decay))
        if self.decay_log is not None:
            self.decay_log.append(log_w.detach().view(shape).cpu())
        w = torch.exp(log_w)
        r, w, k, v, a = (t.reshape(shape) for t in (r, w, k, v, a))
        if self.wkv_chunk > 1 and length > 1:
            y, wkv = wkv7_chunked(r, w, k, v, kk, a, wkv, self.wkv_chunk)
        else:
            y, wkv = wkv7_loop(r, w, k, v, kk, a, wkv)
        y = F.group_norm(
            y.reshape(batch * length, -1), self.heads, upcast(self.ln_x.weight), upcast(self.ln_x.bias), self.ln_x.eps
        ).view(shape)
        y = y + (r * k * upcast(self.r_k)).sum(-1, keepdim=True) * v
        out = self.output((y.reshape(batch, length, -1) * upcast(g)).to(x.dtype))
        return out, x[:, -1], wkv, v_first


class Rwkv7ChannelMix(nn.Module):
    def __init__(self, config: Rwkv7Config) -> None:
        super().__init__()
        c, f = config.hidden_size, config.ffn_size
        self.x_k = nn.Parameter(torch.empty(1, 1, c))
        self.key = nn.Linear(c, f, bias=False)
        self.value = nn.Linear(f, c, bias=False)

    def forward(self, x: torch.Tensor, shift: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k = torch.relu(self.key(x + _shift(x, shift) * self.x_k)) ** 2
        return self.value(k), x[:, -1]


class Rwkv7Block(nn.Module):
    def __init__(self, config: Rwkv7Config, index: int) -> None:
        super().__init__()
        eps = config.layer_norm_epsilon
        if index == 0:
            self.ln0 = nn.LayerNorm(config.hidden_size, eps=eps)
        self.ln1 = nn.LayerNorm(config.hidden_size, eps=eps)
        self.ln2 = nn.LayerNorm(config.hidden_size, eps=eps)
        self.att = Rwkv7TimeMix(config, index)
        self.ffn = Rwkv7ChannelMix(config)
        self.zero_time_mix = self.zero_channel_mix = False  # interventions: a branch runs, its output is dropped

    def forward(
        self, h: torch.Tensor, state: LayerState, v_first: torch.Tensor | None
    ) -> tuple[torch.Tensor, LayerState, torch.Tensor]:
        """h: float32 residual stream; the sublayers run in the weights' dtype."""
        dtype = self.ln1.weight.dtype
        att_shift, wkv, ffn_shift = state
        x = F.layer_norm(h, h.shape[-1:], upcast(self.ln1.weight), upcast(self.ln1.bias), self.ln1.eps)
        out, att_shift, wkv, v_first = self.att(x.to(dtype), att_shift, wkv, v_first)
        if not self.zero_time_mix:
            h = h + upcast(out)
        x = F.layer_norm(h, h.shape[-1:], upcast(self.ln2.weight), upcast(self.ln2.bias), self.ln2.eps)
        out, ffn_shift = self.ffn(x.to(dtype), ffn_shift)
        return (h if self.zero_channel_mix else h + upcast(out)), (att_shift, wkv, ffn_shift), v_first


class Rwkv7Model(nn.Module):
    """BlinkDL's module tree (``emb``, ``blocks``, ``ln_out`` and an optional ``head``) with the passes we need."""

    def __init__(self, config: Rwkv7Config, with_head: bool = True) -> None:
        super().__init__()
        self.config = config
        self.emb = nn.Embedding(config.vocab_size, config.hidden_size)
        self.blocks = nn.ModuleList(Rwkv7Block(config, i) for i in range(config.num_hidden_layers))
        self.ln_out = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.head = nn.Linear(config.hidden_size, config.vocab_size, bias=False) if with_head else None

    @property
    def num_hidden_states(self) -> int:
        return self.config.num_hidden_layers + 1

    def set_wkv_chunk(self, chunk: int) -> None:
        """1: the per-token loop (the definition, and the faster form on the CPU); >1: the chunk-parallel form."""
        for block in self.blocks:
            block.att.wkv_chunk = chunk

    def initial_state(self, batch: int, device: torch.device | str | None = None) -> list[LayerState]:
        cfg, n = self.config, self.config.head_size
        device = device or self.emb.weight.device
        dtype = self.emb.weight.dtype
        return [
            (
                torch.zeros(batch, cfg.hidden_size, device=device, dtype=dtype),
                torch.zeros(batch, cfg.num_heads, n, n, device=device, dtype=stream_dtype(dtype)),
                torch.zeros(batch, cfg.hidden_size, device=device, dtype=dtype),
            )
            for _ in range(cfg.num_hidden_layers)
        ]

    def iter_hidden_states(
        self, input_ids: torch.Tensor, state: list[LayerState]
    ) -> Iterator[tuple[int, torch.Tensor]]:
        """Yield (layer index, float32 hidden state (B, T, C)) in the reference layout; updates ``state`` in
        place, so the caller can continue with the next chunk of the same sequences."""
        h = upcast(self.emb(input_ids))
        ln0 = self.blocks[0].ln0
        h = F.layer_norm(h, h.shape[-1:], upcast(ln0.weight), upcast(ln0.bias), ln0.eps)
        v_first = None
        for i, block in enumerate(self.blocks):
            h, state[i], v_first = block(h, state[i], v_first)
            yield i, h
        ln = self.ln_out
        yield len(self.blocks), F.layer_norm(h, h.shape[-1:], upcast(ln.weight), upcast(ln.bias), ln.eps)

    @torch.no_grad()
    def forward(
        self, input_ids: torch.Tensor, state: list[LayerState] | None = None
    ) -> tuple[list[torch.Tensor], torch.Tensor | None, list[LayerState]]:
        """All hidden states, the logits (if the head is loaded) and the state after the last position."""
        state = state if state is not None else self.initial_state(input_ids.shape[0], input_ids.device)
        hidden = [h for _, h in self.iter_hidden_states(input_ids, state)]
        logits = None
        if self.head is not None:
            logits = upcast(self.head(hidden[-1].to(self.head.weight.dtype)))
        return hidden, logits, state
