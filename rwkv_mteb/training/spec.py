"""What `rwkv-mteb train` does, as one validated record: from a TOML file (``--config``), the command line
overriding it key by key. A bad key or value is one line naming it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rwkv_mteb.errors import RwkvMtebError


class TrainSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="a language model rwkv-mteb serves (`rwkv-mteb models`)")
    head: Literal["scalar-mix", "attention", "mean"] = Field(
        "scalar-mix", description="scalar-mix: ELMo mix of every layer; attention: learnable query; mean: none"
    )
    layer: int | None = Field(None, description="attention and mean: the layer read (default: the middle one)")
    projection: int | None = Field(None, description="a trained linear projection to this width after the head")
    backbone: Literal["frozen", "full", "lora"] = "frozen"
    lora_rank: int = 8
    lora_alpha: float = 16.0
    objective: Literal["cosent", "angle", "contrastive", "mnrl", "simcse"] = "cosent"
    train: str = Field("STSBenchmarkZeroShot:train", description="TASK:SPLIT of a scored pair task")
    max_rows: int | None = Field(None, description="train on the first N rows only (smoke runs)")
    evaluate: list[str] = Field(default_factory=list, description="TASK:SPLIT evaluated after training")
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 32
    learning_rate: float | None = Field(None, description="default: 1e-2 for a head, 2e-5 full, 2e-4 LoRA")
    seed: int = 0
    dtype: Literal["float32", "bfloat16"] | None = Field(None, description="default: bfloat16 on a GPU")
    device: str | None = None
    name: str | None = Field(None, description="the model's name in results (default: trained/<out folder>)")

    @field_validator("train")
    @classmethod
    def _task_split(cls, value: str) -> str:
        if value.count(":") != 1:
            raise ValueError(f"{value!r} must read TASK:SPLIT")
        return value

    @field_validator("evaluate")
    @classmethod
    def _task_splits(cls, value: list[str]) -> list[str]:
        for item in value:
            cls._task_split(item)
        return value

    def rate(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return {"frozen": 1e-2, "full": 2e-5, "lora": 2e-4}[self.backbone]


def load_spec(config: Path | None, overrides: dict[str, object]) -> TrainSpec:
    values: dict[str, object] = {}
    if config is not None:
        try:
            values = tomllib.loads(config.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise RwkvMtebError(f"cannot read the training config {config}: {exc}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return TrainSpec.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(map(str, error["loc"])) or "config"
        raise RwkvMtebError(f"training config: {where}: {error['msg']} (see `rwkv-mteb train --help`)") from None
