"""What the vector cache costs on disk and in time at the 1.6B shape (25 hidden states x 2048, float32, exact):
bytes per sentence with every layer stored (the default: any layer variant is then served) and with only one
requested layer (RWKV_MTEB_CACHE_LAYERS=requested); the time to write and read a batch of 32 rows; and the same
writes under a size limit that keeps evicting (RWKV_MTEB_CACHE_MAX at half the data).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import report

from rwkv_mteb.cache import folder as cache_folder
from rwkv_mteb.cache.store import VectorCache


def fill(folder: Path, rows: np.ndarray, layer_ids: list[int], max_bytes: int | None = None) -> dict:
    cache = VectorCache(folder / "model.sqlite", about={"model": "bench"}, max_bytes=max_bytes)
    keys = [VectorCache.key("mean", f"sentence {i}") for i in range(len(rows))]
    start = time.perf_counter()
    for i in range(0, len(rows), 32):
        cache.put(dict(zip(keys[i : i + 32], rows[i : i + 32], strict=True)), "mean", layer_ids)
    write = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(0, len(rows), 32):
        cache.get(keys[i : i + 32], layer_ids[-1:])
    read = time.perf_counter() - start
    (entry,) = cache_folder.list_entries(folder)
    return {
        "sentences_written": len(rows),
        "sentences_held": entry.rows,
        "bytes_per_sentence_vectors": entry.methods[0].bytes / entry.rows,
        "bytes_per_sentence_held": entry.in_use_bytes / entry.rows,
        "bytes_per_sentence_on_disk": entry.file_bytes / entry.rows,
        "held_bytes": entry.in_use_bytes,
        "write_ms_per_batch_of_32": 1000 * write / (len(rows) / 32),
        "read_ms_per_batch_of_32": 1000 * read / (len(rows) / 32),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sentences", type=int, default=1024)
    parser.add_argument("--hidden-states", type=int, default=25)
    parser.add_argument("--width", type=int, default=2048)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((args.sentences, args.hidden_states, args.width), dtype=np.float32)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["every_layer"] = fill(Path(tmp) / "all", rows, list(range(args.hidden_states)))
        results["one_requested_layer"] = fill(Path(tmp) / "one", rows[:, 12:13], [12])
        limit = results["every_layer"]["held_bytes"] // 2
        results["every_layer_under_a_limit_of_half"] = {
            "limit_bytes": limit,
            **fill(Path(tmp) / "limited", rows, list(range(args.hidden_states)), max_bytes=limit),
        }
    evicting = results["every_layer_under_a_limit_of_half"]
    report(
        "cache_size",
        {
            "shape": f"{args.hidden_states} hidden states x {args.width}, float32",
            **results,
            "eviction_write_cost_ratio": evicting["write_ms_per_batch_of_32"]
            / results["every_layer"]["write_ms_per_batch_of_32"],
            "limit_respected": evicting["held_bytes"] <= evicting["limit_bytes"],
        },
    )


if __name__ == "__main__":
    main()
