"""`rwkv-mteb train` on a small random RWKV-6 and a tiny Llama: a head on a frozen backbone leaves every backbone
weight bit-identical and saves a folder that reloads to identical embeddings and that `mteb run` scores exactly as
the training run reported; LoRA and full fine-tuning change the backbone and save it; a split overlapping the
training rows by content is refused before anything trains, naming both."""

import json

import numpy as np
import pytest
import torch

from rwkv_mteb.errors import RwkvMtebError, TrainingOverlapError
from rwkv_mteb.training.run import train
from rwkv_mteb.training.spec import TrainSpec, load_spec
from tests.conftest import cli_env, run

pytestmark = pytest.mark.usefixtures("registered")
RWKV = "RWKV/v6-Finch-1B6-HF"
LLAMA = "HuggingFaceTB/SmolLM2-135M-Instruct"
TEXTS = ["A man is playing a guitar.", "Two dogs run on the beach.", "The stock fell sharply."]


@pytest.fixture
def models(monkeypatch, data_env, small_rwkv, tiny_llama, tmp_path):
    monkeypatch.setenv("RWKV_MTEB_MODEL_PATHS", f"{RWKV}={small_rwkv}:{LLAMA}={tiny_llama}")
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def reloaded(folder):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), trust_remote_code=True)


def test_a_frozen_backbone_is_bit_identical_and_the_head_reloads_exactly(models, small_rwkv):
    from rwkv_mteb.backbones import load_backbone

    spec = TrainSpec(model=RWKV, head="scalar-mix", projection=16, max_rows=96, batch_size=16, epochs=2)
    record = train(spec, models / "mix")
    base = load_backbone("rwkv6", small_rwkv).state_dict()
    model = reloaded(models / "mix")
    after = model[0].backbone.state_dict()
    assert base.keys() == after.keys() and all(torch.equal(base[k], after[k]) for k in base)
    assert (models / "mix" / "0_LayerwiseEncoder" / "base.json").is_file()  # named, not copied
    assert not (models / "mix" / "0_LayerwiseEncoder" / "backbone").exists()
    mix = model[1]
    assert not torch.equal(mix.weights.detach(), torch.zeros_like(mix.weights))  # the head did train
    assert record.steps == 12 and record.trainable_parameters == 4 + 1 + 128 * 16 + 16
    assert record.loss_log and record.base_revision.startswith("sha256-")
    assert record.tokens_per_second is None  # its vectors came from the cache: no model speed to report
    assert model.encode(TEXTS).shape == (3, 16)
    np.testing.assert_array_equal(model.encode(TEXTS), reloaded(models / "mix").encode(TEXTS))
    from rwkv_mteb.models.wrapper import Encoder

    # MTEB files it as itself: its layers are the head's input, not its experiment (no "(layers=[0,...])" name)
    assert Encoder(model, None).experiment is None
    assert Encoder(model[0].as_model(), None).experiment == {"layers": list(range(4))}


