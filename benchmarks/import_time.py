"""What rwkv-mteb adds to every ``import mteb`` (the autoload hook registers our tasks and models) and to
``rwkv-mteb --help``, in fresh processes, alternated so that drift hits both sides alike.

Goals (issue "the house"): ``import mteb`` with rwkv-mteb within 0.3 s of ``import mteb`` without it;
``rwkv-mteb --help`` under 1 s plus mteb's own import.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import report

BIN = Path(sys.executable).parent


def timed(command: list[str], autoload: str) -> float:
    env = {**os.environ, "RWKV_MTEB_AUTOLOAD": autoload}
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    import_mteb = [sys.executable, "-c", "import mteb"]
    registered = [
        sys.executable,
        "-c",
        "import mteb, sys; assert mteb.get_task('MRPCZeroShot'); assert 'torch' not in sys.modules",
    ]
    times: dict[str, list[float]] = {"without": [], "with": [], "help": []}
    timed(import_mteb, "1")  # warm the file cache
    for _ in range(args.rounds):
        times["without"].append(timed(import_mteb, "0"))
        times["with"].append(timed(registered, "1"))
        times["help"].append(timed([str(BIN / "rwkv-mteb"), "--help"], "1"))
    median = {k: statistics.median(v) for k, v in times.items()}
    report(
        "import_time",
        {
            "rounds": args.rounds,
            "import_mteb_without_rwkv_mteb_s": round(median["without"], 3),
            "import_mteb_with_rwkv_mteb_s": round(median["with"], 3),
            "added_by_registration_s": round(median["with"] - median["without"], 3),
            "rwkv_mteb_help_s": round(median["help"], 3),
            "help_minus_import_mteb_s": round(median["help"] - median["without"], 3),
            "all_times_s": {k: [round(t, 3) for t in v] for k, v in times.items()},
        },
    )


if __name__ == "__main__":
    main()
