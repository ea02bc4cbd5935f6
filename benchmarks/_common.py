"""Shared helpers for the benchmark scripts: real MRPC sentences, GEMM peak, and reporting."""

from __future__ import annotations

import csv
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
SHARED_DATA = Path(os.environ.get("RWKV_MTEB_DATA_DIR", ROOT.parent.parent / "shared" / "data"))


def mrpc_sentences(n: int | None = None) -> list[str]:
    """Sentences of MRPC validation (both sides), in file order: the paper's workload."""
    with (SHARED_DATA / "mrpc" / "validation.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    texts = [r[3] for r in rows] + [r[4] for r in rows]
    return texts[:n] if n else texts


def best_of(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    """Fastest of ``repeat`` timed calls (after one warm-up call), in seconds."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def gemm_peak_flops(
    m: int, k: int, n: int, dtype: torch.dtype = torch.float32, device: str = "cpu", repeat: int = 5
) -> float:
    """Achieved FLOP/s of one (m x k) @ (k x n) product of this dtype, measured now, on this machine (the best
    of ``repeat``)."""
    a = torch.randn(m, k, dtype=dtype, device=device)
    b = torch.randn(k, n, dtype=dtype, device=device)

    def product() -> None:
        a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    seconds = best_of(product, repeat=repeat)
    return 2 * m * k * n / seconds


def report(name: str, data: dict) -> None:
    data = {
        "benchmark": name,
        "command": "python " + shlex.join(["benchmarks/" + Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": {
            "cpu_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        },
        **data,
    }
    out = ROOT / "results" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(data, indent=2))
    print(f"\nwritten to {out}; reproduce with: {data['command']}")
