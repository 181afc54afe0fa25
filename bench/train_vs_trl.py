"""QLoRA training speed: lab.training against TRL's SFTTrainer, in one process, same everything.

Run: HF_HUB_OFFLINE=1 .venv/bin/python bench/train_vs_trl.py [--steps 20] [--trl-tuned] [--profile 3]
     LAB_COMPUTE_DTYPE=fp32 ... runs both in fp32 (the path of CPUs without native bf16)

Both runs train the bundled SmolLM2-135M-Instruct loaded by ``lab.models.load_model("nf4")`` (NF4 +
double quantization, compute dtype ``lab.models.compute_dtype()``), with the same LoRA settings
(r=16, alpha=32, dropout 0, every linear layer), data (the bundled pirate train split, loss on the
final reply only), optimizer (AdamW, no weight decay, gradients clipped to norm 1), learning-rate schedule (2 warm-up
steps, cosine to 10 %), batch size, maximum length, number of steps and seed. TRL runs with its own defaults for
everything else (its SFTConfig turns gradient checkpointing on); ``--trl-tuned`` adds a second TRL
run with gradient checkpointing off.

Printed:
- tokens per second of each (tokens read, prompt + reply, no padding, over the training loop's wall
  time; model loading excluded for both) and their ratios — targets: lab >= 3x TRL's defaults in bf16
  (>= 2x with fp32 matmuls) and >= 2x TRL without gradient checkpointing;
- the final losses: the mean training loss of the last 5 steps, and the loss of each trained adapter
  on the held-out eval split computed by the same code — target within 5 % of TRL's;
- the measured matmul peak of this CPU (fp32 and bf16) and the share of it that lab.training reaches:
  FLOPs per step counted as below, divided by the loop's wall time; also the peak on the model's own
  matmul shapes at a median step's size (:func:`model_shape_peak`), the fairer ceiling;
- where a step's time goes (:func:`profile_steps`, torch.profiler on a second, untimed lab run).

FLOPs counted for lab.training (T tokens in a step, n of them trained, examples of lengths L_i;
P = sum of d_in x d_out over the frozen 4-bit linear layers; P_A = LoRA parameters; d = hidden size,
V = vocabulary, layers = number of layers):
    frozen linears:  2 P T (forward) + 2 P T (gradient w.r.t. the input only: W is frozen)
    LoRA:            6 P_A T (forward, input gradient, weight gradient)
    attention:       3 x layers x 4 d sum_i L_i^2 (QK^T and AV forward; backward ~ 2x forward)
    LM head:         4 V d n (forward and input gradient, trained positions only)
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import warnings  # noqa: E402

import torch  # noqa: E402

warnings.filterwarnings("ignore")


def matmul_peak(dtype: torch.dtype, repeat: int = 8) -> float:
    """Best GFLOP/s of a (2048 x 576) @ (576 x 1536) matmul: the shape of the model's MLP layers."""
    a, b = torch.randn(2048, 576, dtype=dtype), torch.randn(576, 1536, dtype=dtype)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(5):
            a @ b
        best = max(best, 5 * 2 * a.shape[0] * a.shape[1] * b.shape[1] / (time.perf_counter() - t0) / 1e9)
    return best


