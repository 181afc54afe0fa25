"""The lecture's claims as runs a learner repeats, headless: the same code the app's tab and the CLI use.

    python -m lab experiment peft|rank|masking [--steps N] [--out DIR]

* ``peft``     full fine-tuning vs LoRA vs QLoRA: trainable parameters, peak memory (weights, gradients,
               optimizer states, activations), speed, loss, behaviour, forgetting, size of what you share;
* ``rank``     LoRA at r = 1, 4, 16, 64: parameters, loss, behaviour, and the singular values of ΔW;
* ``masking``  completion-only vs every-token loss: loss curves, share of tokens trained, behaviour,
               and a sample that shows what training on the prompt teaches.

:func:`run_experiment` yields events (:class:`Started`, :class:`ConditionStarted`, :class:`Step`,
:class:`Evaluating`, :class:`ConditionDone`, :class:`Finished`) and writes ``results.json``;
:func:`recorded` returns the result recorded at the default settings by ``bench/experiments_record.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from lab.experiments.definitions import (
    EXPERIMENTS, Condition, Experiment, ExperimentSettings, experiment, settings_dict,
)
from lab.experiments.runner import (
    RESULTS_FILE, ConditionDone, ConditionStarted, Evaluating, Finished, Started, Step, load_results,
    run_experiment,
)

RECORDED_DIR = Path(__file__).resolve().parent / "recorded"

__all__ = [
    "EXPERIMENTS", "Condition", "Experiment", "ExperimentSettings", "experiment", "settings_dict",
    "RESULTS_FILE", "ConditionDone", "ConditionStarted", "Evaluating", "Finished", "Started", "Step",
    "load_results", "run_experiment", "RECORDED_DIR", "recorded",
]


def recorded(name: str) -> dict | None:
    """The result of experiment ``name`` recorded at the default settings (with its machine and date),
    or None when none is recorded."""
    experiment(name)
    path = RECORDED_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None
