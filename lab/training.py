"""QLoRA training: a frozen 4-bit NF4 base model, small trainable LoRA matrices, a live loss.

The whole method in one line (Dettmers et al. 2023, on top of Hu et al. 2021)::

    y = dequant_NF4(W) x + (alpha / r) * B (A x)      W frozen in 4 bits; A (r x d_in), B (d_out x r) trained

Only ``A`` and ``B`` get gradients; ``B`` starts at zero, so step 0 is exactly the base model.
``train(config, stop)`` is a generator: it yields one :class:`StepLog` per optimizer step, and the
UI, the CLI (``python -m lab train``) and the tests all read the same stream. The adapter is saved
in peft's format (``adapter_config.json`` + ``adapter_model.safetensors``) when the run ends,
whether it finished, was stopped, hit the wall-clock cap, or its consumer went away.

The same loop trains plain LoRA (a 16/32-bit base) and **full fine-tuning** (``method="full"``: no
adapter, every parameter trained by AdamW in fp32, the whole model saved); :mod:`lab.train_config`
holds the settings.

What makes it fast on a small CPU. The first three change how much is computed, not what (tests
check them against transformers' own loss); the last is the usual mixed precision:

* **no padding** — a batch is the ``batch_size`` examples laid end to end in one row; position ids
  restart at every example and attention runs example by example, as plain matmuls (at ~100 tokens
  they beat the fused CPU kernel ~2.5x), so no token attends across examples and no FLOP is spent
  on padding (:mod:`lab.packing`);
* **logits only where there is a loss** — the LM head (576 x 49,152 for the bundled model) runs on
  the hidden states at trained positions only: ``loss = CE(h[trained] W_head^T, next tokens)``, one
  node that makes the logits' gradient in the forward pass, 16 rows at a time in fp32, and keeps only
  dL/dh (:class:`lab.packing.HeadLoss`; no (n, V) fp32 tensors);
* **no gradient checkpointing** — a 135M model's activations fit easily, so nothing is recomputed;
* **one autograd node per group of LoRA layers** (:mod:`lab.fused`: q/k/v, gate/up, o, down) — one A
  matmul per group, and per layer its dequantized base matmul and LoRA term in one addmm, instead of
  peft's and bitsandbytes' ~8 small ops per layer (and as many in the backward pass);
* **one autograd node per decoder layer** (:mod:`lab.fused_layer`) — norms, the LoRA projections (each
  group as in :mod:`lab.fused`), RoPE, attention and the MLP, forward and backward written out, in place
  of ~100 ops of transformers' and peft's Python per layer and pass;
* the machine's **compute dtype** (:func:`lab.models.compute_dtype`: bf16 on CUDA and on CPUs with
  native bf16 matmuls, ~4x faster than fp32 there; fp32 otherwise) for every matmul, under autocast
  as ``Trainer(bf16=True)`` does; LoRA weights, their gradients and the optimizer stay fp32.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from lab import cores, fused, fused_layer, masking, memory, models
from lab.errors import LabError, LabRuntimeError, Msg, message_of
from lab.packing import (  # noqa: F401  (re-exported: the training API in one place)
    LOGIT_CHUNK, PACKED_ATTENTION, PackedBatch, batches, gathered_loss, pack, packed_attention,
    packed_attention_mode, standard_attention,
)
from lab.train_config import (  # noqa: F401  (re-exported: the training API in one place)
    ALL_LINEAR, AUTO, MAX_TOKENS_PER_STEP, METHODS, QUANTIZATIONS, TrainConfig, lr_at, run_labels,
)

# bitsandbytes looks on the Hub for an optional CPU kernel ("kernels-community") when it is imported and
# warns when it cannot: that kernel only serves its inference path on packed weights, which this lab
# never uses (training dequantizes and multiplies; evaluation dequantizes once, see lab.evaluation).
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")

class Stopped(Exception):
    """The user's stop or the wall-clock cap ended a run while it prepared its data or evaluated."""


