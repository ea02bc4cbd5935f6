"""The vector cache folder as a whole: what it holds (per model and method, with sizes), removing entries, and
keeping it under a size limit by evicting the least recently used rows of all its files.

Sizes are the bytes SQLite has in use (pages minus free pages), which is what a file shrinks to once its free
pages are given back; new files give them back as rows are evicted (incremental auto-vacuum), and ``remove``
rewrites a file it shrank.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from rwkv_mteb.cache.schema import decode_row
from rwkv_mteb.errors import RwkvMtebError

logger = logging.getLogger(__name__)
EVICT_BATCH = 256  # rows deleted per step of the eviction merge


@dataclass
class MethodUsage:
    method: str
    rows: int
    bytes: int  # the vectors themselves
    last_used: float | None


@dataclass
class CacheFile:
    """One cache file: the vectors of one model (checkpoint content and dtype)."""

    path: Path
    about: dict[str, str]
    in_use_bytes: int
    file_bytes: int
    methods: list[MethodUsage] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def rows(self) -> int:
        return sum(m.rows for m in self.methods)


def cache_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.sqlite")) if folder.is_dir() else []


def _disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def _in_use(db: sqlite3.Connection) -> int:
    pages = db.execute("PRAGMA page_count").fetchone()[0] - db.execute("PRAGMA freelist_count").fetchone()[0]
    return pages * db.execute("PRAGMA page_size").fetchone()[0]


def _columns(db: sqlite3.Connection) -> list[str]:
    return [row[1] for row in db.execute("PRAGMA table_info(vectors)")]


def read_entry(path: Path) -> CacheFile:
    """What one file holds, read without changing it."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        try:
            columns = _columns(db)
            about = dict(db.execute("SELECT name, value FROM about")) if "method" in columns else {}
            method = "method" if "method" in columns else "NULL"
            used = "MAX(used)" if "used" in columns else "NULL"
            rows = db.execute(
                f"SELECT {method}, COUNT(*), SUM(length(data)), {used} FROM vectors GROUP BY 1 ORDER BY 1"
            ).fetchall()
            methods = [MethodUsage(m or "(unrecorded)", n, int(b or 0), u or None) for m, n, b, u in rows]
            return CacheFile(path, about, _in_use(db), _disk_bytes(path), methods)
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise RwkvMtebError(
            f"vector cache file {path} cannot be read ({exc}); remove it with `rwkv-mteb cache remove {path.stem}`"
        ) from None


def list_entries(folder: Path) -> list[CacheFile]:
    return [read_entry(path) for path in cache_files(folder)]


def find_entries(folder: Path, selector: str) -> list[CacheFile]:
    """Entries named by ``selector``: a file name or its unique start (as ``rwkv-mteb cache`` lists them), or a
    model name (every dtype of that model)."""
    entries = list_entries(folder)
    by_model = [e for e in entries if e.about.get("model") == selector]
    if by_model:
        return by_model
    by_name = [e for e in entries if e.name.startswith(selector)]
    if len(by_name) == 1 or (by_name and len(selector) >= 32):
        return by_name
    known = ", ".join(sorted({e.about.get("model", e.name) for e in entries})) or "none"
    problem = f"{len(by_name)} cache files start with {selector!r}" if by_name else f"no cache entry {selector!r}"
    raise RwkvMtebError(
        f"{problem} in {folder}; name one by its file name (as `rwkv-mteb cache list` shows) or its model "
        f"(cached models: {known})"
    )


def verify(entry: CacheFile) -> tuple[int, int]:
    """(rows checked, rows failing their checksum or holding a non-finite value), read-only."""
    db = sqlite3.connect(f"file:{entry.path}?mode=ro", uri=True, timeout=60)
    checked = bad = 0
    try:
        layer_ids = "layer_ids" if "layer_ids" in _columns(db) else "NULL"
        for key, count, dim, data, checksum, ids in db.execute(
            f"SELECT key, layers, dim, data, checksum, {layer_ids} FROM vectors"
        ):
            checked += 1
            bad += decode_row(key, count, dim, data, checksum, ids) is None
    finally:
        db.close()
    return checked, bad


def remove(entry: CacheFile, method: str | None = None) -> int:
    """Delete a whole file (with its WAL), or only the rows of one method; returns the rows removed."""
    if method is None:
        for part in (entry.path, Path(f"{entry.path}-wal"), Path(f"{entry.path}-shm")):
            part.unlink(missing_ok=True)
        return entry.rows
    db = sqlite3.connect(str(entry.path), timeout=60)
    try:
        removed = db.execute("DELETE FROM vectors WHERE method = ?", (method,)).rowcount
        db.commit()
        db.execute("VACUUM")  # give the space back now
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return removed


def enforce_limit(folder: Path, max_bytes: int) -> int:
    """Evict the least recently used rows, across every file of ``folder``, until it holds at most ``max_bytes``;
    returns the rows evicted. Cheap when under the limit (the files' sizes on disk bound what they hold)."""
    files = cache_files(folder)
    if sum(_disk_bytes(f) for f in files) <= max_bytes:
        return 0
    dbs = {f: sqlite3.connect(str(f), timeout=60) for f in files}
    evicted = 0
    try:
        dbs = {f: db for f, db in dbs.items() if "used" in _columns(db) or db.close()}  # legacy files: not timed
        held = {f: _in_use(db) for f, db in dbs.items()}
        while sum(held.values()) > max_bytes:
            # a merge over the files by last use: take the oldest rows of the file whose oldest row is oldest,
            # but none newer than the oldest row of any other file
            oldest = sorted(
                (t, str(f))
                for f, db in dbs.items()
                if (t := db.execute("SELECT MIN(used) FROM vectors").fetchone()[0]) is not None
            )
            if not oldest:
                break
            path = Path(oldest[0][1])
            bound = oldest[1][0] if len(oldest) > 1 else float("inf")
            db = dbs[path]
            rows = db.execute(
                "SELECT key, length(data) FROM vectors WHERE used <= ? ORDER BY used LIMIT ?", (bound, EVICT_BATCH)
            ).fetchall()
            excess, take = sum(held.values()) - max_bytes, []
            for key, size in rows:
                take.append((key,))
                excess -= size
                if excess <= 0:
                    break
            if not take:
                break
            db.executemany("DELETE FROM vectors WHERE key = ?", take)
            db.commit()
            evicted += len(take)
            held[path] = _in_use(db)
        for db in dbs.values():
            db.executescript("PRAGMA incremental_vacuum;")  # execute() would free one page per call
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        for db in dbs.values():
            db.close()
    if evicted:
        logger.info(
            "vector cache %s: evicted %d least recently used row(s) to stay under %d bytes", folder, evicted, max_bytes
        )
    return evicted
