"""`rwkv-mteb train`: build the model a :class:`~rwkv_mteb.training.spec.TrainSpec` describes, fit it with
sentence-transformers' trainer and loss, save it as an ordinary sentence-transformers folder with its training
record (:mod:`rwkv_mteb.training.record`), and evaluate it through MTEB like any other model."""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from rwkv_mteb.errors import RwkvMtebError
from rwkv_mteb.training import data, inspect
from rwkv_mteb.training.overlap import refuse_overlap, text_digest
from rwkv_mteb.training.record import TRAINING_FILE, WEIGHTS_FILE, TrainingRecord, folder_revision, write_rows
from rwkv_mteb.training.spec import TrainSpec


def build(spec: TrainSpec) -> tuple[Any, Any]:
    """(the SentenceTransformer to train, its backbone): encoder or token states, head, optional projection."""
    from sentence_transformers.base.modules import Dense

    from rwkv_mteb.layerwise.encoder import LayerwiseModel
    from rwkv_mteb.models.builders import layerwise_encoder
    from rwkv_mteb.models.catalog import LANGUAGE_MODELS_BY_NAME
    from rwkv_mteb.training.heads import AttentionPooling, ScalarMix
    from rwkv_mteb.training.tokens import TokenStates

    if spec.model not in LANGUAGE_MODELS_BY_NAME:
        raise RwkvMtebError(f"cannot train {spec.model!r}: not a language model rwkv-mteb serves (`rwkv-mteb models`)")
    frozen = spec.backbone == "frozen"
    family = LANGUAGE_MODELS_BY_NAME[spec.model].family
    encoder = layerwise_encoder(
        spec.model, family=family, layers=[0], device=spec.device, dtype=spec.dtype, cache=frozen
    )
    backbone, width = encoder.backbone, encoder.backbone.hidden_size
    layer = spec.layer if spec.layer is not None else backbone.num_hidden_states // 2
    layers = list(range(backbone.num_hidden_states)) if spec.head == "scalar-mix" else [layer]
    encoder = encoder.view(layers)
    if spec.head == "attention":
        first: Any = TokenStates(backbone, layer, model_id=spec.model)
        modules = [first, AttentionPooling(width)]
    else:
        first = encoder
        modules = [encoder, *([ScalarMix(len(layers), width)] if spec.head == "scalar-mix" else [])]
    if spec.projection:
        modules.append(Dense(width, spec.projection, activation_function=torch.nn.Identity()))
    first.save_backbone = not frozen  # a frozen backbone is named, not copied
    model = LayerwiseModel(modules=modules, device=str(backbone.device), similarity_fn_name="cosine")
    return model, backbone


def prepare_backbone(spec: TrainSpec, backbone: Any) -> int:
    """Freeze it, or open it to gradients (all weights, or LoRA adapters); the trainable parameter count."""
    if spec.backbone == "frozen":
        backbone.requires_grad_(False)
        return 0
    if spec.backbone == "lora":
        from rwkv_mteb.training.lora import add_lora

        count = add_lora(backbone.model, spec.lora_rank, spec.lora_alpha, spec.seed)
    else:
        backbone.requires_grad_(True)
        count = sum(p.numel() for p in backbone.parameters())
    backbone.differentiable = True
    return count


def has_dropout(backbone: Any) -> bool:
    return any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in backbone.modules())


