"""``rwkv-mteb protocol``: the seed paper's protocol, extended: every model on every task's splits, MTEB's result
files, profiles and provenance; on this machine, or on a Ray cluster (one unit per model and task), and with
sentence-transformers' own multi-process encoding across ``devices`` for the plain baselines."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import mteb
from mteb.results import ModelResult
from sentence_transformers import SentenceTransformer
from tqdm.auto import tqdm

from rwkv_mteb.errors import RwkvMtebError
from rwkv_mteb.layerwise.encoder import LayerwiseEncoder
from rwkv_mteb.provenance.profiling import profile
from rwkv_mteb.provenance.sidecars import prediction_folder
from rwkv_mteb.registry import register
from rwkv_mteb.runs import ray as on_ray


def load_profiled(name: str, device: str | None) -> Any:
    start = time.perf_counter()
    return profile(mteb.get_model(name, device=device), load_seconds=time.perf_counter() - start)


def evaluate(
    model: Any,
    tasks: list[Any],
    out: Path,
    batch_size: int,
    overwrite_strategy: str,
    devices: list[str] | None = None,
    show_progress_bar: bool = True,
) -> Any:
    """MTEB's evaluation of one loaded model, written to ``out`` (result files, profiles, provenance)."""
    encode_kwargs: dict[str, Any] = {"batch_size": batch_size}
    pool = start_pool(model, devices) if devices else None
    if pool is not None:
        encode_kwargs["pool"] = pool
    try:
        return mteb.evaluate(
            model,
            tasks,
            cache=mteb.ResultCache(out),
            prediction_folder=prediction_folder(out, model.mteb_model_meta),
            encode_kwargs=encode_kwargs,
            overwrite_strategy=overwrite_strategy,
            show_progress_bar=show_progress_bar,
        )
    finally:
        if pool is not None:
            model.model.stop_multi_process_pool(pool)


def start_pool(model: Any, devices: list[str]) -> dict[str, Any]:
    """sentence-transformers' multi-process pool: one process per device, each with a copy of the model."""
    st = getattr(model, "model", None)
    name = model.mteb_model_meta.name
    if not isinstance(st, SentenceTransformer) or (len(st) and isinstance(st[0], LayerwiseEncoder)):
        raise RwkvMtebError(
            f"--devices encodes plain sentence-transformers models (SBERT, SimCSE) on several devices; {name} is "
            "not one: drop --devices for it, or run layer-wise models with --executor ray"
        )
    profiler = model._rwkv_mteb_profiler
    profiler.devices = ",".join(devices)
    with profiler.hook_detached():  # each process gets a copy of the model (tokens are then not counted)
        return st.start_multi_process_pool(devices)


def protocol(
    *,
    models: list[str],
    tasks: list[str],
    output_folder: Path,
    batch_size: int = 32,
    device: str | None = None,
    eval_splits: list[str] | None = None,
    overwrite_strategy: str = "only-missing",
    devices: list[str] | None = None,
    executor: str = "local",
    address: str | None = None,
    workers: int | None = None,
) -> list[Any]:
    """MTEB's ``ModelResult`` of every model, in the order given."""
    register()
    if executor == "ray":
        return protocol_on_ray(
            models, tasks, output_folder, batch_size, device, eval_splits, overwrite_strategy, address, workers
        )
    task_objects = mteb.get_tasks(tasks=tasks, eval_splits=eval_splits)
    results = []
    for name in models:
        print(f"== {name}", flush=True)
        model = load_profiled(name, device)
        results.append(evaluate(model, task_objects, output_folder, batch_size, overwrite_strategy, devices))
    return results


class ProtocolWorker:
    """A Ray actor: evaluates (model, task) units, keeping the last model it loaded."""

    def __init__(self, index: int, device: str | None, threads: int) -> None:
        on_ray.init_worker(index, threads)
        self.device = device
        self.loaded: tuple[str, Any] | None = None

    def run(
        self, unit: tuple[str, str], eval_splits: list[str] | None, out: str, batch_size: int, overwrite: str
    ) -> Any:
        name, task_name = unit
        if self.loaded is None or self.loaded[0] != name:
            self.loaded = None  # free the previous model first
            self.loaded = (name, load_profiled(name, self.device))
        tasks = mteb.get_tasks(tasks=[task_name], eval_splits=eval_splits)
        return evaluate(self.loaded[1], tasks, Path(out), batch_size, overwrite, show_progress_bar=False)


def protocol_on_ray(
    models: list[str],
    task_names: list[str],
    out: Path,
    batch_size: int,
    device: str | None,
    eval_splits: list[str] | None,
    overwrite_strategy: str,
    address: str | None,
    workers: int | None,
) -> list[Any]:
    """One unit per (model, task), ordered by model so that an actor mostly keeps the model it has loaded."""
    ray = on_ray.start(address)
    units = [(m, t) for m in models for t in task_names]
    count, resources, threads = on_ray.worker_shape(ray, workers)
    cls = on_ray.actor_class(ray, ProtocolWorker, resources)
    actors = [cls.remote(i, device, threads) for i in range(min(count, len(units)))]
    done: dict[tuple[str, str], Any] = {}
    progress = tqdm(total=len(units), desc=f"protocol on Ray, {len(actors)} workers")

    def call(actor: Any, unit: tuple[str, str]) -> Any:
        return actor.run.remote(unit, eval_splits, str(out), batch_size, overwrite_strategy)

    def on_result(unit: tuple[str, str], result: Any) -> None:
        done[unit] = result
        progress.update()

    try:
        failures = on_ray.run_units(actors, units, call, on_result, describe=lambda u: f"{u[0]} on {u[1]}")
    finally:
        progress.close()
        for actor in actors:
            ray.kill(actor)
    on_ray.report_failures(failures, len(done), "units")
    results = []
    for name in models:
        task_results = [r for t in task_names for r in done[(name, t)].task_results]
        first = done[(name, task_names[0])]
        results.append(
            ModelResult(model_name=first.model_name, model_revision=first.model_revision, task_results=task_results)
        )
    return results
