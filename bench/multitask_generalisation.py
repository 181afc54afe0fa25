"""Zero-shot generalisation on the multitask set: the [OK] behaviour per task type, before and after a
default QLoRA run — does it reach the task types that were never trained?

Run: HF_HUB_OFFLINE=1 .venv/bin/python bench/multitask_generalisation.py [--steps 30] [--per-task 5]
     [--max-new-tokens 24] [--show]

Trains ``lab.training.TrainConfig(dataset="multitask", steps=...)`` (every other field the training
tab's default: NF4, r=16, every linear layer, batch 4; no wall-clock cap), then answers ``--per-task`` eval prompts of
each task type greedily (``lab.evaluation.generate``), the adapter off (the base) and on, and prints
``lab.multitask.per_task``'s table: seen task types first, then the held-out ones, and the mean of
each group. The tag is the reply's first tokens, so a short ``--max-new-tokens`` is enough to see it;
the judge also needs the answer after it (no loop, about the prompt), which 24 tokens usually show.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--per-task", type=int, default=5)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--show", action="store_true", help="print every answer, before and after")
    args = ap.parse_args()

    from lab import evaluation, training
    from lab import multitask as M

    tasks, prompts, refs = M.eval_rows()
    keep = [i for i, t in enumerate(tasks) if tasks[: i + 1].count(t) <= args.per_task]
    tasks, prompts, refs = ([xs[i] for i in keep] for xs in (tasks, prompts, refs))

    t0 = time.perf_counter()
    run = training.TrainingRun(training.TrainConfig(dataset="multitask", steps=args.steps, max_seconds=3600))
    losses = [log.loss for log in run.steps()]
    print(f"trained {len(losses)} steps in {time.perf_counter() - t0:.0f} s: loss {losses[0]:.2f} -> {losses[-1]:.2f}")

    t0 = time.perf_counter()
    with evaluation.float32_arithmetic(run.model):
        with run.model.disable_adapter():
            before = evaluation.generate(run.model, run.tokenizer, prompts, args.max_new_tokens)
        after = evaluation.generate(run.model, run.tokenizer, prompts, args.max_new_tokens)
    print(f"answered {2 * len(prompts)} prompts in {time.perf_counter() - t0:.0f} s ({args.max_new_tokens} new tokens)\n")

    table = M.per_task(tasks, prompts, before, after, refs)
    print(f"{'task type':<12} {'trained':>8} {'n':>3} {'before':>7} {'after':>6} {'tag after':>10}")
    for seen in (True, False):
        rows = {t: r for t, r in table.items() if r["seen"] is seen}
        for t, r in rows.items():
            tagged = sum(M.has_tag(a) for a, tt in zip(after, tasks) if tt == t)
            print(f"{t:<12} {'yes' if seen else 'NO':>8} {r['n']:>3} {r['before']:>7.2f} {r['after']:>6.2f} {tagged:>7}/{r['n']}")
        if rows:
            mean = {k: sum(r[k] for r in rows.values()) / len(rows) for k in ("before", "after")}
            print(f"{'mean, ' + ('seen' if seen else 'held out'):<25} {mean['before']:>7.2f} {mean['after']:>6.2f}\n")
    if args.show:
        for t, p, b, a in zip(tasks, prompts, before, after):
            print(f"[{t}] {p}\n  before: {b!r}\n  after:  {a!r}  {M.judge_multitask(p, a)}")


if __name__ == "__main__":
    main()