@dataclass
class StepLog:
    """One optimizer step, as the UI plots it and the CLI prints it (one JSON object)."""

    step: int
    steps: int
    loss: float  # mean cross-entropy over this step's trained tokens (nats per token)
    lr: float  # learning rate used for this step
    grad_norm: float  # global L2 norm of the LoRA gradients, before clipping
    tokens: int  # tokens the model read in this step (prompt + response, no padding)
    trained_tokens: int  # tokens that carried loss in this step
    tokens_seen: int  # tokens read since the start
    tokens_per_s: float  # tokens_seen / seconds spent in training steps
    step_s: float  # seconds of this step
    elapsed_s: float  # seconds since train() started, model loading included
    eta_s: float  # estimated seconds left: remaining steps x mean step time
    memory_mb: float  # process memory in use (RSS on CPU, allocated on CUDA)

    def to_json(self) -> str:
        return json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in dataclasses.asdict(self).items()})


# --- data -----------------------------------------------------------------------------------------


def load_splits(dataset: str, holdout: int = 16):
    """(train, eval) chats. Bundled datasets have both splits; for a file the last
    ``min(holdout, 10 %)`` rows are held out as its eval split and never trained on."""
    from lab import data

    if dataset in data.BUNDLED:
        return data.load_sft_dataset(dataset, "train"), data.load_sft_dataset(dataset, "eval")
    ds = data.load_sft_dataset(dataset, max_bytes=data.MAX_UPLOAD_BYTES)
    k = min(holdout, len(ds) // 10)
    if k == 0:
        return ds, ds.select([])
    return ds.select(range(len(ds) - k)), ds.select(range(len(ds) - k, len(ds)))



class Deadline:
    """The user's stop flag and the wall-clock cap, checked inside long steps (tokenizing, evaluating)."""

    def __init__(self, stop: threading.Event | None = None, max_seconds: float = math.inf, started: float | None = None):
        self.stop, self.max_seconds = stop, max_seconds
        self.started = time.perf_counter() if started is None else started

    def reason(self) -> Msg | None:
        if self.stop is not None and self.stop.is_set():
            return Msg("train.reason.user", "Stopped by the user")
        if time.perf_counter() - self.started >= self.max_seconds:
            return Msg("train.reason.cap", "Stopped at the wall-clock cap of {s:.0f} s", s=self.max_seconds)
        return None

    def check(self, while_doing: Msg) -> None:
        """Raise :class:`Stopped` ("Stopped by the user while tokenizing the data.") when it is time."""
        reason = self.reason()
        if reason:
            raise Stopped(Msg("train.stopped_while", "{reason} while {doing}.", reason=reason, doing=while_doing))


def label_examples(tokenizer, chats, mode: str, max_seq_len: int,
                   deadline: Deadline | None = None) -> tuple[list[masking.LabeledExample], int]:
    """Token ids and labels of each chat (``lab.masking.build_labels``); examples left with no trained
    token (all cut by ``max_seq_len``) are dropped, and their number returned. ``deadline`` is checked
    every 64 examples (tokenizing 50,000 rows takes half a minute)."""
    out, dropped = [], 0
    for i, msgs in enumerate(chats):
        if deadline is not None and i % 64 == 0:
            deadline.check(Msg("train.doing.tokenizing", "tokenizing the data ({i:,} of {n:,} examples)", i=i,
                               n=len(chats)))
        try:
            ex = masking.build_labels(tokenizer, msgs, mode, max_length=max_seq_len)
        except ValueError as e:
            raise LabError("train.example", "Training example {i}: {why}", i=i + 1,
                           why=message_of(e) or str(e)) from e
        if ex.n_trained == 0:
            dropped += 1
        else:
            out.append(ex)
    if not out:
        raise LabError("train.no_trained_token", "No example has a trained token within max sequence length "
                       "{max_len}: raise it or pick another masking mode.", max_len=max_seq_len)
    return out, dropped


# --- the model ------------------------------------------------------------------------------------


def wrap_lora(model, config: TrainConfig):
    """Add LoRA adapters (``peft``) to the frozen base: only A and B train, B = 0 at the start."""
    from peft import LoraConfig, get_peft_model

    present = {name.rsplit(".", 1)[-1] for name, mod in model.named_modules() if isinstance(mod, torch.nn.Linear)}
    missing = [t for t in config.target_modules if t not in present]
    if missing:
        raise LabError("train.no_layer", "The model has no linear layer named {missing}; choose among {present}.",
                       missing=", ".join(missing), present=", ".join(sorted(present)))
    lora = LoraConfig(
        r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=list(config.target_modules), bias="none", task_type="CAUSAL_LM",
    )
    torch.manual_seed(config.seed)
    with models.BUILD_LOCK, warnings.catch_warnings():  # (no meta-device build meanwhile) peft asks transformers a deprecated question; nothing for the user
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, lora)


