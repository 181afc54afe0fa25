"""Model load: from the bundled GGUF (de-quantize + convert) vs from the safetensors cache.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/model_load.py

Both are measured in this process, so the ratio holds on a busy machine too.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from lab import models  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main():
    gguf = models.bundled_gguf()
    assert gguf is not None, models.INSTALL_HINT
    cached = Path(models.bundled_model_dir())

    def from_gguf():
        AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        return AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)

    def from_cache():
        AutoTokenizer.from_pretrained(cached)
        return AutoModelForCausalLM.from_pretrained(cached)

    _, t_gguf = timed(from_gguf)
    with tempfile.TemporaryDirectory() as tmp:
        _, t_convert = timed(lambda: models.convert_gguf(gguf, Path(tmp) / "m"))
    loads = [timed(from_cache)[1] for _ in range(3)]
    t_cache = min(loads)
    print(f"load from GGUF (de-quantize):        {t_gguf:6.2f} s")
    print(f"one-time conversion to the cache:    {t_convert:6.2f} s")
    print(f"load from the safetensors cache:     {t_cache:6.2f} s  (best of 3)")
    print(f"ratio GGUF / cache:                  {t_gguf / t_cache:6.1f}x")


if __name__ == "__main__":
    main()
