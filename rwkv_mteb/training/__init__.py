"""Trained heads and fine-tuning (`rwkv-mteb train`): sentence-transformers' trainer and losses on our encoders."""
