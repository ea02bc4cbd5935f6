"""``rwkv-mteb sweep``: every requested layer, pooling and prompt of a language model from one forward pass per
distinct text and prompt, on any task MTEB evaluates with an encoder.

The sweep never reads a task's columns. A dry run lets MTEB evaluate the tasks against stand-in vectors and
records every text it asks the encoder for; the pass then pools every requested layer (and pooling) of those
texts into the vector cache, longest first; and each variant ``(layer, pooling, prompt)`` is evaluated by MTEB
as usual (its standard result file), its texts served from the cache.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from rwkv_mteb.model_metas import LANGUAGE_MODELS_BY_NAME, PROMPT_VARIANTS, layerwise_meta, variant_name


def select_tasks(
    tasks: Sequence[str] | None = None,
    task_types: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    benchmarks: Sequence[str] | None = None,
    eval_splits: Sequence[str] | None = None,
) -> list:  # type: ignore[type-arg]
    """The task selection of ``mteb run``: benchmarks, else names / types / languages / categories."""
    import mteb

    from rwkv_mteb.errors import TaskDefinitionError

    if benchmarks:
        return [task for benchmark in mteb.get_benchmarks(names=list(benchmarks)) for task in benchmark.tasks]
    selected = list(
        mteb.get_tasks(
            tasks=list(tasks) if tasks else None,
            task_types=list(task_types) if task_types else None,
            languages=list(languages) if languages else None,
            categories=list(categories) if categories else None,
            eval_splits=list(eval_splits) if eval_splits else None,
        )
    )
    for task in selected:  # a task file says which splits it has: fail before any model loads
        spec = getattr(task, "spec", None)
        missing = [s for s in eval_splits or () if spec is not None and s not in spec.splits]
        if missing:
            raise TaskDefinitionError(
                f"task {spec.name} has no split(s) {missing} (it has {list(spec.splits)}); sweep it with its own "
                "--eval-splits in a separate command"
            )
    return selected


def sweep(
    model: str,
    tasks: Sequence[str] | None = None,
    layers: list[int] | None = None,
    poolings: Sequence[str] = ("mean",),
    prompts: Sequence[str] = ("none",),
    output_folder: Path = Path("results"),
    batch_size: int = 32,
    device: str | None = None,
    eval_splits: list[str] | None = None,
    overwrite_strategy: str = "only-missing",
    show_progress_bar: bool = True,
    executor: str = "local",
    address: str | None = None,
    workers: int | None = None,
    dtype: str | None = None,
    task_types: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    benchmarks: Sequence[str] | None = None,
) -> list:  # type: ignore[type-arg]
    """Returns MTEB's ``ModelResult`` of each variant. ``executor="ray"``: the encode pass runs on Ray actors
    (:mod:`rwkv_mteb.distributed`); everything else is the same."""

    from rwkv_mteb import load_encoder
    from rwkv_mteb.errors import ModelUnavailableError
    from rwkv_mteb.rwkv.layerwise import Memo
    from rwkv_mteb.rwkv.prompts import Prompt
    from rwkv_mteb.rwkv.vector_cache import VectorCache

    if model not in LANGUAGE_MODELS_BY_NAME:
        raise ModelUnavailableError(
            f"sweep needs a language model rwkv-mteb knows: one of {sorted(LANGUAGE_MODELS_BY_NAME)}"
        )
    methods = [Prompt.of(p) for p in dict.fromkeys(prompts)]  # bad templates fail before anything loads
    poolings = list(dict.fromkeys(poolings))
    if not methods or not poolings:
        raise ValueError("a sweep needs at least one prompt and one pooling")
    on_ray = None
    if executor == "ray":  # workers start (and load the model) while this process loads its copy and the data
        from rwkv_mteb.sweep_on_ray import RayEncodePass

        on_ray = RayEncodePass(model, device, dtype, address, workers)
    try:
        start = time.perf_counter()
        base = load_encoder(model, device=device, layers=[0], pooling=poolings[0], dtype=dtype)[0]
        load_seconds = time.perf_counter() - start
        # default: every hidden state of the checkpoint actually loaded
        layers = list(range(base.backbone.num_hidden_states)) if layers is None else list(layers)
        base = base.with_layers(layers)
        if base.cache is None:  # the disk cache is switched off: keep this run's vectors in memory
            base.cache = VectorCache(Path(":memory:"))
        task_objects = select_tasks(tasks, task_types, languages, categories, benchmarks, eval_splits)
        per_task = texts_mteb_encodes(base, task_objects, batch_size)
        texts = list(dict.fromkeys(t for task_texts in per_task.values() for t in task_texts))
        samples = {task: diagnostic_sample(task_texts) for task, task_texts in per_task.items()}
        results = []
        for prompt in methods:
            encoder = base.with_layers(layers, poolings[0], prompt=prompt)
            encoder.together = tuple(poolings)
            encoder.memo = Memo()  # this prompt's rows, for its variants' evaluations (freed with the next prompt)
            token_ids, starts = encoder.encode_texts(texts)
            order = sorted(range(len(texts)), key=lambda i: -len(token_ids[i]))  # batches of equal token counts
            label = f"{model}: all layers, prompt={prompt.name}, one pass"
            if on_ray is not None:
                on_ray.run(encoder, texts, token_ids, starts, order, batch_size)
            else:
                for first in tqdm(range(0, len(order), batch_size), desc=label, disable=not show_progress_bar):
                    rows = order[first : first + batch_size]
                    encoder.pooled_layers(
                        [texts[i] for i in rows], [token_ids[i] for i in rows], [starts[i] for i in rows]
                    )
            token_metrics = {task: token_level_metrics(encoder, sample) for task, sample in samples.items()}
            for pooling in poolings:
                view = encoder.with_layers(layers, pooling)
                for task, sample in samples.items():
                    swept = len(per_task[task])
                    write_diagnostics(model, view, task, sample, token_metrics[task], Path(output_folder), swept)
                for layer in tqdm(layers, desc=f"MTEB, {pooling}/{prompt.name}", disable=not show_progress_bar):
                    results.append(
                        evaluate_variant(
                            view.with_layers([layer]), prompt, task_objects, Path(output_folder), batch_size,
                            overwrite_strategy, load_seconds,
                        )
                    )  # fmt: skip
    finally:
        if on_ray is not None:
            on_ray.close()
    return results


def variant_meta(model: str, layer: int, pooling: str, prompt: Any) -> Any:
    """The registered meta of a variant, or one made for it (a user template, an unregistered combination)."""
    import mteb

    name = variant_name(model, layer, pooling, prompt.name)
    if pooling in PROMPT_VARIANTS.get(prompt.name, ()):
        return mteb.get_model_meta(name)
    return layerwise_meta(LANGUAGE_MODELS_BY_NAME[model], layer, pooling, prompt.name, prompt.template)


def evaluate_variant(
    view: Any,
    prompt: Any,
    task_objects: list,  # type: ignore[type-arg]
    output_folder: Path,
    batch_size: int,
    overwrite_strategy: str,
    load_seconds: float,
) -> Any:
    import mteb

    from rwkv_mteb.profiling import profile
    from rwkv_mteb.rwkv.layerwise import LayerwiseModel
    from rwkv_mteb.seams import Encoder

    meta = variant_meta(view.model_id, view.layers[0], view.pooling, prompt)
    task_objects = [as_new(task) for task in task_objects]
    model = LayerwiseModel(modules=[view], device=str(view.backbone.device))
    wrapper = profile(Encoder(model, meta, revision=view.revision), load_seconds)
    return mteb.evaluate(
        wrapper,
        task_objects,
        cache=mteb.ResultCache(output_folder),
        overwrite_strategy=overwrite_strategy,
        show_progress_bar=False,
        encode_kwargs={"batch_size": batch_size},
        prediction_folder=output_folder / "predictions" / wrapper.mteb_model_meta.model_name_as_path(),
    )


def as_new(task: Any) -> Any:
    """The task as ``mteb.get_task`` makes it (its random state freshly seeded), its loaded data shared: every
    variant samples the same clustering subsets and classifier training sets as a separate ``mteb run``."""
    from mteb._set_seed import _set_seed

    fresh = copy.copy(task)
    fresh.rng_state, fresh.np_rng = _set_seed(task.seed)
    return fresh


def texts_mteb_encodes(encoder: Any, task_objects: list, batch_size: int) -> dict[str, list[str]]:  # type: ignore[type-arg]
    """Per task, every distinct text MTEB asks an encoder for, in order of first request: a dry run of the
    evaluation against stand-in vectors (nothing is written), so no task's columns are read here."""
    import mteb

    from rwkv_mteb.rwkv.layerwise import LayerwiseModel
    from rwkv_mteb.seams import Encoder

    recorder = encoder.with_layers([encoder.layers[0]])
    model = LayerwiseModel(modules=[recorder], device=str(encoder.backbone.device))
    meta = layerwise_meta(LANGUAGE_MODELS_BY_NAME[encoder.model_id], encoder.layers[0], "mean")
    stand_in = Encoder(model, meta.model_copy(update={"name": f"{meta.name} (dry run)"}), revision="dry-run")
    out = {}
    for task in task_objects:
        recorder.recorder = {}
        mteb.evaluate(
            stand_in,
            [as_new(task)],
            cache=None,
            overwrite_strategy="always",
            show_progress_bar=False,
            encode_kwargs={"batch_size": batch_size},
        )
        out[task.metadata.name] = list(recorder.recorder)
    return out


