"""The measured memory timeline's peak for full fine-tuning, LoRA and QLoRA, beside the calculator's estimate.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/paging_timeline.py [--steps 3] [--spike-seq 1024] [--rank 16]

Each method runs ``lab.paging.measure_ledger`` in its own subprocess on the bundled SmolLM2-135M (so that one
run's freed memory cannot hide the next one's growth): a few steps of short pirate chats and one step on a
long conversation (the activation spike). Per method it prints:

- the ledger at its peak (tensor hooks: weights, gradients, optimizer states, saved activations), the
  process memory above its baseline at that moment (RSS), and their ratio;
- ``lab.lora.memory.estimate_memory`` for the long batch (batch 1 x the spike length, no gradient
  checkpointing, no overhead allowance; full fine-tuning at precision 32 = fp32 weights and gradients,
  LoRA / QLoRA at 16 with fp32 adapters, as trained here) — term by term, and its total (which adds the
  gradients to the activations: the ledger never holds both at their peak at once);
- the smallest GPU each run fits on without and with a paged optimizer (``lab.paging.min_capacity``), and
  how many optimizer-state tensors a paged optimizer would page (bitsandbytes: numel >= 100,000);
- the seconds each measurement took.

Then the LLaMA-65B QLoRA facts from the calculator: the longest sequence one step may read on a 48 GB GPU,
without and with paging. MB = 10^6 bytes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1e6
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)  # its optional CPU kernel (see lab.training)


def child(method: str, steps: int, spike_seq: int, rank: int) -> dict:
    from lab import models, paging

    tok = models.shared_tokenizer()
    cfg = paging.TimelineConfig(method=method, r=rank, steps=steps, spike_step=min(2, steps), spike_seq_len=spike_seq)
    t0, c0 = time.perf_counter(), time.process_time()
    ledger = paging.measure_ledger(cfg, tokenizer=tok)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = ledger.peak()
    return {
        "method": method, "seconds": seconds, "cpu_seconds": cpu, "step_seconds": [round(s.seconds, 1) for s in ledger.steps],
        "tokens": [s.tokens for s in ledger.steps], "peak": {c: peak.category(c) for c in paging.CATEGORIES},
        "total": peak.total, "process": peak.process, "process_peak": ledger.peak_process(),
        "max_gradients": max(e.gradients for e in ledger.events),
        "min_gpu": paging.min_capacity(ledger, False), "min_gpu_paged": paging.min_capacity(ledger, True),
        "paged": sum(s.paged for s in ledger.states), "states": len(ledger.states),
        "largest_state": max(s.numel for s in ledger.states),
    }


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def estimate(method: str, spike_seq: int, rank: int) -> dict:
    from lab.lora import estimate_memory

    precision = 32 if method == "full" else 16
    est = estimate_memory("smollm2-135m", method, r=rank, batch_size=1, seq_len=spike_seq, gradient_checkpointing=False,
                          precision=precision, adapter_precision=32, overhead_gb=0)
    return {t.name: t.bytes for t in est.terms} | {"total": est.total, "precision": precision}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--spike-seq", type=int, default=1024)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--methods", default="full,lora,qlora")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child, args.steps, args.spike_seq, args.rank)))
        return

    print(f"SmolLM2-135M: {args.steps} steps of 2 pirate chats (<= 128 tokens each), step 2 on one {args.spike_seq}-token "
          f"conversation; LoRA r={args.rank} on all linear layers; AdamW; load average {os.getloadavg()[0]:.1f}\n")
    head = (f"{'method':7} | {'ledger peak':>11} {'process':>8} {'ratio':>5} | {'estimate':>8} {'ratio':>5} | "
            f"{'weights':>13} {'grads':>11} {'optimizer':>13} {'activations':>13} | {'GPU min':>7} {'paged':>7} "
            f"{'states paged':>12} | {'time':>5}")
    print(head)
    print(f"{'':7} | {'MB':>11} {'MB':>8} {'':>5} | {'MB':>8} {'':>5} | {'meas. / est.':>13} {'meas./est.':>11} "
          f"{'meas. / est.':>13} {'meas. / est.':>13} | {'MB':>7} {'MB':>7} {'':>12} | {'s':>5}")
    print("-" * len(head))
    total_s = total_cpu = 0.0
    for method in args.methods.split(","):
        cmd = [sys.executable, __file__, "--child", method, "--steps", str(args.steps), "--spike-seq",
               str(args.spike_seq), "--rank", str(args.rank)]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(f"{method}: failed\n{out.stderr[-2000:]}")
            continue
        m = json.loads(line[7:])
        e = estimate(method, args.spike_seq, args.rank)
        total_s += m["seconds"]
        total_cpu += m["cpu_seconds"]
        p = m["peak"]
        pair = lambda a, b: f"{a / MB:,.0f}/{b / MB:,.0f}"  # noqa: E731
        print(f"{method:7} | {m['total'] / MB:11,.0f} {m['process'] / MB:8,.0f} {m['total'] / m['process']:5.2f} | "
              f"{e['total'] / MB:8,.0f} {m['total'] / e['total']:5.2f} | {pair(p['weights'], e['weights']):>13} "
              f"{pair(m['max_gradients'], e['gradients']):>11} {pair(p['optimizer'], e['optimizer']):>13} "
              f"{pair(p['activations'], e['activations']):>13} | {m['min_gpu'] / MB:7,.0f} "
              f"{m['min_gpu_paged'] / MB:7,.0f} {m['paged']:>5} of {m['states']:<4}| {m['seconds']:5.0f}")
        print(f"{'':7}   steps {m['step_seconds']} s for {m['tokens']} tokens ({m['cpu_seconds']:.0f} s of CPU in all); largest state tensor "
              f"{m['largest_state']:,} elements; highest process memory {m['process_peak'] / MB:,.0f} MB")
    print(f"\nmeasuring all: {total_s:.0f} s wall, {total_cpu:.0f} s of CPU time (model loads included; on an idle"
          f" machine the wall time lies between the CPU time / {torch_threads()} threads and the CPU time)")
    print("ledger peak: at the end of the long batch's forward pass; process: RSS above the baseline at that moment;"
          "\nestimate: lab.lora.memory for batch 1 x the spike length; GPU min: the smallest GPU the replay finishes"
          "\non, without / with a paged optimizer (lab.paging.min_capacity).")

    from lab import paging

    no = paging.longest_spike("llama-65b", 48, paged=False, r=64, seq_len=512)
    yes = paging.longest_spike("llama-65b", 48, paged=True, r=64, seq_len=512)
    ledger = paging.estimate_ledger("llama-65b", "qlora", r=64, seq_len=512, spike_seq_len=4096)
    rep = paging.replay(ledger, 48e9, paged=True)
    print(f"\nLLaMA-65B QLoRA (calculator: r=64 all linear, batch 1, gradient checkpointing, 0.5 GB overhead) on 48 GB:"
          f"\n  longest sequence in one step: {no:,} tokens without paging, {yes:,} with a paged optimizer"
          f"\n  a 4,096-token step: {paging.summary(ledger, paging.replay(ledger, 48e9, paged=False))}"
          f"\n  with paging: {paging.summary(ledger, rep)}")


if __name__ == "__main__":
    main()
