"""How soon the QLoRA tab shows a loss, and how soon the model speaks like a pirate.

Run: HF_HUB_OFFLINE=1 .venv/bin/python bench/train_first_loss.py [--steps 40] [--every 5]

1. **First loss point**: a fresh process (model cache warm, libraries not yet imported by a run)
   calls the tab's Train handler with the default settings, as a click does; printed: seconds until
   the handler yields its first loss point (target <= 15 s), and what the loading took.
2. **Behaviour vs training time**: the default run continues; every ``--every`` steps the clock is
   paused and the adapted model answers the whole pirate eval split (31 held-out prompts, greedy,
   48 new tokens); printed: training seconds, loss, and the pirate behaviour score (target >= 80 %
   within 120 s of training), plus the forgetting check. The peer is the base model's score (0 %).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import warnings  # noqa: E402

warnings.filterwarnings("ignore")


def first_loss_seconds() -> tuple[float, str]:
    """Seconds from the click's handler call to its first loss point (UI handler, default settings)."""
    from lab.ui import training as ui

    t0 = time.perf_counter()
    gen = ui.train_run({"runs": [], "count": 0}, **dataclasses.asdict(ui.Settings(steps=3)))
    for out in gen:
        status = out[ui.OUTPUTS.index("status")]
        if isinstance(status, str) and "| 1 / 3 |" in status:
            first = time.perf_counter() - t0
            gen.close()
            return first, status
    raise RuntimeError("no loss point came")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--every", type=int, default=5)
    ns = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")

    first, status = first_loss_seconds()
    print(f"first loss point {first:.1f} s after the Train handler was called (target <= 15 s)")

    from lab import data, evaluation, training

    cfg = training.TrainConfig(steps=ns.steps, out_dir=str(Path(os.environ.get("TMPDIR", "/tmp")) / "bench-first-loss"))
    run = training.TrainingRun(cfg)
    prompts, refs = evaluation.eval_prompts(data.load_sft_dataset("pirate", "eval")["messages"])
    print(f"default settings: {cfg.steps} steps x {cfg.batch_size} examples, r={cfg.r}, lr={cfg.learning_rate:g}; "
          f"scored on {len(prompts)} held-out prompts")
    print(f"{'step':>5s} {'training s':>11s} {'loss':>6s} {'pirate score':>13s} {'forgetting':>11s} {'eval s':>7s}")
    train_s, reached = 0.0, None
    for log in run.steps():
        train_s += log.step_s
        if log.step % ns.every and log.step != cfg.steps:
            continue
        t0 = time.perf_counter()
        ev = evaluation.evaluate(run.model, run.tokenizer, "pirate", prompts, refs)
        print(f"{log.step:5d} {train_s:11.1f} {log.loss:6.3f} {100 * ev.score:12.0f}% "
              f"{sum(ev.correct):>7d} / {len(ev.correct)} {time.perf_counter() - t0:7.1f}", flush=True)
        if reached is None and ev.score >= 0.8:
            reached = (log.step, train_s, ev.score)
    if reached:
        print(f"pirate score >= 80 % first at step {reached[0]}: {reached[1]:.0f} s of training "
              f"({100 * reached[2]:.0f} %; target: within 120 s)")
    else:
        print("pirate score never reached 80 %")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
