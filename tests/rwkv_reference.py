"""An independent RWKV-6 and RWKV-7 forward for the intervention and state tests: one token at a time, float64,
straight from a BlinkDL ``.pth`` state dict, written from the published recurrences (BlinkDL's ``rwkv`` package
layout, ``../shared/docs/rwkv6.md``), sharing no code with ``rwkv_mteb.rwkv``.

``Knobs`` switches the same things the interventions do: a branch's output dropped, the decay's LoRA term dropped,
log-decay multiplied by a factor, all per block. ``run`` returns every block's output (and ``ln_out``), the logits
of the last token and the state after it in the ``rwkv`` package's layout (att shift, WKV, ffn shift per block).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass
class Knobs:
    no_att: set[int] = field(default_factory=set)
    no_ffn: set[int] = field(default_factory=set)
    static_decay: set[int] = field(default_factory=set)
    decay_scale: dict[int, float] = field(default_factory=dict)


def _ln(x, sd, name, eps=1e-5):
    return F.layer_norm(x, x.shape[-1:], sd[f"{name}.weight"], sd[f"{name}.bias"], eps)


def _group_norm(y, heads, weight, bias, eps=64e-5):
    y = y.view(heads, -1)
    y = (y - y.mean(-1, keepdim=True)) / torch.sqrt(y.var(-1, unbiased=False, keepdim=True) + eps)
    return y.reshape(-1) * weight + bias


def _v6_att(sd, p, x, shift, S, i, knobs):
    heads, size = sd[f"{p}time_faaaa"].shape
    dx = shift - x
    xxx = x + dx * sd[f"{p}time_maa_x"].view(-1)
    mix = torch.tanh(xxx @ sd[f"{p}time_maa_w1"]).view(5, -1)
    mw, mk, mv, mr, mg = (mix[j] @ sd[f"{p}time_maa_w2"][j] for j in range(5))
    xw, xk, xv, xr, xg = (
        x + dx * (sd[f"{p}time_maa_{n}"].view(-1) + m) for n, m in zip("wkvrg", (mw, mk, mv, mr, mg), strict=True)
    )
    r = (sd[f"{p}receptance.weight"] @ xr).view(heads, size)
    k = (sd[f"{p}key.weight"] @ xk).view(heads, size)
    v = (sd[f"{p}value.weight"] @ xv).view(heads, size)
    g = F.silu(sd[f"{p}gate.weight"] @ xg)
    w = sd[f"{p}time_decay"].view(-1).clone()
    if i not in knobs.static_decay:
        w = w + torch.tanh(xw @ sd[f"{p}time_decay_w1"]) @ sd[f"{p}time_decay_w2"]
    decay = torch.exp(-torch.exp(w) * knobs.decay_scale.get(i, 1.0)).view(heads, size)
    u = sd[f"{p}time_faaaa"]
    kv = k[:, :, None] * v[:, None, :]  # (H, key, value)
    y = torch.einsum("hk,hkv->hv", r, S + u[:, :, None] * kv)
    S = decay[:, :, None] * S + kv
    y = _group_norm(y.reshape(-1), heads, sd[f"{p}ln_x.weight"], sd[f"{p}ln_x.bias"])
    return sd[f"{p}output.weight"] @ (y * g), S


def _v6_ffn(sd, p, x, shift):
    dx = shift - x
    k = torch.relu(sd[f"{p}key.weight"] @ (x + dx * sd[f"{p}time_maa_k"].view(-1))) ** 2
    r = torch.sigmoid(sd[f"{p}receptance.weight"] @ (x + dx * sd[f"{p}time_maa_r"].view(-1)))
    return r * (sd[f"{p}value.weight"] @ k)


def _v7_att(sd, p, x, shift, S, i, knobs, v_first):
    heads, size = sd[f"{p}r_k"].shape
    dx = shift - x
    xr, xw, xk, xv, xa, xg = (x + dx * sd[f"{p}x_{n}"].view(-1) for n in "rwkvag")
    r = sd[f"{p}receptance.weight"] @ xr
    k = sd[f"{p}key.weight"] @ xk
    v = sd[f"{p}value.weight"] @ xv
    lora = (
        sd[f"{p}w0"].view(-1)
        if i in knobs.static_decay
        else sd[f"{p}w0"].view(-1) + torch.tanh(xw @ sd[f"{p}w1"]) @ sd[f"{p}w2"]
    )
    w = torch.exp(-0.606531 * knobs.decay_scale.get(i, 1.0) * torch.sigmoid(lora))
    a = torch.sigmoid(sd[f"{p}a0"].view(-1) + (xa @ sd[f"{p}a1"]) @ sd[f"{p}a2"])
    g = torch.sigmoid(xg @ sd[f"{p}g1"]) @ sd[f"{p}g2"]
    kk = k * sd[f"{p}k_k"].view(-1)
    kk = (kk.view(heads, size) / kk.view(heads, size).norm(dim=-1, keepdim=True).clamp_min(1e-12)).view(-1)
    k = k * (1 + (a - 1) * sd[f"{p}k_a"].view(-1))
    if i == 0:
        v_first = v
    else:
        v = v + (v_first - v) * torch.sigmoid(sd[f"{p}v0"].view(-1) + (xv @ sd[f"{p}v1"]) @ sd[f"{p}v2"])
    rh, wh, kh, vh, kkh, ah = (t.view(heads, size) for t in (r, w, k, v, kk, a))
    # S: (H, value, key); S <- S diag(w) - (S kk)(kk a)^T + v k^T; y = S r
    S = S * wh[:, None, :] - (S @ kkh[:, :, None]) @ (kkh * ah)[:, None, :] + vh[:, :, None] * kh[:, None, :]
    y = (S @ rh[:, :, None]).squeeze(-1).reshape(-1)
    y = _group_norm(y, heads, sd[f"{p}ln_x.weight"], sd[f"{p}ln_x.bias"])
    y = y + ((rh * kh * sd[f"{p}r_k"]).sum(-1, keepdim=True) * vh).reshape(-1)
    return sd[f"{p}output.weight"] @ (y * g), S, v_first


def _v7_ffn(sd, p, x, shift):
    k = torch.relu(sd[f"{p}key.weight"] @ (x + (shift - x) * sd[f"{p}x_k"].view(-1))) ** 2
    return sd[f"{p}value.weight"] @ k


def run(sd: dict[str, torch.Tensor], tokens: list[int], knobs: Knobs | None = None):
    """(hidden states per position: list over tokens of list over blocks + ln_out, logits, state)."""
    knobs = knobs or Knobs()
    sd = {k: v.double() for k, v in sd.items()}
    v7 = "blocks.0.att.r_k" in sd
    blocks = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    width = sd["emb.weight"].shape[1]
    if v7:
        heads, size = sd["blocks.0.att.r_k"].shape
    else:
        heads, size = sd["blocks.0.att.time_faaaa"].shape
    state = []
    for _ in range(blocks):
        state += [torch.zeros(width, dtype=torch.float64), torch.zeros(heads, size, size, dtype=torch.float64)]
        state += [torch.zeros(width, dtype=torch.float64)]
    hidden = []
    for token in tokens:
        x = _ln(sd["emb.weight"][token], sd, "blocks.0.ln0")
        v_first = None
        per_layer = []
        for i in range(blocks):
            p = f"blocks.{i}."
            xa = _ln(x, sd, f"{p}ln1")
            shift, wkv = state[3 * i], state[3 * i + 1]
            if v7:
                out, state[3 * i + 1], v_first = _v7_att(sd, f"{p}att.", xa, shift, wkv, i, knobs, v_first)
            else:
                out, state[3 * i + 1] = _v6_att(sd, f"{p}att.", xa, shift, wkv, i, knobs)
            state[3 * i] = xa
            if i not in knobs.no_att:
                x = x + out
            xf = _ln(x, sd, f"{p}ln2")
            out = (_v7_ffn if v7 else _v6_ffn)(sd, f"{p}ffn.", xf, state[3 * i + 2])
            state[3 * i + 2] = xf
            if i not in knobs.no_ffn:
                x = x + out
            per_layer.append(x)
        per_layer.append(_ln(x, sd, "ln_out"))
        hidden.append(per_layer)
    logits = sd["head.weight"] @ hidden[-1][-1]
    return hidden, logits, state
