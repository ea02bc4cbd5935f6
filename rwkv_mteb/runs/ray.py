"""The Ray executor: units of work on actors that load a model once and hold one GPU each (or a share of the
CPUs), on a local Ray instance or a cluster (``--address`` / ``RAY_ADDRESS``), handed out by Ray's own
``ActorPool``.

- ``sweep``: the encode pass is cut into shards of the distinct texts still missing from the vector cache
  (longest first, so each shard has nearly equal lengths); :class:`SweepWorker` actors return pooled vectors of
  every layer, with the time and tokens of their own work, and the driver stores them in the cache shard by
  shard (``LayerwiseEncoder.store``, the one way the cache is filled). MTEB then evaluates each layer variant
  on the driver, every sentence served from the cache.
- ``protocol``: one unit per (model, task), run in an actor by the same code as the local protocol
  (:mod:`rwkv_mteb.runs.protocol`); units are ordered by model, and an actor keeps its last model loaded.

Fault tolerance is Ray's: a worker process that dies is restarted and its unit retried (a unit's output lands
whole or not at all: cache rows keyed by content, result files replaced atomically, so nothing is counted
twice); a unit that keeps failing is reported with its error after the others have finished, and a rerun
skips what finished.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

import rwkv_mteb
from rwkv_mteb.config import WORKER_VAR
from rwkv_mteb.errors import RwkvMtebError
from rwkv_mteb.interventions.spec import Intervention
from rwkv_mteb.layerwise.encoder import LayerwiseEncoder
from rwkv_mteb.models.builders import layerwise_encoder
from rwkv_mteb.models.catalog import LANGUAGE_MODELS_BY_NAME
from rwkv_mteb.provenance.identity import worker_label
from rwkv_mteb.provenance.records import WorkerShare
from rwkv_mteb.runs.encode_pass import PassPlan

RETRIES = 3  # restarts of a dead worker, and retries of a unit that failed
SHARD_BATCHES = 2  # batches per sweep unit: small units balance the workers and lose little on a retry
# the driver's settings every worker needs (a cluster's workers do not inherit the driver's environment)
FORWARDED_PREFIXES = ("RWKV_MTEB_", "HF_", "TRANSFORMERS_", "TOKENIZERS_")


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RwkvMtebError(
            "--executor ray needs Ray, which is not installed: pip install 'rwkv-mteb[distributed]'"
        ) from None
    return ray


def start(address: str | None) -> Any:
    """Join the cluster at ``address`` (or ``RAY_ADDRESS``), else start a local instance on this machine."""
    ray = require_ray()
    if not ray.is_initialized():
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, include_dashboard=False, log_to_driver=False)
    return ray


def worker_shape(ray: Any, workers: int | None) -> tuple[int, dict[str, float], int]:
    """(number of actors, resources of each, torch threads of each): one GPU each when the cluster has GPUs,
    else an equal share of its CPUs."""
    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    if gpus:
        count = workers or gpus
        return count, {"num_gpus": 1, "num_cpus": 1}, max(1, cpus // count)
    count = workers or cpus
    share = max(1, cpus // count)
    return count, {"num_cpus": share}, share


def actor_class(ray: Any, cls: type, resources: dict[str, float]) -> Any:
    """``cls`` as a Ray actor that Ray restarts when its process dies and whose calls it retries, with the
    driver's rwkv-mteb and Hugging Face settings as they are now."""
    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_PREFIXES)}
    actor = ray.remote(max_restarts=RETRIES, max_task_retries=RETRIES)(cls)
    return actor.options(runtime_env={"env_vars": env}, **resources)


def init_worker(index: int, threads: int) -> None:
    """What every actor does first: its share of the CPU threads, and the label its profiles and rows carry."""
    import ray

    rwkv_mteb.register()  # a worker process imports our modules before mteb: register explicitly
    torch.set_num_threads(threads)
    os.environ[WORKER_VAR] = f"ray-worker-{index}@{ray.util.get_node_ip_address()}:{os.getpid()}"


@dataclass
class Failure:
    unit: str
    error: str


def run_units(
    actors: list[Any],
    units: list[Any],
    call: Callable[[Any, Any], Any],
    on_result: Callable[[Any, Any], None],
    describe: Callable[[Any], str] = str,
) -> list[Failure]:
    """Every unit on the first free actor (``call(actor, unit)`` submits it), each result handed to
    ``on_result`` in submission order; returns the units that failed after Ray's retries."""
    from ray.util import ActorPool

    pool = ActorPool(actors)
    for unit in units:
        pool.submit(call, unit)
    failures: list[Failure] = []
    for position, unit in enumerate(units):
        if not pool.has_next():  # every actor died: what was still waiting never ran
            failures += [Failure(describe(u), "no Ray worker was left alive to run it") for u in units[position:]]
            break
        try:
            result = pool.get_next()
        except Exception as exc:  # a unit's own error after its retries, or a worker that could not be revived
            failures.append(Failure(describe(unit), f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1]}"))
            continue
        on_result(unit, result)
    return failures


