"""LoRA parameter counts, exact for any architecture transformers can build, checked against peft.

LoRA (Hu et al. 2021) freezes a weight W (d_out × d_in) and learns a low-rank update::

    W' = W + (alpha / r) · B A          B: d_out × r (starts at 0),  A: r × d_in

so one adapted matrix trains ``r · (d_in + d_out)`` numbers instead of ``d_in · d_out``.
For a 4096 × 4096 projection at r = 8 that is 65,536 instead of 16,777,216: 256× fewer.

What ``peft.get_peft_model`` makes trainable, term by term (all counted here):

- **LoRA matrices**: ``r · (d_in + d_out)`` per adapted ``Linear`` / GPT-2 ``Conv1D``;
  ``r · (vocab + width)`` per adapted ``Embedding``; for a fused mixture-of-experts parameter
  (E experts × d_out × d_in, transformers ≥ 5) ``r · E · (d_in + d_out)``.
- **DoRA** (Liu et al. 2024) adds a magnitude vector of ``d_out`` numbers per adapted matrix.
- **bias**: ``"none"``; ``"all"`` trains every bias of the model; ``"lora_only"`` the biases of the
  adapted layers.
- **modules_to_save**: a full trainable copy of those modules (e.g. ``embed_tokens`` and
  ``lm_head``: ``vocab · width`` each, even when the two are tied in the base model).

Which modules are adapted follows peft's rules exactly (:mod:`lab.lora.targets`): a list entry
``"q_proj"`` adapts every module whose dotted name is ``q_proj`` or ends in ``.q_proj``; any other
string is a regular expression matched against the whole name; ``"all-linear"`` means every
``Linear``/``Conv1D`` except the output layer; modules in ``modules_to_save`` are never adapted.

The module walk is done once per architecture (:mod:`lab.lora.architectures`); the target resolution once
per choice of targets; the rest is arithmetic, so a 70B config answers in well under 50 ms.
"""

from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass, field

from lab import checks
from lab.errors import LabError
from lab.lora.architectures import CONV1D, LINEAR, Architecture, architecture, build_meta_model, layer_pattern
from lab.lora.targets import PEFT_ALL_LINEAR, resolve

MAX_RANK = 1024
MAX_ALPHA = 10_000
"""alpha only scales the update (by alpha / r); real runs use 8 to 512."""
DEFAULT_ALPHA = 16
BIAS_MODES = ("none", "all", "lora_only")


# --- the count ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleRow:
    """One module's contribution: what it is, and what training it costs."""

    name: str
    role: str  # "LoRA", "DoRA", "saved in full", "bias"
    cls: str
    shape: str  # the frozen weight, e.g. "4096 × 4096" (d_out × d_in)
    base: int  # its frozen parameters
    rank: int
    lora: int  # r · (d_in + d_out), × experts for a fused MoE parameter
    dora: int  # d_out with DoRA
    bias: int  # trainable bias parameters
    saved: int  # full copy from modules_to_save
    d_in: int = 0  # input width of an adapted matrix (0 for other rows)

    @property
    def trainable(self) -> int:
        return self.lora + self.dora + self.bias + self.saved


@dataclass
class LoraCount:
    """What a LoRA configuration trains, as peft counts it (``get_nb_trainable_parameters``)."""

    arch_name: str
    model_type: str
    r: int
    target_modules: object  # what to pass to peft's LoraConfig
    bias: str
    use_dora: bool
    modules_to_save: list[str]
    base_total: int  # the frozen model
    rows: list[ModuleRow] = field(default_factory=list)

    @property
    def lora(self) -> int:
        return sum(r.lora for r in self.rows)

    @property
    def dora(self) -> int:
        return sum(r.dora for r in self.rows)

    @property
    def bias_params(self) -> int:
        return sum(r.bias for r in self.rows)

    @property
    def saved(self) -> int:
        return sum(r.saved for r in self.rows)

    @property
    def added(self) -> int:
        """New tensors peft adds to the model: LoRA, DoRA and the modules_to_save copies."""
        return self.lora + self.dora + self.saved

    @property
    def trainable(self) -> int:
        return self.lora + self.dora + self.bias_params + self.saved

    @property
    def total(self) -> int:
        """All parameters of the peft model: the frozen base plus what peft added (peft's ``all``)."""
        return self.base_total + self.added

    @property
    def percent(self) -> float:
        """peft's ``trainable%``: trainable / total × 100."""
        return 100.0 * self.trainable / self.total

    @property
    def reduction(self) -> float:
        """How many times fewer parameters train than in full fine-tuning: base_total / trainable."""
        return self.base_total / self.trainable

    @property
    def n_adapted(self) -> int:
        return sum(1 for r in self.rows if r.lora)

    @property
    def adapted_inputs(self) -> int:
        """Σ d_in over adapted matrices: the numbers per token that enter LoRA's A matrices."""
        return sum(r.d_in for r in self.rows if r.lora)

    def adapter_bytes(self, bytes_per_param: int = 2) -> int:
        """Size of the saved adapter (``adapter_model.safetensors``) without its small JSON header:
        every trainable tensor, at 2 bytes (fp16/bf16) or 4 bytes (fp32) each."""
        return self.trainable * bytes_per_param

    def grouped(self) -> list[dict]:
        """Rows with the layer index replaced by ``*``: one line per repeated module."""
        groups: dict[tuple[str, str, str], dict] = {}
        for r in self.rows:
            key = (layer_pattern(r.name), r.role, r.shape)
            g = groups.setdefault(key, {"module": key[0], "role": r.role, "class": r.cls, "shape": r.shape,
                                        "count": 0, "params each": r.base, "trainable each": r.trainable,
                                        "trainable": 0})
            g["count"] += 1
            g["trainable"] += r.trainable
        return list(groups.values())

    def lora_config_kwargs(self) -> dict:
        kw = {"r": self.r, "target_modules": self.target_modules, "bias": self.bias, "use_dora": self.use_dora}
        if self.modules_to_save:
            kw["modules_to_save"] = list(self.modules_to_save)
        return kw


