"""A CPU-bound `rwkv-mteb sweep` on this machine: the local executor against the Ray executor with two workers
(one CPU and one torch thread each) and with one worker (all CPUs), and the local executor held to one torch
thread (how far the local executor is from using every core already): wall time of the whole sweep (encode pass,
then MTEB's evaluation of every layer variant from the cache), each in a fresh cache, alternated, best of
``--repeat``. Ray's own start-up (``ray.init``) is timed apart; the workers' start and model loading are inside.
Random RWKV-6 checkpoint (``--blocks`` x ``--hidden``), MRPCZeroShot validation and test.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _common import SHARED_DATA, report

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("RWKV_MTEB_DATA_DIR", str(SHARED_DATA))

BASE = "RWKV/v6-Finch-1B6-HF"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import ray
    import torch

    from rwkv_mteb.runs.sweep import sweep
    from rwkv_mteb.rwkv.checkpoint import make_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = make_checkpoint(Path(tmp) / "model", layers=args.blocks, hidden=args.hidden, seed=0)
        os.environ["RWKV_MTEB_MODEL_PATHS"] = f"{BASE}={checkpoint}"
        start = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - start
        cpus = torch.get_num_threads()
        runs = {
            "local": {},
            "local_1_thread": {},
            "ray_2_workers": {"executor": "ray", "workers": 2},
            "ray_1_worker": {"executor": "ray", "workers": 1},
        }
        seconds: dict[str, list[float]] = {name: [] for name in runs}
        for r in range(args.repeat):
            for name, options in runs.items():
                folder = Path(tmp) / f"{name}-{r}"
                os.environ["RWKV_MTEB_CACHE_DIR"] = str(folder / "cache")
                torch.set_num_threads(1 if name == "local_1_thread" else cpus)
                start = time.perf_counter()
                sweep(
                    model=BASE, tasks=["MRPCZeroShot"], output_folder=folder, eval_splits=["validation", "test"],
                    show_progress_bar=False, **options,
                )  # fmt: skip
                seconds[name].append(time.perf_counter() - start)
                print(name, round(seconds[name][-1], 1), flush=True)
        ray.shutdown()
    best = {k: min(v) for k, v in seconds.items()}
    report(
        "ray_sweep",
        {
            "model": f"random RWKV-6, {args.blocks} blocks x {args.hidden}, every hidden state",
            "tasks": "MRPCZeroShot validation + test (4,256 sentences, 4,114 distinct)",
            "cpus": os.cpu_count(),
            "ray_init_seconds": ray_start,
            "seconds_all": seconds,
            "seconds_best_of": best,
            "speedup_ray_2_workers": best["local"] / best["ray_2_workers"],
            "overhead_ray_1_worker": best["ray_1_worker"] / best["local"] - 1,
            "local_1_thread_over_local": best["local_1_thread"] / best["local"],
            "goal": ">= 1.6x with two workers; <= 10% overhead with one",
        },
    )


if __name__ == "__main__":
    main()
