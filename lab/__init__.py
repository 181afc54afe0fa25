"""Tuning Lab's headless package: everything the app shows, without Gradio.

Modules (imported on first use, so ``import lab`` stays light)::

    lab.models    find, convert and load the model (full or 4-bit), tiny test models
    lab.data      bundled SFT datasets and format conversion (messages / Alpaca / ShareGPT / ...)
    lab.chat      generation with the real chat template, streamed or batched
    lab.masking   IGNORE_INDEX, build_labels(), per-token losses
    lab.lora      exact LoRA parameter counts (= peft's), the peft cross-check, 4-bit counts
    lab.lora_memory   training memory: full / LoRA / QLoRA, exact terms and estimates
    lab.lora_targets  target presets and peft's module-matching rules
    lab.architectures real config.json files (lab/configs) built on the meta device
    lab.nf4       NF4 / FP4 / INT4 code books, block-wise quantization, double quantization
    lab.nf4_measure  4-bit errors, block zoom, memory (measured and computed), loss full vs NF4
    lab.train_config  TrainConfig: what a run trains (QLoRA, LoRA, full fine-tuning) and how
    lab.training  the train() generator, the run's memory, saving
    lab.experiments   the lecture's claims as runs: full vs LoRA vs QLoRA, rank, loss masking
    lab.packing   padding-free batches, per-example attention, logits only where trained
    lab.evaluation  behaviour score and forgetting check, before / after training
    lab.export    a run as a standalone TRL SFTTrainer script
    lab.plots     every figure, as matplotlib Figures
"""

from __future__ import annotations

import importlib

__all__ = ["models", "data", "chat", "masking", "lora", "lora_memory", "lora_targets", "architectures", "nf4",
           "nf4_measure", "train_config", "training", "experiments", "packing", "evaluation", "export", "plots"]


def __getattr__(name: str):
    if name in __all__:
        module = importlib.import_module(f"lab.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'lab' has no attribute {name!r}")
