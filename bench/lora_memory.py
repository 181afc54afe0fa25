"""Peak memory of one training step on this CPU — full fine-tuning, LoRA, QLoRA — beside the estimate.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/lora_memory.py [--batch 4] [--seq 256] [--rank 8] [--gc]

Each method runs in its own subprocess on the bundled SmolLM2-135M (so one run's freed memory cannot
hide the next one's peak). Inside it we measure, relative to the process after its imports:

- ``weights``: resident memory (RSS) after loading the model (+ wrapping it with peft);
- ``saved``: bytes of the tensors autograd saves for backward (``saved_tensors_hooks``, each storage
  once, parameters excluded): the *activations* term, measured exactly;
- ``peak``: the highest RSS seen during two steps (forward, backward, AdamW step), sampled every
  millisecond, minus the baseline. The children run with ``MALLOC_MMAP_THRESHOLD_=65536`` so that
  large tensors are mmapped and returned to the OS when freed: RSS then follows the live tensors
  instead of glibc's cache (without it, freed activations stay resident and LoRA's peak reads ~1.5 GB
  higher).

Full and LoRA train in fp32 (CPU). QLoRA loads the weights in NF4 with the compute dtype the lab
picks for this CPU (bf16 on CPUs with native bf16, else fp32); its LoRA adapters are fp32 (peft's
default). Each line prints the measured peak, ``lab.lora.estimate_memory`` for the same
settings, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1e6


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakSampler:
    """Samples RSS in a thread; ``peak`` is the maximum seen since start()."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss())
            time.sleep(0.001)

    def __enter__(self):
        self.peak = rss()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())


def child(method: str, batch: int, seq: int, rank: int, gc: bool) -> dict:
    """One method, measured in this (fresh) process."""
    import torch
    from peft import LoraConfig, get_peft_model

    from lab import models

    torch.manual_seed(0)
    torch.ones(64, 64) @ torch.ones(64, 64)  # load the BLAS kernels before the baseline
    base = rss()
    model = models.load_model(quantization="nf4" if method == "qlora" else None)
    if gc:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    if method != "full":
        model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear"))
    model.train()
    model.config.use_cache = False
    with torch.no_grad():  # page the (memory-mapped) weights in, so RSS holds them before the step
        for p in model.parameters():
            p.view(-1)[::1024].sum() if p.dtype.is_floating_point else p.view(-1)[::1024].max()
    after_load = rss()
    params = [p for p in model.parameters() if p.requires_grad]
    param_ptrs = {p.untyped_storage().data_ptr() for p in model.parameters()}
    opt = torch.optim.AdamW(params, lr=1e-4, foreach=False)
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (batch, seq))
    saved: dict[int, int] = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in param_ptrs:
            saved[s.data_ptr()] = max(saved.get(s.data_ptr(), 0), s.nbytes())
        return t

    with PeakSampler() as sampler:
        for _ in range(2):
            saved.clear()
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                loss = model(input_ids=ids, labels=ids).loss
            saved_bytes = sum(saved.values())
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    trainable = sum(p.numel() for p in params)
    return {
        "method": method, "weights_mb": (after_load - base) / MB, "saved_mb": saved_bytes / MB,
        "peak_mb": (sampler.peak - base) / MB, "trainable": trainable, "loss": float(loss),
        "compute_dtype": str(models.compute_dtype()),
    }


def estimate(method: str, batch: int, seq: int, rank: int, gc: bool, compute_dtype: str) -> dict:
    from lab.lora import activation_bytes, estimate_memory

    precision = 16 if (method == "qlora" and "bfloat16" in compute_dtype) else 32
    # peft keeps LoRA adapters in fp32 (autocast_adapter_dtype=True), also on a bf16 base
    est = estimate_memory("smollm2-135m", method, r=rank, batch_size=batch, seq_len=seq,
                          gradient_checkpointing=gc, precision=precision, adapter_precision=32, overhead_gb=0)
    return {t.name: t.bytes / MB for t in est.terms} | {"total": est.total / MB, "precision": precision}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--gc", action="store_true", help="gradient checkpointing on")
    ap.add_argument("--methods", default="full,lora,qlora")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child, args.batch, args.seq, args.rank, args.gc)))
        return

    print(f"SmolLM2-135M, batch {args.batch} × {args.seq} tokens, LoRA r={args.rank} on all linear layers, "
          f"gradient checkpointing {'on' if args.gc else 'off'}, AdamW, 2 steps; MB = 10^6 bytes\n")
    header = f"{'method':7} {'weights':>9} {'est.':>8} | {'saved act.':>10} {'est. act.':>9} | {'peak':>8} {'est. total':>10} {'peak/est':>8}"
    print(header)
    print("-" * len(header))
    for method in args.methods.split(","):
        cmd = [sys.executable, __file__, "--child", method, "--batch", str(args.batch), "--seq", str(args.seq),
               "--rank", str(args.rank)] + (["--gc"] if args.gc else [])
        # Big blocks through mmap: freed memory goes back to the OS at once, so RSS follows live tensors.
        env = os.environ | {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(f"{method}: failed\n{out.stderr[-2000:]}")
            continue
        m = json.loads(line[7:])
        e = estimate(method, args.batch, args.seq, args.rank, args.gc, m["compute_dtype"])
        print(f"{method:7} {m['weights_mb']:9.0f} {e['weights']:8.0f} | {m['saved_mb']:10.0f} "
              f"{e['activations']:9.0f} | {m['peak_mb']:8.0f} {e['total']:10.0f} {m['peak_mb'] / e['total']:8.2f}")
    print("\nweights: RSS after load vs the estimate's weights term; saved act.: autograd's saved tensors vs the"
          "\nactivations term; peak: highest RSS during the steps vs the estimate's total (no overhead allowance).")


if __name__ == "__main__":
    main()
