"""Peak resident memory of `rwkv-mteb sweep` as the number of sentences grows (1x, 4x, 16x), same model.

A local-only pair task is written with N x m distinct pairs (MRPC validation sentences, numbered copies), and
each sweep runs in a fresh process under /usr/bin/time, which reports the process's maximum resident set size.
Goal (issue "close to the machine"): peak RSS flat within 10% from 1x to 16x.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import SHARED_DATA, report

TASK = """name = "SweepMemoryPairs"
description = "MRPC validation pairs, numbered copies: a benchmark of the sweep's memory."
eval_splits = ["test"]
[score]
min = 0
max = 1
[local]
folder = "sweep_memory"
columns = {{ sentence1 = "s1", sentence2 = "s2", score = "label" }}
[splits.test]
rows = {rows}
"""


def write_task(root: Path, copies: int) -> Path:
    with (SHARED_DATA / "mrpc" / "validation.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    (root / "tasks").mkdir(parents=True)
    (root / "data" / "sweep_memory").mkdir(parents=True)
    lines = ["label\ts1\ts2"]
    for copy in range(copies):
        lines += [f"{r[0]}\t{r[3]} ({copy})\t{r[4]} ({copy})" for r in rows]
    (root / "data" / "sweep_memory" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "tasks" / "SweepMemoryPairs.toml").write_text(TASK.format(rows=len(lines) - 1))
    return root


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()
    from rwkv_mteb.rwkv.checkpoint import make_checkpoint

    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = make_checkpoint(Path(tmp) / "ckpt", layers=args.blocks, hidden=args.hidden, seed=0)
        for copies in args.copies:
            root = write_task(Path(tmp) / f"x{copies}", copies)
            env = {
                **os.environ,
                "RWKV_MTEB_TASKS_DIR": str(root / "tasks"),
                "RWKV_MTEB_DATA_DIR": str(root / "data"),
                "RWKV_MTEB_MODEL_PATHS": f"RWKV/v6-Finch-1B6-HF={checkpoint}",
                "RWKV_MTEB_CACHE_DIR": str(root / "cache"),
                "HF_HUB_OFFLINE": "1",
            }
            command = [str(Path(sys.executable).parent / "rwkv-mteb"), "sweep", "-m", "RWKV/v6-Finch-1B6-HF"]
            command += ["-t", "SweepMemoryPairs", "--output-folder", str(root / "out")]
            start = time.perf_counter()
            proc = subprocess.run(["/usr/bin/time", "-f", "%M", *command], env=env, capture_output=True, text=True)
            if proc.returncode:
                raise SystemExit(proc.stderr[-3000:])
            peak_kb = int(proc.stderr.strip().splitlines()[-1])
            runs[f"{copies}x"] = {
                "sentences": 2 * 408 * copies,
                "peak_rss_mb": round(peak_kb / 1024, 1),
                "seconds": round(time.perf_counter() - start, 1),
            }
            print(copies, runs[f"{copies}x"], flush=True)
    base = runs[f"{args.copies[0]}x"]["peak_rss_mb"]
    report(
        "sweep_memory",
        {
            "model": f"random RWKV-6, {args.blocks} blocks x {args.hidden}",
            "runs": runs,
            "peak_rss_over_smallest": {k: round(v["peak_rss_mb"] / base, 3) for k, v in runs.items()},
        },
    )


if __name__ == "__main__":
    main()
