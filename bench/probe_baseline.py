"""The forgetting probes on the base model: accuracy, answers cut short, batch memory and speed.

Run: HF_HUB_OFFLINE=1 .venv/bin/python bench/probe_baseline.py [--probes lab/datasets/probes.jsonl] [--show all|wrong]

The bundled model in NF4, adapter-free (``models.load_model(quantization="nf4")``), answers every
probe greedily, as the training tab's evaluation does. Printed:

1. each probe's verdict (``--show wrong``: only the failed ones) and the **probe accuracy**, the
   number quoted in ``lab/evaluation.py`` and floored by ``tests/test_evaluation.py``;
2. the probes wrong at PROBE_MAX_NEW_TOKENS but right at 32 or 64 new tokens (answers cut before
   their fact), and those right that turn wrong later (the longer answer adds a competitor);
3. seconds and peak extra resident memory (``lab.memory.rss_mb``, sampled) of the probes asked
   from a peft-wrapped model at several batch sizes, and whether the answers equal the first ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import warnings  # noqa: E402

warnings.filterwarnings("ignore")


class PeakRSS:
    """The highest resident set size seen while the context lasts (sampled every 10 ms)."""

    def __enter__(self):
        import threading

        from lab import memory

        self.start = self.peak = memory.rss_mb()
        self._stop = threading.Event()

        def sample():
            while not self._stop.wait(0.01):
                self.peak = max(self.peak, memory.rss_mb())

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def extra_mb(self) -> float:
        return self.peak - self.start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--probes", default=None)
    ap.add_argument("--show", choices=("all", "wrong"), default="wrong")
    ap.add_argument("--batches", default="8,16,24,48", help="batch sizes to time (comma-separated)")
    args = ap.parse_args()

    import torch

    from lab import evaluation, memory, models, training

    torch.set_num_threads(os.cpu_count() or 1)
    memory.configure()
    probes = evaluation.load_probes(args.probes) if args.probes else evaluation.PROBES
    model, tok = models.load_model(quantization="nf4"), models.shared_tokenizer()
    qs = [p.question for p in probes]
    n = evaluation.PROBE_MAX_NEW_TOKENS

    t0 = time.perf_counter()
    short = evaluation.generate(model, tok, qs, n, batch_size=evaluation.PROBE_BATCH)
    t_short = time.perf_counter() - t0
    verdicts = [evaluation.check_probe(p, a) for p, a in zip(probes, short)]
    for p, a, v in zip(probes, short, verdicts):
        if args.show == "all" or not v.passed:
            print(f"{'✓' if v.passed else '✗'} {p.question}\n    {a!r}\n    {'; '.join(v.reasons)}")
    right = sum(v.passed for v in verdicts)
    print(f"\nprobe accuracy of the base model (NF4, adapter-free, greedy, {models.compute_dtype()} weights "
          f"multiplied in fp32): {right} / {len(probes)} = {right / len(probes):.3f} "
          f"({n} new tokens, batch {evaluation.PROBE_BATCH}, {t_short:.1f} s)")

    for longer in (32, 64):
        ans = evaluation.generate(model, tok, qs, longer, batch_size=evaluation.PROBE_BATCH)
        cut = [(p, a) for p, a, v in zip(probes, ans, verdicts) if not v.passed and evaluation.check_probe(p, a).passed]
        worse = [p for p, a, v in zip(probes, ans, verdicts) if v.passed and not evaluation.check_probe(p, a).passed]
        print(f"at {longer} new tokens: {len(cut)} answers right that {n} tokens cut short"
              f"{': ' + '; '.join(p.question for p, _ in cut) if cut else ''}; "
              f"{len(worse)} right at {n} turn wrong later (the longer answer names a competitor)")

    # the probes as the training tab asks them: from a peft model (its LoRA layers in the base model)
    peft_model = training.wrap_lora(model, training.TrainConfig())
    for batch in [int(b) for b in args.batches.split(",")]:
        memory.release()
        with PeakRSS() as rss:
            t0 = time.perf_counter()
            again = evaluation.generate(peft_model, tok, qs, n, batch_size=batch)
            seconds = time.perf_counter() - t0
        print(f"batch {batch:2d} (peft model): {seconds:5.1f} s, peak RSS +{rss.extra_mb:.0f} MB over the model, "
              f"answers {'the same' if again == short else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