DIAGNOSTIC_SAMPLE = 1024  # distinct texts the layer diagnostics of pooled vectors are computed on
TOKEN_SAMPLE = 128  # of those, texts whose token trajectories are measured (prompt entropy, curvature)


def diagnostic_sample(texts: list[str], size: int | None = None, seed: int = 0) -> list[str]:
    """A seeded sample of ``texts`` (all of them when there are fewer), in their original order."""
    size = DIAGNOSTIC_SAMPLE if size is None else size
    if len(texts) <= size:
        return list(texts)
    chosen = np.sort(np.random.default_rng(seed).choice(len(texts), size=size, replace=False))
    return [texts[i] for i in chosen]


def token_level_metrics(encoder: Any, sample: list[str]) -> list[dict[str, float]]:
    """Per layer, prompt entropy and curvature of the pooled span's token states, on the first texts of the
    sample (one text at a time: no padding enters the trajectories)."""
    from rwkv_mteb.diagnostics import curvature, prompt_entropy

    texts = sample[:TOKEN_SAMPLE]
    token_ids, starts = encoder.encode_texts(texts)
    per_text = [
        encoder.backbone.token_states(ids, encoder.layers)[:, start:]
        for ids, start in zip(token_ids, starts, strict=True)
    ]
    return [
        {
            "prompt_entropy": prompt_entropy([states[k] for states in per_text]),
            "curvature": curvature([states[k] for states in per_text]),
        }
        for k in range(len(encoder.layers))
    ]