def fit(spec: TrainSpec, model: Any, dataset: Any, work: Path) -> tuple[list[dict[str, Any]], int]:
    """Train; (the loss log, optimiser steps)."""
    from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.training_args import SentenceTransformerTrainingArguments

    args = SentenceTransformerTrainingArguments(
        output_dir=str(work),
        num_train_epochs=spec.epochs,
        max_steps=spec.max_steps,
        per_device_train_batch_size=spec.batch_size,
        learning_rate=spec.rate(),
        warmup_steps=0.1,  # a float: the share of the steps
        seed=spec.seed,
        data_seed=spec.seed,
        logging_steps=max(1, min(10, len(dataset) // spec.batch_size // 10)),
        save_strategy="no",
        report_to=[],
        use_cpu=str(model.device) == "cpu",
        bf16=spec.dtype == "bfloat16" and str(model.device) != "cpu",
        dataloader_drop_last=spec.objective in ("mnrl", "simcse"),
        disable_tqdm=False,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=dataset, loss=data.loss_for(spec.objective, model)
    )
    trainer.train()
    log = [e for e in trainer.state.log_history if "loss" in e]
    return log, trainer.state.global_step


def train(spec: TrainSpec, out: Path, command: list[str] | None = None) -> TrainingRecord:
    """Build, fit, save and record; the record (also ``out/training.json``)."""
    from transformers import set_seed

    if out.exists() and any(out.iterdir()):
        raise RwkvMtebError(f"{out} exists and is not empty: choose a new --out folder (nothing was trained)")
    set_seed(spec.seed)
    model, backbone = build(spec)
    base_revision = backbone.revision
    trainable = prepare_backbone(spec, backbone)
    task, split = spec.train.split(":")
    rows = data.task_rows(task, split)
    if spec.max_rows:
        rows = rows.select(range(min(spec.max_rows, len(rows))))
    for item in spec.evaluate:  # before any training: a refused evaluation costs nothing
        refuse_overlap(*item.split(":"), set(data.row_digests(rows)), spec.train)
    dataset, made = data.examples(task, rows, spec.objective, has_dropout(backbone), spec.seed)
    before = {k: v.detach().clone() for k, v in backbone.state_dict().items()} if spec.backbone == "frozen" else None
    seen, start = model[0].tokens_trained, time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        log, steps = fit(spec, model, dataset, Path(work))
    seconds = time.perf_counter() - start
    if before is not None and any(not torch.equal(before[k], v) for k, v in backbone.state_dict().items()):
        raise AssertionError("a frozen backbone changed during training")  # guarded by a test; never expected
    if spec.backbone == "lora":
        from rwkv_mteb.training.lora import merge_lora

        merge_lora(backbone.model)
    backbone.differentiable = False
    backbone.requires_grad_(False)
    model.save(str(out))
    if spec.head == "attention":  # the weights of 16 held-out texts, for the page and the content-word share
        shown = data.task_rows(*(spec.evaluate[0] if spec.evaluate else spec.train).split(":"))
        texts = list(dict.fromkeys([*shown["sentence1"][:8], *shown["sentence2"][:8]]))
        (out / WEIGHTS_FILE).write_text(json.dumps(inspect.export(model, texts), indent=1) + "\n")
    texts = sorted({text_digest(t) for t in [*rows["sentence1"], *rows["sentence2"]]})
    write_rows(out, data.row_digests(rows), texts)
    record = TrainingRecord(
        name=spec.name or f"trained/{out.resolve().name}",
        spec=spec,
        base_model=spec.model,
        base_revision=base_revision,
        train_rows=len(rows),
        examples=len(dataset),
        examples_made=made,
        steps=steps,
        seconds=seconds,
        # the model's own rate only when every step ran it forward and backward; a frozen head read cached vectors
        # (the tokens of the training steps' forward passes: not the model card's dataset statistics)
        tokens_per_second=None if spec.backbone == "frozen" else (model[0].tokens_trained - seen) / seconds,
        trainable_parameters=trainable + sum(p.numel() for m in list(model)[1:] for p in m.parameters()),
        loss_log=log,
        final_loss=log[-1]["loss"] if log else None,
        command=shlex.join(command or ["rwkv-mteb", "train", *sys.argv[2:]]),
    )
    (out / TRAINING_FILE).write_text(record.model_dump_json(indent=2) + "\n")
    record.revision = folder_revision(out)
    (out / TRAINING_FILE).write_text(record.model_dump_json(indent=2) + "\n")
    return record


def describe(record: TrainingRecord) -> str:
    loss = f"{record.final_loss:.4f}" if record.final_loss is not None else "n/a"
    return (
        f"trained {record.name} ({record.spec.head} head, backbone {record.spec.backbone}) on {record.spec.train}: "
        f"{record.examples} examples, {record.steps} steps, {record.seconds:.1f} s, final loss {loss}; "
        f"revision {record.revision}"
    )


def to_json(record: TrainingRecord) -> dict[str, Any]:
    return json.loads(record.model_dump_json())
