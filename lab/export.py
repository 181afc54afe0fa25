"""Export a run as a standalone script for TRL's ``SFTTrainer`` + ``peft`` (``accelerate launch``).

The lab's own loop is small and fast on one CPU; past one machine, the standard tools take over.
The script reproduces the run's settings — same model, LoRA rank / alpha / dropout / target modules,
4-bit NF4 with double quantization, learning-rate schedule, steps, batch size, maximum length,
loss masking and seed — with the library defaults a multi-GPU user expects (paged 8-bit AdamW on
CUDA). How the lab's masking modes map to TRL:

=============  ========================================================================
completion     rows become ``{"prompt": messages[:-1], "completion": messages[-1:]}``;
               ``completion_only_loss=True`` (loss on the final reply only)
assistant      ``assistant_only_loss=True`` (needs a chat template with generation
               markers; TRL patches the templates it knows)
none           ``completion_only_loss=False`` on the whole conversation
=============  ========================================================================
"""

from __future__ import annotations

import json
from pathlib import Path

from lab import models
from lab.training import TrainConfig, load_splits

SCRIPT = '''"""QLoRA fine-tuning with TRL's SFTTrainer -- exported from Tuning Lab.

    pip install "trl>=1.16" "peft>=0.21" "bitsandbytes>=0.50" accelerate datasets
    accelerate launch train_qlora.py --data train.jsonl

--data is a JSONL file with one {{"messages": [{{"role": ..., "content": ...}}, ...]}} per line
(the lab wrote the run's training split beside this script). Other options: --model, --max-steps,
--output-dir. The adapter lands in --output-dir in peft's format.
"""

import argparse

import torch
from datasets import load_dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
from trl import SFTConfig, SFTTrainer

MODEL = {model!r}
QUANTIZATION = {quantization!r}  # "nf4": QLoRA (4-bit NormalFloat + double quantization); None: plain LoRA
MASKING = {masking!r}  # which tokens carry loss: completion / assistant / none
LORA = dict(r={r}, lora_alpha={alpha!r}, lora_dropout={dropout!r}, target_modules={targets!r}, bias="none", task_type="CAUSAL_LM")
TRAINING = dict(
    max_steps={steps},
    per_device_train_batch_size={batch_size},
    learning_rate={learning_rate!r},
    lr_scheduler_type="cosine_with_min_lr",  # linear warm-up, then cosine down to 10 % of the peak
    lr_scheduler_kwargs={{"min_lr_rate": 0.1}},
    warmup_steps={warmup_steps},
    max_grad_norm={max_grad_norm!r},
    max_length={max_seq_len},
    seed={seed},
)


def compute_dtype():
    """bf16 where the hardware computes in it natively, else fp16 on old GPUs / fp32 on CPUs."""
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        flags = ""
    return torch.bfloat16 if (" avx512_bf16" in flags or " amx_bf16" in flags) else torch.float32


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="train.jsonl", help="JSONL with a 'messages' column")
    parser.add_argument("--model", default=MODEL, help="Hub id or local directory of the base model")
    parser.add_argument("--max-steps", type=int, default=TRAINING["max_steps"])
    parser.add_argument("--output-dir", default="qlora-adapter")
    args = parser.parse_args()

    cuda = torch.cuda.is_available()
    dtype = compute_dtype()
    kwargs = dict(dtype=dtype)
    if QUANTIZATION:
        from accelerate import PartialState

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=QUANTIZATION,
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        kwargs["device_map"] = {{"": PartialState().process_index if cuda else "cpu"}}
    model = AutoModelForCausalLM.from_pretrained(args.model, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    data = load_dataset("json", data_files=args.data, split="train")
    if MASKING == "completion":  # prompt = everything before the final reply, completion = the reply
        data = data.map(
            lambda row: {{"prompt": row["messages"][:-1], "completion": row["messages"][-1:]}},
            remove_columns=data.column_names,
        )

    config = SFTConfig(
        output_dir=args.output_dir,
        **{{**TRAINING, "max_steps": args.max_steps}},
        completion_only_loss=MASKING == "completion",
        assistant_only_loss=MASKING == "assistant",
        optim="paged_adamw_8bit" if cuda else "adamw_torch",  # paging needs a GPU
        gradient_checkpointing=False,  # a small model's activations fit; recomputing them only costs time
        use_cpu=not cuda,
        bf16=dtype == torch.bfloat16,
        fp16=dtype == torch.float16,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=data,
        processing_class=tokenizer,
        peft_config=LoraConfig(**LORA),
    )
    trainer.train()
    trainer.save_model(args.output_dir)  # adapter_config.json + adapter_model.safetensors


if __name__ == "__main__":
    main()
'''


def trl_script(config: TrainConfig) -> str:
    """The Python source of a standalone TRL script with ``config``'s settings (LoRA or QLoRA)."""
    if config.resolved_method == "full":
        from lab.errors import LabError

        raise LabError("export.full", "The export writes a LoRA or QLoRA script; full fine-tuning is not exported.")
    return SCRIPT.format(
        model=config.model or models.HUB_ID,
        quantization=config.quantization,
        masking=config.masking,
        r=config.r,
        alpha=config.alpha,
        dropout=config.dropout,
        targets=list(config.target_modules),
        steps=config.steps,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_steps,
        max_grad_norm=config.max_grad_norm,
        max_seq_len=config.max_seq_len,
        seed=config.seed,
    )


def export_bundle(config: TrainConfig, dest: str | Path) -> Path:
    """Write ``train_qlora.py`` and the run's training split as ``train.jsonl`` into ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "train_qlora.py").write_text(trl_script(config), encoding="utf-8")
    train, _ = load_splits(config.dataset)
    with open(dest / "train.jsonl", "w", encoding="utf-8") as fh:
        for msgs in train["messages"]:
            fh.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")
    return dest