available_cores = cores.available  # CPU cores this process may run on (its affinity mask)


memory_mb = memory.in_use_mb  # what each StepLog reports


def make_optimizer(params, config: TrainConfig) -> tuple[torch.optim.Optimizer, str]:
    """Paged 8-bit AdamW for QLoRA on CUDA (QLoRA's optimizer); plain AdamW otherwise: on a CPU, where
    paging does not apply, and for LoRA and full fine-tuning (fp32 m and v: 8 bytes per trained parameter)."""
    if torch.cuda.is_available() and config.resolved_method == "qlora":
        import bitsandbytes as bnb

        return bnb.optim.PagedAdamW8bit(params, lr=config.learning_rate, weight_decay=0.0), Msg(
            "train.note.paged", "Optimizer: paged 8-bit AdamW (bitsandbytes): its states live in CUDA unified memory "
            "and move to CPU RAM if the GPU runs out.")
    # fused: one pass over each tensor for m, v and the update, the same arithmetic as the per-tensor loop
    # and several times faster on full fine-tuning's 134M parameters
    return torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0, fused=True), Msg(
        "train.note.adamw", "Optimizer: AdamW (fp32 states). Paged optimizers do not apply on a CPU: paging moves "
        "optimizer states between GPU and CPU memory, and here everything already lives in CPU RAM.")


# --- the run --------------------------------------------------------------------------------------


@dataclass
class TensorMemory:
    """Bytes held by the training tensors themselves, counted in the first step (sum of numel x element
    size): the four piles of the memory ledger (lab.lora.memory), measured."""

    weights: int  # every parameter, frozen or trained, in its storage format (4-bit weights packed)
    gradients: int  # the .grad of every trained parameter, just before zero_grad
    optimizer: int  # AdamW's state tensors (m, v, step counters)
    activations: int  # what autograd saved for the backward pass (parameters excluded; autocast's 16-bit
    #                   copies of fp32 weights included): measured when the forward ends


class SavedTensors:
    """Bytes autograd saves for backward during a forward pass (``saved_tensors_hooks``): each storage
    once, at its size, the parameters' own storages left out."""

    def __init__(self, model):
        self.params = {p.untyped_storage().data_ptr() for p in model.parameters()}
        self.sizes: dict[int, int] = {}

    def pack(self, t):
        s = t.untyped_storage()
        if s.data_ptr() not in self.params:
            self.sizes[s.data_ptr()] = max(self.sizes.get(s.data_ptr(), 0), s.nbytes())
        return t

    def hooks(self):
        return torch.autograd.graph.saved_tensors_hooks(self.pack, lambda t: t)

    @property
    def bytes(self) -> int:
        return sum(self.sizes.values())


def tensor_bytes(tensors) -> int:
    """sum of numel x element_size over ``tensors``, each storage counted once (tied weights)."""
    seen, total = set(), 0
    for t in tensors:
        if t is None or not torch.is_tensor(t) or t.data_ptr() in seen:
            continue
        seen.add(t.data_ptr())
        total += t.numel() * t.element_size()
    return total


