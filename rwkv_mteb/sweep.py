"""``rwkv-mteb sweep``: every requested layer of a language model from one pass over the data.

The pass pools all layers of every distinct sentence of the tasks' splits into the vector cache; each layer
variant is then evaluated by MTEB as usual (its standard result file), its sentences served from the cache.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from rwkv_mteb.model_metas import LANGUAGE_MODELS_BY_NAME, variant_name


def sweep(
    model: str,
    tasks: list[str],
    layers: list[int] | None = None,
    pooling: str = "mean",
    output_folder: Path = Path("results"),
    batch_size: int = 32,
    device: str | None = None,
    eval_splits: list[str] | None = None,
    overwrite_strategy: str = "only-missing",
    show_progress_bar: bool = True,
    executor: str = "local",
    address: str | None = None,
    workers: int | None = None,
) -> list:  # type: ignore[type-arg]
    """Returns MTEB's ``ModelResult`` of each layer variant. ``executor="ray"``: the encode pass runs on Ray
    actors (:mod:`rwkv_mteb.distributed`); everything else is the same."""
    import mteb

    from rwkv_mteb import load_encoder
    from rwkv_mteb.errors import ModelUnavailableError
    from rwkv_mteb.profiling import profile
    from rwkv_mteb.rwkv.layerwise import LayerwiseModel
    from rwkv_mteb.rwkv.vector_cache import VectorCache
    from rwkv_mteb.seams import Encoder

    if model not in LANGUAGE_MODELS_BY_NAME:
        raise ModelUnavailableError(
            f"sweep needs a language model rwkv-mteb knows: one of {sorted(LANGUAGE_MODELS_BY_NAME)}"
        )
    on_ray = None
    if executor == "ray":  # workers start (and load the model) while this process loads its copy and the data
        from rwkv_mteb.sweep_on_ray import RayEncodePass

        on_ray = RayEncodePass(model, device, pooling, address, workers)
    try:
        start = time.perf_counter()
        encoder = load_encoder(model, device=device, layers=[0], pooling=pooling)[0]
        load_seconds = time.perf_counter() - start
        # default: every hidden state of the checkpoint actually loaded
        layers = list(range(encoder.backbone.num_hidden_states)) if layers is None else layers
        encoder = encoder.with_layers(layers)
        if encoder.cache is None:  # the disk cache is switched off: keep this run's vectors in memory
            encoder.cache = VectorCache(Path(":memory:"))
        task_objects = mteb.get_tasks(tasks=tasks, eval_splits=eval_splits)
        unique = distinct_texts(task_objects)
        token_ids = encoder.tokenizer(unique)
        order = sorted(range(len(unique)), key=lambda i: -len(token_ids[i]))  # batches of equal token counts
        if on_ray is not None:
            on_ray.run(encoder, unique, token_ids, order, batch_size)
    finally:
        if on_ray is not None:
            on_ray.close()
    if on_ray is None:  # (on Ray, the pass is done: every row is in the cache, or the run stopped)
        for start in tqdm(
            range(0, len(order), batch_size), desc=f"{model}: all layers, one pass", disable=not show_progress_bar
        ):
            rows = order[start : start + batch_size]
            encoder.pooled_layers([unique[i] for i in rows], [token_ids[i] for i in rows])

    # diagnostics on a seeded sample of the distinct sentences, read back batch by batch: memory stays bounded
    # whatever the number of sentences swept
    sample = diagnostic_sample(sorted(unique, key=len, reverse=True))  # the published boards' draw
    vectors = np.concatenate(
        [encoder.pooled_layers(sample[i : i + batch_size]) for i in range(0, len(sample), batch_size)]
    )
    write_diagnostics(model, pooling, layers, vectors, Path(output_folder), tasks, swept=len(unique))
    del vectors

    results = []
    cache = mteb.ResultCache(output_folder)
    for layer in tqdm(layers, desc="MTEB results per layer", disable=not show_progress_bar):
        name = variant_name(model, layer, pooling)
        view = LayerwiseModel(modules=[encoder.with_layers([layer])], device=str(encoder.backbone.device))
        wrapper = profile(Encoder(view, mteb.get_model_meta(name), revision=encoder.revision), load_seconds)
        result = mteb.evaluate(
            wrapper,
            task_objects,
            cache=cache,
            overwrite_strategy=overwrite_strategy,
            show_progress_bar=False,
            encode_kwargs={"batch_size": batch_size},
            prediction_folder=Path(output_folder) / "predictions" / wrapper.mteb_model_meta.model_name_as_path(),
        )
        results.append(result)
    return results


def distinct_texts(task_objects: list) -> list[str]:  # type: ignore[type-arg]
    """Every distinct sentence of the tasks' evaluation splits, in order of first appearance."""
    texts: list[str] = []
    for task in task_objects:
        task.load_data()
        for split in task.eval_splits:
            data = task.dataset[split]
            texts += list(data["sentence1"]) + list(data["sentence2"])
    return list(dict.fromkeys(texts))


DIAGNOSTIC_SAMPLE = 1024  # distinct sentences the layer diagnostics are computed on


def diagnostic_sample(texts: list[str], size: int | None = None, seed: int = 0) -> list[str]:
    """A seeded sample of ``texts`` (all of them when there are fewer), in their original order."""
    size = DIAGNOSTIC_SAMPLE if size is None else size
    if len(texts) <= size:
        return list(texts)
    chosen = np.sort(np.random.default_rng(seed).choice(len(texts), size=size, replace=False))
    return [texts[i] for i in chosen]


def write_diagnostics(
    model: str,
    pooling: str,
    layers: list[int],
    vectors,
    output_folder: Path,  # type: ignore[no-untyped-def]
    tasks: list[str],
    swept: int | None = None,
) -> Path:
    """Per-layer diagnostics of the swept sentences, beside the results (read by the leaderboard)."""
    from rwkv_mteb.diagnostics import layer_diagnostics
    from rwkv_mteb.files import atomic_write_json, diagnostics_path

    rows = layer_diagnostics(vectors)
    for row, layer in zip(rows, layers, strict=True):
        row["layer"] = layer
    path = diagnostics_path(output_folder, model, pooling)
    atomic_write_json(
        path,
        {
            "model": model,
            "pooling": pooling,
            "tasks": sorted(tasks),
            "sentences": int(vectors.shape[0]),
            "sentences_swept": swept,
            "layers": rows,
        },
    )
    return path