def write_diagnostics(
    model: str,
    view: Any,
    task: str,
    sample: list[str],
    token_metrics: list[dict[str, float]],
    output_folder: Path,
    swept: int,
    batch_size: int = 32,
) -> Path:
    """Per-layer label-free metrics of the swept texts, beside the results (read by the leaderboard). The sample's
    vectors are read back batch by batch from the cache: memory stays bounded whatever the number swept."""
    from rwkv_mteb.diagnostics import layer_diagnostics
    from rwkv_mteb.files import atomic_write_json, diagnostics_path

    vectors = np.concatenate(
        [view.pooled_layers(sample[i : i + batch_size]) for i in range(0, len(sample), batch_size)]
    )
    rows = layer_diagnostics(vectors)
    for row, layer, tokens in zip(rows, view.layers, token_metrics, strict=True):
        row.update(tokens, layer=layer)
        row.update({k: None for k, v in row.items() if isinstance(v, float) and not np.isfinite(v)})  # undefined
    prompt = view.method_prompt
    path = diagnostics_path(output_folder, model, view.pooling, prompt.name, task)
    atomic_write_json(
        path,
        {
            "model": model,
            "pooling": view.pooling,
            "prompt": prompt.name,
            "template": prompt.template,
            "revision": view.revision,
            "task": task,
            "sentences": int(vectors.shape[0]),
            "token_sentences": min(len(sample), TOKEN_SAMPLE),
            "sentences_swept": swept,
            "layers": rows,
        },
    )
    return path
