"""Declarative tasks: task files (spec), the task types they may declare, reading their splits, and the MTEB task
classes made from them."""
