"""What a training run is asked to do: :class:`TrainConfig`, its checks, and the learning-rate schedule.

One dataclass carries a run's settings; the UI, the CLI (its options are generated from the fields'
defaults and help texts) and the experiments build it, and :mod:`lab.training` runs it.
``method`` says what trains:

    qlora   LoRA on a frozen 4-bit base        (quantization nf4 or fp4)
    lora    LoRA on a frozen 16/32-bit base    (quantization None)
    full    every parameter, AdamW             (quantization None)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lab import masking
from lab.models import LLAMA_LINEAR
from lab.errors import LabError, Msg

ALL_LINEAR = LLAMA_LINEAR  # every linear layer: QLoRA's choice
QUANTIZATIONS = ("nf4", "fp4", None)
#: What a run trains: LoRA on a 4-bit base, LoRA on a 16/32-bit base, or every parameter of the model.
METHODS = ("qlora", "lora", "full")
#: ``quantization="auto"``: nf4 for QLoRA, none for LoRA and full fine-tuning.
AUTO = "auto"
#: Most tokens one optimizer step may read (batch size x max sequence length). Memory grows with the
#: tokens of a step (the activations of 30 layers, kept for the backward pass): measured on the
#: bundled model with every token trained, 8,192 tokens peaked at 8.5 GB of process memory, so the
#: limit is 4,096 (under 5 GB); the default 4 x 256 = 1,024 stays under 3 GB (bench/server_memory.py).
MAX_TOKENS_PER_STEP = 4096


def _help(text: str, **kw):
    return field(metadata={"help": text}, **kw)


@dataclass
class TrainConfig:
    """Everything a run needs; every field has a default that trains the pirate behaviour in ~1 minute."""

    model: str | None = _help("Base model: None for the bundled SmolLM2-135M-Instruct, or a local directory / Hub id.", default=None)
    dataset: str = _help("A bundled dataset (pirate, json) or a .jsonl/.json/.csv/.parquet file.", default="pirate")
    method: str | None = _help("What trains: qlora (LoRA on a 4-bit base), lora (LoRA on a 16/32-bit base) or full (every parameter, AdamW); None: qlora when quantization is set, else lora.", default=None)
    quantization: str | None = _help("How the base is stored: nf4 (QLoRA: NF4 + double quantization), fp4, None (16/32 bits: plain LoRA or full fine-tuning) or auto (nf4 for qlora, None otherwise).", default=AUTO)
    r: int = _help("LoRA rank r: A is r x d_in, B is d_out x r.", default=16)
    alpha: float = _help("LoRA alpha: the update B A is scaled by alpha / r.", default=32.0)
    dropout: float = _help("Dropout on the LoRA branch's input (0 to 0.5).", default=0.0)
    target_modules: tuple[str, ...] = _help("Linear layers that get a LoRA adapter (QLoRA: all of them).", default=ALL_LINEAR)
    learning_rate: float = _help("Peak learning rate of AdamW.", default=1e-3)
    warmup_steps: int = _help("Steps of linear warm-up before the cosine decay.", default=2)
    max_grad_norm: float = _help("Gradients are scaled down to this global L2 norm when larger (0: never).", default=1.0)
    steps: int = _help("Optimizer steps.", default=30)
    batch_size: int = _help("Examples per step.", default=4)
    max_seq_len: int = _help("Tokens kept per example (longer ones are cut at the end).", default=256)
    masking: str = _help("Which tokens carry loss: completion (last reply), assistant (every reply) or none (all tokens).", default="completion")
    seed: int = _help("Seed for the LoRA initialisation, dropout and the data order.", default=0)
    max_seconds: float = _help("Wall-clock cap: the run stops, keeping what it learned, after this many seconds.", default=600.0)
    threads: int | None = _help("CPU threads for torch (None: every core this process may use).", default=None)
    out_dir: str | None = _help("Where the adapter is written (None: a new temporary directory).", default=None)

    def __post_init__(self):
        if isinstance(self.target_modules, str):
            self.target_modules = tuple(t.strip() for t in self.target_modules.split(",") if t.strip())
        self.target_modules = tuple(self.target_modules)
        if self.quantization in ("none", "None", ""):
            self.quantization = None
        if self.method in ("none", "None", ""):
            self.method = None
        if self.method is not None and self.method not in METHODS:
            raise LabError("train.method", "method must be qlora, lora or full, not {value!r}.", value=self.method)
        if self.quantization == AUTO:
            self.quantization = "nf4" if self.method in (None, "qlora") else None
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(f"quantization must be nf4, fp4 or none, not {self.quantization!r}.")
        if self.method == "qlora" and self.quantization is None:
            raise LabError("train.qlora_unquantized",
                           "QLoRA trains LoRA on a 4-bit base: set quantization to nf4 or fp4 (or auto), "
                           "or choose method lora.")
        if self.method in ("lora", "full") and self.quantization is not None:
            raise LabError("train.quantized_" + self.method,
                           "{method} keeps the base in 16/32 bits: set quantization to none (or auto), not {value}.",
                           method="Full fine-tuning" if self.method == "full" else "Plain LoRA",
                           value=self.quantization)
        if self.masking not in masking.MODES:
            raise ValueError(f"masking must be one of {', '.join(masking.MODES)}, not {self.masking!r}.")
        if not str(self.dataset).strip():
            raise ValueError("Choose a dataset: pirate, json, or a file.")
        _check_int("r", self.r, 1, 256)
        _check_int("steps", self.steps, 1, 5000)
        _check_int("batch size", self.batch_size, 1, 128)
        _check_int("max sequence length", self.max_seq_len, 16, 4096)
        _check_int("warm-up steps", self.warmup_steps, 0, 1000)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        if self.threads is not None:
            _check_int("threads", self.threads, 1, 512)
        _check_float("alpha", self.alpha, 0.01, 4096)
        _check_float("dropout", self.dropout, 0.0, 0.5)
        _check_float("learning rate", self.learning_rate, 1e-7, 0.1)
        _check_float("wall-clock cap (seconds)", self.max_seconds, 1.0, 24 * 3600)
        _check_float("max gradient norm", self.max_grad_norm, 0.0, 1e6)
        if self.batch_size * self.max_seq_len > MAX_TOKENS_PER_STEP:
            raise ValueError(
                f"batch size x max length is {self.batch_size} x {self.max_seq_len:,} = "
                f"{self.batch_size * self.max_seq_len:,} tokens per step; the limit is {MAX_TOKENS_PER_STEP:,} "
                "(memory grows with the tokens of a step): lower the batch size or the max length."
            )
        self.alpha, self.dropout = float(self.alpha), float(self.dropout)
        self.learning_rate, self.max_seconds = float(self.learning_rate), float(self.max_seconds)
        self.max_grad_norm = float(self.max_grad_norm)
        if not self.target_modules:
            raise ValueError("Choose at least one target module for LoRA (for example q_proj, v_proj).")
        for t in self.target_modules:
            if not t.replace("_", "").isalnum():
                raise ValueError(f"Target module {t!r} is not a module name (letters, digits and _ only).")


    @property
    def resolved_method(self) -> str:
        """``method``, or when it is None what ``quantization`` implies: qlora for a 4-bit base, else lora.

        (``method`` itself stays None then, so ``dataclasses.replace(config, quantization=None)`` keeps
        meaning plain LoRA, as it did before full fine-tuning existed.)"""
        return self.method or ("qlora" if self.quantization else "lora")


def _check_int(name: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a whole number from {lo:,} to {hi:,}, not {value!r}.")


def _check_float(name: str, value, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi or math.isnan(value):
        raise ValueError(f"{name} must be a number from {lo:g} to {hi:g}, not {value!r}.")


def lr_at(step: int, config: TrainConfig, min_lr_rate: float = 0.1) -> float:
    """Learning rate of optimizer step ``step`` (1-based): linear warm-up, then cosine to 10 % of the peak.

    With k = step - 1, w = warmup_steps, N = steps (the convention of transformers' schedulers,
    whose factor for the first step is computed at k = 0)::

        k < w:   lr = peak * k / w
        else:    p = (k - w) / max(1, N - w);   lr = peak * (m + (1 - m) * (1 + cos(pi p)) / 2),  m = 0.1

    the same numbers as ``transformers.get_scheduler("cosine_with_min_lr", min_lr_rate=0.1)``.
    """
    k, w, n = step - 1, config.warmup_steps, config.steps
    if k < w:
        return config.learning_rate * k / max(1, w)
    p = (k - w) / max(1, n - w)
    return config.learning_rate * (min_lr_rate + (1 - min_lr_rate) * 0.5 * (1.0 + math.cos(math.pi * p)))


#: What a run's label names, in this order: (field, how it reads).
_LABEL_FIELDS = (
    ("dataset", lambda c: c.dataset if c.dataset in ("pirate", "json") else Msg("train.label.upload", "upload")),
    ("quantization", lambda c: Msg("train.label.full", "full fine-tuning") if c.resolved_method == "full"
                               else c.quantization.upper() if c.quantization else Msg("train.label.unquantized",
                                                                                       "unquantized")),
    ("r", lambda c: f"r={c.r}"),
    ("alpha", lambda c: f"α={c.alpha:g}"),
    ("dropout", lambda c: f"dropout={c.dropout:g}"),
    ("target_modules", lambda c: "targets=" + "+".join(m.removesuffix("_proj") for m in c.target_modules)),
    ("learning_rate", lambda c: f"lr={c.learning_rate:g}"),
    ("steps", lambda c: Msg("train.label.steps", "{n} steps", n=c.steps)),
    ("batch_size", lambda c: Msg("train.label.batch", "batch {n}", n=c.batch_size)),
    ("max_seq_len", lambda c: Msg("train.label.max_len", "max length {n}", n=c.max_seq_len)),
    ("masking", lambda c: Msg("train.label.masking", "{mode} masking", mode=c.masking)),
    ("seed", lambda c: Msg("train.label.seed", "seed {n}", n=c.seed)),
)


def _label(n: int, parts) -> Msg:
    """"run 2: r=64, 3 steps" as a phrase whose parts are phrases too (a part may be plain text)."""
    parts = list(parts)
    names = [f"p{i}" for i in range(len(parts))]
    return Msg("train.label.run", "run {n}: {parts}", n=n,
               parts=Msg("train.label.parts." + str(len(parts)), ", ".join("{" + k + "}" for k in names),
                         **dict(zip(names, parts))))


def run_labels(configs, numbers) -> list[str]:
    """Legend labels that name what differs between the runs ("run 2: r=64").

    A run on its own reads "run 1: pirate, NF4, r=16"; runs side by side name only the settings in
    which they differ (every differing setting), or "same settings" when none does. Each label is a
    phrase (:class:`lab.errors.Msg`), so an app can say it in another language."""
    configs, numbers = list(configs), list(numbers)
    if len(configs) == 1:
        c = configs[0]
        return [_label(numbers[0], [f(c) for name, f in _LABEL_FIELDS[:3]])]
    differing = [(name, f) for name, f in _LABEL_FIELDS if len({str(f(c)) for c in configs}) > 1]
    return [_label(n, [f(c) for _, f in differing]) if differing
            else Msg("train.label.same", "run {n}: same settings", n=n)
            for c, n in zip(configs, numbers)]
