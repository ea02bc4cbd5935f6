"""Smaller copies of built-in tasks, for the tests that run whole commands several times over to compare them (a
sweep against separate `mteb run`s of its variants): every k-th row of each real split, so that every
genre and label of the sorted GLUE files stays, written as a user's task file (``RWKV_MTEB_TASKS_DIR``) named
``Mini<Task>`` with its own row counts and checksums. What those tests check does not depend on a split's size; the
full splits are evaluated by the tests of published scores (GloVe's 0.4326, MiniLM's STS-B)."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

from rwkv_mteb.tasks.spec import builtin_task_dir


def mini_name(task: str) -> str:
    return f"Mini{task}"


def make_mini_tasks(root: Path, shared_data: Path, tasks: list[str], every: int = 8) -> dict[str, str]:
    """Write the mini tasks under ``root``; the environment that registers them and reads their data."""
    tasks_dir, data_dir = root / "tasks", root / "data"
    tasks_dir.mkdir(parents=True, exist_ok=True)
    for task in tasks:
        text = (builtin_task_dir() / f"{task}.toml").read_text(encoding="utf-8")
        spec = tomllib.loads(text)
        folder = spec["local"]["folder"]
        (data_dir / folder).mkdir(parents=True, exist_ok=True)
        text = re.sub(r'^name = ".*"$', f'name = "{mini_name(task)}"', text, count=1, flags=re.M)
        text = re.sub(r"^\[hub\]\n(?:[^\[\n].*\n|\n)*", "", text, flags=re.M)  # local rows only: no hub twin
        for split, declared in spec["splits"].items():
            if "from" in declared:  # a split drawn from another: the same draw, of a k-th as many rows
                section = rf"(\[splits\.{split}\]\n(?:.*\n)*?)n = {declared['n']}\n"
                text = re.sub(section, rf"\g<1>n = {max(1, declared['n'] // every)}\n", text, count=1)
                continue
            lines = (shared_data / folder / f"{split}.tsv").read_bytes().splitlines(keepends=True)
            kept = lines[:1] + lines[1::every]
            (data_dir / folder / f"{split}.tsv").write_bytes(b"".join(kept))
            digest = hashlib.sha256(b"".join(kept)).hexdigest()
            text = text.replace(f"rows = {declared['rows']}\nsha256 = \"{declared['sha256']}\"",
                                f'rows = {len(kept) - 1}\nsha256 = "{digest}"')  # fmt: skip
        (tasks_dir / f"{mini_name(task)}.toml").write_text(text, encoding="utf-8")
    return {"RWKV_MTEB_TASKS_DIR": str(tasks_dir), "RWKV_MTEB_DATA_DIR": str(data_dir)}
