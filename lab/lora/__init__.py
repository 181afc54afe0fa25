"""LoRA by the numbers: exact trainable counts (= peft's), training memory, for real architectures.

The family of modules, each importing only the ones above it (no module re-exports another; this
file is the one place that gathers the public API)::

    lab.lora.architectures   real config.json files (lab/configs, a pasted one, a Hub id) built on the meta device
    lab.lora.targets         target presets and peft's module-matching rules
    lab.lora.counts          the count, term by term; the peft cross-check; why a 4-bit model looks half its size
    lab.lora.memory          training memory of full fine-tuning, LoRA and QLoRA: exact terms and estimates

``from lab import lora`` then ``lora.count_lora_params("llama-2-7b", r=8, target_modules="lora-paper")``.
"""

from __future__ import annotations

from lab.lora import architectures, counts, memory, targets
from lab.lora.architectures import (
    BUNDLED,
    Architecture,
    ModuleInfo,
    architecture,
    bundled_config_dict,
    bundled_names,
    parse_config_json,
)
from lab.lora.counts import (
    BIAS_MODES,
    DEFAULT_ALPHA,
    MAX_ALPHA,
    MAX_RANK,
    FourBitCount,
    LoraCount,
    ModuleRow,
    PeftCheck,
    check_alpha,
    check_rank,
    check_with_peft,
    count_lora_params,
    expected_four_bit_naive,
    four_bit_counts,
    lora_config_code,
    quantized_params,
    trainable_by_rank,
)
from lab.lora.memory import (
    GPU_SIZES_GB,
    METHODS,
    NF4_BITS,
    MemoryEstimate,
    MemoryTerm,
    activation_bytes,
    estimate_all,
    estimate_memory,
)
from lab.lora.targets import PEFT_ALL_LINEAR, PRESETS, module_choices, preset_targets, resolve, save_choices

__all__ = [
    "architectures", "counts", "memory", "targets",
    "BUNDLED", "Architecture", "ModuleInfo", "architecture", "bundled_config_dict", "bundled_names",
    "parse_config_json",
    "BIAS_MODES", "DEFAULT_ALPHA", "MAX_ALPHA", "MAX_RANK", "FourBitCount", "LoraCount", "ModuleRow", "PeftCheck",
    "check_alpha", "check_rank", "check_with_peft", "count_lora_params", "expected_four_bit_naive",
    "four_bit_counts", "lora_config_code", "quantized_params", "trainable_by_rank",
    "GPU_SIZES_GB", "METHODS", "NF4_BITS", "MemoryEstimate", "MemoryTerm", "activation_bytes", "estimate_all",
    "estimate_memory",
    "PEFT_ALL_LINEAR", "PRESETS", "module_choices", "preset_targets", "resolve", "save_choices",
]
