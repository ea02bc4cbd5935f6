"""Reading a task's splits: from the Hugging Face hub, or from local GLUE-layout TSV files.

Every split comes out with the columns MTEB's evaluator of the task's type reads (:mod:`rwkv_mteb.tasks.types`),
whatever its source: STS scores are floats in the declared range, pair labels 0 or 1, class and cluster labels
non-empty strings.
"""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path

from datasets import Dataset, DatasetDict, Value

from rwkv_mteb.config import DATA_DIR_VAR, data_dir, hub_offline
from rwkv_mteb.errors import DataError
from rwkv_mteb.tasks.spec import SplitSpec, TaskSpec
from rwkv_mteb.tasks.types import TASK_TYPES


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _decode(path: Path, spec: TaskSpec) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"task {spec.name}: {path} line {line} is not UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start}); "
            "re-save the file as UTF-8"
        ) from None


def _label(raw: str, spec: TaskSpec, where: str) -> int | str:
    """A pair label is 0 or 1; a class or cluster label any non-empty string."""
    if spec.type == "PairClassification":
        if raw.strip() not in ("0", "1"):
            raise DataError(
                f"task {spec.name}: {where}: label column '{spec.local.columns.label}' holds {raw!r}; a "
                "PairClassification label is 0 or 1"
            )
        return int(raw)
    if not raw.strip():
        raise DataError(f"task {spec.name}: {where}: label column '{spec.local.columns.label}' is empty")
    return raw


def _cell(role: str, raw: str, spec: TaskSpec, path: Path, line_no: int) -> float | int | str:
    if role == "score":
        return _score(raw, spec, path, line_no)
    if role == "label":
        return _label(raw, spec, f"{path} line {line_no}")
    return raw


def _score(raw: str, spec: TaskSpec, path: Path, line_no: int) -> float:
    column = spec.local.columns.score
    try:
        score = float(raw)
    except ValueError:
        raise DataError(
            f"task {spec.name}: {path} line {line_no}: score column '{column}' holds {raw!r}, not a number"
        ) from None
    if not math.isfinite(score) or not spec.score_min <= score <= spec.score_max:
        raise DataError(
            f"task {spec.name}: {path} line {line_no}: score column '{column}' holds {raw!r}, not a finite number in "
            f"[{spec.score_min:g}, {spec.score_max:g}] ([score] in {spec.path.name}); fix the row or the range"
        )
    return score


