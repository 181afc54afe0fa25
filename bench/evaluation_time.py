"""How long the training tab's evaluation takes: the base and the adapted model on 32 pirate eval
prompts (48 new tokens) and the forgetting probes (PROBE_MAX_NEW_TOKENS), plus the general-text loss.

Run: HF_HUB_OFFLINE=1 .venv/bin/python bench/evaluation_time.py [--batches 8,16,32] [--prompts 32] [--compare]

The model is the bundled one in NF4 with fresh LoRA layers (peft, as a run has them; B = 0, so the
"after" answers equal the base's, which the timing does not care about). The disk cache points at a
temporary directory. Printed, for each EVAL_BATCH tried: seconds and peak extra RSS of

1. ``before_after`` with nothing cached (the base's answers and the adapted model's: what a server's
   first run of a dataset pays);
2. ``before_after`` again, the base read from the in-memory cache (every later run);
3. ``before_after`` with only the disk cache (what a restarted server's first run pays).

``--compare`` repeats it all with ``EXACT_ARITHMETIC`` off (the compute precision, bf16 on CPUs with
AVX512-BF16): what the fp32 arithmetic costs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import warnings  # noqa: E402

warnings.filterwarnings("ignore")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="8,16,32")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--compare", action="store_true", help="also time it in the compute precision (EXACT_ARITHMETIC off)")
    args = ap.parse_args()

    import torch

    from lab import data, evaluation, memory, models, training
    from probe_baseline import PeakRSS

    torch.set_num_threads(os.cpu_count() or 1)
    memory.configure()
    evaluation.CACHE_DIR = Path(tempfile.mkdtemp(prefix="eval-cache-"))
    cfg = training.TrainConfig()
    model = training.wrap_lora(models.load_model(quantization="nf4"), cfg)
    run = SimpleNamespace(config=cfg, model=model, tokenizer=models.shared_tokenizer(), deadline=None,
                          eval_chats=data.load_sft_dataset("pirate", "eval"))
    n_prompts = min(args.prompts, len(run.eval_chats))
    print(f"{n_prompts} pirate eval prompts x {evaluation.MAX_NEW_TOKENS} tokens + {len(evaluation.PROBES)} probes x "
          f"{evaluation.PROBE_MAX_NEW_TOKENS} tokens (probe batch {evaluation.PROBE_BATCH}) + general-text loss; "
          f"{torch.get_num_threads()} threads")
    for exact, batch in [(e, int(b)) for e in ((True, False) if args.compare else (True,))
                         for b in args.batches.split(",")]:
        evaluation.EXACT_ARITHMETIC, evaluation.EVAL_BATCH = exact, batch
        arithmetic = "fp32" if exact else str(models.compute_dtype()).replace("torch.", "")
        for case in ("nothing cached", "base in memory", "base on disk"):
            if case != "base in memory":
                evaluation._base_cache.clear()
            if case == "nothing cached":
                for f in evaluation.CACHE_DIR.glob("base-*.json"):
                    f.unlink()
            memory.release()
            seen = []
            with PeakRSS() as rss:
                t0, c0 = time.perf_counter(), time.process_time()
                before, after = evaluation.before_after(run, n_prompts, on_progress=lambda d, t: seen.append((d, t)))
                seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            print(f"{arithmetic}, EVAL_BATCH {batch:2d}, {case:15s}: {seconds:5.1f} s ({cpu:5.1f} s CPU), "
                  f"{seen[-1][1]:3d} answers generated, peak RSS +{rss.extra_mb:.0f} MB; probe accuracy "
                  f"{before.probe_accuracy:.3f} -> {after.probe_accuracy:.3f}, general loss "
                  f"{before.general_loss:.3f} -> {after.general_loss:.3f}", flush=True)

if __name__ == "__main__":
    main()
