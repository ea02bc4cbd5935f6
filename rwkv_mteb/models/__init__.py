"""The models rwkv-mteb serves: their MTEB declarations (catalog), where their weights come from, the loader MTEB
calls, the builders, and the wrapper that makes them MTEB encoders."""
