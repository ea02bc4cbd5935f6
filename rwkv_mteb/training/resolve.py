"""How MTEB finds a trained model: ``mteb run -m <folder>`` resolves the folder to a model named by its record,
revisioned by the folder's content digest, whose encoder refuses a split it was trained on
(:mod:`rwkv_mteb.training.overlap`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rwkv_mteb.training.record import folder_revision, read_record


def trained_meta(name: str) -> Any:
    """The ModelMeta of a trained folder given as a model name; None for anything else."""
    try:
        record = read_record(Path(name))
    except OSError:
        return None
    if record is None:
        return None
    from rwkv_mteb.models.catalog import LANGUAGE_MODELS_BY_NAME, _meta

    lm = LANGUAGE_MODELS_BY_NAME.get(record.base_model)
    task = record.spec.train.split(":")[0]
    return _meta(
        record.name,
        loader=trained_loader,
        # base and trained_on: what the board reads back from the saved model_meta.json
        loader_kwargs={"folder": str(Path(name).resolve()), "base": record.base_model, "trained_on": record.spec.train},
        revision=record.revision,
        adapted_from=record.base_model,
        training_datasets={task},
        n_parameters=lm.n_parameters if lm else None,
        public_training_code="https://pypi.org/project/rwkv-mteb/",
        reference=None,
    )


def trained_loader(name: str, revision: str | None = None, device: Any = None, *, folder: str, **_: Any) -> Any:
    """The loader MTEB calls: ``SentenceTransformer(folder)`` in our wrapper, which checks every split against
    the training rows before encoding it."""
    import time

    from sentence_transformers import SentenceTransformer

    from rwkv_mteb.models.loader import torch_device
    from rwkv_mteb.provenance.profiling import profile
    from rwkv_mteb.training.overlap import TrainedEncoder

    start = time.perf_counter()
    # our module classes live outside sentence_transformers.*, which sentence-transformers 6 imports only on trust
    model = SentenceTransformer(folder, device=torch_device(device), local_files_only=True, trust_remote_code=True)
    meta = trained_meta(folder)
    encoder = TrainedEncoder(model, meta, folder_revision(Path(folder)), Path(folder))
    return profile(encoder, load_seconds=time.perf_counter() - start)
