"""LoRA count speed: lab.lora's arithmetic vs really running peft, on 65B and 70B configs.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/lora_count.py

Both run in this process on the same config and LoraConfig (and agree exactly: see
tests/test_lora.py). The lab builds the meta model once per config and resolves the targets once per choice; after that
a count is arithmetic. Target: under 50 ms for a 70B config once its shapes are known.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab import lora  # noqa: E402
from lab.lora import architectures  # noqa: E402

# Llama-2-70B (meta-llama/Llama-2-70b-hf config.json): 80 layers, GQA with 8 key/value heads.
LLAMA2_70B = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672,
    "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 32000,
    "max_position_embeddings": 4096, "rms_norm_eps": 1e-05, "tie_word_embeddings": False,
}
LLAMA2_70B_TOTAL = 68_976_648_192  # Llama-2-70b-hf's parameter count (Hub safetensors metadata: 69.0B)


def timed(fn, repeat=1):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, times


def main():
    cases = [("LLaMA-65B", "llama-65b"), ("Llama-2-70B", LLAMA2_70B)]
    import peft  # noqa: F401  (imported once here, so no timing below includes it)

    print(f"{'config':12} {'targets':11} {'build':>8} {'first call':>10} {'cached':>9} {'from config':>11} "
          f"{'peft':>8} {'peft / cached':>13}")
    for label, config in cases:
        arch, build = timed(lambda: architectures.architecture(config, name=label))
        if label == "Llama-2-70B":
            assert arch.total == LLAMA2_70B_TOTAL, arch.total
        for targets in ("lora-paper", "all-linear"):
            arch.resolutions.clear()
            _, first = timed(lambda: lora.count_lora_params(arch, r=16, target_modules=targets))
            ours, again = timed(lambda: lora.count_lora_params(arch, r=16, target_modules=targets, use_dora=True),
                                repeat=20)
            _, by_config = timed(lambda: lora.count_lora_params(config, r=16, target_modules=targets), repeat=20)
            theirs, peft_t = timed(lambda: lora.check_with_peft(arch, r=16, target_modules=targets, use_dora=True))
            assert (ours.trainable, ours.total) == (theirs.trainable, theirs.total)
            cached = statistics.median(again)
            print(f"{label:12} {targets:11} {build[0] * 1e3:5.0f} ms {first[0] * 1e3:7.1f} ms {cached * 1e3:6.2f} ms "
                  f"{statistics.median(by_config) * 1e3:8.2f} ms {peft_t[0]:6.2f} s {peft_t[0] / cached:12,.0f}×")
            build = [0.0]  # built once per config
    print("\nbuild: meta model + module walk (once per config); first call: target resolution (once per choice);"
          "\ncached: a count with another rank/bias/DoRA; from config: count_lora_params(name or dict) incl. lookup;"
          "\npeft: get_peft_model on a fresh meta model + get_nb_trainable_parameters (same numbers).")


if __name__ == "__main__":
    main()
