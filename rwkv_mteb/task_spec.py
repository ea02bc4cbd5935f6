"""Declarative task files (``tasks/*.toml``): parsing and validation.

A task file says what a zero-shot similarity task is (name, sources, columns, splits, score range, sampling
rule); :mod:`rwkv_mteb.task_factory` turns it into an MTEB task class. Files ship inside the wheel
(``rwkv_mteb/_tasks``); users add their own through ``RWKV_MTEB_TASKS_DIR``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rwkv_mteb.config import TASKS_DIR_VAR, extra_task_dirs
from rwkv_mteb.errors import TaskDefinitionError

COLUMN_ROLES = ("sentence1", "sentence2", "score")


@dataclass(frozen=True)
class SplitSpec:
    name: str
    rows: int | None = None
    sha256: str | None = None
    # a derived split: `n` rows of split `source` after Dataset.shuffle(seed=seed)
    source: str | None = None
    n: int | None = None
    seed: int | None = None

    @property
    def derived(self) -> bool:
        return self.source is not None


@dataclass(frozen=True)
class TaskSpec:
    path: Path
    name: str
    description: str
    score_min: float
    score_max: float
    hub: dict[str, Any]
    hub_columns: dict[str, str]
    local_folder: str
    local_columns: dict[str, str]
    splits: dict[str, SplitSpec]
    eval_splits: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def base_splits(self) -> list[str]:
        return [s for s, spec in self.splits.items() if not spec.derived]


def _require(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, path: Path) -> Any:
    if key not in table:
        raise TaskDefinitionError(f"{path}: missing key '{key}' in {where}; add it (see tasks/MRPCZeroShot.toml)")
    value = table[key]
    if not isinstance(value, kind):
        raise TaskDefinitionError(f"{path}: '{key}' in {where} must be {kind}, got {value!r}")
    return value


def _columns(table: dict[str, Any], where: str, path: Path) -> dict[str, str]:
    columns = _require(table, "columns", dict, where, path)
    missing = [role for role in COLUMN_ROLES if role not in columns]
    if missing:
        raise TaskDefinitionError(
            f"{path}: [{where}].columns lacks {missing}; map each of {list(COLUMN_ROLES)} to a column name"
        )
    return {role: str(columns[role]) for role in COLUMN_ROLES}


def parse_task_file(path: Path) -> TaskSpec:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TaskDefinitionError(f"{path}: not valid TOML ({exc})") from None
    name = _require(raw, "name", str, "the top level", path)
    description = _require(raw, "description", str, "the top level", path)
    score = _require(raw, "score", dict, "the top level", path)
    score_min = float(_require(score, "min", (int, float), "[score]", path))
    score_max = float(_require(score, "max", (int, float), "[score]", path))
    if score_max <= score_min:
        raise TaskDefinitionError(f"{path}: [score] max ({score_max}) must exceed min ({score_min})")
    hub = _require(raw, "hub", dict, "the top level", path)
    _require(hub, "path", str, "[hub]", path)
    _require(hub, "revision", str, "[hub]", path)
    local = _require(raw, "local", dict, "the top level", path)
    folder = _require(local, "folder", str, "[local]", path)

    splits: dict[str, SplitSpec] = {}
    for split_name, table in _require(raw, "splits", dict, "the top level", path).items():
        if not isinstance(table, dict):
            raise TaskDefinitionError(f"{path}: [splits.{split_name}] must be a table")
        if "from" in table:
            splits[split_name] = SplitSpec(
                name=split_name,
                source=_require(table, "from", str, f"[splits.{split_name}]", path),
                n=_require(table, "n", int, f"[splits.{split_name}]", path),
                seed=_require(table, "seed", int, f"[splits.{split_name}]", path),
            )
        else:
            splits[split_name] = SplitSpec(name=split_name, rows=table.get("rows"), sha256=table.get("sha256"))
    for spec in splits.values():
        if spec.derived and (spec.source not in splits or splits[spec.source].derived):
            raise TaskDefinitionError(
                f"{path}: [splits.{spec.name}] draws from '{spec.source}', which is not a file-backed split "
                f"of this task ({[s for s in splits if not splits[s].derived]})"
            )
    eval_splits = list(raw.get("eval_splits", ["test"]))
    unknown = [s for s in eval_splits if s not in splits]
    if unknown:
        raise TaskDefinitionError(f"{path}: eval_splits {unknown} are not among [splits] ({list(splits)})")

    known = {"name", "description", "score", "hub", "local", "splits", "eval_splits"}
    metadata = {k: v for k, v in raw.items() if k not in known}
    return TaskSpec(
        path=path,
        name=name,
        description=description,
        score_min=score_min,
        score_max=score_max,
        hub={k: v for k, v in hub.items() if k != "columns"},
        hub_columns=_columns(hub, "hub", path),
        local_folder=folder,
        local_columns=_columns(local, "local", path),
        splits=splits,
        eval_splits=eval_splits,
        metadata=metadata,
    )


def builtin_task_dir() -> Path:
    """The task files shipped with the package (inside the wheel), or the checkout's ``tasks/`` folder."""
    packaged = Path(__file__).parent / "_tasks"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "tasks"


def task_files() -> list[Path]:
    files = sorted(builtin_task_dir().glob("*.toml"))
    for folder in extra_task_dirs():
        if not folder.is_dir():
            raise TaskDefinitionError(f"{TASKS_DIR_VAR} names {folder}, which is not a folder; fix or unset it")
        files.extend(sorted(folder.glob("*.toml")))
    return files


def load_task_specs() -> list[TaskSpec]:
    specs: dict[str, TaskSpec] = {}
    for path in task_files():
        spec = parse_task_file(path)
        if spec.name in specs:
            raise TaskDefinitionError(
                f"task name {spec.name!r} is defined twice: {specs[spec.name].path} and {path}; rename one"
            )
        specs[spec.name] = spec
    return list(specs.values())
