"""The `rwkv-mteb` subcommands that live outside cli.py, one module per group: each adds its parser and
runs its command (heavy imports inside the command, so `rwkv-mteb --help` stays fast)."""
