"""lab.export: the TRL SFTTrainer script carries the run's settings and really trains (2 steps, CPU)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab import export, models, training


def test_script_compiles_and_carries_the_settings():
    cfg = training.TrainConfig(r=8, alpha=16, dropout=0.05, target_modules=("q_proj", "v_proj"), learning_rate=3e-4,
                               steps=123, batch_size=4, max_seq_len=200, masking="none", seed=7, warmup_steps=5)
    src = export.trl_script(cfg)
    compile(src, "train_qlora.py", "exec")
    for text in ["r=8", "lora_alpha=16.0", "lora_dropout=0.05", "['q_proj', 'v_proj']", "max_steps=123",
                 "per_device_train_batch_size=4", "learning_rate=0.0003", "max_length=200", "seed=7",
                 "warmup_steps=5", "MASKING = 'none'", "QUANTIZATION = 'nf4'", f"MODEL = {models.HUB_ID!r}",
                 "paged_adamw_8bit", "bnb_4bit_use_double_quant=True"]:
        assert text in src, text


def test_bundle_holds_the_training_split(tmp_path):
    dest = export.export_bundle(training.TrainConfig(dataset="json"), tmp_path)
    rows = [json.loads(line)["messages"] for line in (dest / "train.jsonl").read_text().splitlines()]
    assert rows == training.load_splits("json")[0]["messages"]


@pytest.mark.slow
def test_exported_script_trains_two_steps_on_cpu_with_accelerate(tmp_path):
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    assert accelerate, "accelerate is installed with the app's requirements"
    cfg = training.TrainConfig(dataset="json", r=4, batch_size=2, max_seq_len=64, steps=2)
    dest = export.export_bundle(cfg, tmp_path / "bundle")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ACCELERATE_USE_CPU": "1"}
    proc = subprocess.run(
        [accelerate, "launch", "--cpu", "--num_processes", "1", "--num_machines", "1", "--mixed_precision", "no",
         "--dynamo_backend", "no", "train_qlora.py", "--data", "train.jsonl", "--model", models.resolve(),
         "--output-dir", "out"],
        cwd=dest, capture_output=True, text=True, env=env, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "'loss'" in proc.stdout + proc.stderr and "2/2" in proc.stderr
    adapter = json.loads((dest / "out" / "adapter_config.json").read_text())
    assert adapter["r"] == 4 and (dest / "out" / "adapter_model.safetensors").is_file()


def test_full_fine_tuning_is_not_exported_as_a_lora_script():
    from lab.errors import LabError

    with pytest.raises(LabError) as e:
        export.trl_script(training.TrainConfig(method="full"))
    assert e.value.code == "export.full"
