"""The encode pass of ``rwkv-mteb sweep`` on Ray actors (:mod:`rwkv_mteb.distributed`): shards of the distinct
texts still missing from the vector cache, longest first, pooled by workers that each hold one copy of the
model; the driver stores every shard as it arrives, after checking that the worker's checkpoint is byte for byte
its own."""

from __future__ import annotations

from typing import Any

import numpy as np
from tqdm.auto import tqdm

SHARD_BATCHES = 2  # batches per unit: small units balance the workers and lose little on a retry


class SweepWorker:
    """A Ray actor holding one copy of the language model (no cache of its own)."""

    def __init__(self, index: int, model: str, device: str | None, dtype: str | None, threads: int) -> None:
        import os

        import ray
        import torch

        from rwkv_mteb import load_encoder
        from rwkv_mteb.distributed import WORKER_VAR

        torch.set_num_threads(threads)
        os.environ[WORKER_VAR] = f"ray-worker-{index}@{ray.util.get_node_ip_address()}:{os.getpid()}"
        self.encoder = load_encoder(model, device=device, layers=[0], dtype=dtype, cache=False)[0]

    def pool(
        self,
        token_ids: list[list[int]],
        starts: list[int],
        layers: list[int],
        poolings: tuple[str, ...],
        batch_size: int,
    ) -> tuple[str, str, dict[str, np.ndarray]]:
        """(worker label, checkpoint identity and dtype, {pooling: vectors (n, len(layers), C)})."""
        from rwkv_mteb.distributed import worker_label

        backbone = self.encoder.backbone
        parts = [
            backbone.pooled_many(token_ids[i : i + batch_size], layers, poolings, starts[i : i + batch_size])
            for i in range(0, len(token_ids), batch_size)
        ]
        vectors = {p: np.concatenate([part[p].cpu().numpy() for part in parts]) for p in poolings}
        return worker_label(str(backbone.device)), backbone.cache_name(), vectors


class RayEncodePass:
    """Starts the workers at once (they load the model while the driver prepares the data); ``run`` does one
    prompt's pass; ``close`` lets them go."""

    def __init__(self, model: str, device: str | None, dtype: str | None, address: str | None, workers: int | None):
        from rwkv_mteb.distributed import actor_class, start, worker_shape

        self.model = model
        self.ray = start(address)
        count, resources, threads = worker_shape(self.ray, workers)
        cls = actor_class(self.ray, SweepWorker, resources)
        self.actors = [cls.remote(i, model, device, dtype, threads) for i in range(count)]

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []

    def run(
        self,
        encoder: Any,
        unique: list[str],
        token_ids: list[list[int]],
        starts: list[int],
        order: list[int],
        batch_size: int,
    ) -> None:
        from rwkv_mteb.distributed import report_failures, run_units
        from rwkv_mteb.errors import RwkvMtebError
        from rwkv_mteb.rwkv.vector_cache import VectorCache

        if not self.actors:
            raise RwkvMtebError("the Ray workers of this sweep were let go; start another RayEncodePass")
        cache, computed, poolings = encoder.cache, encoder.computed_layers(), encoder.together
        keys = [VectorCache.key(encoder.method(), text) for text in unique]
        have: set[str] = set()
        for i in range(0, len(keys), 500):
            have.update(cache.get(keys[i : i + 500], encoder.layers))
        missing = [i for i in order if keys[i] not in have]
        size = batch_size * SHARD_BATCHES
        shards = [missing[i : i + size] for i in range(0, len(missing), size)]
        identity = encoder.backbone.cache_name()  # the same weights, in the same dtype
        progress = tqdm(total=len(missing), desc=f"{self.model}: all layers, one pass on Ray", disable=not shards)

        def call(index: int, shard: list[int]) -> Any:
            return self.actors[index].pool.remote(
                [token_ids[i] for i in shard], [starts[i] for i in shard], computed, poolings, batch_size
            )

        def on_result(shard: list[int], result: tuple[str, str, np.ndarray]) -> None:
            label, their_identity, vectors = result
            if their_identity != identity:
                raise RwkvMtebError(
                    f"a Ray worker ({label}) loaded other weights (or another dtype) for {self.model} than this "
                    f"process ({their_identity[:16]} vs {identity[:16]}): give every machine the same checkpoint "
                    "(shared storage, RWKV_MTEB_MODEL_PATHS)"
                )
            for pooling, rows in vectors.items():
                method = encoder.method(pooling)
                made = {VectorCache.key(method, unique[i]): rows[n] for n, i in enumerate(shard)}
                cache.put(made, method, computed)
                encoder.produced_by.update(dict.fromkeys(made, label))
                if encoder.memo is not None:
                    encoder.memo.put(made, computed)
            progress.update(len(shard))

        failures = run_units(
            self.ray, self.actors, shards, call, on_result,
            describe=lambda shard: f"{len(shard)} texts from {unique[shard[0]][:40]!r}",
        )  # fmt: skip
        progress.close()
        report_failures(failures, len(shards) - len(failures), "shards of the encode pass")
