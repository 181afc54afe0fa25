"""What an experiment measures on a trained run, beyond its losses: forgetting, the update's spectrum,
a sample with its special tokens, and the memory ledger.

* **Forgetting score** (0-1): of the probes the base model answered right, the share the tuned model
  now gets wrong::

      forgetting = |{p : right before, wrong after}| / |{p : right before}|

  (a probe it newly gets right does not offset one it lost). The general-text loss is reported beside
  it, before and after: it moves smoothly where the probes move by whole answers.

* **The update's singular values** (:func:`update_spectrum`): LoRA's learned change of one layer is
  ΔW = (alpha / r) · B · A, with B (d_out x r) and A (r x d_in), so rank(ΔW) <= r: at most r singular
  values are non-zero, whatever d is. How many of them carry the update — the number needed for 90 % of
  its energy sum σ_i² — is how many directions it really uses.

* **Prompt loss** (:func:`prompt_loss`): the mean next-token loss, on held-out chats, of the tokens that
  completion-only training leaves out (system prompt, user turn, headers) and training on every token
  keeps: how well a model has learned to *write prompts*.

* **Memory ledger** (:func:`memory_split`): weights, gradients, optimizer states and activations (what
  autograd saved for the backward pass) are counted from the tensors themselves in the first step
  (``TrainingRun.tensor_memory``); the process before the model was loaded is measured; the rest of
  the peak is ``other``, an estimate by difference::

      other ≈ peak - process - weights - gradients - optimizer - activations

  the step's temporaries (logits and their gradient, the backward pass's buffers), the allocator's
  slack, and the moments when gradients and activations do not all coexist make it up (it can be
  negative when they do not: the piles are each measured at their own high point).
"""

from __future__ import annotations

import torch

from lab import evaluation, models
from lab.errors import LabError
from lab.packing import standard_attention

MIB = 2**20
#: Singular values below this share of the largest count as zero (ΔW is computed in float64).
ZERO_RTOL = 1e-6
#: Singular values returned per rank: enough to see the zeros past r = 64.
SPECTRUM_VALUES = 128
ENERGY_SHARE = 0.9


def forgetting_score(before: evaluation.Evaluation, after: evaluation.Evaluation) -> float:
    """Share of the probes answered right before that are answered wrong after (0: nothing forgotten)."""
    right = [i for i, ok in enumerate(before.probe_correct) if ok]
    if not right:
        return 0.0
    return sum(not after.probe_correct[i] for i in right) / len(right)


def _lora_module(model, module: str, layer: int | None):
    """(qualified name, peft LoRA layer) of ``layers.<layer>.<...>.<module>`` (the middle layer when None)."""
    found = [(name, mod) for name, mod in model.named_modules()
             if name.endswith("." + module) and hasattr(mod, "lora_A") and "default" in mod.lora_A]
    if not found:
        raise LabError("experiment.svd_module_missing", "The model has no LoRA layer named {module}.", module=module)
    indexed = []
    for name, mod in found:
        parts = name.split(".")
        i = parts.index("layers") if "layers" in parts else -1
        indexed.append((int(parts[i + 1]) if i >= 0 else 0, name, mod))
    indexed.sort(key=lambda t: t[0])
    if layer is None:
        layer = indexed[len(indexed) // 2][0]
    for i, name, mod in indexed:
        if i == layer:
            return name, mod
    raise LabError("experiment.svd_layer_missing", "There is no layer {layer} with a LoRA {module}; layers run from 0 to {last}.",
                   layer=layer, module=module, last=indexed[-1][0])


def delta_w(lora_layer) -> torch.Tensor:
    """ΔW = scaling · B · A of a peft LoRA layer, in float64: (d_out, d_in)."""
    a = lora_layer.lora_A["default"].weight.detach().double()  # (r, d_in)
    b = lora_layer.lora_B["default"].weight.detach().double()  # (d_out, r)
    return lora_layer.scaling["default"] * (b @ a)


def update_spectrum(model, module: str = "q_proj", layer: int | None = None) -> dict:
    """The singular values of one layer's learned update ΔW, and how many of them it uses.

    Returns ``{"module", "shape": [d_out, d_in], "r", "scale", "singular_values" (largest first,
    at most SPECTRUM_VALUES), "nonzero" (σ > ZERO_RTOL · σ_max; at most r), "directions_90"
    (fewest σ whose squares make 90 % of sum σ²), "norm" (Frobenius)}``."""
    name, mod = _lora_module(model, module, layer)
    dw = delta_w(mod)
    s = torch.linalg.svdvals(dw)  # (min(d_out, d_in),) descending
    top = float(s[0]) if s.numel() else 0.0
    energy = torch.cumsum(s**2, 0)
    total = float(energy[-1]) if s.numel() else 0.0
    return {
        "module": name.removeprefix("base_model.model."),
        "shape": list(dw.shape),
        "r": int(mod.r["default"]),
        "scale": float(mod.scaling["default"]),
        "singular_values": [float(x) for x in s[:SPECTRUM_VALUES]],
        "nonzero": int((s > ZERO_RTOL * top).sum()) if top > 0 else 0,
        "directions_90": int((energy < ENERGY_SHARE * total).sum()) + 1 if total > 0 else 0,
        "norm": float(total**0.5),
    }


def sample_reply(model, tokenizer, prompt: str, max_new_tokens: int = 64) -> str:
    """The model's greedy continuation of ``prompt`` (chat template, generation prompt), special tokens kept
    and generation not stopped at the end of its turn (only at ``<|endoftext|>``): what it writes after
    its reply shows what it was trained to write (a new ``<|im_start|>user`` turn, if it learned the prompts)."""
    from lab import chat

    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                         tokenize=False)
    enc = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    kwargs = chat._raw_generate_kwargs(tokenizer, chat.Decoding(max_new_tokens=max_new_tokens))
    was_training = model.training
    model.eval()
    try:
        with evaluation.float32_arithmetic(model), standard_attention(model), torch.inference_mode():
            out = chat.generate(causal_lm, **enc, **kwargs)
    finally:
        model.train(was_training)
    return tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=False)


