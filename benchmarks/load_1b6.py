"""The 1.6B shape (24 blocks x 2048, random weights) loads on the CPU in fp32 within 8 GB of resident memory.

Writes the random checkpoint once (about 6.9 GB, in --dir), then loads it in a fresh process and reports that
process's peak resident memory (ru_maxrss) and load time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _common import report

LOADER = """
import json, re, sys, time
from pathlib import Path
start = time.perf_counter()
from rwkv_mteb.rwkv.checkpoint import load_rwkv
model = load_rwkv(sys.argv[1])
seconds = time.perf_counter() - start
params = sum(p.numel() for p in model.parameters())
# VmHWM is this process image's own peak; ru_maxrss would include the forking parent's (it survives exec)
peak = int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024
print(json.dumps({"load_seconds": seconds, "parameters_loaded": params, "peak_rss_mb": peak}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default="/tmp/rwkv-mteb-1b6-random")
    args = parser.parse_args()
    folder = Path(args.dir)
    if not (folder / "model.safetensors").is_file():
        from rwkv_mteb.rwkv.checkpoint import make_checkpoint

        start = time.perf_counter()
        make_checkpoint(folder, layers=24, hidden=2048, seed=0)
        print(f"checkpoint written in {time.perf_counter() - start:.0f} s", flush=True)
    out = subprocess.run([sys.executable, "-c", LOADER, str(folder)], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    size = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
    report(
        "load_1b6",
        {
            "blocks": 24,
            "hidden": 2048,
            "checkpoint_bytes": size,
            **result,
            "within_8_gb": result["peak_rss_mb"] <= 8192,
            "goal": "peak resident memory <= 8 GB (fp32, CPU)",
            "note": "the head (vocab x hidden) is not loaded: embeddings never need it",
        },
    )


if __name__ == "__main__":
    main()