def model_shape_peak(dtype: torch.dtype, tokens: int, trained: int, config, repeat: int = 5) -> float:
    """GFLOP/s of the model's own matmuls at a typical step's size, weighted by their FLOPs: each layer's
    q, k, v, o, gate, up and down projections on ``tokens`` rows (as ``x @ W^T`` with the weight's
    layout), and the LM head on the ``trained`` rows — the peak this CPU reaches on the shapes a step
    really multiplies, beside the square-ish MLP matmul of :func:`matmul_peak`."""
    d, f, kv = config.hidden_size, config.intermediate_size, config.num_key_value_heads * (
        config.hidden_size // config.num_attention_heads)
    shapes = [(tokens, d, d), (tokens, d, kv), (tokens, d, kv), (tokens, d, d), (tokens, d, f), (tokens, d, f),
              (tokens, f, d), (trained, d, config.vocab_size)]
    total_flops = total_s = 0.0
    for m, k, n in shapes:
        x, w = torch.randn(m, k, dtype=dtype), torch.randn(n, k, dtype=dtype)
        for _ in range(2):
            x @ w.T
        best = math.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            x @ w.T
            best = min(best, time.perf_counter() - t0)
        total_flops += 2 * m * k * n
        total_s += best
    return total_flops / total_s / 1e9


CATEGORIES = {"self_attn": "attention", "mlp": "MLP", "lm_head": "LM head", "embed_tokens": "embedding",
              "input_layernorm": "norms", "post_attention_layernorm": "norms", "norm": "norms"}


def profile_steps(run, it, steps: int = 3) -> list[tuple[str, float]]:
    """Where a step's time goes, from torch.profiler over ``steps`` steps of a run under way, in ms per step.

    Forward: ranges opened around each attention, MLP, LM head, embedding and norm module (forward hooks),
    and the ranges lab.fused_layer opens inside a fused decoder layer (forward and backward) and
    lab.packing.HeadLoss around the LM head and loss (which makes its gradients in the forward pass).
    Backward: each autograd node is charged to the module whose forward made it (the profiler gives every
    forward op and its backward node the same sequence number; the forward op lies inside one range).
    Beside them: the 4-bit dequantization (inside attention and MLP, forward and backward) and the optimizer.
    """
    from torch.autograd.profiler import record_function

    handles, live = [], {}

    def enter(module, name):
        live[(id(module), name)] = r = record_function(name)
        r.__enter__()

    def leave(module, name):
        if (r := live.pop((id(module), name), None)) is not None:
            r.__exit__(None, None, None)

    for name, module in run.causal_lm.named_modules():
        if (cat := CATEGORIES.get(name.rsplit(".", 1)[-1])) is not None:
            tag = f"lab::{cat}"
            handles += [module.register_forward_pre_hook(lambda m, a, tag=tag: enter(m, tag)),
                        module.register_forward_hook(lambda m, a, o, tag=tag: leave(m, tag))]
    wall = 0.0
    try:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                wall += next(it).step_s
    finally:
        for h in handles:
            h.remove()
    events = list(prof.events())
    ranges = sorted((e.time_range.start, e.time_range.end, e.name[5:]) for e in events if e.name.startswith("lab::"))
    starts = [r[0] for r in ranges]
    import bisect

    totals: dict[str, float] = {}

    def add(label, us):
        totals[label] = totals.get(label, 0.0) + us / 1e3 / steps

    for e in events:
        if e.name.startswith("lab::"):  # (ranges named "... backward" are lab.fused_layer's backward passes)
            add(e.name[5:] if e.name.endswith(" backward") else f"{e.name[5:]} forward", e.cpu_time_total)
    seq_cat = {}
    for e in events:
        if e.sequence_nr >= 0 and not e.name.startswith("autograd::") and e.sequence_nr not in seq_cat:
            i = bisect.bisect_right(starts, e.time_range.start) - 1
            if i >= 0 and ranges[i][0] <= e.time_range.start <= ranges[i][1]:
                seq_cat[e.sequence_nr] = ranges[i][2]
    for e in events:
        name = e.name
        if name.startswith("autograd::engine::evaluate_function"):
            if "DecoderLayerBackward" in name:
                continue  # a whole fused layer: its backward is charged by the ranges inside it (above)
            add(f"{seq_cat.get(e.sequence_nr, 'loss, casts and the rest')} backward", e.cpu_time_total)
        elif "dequantize_4bit" in name or "dequantize_blockwise" in name:
            if not any(c.name == name for c in [e.cpu_parent] if c is not None):
                add("dequantize (inside attention and MLP)", e.cpu_time_total)
        elif name.startswith("Optimizer.step"):
            add("optimizer step", e.cpu_time_total)
    return [("step (wall)", 1e3 * wall / steps), *sorted(totals.items(), key=lambda kv: -kv[1])]


def step_flops(batch, frozen: int, lora: int, d: int, vocab: int, layers: int) -> float:
    lengths = (batch.cu_seqlens[1:] - batch.cu_seqlens[:-1]).tolist()
    t, n = batch.tokens, batch.targets.numel()
    attention = 3 * layers * 4 * d * sum(x * x for x in lengths)
    return 4 * frozen * t + 6 * lora * t + attention + 4 * vocab * d * n


def eval_loss(model, examples) -> float:
    """Mean loss over the trained tokens of the held-out examples (same code for both adapters)."""
    from lab import training

    causal = model.get_base_model()
    model.train()  # bitsandbytes' training-path matmul (eval mode would repack the 4-bit weights)
    total = count = 0.0
    with training.packed_attention_mode(causal), torch.no_grad():
        for i in range(0, len(examples), 8):
            batch = training.pack(examples[i : i + 8])
            n = batch.targets.numel()
            total += training.gathered_loss(causal, batch).item() * n
            count += n
    return total / count


def run_lab(cfg, profile: int = 0):
    """The lab's run; with ``profile`` > 0, a second run of the same config is profiled for that many steps
    after 2 warm-up steps (the profiler slows what it watches: never the timed run)."""
    from lab import training

    run = training.TrainingRun(cfg)
    flops = 0.0
    for log in run.steps():
        print(f"  lab step {log.step:3d}  loss {log.loss:.3f}  {log.tokens_per_s:6.0f} tok/s", flush=True)
    breakdown = None
    if profile:
        import dataclasses

        other = training.TrainingRun(dataclasses.replace(cfg, steps=2 + profile, out_dir=None))
        it = other.steps()
        next(it), next(it)
        breakdown = profile_steps(other, it, profile)
        it.close()
        del other
    causal = run.model.get_base_model()
    import bitsandbytes as bnb

    frozen = sum(m.in_features * m.out_features for m in causal.modules() if isinstance(m, bnb.nn.Linear4bit))
    lora = sum(p.numel() for n, p in run.model.named_parameters() if "lora_" in n)
    c = causal.config
    # replay the batches' shapes to count FLOPs (same seeded order as the run)
    order = training.batches(len(run.examples), cfg.batch_size, cfg.seed)
    for _ in range(len(run.logs)):
        flops += step_flops(training.pack([run.examples[i] for i in next(order)]), frozen, lora,
                            c.hidden_size, c.vocab_size, c.num_hidden_layers)
    first, last = run.logs[0], run.logs[-1]
    wall = last.elapsed_s - (first.elapsed_s - first.step_s)
    tokens = sum(x.tokens for x in run.logs)
    step_tokens = statistics.median(x.tokens for x in run.logs)
    step_trained = statistics.median(x.trained_tokens for x in run.logs)
    return run, tokens / wall, [x.loss for x in run.logs], flops / wall / 1e9, breakdown, (int(step_tokens), int(step_trained))


def run_trl(cfg, gradient_checkpointing: bool | None):
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from lab import models, training

    train_ds, _ = training.load_splits(cfg.dataset)
    data = Dataset.from_dict({
        "prompt": [m[:-1] for m in train_ds["messages"]],
        "completion": [m[-1:] for m in train_ds["messages"]],
    })
    model = models.load_model(quantization=cfg.quantization)
    dtype = models.compute_dtype()
    extra = {} if gradient_checkpointing is None else {"gradient_checkpointing": gradient_checkpointing}
    args = SFTConfig(
        output_dir=str(Path(os.environ.get("TMPDIR", "/tmp")) / "bench-trl"),
        max_steps=cfg.steps, per_device_train_batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
        lr_scheduler_type="cosine_with_min_lr", lr_scheduler_kwargs={"min_lr_rate": 0.1},
        warmup_steps=cfg.warmup_steps, max_grad_norm=cfg.max_grad_norm, weight_decay=0.0, optim="adamw_torch",
        max_length=cfg.max_seq_len,
        completion_only_loss=True, seed=cfg.seed, data_seed=cfg.seed, logging_steps=1, save_strategy="no",
        report_to="none", use_cpu=True, bf16=dtype == torch.bfloat16, include_num_input_tokens_seen="non_padding",
        disable_tqdm=True, **extra,
    )
    peft_config = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                             target_modules=list(cfg.target_modules), bias="none", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=models.load_tokenizer(),
                         peft_config=peft_config)
    t0 = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - t0
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return trainer.model, trainer.state.num_input_tokens_seen / wall, losses, args.gradient_checkpointing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--trl-tuned", action="store_true", help="also run TRL without gradient checkpointing")
    parser.add_argument("--profile", type=int, default=3, help="steps of a second lab run to profile (0: none)")
    ns = parser.parse_args()

    from lab import masking, models, training

    cfg = training.TrainConfig(steps=ns.steps, dropout=0.0, out_dir=str(Path(os.environ.get("TMPDIR", "/tmp")) / "bench-lab"))
    print(f"load average {os.getloadavg()[0]:.2f} on {training.available_cores()} cores; "
          f"compute dtype {models.compute_dtype()}; torch threads {torch.get_num_threads()}")
    peak32, peak16 = matmul_peak(torch.float32), matmul_peak(torch.bfloat16)
    print(f"matmul peak (2048x576 @ 576x1536): fp32 {peak32:.0f} GFLOP/s, bf16 {peak16:.0f} GFLOP/s")
    print(f"settings: {cfg.steps} steps x {cfg.batch_size} examples, r={cfg.r}, alpha={cfg.alpha:g}, "
          f"lr={cfg.learning_rate:g}, max length {cfg.max_seq_len}, masking {cfg.masking}, seed {cfg.seed}")

    lab_run, lab_tps, lab_losses, lab_gflops, breakdown, (step_tokens, step_trained) = run_lab(cfg, ns.profile)
    dtype = models.compute_dtype()
    shape_peak = model_shape_peak(dtype, step_tokens, step_trained, lab_run.causal_lm.config)
    tok = lab_run.tokenizer
    _, eval_ds = training.load_splits(cfg.dataset)
    held_out = [masking.build_labels(tok, m, cfg.masking, max_length=cfg.max_seq_len) for m in eval_ds["messages"]]
    lab_eval = eval_loss(lab_run.model, held_out)
    del lab_run

    results = [("lab.training", lab_tps, lab_losses, lab_eval, "-")]
    variants = [None] + ([False] if ns.trl_tuned else [])
    for gc in variants:
        model, tps, losses, used_gc = run_trl(cfg, gc)
        print(f"  TRL (gradient checkpointing {used_gc}): losses {' '.join(f'{x:.2f}' for x in losses)}")
        results.append((f"TRL SFTTrainer (gradient checkpointing {used_gc})", tps, losses, eval_loss(model, held_out), used_gc))
        del model

    print()
    print(f"{'':48s} {'tokens/s':>9s} {'last-5 train loss':>18s} {'eval loss':>10s}")
    for name, tps, losses, ev, _ in results:
        print(f"{name:48s} {tps:9.0f} {statistics.mean(losses[-5:]):18.3f} {ev:10.3f}")
    trl = results[1]
    print()
    bf16 = dtype == torch.bfloat16
    print(f"lab.training / TRL tokens per second: {lab_tps / trl[1]:.2f}x   (target >= {3 if bf16 else 2}x"
          f"{'' if bf16 else ' with fp32 matmuls'})")
    for name, tps, *_ in results[2:]:
        print(f"lab.training / {name}: {lab_tps / tps:.2f}x   (target >= 2x)")
    print(f"eval loss: lab {lab_eval:.3f} vs TRL {trl[3]:.3f}: {100 * (lab_eval - trl[3]) / trl[3]:+.1f} %   (target within 5 %)")
    print(f"last-5 training loss: lab {statistics.mean(lab_losses[-5:]):.3f} vs TRL {statistics.mean(trl[2][-5:]):.3f}")
    print(f"lab.training reaches {lab_gflops:.0f} GFLOP/s = {100 * lab_gflops / peak32:.0f} % of the fp32 matmul peak "
          f"({100 * lab_gflops / peak16:.0f} % of the bf16 peak; it computes in {str(dtype).replace('torch.', '')} here)")
    print(f"  and {100 * lab_gflops / shape_peak:.0f} % of the {str(dtype).replace('torch.', '')} peak on the model's own "
          f"matmul shapes ({shape_peak:.0f} GFLOP/s at a median step of {step_tokens} tokens, {step_trained} trained)")
    if breakdown:
        wall = breakdown[0][1]
        print(f"\nwhere a step's time goes (torch.profiler, {ns.profile} steps; ranges nest: dequantize is inside "
              f"attention and MLP, so shares do not sum to 100 %):")
        for label, ms in breakdown:
            print(f"  {label:44s} {ms:8.1f} ms  {100 * ms / wall:5.1f} %")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
