"""RWKV-6 ("Finch") in pure PyTorch: exact, batched, chunkable, and returning every layer's hidden state.

Parameter names and shapes follow the Hugging Face checkpoint layout (``rwkv.blocks.{i}.attention.*``), so a
state dict loads with no renaming. The math is the reference's (see ``docs``: token shift, data-dependent
mixing and decay, the WKV recurrence with bonus ``u``, per-head GroupNorm), with three choices of our own:

- the residual stream and the WKV state are float32 whatever the weight dtype (float64 for float64 weights, so
  gradients can be checked against finite differences), so no per-block rescaling is needed in fp16/bf16 and
  layers are comparable with each other;
- inputs are right-padded: a position never sees a later one, so padding cannot change real positions;
- the recurrent state is carried between calls, so a long input runs chunk by chunk in bounded memory with
  the same result as one pass.

Hidden states come in the reference layout: entry ``i < L`` is the output of block ``i``; entry ``L`` is
``ln_out`` of entry ``L - 1``; there is no embeddings entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Rwkv6Config:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    attention_hidden_size: int
    head_size: int = 64
    intermediate_size: int | None = None
    layer_norm_epsilon: float = 1e-5
    head_size_divisor: int = 8
    mix_lora: int = 32
    decay_lora: int = 64

    @property
    def num_heads(self) -> int:
        return self.attention_hidden_size // self.head_size

    @property
    def ffn_size(self) -> int:
        if self.intermediate_size:
            return self.intermediate_size
        return int(self.hidden_size * 3.5) // 32 * 32

    @property
    def group_norm_eps(self) -> float:
        return 1e-5 * self.head_size_divisor**2

    def to_hf_dict(self) -> dict:
        """``config.json`` in the layout of the Hugging Face RWKV-6 checkpoints."""
        out = asdict(self)
        out.update(
            model_type="rwkv6",
            architectures=["Rwkv6ForCausalLM"],
            rescale_every=6,
            tie_word_embeddings=False,
            bos_token_id=0,
            eos_token_id=0,
        )
        return out


# one recurrent state per block: token-shift input of time mixing (B, C), WKV state (B, H, N, N) in float32,
# token-shift input of channel mixing (B, C)
LayerState = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def stream_dtype(dtype: torch.dtype) -> torch.dtype:
    """The residual stream's and the state's dtype: float32, never lower; float64 stays float64."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def upcast(x: torch.Tensor) -> torch.Tensor:
    return x.to(stream_dtype(x.dtype))


