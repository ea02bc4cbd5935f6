"""What produced a result: the checkpoint, as a digest of every byte of its files, so that nothing cached or
published can be attributed to the wrong weights; and the process (``worker_label``) that ran the model.

A file's digest is sha256 over its whole content, streamed. It is memoised in ``$RWKV_MTEB_CACHE_DIR/digests.json``
under the file's path, size, modification and change times (nanoseconds), inode and device: any write to the
file (even one that keeps its size, or an mtime reset with ``touch -r``, which cannot reset the change time)
gives a new key and the digest is computed again. A checkpoint's identity combines the digests of its files
with their names.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rwkv_mteb.config import WORKER_VAR, cache_dir
from rwkv_mteb.errors import CorruptFileError
from rwkv_mteb.provenance.sidecars import atomic_write_json, locked, read_json

logger = logging.getLogger(__name__)
MEMO_FILE = "digests.json"
_memo_lock = threading.Lock()


def _stat_key(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}:{st.st_dev}"


def _read_memo(memo_path: Path) -> dict[str, dict[str, str]]:
    if not memo_path.is_file():
        return {}
    try:
        memo = read_json(memo_path, "digest memo", "it is rebuilt")
    except CorruptFileError as exc:
        logger.warning("%s", exc)
        return {}
    return memo if isinstance(memo, dict) else {}


def _sha256(path: Path, block: int = 16 << 20) -> str:
    """Stream the file through sha256, reading the next block while the current one is hashed (both release
    the GIL), so a cold read from disk and the hashing overlap instead of adding up."""
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as handle, ThreadPoolExecutor(1) as reader:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        pending = reader.submit(handle.read, block)
        while chunk := pending.result():
            pending = reader.submit(handle.read, block)
            digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: Path, memo: bool = True) -> str:
    """sha256 of the whole file (hex), computed once per version of the file."""
    path = Path(path).resolve()
    key = _stat_key(path)
    memo_path = cache_dir() / MEMO_FILE
    if memo:
        entry = _read_memo(memo_path).get(str(path))
        if isinstance(entry, dict) and entry.get("stat") == key and isinstance(entry.get("sha256"), str):
            return entry["sha256"]
    digest = _sha256(path)
    if _stat_key(path) != key:  # written to while we read it: do not remember a digest of a moving target
        return file_digest(path, memo=False)
    if memo:
        with _memo_lock, locked(memo_path):
            entries = _read_memo(memo_path)
            entries[str(path)] = {"stat": key, "sha256": digest}
            atomic_write_json(memo_path, entries)
    return digest


def content_digest(files: Iterable[Path], root: Path | None = None) -> str:
    """One digest for a set of files: their names (relative to ``root``) and contents, in a fixed order."""
    parts = []
    for file in files:
        file = Path(file)
        name = file.relative_to(root).as_posix() if root is not None else file.name
        parts.append(f"{name}\0{file_digest(file)}")
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()


def folder_files(folder: Path) -> list[Path]:
    """Every regular file under ``folder``, hidden files and folders excluded."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def path_digest(path: Path) -> str:
    """The identity of a local model: a single file, or every file of a folder."""
    path = Path(path)
    if path.is_dir():
        return content_digest(folder_files(path), root=path)
    return content_digest([path])


def state_dict_digest(state: dict) -> str:  # type: ignore[type-arg]
    """The identity of weights held in memory: names, dtypes, shapes and bytes of every tensor."""
    import torch

    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def revision_of(digest: str) -> str:
    """How a content digest appears as an MTEB revision (a folder name in the result layout)."""
    return f"sha256-{digest[:32]}"


def hub_commit(path: Path) -> str | None:
    """The commit of a Hugging Face hub snapshot folder (``.../models--org--name/snapshots/<commit>``)."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        return folder.name
    return None


def worker_label(device: str | None = None) -> str:
    """Which process (and device) did the work: a Ray worker's label (``RWKV_MTEB_WORKER``), else host:pid."""
    label = os.environ.get(WORKER_VAR) or f"{socket.gethostname()}:{os.getpid()}"
    return f"{label} ({device})" if device else label