class TrainingRun:
    """One training run: ``for log in run.steps(stop): ...``; afterwards ``run.model`` (peft model with the
    trained adapter, or for full fine-tuning the trained model, in eval mode), ``run.out_dir`` (also
    ``run.adapter_dir`` or ``run.model_dir``), ``run.stop_reason`` and ``run.notes`` describe it, and
    ``run.peak_memory_mb``, ``run.start_memory_mb`` and ``run.tensor_memory`` what training held.

    Full fine-tuning (``method="full"``) is the same loop on the model itself: every parameter trains,
    in fp32 (AdamW's updates are far below bf16's resolution), its matmuls under the same autocast.

    Generate from ``run.model`` with :func:`lab.evaluation.generate`: on a CPU with bf16 instructions,
    a plain eval-mode forward makes bitsandbytes repack the 4-bit weights in place for its inference
    kernel, rounding the block scales to bf16 — the base would no longer be the one trained on.
    """

    def __init__(self, config: TrainConfig, base_model=None, tokenizer=None, splits=None):
        self.config = config
        self._base = base_model  # an already loaded base model (tests use a tiny one); None: load config.model
        # (train, eval) datasets to train and evaluate on instead of config.dataset's: rows made in the run
        # itself (the data-quality experiment's cleaned set), which no bundled name or file holds
        self._splits = splits
        self.model = None
        self.tokenizer = tokenizer
        self.examples: list[masking.LabeledExample] = []
        self.eval_chats = None
        self.logs: list[StepLog] = []
        self.notes: list[str] = []
        self.stop_reason = ""
        self.out_dir: Path | None = None
        self.peak_memory_mb: float | None = None  # most memory in use during the steps (lab.memory.PeakMeter)
        self.start_memory_mb: float | None = None  # in use when the first step began (model loaded)
        self.before_model_mb: float | None = None  # in use just before the model was loaded
        self.tensor_memory: TensorMemory | None = None
        self._pristine = None  # full fine-tuning of a model passed in: a copy of it untrained (fresh_base)
        self.started = time.perf_counter()
        self.first_step_at: float | None = None
        self.deadline = Deadline(None, config.max_seconds, self.started)

    def setup(self) -> None:
        cfg = self.config
        cores.fit(cfg.threads)
        train_ds, self.eval_chats = self._splits if self._splits is not None else load_splits(cfg.dataset)
        self.deadline.check(Msg("train.doing.reading", "reading the data"))
        if self.tokenizer is None:
            self.tokenizer = models.load_tokenizer(cfg.model)
        self.examples, dropped = label_examples(self.tokenizer, train_ds["messages"], cfg.masking, cfg.max_seq_len,
                                                self.deadline)
        self.deadline.check(Msg("train.doing.loading", "loading the model"))
        if dropped:
            self.notes.append(Msg("train.note.dropped", "{n} examples had no trained token within {max_len} tokens and "
                                  "were skipped.", n=dropped, max_len=cfg.max_seq_len))
        memory.release()
        self.before_model_mb = memory.in_use_mb()  # the process without the model: Python, torch, data
        base = self._base if self._base is not None else models.load_model(cfg.model, quantization=cfg.quantization)
        dtype = models.compute_dtype() if self._base is None else base.dtype
        name = models.display_name(cfg.model) if self._base is None else type(base).__name__
        if cfg.resolved_method == "full":
            if self._base is not None:
                import copy

                self._pristine = copy.deepcopy(base)  # a model passed in cannot be reloaded from disk
            base.float()  # fp32 master weights: an AdamW update of lr 5e-5 is far below bf16's step of 2^-8
            base.requires_grad_(True)
            self.model = base
        else:
            if cfg.quantization is None and base.dtype != dtype:
                base.to(dtype)  # a 16-bit base on machines that compute in 16 bits: the difference to NF4 is the storage
            self.model = wrap_lora(base, cfg)
        self.model.train()
        self.compute_dtype, self.device = dtype, next(base.parameters()).device
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in self.model.parameters())
        # parameters of the model (adapter included), a 4-bit weight counted as its d_out x d_in values, not
        # the bytes it is packed into: the denominator of "share of the model"
        self.trainable_params, self.total_params = trainable, sum(_values(p) for p in self.model.parameters())
        matmuls = str(dtype).replace("torch.", "")
        if cfg.resolved_method == "full":
            self.notes.append(Msg("train.note.full", "{name}: full fine-tuning, all {total:,} parameters trained "
                                  "(fp32 weights, gradients and AdamW states), matmuls in {matmuls}.",
                                  name=name, total=total, matmuls=matmuls))
        else:
            stored = cfg.quantization.upper() + " (4-bit)" if _is_4bit(base) else matmuls
            self.notes.append(Msg(
                "train.note.lora", "{name}: base stored in {stored}, matmuls in {matmuls}; {trainable:,} trainable LoRA "
                "parameters ({pct:.2f} % of {total:,} stored values).", name=name, stored=stored, matmuls=matmuls,
                trainable=trainable, pct=100 * trainable / total, total=total))
        self.notes.append(Msg("train.note.examples", "{n} training examples, {m} held-out eval examples.",
                              n=len(self.examples), m=len(self.eval_chats)))

    def autocast(self):
        """Matmuls in the compute dtype (as ``Trainer(bf16=True)``): the fp32 LoRA weights are cast to bf16
        inside each matmul, while the weights themselves, their gradients and AdamW's states stay fp32."""
        if self.compute_dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.compute_dtype)

    @property
    def causal_lm(self):
        """The transformers model that computes (inside peft's wrapper, or the model itself)."""
        return self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model

    @property
    def adapter_dir(self) -> Path | None:
        """Where the adapter was saved (LoRA and QLoRA runs)."""
        return None if self.config.resolved_method == "full" else self.out_dir

    @property
    def model_dir(self) -> Path | None:
        """Where the whole fine-tuned model was saved (full fine-tuning)."""
        return self.out_dir if self.config.resolved_method == "full" else None

    def fresh_base(self):
        """The model this run started from, untrained, as it was stored for training (full fine-tuning's
        "before": its own weights have changed). A new copy each call; the caller drops it."""
        import copy

        if self._pristine is not None:
            return copy.deepcopy(self._pristine)
        base = models.load_model(self.config.model, quantization=self.config.quantization)
        return base.float() if self.config.resolved_method == "full" else base

    def save(self, out_dir: str | os.PathLike | None = None) -> Path:
        """Write what was trained to ``out_dir``, with the run's config (``train_config.json``): the adapter
        in peft's format, or, for full fine-tuning, the whole model (safetensors, loadable with
        ``AutoModelForCausalLM.from_pretrained``) and its tokenizer."""
        out = Path(out_dir or self.config.out_dir or tempfile.mkdtemp(prefix="qlora-run-"))
        out.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(str(out))
        if self.config.resolved_method == "full" and self.tokenizer is not None:
            self.tokenizer.save_pretrained(str(out))
        cfg = dataclasses.asdict(self.config)
        cfg["target_modules"] = list(cfg["target_modules"])
        (out / "train_config.json").write_text(json.dumps(cfg, indent=2))
        self.out_dir = out
        return out

    def steps(self, stop: threading.Event | None = None):
        """Yield one :class:`StepLog` per optimizer step; save the adapter however the loop ends."""
        if stop is not None and stop.is_set():
            self.stop_reason = Msg("train.stop.before", "Stopped before training began.")
            return
        self.deadline.stop = stop
        # beside other heavy work (a chat, an evaluation, another run) the cores are shared: lab.cores
        with cores.lane(self.config.threads):
            yield from self._steps(stop)

    def _steps(self, stop):
        try:
            try:
                self.setup()
            except Stopped as e:
                self.stop_reason = Msg("train.stop.no_step", "{why} No step was trained.", why=e.args[0])
                return
            memory.release()  # what loading left behind (a 4-bit model is built from its fp32 weights)
            meter = memory.PeakMeter().start()
            self.start_memory_mb = meter.start_mb
            try:
                with packed_attention_mode(self.model), fused.fused_lora(self.model), fused_layer.fused_layers(self.model):
                    yield from self._loop(stop)
            finally:
                self.peak_memory_mb = meter.stop()
        finally:
            if self.model is not None:
                self.model.eval()
                if self.out_dir is None:
                    if not self.stop_reason:
                        self.stop_reason = Msg("train.stop.interrupted", "Interrupted after {done} of {steps} steps.",
                                               done=len(self.logs), steps=self.config.steps)
                    self.save()

    def _loop(self, stop):
        cfg = self.config
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer, note = make_optimizer(params, cfg)
        self.notes.append(note)
        causal_lm = self.causal_lm
        order = batches(len(self.examples), cfg.batch_size, cfg.seed)
        train_s, seen = 0.0, 0
        for step in range(1, cfg.steps + 1):
            if stop is not None and stop.is_set():
                self.stop_reason = Msg("train.stop.user", "Stopped by the user after {done} of {steps} steps.",
                                       done=step - 1, steps=cfg.steps)
                return
            if time.perf_counter() - self.started >= cfg.max_seconds:
                self.stop_reason = Msg("train.stop.cap", "Stopped at the wall-clock cap of {s:.0f} s after {done} of "
                                       "{steps} steps.", s=cfg.max_seconds, done=step - 1, steps=cfg.steps)
                return
            cores.fit(cfg.threads)  # a neighbour may have started or ended since the last step
            t0 = time.perf_counter()
            batch = pack([self.examples[i] for i in next(order)], params[0].device)
            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            # the first step whose logits fit in one chunk (no recomputation inside) counts the activations
            saved = SavedTensors(self.model) if self.tensor_memory is None and batch.targets.numel() <= LOGIT_CHUNK else None
            with self.autocast(), (saved.hooks() if saved else contextlib.nullcontext()):
                loss = gathered_loss(causal_lm, batch)
            loss.backward()
            # clip: g <- g * min(1, max_norm / ||g||), as transformers' Trainer does (max_grad_norm=1.0)
            norm = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm if cfg.max_grad_norm > 0 else float("inf"))
            optimizer.step()
            if saved is not None:  # weights, gradients and optimizer states: all alive right here
                self.tensor_memory = TensorMemory(
                    tensor_bytes(self.model.parameters()), tensor_bytes(p.grad for p in params),
                    tensor_bytes(t for state in optimizer.state.values() for t in state.values()), saved.bytes)
            optimizer.zero_grad(set_to_none=True)
            value = loss.item()
            dt = time.perf_counter() - t0
            if not math.isfinite(value):
                raise LabRuntimeError("train.loss_not_finite", "The loss became {value} at step {step}: lower the "
                                      "learning rate.", value=value, step=step)
            train_s += dt
            seen += batch.tokens
            log = StepLog(
                step=step, steps=cfg.steps, loss=value, lr=lr, grad_norm=float(norm), tokens=batch.tokens,
                trained_tokens=int(batch.targets.numel()), tokens_seen=seen, tokens_per_s=seen / train_s,
                step_s=dt, elapsed_s=time.perf_counter() - self.started,
                eta_s=(cfg.steps - step) * train_s / step, memory_mb=memory_mb(),
            )
            self.logs.append(log)
            yield log
        self.stop_reason = Msg("train.stop.finished", "Finished {steps} steps.", steps=cfg.steps)


