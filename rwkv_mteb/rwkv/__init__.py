"""RWKV in pure PyTorch, one file per model (RWKV-6, RWKV-7) in transformers' style, their checkpoints, tokenizers,
and the RWKV-4 converter."""
