"""An on-disk cache of pooled sentence vectors, all layers of a text at once.

One SQLite file per backbone fingerprint (model, revision, weights, dtype); a row per (pooling, text) holds
the pooled vectors of layers 0..n-1. A layer sweep fills it in one pass; a later run of any layer up to n-1
(a plain ``mteb run`` of another layer variant included) reads it instead of running the model. Each batch
is committed on its own, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import numpy as np


class VectorCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, layers INTEGER, dim INTEGER, data BLOB)"
        )
        self._db.commit()

    @staticmethod
    def key(pooling: str, text: str) -> str:
        return hashlib.sha256(f"{pooling}\0{text}".encode()).hexdigest()

    def get(self, keys: list[str], min_layers: int) -> dict[str, np.ndarray]:
        """Vectors (layers, dim) for the keys that hold at least ``min_layers`` layers."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                rows = self._db.execute(
                    f"SELECT key, layers, dim, data FROM vectors WHERE key IN ({','.join('?' * len(part))})",
                    part,
                ).fetchall()
                for key, layers, dim, data in rows:
                    if layers >= min_layers:
                        found[key] = np.frombuffer(data, dtype=np.float32).reshape(layers, dim)
        return found

    def put(self, items: dict[str, np.ndarray]) -> None:
        rows = [
            (k, v.shape[0], v.shape[1], np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in items.items()
        ]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