def train(config: TrainConfig, stop: threading.Event | None = None, base_model=None, tokenizer=None):
    """Train ``config``; yield a :class:`StepLog` per step. Set ``stop`` to end early (the adapter is kept)."""
    yield from TrainingRun(config, base_model, tokenizer).steps(stop)


def _values(p) -> int:
    """Values a parameter holds: numel, or for a packed 4-bit weight the shape it was quantized from."""
    state = getattr(p, "quant_state", None)
    return state.shape.numel() if state is not None else p.numel()


def _is_4bit(model) -> bool:
    return bool(getattr(model, "is_loaded_in_4bit", False))


def load_adapter(adapter_dir: str | os.PathLike, model: str | None = None, quantization: str | None = "nf4"):
    """The base model with a saved adapter on top (``peft.PeftModel.from_pretrained``), in eval mode."""
    from peft import PeftModel

    base = models.load_model(model, quantization=quantization)
    return PeftModel.from_pretrained(base, str(adapter_dir)).eval()


@dataclass
class Sizes:
    """Bytes of the adapter beside the base model's (on disk in its stored precision, and in memory)."""

    adapter: int  # adapter_model.safetensors
    base_disk: int | None  # the base model's safetensors files (None if it is not a local directory)
    base_memory: int  # the frozen base as loaded for training (4-bit weights + 16/32-bit rest)


def sizes(run: TrainingRun) -> Sizes:
    adapter = (run.adapter_dir / "adapter_model.safetensors").stat().st_size
    path = Path(models.resolve(run.config.model))
    disk = sum(p.stat().st_size for p in path.glob("*.safetensors")) if path.is_dir() else None
    base = sum(p.numel() * p.element_size() for n, p in run.model.named_parameters() if "lora_" not in n)
    return Sizes(adapter, disk or None, base)


def dir_size(path: str | os.PathLike) -> int:
    """Bytes of the files directly in ``path``."""
    return sum(p.stat().st_size for p in Path(path).iterdir() if p.is_file())
