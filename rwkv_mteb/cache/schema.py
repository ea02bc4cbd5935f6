"""The vector cache's file format: its tables, and the one codec of a row (a text's pooled vectors of several
layers, with a checksum of its key, shape, layers and bytes). The store and the folder tools both read rows
through :func:`decode_row`, so a row is valid by one rule everywhere."""

from __future__ import annotations

import hashlib

import numpy as np

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, layers INTEGER, dim INTEGER, data BLOB, "
    "checksum TEXT, method TEXT, layer_ids TEXT, used REAL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS vectors_by_use ON vectors (used)",
    "CREATE TABLE IF NOT EXISTS about (name TEXT PRIMARY KEY, value TEXT)",
]
COLUMNS = ["key", "layers", "dim", "data", "checksum", "method", "layer_ids", "used"]
# files written before rows recorded their method, layers and use: upgraded in place (their rows stay valid)
FIRST_COLUMNS = COLUMNS[:5]
ADDED_COLUMNS = ("method TEXT", "layer_ids TEXT", "used REAL DEFAULT 0")


def key(method: str, text: str) -> str:
    """``method`` names how the vectors were made (pooling, prompt, ...); the model is the file itself."""
    return hashlib.sha256(f"{method}\0{text}".encode()).hexdigest()


def row_checksum(key: str, layers: int, dim: int, data: bytes, layer_ids: str | None = None) -> str:
    """Covers the key, the shape, which layers (when not 0..layers-1) and every byte of the vectors."""
    head = f"{key}\0{layers}\0{dim}\0" + (f"{layer_ids}\0" if layer_ids is not None else "")
    return hashlib.blake2b(head.encode() + data, digest_size=16).hexdigest()


def layer_ids_text(layer_ids: list[int] | None) -> str | None:
    """How a row names its layers: None for 0..n-1 (the common case, and what old files hold)."""
    if layer_ids is None or layer_ids == list(range(len(layer_ids))):
        return None
    return ",".join(map(str, layer_ids))


def stored_layers(layers: int, layer_ids: str | None) -> list[int]:
    return list(range(layers)) if layer_ids is None else [int(x) for x in layer_ids.split(",")]


def encode_row(
    key: str, vectors: np.ndarray, layer_ids: list[int] | None
) -> tuple[str, int, int, bytes, str, str | None] | None:
    """(key, layers, dim, data, checksum, layer_ids) of a row, or None for vectors that could not be served
    (non-finite values are never stored)."""
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    if not np.isfinite(array).all():
        return None
    ids = layer_ids_text(layer_ids)
    data = array.tobytes()
    return key, array.shape[0], array.shape[1], data, row_checksum(key, *array.shape, data, ids), ids


def decode_row(
    key: str, layers: int, dim: int, data: object, checksum: str, layer_ids: str | None
) -> tuple[np.ndarray, list[int]] | None:
    """(vectors (layers, dim), their layer ids) of a stored row, or None when it fails its checks (wrong size,
    checksum, layer list or a non-finite value): such a row is deleted and recomputed, never served."""
    if not isinstance(data, bytes) or len(data) != 4 * layers * dim:
        return None
    if checksum != row_checksum(key, layers, dim, data, layer_ids):
        return None
    have = stored_layers(layers, layer_ids)
    if len(have) != layers:
        return None
    vectors = np.frombuffer(data, dtype=np.float32).reshape(layers, dim)
    return (vectors, have) if np.isfinite(vectors).all() else None
