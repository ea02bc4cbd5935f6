"""An on-disk cache of pooled sentence vectors, all layers of a text at once.

One SQLite file per backbone identity (a digest of every byte of the checkpoint's files, plus the dtype); a row
per (method, text) holds the pooled vectors of layers 0..n-1. A layer sweep fills it in one pass; a later run of
any layer up to n-1 (a plain ``mteb run`` of another layer variant included) reads it instead of running the
model. Each batch is committed on its own, so an interrupted sweep resumes where it stopped.

The cache must never change a score. Every row carries a checksum of its key, shape and bytes, and only finite
vectors are stored; a row that fails its checksum (or holds a non-finite value) is deleted, named in a warning
and recomputed. A file SQLite cannot read (garbage header, cut short) is moved aside as
``<name>.corrupt-<time>`` and rebuilt, with a warning naming both files.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

logger = logging.getLogger(__name__)
T = TypeVar("T")
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, layers INTEGER, dim INTEGER, data BLOB, checksum TEXT)"
)
COLUMNS = ["key", "layers", "dim", "data", "checksum"]


def row_checksum(key: str, layers: int, dim: int, data: bytes) -> str:
    return hashlib.blake2b(f"{key}\0{layers}\0{dim}\0".encode() + data, digest_size=16).hexdigest()


class VectorCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.memory = str(path) == ":memory:"
        if not self.memory:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.rejected_rows = 0  # rows that failed their checksum and were recomputed
        self._db = self._open()

    # ------------------------------------------------------------------ opening and recovering

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            self._quarantine(exc)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=60)
        try:
            if not self.memory:
                db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA)
            columns = [row[1] for row in db.execute("PRAGMA table_info(vectors)")]
            if columns != COLUMNS:
                raise sqlite3.DatabaseError(f"table 'vectors' has columns {columns}, expected {COLUMNS}")
            db.commit()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _quarantine(self, exc: Exception) -> None:
        """Move an unreadable cache file aside (never delete what a user may want to inspect) and start anew."""
        if self.memory:
            raise exc
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                part.replace(Path(f"{target}{suffix}"))
        logger.warning(
            "vector cache %s is corrupt (%s: %s); moved it to %s and rebuilding it (vectors are recomputed)",
            self.path,
            type(exc).__name__,
            exc,
            target,
        )

    def _guarded(self, operation: Callable[[sqlite3.Connection], T], fallback: T, retry: bool = False) -> T:
        """Run a database operation; if the file turns out to be corrupt, quarantine it, start a new one, and
        return ``fallback`` (a read finds nothing) or run the operation again (a write goes to the new file)."""
        with self._lock:
            try:
                return operation(self._db)
            except sqlite3.DatabaseError as exc:
                self._db.close()
                self._quarantine(exc)
                self._db = self._connect()
                return operation(self._db) if retry else fallback

    # ------------------------------------------------------------------ the interface

    @staticmethod
    def key(method: str, text: str) -> str:
        """``method`` names how the vectors were made (pooling, prompt, ...); the model is the file itself."""
        return hashlib.sha256(f"{method}\0{text}".encode()).hexdigest()

    def get(self, keys: list[str], min_layers: int) -> dict[str, np.ndarray]:
        """Vectors (layers, dim) for the keys that hold at least ``min_layers`` layers and pass their checks."""

        def read(db: sqlite3.Connection) -> dict[str, np.ndarray]:
            found: dict[str, np.ndarray] = {}
            bad: list[str] = []
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                rows = db.execute(
                    f"SELECT key, layers, dim, data, checksum FROM vectors WHERE key IN ({','.join('?' * len(part))})",
                    part,
                ).fetchall()
                for key, layers, dim, data, checksum in rows:
                    if layers < min_layers:
                        continue
                    ok = (
                        isinstance(data, bytes)
                        and len(data) == 4 * layers * dim
                        and checksum == row_checksum(key, layers, dim, data)
                    )
                    vectors = np.frombuffer(data, dtype=np.float32).reshape(layers, dim) if ok else None
                    if vectors is None or not np.isfinite(vectors).all():
                        bad.append(key)
                        continue
                    found[key] = vectors
            if bad:
                db.executemany("DELETE FROM vectors WHERE key = ?", [(k,) for k in bad])
                db.commit()
                self.rejected_rows += len(bad)
                logger.warning(
                    "vector cache %s: %d row(s) failed their checksum and were deleted; they are recomputed",
                    self.path,
                    len(bad),
                )
            return found

        return self._guarded(read, {})

    def put(self, items: dict[str, np.ndarray]) -> None:
        rows = []
        for key, value in items.items():
            array = np.ascontiguousarray(value, dtype=np.float32)
            if not np.isfinite(array).all():
                continue  # never store what could not be served
            data = array.tobytes()
            rows.append((key, array.shape[0], array.shape[1], data, row_checksum(key, *array.shape, data)))

        def write(db: sqlite3.Connection) -> None:
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?)", rows)
            db.commit()

        self._guarded(write, None, retry=True)

    def __len__(self) -> int:
        return self._guarded(lambda db: db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0], 0)
