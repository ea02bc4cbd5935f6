"""Run BlinkDL's RWKV-7 (PyPI `rwkv` 0.8.32) on a checkpoint, in its own process: the package picks its RWKV-7
code path from RWKV_V7_ON when it is first imported, and the RWKV-6 parity tests import it without that switch.
With RWKV_ORACLE_V6=1 the switch stays off and the same script runs an RWKV-6 checkpoint.

usage: python tests/rwkv7_oracle.py CHECKPOINT.pth OUT.pt TOKENS_JSON
Writes {"sequence": [(logits, state)], "stepwise": [(logits, state)]} for each token list.
"""

import json
import os
import sys

if os.environ.get("RWKV_ORACLE_V6") != "1":
    os.environ["RWKV_V7_ON"] = "1"
os.environ["RWKV_JIT_ON"] = "0"
os.environ["RWKV_CUDA_ON"] = "0"

import torch
from rwkv.model import RWKV


def main() -> None:
    pth, out, tokens = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    model = RWKV(pth.removesuffix(".pth"), strategy="cpu fp32")
    results = {"sequence": [], "stepwise": []}
    for seq in tokens:
        logits, state = model.forward(list(seq), None)
        results["sequence"].append((logits.clone(), [s.clone() for s in state]))
        state = None
        for token in seq:
            logits, state = model.forward([token], state)
        results["stepwise"].append((logits.clone(), [s.clone() for s in state]))
    torch.save(results, out)


if __name__ == "__main__":
    main()
