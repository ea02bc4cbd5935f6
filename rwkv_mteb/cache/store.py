"""An on-disk cache of pooled sentence vectors, all layers of a text at once.

One SQLite file per backbone identity (a digest of every byte of the checkpoint's files, plus the dtype); a row
per (method, text) holds the pooled vectors of the layers that pass computed: by default every layer up to the
deepest requested one, so that a layer sweep fills it in one pass and a later run of any shallower layer (a plain
``mteb run`` of another layer variant included) reads it instead of running the model; or only the requested
layers (``RWKV_MTEB_CACHE_LAYERS=requested``), a fraction of the bytes. Each batch is committed on its own, so an
interrupted sweep resumes where it stopped.

The cache is bounded and inspectable: every row records its method and when it was last used; the file records
which model it belongs to (table ``about``); with ``RWKV_MTEB_CACHE_MAX`` set, the least recently used rows of all
files are evicted once the folder holds more (:mod:`rwkv_mteb.cache.folder`, ``rwkv-mteb cache``). Vectors are
stored exactly (float32), never compressed. The row format is :mod:`rwkv_mteb.cache.schema`.

The cache must never change a score. Every row carries a checksum of its key, shape and bytes, and only finite
vectors are stored; a row that fails its checksum (or holds a non-finite value) is deleted, named in a warning
and recomputed. A file SQLite cannot read (garbage header, cut short) is moved aside as
``<name>.corrupt-<time>`` and rebuilt, with a warning naming both files.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from rwkv_mteb.cache import schema
from rwkv_mteb.cache.folder import enforce_limit
from rwkv_mteb.config import cache_dir, cache_max_bytes

logger = logging.getLogger(__name__)
T = TypeVar("T")


class VectorCache:
    def __init__(self, path: Path, about: dict[str, str] | None = None, max_bytes: int | None = None) -> None:
        """``about``: what the file belongs to (model, source, dtype, ...), shown by ``rwkv-mteb cache``;
        ``max_bytes``: the limit on the whole cache folder, enforced after each write (None: unbounded)."""
        self.path = path
        self.memory = str(path) == ":memory:"
        if not self.memory:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.rejected_rows = 0  # rows that failed their checksum and were recomputed
        self.about = dict(about or {})
        self.max_bytes = max_bytes
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
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect in a new file: evictions can shrink it
            if not self.memory:
                db.execute("PRAGMA journal_mode=WAL")
            columns = [row[1] for row in db.execute("PRAGMA table_info(vectors)")]
            if columns == schema.FIRST_COLUMNS:
                for column in schema.ADDED_COLUMNS:
                    db.execute(f"ALTER TABLE vectors ADD COLUMN {column}")
            for statement in schema.SCHEMA:
                db.execute(statement)
            columns = [row[1] for row in db.execute("PRAGMA table_info(vectors)")]
            if columns != schema.COLUMNS:
                raise sqlite3.DatabaseError(f"table 'vectors' has columns {columns}, expected {schema.COLUMNS}")
            db.executemany("INSERT OR REPLACE INTO about VALUES (?, ?)", sorted(self.about.items()))
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

    key = staticmethod(schema.key)

    def get(self, keys: list[str], layers: list[int]) -> dict[str, np.ndarray]:
        """Vectors (len(layers), dim) of the requested layers, for the keys whose row holds all of them and
        passes its checks; the rows served are marked as used now."""

        def read(db: sqlite3.Connection) -> dict[str, np.ndarray]:
            found: dict[str, np.ndarray] = {}
            bad: list[str] = []
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                rows = db.execute(
                    "SELECT key, layers, dim, data, checksum, layer_ids FROM vectors "
                    f"WHERE key IN ({','.join('?' * len(part))})",
                    part,
                ).fetchall()
                for row in rows:
                    decoded = schema.decode_row(*row)
                    if decoded is None:
                        bad.append(row[0])
                        continue
                    vectors, have = decoded
                    if set(layers) <= set(have):  # else a row of other layers: recomputed (and replaced) by the caller
                        found[row[0]] = vectors[[have.index(layer) for layer in layers]]
            if bad:
                db.executemany("DELETE FROM vectors WHERE key = ?", [(k,) for k in bad])
                self.rejected_rows += len(bad)
                logger.warning(
                    "vector cache %s: %d row(s) failed their checksum and were deleted; they are recomputed",
                    self.path,
                    len(bad),
                )
            if found:
                db.executemany("UPDATE vectors SET used = ? WHERE key = ?", [(time.time(), k) for k in found])
            db.commit()
            return found

        return self._guarded(read, {})

    def put(self, items: dict[str, np.ndarray], method: str, layer_ids: list[int] | None = None) -> None:
        """Rows (len(layer_ids), dim) made by ``method``; ``layer_ids`` None: layers 0..n-1."""
        now = time.time()
        encoded = (schema.encode_row(key, value, layer_ids) for key, value in items.items())
        rows = [(*row[:5], method, row[5], now) for row in encoded if row is not None]

        def write(db: sqlite3.Connection) -> None:
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            db.commit()

        self._guarded(write, None, retry=True)
        if self.max_bytes is not None and not self.memory:
            enforce_limit(self.path.parent, self.max_bytes)

    def __len__(self) -> int:
        return self._guarded(lambda db: db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0], 0)


class BackboneCaches:
    """The vector cache of a backbone in its current weights and dtype, opened on first use and shared by every
    view of the same backbone (casting the model switches to another file). ``enabled`` False: no disk cache;
    a given ``VectorCache`` (e.g. an in-memory one for a sweep with the disk cache off) is used as it is."""

    def __init__(self, enabled: bool | VectorCache = True) -> None:
        self.enabled = enabled
        self._open: dict[str, VectorCache] = {}

    def for_backbone(self, backbone: Any, model_id: str | None) -> VectorCache | None:
        if isinstance(self.enabled, VectorCache):
            return self.enabled
        if not self.enabled:
            return None
        name = backbone.cache_name()
        if name not in self._open:
            about = {
                "model": model_id or str(backbone.source),
                "source": str(backbone.source),
                "family": backbone.family,
                "dtype": backbone.dtype,
                "revision": backbone.revision,
            }
            path = cache_dir() / "vectors" / f"{name}.sqlite"
            self._open[name] = VectorCache(path, about=about, max_bytes=cache_max_bytes())
        return self._open[name]
