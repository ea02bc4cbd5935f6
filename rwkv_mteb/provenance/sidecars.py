"""Side files: what the project writes and reads beside MTEB's results, where they live, how they are written
(atomically, or appended under a lock), and how they are read (a corrupt file is named, with the fix, never a bare
``JSONDecodeError``).

MTEB keeps a run as ``<output folder>/results/<model>/<revision>/<task>.json``; beside each result file we keep
``profiles/<task>.json`` (the profiling hook) and ``commands.jsonl`` (which command produced which split), and
a sweep writes ``<output folder>/diagnostics/<model>__pooling=<P>[__prompt=<Q>]__<task>.json``.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

from rwkv_mteb.errors import CorruptFileError

COMMANDS_LOG = "commands.jsonl"


def profile_path(result_path: Path) -> Path:
    return result_path.parent / "profiles" / result_path.name


def commands_path(result_path: Path) -> Path:
    return result_path.parent / COMMANDS_LOG


def diagnostics_path(
    output_folder: Path, model: str, pooling: str, prompt: str, task: str, ablate: str | None = None
) -> Path:
    """Per-layer diagnostics of a sweep on one task's texts, beside the results (outside MTEB's ``results/``);
    ``ablate``: the intervention's digest, when there is one."""
    method = f"pooling={pooling}" + (f"__prompt={prompt}" if prompt != "none" else "")
    method += f"__ablate={ablate}" if ablate else ""
    return output_folder / "diagnostics" / f"{model.replace('/', '__')}__{method}__{task}.json"


def prediction_folder(output_folder: Path, meta: Any) -> Path:
    """Where MTEB's per-pair predictions of a model go: ``predictions/<model>/`` as MTEB names its folder, then
    ``experiments/<name>/`` for an experiment (the variants of one model must not share a file)."""
    folder = output_folder / "predictions" / meta.model_name_as_path()
    return folder / "experiments" / meta.experiment_name if meta.experiment_name else folder


def analysis_path(output_folder: Path, model: str, task: str) -> Path:
    """``rwkv-mteb analyze``'s file for one model and task, beside a sweep's diagnostics."""
    return output_folder / "analysis" / f"{model.replace('/', '__')}__{task}.json"


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, then rename over the target: readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a published board from a web server's user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dump_json(payload: Any) -> str:
    """The one JSON style of every file we write: sorted keys, so reruns give byte-identical files."""
    return json.dumps(payload, indent=2, sort_keys=True) + "\n"


def atomic_write_json(path: Path, payload: Any) -> None:
    atomic_write_text(path, dump_json(payload))


def read_json(path: Path, what: str, fix: str) -> Any:
    """Parse ``path``; a file that is not valid JSON (or not UTF-8) raises one line naming it and the fix."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"{what} {path} is corrupt ({type(exc).__name__}: {exc}); {fix}") from None


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``.<name>.lock`` beside ``path``, held while the block runs (other processes wait)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path.with_name(f".{path.name}.lock")):
        yield


def append_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    """Append records, one JSON line each, under a lock: concurrent runs never lose or interleave a line."""
    if not records:
        return
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    with locked(path), open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: Path, what: str, fix: str) -> list[dict[str, Any]]:
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"{what} {path} is not UTF-8 ({exc}); {fix}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorruptFileError(f"{what} {path} line {number} is corrupt ({exc}); {fix}") from None
        if not isinstance(record, dict):
            raise CorruptFileError(f"{what} {path} line {number} is not a JSON object; {fix}")
        records.append(record)
    return records


def current_command() -> str:
    """The command line of this process as the user typed it (program name without its folder)."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program in {"__main__.py", "-c", ""}:
        program = "python"
    return shlex.join([program, *sys.argv[1:]])


def log_commands(result_path: Path, model: str, revision: str | None, task: str, splits: list[str]) -> None:
    """Record that this process's command produced ``splits`` of ``task`` (the leaderboard's provenance)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    command = current_command()
    append_jsonl(
        commands_path(result_path),
        [
            {"model": model, "revision": revision, "task": task, "split": s, "command": command, "time": now}
            for s in sorted(splits)
        ],
    )