def read_local_split(spec: TaskSpec, split: SplitSpec, root: Path) -> Dataset:
    path = root / spec.local.folder / f"{split.name}.tsv"
    if not path.resolve().is_relative_to(root.resolve()):
        raise DataError(
            f"task {spec.name}: {path} resolves to {path.resolve()}, outside the data folder {root}; "
            f"fix [local].folder in {spec.path} or the link"
        )
    if not path.is_file():
        raise DataError(
            f"task {spec.name}: split file {path} does not exist; set {DATA_DIR_VAR} to the folder that holds "
            f"'{spec.local.folder}/{split.name}.tsv' (GLUE layout, e.g. ../shared/data)"
        )
    if split.sha256 and (actual := sha256_of(path)) != split.sha256:
        raise DataError(
            f"task {spec.name}: {path} has sha256 {actual}, but {spec.path.name} expects {split.sha256}; "
            "replace the file with the documented one (see the data folder's SOURCE.md) or fix the task file"
        )
    assert spec.local.columns is not None  # validated for every non-retrieval type
    wanted = spec.local.columns.roles()
    reader = csv.reader(_decode(path, spec).splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if header is None:
        raise DataError(f"task {spec.name}: {path} is empty; it needs a header line and at least one row")
    missing = [col for col in wanted.values() if col not in header]
    if missing:
        raise DataError(
            f"task {spec.name}: {path} lacks column(s) {missing} (header: {header}); fix the file or the "
            f"[local].columns mapping in {spec.path}"
        )
    index = {role: header.index(col) for role, col in wanted.items()}
    columns: dict[str, list] = {role: [] for role in wanted}
    for line_no, row in enumerate(reader, start=2):
        if len(row) != len(header):
            raise DataError(
                f"task {spec.name}: {path} line {line_no} has {len(row)} fields, the header has {len(header)}"
            )
        for role in wanted:
            columns[role].append(_cell(role, row[index[role]], spec, path, line_no))
    rows = len(next(iter(columns.values())))
    if not rows:
        raise DataError(f"task {spec.name}: {path} has a header but no rows; the split must not be empty")
    if split.rows is not None and rows != split.rows:
        raise DataError(f"task {spec.name}: {path} has {rows} rows, {spec.path.name} expects {split.rows}")
    return _as_mteb(spec, Dataset.from_dict(columns))


def _as_mteb(spec: TaskSpec, data: Dataset) -> Dataset:
    """Role columns renamed to what MTEB's evaluator of this task type reads."""
    rename = {role: name for role, name in TASK_TYPES[spec.type].columns.items() if role != name}
    return data.rename_columns(rename) if rename else data


def read_hub_splits(spec: TaskSpec, names: list[str]) -> dict[str, Dataset]:
    from datasets import load_dataset

    assert spec.hub is not None
    try:
        loaded = load_dataset(**spec.hub.load_kwargs())
    except Exception as exc:
        raise DataError(
            f"task {spec.name}: could not load {spec.hub.path}@{spec.hub.revision} from the hub "
            f"({type(exc).__name__}: {exc}); without the hub, set {DATA_DIR_VAR} to a folder holding "
            f"'{spec.local.folder}/<split>.tsv'"
        ) from None
    out = {}
    assert spec.hub.columns is not None  # validated for every non-retrieval type
    rename = {col: role for role, col in spec.hub.columns.roles().items()}
    for name in names:
        if name not in loaded:
            raise DataError(f"task {spec.name}: the hub dataset has no split {name!r} (it has {list(loaded)})")
        ds = loaded[name]
        missing = [col for col in rename if col not in ds.column_names]
        if missing:
            raise DataError(
                f"task {spec.name}: hub split {name!r} lacks column(s) {missing}; fix [hub].columns in {spec.path}"
            )
        ds = ds.select_columns(list(rename)).rename_columns(rename)
        if len(ds) == 0:
            raise DataError(f"task {spec.name}: hub split {name!r} is empty")
        if spec.type == "STS":
            ds = ds.cast_column("score", Value("float64"))
            bad = [i for i, v in enumerate(ds["score"]) if not spec.score_min <= v <= spec.score_max]
            if bad:
                raise DataError(
                    f"task {spec.name}: hub split {name!r} row {bad[0]} has score {ds['score'][bad[0]]!r}, not a "
                    f"finite number in [{spec.score_min:g}, {spec.score_max:g}]; fix [score] in {spec.path}"
                )
        else:
            labels = [_label(str(v), spec, f"hub split {name!r} row {i}") for i, v in enumerate(ds["label"])]
            ds = ds.remove_columns("label").add_column("label", labels)
        out[name] = _as_mteb(spec, ds)
    return out


def derive_split(spec: TaskSpec, split: SplitSpec, source: Dataset) -> Dataset:
    assert split.n is not None and split.seed is not None
    if split.n > len(source):
        raise DataError(
            f"task {spec.name}: split {split.name} wants {split.n} rows of '{split.source}', which has only "
            f"{len(source)}; lower [splits.{split.name}].n in {spec.path}"
        )
    return source.shuffle(seed=split.seed).select(range(split.n))


def load_splits(spec: TaskSpec, wanted: list[str] | None = None) -> DatasetDict:
    """Load the requested splits (default: all), reading each file-backed split at most once."""
    wanted = list(spec.splits) if wanted is None else wanted
    unknown = [s for s in wanted if s not in spec.splits]
    if unknown:
        raise DataError(f"task {spec.name} has no split(s) {unknown}; it has {list(spec.splits)}")
    base_needed = sorted({spec.splits[s].source or s for s in wanted})
    root = data_dir()
    if root is None and spec.hub is None:
        raise DataError(
            f"task {spec.name} reads local data only ({spec.path} has no [hub] section); set {DATA_DIR_VAR} to a "
            f"folder holding '{spec.local.folder}/<split>.tsv'"
        )
    if root is None and hub_offline():
        raise DataError(
            f"task {spec.name}: the hub is offline (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE) and {DATA_DIR_VAR} is "
            f"not set; set {DATA_DIR_VAR} to a folder holding '{spec.local.folder}/<split>.tsv'"
        )
    if root is not None:
        base = {name: read_local_split(spec, spec.splits[name], root) for name in base_needed}
    else:
        base = read_hub_splits(spec, base_needed)
    out = DatasetDict()
    for name in wanted:
        split = spec.splits[name]
        out[name] = derive_split(spec, split, base[split.source]) if split.derived else base[name]
    return out
