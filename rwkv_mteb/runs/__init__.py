"""The commands that run evaluations: the protocol, the sweep (dry run, encode pass, layer metrics) and the Ray
executor."""