def prompt_loss(model, tokenizer, chats, max_seq_len: int) -> float:
    """Mean cross-entropy (nats/token) of the prompt tokens of ``chats``: those labelled in mode ``none``
    but not in mode ``completion`` (:func:`lab.masking.build_labels`), one packed forward, fp32 arithmetic."""
    import dataclasses

    from lab import masking
    from lab.packing import gathered_loss, pack, packed_attention_mode

    examples = []
    for msgs in chats:
        every = masking.build_labels(tokenizer, msgs, "none", max_length=max_seq_len)
        reply = masking.build_labels(tokenizer, msgs, "completion", max_length=max_seq_len)
        labels = [t if r == masking.IGNORE_INDEX else masking.IGNORE_INDEX for t, r in zip(every.labels, reply.labels)]
        examples.append(dataclasses.replace(every, labels=labels))
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    was_training = model.training
    model.train()  # (bitsandbytes' training-path matmul; float32_arithmetic replaces it anyway)
    try:
        total, count = 0.0, 0
        with evaluation.float32_arithmetic(model), packed_attention_mode(model), torch.inference_mode():
            for i in range(0, len(examples), 8):  # 8 chats a forward: their logits stay in one chunk
                batch = pack(examples[i : i + 8], model.device)
                total += gathered_loss(causal_lm, batch).item() * batch.targets.numel()
                count += batch.targets.numel()
        return total / count if count else float("nan")
    finally:
        model.train(was_training)


def turns_after_reply(text: str, end: str = "<|im_end|>", start: str = "<|im_start|>") -> list[str]:
    """Roles of the turns a sample opens after its reply ended: ``"...<|im_end|>\\n<|im_start|>user\\n..."``
    gives ``["user"]``."""
    if end not in text:
        return []
    rest = text.split(end, 1)[1]
    return [part.split("\n", 1)[0].strip() for part in rest.split(start)[1:]]


def memory_split(run) -> dict:
    """The run's peak memory in MiB, split into the ledger's piles (module docstring; ``other`` estimated)."""
    peak = run.peak_memory_mb or 0.0
    process = run.before_model_mb or 0.0
    t = run.tensor_memory
    weights, grads, opt, act = ((t.weights, t.gradients, t.optimizer, t.activations) if t else (0, 0, 0, 0))
    split = {"process_mb": process, "weights_mb": weights / MIB, "gradients_mb": grads / MIB,
             "optimizer_mb": opt / MIB, "activations_mb": act / MIB}
    split["other_mb"] = peak - sum(split.values())  # estimated, by difference (module docstring)
    split["device"] = "cuda" if torch.cuda.is_available() else "cpu"
    return split


def machine() -> dict:
    """The machine a result was measured on (with its load when the experiment began)."""
    import datetime
    import os
    import platform

    import transformers

    from lab.training import available_cores

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    info = {
        "cpu": cpu, "cores": available_cores(), "device": str(models.device()),
        "compute_dtype": str(models.compute_dtype()).replace("torch.", ""),
        "torch": torch.__version__, "transformers": transformers.__version__, "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    if hasattr(os, "getloadavg"):
        info["load_average_1min"] = round(os.getloadavg()[0], 2)
    return info
