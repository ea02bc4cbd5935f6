"""How a trained model's folder holds its backbone: the backbone's own files (``backbone/``, after fine-tuning)
or, for a head on a frozen backbone, ``base.json``: the registered model's name, family, dtype and revision.
Loading a reference resolves the name as any run does (``RWKV_MTEB_MODEL_PATHS``, the hub, a packaged stand-in)
and refuses weights whose revision is not the one the head was trained on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rwkv_mteb.backbones import Backbone, load_backbone
from rwkv_mteb.errors import CheckpointError

BASE_FILE = "base.json"


def save_base(module: Any, folder: Path) -> None:
    """``module``: a layer-wise encoder or token-state module (``backbone``, ``model_id``, ``save_backbone``)."""
    backbone: Backbone = module.backbone
    if getattr(module, "save_backbone", True) or not module.model_id:
        backbone.save(folder / "backbone")
        return
    reference = {"model": module.model_id, "family": backbone.family, "dtype": backbone.dtype}
    (folder / BASE_FILE).write_text(json.dumps({**reference, "revision": backbone.revision}, indent=2) + "\n")


def load_base(folder: Path, config: dict[str, Any], device: str | None = None) -> Backbone:
    if (folder / "backbone").is_dir():
        return load_backbone(config["family"], folder / "backbone", dtype=config.get("dtype", "float32"))
    if not (folder / BASE_FILE).is_file():
        raise CheckpointError(f"{folder} has neither backbone/ nor {BASE_FILE}: save the model again")
    from rwkv_mteb.models.sources import resolve_source

    ref = json.loads((folder / BASE_FILE).read_text())
    source, local = resolve_source(ref["model"], ref["model"], ref["family"], None)
    backbone = load_backbone(ref["family"], source, dtype=ref["dtype"], device=device or "cpu", local_only=local)
    if backbone.revision != ref["revision"]:
        raise CheckpointError(
            f"{folder} was trained on {ref['model']} at revision {ref['revision']}, but {source} is revision "
            f"{backbone.revision}; map {ref['model']} to those weights with RWKV_MTEB_MODEL_PATHS"
        )
    return backbone
