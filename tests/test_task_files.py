"""Declarative task files: parsing, validation and user task folders."""

import textwrap

import pytest

from rwkv_mteb.errors import TaskDefinitionError
from rwkv_mteb.tasks.factory import make_task_class
from rwkv_mteb.tasks.spec import builtin_task_dir, load_task_specs, parse_task_file

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
    assert mrpc.hub.load_kwargs() == {
        "path": "nyu-mll/glue",
        "name": "mrpc",
        "revision": "bcdcba79d07bc864c1c254ccfcedcce55bcc9a8c",
    }
    assert (mrpc.score_min, mrpc.score_max) == (0, 1)
    assert specs["STSBenchmarkZeroShot"].score_max == 5
    assert builtin_task_dir().is_dir()


def test_task_class_metadata():
    spec = next(s for s in load_task_specs() if s.name == "MRPCZeroShot")
    cls = make_task_class(spec)
    assert cls.metadata.main_score == "cosine_spearman"
    assert cls.metadata.type == "STS"
    assert cls.metadata.dataset["revision"] == spec.hub.revision
    assert (cls.min_score, cls.max_score) == (0, 1)


def test_missing_key_names_file_and_key(tmp_path):
    path = write(tmp_path, MINIMAL.format(name="X").replace('folder = "pairs"\n', ""))
    with pytest.raises(TaskDefinitionError, match=r"Pairs\.toml: missing key 'local\.folder'"):
        parse_task_file(path)


def test_column_roles_are_checked(tmp_path):
    path = write(tmp_path, MINIMAL.format(name="X").replace(', score = "gold"', ""))
    with pytest.raises(
        TaskDefinitionError,
        match=r"\[local\]\.columns of a STS task maps exactly \['sentence1', 'sentence2', 'score'\]; "
        r"it maps \['sentence1', 'sentence2'\]",
    ):
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


# ------------------------------------------------------------------------- strictness (issue: numbers you can trust)


def broken(tmp_path, old, new, base=None):
    text = (base or MINIMAL.format(name="X")).replace(old, new, 1)
    assert text != (base or MINIMAL.format(name="X")), f"{old!r} not in the task file"
    return write(tmp_path, text)


def test_misspelled_key_is_refused_with_the_closest_valid_key(tmp_path):
    """`sha265` used to switch the checksum off silently, so edited data were scored."""
    path = broken(tmp_path, "[splits.test]\n", '[splits.test]\nsha265 = "' + "0" * 64 + '"\n')
    with pytest.raises(TaskDefinitionError, match=r"unknown key 'sha265' in \[splits\.test\]; did you mean 'sha256'\?"):
        parse_task_file(path)
    path = broken(tmp_path, 'eval_splits = ["test"]', 'eval_split = ["test"]')
    with pytest.raises(TaskDefinitionError, match=r"unknown key 'eval_split'; did you mean 'eval_splits'\?"):
        parse_task_file(path)


def test_types_are_not_coerced(tmp_path):
    with pytest.raises(TaskDefinitionError, match=r"'splits\.test\.rows': Input should be a valid integer"):
        parse_task_file(broken(tmp_path, "[splits.test]\n", '[splits.test]\nrows = "40"\n'))


@pytest.mark.parametrize(
    "old,new,message",
    [
        ('name = "X"', 'name = "../../escape"', "must be a safe identifier"),
        ('folder = "pairs"', 'folder = "../x"', "relative path inside the data folder"),
        ('folder = "pairs"', 'folder = "/etc"', "relative path inside the data folder"),
        ('eval_splits = ["test"]', "eval_splits = []", "at least 1 item"),
        ("max = 1", "max = nan", "finite number"),
        ("max = 1", "max = inf", "finite number"),
        ("max = 1", "max = 0", r"max \(0\.0\) must exceed min"),
        (
            "[splits.test]\n",
            '[splits.test]\n[splits.few]\nfrom = "test"\nn = 0\nseed = 1\n',
            "greater than or equal to 1",
        ),
        ("[splits.test]\n", '[splits.test]\n[splits.few]\nfrom = "test"\nn = 5\n', "needs 'from', 'n' and 'seed'"),
        ("[splits.test]\n", '[splits.test]\nsha256 = "abc"\n', "should match pattern"),
    ],
)
def test_invalid_values_are_refused(tmp_path, old, new, message):
    with pytest.raises(TaskDefinitionError, match=message):
        parse_task_file(broken(tmp_path, old, new))


def test_non_utf8_task_file(tmp_path):
    path = tmp_path / "Bad.toml"
    path.write_bytes(MINIMAL.format(name="X").encode().replace(b"tiny", b"t\xffny"))
    with pytest.raises(TaskDefinitionError, match=r"Bad\.toml: not UTF-8"):
        parse_task_file(path)


def test_hub_section_is_optional(tmp_path):
    text = MINIMAL.format(name="LocalOnly")
    start, end = text.index("[hub]"), text.index("[local]")
    spec = parse_task_file(write(tmp_path, text[:start] + text[end:]))
    assert spec.hub is None
    cls = make_task_class(spec)
    assert cls.metadata.dataset["path"] == "local/LocalOnly" and len(cls.metadata.dataset["revision"]) == 40


def local_only(kind: str, roles: str, score: bool = False) -> str:
    """MINIMAL as a local-only task of another type, with the given [local].columns roles."""
    text = textwrap.dedent(MINIMAL.format(name="X"))
    text = text.split("[hub]")[0] + "[local]" + text.split("[local]")[1]
    text = text.replace('sentence1 = "left", sentence2 = "right", score = "gold"', roles)
    text = text if score else text.replace("[score]\nmin = 0\nmax = 1\n", "")
    return f'type = "{kind}"\n' + text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (textwrap.dedent(MINIMAL.format(name="X")).replace("[score]\nmin = 0\nmax = 1\n", ""),
         r"an STS task needs \[score\]"),
        (local_only("PairClassification", 'sentence1 = "l", sentence2 = "r", score = "g"'),
         r"\[local\]\.columns of a PairClassification task maps exactly \['sentence1', 'sentence2', 'label'\]"),
        (local_only("Clustering", 'text = "t", label = "g"', score=True), r"a Clustering task has no \[score\]"),
        (local_only("Ranking", 'text = "t", label = "g"'), r"'type': Input should be 'STS', 'PairClassification'"),
    ],
)  # fmt: skip
def test_task_types_are_checked(tmp_path, text, message):
    with pytest.raises(TaskDefinitionError, match=message):
        parse_task_file(write(tmp_path, text))


def test_classification_needs_its_train_split(tmp_path):
    text = local_only("Classification", 'text = "left", label = "gold"')
    with pytest.raises(TaskDefinitionError, match=r"a Classification task needs train_split, one of \[splits\]"):
        parse_task_file(write(tmp_path, text))
    spec = parse_task_file(write(tmp_path, 'train_split = "train"\n' + text + "[splits.train]\n"))
    cls = make_task_class(spec)
    assert (
        cls.metadata.type == "Classification" and cls.metadata.main_score == "accuracy" and cls.train_split == "train"
    )
