"""Loading splits: the real GLUE files, the derived sample, the hub path (faked) and every error path."""

import shutil

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from rwkv_mteb.errors import DataError
from rwkv_mteb.tasks.data import load_splits
from rwkv_mteb.tasks.spec import load_task_specs


def spec(name):
    return next(s for s in load_task_specs() if s.name == name)


def test_mrpc_real_splits(data_env):
    data = load_splits(spec("MRPCZeroShot"))
    assert {k: len(v) for k, v in data.items()} == {
        "train": 3668,
        "validation": 408,
        "test": 1725,
        "train_sample": 1000,
    }
    assert data["validation"][0]["sentence1"].startswith("He said the foodservice pie business")
    assert data["validation"][0]["score"] == 1.0
    assert sum(data["validation"]["score"]) == 279
    assert set(data["test"]["score"]) == {0.0, 1.0}


def test_train_sample_is_a_fixed_subset_of_train(data_env):
    first = load_splits(spec("MRPCZeroShot"), ["train_sample"])["train_sample"]
    again = load_splits(spec("MRPCZeroShot"), ["train_sample"])["train_sample"]
    train = load_splits(spec("MRPCZeroShot"), ["train"])["train"]
    assert first["sentence1"] == again["sentence1"]
    pairs = set(zip(train["sentence1"], train["sentence2"], strict=True))
    sample = list(zip(first["sentence1"], first["sentence2"], strict=True))
    assert len(set(sample)) == 1000 and set(sample) <= pairs
    # the documented rule: datasets' Dataset.shuffle(seed=42), first 1,000
    assert first["sentence1"] == train.shuffle(seed=42).select(range(1000))["sentence1"]


def test_stsb_real_splits(data_env):
    data = load_splits(spec("STSBenchmarkZeroShot"))
    assert {k: len(v) for k, v in data.items()} == {"train": 5749, "validation": 1500, "test": 1379}
    assert min(data["test"]["score"]) == 0.0 and max(data["test"]["score"]) == 5.0
    assert data["validation"][0] == {
        "sentence1": "A man with a hard hat is dancing.",
        "sentence2": "A man wearing a hard hat is dancing.",
        "score": 5.0,
    }


@pytest.fixture
def copied(tmp_path, shared_data, monkeypatch):
    """A writable copy of the MRPC folder to break in various ways."""
    shutil.copytree(shared_data / "mrpc", tmp_path / "mrpc")
    monkeypatch.setenv("RWKV_MTEB_DATA_DIR", str(tmp_path))
    return tmp_path / "mrpc"


def test_missing_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("RWKV_MTEB_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"mrpc/validation\.tsv does not exist; set RWKV_MTEB_DATA_DIR"):
        load_splits(spec("MRPCZeroShot"), ["validation"])


def test_checksum_mismatch(copied):
    path = copied / "validation.tsv"
    path.write_text(path.read_text().replace("foodservice", "food service"))
    with pytest.raises(DataError, match="has sha256 .* expects 320459df"):
        load_splits(spec("MRPCZeroShot"), ["validation"])


def user_spec(tmp_path, monkeypatch, rows):
    """A user task without checksums, so malformed files reach the column and row checks."""
    from tests.test_task_files import MINIMAL

    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "Pairs.toml").write_text(MINIMAL.format(name="Pairs"))
    (tmp_path / "pairs").mkdir()
    (tmp_path / "pairs" / "test.tsv").write_text(rows)
    monkeypatch.setenv("RWKV_MTEB_TASKS_DIR", str(tmp_path / "tasks"))
    monkeypatch.setenv("RWKV_MTEB_DATA_DIR", str(tmp_path))
    return next(s for s in load_task_specs() if s.name == "Pairs")


def test_user_task_reads_quotes_verbatim(tmp_path, monkeypatch):
    s = user_spec(tmp_path, monkeypatch, 'gold\tleft\tright\n1\t" quoted\tplain "\n0\ta\tb\n')
    data = load_splits(s)["test"]
    assert data["sentence1"] == ['" quoted', "a"] and data["sentence2"] == ['plain "', "b"]
    assert data["score"] == [1.0, 0.0]


def test_wrong_column(tmp_path, monkeypatch):
    s = user_spec(tmp_path, monkeypatch, "gold\tleft\tsecond\n1\ta\tb\n")
    with pytest.raises(DataError, match=r"lacks column\(s\) \['right'\].*\[local\]\.columns"):
        load_splits(s)


def test_empty_split(tmp_path, monkeypatch):
    s = user_spec(tmp_path, monkeypatch, "gold\tleft\tright\n")
    with pytest.raises(DataError, match="no rows; the split must not be empty"):
        load_splits(s)


def test_empty_file(tmp_path, monkeypatch):
    s = user_spec(tmp_path, monkeypatch, "")
    with pytest.raises(DataError, match="is empty"):
        load_splits(s)


def test_non_numeric_score(tmp_path, monkeypatch):
    s = user_spec(tmp_path, monkeypatch, "gold\tleft\tright\nyes\ta\tb\n")
    with pytest.raises(DataError, match="line 2: score column 'gold' holds 'yes'"):
        load_splits(s)


def test_ragged_row(tmp_path, monkeypatch):
    s = user_spec(tmp_path, monkeypatch, "gold\tleft\tright\n1\ta\n")
    with pytest.raises(DataError, match="line 2 has 2 fields"):
        load_splits(s)