def check_rank(r) -> int:
    """The rank as an int from 1 to MAX_RANK, or a sentence naming the range."""
    return checks.whole_number("The rank r", r, 1, MAX_RANK)


def check_alpha(alpha) -> float:
    """LoRA's alpha as a float above 0 and at most MAX_ALPHA (the widget's minimum is 0.001)."""
    return checks.number("alpha", alpha, 0.001, MAX_ALPHA)


def _check_bias(bias) -> str:
    return checks.one_of("bias", bias, BIAS_MODES)


def count_lora_params(
    config,
    r: int = 8,
    target_modules=PEFT_ALL_LINEAR,
    bias: str = "none",
    use_dora: bool = False,
    modules_to_save=None,
    name: str | None = None,
) -> LoraCount:
    """Count exactly what ``peft.get_peft_model(model, LoraConfig(...))`` makes trainable.

    ``config``: a bundled name, a ``PretrainedConfig``, a config dict, config.json text or a Hub id.
    ``target_modules``: a list of names, a regex string, ``"all-linear"``, a preset name
    (``"lora-paper"``, ``"attention"``) or None (the LoRA paper's q and v).

    Per adapted matrix: ``r · (d_in + d_out)`` (+ ``d_out`` with DoRA); see the module docstring.
    """
    r = check_rank(r)
    bias = _check_bias(bias)
    arch, targets, save, res = resolve(config, target_modules, modules_to_save, name)
    if use_dora and any(t.kind == "Parameter" for t in res.targets):
        raise LabError("lora.count.dora_fused",
                       "DoRA cannot adapt fused expert parameters (peft's ParamWrapper has no DoRA): "
                       "turn DoRA off or target the attention layers only.")
    rows: list[ModuleRow] = []
    lora_only = set()
    for t in res.targets:
        rank = r * t.rank_mult
        lora = rank * t.experts * (t.d_in + t.d_out)
        dora = t.d_out if use_dora else 0
        b = t.bias if bias == "lora_only" else 0
        if b:
            lora_only.add(t.name)
        shape = f"{t.d_out} × {t.d_in}" if t.experts == 1 else f"{t.experts} × {t.d_out} × {t.d_in}"
        rows.append(ModuleRow(t.name, "DoRA" if use_dora else "LoRA", t.cls, shape, t.base + t.bias, rank,
                              lora, dora, b, 0, t.d_in))
    for mod_name, numel in res.saved:
        m = arch.module(mod_name)
        shape = f"{m.d_out} × {m.d_in}" if m.adaptable else (f"{m.weight}" if m.weight else "—")
        rows.append(ModuleRow(mod_name, "saved in full", m.cls, shape, numel, 0, 0, 0, 0, numel))
    if bias == "all":
        adapted = {t.name: i for i, t in enumerate(res.targets)}
        for mod_name, numel in res.biases:
            if mod_name in res.saved_biases:
                continue  # the saved copy already trains it; the original is frozen
            if mod_name in adapted:
                i = adapted[mod_name]
                rows[i] = ModuleRow(**{**rows[i].__dict__, "bias": numel})
            else:
                m = arch.module(mod_name)
                rows.append(ModuleRow(mod_name, "bias", m.cls, f"{numel}", m.weight + numel, 0, 0, 0, numel, 0))
    return LoraCount(
        arch_name=arch.name, model_type=arch.model_type, r=r, target_modules=targets, bias=bias,
        use_dora=bool(use_dora), modules_to_save=list(save), base_total=arch.total, rows=rows,
    )


def trainable_by_rank(config, ranks, target_modules=PEFT_ALL_LINEAR, **kwargs) -> list[int]:
    """Trainable parameters for each rank (LoRA's count is affine in r: a·r + b)."""
    return [count_lora_params(config, r=r, target_modules=target_modules, **kwargs).trainable for r in ranks]


# --- the cross-check ------------------------------------------------------------------------------


