"""The Ray executor: units of work on actors that load a model once and hold one GPU each (or a share of the
CPUs), on a local Ray instance or a cluster (``--address`` / ``RAY_ADDRESS``).

- ``sweep``: the encode pass is cut into shards of the distinct texts still missing from the vector cache
  (longest first, so each shard has nearly equal lengths); actors return pooled vectors of every layer and the
  driver stores them in the cache, shard by shard. MTEB then evaluates each layer variant on the driver, every
  sentence served from the cache: result files, profiles and provenance are the local executor's own.
- ``protocol``: one unit per (model, task), run in an actor by the same code as the local protocol (MTEB's
  result file, profile and provenance written to the shared output folder); an actor keeps its last model
  loaded and is given that model's units first.

Fault tolerance is Ray's: a worker process that dies is restarted and its unit retried (a unit's output lands
whole or not at all: cache rows keyed by content, result files replaced atomically, so nothing is counted
twice); a unit that keeps failing is reported with its error after the others have finished, and a rerun
skips what finished.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rwkv_mteb.errors import RwkvMtebError

logger = logging.getLogger(__name__)
WORKER_VAR = "RWKV_MTEB_WORKER"
RETRIES = 3  # restarts of a dead worker, and retries of a unit that failed
# the driver's settings every worker needs (a cluster's workers do not inherit the driver's environment)
FORWARDED_PREFIXES = ("RWKV_MTEB_", "HF_", "TRANSFORMERS_", "TOKENIZERS_")


def worker_label(device: str | None = None) -> str:
    """Which process (and device) did the work: the Ray worker's label, else host:pid."""
    label = os.environ.get(WORKER_VAR) or f"{socket.gethostname()}:{os.getpid()}"
    return f"{label} ({device})" if device else label


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


@dataclass
class Failure:
    unit: str
    error: str


def run_units(
    ray: Any,
    actors: list[Any],
    units: list[Any],
    call: Callable[[int, Any], Any],
    on_result: Callable[[Any, Any], None],
    describe: Callable[[Any], str] = str,
    prefer: Callable[[int, Any], bool] | None = None,
) -> list[Failure]:
    """Run every unit on the first free actor (``call(actor index, unit)`` submits it; ``prefer(actor index,
    unit)`` picks among waiting units), hand each result to ``on_result`` as it arrives, and return the units
    that failed after Ray's retries."""
    waiting = list(units)
    free = list(range(len(actors)))
    running: dict[Any, tuple[int, Any]] = {}
    failures: list[Failure] = []
    while waiting or running:
        while waiting and free:
            index = free.pop(0)
            pick = next((u for u in waiting if prefer and prefer(index, u)), waiting[0])
            waiting.remove(pick)
            running[call(index, pick)] = (index, pick)
        (ref,), _ = ray.wait(list(running), num_returns=1)
        index, unit = running.pop(ref)
        free.append(index)
        try:
            result = ray.get(ref)
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
