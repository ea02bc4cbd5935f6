"""The environment variables that steer rwkv-mteb, parsed in one place."""

from __future__ import annotations

import os
from pathlib import Path

from rwkv_mteb.errors import RwkvMtebError

MODEL_PATHS_VAR = "RWKV_MTEB_MODEL_PATHS"
DATA_DIR_VAR = "RWKV_MTEB_DATA_DIR"
TASKS_DIR_VAR = "RWKV_MTEB_TASKS_DIR"
AUTOLOAD_VAR = "RWKV_MTEB_AUTOLOAD"
CACHE_DIR_VAR = "RWKV_MTEB_CACHE_DIR"
VECTOR_CACHE_VAR = "RWKV_MTEB_VECTOR_CACHE"
WORKER_VAR = "RWKV_MTEB_WORKER"  # set in each Ray worker: the label its profiles and cache rows carry
_OFF = {"0", "false", "no", "off"}


def autoload_enabled() -> bool:
    return os.environ.get(AUTOLOAD_VAR, "1").strip().lower() not in _OFF


def vector_cache_enabled() -> bool:
    """``RWKV_MTEB_VECTOR_CACHE=0`` turns off the on-disk cache of pooled layer vectors."""
    return os.environ.get(VECTOR_CACHE_VAR, "1").strip().lower() not in _OFF


def model_paths() -> dict[str, Path]:
    """``RWKV_MTEB_MODEL_PATHS``: ``name=path`` entries separated by ``os.pathsep``.

    Model names may contain ``=`` (``RWKV/v6-Finch-1B6-HF (layer=1)``) but paths rarely do, so each entry is
    split at its last ``=``.
    """
    raw = os.environ.get(MODEL_PATHS_VAR, "")
    mapping: dict[str, Path] = {}
    for entry in filter(None, (e.strip() for e in raw.split(os.pathsep))):
        name, sep, path = entry.rpartition("=")
        if not sep or not name.strip() or not path.strip():
            raise RwkvMtebError(
                f"{MODEL_PATHS_VAR} entry {entry!r} is not of the form name=path; "
                f"set e.g. {MODEL_PATHS_VAR}='RWKV/v6-Finch-1B6-HF=/models/finch-1b6'"
            )
        mapping[name.strip()] = Path(path.strip()).expanduser()
    return mapping


def data_dir() -> Path | None:
    raw = os.environ.get(DATA_DIR_VAR, "").strip()
    return Path(raw).expanduser() if raw else None


def extra_task_dirs() -> list[Path]:
    raw = os.environ.get(TASKS_DIR_VAR, "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]


def hub_offline() -> bool:
    """True when the user told the Hugging Face libraries not to reach the hub."""
    return any(
        os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}
        for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def cache_dir() -> Path:
    """Where derived artefacts (extracted weights, pooled-vector caches) live."""
    raw = os.environ.get(CACHE_DIR_VAR, "").strip()
    if raw:
        return Path(raw).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "rwkv-mteb"


CACHE_MAX_VAR = "RWKV_MTEB_CACHE_MAX"
CACHE_LAYERS_VAR = "RWKV_MTEB_CACHE_LAYERS"


def parse_size(text: str, source: str) -> int:
    """``20GB``, ``500 MB``, ``1.5G`` or a number of bytes (pydantic's ``ByteSize``: decimal units, as disks are
    sold; ``GiB`` and friends for binary ones)."""
    from pydantic import ByteSize, TypeAdapter, ValidationError

    try:
        value = int(TypeAdapter(ByteSize).validate_python(text.strip()))
    except ValidationError:
        raise RwkvMtebError(
            f"{source}={text!r} is not a size; write e.g. {source}=20GB, 500MB or a number of bytes"
        ) from None
    if value <= 0:
        raise RwkvMtebError(f"{source}={text!r} must be more than 0; unset it for an unbounded cache")
    return value


def cache_max_bytes() -> int | None:
    """``RWKV_MTEB_CACHE_MAX``: the most bytes the vector cache folder may hold (unset: unbounded)."""
    raw = os.environ.get(CACHE_MAX_VAR, "").strip()
    return parse_size(raw, CACHE_MAX_VAR) if raw else None


def cache_requested_layers_only() -> bool:
    """``RWKV_MTEB_CACHE_LAYERS``: ``all`` (default: every layer up to the deepest requested, so that other layer
    variants are served from the cache) or ``requested`` (only the layers asked for: fewer bytes)."""
    raw = os.environ.get(CACHE_LAYERS_VAR, "all").strip().lower() or "all"
    if raw not in ("all", "requested"):
        raise RwkvMtebError(f"{CACHE_LAYERS_VAR}={raw!r} is not a choice; set it to 'all' or 'requested'")
    return raw == "requested"