def report_failures(failures: Iterable[Failure], done: int, what: str) -> None:
    failures = list(failures)
    if failures:
        lines = "\n".join(f"  {f.unit}: {f.error}" for f in failures)
        raise RwkvMtebError(
            f"{len(failures)} {what} failed after {RETRIES} retries (the {done} others finished and are kept):\n"
            f"{lines}\nfix the cause and rerun the same command: finished work is skipped"
        )


# ------------------------------------------------------------------------------------------ the sweep's pass


class SweepWorker:
    """A Ray actor holding one copy of the language model (no cache of its own)."""

    def __init__(self, index: int, model: str, device: str | None, dtype: str | None, threads: int) -> None:
        init_worker(index, threads)
        family = LANGUAGE_MODELS_BY_NAME[model].family
        self.encoder = layerwise_encoder(model, family=family, layers=[0], device=device, dtype=dtype, cache=False)

    def pool(
        self,
        token_ids: list[list[int]],
        starts: list[int],
        layers: list[int],
        poolings: tuple[str, ...],
        batch: int,
        ablate: str = "none",
    ) -> tuple[str, str, dict[str, np.ndarray], float]:
        """(worker label, checkpoint identity and dtype, {pooling: vectors (n, len(layers), C)}, seconds)."""
        start = time.perf_counter()
        backbone = self.encoder.backbone
        with backbone.intervened(Intervention.parse(ablate)):
            parts = [
                backbone.pooled_many(token_ids[i : i + batch], layers, poolings, starts[i : i + batch])
                for i in range(0, len(token_ids), batch)
            ]
        vectors = {p: np.concatenate([part[p].cpu().numpy() for part in parts]) for p in poolings}
        return worker_label(str(backbone.device)), backbone.cache_name(), vectors, time.perf_counter() - start


class RayEncodePass:
    """Starts the workers at once (they load the model while the driver prepares the data); ``run`` does one
    prompt's pass; ``close`` lets them go."""

    def __init__(self, model: str, device: str | None, dtype: str | None, address: str | None, workers: int | None):
        self.model = model
        self.ray = start(address)
        count, resources, threads = worker_shape(self.ray, workers)
        cls = actor_class(self.ray, SweepWorker, resources)
        self.actors = [cls.remote(i, model, device, dtype, threads) for i in range(count)]

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []

    def run(self, encoder: LayerwiseEncoder, plan: PassPlan) -> dict[str, WorkerShare]:
        """Pool the plan's missing texts on the workers and store them; returns what each worker did."""
        texts, token_ids, starts, batch_size = plan.texts, plan.token_ids, plan.starts, plan.batch_size
        if not self.actors:
            raise RwkvMtebError("the Ray workers of this sweep were let go; start another RayEncodePass")
        computed, poolings = encoder.computed_layers(), encoder.session.poolings
        size = batch_size * SHARD_BATCHES
        shards = [plan.missing[i : i + size] for i in range(0, len(plan.missing), size)]
        identity = encoder.backbone.cache_name()  # the same weights, in the same dtype
        shares: dict[str, WorkerShare] = {}
        progress = tqdm(total=len(plan.missing), desc=f"{self.model}: all layers, one pass on Ray", disable=not shards)

        def call(actor: Any, shard: list[int]) -> Any:
            ids, begins = [token_ids[i] for i in shard], [starts[i] for i in shard]
            return actor.pool.remote(ids, begins, computed, poolings, batch_size, encoder.ablate.name)

        def on_result(shard: list[int], result: tuple[str, str, dict[str, np.ndarray], float]) -> None:
            label, their_identity, vectors, seconds = result
            if their_identity != identity:
                raise RwkvMtebError(
                    f"a Ray worker ({label}) loaded other weights (or another dtype) for {self.model} than this "
                    f"process ({their_identity[:16]} vs {identity[:16]}): give every machine the same checkpoint "
                    "(shared storage, RWKV_MTEB_MODEL_PATHS)"
                )
            encoder.store([texts[i] for i in shard], vectors, label, plan.pass_id)
            share = shares.setdefault(label, WorkerShare(sentences=0, tokens=0, seconds=0.0))
            share.sentences += len(shard)
            share.tokens += sum(len(token_ids[i]) for i in shard)
            share.seconds += seconds
            progress.update(len(shard))

        def describe(shard: list[int]) -> str:
            return f"{len(shard)} texts from {texts[shard[0]][:40]!r}"

        failures = run_units(self.actors, shards, call, on_result, describe)
        progress.close()
        report_failures(failures, len(shards) - len(failures), "shards of the encode pass")
        return shares
