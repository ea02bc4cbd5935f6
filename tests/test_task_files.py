"""Declarative task files: parsing, validation and user task folders."""

import textwrap

import pytest

from rwkv_mteb.errors import TaskDefinitionError
from rwkv_mteb.task_factory import make_task_class
from rwkv_mteb.task_spec import builtin_task_dir, load_task_specs, parse_task_file

MINIMAL = """
name = "{name}"
description = "A tiny pair task."
eval_splits = ["test"]
[score]
min = 0
max = 1
[hub]
path = "someone/pairs"
revision = "0123456789abcdef0123456789abcdef01234567"
columns = {{ sentence1 = "a", sentence2 = "b", score = "label" }}
[local]
folder = "pairs"
columns = {{ sentence1 = "left", sentence2 = "right", score = "gold" }}
[splits.test]
"""


def write(tmp_path, text, name="Pairs.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_builtin_tasks_parse():
    specs = {s.name: s for s in load_task_specs()}
    assert {"MRPCZeroShot", "STSBenchmarkZeroShot"} <= set(specs)
    mrpc = specs["MRPCZeroShot"]
    assert mrpc.eval_splits == ["train_sample", "validation"]
    assert mrpc.splits["train_sample"].source == "train"
    assert (mrpc.splits["train_sample"].n, mrpc.splits["train_sample"].seed) == (1000, 42)
    assert mrpc.hub == {"path": "nyu-mll/glue", "name": "mrpc", "revision": "bcdcba79d07bc864c1c254ccfcedcce55bcc9a8c"}
    assert (mrpc.score_min, mrpc.score_max) == (0, 1)
    assert specs["STSBenchmarkZeroShot"].score_max == 5
    assert builtin_task_dir().is_dir()


def test_task_class_metadata():
    spec = next(s for s in load_task_specs() if s.name == "MRPCZeroShot")
    cls = make_task_class(spec)
    assert cls.metadata.main_score == "cosine_spearman"
    assert cls.metadata.type == "STS"
    assert cls.metadata.dataset["revision"] == spec.hub["revision"]
    assert (cls.min_score, cls.max_score) == (0, 1)


def test_missing_key_names_file_and_key(tmp_path):
    path = write(tmp_path, MINIMAL.format(name="X").replace('folder = "pairs"\n', ""))
    with pytest.raises(TaskDefinitionError, match=r"Pairs\.toml: missing key 'folder' in \[local\]"):
        parse_task_file(path)


def test_column_roles_are_checked(tmp_path):
    path = write(tmp_path, MINIMAL.format(name="X").replace(', score = "gold"', ""))
    with pytest.raises(TaskDefinitionError, match=r"lacks \['score'\]"):
        parse_task_file(path)


def test_eval_split_must_exist(tmp_path):
    path = write(tmp_path, MINIMAL.format(name="X").replace('eval_splits = ["test"]', 'eval_splits = ["dev"]'))
    with pytest.raises(TaskDefinitionError, match=r"eval_splits \['dev'\]"):
        parse_task_file(path)


def test_derived_split_needs_a_file_backed_source(tmp_path):
    text = MINIMAL.format(name="X") + '[splits.sample]\nfrom = "train"\nn = 5\nseed = 1\n'
    with pytest.raises(TaskDefinitionError, match="draws from 'train'"):
        parse_task_file(write(tmp_path, text))


def test_invalid_toml(tmp_path):
    with pytest.raises(TaskDefinitionError, match="not valid TOML"):
        parse_task_file(write(tmp_path, "name = "))


def test_user_task_folder(monkeypatch, tmp_path):
    write(tmp_path, MINIMAL.format(name="MyPairs"))
    monkeypatch.setenv("RWKV_MTEB_TASKS_DIR", str(tmp_path))
    assert "MyPairs" in {s.name for s in load_task_specs()}


def test_user_task_folder_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("RWKV_MTEB_TASKS_DIR", str(tmp_path / "nope"))
    with pytest.raises(TaskDefinitionError, match="not a folder"):
        load_task_specs()


def test_duplicate_task_names_are_refused(monkeypatch, tmp_path):
    write(tmp_path, MINIMAL.format(name="MRPCZeroShot"))
    monkeypatch.setenv("RWKV_MTEB_TASKS_DIR", str(tmp_path))
    with pytest.raises(TaskDefinitionError, match="defined twice"):
        load_task_specs()