def _shift(x: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """prev(x) - x, where prev moves x one step later in time and starts from the carried ``last``."""
    return torch.cat([last.unsqueeze(1), x[:, :-1]], dim=1) - x


def wkv_loop(
    r: torch.Tensor, k: torch.Tensor, v: torch.Tensor, decay: torch.Tensor, u: torch.Tensor, state: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The WKV recurrence, one token at a time (the definition; float32).

    r, k, v, decay: (B, T, H, N); u: (H, N); state: (B, H, N, N), rows indexed by the key channel.
    y_t = r_t (S + diag(u) k_t^T v_t);  S <- diag(d_t) S + k_t^T v_t.
    """
    out = torch.empty_like(r)
    for t in range(r.shape[1]):
        kv = k[:, t, :, :, None] * v[:, t, :, None, :]
        out[:, t] = torch.einsum("bhn,bhnm->bhm", r[:, t], state + u[:, :, None] * kv)
        state = decay[:, t, :, :, None] * state + kv
    return out, state


def wkv_chunked(
    r: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    log_decay: torch.Tensor,
    u: torch.Tensor,
    state: torch.Tensor,
    chunk: int = 16,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same recurrence, chunk-parallel: exact up to float32 rounding, and a handful of batched products
    instead of T small steps.

    Positions are grouped in chunks of ``chunk``. Inside a chunk every pairwise decay exp(A_{t-1} - A_s) is
    formed explicitly (A = cumulative log-decay, so only non-positive numbers are exponentiated: nothing can
    overflow); the state entering each chunk comes from a short sequential scan over chunks.

    log_decay = log d = -exp(w), (B, T, H, N).
    """
    batch, length, heads, size = r.shape
    pad = (-length) % chunk
    if pad:  # padded steps carry k = v = 0 and decay 1: they leave the state untouched
        r, k, v, log_decay = (F.pad(x, (0, 0, 0, 0, 0, pad)) for x in (r, k, v, log_decay))
    chunks = (length + pad) // chunk

    def blocks(x: torch.Tensor) -> torch.Tensor:  # (B, T, H, N) -> (B, H, chunks, chunk, N)
        return x.view(batch, chunks, chunk, heads, size).permute(0, 3, 1, 2, 4)

    rc, kc, vc, lw = blocks(r), blocks(k), blocks(v), blocks(log_decay)
    cum = lw.cumsum(dim=3)  # A_t, inclusive
    before = cum - lw  # A_{t-1}: decay applied to the incoming state before step t
    total = cum[:, :, :, -1:, :]  # A over the whole chunk

    # state entering each chunk: S_{c+1} = diag(exp(total_c)) S_c + (k_c * exp(total_c - A))^T v_c
    contrib = (kc * (total - cum).exp()).transpose(-1, -2) @ vc  # (B, H, chunks, N, N)
    carry = total.squeeze(3).exp()  # (B, H, chunks, N)
    entering = []
    for c in range(chunks):
        entering.append(state)
        state = carry[:, :, c, :, None] * state + contrib[:, :, c]
    inter = (rc * before.exp()) @ torch.stack(entering, dim=2)  # (B, H, chunks, chunk, N)

    # within a chunk: scores[t, s] = sum_n r_t exp(A_{t-1} - A_s) k_s for s < t, plus the bonus u at s = t
    pair = before.unsqueeze(4) - cum.unsqueeze(3)  # (B, H, chunks, t, s, N)
    strictly_lower = torch.ones(chunk, chunk, dtype=torch.bool, device=r.device).tril(-1)
    pair = pair.masked_fill_(~strictly_lower[:, :, None], float("-inf")).exp_()
    # in place unless a gradient flows (exp's backward needs its own output)
    pair = pair * kc.unsqueeze(3) if pair.requires_grad else pair.mul_(kc.unsqueeze(3))
    scores = (pair @ rc.unsqueeze(-1)).squeeze(-1)  # (B, H, chunks, t, s)
    scores.diagonal(dim1=-2, dim2=-1).add_((rc * u[None, :, None, None, :] * kc).sum(-1))
    out = (inter + scores @ vc).permute(0, 2, 3, 1, 4).reshape(batch, chunks * chunk, heads, size)
    return out[:, :length], state


class Rwkv6SelfAttention(nn.Module):
    """Time mixing."""

    def __init__(self, config: Rwkv6Config) -> None:
        super().__init__()
        c, a, h, n = config.hidden_size, config.attention_hidden_size, config.num_heads, config.head_size
        for name in ("x", "w", "k", "v", "r", "g"):
            setattr(self, f"time_maa_{name}", nn.Parameter(torch.empty(1, 1, c)))
        self.time_maa_w1 = nn.Parameter(torch.empty(c, 5 * config.mix_lora))
        self.time_maa_w2 = nn.Parameter(torch.empty(5, config.mix_lora, c))
        self.time_decay = nn.Parameter(torch.empty(1, 1, a))
        self.time_decay_w1 = nn.Parameter(torch.empty(c, config.decay_lora))
        self.time_decay_w2 = nn.Parameter(torch.empty(config.decay_lora, a))
        self.time_faaaa = nn.Parameter(torch.empty(h, n))
        self.receptance = nn.Linear(c, a, bias=False)
        self.key = nn.Linear(c, a, bias=False)
        self.value = nn.Linear(c, a, bias=False)
        self.gate = nn.Linear(c, a, bias=False)
        self.output = nn.Linear(a, c, bias=False)
        self.ln_x = nn.GroupNorm(h, a, eps=config.group_norm_eps)
        self.heads, self.head_size = h, n
        self.wkv_chunk = 8
        # interventions (rwkv_mteb.interventions): the decay without its LoRA term, and a factor on log-decay
        self.decay_static, self.decay_scale = False, 1.0
        self.decay_log: list[torch.Tensor] | None = None  # a list: each call's log-decay (B, T, H, N) is kept

    def forward(
        self, x: torch.Tensor, shift: torch.Tensor, wkv: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, length, _ = x.shape
        dx = _shift(x, shift)
        xxx = x + dx * self.time_maa_x
        mix = torch.tanh(xxx @ self.time_maa_w1).view(batch * length, 5, -1).transpose(0, 1)
        mix = torch.bmm(mix, self.time_maa_w2).view(5, batch, length, -1)
        mw, mk, mv, mr, mg = mix.unbind(0)
        xw = x + dx * (self.time_maa_w + mw)
        xk = x + dx * (self.time_maa_k + mk)
        xv = x + dx * (self.time_maa_v + mv)
        xr = x + dx * (self.time_maa_r + mr)
        xg = x + dx * (self.time_maa_g + mg)

        shape = (batch, length, self.heads, self.head_size)
        r = upcast(self.receptance(xr)).view(shape)
        k = upcast(self.key(xk)).view(shape)
        v = upcast(self.value(xv)).view(shape)
        g = F.silu(self.gate(xg))
        w = upcast(self.time_decay).expand(batch, length, -1)
        if not self.decay_static:
            w = w + upcast(torch.tanh(xw @ self.time_decay_w1) @ self.time_decay_w2)
        log_decay = -torch.exp(w.reshape(shape)) * self.decay_scale
        if self.decay_log is not None:
            self.decay_log.append(log_decay.detach().cpu())
        u = upcast(self.time_faaaa)
        if length == 1 or self.wkv_chunk <= 1:
            y, wkv = wkv_loop(r, k, v, log_decay.exp(), u, wkv)
        else:
            y, wkv = wkv_chunked(r, k, v, log_decay, u, wkv, self.wkv_chunk)
        y = F.group_norm(
            y.reshape(batch * length, -1), self.heads, upcast(self.ln_x.weight), upcast(self.ln_x.bias), self.ln_x.eps
        ).view(batch, length, -1)
        return self.output(y.to(g.dtype) * g), x[:, -1], wkv


class Rwkv6FeedForward(nn.Module):
    """Channel mixing."""

    def __init__(self, config: Rwkv6Config) -> None:
        super().__init__()
        c, f = config.hidden_size, config.ffn_size
        self.time_maa_k = nn.Parameter(torch.empty(1, 1, c))
        self.time_maa_r = nn.Parameter(torch.empty(1, 1, c))
        self.key = nn.Linear(c, f, bias=False)
        self.receptance = nn.Linear(c, c, bias=False)
        self.value = nn.Linear(f, c, bias=False)

    def forward(self, x: torch.Tensor, shift: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dx = _shift(x, shift)
        xk = x + dx * self.time_maa_k
        xr = x + dx * self.time_maa_r
        return torch.sigmoid(self.receptance(xr)) * self.value(torch.relu(self.key(xk)) ** 2), x[:, -1]


class Rwkv6Block(nn.Module):
    def __init__(self, config: Rwkv6Config, index: int) -> None:
        super().__init__()
        eps = config.layer_norm_epsilon
        if index == 0:
            self.pre_ln = nn.LayerNorm(config.hidden_size, eps=eps)
        self.ln1 = nn.LayerNorm(config.hidden_size, eps=eps)
        self.ln2 = nn.LayerNorm(config.hidden_size, eps=eps)
        self.attention = Rwkv6SelfAttention(config)
        self.feed_forward = Rwkv6FeedForward(config)
        self.zero_time_mix = self.zero_channel_mix = False  # interventions: a branch runs, its output is dropped

    def forward(self, h: torch.Tensor, state: LayerState) -> tuple[torch.Tensor, LayerState]:
        """h: float32 residual stream; the sublayers run in the weights' dtype."""
        dtype = self.ln1.weight.dtype
        att_shift, wkv, ffn_shift = state
        x = F.layer_norm(h, h.shape[-1:], upcast(self.ln1.weight), upcast(self.ln1.bias), self.ln1.eps)
        out, att_shift, wkv = self.attention(x.to(dtype), att_shift, wkv)
        if not self.zero_time_mix:
            h = h + upcast(out)
        x = F.layer_norm(h, h.shape[-1:], upcast(self.ln2.weight), upcast(self.ln2.bias), self.ln2.eps)
        out, ffn_shift = self.feed_forward(x.to(dtype), ffn_shift)
        return (h if self.zero_channel_mix else h + upcast(out)), (att_shift, wkv, ffn_shift)


class Rwkv6Backbone(nn.Module):
    def __init__(self, config: Rwkv6Config) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.blocks = nn.ModuleList(Rwkv6Block(config, i) for i in range(config.num_hidden_layers))
        self.ln_out = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)


class Rwkv6Model(nn.Module):
    """The checkpoint's module tree (``rwkv.*`` and an optional ``head``) with the forward passes we need."""

    def __init__(self, config: Rwkv6Config, with_head: bool = True) -> None:
        super().__init__()
        self.config = config
        self.rwkv = Rwkv6Backbone(config)
        self.head = nn.Linear(config.hidden_size, config.vocab_size, bias=False) if with_head else None

    @property
    def num_hidden_states(self) -> int:
        return self.config.num_hidden_layers + 1

    def set_wkv_chunk(self, chunk: int) -> None:
        """1: the per-token loop (the definition); >1: the chunk-parallel form (default 8)."""
        for block in self.rwkv.blocks:
            block.attention.wkv_chunk = chunk

    def initial_state(self, batch: int, device: torch.device | str | None = None) -> list[LayerState]:
        cfg, n = self.config, self.config.head_size
        device = device or self.rwkv.embeddings.weight.device
        dtype = self.rwkv.embeddings.weight.dtype
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
        blocks = self.rwkv.blocks
        h = upcast(self.rwkv.embeddings(input_ids))
        pre = blocks[0].pre_ln
        h = F.layer_norm(h, h.shape[-1:], upcast(pre.weight), upcast(pre.bias), pre.eps)
        for i, block in enumerate(blocks):
            h, state[i] = block(h, state[i])
            yield i, h
        ln = self.rwkv.ln_out
        yield len(blocks), F.layer_norm(h, h.shape[-1:], upcast(ln.weight), upcast(ln.bias), ln.eps)

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