@dataclass
class PeftCheck:
    trainable: int
    total: int
    seconds: float
    lora_config: str


def check_with_peft(
    config,
    r: int = 8,
    target_modules=PEFT_ALL_LINEAR,
    bias: str = "none",
    use_dora: bool = False,
    modules_to_save=None,
    name: str | None = None,
    lora_alpha: float = DEFAULT_ALPHA,
) -> PeftCheck:
    """Really run ``peft.get_peft_model`` on a fresh meta-device model and return peft's own count.

    Same inputs as :func:`count_lora_params`, plus ``lora_alpha`` (it scales the update and changes no
    count, but it is part of the ``LoraConfig`` shown); presets are resolved the same way, and the
    resulting ``LoraConfig`` goes to peft unchanged.

    Nothing is allocated: the model lives on the meta device, and so do the adapters. peft creates
    each LoRA A and B as an ordinary ``nn.Linear`` before moving it to the base layer's device, so
    ``get_peft_model`` runs under ``torch.device("meta")`` too; otherwise a model 262,144 wide would
    first allocate gigabytes of real adapter weights.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    r = check_rank(r)
    lora_alpha = check_alpha(lora_alpha)
    bias = _check_bias(bias)
    arch, targets, save, _ = resolve(config, target_modules, modules_to_save, name)
    t0 = time.perf_counter()
    model = build_meta_model(arch.config)
    lc = LoraConfig(
        r=r, lora_alpha=lora_alpha, target_modules=copy.copy(targets), bias=bias, use_dora=bool(use_dora),
        modules_to_save=list(save) or None,
    )
    from lab.models import BUILD_LOCK

    try:
        with BUILD_LOCK, warnings.catch_warnings(), torch.device("meta"):
            warnings.simplefilter("ignore")
            peft_model = get_peft_model(model, lc)
    except (ValueError, TypeError, RuntimeError) as e:
        raise LabError("lora.count.peft_refused", "peft refused this configuration: {error}", error=str(e)) from None
    trainable, total = peft_model.get_nb_trainable_parameters()
    return PeftCheck(int(trainable), int(total), time.perf_counter() - t0, lora_config_code(
        count_lora_params(arch, r, targets, bias, use_dora, save), lora_alpha=peft_model.peft_config["default"].lora_alpha))


def lora_config_code(count: LoraCount, lora_alpha: float = DEFAULT_ALPHA) -> str:
    """The ``LoraConfig(...)`` line that reproduces ``count`` with peft."""
    lora_alpha = check_alpha(lora_alpha)
    alpha = int(lora_alpha) if float(lora_alpha).is_integer() else lora_alpha
    parts = [f"r={count.r}", f"lora_alpha={alpha}", f"target_modules={count.target_modules!r}"]
    if count.bias != "none":
        parts.append(f"bias={count.bias!r}")
    if count.use_dora:
        parts.append("use_dora=True")
    if count.modules_to_save:
        parts.append(f"modules_to_save={list(count.modules_to_save)!r}")
    return "LoraConfig(" + ", ".join(parts) + ")"


# --- why a 4-bit model seems to have half its parameters ---------------------------------------


@dataclass
class FourBitCount:
    """``numel()`` of a bitsandbytes 4-bit weight counts *bytes*: two 4-bit codes share one uint8."""

    naive: int  # sum(p.numel()) over the loaded 4-bit model
    true: int  # with each Params4bit counted as numel · 2 · bytes per storage element
    packed_naive: int  # numel() of the 4-bit weights alone
    packed_true: int  # the weights they really hold
    packed_tensors: int

    @property
    def missing(self) -> int:
        return self.true - self.naive


def four_bit_counts(model) -> FourBitCount:
    """Both counts of a model loaded in 4 bits (peft and transformers apply the same correction:
    ``numel · 2 · element_size`` for every ``Params4bit``)."""
    naive = true = packed_naive = packed_true = n = 0
    seen = set()
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        numel = p.numel()
        naive += numel
        if type(p).__name__ == "Params4bit":
            real = numel * 2 * p.element_size()
            packed_naive += numel
            packed_true += real
            n += 1
            true += real
        else:
            true += numel
    return FourBitCount(naive, true, packed_naive, packed_true, n)


def quantized_params(config) -> int:
    """Parameters bitsandbytes stores in 4 bits when transformers loads this model with QLoRA's
    ``BitsAndBytesConfig``: the weights of every ``Linear`` / ``Conv1D`` except the output layer.
    Embeddings, norms, biases, fused 3-D expert parameters and the output layer stay in 16 bits."""
    arch = config if isinstance(config, Architecture) else architecture(config)
    return sum(m.weight for m in arch.modules if m.kind in (LINEAR, CONV1D) and m.name != arch.output_name)


def expected_four_bit_naive(config) -> int:
    """What ``sum(p.numel())`` will report after a 4-bit load: the packed weights count half."""
    arch = config if isinstance(config, Architecture) else architecture(config)
    q = quantized_params(arch)
    return arch.total - q + q // 2
