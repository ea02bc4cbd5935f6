"""Declarative task files (``tasks/*.toml``), parsed into a validated model.

A task file says what a task is (name, ``type``: one of :data:`rwkv_mteb.tasks.types.TASK_TYPES`, sources,
columns by role, splits, score range, sampling rule); :mod:`rwkv_mteb.tasks.factory` turns it into an MTEB task
class. Files ship inside the wheel (``rwkv_mteb/_tasks``); users add their own through ``RWKV_MTEB_TASKS_DIR``.

Parsing is strict, because a lenient parser turns a typo into a wrong number: unknown keys are errors that
name the closest valid key (``sha265`` would otherwise switch the checksum off), types are not coerced
(``rows = "40"`` is refused), names are safe identifiers (they become file names), local folders stay inside
the data folder, score ranges are finite, eval splits and derived splits are non-empty. The ``[hub]`` section
is optional: a task without one reads local data only and never falls back to other data.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from rwkv_mteb.config import TASKS_DIR_VAR, extra_task_dirs
from rwkv_mteb.errors import TaskDefinitionError
from rwkv_mteb.tasks.types import RETRIEVAL_FILES, RETRIEVAL_TYPES, TASK_TYPE_NAMES, TASK_TYPES

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _safe(value: str, what: str) -> str:
    if not SAFE_NAME.match(value) or ".." in value:
        raise ValueError(
            f"{what} {value!r} must be a safe identifier (letters, digits, '_', '-', '.', no '..'): it becomes "
            "part of file names"
        )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, populate_by_name=True, frozen=True)


class Columns(_Strict):
    """Which source column plays each role (which roles: by the task's ``type``)."""

    sentence1: str | None = None
    sentence2: str | None = None
    score: str | None = None
    text: str | None = None
    label: str | None = None

    def roles(self) -> dict[str, str]:
        """role -> source column, for the roles that are set."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class HubSource(_Strict):
    path: str
    revision: str = Field(min_length=7, description="a pinned commit of the dataset repository")
    name: str | None = None
    columns: Columns | None = None  # none for Retrieval/Reranking (MTEB's own loader reads the hub layout)

    def load_kwargs(self) -> dict[str, str]:
        return {k: v for k, v in {"path": self.path, "name": self.name, "revision": self.revision}.items() if v}


class LocalSource(_Strict):
    folder: str
    columns: Columns | None = None  # Retrieval and Reranking splits are fixed-layout folders: no columns

    @field_validator("folder")
    @classmethod
    def _inside_data_folder(cls, value: str) -> str:
        parts = PurePosixPath(value).parts
        if not parts or value.startswith(("/", "\\", "~")) or any(p in {"..", "."} for p in parts):
            raise ValueError(f"folder {value!r} must be a relative path inside the data folder (no '..', not absolute)")
        for part in parts:
            _safe(part, "folder part")
        return value


class ScoreRange(_Strict):
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> ScoreRange:
        if self.max <= self.min:
            raise ValueError(f"max ({self.max}) must exceed min ({self.min})")
        return self


SHA256 = r"^[0-9a-f]{64}$"


class GeneratedSource(_Strict):
    """A task whose files the project generates (:mod:`rwkv_mteb.tasks.generators`) from the real data in the
    data folder: which generator, its version and seed, and its parameters. The files are written once into the
    cache folder and read back like any local split, checksums included."""

    generator: str
    version: int = Field(ge=1)
    seed: int = Field(ge=0)
    documents: int = Field(ge=1, description="documents (and queries) per split")
    depths: list[float] = Field(min_length=1, description="where the target sits in a document, 0 = start")
    candidates: int | None = Field(default=None, ge=2, description="Reranking: candidates per query")

    @field_validator("depths")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        if any(not 0.0 <= d <= 1.0 for d in value):
            raise ValueError(f"depths {value} must lie in [0, 1] (0 = start of the document, 1 = end)")
        return value


class SplitSpec(_Strict):
    """A file-backed split (``rows``, ``sha256``), a retrieval split's folder of files (``files``: name ->
    sha256, ``rows``: its queries) or one drawn from another: ``n`` rows of split ``from`` after datasets'
    ``Dataset.shuffle(seed=seed)``."""

    rows: int | None = Field(default=None, ge=1)
    sha256: str | None = Field(default=None, pattern=SHA256)
    files: dict[str, str] | None = None
    source: str | None = Field(default=None, alias="from")
    n: int | None = Field(default=None, ge=1)
    seed: int | None = Field(default=None, ge=0)
    _name: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _one_kind(self) -> SplitSpec:
        drawn = {k: getattr(self, k) for k in ("source", "n", "seed")}
        if any(v is not None for v in drawn.values()):
            missing = [("from" if k == "source" else k) for k, v in drawn.items() if v is None]
            if missing:
                raise ValueError(f"a derived split needs 'from', 'n' and 'seed'; add {missing}")
            if self.rows is not None or self.sha256 is not None or self.files is not None:
                raise ValueError("a derived split has no file: drop 'rows', 'sha256' and 'files'")
        if self.files is not None:
            if self.sha256 is not None:
                raise ValueError("a retrieval split's checksums are per file, in 'files': drop 'sha256'")
            unknown = sorted(set(self.files) - set(RETRIEVAL_FILES))
            if unknown:
                raise ValueError(f"'files' names {unknown}; a retrieval split's files are {list(RETRIEVAL_FILES)}")
            bad = [name for name, digest in self.files.items() if not re.match(SHA256, digest)]
            if bad:
                raise ValueError(f"'files' {bad}: a checksum is 64 lowercase hex digits (sha256)")
        return self

    @property
    def name(self) -> str:
        return self._name

    @property
    def derived(self) -> bool:
        return self.source is not None


class TaskSpec(_Strict):
    name: str
    description: str = Field(min_length=1)
    type: Literal[TASK_TYPE_NAMES] = "STS"  # type: ignore[valid-type]
    score: ScoreRange | None = None
    train_split: str | None = Field(default=None, description="Classification: the split the classifier learns on")
    main_score: str | None = Field(default=None, description="Retrieval/Reranking: another of MTEB's scores")
    hub: HubSource | None = None
    generated: GeneratedSource | None = None
    local: LocalSource
    splits: dict[str, SplitSpec] = Field(min_length=1)
    eval_splits: list[str] = Field(default_factory=lambda: ["test"], min_length=1)
    # passed to MTEB's TaskMetadata, which checks their values
    reference: str | None = None
    license: str | None = None
    date: list[str] | None = Field(default=None, min_length=2, max_length=2)
    domains: list[str] | None = None
    annotations_creators: str | None = None
    sample_creation: str | None = None
    bibtex_citation: str | None = None
    dialect: list[str] | None = None
    task_subtypes: list[str] | None = None
    eval_langs: list[str] | None = None
    _path: Path = PrivateAttr(default=Path("?"))

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return _safe(value, "name")

    @field_validator("splits")
    @classmethod
    def _safe_split_names(cls, value: dict[str, SplitSpec]) -> dict[str, SplitSpec]:
        for name in value:
            _safe(name, "split name")
        return value

    @model_validator(mode="after")
    def _splits_consistent(self) -> TaskSpec:
        for name, split in self.splits.items():
            split._name = name
            if split.derived and (split.source not in self.splits or self.splits[split.source].derived):
                raise ValueError(
                    f"[splits.{name}] draws from {split.source!r}, which is not a file-backed split of this task "
                    f"({self.base_splits})"
                )
        unknown = [s for s in self.eval_splits if s not in self.splits]
        if unknown:
            raise ValueError(f"eval_splits {unknown} are not among [splits] ({list(self.splits)})")
        if self.type in RETRIEVAL_TYPES:
            self._check_retrieval()
            return self
        if self.generated is not None or self.main_score is not None:
            raise ValueError(f"[generated] and main_score are for Retrieval and Reranking tasks, not {self.type}")
        roles = TASK_TYPES[self.type].roles
        sources = [("local", self.local), *([("hub", self.hub)] if self.hub else [])]
        for where, columns in ((where, source.columns) for where, source in sources):
            if columns is None:
                raise ValueError(f"[{where}].columns of a {self.type} task maps {list(roles)}; add it")
            given = set(columns.roles())
            if given != set(roles):
                raise ValueError(
                    f"[{where}].columns of a {self.type} task maps exactly {list(roles)}; it maps {sorted(given)}"
                )
        if (self.score is None) == (self.type == "STS"):
            raise ValueError(
                "an STS task needs [score] (min, max)" if self.score is None else f"a {self.type} task has no [score]"
            )
        if self.type == "Classification":
            if self.train_split is None or self.train_split not in self.splits:
                raise ValueError(
                    f"a Classification task needs train_split, one of [splits] ({list(self.splits)}); "
                    f"got {self.train_split!r}"
                )
        elif self.train_split is not None:
            raise ValueError(f"train_split is for Classification tasks; a {self.type} task has none")
        return self

    def _check_retrieval(self) -> None:
        """A retrieval split is a folder holding exactly its type's files, each with a checksum."""
        if self.local.columns is not None or (self.hub is not None and self.hub.columns is not None):
            raise ValueError(f"a {self.type} task reads fixed-layout files (corpus, queries, qrels): drop columns")
        if self.score is not None or self.train_split is not None:
            raise ValueError(f"a {self.type} task has no [score] and no train_split")
        needed = set(TASK_TYPES[self.type].files)
        for name, split in self.splits.items():
            if split.derived or split.files is None or set(split.files) != needed:
                given = sorted(split.files or ())
                raise ValueError(
                    f"[splits.{name}] of a {self.type} task needs files = {{ {', '.join(sorted(needed))} }} "
                    f"(sha256 each); it gives {given}"
                )
        if self.generated is not None and (self.generated.candidates is None) == (self.type == "Reranking"):
            raise ValueError("[generated].candidates is set for a Reranking task, and only for one")

    @property
    def path(self) -> Path:
        return self._path

    @property
    def score_min(self) -> float:
        return self.score.min if self.score else float("-inf")

    @property
    def score_max(self) -> float:
        return self.score.max if self.score else float("inf")

    @property
    def base_splits(self) -> list[str]:
        return [s for s, spec in self.splits.items() if not spec.derived]

    @property
    def metadata(self) -> dict[str, Any]:
        """The MTEB metadata fields the file sets."""
        fields = ("reference", "license", "date", "domains", "annotations_creators", "sample_creation")
        fields += ("bibtex_citation", "dialect", "task_subtypes", "eval_langs")
        return {k: getattr(self, k) for k in fields if getattr(self, k) is not None}


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The valid keys of the table at ``loc`` (for 'did you mean')."""
    for part in loc:
        field = model.model_fields.get(str(part)) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if field is None:
            continue  # a dict key (a split's name)
        annotation = field.annotation
        candidates = [annotation, *get_args(annotation)]
        if get_origin(annotation) is dict:
            candidates = list(get_args(annotation))
        nested = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if nested is None:
            break
        model = nested
    return [f.alias or name for name, f in model.model_fields.items()]


def _explain(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    where = ".".join(str(p) for p in loc) or "the top level"
    if error["type"] == "extra_forbidden":
        table = ".".join(str(p) for p in loc[:-1])
        valid = _fields_at(TaskSpec, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {valid}"
        return f"unknown key '{loc[-1]}'" + (f" in [{table}]" if table else "") + f"; {hint}"
    if error["type"] == "missing":
        return f"missing key '{where}'; add it (see tasks/MRPCZeroShot.toml)"
    message = error["msg"].removeprefix("Value error, ")
    given = error.get("input")
    shown = f" (got {given!r})" if not isinstance(given, dict | list) else ""
    return f"'{where}': {message}{shown}"


def parse_task_file(path: Path) -> TaskSpec:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TaskDefinitionError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise TaskDefinitionError(f"{path}: not UTF-8 text ({exc}); save the task file as UTF-8") from None
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_explain(e) for e in exc.errors())
        raise TaskDefinitionError(f"{path}: {problems}") from None
    spec._path = path
    return spec


def builtin_task_dir() -> Path:
    """The task files shipped with the package (inside the wheel), or the checkout's ``tasks/`` folder."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "_tasks"
    return packaged if packaged.is_dir() else package.parent / "tasks"


def task_files(include_user: bool = True) -> list[Path]:
    files = sorted(builtin_task_dir().glob("*.toml"))
    for folder in extra_task_dirs() if include_user else []:
        if not folder.is_dir():
            raise TaskDefinitionError(f"{TASKS_DIR_VAR} names {folder}, which is not a folder; fix or unset it")
        files.extend(sorted(folder.glob("*.toml")))
    return files


def load_task_specs() -> list[TaskSpec]:
    """Every task file, strictly: the first problem raises (registration instead skips bad files one by one)."""
    specs: dict[str, TaskSpec] = {}
    for path in task_files():
        spec = parse_task_file(path)
        if spec.name in specs:
            raise TaskDefinitionError(
                f"task name {spec.name!r} is defined twice: {specs[spec.name].path} and {path}; rename one"
            )
        specs[spec.name] = spec
    return list(specs.values())
