"""Reading RWKV-6 checkpoints: both layouts, shards, and every way a checkpoint can be wrong."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from rwkv_mteb.errors import CheckpointError
from rwkv_mteb.rwkv.checkpoint import load_rwkv, make_checkpoint


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], atol=0, rtol=0)


def test_hf_and_pth_layouts_load_the_same_model(tmp_path):
    hf = make_checkpoint(tmp_path / "hf", layers=2, hidden=64, vocab=300, seed=7)
    pth = make_checkpoint(tmp_path / "pth", layers=2, hidden=64, vocab=300, seed=7, fmt="pth")
    same_weights(load_rwkv(hf, with_head=True), load_rwkv(pth, with_head=True))
    same_weights(load_rwkv(hf), load_rwkv(pth.parent))  # a folder holding one .pth works too


def test_sharded_safetensors(tmp_path):
    hf = make_checkpoint(tmp_path / "hf", layers=2, hidden=64, vocab=300, seed=7)
    state = load_file(str(hf / "model.safetensors"))
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    keys = sorted(state)
    halves = {
        "model-00001-of-00002.safetensors": keys[: len(keys) // 2],
        "model-00002-of-00002.safetensors": keys[len(keys) // 2 :],
    }
    weight_map = {}
    for file, part in halves.items():
        save_file({k: state[k] for k in part}, str(sharded / file))
        weight_map |= dict.fromkeys(part, file)
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    shutil.copy(hf / "config.json", sharded / "config.json")
    same_weights(load_rwkv(hf), load_rwkv(sharded))


def test_truncated_checkpoint(tmp_path):
    hf = make_checkpoint(tmp_path / "hf", layers=2, hidden=64, vocab=300)
    data = (hf / "model.safetensors").read_bytes()
    (hf / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_rwkv(hf)


def test_config_that_disagrees_with_the_weights(tmp_path):
    hf = make_checkpoint(tmp_path / "hf", layers=2, hidden=64, vocab=300)
    config = json.loads((hf / "config.json").read_text())
    config["num_hidden_layers"] = 24
    (hf / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="num_hidden_layers=24, but the weights have 2"):
        load_rwkv(hf)


def test_missing_tensor(tmp_path):
    hf = make_checkpoint(tmp_path / "hf", layers=2, hidden=64, vocab=300)
    state = load_file(str(hf / "model.safetensors"))
    del state["rwkv.blocks.1.attention.time_faaaa"]
    save_file(state, str(hf / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"missing \['rwkv\.blocks\.1\.attention\.time_faaaa'\]"):
        load_rwkv(hf)


def test_inconsistent_shapes(tmp_path):
    hf = make_checkpoint(tmp_path / "hf", layers=2, hidden=64, vocab=300)
    state = load_file(str(hf / "model.safetensors"))
    state["rwkv.blocks.1.feed_forward.value.weight"] = torch.zeros(64, 100)
    save_file(state, str(hf / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"feed_forward\.value\.weight has shape \(64, 100\)"):
        load_rwkv(hf)


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_rwkv(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="holds no model.safetensors"):
        load_rwkv(tmp_path / "empty")
    (tmp_path / "bad.pth").write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError, match="not a readable .pth"):
        load_rwkv(tmp_path / "bad.pth")