def test_unknown_split(data_env):
    with pytest.raises(DataError, match="no split"):
        load_splits(spec("MRPCZeroShot"), ["dev"])


def test_offline_hub_without_data_dir_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("RWKV_MTEB_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="hub is offline .* set RWKV_MTEB_DATA_DIR"):
        load_splits(spec("MRPCZeroShot"), ["validation"])


def test_hub_path_maps_columns_and_pins_revision(monkeypatch):
    """The real hub code path, with datasets.load_dataset replaced by a fake returning GLUE's schema."""
    calls = []
    features = Features(
        {
            "sentence1": Value("string"),
            "sentence2": Value("string"),
            "label": ClassLabel(names=["not_equivalent", "equivalent"]),
            "idx": Value("int32"),
        }
    )

    def fake_load_dataset(**kwargs):
        calls.append(kwargs)
        rows = {
            "sentence1": [f"a{i}" for i in range(1200)],
            "sentence2": [f"b{i}" for i in range(1200)],
            "label": [i % 2 for i in range(1200)],
            "idx": list(range(1200)),
        }
        return DatasetDict({s: Dataset.from_dict(rows, features=features) for s in ("train", "validation", "test")})

    import datasets

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    monkeypatch.delenv("RWKV_MTEB_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    data = load_splits(spec("MRPCZeroShot"), ["validation", "train_sample"])
    assert calls == [{"path": "nyu-mll/glue", "name": "mrpc", "revision": "bcdcba79d07bc864c1c254ccfcedcce55bcc9a8c"}]
    assert data["validation"].column_names == ["sentence1", "sentence2", "score"]
    assert data["validation"]["score"][:3] == [0.0, 1.0, 0.0]
    assert len(data["train_sample"]) == 1000


def test_hub_failure_names_the_fix(monkeypatch):
    import datasets

    def unreachable(**kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    monkeypatch.delenv("RWKV_MTEB_DATA_DIR", raising=False)
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(var, "0")
    with pytest.raises(DataError, match="no route to host.*set RWKV_MTEB_DATA_DIR"):
        load_splits(spec("MRPCZeroShot"), ["validation"])


def test_pair_classification_classification_and_clustering_from_the_real_files(data_env):
    pairs = load_splits(spec("MRPCPairClassification"))
    assert pairs["test"].column_names == ["sentence1", "sentence2", "labels"] and len(pairs["test"]) == 1725
    assert set(pairs["validation"]["labels"]) == {0, 1}
    mrpc = load_splits(spec("MRPCZeroShot"), ["test"])["test"]
    assert pairs["test"]["sentence1"] == mrpc["sentence1"] and pairs["test"]["labels"] == [
        int(s) for s in mrpc["score"]
    ]
    genre = load_splits(spec("STSBGenreClassification"))
    assert genre["validation"].column_names == ["text", "label"] and len(genre["validation"]) == 1500
    # the classifier learns on validation: train spells the forum genre differently ("main-forum")
    assert (
        set(genre["test"]["label"])
        == set(genre["validation"]["label"])
        == {"main-captions", "main-news", "main-forums"}
    )
    clusters = load_splits(spec("STSBGenreClustering"))["test"]
    assert clusters.column_names == ["sentences", "labels"] and clusters["sentences"] == genre["test"]["text"]


PAIR_TASK = """
name = "Para"
type = "PairClassification"
description = "Paraphrase or not."
eval_splits = ["test"]
[local]
folder = "para"
columns = {{ sentence1 = "a", sentence2 = "b", label = "y" }}
[splits.test]
"""


@pytest.mark.parametrize("cell", ["2", "yes"])
def test_pair_labels_are_zero_or_one(tmp_path, monkeypatch, cell):
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "Para.toml").write_text(PAIR_TASK.format())
    (tmp_path / "para").mkdir()
    (tmp_path / "para" / "test.tsv").write_text(f"a\tb\ty\nx\tz\t1\nu\tv\t{cell}\n")
    monkeypatch.setenv("RWKV_MTEB_TASKS_DIR", str(tmp_path / "tasks"))
    monkeypatch.setenv("RWKV_MTEB_DATA_DIR", str(tmp_path))
    message = f"holds '{cell}'; a PairClassification label is 0 or 1"
    with pytest.raises(DataError, match=rf"para/test.tsv line 3: label column 'y' {message}"):
        load_splits(next(s for s in load_task_specs() if s.name == "Para"))


def test_hub_path_of_a_pair_classification_task(monkeypatch):
    features = Features(
        {"sentence1": Value("string"), "sentence2": Value("string"), "label": ClassLabel(names=["no", "yes"])}
    )
    rows = {"sentence1": ["a", "b"], "sentence2": ["c", "d"], "label": [0, 1]}

    import datasets

    monkeypatch.setattr(
        datasets,
        "load_dataset",
        lambda **kw: DatasetDict({s: Dataset.from_dict(rows, features=features) for s in ("validation", "test")}),
    )
    monkeypatch.delenv("RWKV_MTEB_DATA_DIR", raising=False)
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(var, "0")
    data = load_splits(spec("MRPCPairClassification"), ["test"])["test"]
    assert data.column_names == ["sentence1", "sentence2", "labels"] and data["labels"] == [0, 1]
