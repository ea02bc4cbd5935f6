"""LoRA on any backbone (peft's adapters injected into every linear layer of the language model, so RWKV's own
modules and transformers models alike), and merged back before saving: the saved folder is a plain backbone."""

from __future__ import annotations

from torch import nn


def add_lora(model: nn.Module, rank: int, alpha: float, seed: int) -> int:
    """Freeze ``model`` and inject rank-``rank`` adapters into its linear layers; returns the trainable count."""
    import torch
    from peft import LoraConfig, inject_adapter_in_model

    torch.manual_seed(seed)
    model.requires_grad_(False)
    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules="all-linear", lora_dropout=0.0)
    inject_adapter_in_model(config, model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def merge_lora(model: nn.Module) -> None:
    """Fold every adapter into its base weight and put the base layer back in its place."""
    from peft.tuners.lora import LoraLayer

    for name, module in list(model.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, module.get_base_layer())
