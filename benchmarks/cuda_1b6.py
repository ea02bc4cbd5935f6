"""The GPU path at the 1.6B shape (24 blocks x 2048, random weights) in bf16 with float32 state, on all MRPC
validation sentences, batches formed by token count and run padding-free, every hidden state pooled (one sweep
pass). Prints seconds per pair, real tokens per second, peak memory against the weights' own size, and the bf16
GEMM rate measured in the same run. Goals on an H100: <= 1 ms per pair, peak <= 1.15x the weights.

On a GPU machine: ``python benchmarks/cuda_1b6.py``; copy the figures and the device into benchmarks/RESULTS.md.
``--device cpu`` with a small shape runs the same code on the CPU (the test suite does, so the script cannot rot).
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import gemm_peak_flops, mrpc_sentences, report
from rwkv6_forward import build

from rwkv_mteb.backbones import NativeRwkv


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--blocks", type=int, default=24)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--sentences", type=int, default=None, help="default: all 816 MRPC validation sentences")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run this on a GPU machine (or pass --device cpu with a small shape)")
    dtype = getattr(torch, args.dtype)
    model = build(args.blocks, args.hidden).to(args.device, dtype)
    weights_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
    cfg = model.config
    non_embedding = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    flops_per_token = 2 * non_embedding + 10 * cfg.num_heads * cfg.head_size**2 * cfg.num_hidden_layers
    backbone = NativeRwkv.from_model(model)
    layers = list(range(backbone.num_hidden_states))
    ids = sorted(backbone.tokenizer(mrpc_sentences(args.sentences)), key=len, reverse=True)
    batches = [ids[i : i + args.batch_size] for i in range(0, len(ids), args.batch_size)]
    tokens = sum(map(len, ids))

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    for batch in batches[:2]:
        backbone.pooled(batch, layers, "mean")  # warm-up
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for batch in batches:
        vectors = backbone.pooled(batch, layers, "mean")
    sync()
    seconds = time.perf_counter() - start
    peak_mb = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    rows = args.batch_size * max(1, tokens // len(ids))  # a typical batch's tokens
    gemm = gemm_peak_flops(rows, cfg.hidden_size, cfg.ffn_size, dtype=dtype, device=args.device)
    report(
        "cuda_1b6" if cuda else "cuda_1b6_cpu_dry_run",
        {
            "device": torch.cuda.get_device_name() if cuda else "cpu",
            "dtype": args.dtype,
            "state_dtype": str(backbone.model.initial_state(1, args.device)[0][1].dtype),
            "vector_dtype": str(vectors.dtype),
            "blocks": cfg.num_hidden_layers,
            "hidden": cfg.hidden_size,
            "hidden_states_pooled": len(layers),
            "pairs": len(ids) / 2,
            "tokens": tokens,
            "seconds": seconds,
            "seconds_per_pair": seconds / (len(ids) / 2),
            "tokens_per_second": tokens / seconds,
            "gemm_flops_same_run": gemm,
            "ratio_to_gemm": tokens * flops_per_token / seconds / gemm,
            "weights_mb": weights_mb,
            "peak_allocated_mb": peak_mb,
            "peak_over_weights": peak_mb / weights_mb if peak_mb else None,
            "goal": "<= 1 ms per pair on an H100; peak memory <= 1.15x the weights",
        },
    )


if __name__ == "__main__":
    main()
