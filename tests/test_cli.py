"""python -m lab: options generated from TrainConfig, one JSON object per step, a peft adapter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab import training
from lab.__main__ import main

ROOT = Path(__file__).resolve().parent.parent


def _env():
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def test_help_lists_every_config_field_with_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for f in training.TrainConfig.__dataclass_fields__.values():
        assert f"--{f.name.replace('_', '-')}" in text
    assert "--out" in text and "(default: 0.001)" in text and "q_proj,k_proj,v_proj" in text


def test_bad_value_is_a_sentence_and_exit_code_2(capsys):
    assert main(["train", "--r", "0"]) == 2
    assert "error: r must be a whole number from 1 to 256, not 0." in capsys.readouterr().err


@pytest.mark.slow
def test_train_prints_one_json_object_per_step_and_writes_a_peft_adapter(tmp_path):
    from peft import PeftModel

    from lab import models

    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "lab", "train", "--dataset", "json", "--steps", "2", "--batch-size", "2",
         "--max-seq-len", "96", "--target-modules", "q_proj,v_proj", "--out", str(out)],
        capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    logs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [log["step"] for log in logs] == [1, 2]
    assert all(log["loss"] > 0 and log["tokens_per_s"] > 0 and log["steps"] == 2 for log in logs)
    assert "Finished 2 steps." in proc.stderr and str(out) in proc.stderr
    config = json.loads((out / "adapter_config.json").read_text())
    assert sorted(config["target_modules"]) == ["q_proj", "v_proj"]
    model = PeftModel.from_pretrained(models.load_model(quantization="nf4"), str(out))
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert len(lora_b) == 2 * 30 and any(p.abs().max() > 0 for p in lora_b)  # trained: B left zero


def test_experiment_prints_progress_and_writes_results_json(tokenizer, tmp_path, monkeypatch, capsys):
    """``python -m lab experiment`` on a tiny model saved to disk: progress on stderr, results.json in --out."""
    from lab import evaluation, models

    tiny = tmp_path / "tiny"
    models.tiny_model(tokenizer).save_pretrained(str(tiny))
    tokenizer.save_pretrained(str(tiny))
    monkeypatch.setattr(evaluation, "CACHE_DIR", tmp_path / "cache")
    out = tmp_path / "masking"
    assert main(["experiment", "masking", "--model", str(tiny), "--steps", "2", "--batch-size", "2",
                 "--max-seq-len", "64", "--eval-prompts", "1", "--sample-tokens", "4", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "Experiment masking: completion, none (2 steps each)" in err and "[2/2] none: lora, r=16" in err
    assert "completion step 2/2  loss" in err and f"Results: {out / 'results.json'}" in err
    results = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in results["conditions"]] == ["completion", "none"]
    assert results["settings"]["steps"] == 2 and len(results["conclusions"]) == 3


def test_experiment_bad_settings_are_a_sentence(capsys):
    assert main(["experiment", "rank", "--ranks", "4,4"]) == 2
    assert "error: Give 1 to 8 different ranks, not 4, 4." in capsys.readouterr().err


def test_zero_shot_experiment_writes_the_per_task_table(tokenizer, tmp_path, monkeypatch, capsys):
    """``python -m lab experiment zero-shot`` on a tiny model: one condition with its rows, and "per_task"."""
    from lab import evaluation, models, multitask

    tiny = tmp_path / "tiny"
    models.tiny_model(tokenizer).save_pretrained(str(tiny))
    tokenizer.save_pretrained(str(tiny))
    monkeypatch.setattr(evaluation, "CACHE_DIR", tmp_path / "cache")
    out = tmp_path / "zs"
    assert main(["experiment", "zero-shot", "--model", str(tiny), "--steps", "2", "--batch-size", "2",
                 "--per-task", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "Experiment zero-shot: multitask (2 steps each)" in err and "160 rows" in err and "unseen 0.00 ->" in err
    results = json.loads((out / "results.json").read_text())
    assert [(r["name"], r["examples"]) for r in results["conditions"]] == [("multitask", 160)]
    assert (out / "multitask" / "adapter_model.safetensors").is_file()
    table = results["per_task"]
    assert {t: (v["seen"], v["n"], v["before"]) for t, v in table.items()} == {
        t: (t not in multitask.HELD_OUT, 1, 0.0) for t in multitask.TASKS}


def test_experiment_flags_read_true_and_false(capsys):
    from lab.__main__ import _flag

    assert [_flag(x) for x in ("true", "False", "yes", "0")] == [True, False, True, False]
    with pytest.raises(SystemExit):
        main(["experiment", "synthetic", "--train-synthetic", "maybe"])
    assert "expected true or false, not 'maybe'" in capsys.readouterr().err
