"""What trust costs: the content digest of a 1.6B-shape checkpoint (first time, and memoised), and the overhead
of the vector cache's integrity checks (row checksums, finiteness) on a sweep's pass over real sentences.

Goals (issue "numbers you can trust"): digest of 6.4 GB under 10 s on this machine's disk, memoised reruns under
50 ms, sweep overhead of the integrity checks under 2%.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import mrpc_sentences, report

DIGEST = """
import json, sys, time
from pathlib import Path
from rwkv_mteb.provenance.identity import content_digest
files = [Path(f) for f in sys.argv[1:]]
start = time.perf_counter()
digest = content_digest(files)
print(json.dumps({"seconds": time.perf_counter() - start, "digest": digest}))
"""


def drop_page_cache() -> bool:
    """So that the first digest reads from the disk, not from memory (root only; ignored elsewhere)."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def digest_cost(folder: Path) -> dict:
    from rwkv_mteb.rwkv.checkpoint import make_checkpoint

    if not (folder / "model.safetensors").is_file():
        make_checkpoint(folder, layers=24, hidden=2048, seed=0)
    files = [folder / "model.safetensors", folder / "config.json", folder / "rwkv_vocab_v20230424.txt"]
    size = sum(f.stat().st_size for f in files)
    with tempfile.TemporaryDirectory() as memo:
        env = {**os.environ, "RWKV_MTEB_CACHE_DIR": memo}

        def timed() -> dict:
            out = subprocess.run(
                [sys.executable, "-c", DIGEST, *map(str, files)], env=env, capture_output=True, text=True, check=True
            )
            return json.loads(out.stdout.strip().splitlines()[-1])

        cold = drop_page_cache()
        first = timed()
        memoised = [timed() for _ in range(5)]
    assert all(m["digest"] == first["digest"] for m in memoised)
    return {
        "checkpoint_bytes": size,
        "page_cache_dropped_before_first": cold,
        "first_seconds": round(first["seconds"], 3),
        "first_gb_per_second": round(size / first["seconds"] / 1e9, 2),
        "memoised_seconds_best_of_5": round(min(m["seconds"] for m in memoised), 4),
    }


class UncheckedCache:
    """The cache as it was before integrity checks (no checksum, no finiteness test): the baseline."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE vectors (key TEXT PRIMARY KEY, layers INTEGER, dim INTEGER, data BLOB)")

    def get(self, keys: list[str], layers: list[int]) -> dict[str, np.ndarray]:
        rows = self._db.execute(
            f"SELECT key, layers, dim, data FROM vectors WHERE key IN ({','.join('?' * len(keys))})", keys
        ).fetchall()
        return {k: np.frombuffer(d, dtype=np.float32).reshape(n, c)[layers] for k, n, c, d in rows if n > max(layers)}

    def put(self, items: dict[str, np.ndarray], method: str, layer_ids: list[int] | None = None) -> None:
        rows = [
            (k, v.shape[0], v.shape[1], np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in items.items()
        ]
        self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
        self._db.commit()


def sweep_overhead(blocks: int, hidden: int, sentences: int, rounds: int) -> dict:
    from rwkv_mteb.backbones import NativeRwkv
    from rwkv_mteb.cache.store import VectorCache
    from rwkv_mteb.layerwise.encoder import LayerwiseEncoder
    from rwkv_mteb.rwkv.checkpoint_rwkv6 import random_state_dict
    from rwkv_mteb.rwkv.modeling_rwkv6 import Rwkv6Config, Rwkv6Model

    config = Rwkv6Config(vocab_size=65536, hidden_size=hidden, num_hidden_layers=blocks, attention_hidden_size=hidden)
    model = Rwkv6Model(config, with_head=False)
    model.load_state_dict({k: v for k, v in random_state_dict(config).items() if k != "head.weight"})
    backbone = NativeRwkv.from_model(model.eval())
    texts = sorted(dict.fromkeys(mrpc_sentences()), key=len, reverse=True)[:sentences]
    layers = list(range(backbone.num_hidden_states))

    def one_pass(cache) -> tuple[float, float]:  # type: ignore[no-untyped-def]
        encoder = LayerwiseEncoder(backbone, layers, cache=cache)
        start = time.perf_counter()
        for i in range(0, len(texts), 32):
            encoder.pooled_layers(texts[i : i + 32])  # the sweep's pass: every row computed and stored
        fill = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(0, len(texts), 32):
            encoder.pooled_layers(texts[i : i + 32])  # a later run: every row read back
        return fill, time.perf_counter() - start

    checked, unchecked = [], []
    with tempfile.TemporaryDirectory() as tmp:
        one_pass(UncheckedCache(Path(tmp) / "warmup.sqlite"))
        for r in range(rounds):  # alternate, so that drift of the machine hits both sides alike
            checked.append(one_pass(VectorCache(Path(tmp) / f"checked{r}.sqlite")))
            unchecked.append(one_pass(UncheckedCache(Path(tmp) / f"unchecked{r}.sqlite")))
    fill_on, read_on = (min(x[i] for x in checked) for i in (0, 1))
    fill_off, read_off = (min(x[i] for x in unchecked) for i in (0, 1))

    # the checks on one row of the 1.6B model (25 hidden states x 2048), in isolation
    from rwkv_mteb.cache.schema import row_checksum

    row = np.random.default_rng(0).standard_normal((25, 2048)).astype(np.float32)
    data = row.tobytes()
    start = time.perf_counter()
    for _ in range(1000):
        row_checksum("k" * 64, 25, 2048, data)
        np.isfinite(np.frombuffer(data, dtype=np.float32)).all()
    per_row = (time.perf_counter() - start) / 1000
    return {
        "model": f"{blocks} blocks x {hidden}, {backbone.num_hidden_states} hidden states cached per sentence",
        "sentences": len(texts),
        "sweep_pass_seconds_checked": round(fill_on, 3),
        "sweep_pass_seconds_unchecked": round(fill_off, 3),
        "sweep_pass_overhead": round(fill_on / fill_off - 1, 4),
        "cached_read_seconds_checked": round(read_on, 4),
        "cached_read_seconds_unchecked": round(read_off, 4),
        "checks_per_row_seconds_1b6_shape": per_row,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default="/tmp/rwkv-mteb-1b6-random", help="where the 1.6B-shape checkpoint lives")
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["sweep", "digest"], help="rerun one part, keep the other's last figures")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    previous = Path(__file__).parent / "results" / "trust_costs.json"
    data = {k: v for k, v in json.loads(previous.read_text()).items() if k in ("sweep", "digest")} if args.only else {}
    if args.only in (None, "sweep"):
        data["sweep"] = sweep_overhead(args.blocks, args.hidden, args.sentences, args.rounds)
    if args.only in (None, "digest"):
        data["digest"] = digest_cost(Path(args.dir))
    report("trust_costs", data)


if __name__ == "__main__":
    main()
