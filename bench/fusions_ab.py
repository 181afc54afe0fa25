"""What each fused node of a training step is worth: one process, the same batches, interleaved.

Run: HF_HUB_OFFLINE=1 .venv/bin/python bench/fusions_ab.py [--reps 6] [--batches 6]

Forward + backward of the lab's training step (bundled model, NF4, default settings, compute dtype of
this machine) on the same batches, four ways, each batch run by every way in turn so that the
machine's drift (±15 % within minutes on a shared 2-core VM) falls on all of them alike:

    A  LoRA nodes (lab.fused) only; the LM head and loss through F.cross_entropy on fp32 logits
    B  A + the LM head and loss as one node (lab.packing.HeadLoss)
    C  B + each decoder layer as one node (lab.fused_layer) — what lab.training runs
    D  A + the decoder-layer nodes, without HeadLoss

Printed: median tokens/s of each, and the median over batches of its ratio to A (the first repetition
is a warm-up and not counted).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from lab import fused, fused_layer, packing, training  # noqa: E402

WAYS = {"A  LoRA nodes only": (False, False), "B  + HeadLoss": (False, True),
        "C  + decoder-layer nodes (the lab)": (True, True), "D  decoder-layer nodes, no HeadLoss": (True, False)}


def _cross_entropy_head(h, w, targets, total):
    """The unfused LM head and loss (what HeadLoss replaces): logits, their fp32 copy, cross-entropy."""
    return F.cross_entropy(F.linear(h, w).float(), targets, reduction="sum") / total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=6)
    parser.add_argument("--batches", type=int, default=6)
    ns = parser.parse_args()
    run = training.TrainingRun(training.TrainConfig())
    run.setup()
    print(f"compute dtype {run.compute_dtype}; torch threads {torch.get_num_threads()}; "
          f"load average {os.getloadavg()[0]:.2f}")
    order = packing.batches(len(run.examples), run.config.batch_size, run.config.seed)
    batches = [training.pack([run.examples[i] for i in next(order)]) for _ in range(ns.batches)]
    rates = {name: [] for name in WAYS}
    try:
        for rep in range(ns.reps):
            for b in batches:
                for name, (layers, head) in WAYS.items():
                    if head and "apply" in vars(packing.HeadLoss):
                        del packing.HeadLoss.apply  # back to torch.autograd.Function's own apply
                    elif not head:
                        packing.HeadLoss.apply = _cross_entropy_head
                    t0 = time.perf_counter()
                    with contextlib.ExitStack() as stack:
                        stack.enter_context(packing.packed_attention_mode(run.model))
                        stack.enter_context(fused.fused_lora(run.model))
                        if layers:
                            stack.enter_context(fused_layer.fused_layers(run.model))
                        stack.enter_context(run.autocast())
                        loss = training.gathered_loss(run.causal_lm, b)
                    loss.backward()
                    run.model.zero_grad(set_to_none=True)
                    if rep:
                        rates[name].append(b.tokens / (time.perf_counter() - t0))
    finally:
        if "apply" in vars(packing.HeadLoss):
            del packing.HeadLoss.apply
    base = rates[next(iter(WAYS))]
    print(f"{'way':40s} {'tokens/s':>9s} {'ratio to A':>11s}")
    for name, r in rates.items():
        ratio = statistics.median(x / y for x, y in zip(r, base))
        print(f"{name:40s} {statistics.median(r):9.0f} {ratio:10.3f}x")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
