"""The profiling hook's overhead: the same encoder's ``encode`` with and without the hook, alternated, on
MRPC validation sentences through MTEB's own data loader. Goal: under 1% of the encode time."""

from __future__ import annotations

import argparse
import os
import time

from _common import SHARED_DATA, report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--models", nargs="+", default=["stanfordnlp/glove.6B.50d", "sentence-transformers/all-MiniLM-L6-v2"]
    )
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("RWKV_MTEB_DATA_DIR", str(SHARED_DATA))
    import mteb
    from datasets import Dataset
    from mteb._create_dataloaders import create_dataloader
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper

    import rwkv_mteb
    from rwkv_mteb.provenance.profiling import profile

    task = mteb.get_task("MRPCZeroShot")
    task.load_data()
    texts = list(task.dataset["validation"]["sentence1"]) + list(task.dataset["validation"]["sentence2"])
    loader = create_dataloader(
        Dataset.from_dict({"text": texts}), task_metadata=task.metadata, input_column="text", batch_size=32
    )
    results = {}
    for name in args.models:
        model = rwkv_mteb.load_encoder(name)
        plain = SentenceTransformerEncoderWrapper(model)
        profiled = profile(SentenceTransformerEncoderWrapper(model))
        kwargs = {
            "task_metadata": task.metadata,
            "hf_split": "validation",
            "hf_subset": "default",
            "show_progress_bar": False,
        }
        times: dict[str, list[float]] = {"plain": [], "profiled": []}
        for _ in range(args.rounds):
            for label, wrapper in (("plain", plain), ("profiled", profiled)):
                start = time.perf_counter()
                wrapper.encode(loader, **kwargs)
                times[label].append(time.perf_counter() - start)
        best = {k: min(v[1:]) for k, v in times.items()}  # first round: warm-up
        results[name] = {
            "seconds_plain": best["plain"],
            "seconds_profiled": best["profiled"],
            "overhead": best["profiled"] / best["plain"] - 1,
            "sentences": len(texts),
        }
    report("profiler_overhead", {"models": results, "rounds": args.rounds, "goal": "overhead < 1%"})


if __name__ == "__main__":
    main()
