"""What a trained model's folder says about its training (``training.json``, beside ``modules.json``), the
digests of what it saw (``training_rows.json``) and, for an attention head, its weights on held-out texts
(``attention_weights.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from rwkv_mteb.provenance.identity import content_digest, folder_files, revision_of
from rwkv_mteb.training.spec import TrainSpec

TRAINING_FILE = "training.json"
ROWS_FILE = "training_rows.json"
WEIGHTS_FILE = "attention_weights.json"  # an attention head's weights on held-out texts (rwkv_mteb.training.inspect)


class TrainingRecord(BaseModel):
    name: str
    spec: TrainSpec
    base_model: str
    base_revision: str
    train_rows: int
    examples: int
    examples_made: str
    steps: int
    seconds: float
    tokens_per_second: float | None = Field(
        description="training steps' tokens over the fit's wall time (trainer set-up included), trained backbones "
        "only; null for a frozen one"
    )
    trainable_parameters: int
    loss_log: list[dict[str, Any]]
    final_loss: float | None
    command: str
    revision: str | None = None
    evaluation: dict[str, float] = {}


def folder_revision(folder: Path) -> str:
    """The digest of every file but the record itself (which holds the digest and the evaluation)."""
    files = [f for f in folder_files(folder) if f.name != TRAINING_FILE]
    return revision_of(content_digest(files, root=folder))


def write_rows(folder: Path, row_digests: list[str], text_digests: list[str]) -> None:
    payload = {"rows": row_digests, "texts": text_digests}
    (folder / ROWS_FILE).write_text(json.dumps(payload) + "\n")


def read_rows(folder: Path) -> tuple[set[str], set[str]]:
    payload = json.loads((folder / ROWS_FILE).read_text())
    return set(payload["rows"]), set(payload["texts"])


def read_record(folder: Path) -> TrainingRecord | None:
    path = Path(folder) / TRAINING_FILE
    if not path.is_file() or not (Path(folder) / "modules.json").is_file():
        return None
    return TrainingRecord.model_validate_json(path.read_text())