def test_mteb_run_of_the_saved_folder_gives_the_reported_score(models, small_rwkv, tiny_llama, shared_data):
    env = cli_env(
        HF_HUB_OFFLINE="1",
        RWKV_MTEB_DATA_DIR=str(shared_data),
        RWKV_MTEB_MODEL_PATHS=f"{RWKV}={small_rwkv}",
        RWKV_MTEB_CACHE_DIR=str(models / "cache"),
    )
    folder, config = models / "att", models / "train.toml"
    config.write_text(f'model = "{RWKV}"\nhead = "attention"\nlayer = 2\nmax_rows = 64\nbatch_size = 16\n')
    proc = run("rwkv-mteb", "train", "--config", str(config), "--evaluate", "MRPCZeroShot:validation",
               "--out", str(folder), env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((folder / "training.json").read_text())
    assert record["spec"]["head"] == "attention" and record["spec"]["layer"] == 2  # from the file
    reported = record["evaluation"]["MRPCZeroShot:validation"]
    weights = json.loads((folder / "attention_weights.json").read_text())
    for text in weights["texts"]:  # byte-level tokens, grouped into words that spell the text
        assert sum(w["weight"] for w in text["words"]) == pytest.approx(1.0)
        assert "".join(w["word"] for w in text["words"]) == "".join(text["text"].split())
    assert 0 < weights["content_share"]["trained"] < 1 and 0 < weights["content_share"]["mean_pooling"] < 1
    proc = run("mteb", "run", "-m", str(folder), "-t", "MRPCZeroShot", "--eval-splits", "validation",
               "--output-folder", str(models / "again"), "-v", "0", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (result,) = [p for p in (models / "again").rglob("MRPCZeroShot.json") if p.parent.name != "profiles"]
    assert result.parent.name == record["revision"]  # filed under the folder's content digest
    # the same score: MTEB's result files keep six decimals
    assert json.loads(result.read_text())["scores"]["validation"][0]["main_score"] == pytest.approx(reported, abs=5e-7)

    # on the board: marked as trained, with what it was trained on, never as a zero-shot entry
    from rwkv_mteb.board.publish import publish

    board = publish([models / "again"], models / "board", ["rwkv-mteb", "leaderboard"])
    (entry,) = [e for e in board.entries if e.model == record["name"]]
    assert entry.trained_on == "STSBenchmarkZeroShot:train" and entry.family == "trained"
    assert entry.base_model == RWKV and entry.main_score == pytest.approx(reported, abs=5e-7)
    assert "trained on STSBenchmarkZeroShot:train" in (models / "board" / "README.md").read_text()
    # and its head's weights, as the folder holds them (the page and the README table read these)
    (head,) = board.attention_heads
    assert (head.model, head.layer, head.base_model) == (record["name"], 2, RWKV)
    assert head.content_share == pytest.approx(weights["content_share"]["trained"], abs=1e-6)
    assert [t.text for t in head.texts] == [t["text"] for t in weights["texts"]]
    page = (models / "board" / "index.html").read_text()
    assert 'id="heads-section"' in page and "attention_heads" in page


@pytest.mark.parametrize(("model", "mode"), [(LLAMA, "lora"), (RWKV, "full")])
def test_fine_tuning_changes_the_backbone_and_saves_it(models, model, mode):
    spec = TrainSpec(model=model, head="mean", layer=1, backbone=mode, max_rows=24, batch_size=8, max_steps=3)
    record = train(spec, models / mode)
    assert record.steps == 3 and record.tokens_per_second > 0
    # 3 steps of 8 = every one of the 24 pairs once: the rate's tokens, counted here with the model's tokenizer
    from rwkv_mteb.training.data import task_rows
    from rwkv_mteb.training.run import build

    rows = task_rows("STSBenchmarkZeroShot", "train").select(range(24))
    tokenizer = build(TrainSpec(model=model, head="mean", layer=1))[1].tokenizer
    by_hand = sum(len(ids) for ids in tokenizer([*rows["sentence1"], *rows["sentence2"]]))
    assert record.tokens_per_second * record.seconds == pytest.approx(by_hand)
    folder = models / mode / "0_LayerwiseEncoder" / "backbone"
    assert folder.is_dir()  # the fine-tuned weights themselves (LoRA merged in)
    trained = reloaded(models / mode)
    base, _ = build(TrainSpec(model=model, head="mean", layer=1))
    after = trained[0].backbone.state_dict()
    moved = [k for k, v in base[0].backbone.state_dict().items() if not torch.equal(v, after[k])]
    assert moved and not any("lora" in k for k in after)
    assert not np.allclose(base.encode(TEXTS), trained.encode(TEXTS))


def test_a_split_overlapping_the_training_rows_is_refused_before_training(models):
    spec = TrainSpec(model=RWKV, train="MRPCZeroShot:train", evaluate=["MRPCZeroShot:train_sample"], max_steps=1)
    with pytest.raises(TrainingOverlapError) as refused:
        train(spec, models / "refused")
    message = str(refused.value)
    assert message.startswith("MRPCZeroShot:train_sample overlaps this model's training data MRPCZeroShot:train:")
    assert "1000 of its 1000 pairs" in message
    assert not (models / "refused").exists()
    # STS-B's test split repeats 12 training pairs of its own: reported, not refused
    from rwkv_mteb.training.data import row_digests, task_rows
    from rwkv_mteb.training.overlap import refuse_overlap

    train_rows, test_rows = task_rows("STSBenchmarkZeroShot", "train"), task_rows("STSBenchmarkZeroShot", "test")
    by_hand = {frozenset((a, b)) for a, b in zip(train_rows["sentence1"], train_rows["sentence2"], strict=True)}
    repeated = sum(
        frozenset((a, b)) in by_hand for a, b in zip(test_rows["sentence1"], test_rows["sentence2"], strict=True)
    )
    assert repeated == 12  # of 1,379: under the 1% limit
    trained = set(row_digests(train_rows))
    assert refuse_overlap("STSBenchmarkZeroShot", "test", trained, "STSBenchmarkZeroShot:train") == repeated


def test_a_bad_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "x"\nhead = "lstm"\n')
    with pytest.raises(RwkvMtebError, match=r"^training config: head: Input should be"):
        load_spec(bad, {})
    with pytest.raises(RwkvMtebError, match="train: Value error, 'MRPC' must read TASK:SPLIT"):
        load_spec(None, {"model": "x", "train": "MRPC"})


def test_the_content_word_share_by_hand():
    from rwkv_mteb.training.inspect import content_share, words

    pieces = ["Hello", ",", " world", " of", " cats", "."]  # the World tokenizer's pieces of "Hello, world of cats."
    grouped = words(pieces, [0.1, 0.1, 0.2, 0.2, 0.3, 0.1])
    assert [(w["word"], w["kind"]) for w in grouped] == [
        ("Hello", "content"), (",", "punctuation"), ("world", "content"), ("of", "stopword"), ("cats", "content"),
        (".", "punctuation"),
    ]  # fmt: skip
    share = content_share([{"words": grouped}])
    assert share["trained"] == pytest.approx(0.1 + 0.2 + 0.3) and share["mean_pooling"] == pytest.approx(3 / 6)
    spelled = words(["c", "a", "t", "s", " ", "r", "u", "n", "!"], [1 / 9] * 9)  # byte-level
    assert [(w["word"], w["tokens"]) for w in spelled] == [("cats", 4), ("run", 4), ("!", 1)]
