"""Tuning Lab's headless package: everything the app shows, without Gradio.

Modules (imported on first use, so ``import lab`` stays light)::

    lab.models    find, convert and load the model (full or 4-bit), tiny test models
    lab.data      bundled SFT datasets and format conversion (messages / Alpaca / ShareGPT / ...)
    lab.data_quality  filters for SFT rows (length, loops, style, topic, duplicates), clean(), quality_table()
    lab.multitask the multi-task set's [OK] behaviour, its judge, scores per task type (zero-shot)
    lab.synthetic instruction / response pairs written by the model from seed tasks, each judged
    lab.chat      generation with the real chat template, streamed or batched
    lab.masking   IGNORE_INDEX, build_labels(), per-token losses
    lab.lora      a package: exact LoRA parameter counts (= peft's), the peft cross-check, 4-bit counts
                  (lora.counts), training memory of full / LoRA / QLoRA (lora.memory), target presets and
                  peft's matching rules (lora.targets), real config.json files built on the meta device
                  (lora.architectures)
    lab.nf4       NF4 / FP4 / INT4 code books, block-wise quantization, double quantization
    lab.nf4_measure  4-bit errors, block zoom, memory (measured and computed), loss full vs NF4
    lab.train_config  TrainConfig: what a run trains (QLoRA, LoRA, full fine-tuning) and how
    lab.training  the train() generator, the run's memory, saving
    lab.experiments   the lecture's claims as runs: full vs LoRA vs QLoRA, rank, loss masking
    lab.paging    a measured memory timeline of training, replayed on a GPU budget with a paged optimizer
    lab.packing   padding-free batches, per-example attention, logits only where trained
    lab.evaluation  behaviour score and forgetting check, before / after training
    lab.export    a run as a standalone TRL SFTTrainer script
    lab.plots     every figure, as matplotlib Figures (lab.plots_memory: the paging figures)
"""

from __future__ import annotations

import importlib
import os

#: oneDNN (torch's CPU kernels for bf16 matmuls) keeps every matmul it has built, with its scratch
#: buffers, in a cache of 1,024 by default. A training step on packed examples has a new row count T
#: at every step, so each step adds ~30 new matmuls that are never used again: measured on a default
#: run (30 steps), the process grew by ~1 GB over the run, ~300-450 MB of it this cache. 128 keeps a
#: step's matmuls (shared by its 30 layers) and a few steps more: the same step time (55.0 s vs 55.4 s
#: for 30 steps), 300 MB less at the end of the run (bench/server_memory.py). Read by oneDNN when it
#: first builds a matmul, so it is set here, on ``import lab``; a value set in the environment wins.
MATMUL_CACHE = "128"
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", MATMUL_CACHE)

__all__ = ["models", "data", "data_quality", "multitask", "synthetic", "chat", "masking", "lora", "nf4", "nf4_measure",
           "train_config", "training", "experiments", "packing", "evaluation", "export", "plots", "paging",
           "plots_memory"]


def __getattr__(name: str):
    if name in __all__:
        module = importlib.import_module(f"lab.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'lab' has no attribute {name!r}")
