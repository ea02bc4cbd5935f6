"""On a CUDA GPU: the 1.6B shape (24 x 2048, random weights) in bf16 on MRPC-like batches. Seconds per pair
(goal <= 1 ms on an H100) and peak GPU memory (goal: within 15% of the weights' own size). Copy the figures and
the device into benchmarks/RESULTS.md."""

from __future__ import annotations

import argparse
import time

import torch
from _common import mrpc_sentences, report
from rwkv6_forward import build

from rwkv_mteb.rwkv.backbones import NativeRwkv
from rwkv_mteb.rwkv.tokenizers import WorldTokenizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 3, 5, 7, 9, 11])
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run this on a GPU machine")
    model = build(24, 2048).to("cuda", torch.bfloat16)
    weights_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
    backbone = NativeRwkv.from_model(model)
    ids = WorldTokenizer()(sorted(mrpc_sentences(), key=len))
    batches = [ids[i : i + args.batch_size] for i in range(0, len(ids), args.batch_size)]
    for b in batches[:2]:
        backbone.pooled(b, args.layers, "mean")  # warm-up, reported below
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for b in batches:
        backbone.pooled(b, args.layers, "mean")
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**20
    report(
        "cuda_1b6",
        {
            "device": torch.cuda.get_device_name(),
            "dtype": "bfloat16",
            "pairs": len(ids) / 2,
            "seconds": seconds,
            "seconds_per_pair": seconds / (len(ids) / 2),
            "weights_mb": weights_mb,
            "peak_allocated_mb": peak,
            "peak_over_weights": peak / weights_mb,
            "layers": args.layers,
            "goal": "<= 1 ms per pair on an H100; peak memory within 15% of the weights",
        },
    )


if __name__ == "__main__":
    main()
