"""lab.memory: what the server reports as in use, and memory given back after a run."""

from __future__ import annotations

import pytest
import torch

from lab import memory


_RSS_PROBE = """
import json, torch
from lab import memory
before = memory.rss_mb()
x = torch.ones(64 * 2**20 // 4)  # 64 MiB, every page written
print(json.dumps({"grown": memory.rss_mb() - before}))
"""


def _probe(code: str) -> dict:
    """Run `code` in a fresh process and read the JSON it prints last. A fresh process because, in a long
    test session, malloc may already hold enough free resident pages for a new tensor, and RSS would
    not move at all."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1], check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_rss_is_the_process_resident_memory_and_grows_with_a_touched_tensor():
    grown = _probe(_RSS_PROBE)["grown"]
    assert 48 <= grown <= 96, grown


_RELEASE_PROBE = """
import json, torch
from lab import memory
memory.configure()
base = memory.rss_mb()
keep = [torch.ones(256 * 1024 // 4) for _ in range(2000)]  # 2,000 x 256 KiB = 500 MiB in the heap
held = memory.rss_mb()
tail = keep[-1].clone()  # a live block at the top of the heap: the freed ones sit below it
del keep
import gc; gc.collect()
kept = memory.rss_mb()
memory.release()
print(json.dumps({"base": base, "held": held, "kept": kept, "released": memory.rss_mb()}))
"""


def test_release_gives_freed_heap_memory_back():
    """Many medium tensors (below the mmap threshold, so in malloc's heap) freed: release() returns their
    pages (in a fresh process, see _probe)."""
    mb = _probe(_RELEASE_PROBE)
    assert mb["held"] - mb["base"] > 400, mb
    assert mb["kept"] - mb["base"] > 400, mb  # freed, but malloc keeps the pages without release()
    assert mb["released"] - mb["base"] < 120, mb


def test_in_use_is_rss_on_cpu():
    if torch.cuda.is_available():
        pytest.skip("CUDA reports allocated memory")
    assert abs(memory.in_use_mb() - memory.rss_mb()) < 16


@pytest.mark.slow
def test_training_tab_run_gives_its_memory_back(tokenizer):
    """A training run through the tab's handler (real 4-bit model, evaluation included): afterwards the
    process's memory is within 300 MB of where it was before the run (after one warm-up run)."""
    from lab.ui import training as ui

    settings = dict(quant="nf4", dataset_choice="pirate", upload=None, r=8, alpha=16, dropout=0.0,
                    targets=["q_proj", "v_proj"], lr=1e-3, steps=2, batch=2, max_len=128, mask_mode="completion", seed=0)
    for _ in ui.train_run({}, **settings):  # warm-up: imports, first-use caches, the base answers
        pass
    memory.release()
    before = memory.rss_mb()
    outputs = list(ui.train_run({}, **settings))
    after = memory.rss_mb()
    assert any("Finished 2 steps" in str(o) for out in outputs for o in out)
    assert after - before < 300, (before, after)


def test_peak_meter_sees_a_tensor_freed_before_it_is_read():
    """The peak (VmHWM reset at start on Linux, else sampled) includes 128 MiB held and freed meanwhile."""
    memory.release()
    meter = memory.PeakMeter().start()
    x = torch.ones(128 * 2**20 // 4)  # every page written
    del x
    memory.release()
    peak = meter.stop()
    assert peak - meter.start_mb > 100, (meter.start_mb, peak)
    y = torch.ones(256 * 2**20 // 4)
    assert meter.peak_mb() == peak  # stopped: what comes later does not count
    del y


@pytest.mark.parametrize("preset, expected", [(None, "128"), ("512", "512")])
def test_import_lab_bounds_onednn_matmul_cache_unless_the_environment_says(preset, expected):
    """oneDNN reads its cache size when it builds its first matmul: ``import lab`` must set it before that,
    and leave a value the environment already has."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    if preset is not None:
        env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = preset
    code = "import os, torch, lab; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
