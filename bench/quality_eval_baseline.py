"""The quality experiment's eval split on the base model: answer correctness before any training.

Run: HF_HUB_OFFLINE=1 .venv/bin/python bench/quality_eval_baseline.py [--max-new-tokens 24 48]

The bundled model in NF4, adapter-free, answers the 15 questions of ``pirate_curated`` / ``pirate_noisy``
eval greedily (``lab.evaluation.generate``, as the training tab evaluates). Printed per question:
whether the answer states the row's fact (``lab.data_quality.states_answer``), and the answer; then
the correctness and the pirate behaviour score (``lab.evaluation.judge_pirate``: 0 for the base,
which never speaks like a pirate). The questions were chosen so that the base knows them (see
``lab/datasets/pirate_curated/README.md``): correctness near 1 here is by construction.
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
    ap.add_argument("--max-new-tokens", type=int, nargs="+", default=[24, 48])
    args = ap.parse_args()

    from lab import data, evaluation, models
    from lab import data_quality as Q

    prompts, refs = evaluation.eval_prompts(data.load_sft_dataset("pirate_noisy", "eval")["messages"])
    metas = data.bundled_meta("pirate_noisy", "eval")
    model, tokenizer = models.load_model(quantization="nf4"), models.shared_tokenizer()
    for n in args.max_new_tokens:
        t0 = time.perf_counter()
        answers = evaluation.generate(model, tokenizer, prompts, n)
        right = Q.correctness(answers, metas)
        pirate = [evaluation.judge_pirate(p, a, r).passed for p, a, r in zip(prompts, answers, refs)]
        print(f"\n== {n} new tokens ({time.perf_counter() - t0:.0f} s)")
        for ok, p, a in zip(right, prompts, answers):
            print(f"{'✓' if ok else '✗'} {p}  ->  {a!r}")
        print(f"correctness {sum(right)}/{len(right)} = {sum(right) / len(right):.2f}; "
              f"pirate behaviour {sum(pirate)}/{len(pirate)}")


if __name__ == "__main__":
    main()
