"""Which modules LoRA adapts: presets, peft's matching rules, and the resolution the count uses.

peft decides what to adapt from ``LoraConfig.target_modules`` (and ``modules_to_save``):

- a **list** entry ``"q_proj"`` adapts every module whose dotted name is ``q_proj`` or ends in
  ``.q_proj`` (``"attn.c_proj"`` works too: it is a dotted suffix);
- any other **string** is a regular expression matched against the whole dotted name;
- ``"all-linear"`` is every ``Linear`` / GPT-2 ``Conv1D`` except the output layer;
- a module named in ``modules_to_save`` (or inside one) is never adapted: it is copied in full.

For MoE models whose experts transformers 5 fuses into 3-D parameters, peft remaps the targets onto
those parameters (``target_parameters``); :func:`_peft_moe_remap` asks peft's own converter which.
:func:`resolve` runs once per (architecture, targets, modules_to_save) and caches the result on the
architecture; counting is then arithmetic (:mod:`lab.lora.counts`).
"""

from __future__ import annotations

import copy
import re
import warnings
from dataclasses import dataclass

from lab.errors import LabError
from lab.lora.architectures import CONV1D, LINEAR, Architecture, architecture

PEFT_ALL_LINEAR = "all-linear"
"""peft's shorthand for every Linear / Conv1D layer but the output layer (``LoraConfig(target_modules=...)``)."""
PRESETS = {
    "lora-paper": "q and v attention projections (as in the LoRA paper)",
    "attention": "all attention projections",
    PEFT_ALL_LINEAR: "all linear layers except the output layer (peft's all-linear)",
}
FUSED_QKV = ("c_attn", "qkv_proj", "query_key_value", "Wqkv", "qkv", "W_pack")


# --- choosing targets -------------------------------------------------------------------------


def _leaf(name: str) -> str:
    return name.rpartition(".")[2]


def module_choices(arch: Architecture) -> list[str]:
    """Names a user can pick as LoRA targets: leaf names of adaptable modules, plus
    ``parent.leaf`` where a leaf name is used in two places (GPT-2's ``attn.c_proj`` / ``mlp.c_proj``)."""
    adaptable = [m.name for m in arch.modules if m.adaptable]
    leaves = sorted({_leaf(n) for n in adaptable})
    parents: dict[str, set[str]] = {}
    for n in adaptable:
        parts = n.split(".")
        if len(parts) >= 2:
            parents.setdefault(parts[-1], set()).add(parts[-2])
    qualified = sorted(f"{p}.{leaf}" for leaf, ps in parents.items() if len(ps) > 1 for p in ps)
    return leaves + qualified


def save_choices(arch: Architecture) -> list[str]:
    """Names that make sense in ``modules_to_save``: leaf names of modules that own weights."""
    return sorted({_leaf(m.name) for m in arch.modules if m.weight and m.leaf})


def preset_targets(arch: Architecture, preset: str) -> list[str] | str:
    """The ``target_modules`` value a preset means for this architecture.

    - ``"lora-paper"``: the query and value projections (Hu et al. adapted W_q and W_v). Where q, k
      and v are one fused matrix (GPT-2 ``c_attn``, Phi-3 ``qkv_proj``), peft can only adapt the
      whole fused matrix, so that is what it means there (peft's own default for these models).
    - ``"attention"``: every linear layer directly inside an attention block, named by the shortest
      suffix that does not also match a layer outside attention (GPT-2: ``attn.c_proj``).
    - ``"all-linear"``: peft's shorthand, resolved by peft's rule (output layer excluded).
    """
    if preset == PEFT_ALL_LINEAR:
        return PEFT_ALL_LINEAR
    linear = [m for m in arch.modules if m.kind in (LINEAR, CONV1D)]
    attn = [m for m in linear if m.in_attention]
    if preset == "lora-paper":
        leaves = {_leaf(m.name) for m in attn} or {_leaf(m.name) for m in linear}
        for q, v in (("q_proj", "v_proj"), ("query", "value"), ("q", "v"), ("wq", "wv")):
            if q in leaves and v in leaves:
                return [q, v]
        fused = [f for f in FUSED_QKV if f in leaves]
        if fused:
            return fused[:1]
        raise LabError("lora.targets.no_qv", "No query/value projections found in {arch}; pick the modules by name.",
                       arch=arch.name)
    if preset == "attention":
        if not attn:
            raise LabError("lora.targets.no_attention",
                           "No linear layers inside an attention block in {arch}; pick modules by name.",
                           arch=arch.name)
        taken = set()  # every dotted suffix of a linear layer outside attention (one set: linear time)
        for m in linear:
            if not m.in_attention:
                parts = m.name.split(".")
                taken.update(".".join(parts[i:]) for i in range(len(parts)))
        targets = set()
        for m in attn:
            parts = m.name.split(".")
            for k in range(1, len(parts) + 1):
                suffix = ".".join(parts[-k:])
                if suffix not in taken:
                    targets.add(suffix)
                    break
        return sorted(targets)
    raise LabError("lora.targets.unknown_preset", "Unknown preset {preset!r}; choose one of {names}.",
                   preset=preset, names=", ".join(PRESETS))


# --- peft's matching rules ----------------------------------------------------------------------


def _matches_list(key: str, targets: frozenset[str]) -> bool:
    """peft: ``key in targets or key.endswith('.' + t)`` — checked through the key's dotted suffixes."""
    parts = key.split(".")
    return any(".".join(parts[i:]) in targets for i in range(len(parts)))


def _excluded_by_save(key: str, modules_to_save: tuple[str, ...]) -> bool:
    """peft never adapts a module named in modules_to_save, or anything inside it."""
    return any(re.match(rf"(^|.*\.){m}($|\..*)", key) for m in modules_to_save)


def _rank_multiplier(key: str, pattern: dict[str, int]) -> int:
    """peft's ``rank_pattern`` lookup: the first pattern with ``re.match(rf'(.*\\.)?({p})$', key)``."""
    for p, mult in pattern.items():
        if re.match(rf"(.*\.)?({p})$", key):
            return mult
    return 1


def _peft_moe_remap(arch: Architecture, targets) -> tuple[object, frozenset[str], dict[str, int]]:
    """How peft retargets a mixture of experts whose experts transformers 5 fused into 3-D parameters.

    Mixtral's experts used to be ``nn.Linear`` modules w1, w2, w3; transformers 5 stores them as
    ``gate_up_proj`` (E × 2I × H) and ``down_proj`` (E × H × I). peft maps the old targets onto those
    parameters (``target_parameters``) and doubles the rank of ``gate_up_proj`` because it holds two
    matrices. We run peft's converter on a throw-away config (r = 1, so its rank pattern holds the
    multipliers) and return (target_modules, target_parameters, rank multipliers).
    """
    try:
        from peft import LoraConfig
        from peft.utils.transformers_weight_conversion import (
            _MODEL_TO_CONVERSION_PATTERN,
            convert_peft_config_for_transformers,
        )
    except ImportError:  # an older peft without the converter: nothing is remapped
        return targets, frozenset(), {}
    if arch.model_type not in _MODEL_TO_CONVERSION_PATTERN:
        return targets, frozenset(), {}
    cfg = LoraConfig(r=1, lora_alpha=1, target_modules=copy.copy(targets))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        convert_peft_config_for_transformers(cfg, model=arch.model, conversions=None)
    return cfg.target_modules, frozenset(cfg.target_parameters or ()), dict(cfg.rank_pattern or {})


@dataclass(frozen=True)
class _Target:
    name: str  # module name, or parameter name for a fused MoE parameter
    cls: str
    kind: str  # LINEAR, CONV1D, EMBEDDING or "Parameter"
    d_in: int
    d_out: int
    experts: int = 1
    rank_mult: int = 1
    base: int = 0  # numel of the frozen weight it adapts
    bias: int = 0  # numel of that layer's bias (trained with bias="lora_only")


@dataclass(frozen=True)
class _Resolution:
    targets: tuple[_Target, ...]
    saved: tuple[tuple[str, int], ...]  # (module name, numel of its full trainable copy)
    saved_biases: frozenset[str]  # bias-owning modules inside a saved module (their copy is counted)
    biases: tuple[tuple[str, int], ...]  # every (module, bias numel) of the base model


def _normalise_targets(arch: Architecture, target_modules):
    if target_modules is None:
        return preset_targets(arch, "lora-paper")
    if isinstance(target_modules, str):
        t = target_modules.strip()
        if t in PRESETS:
            return preset_targets(arch, t)
        if t.lower() == PEFT_ALL_LINEAR:
            return PEFT_ALL_LINEAR
        return t
    names = [str(t).strip() for t in target_modules]
    if not names:
        raise LabError("lora.targets.none", "Choose at least one target module (or a preset).")
    bad = [n for n in names if not n or n.startswith(".") or n.endswith(".")]
    if bad:
        raise LabError("lora.targets.not_a_name", "{name!r} is not a module name.", name=bad[0])
    return sorted(set(names))


def _normalise_save(arch: Architecture, modules_to_save) -> tuple[str, ...]:
    if not modules_to_save:
        return ()
    if isinstance(modules_to_save, str):
        modules_to_save = [modules_to_save]
    names = tuple(sorted({str(m).strip() for m in modules_to_save if str(m).strip()}))
    keys = [m.name for m in arch.modules]
    for m in names:
        if not any(k.endswith(m) for k in keys):
            raise LabError("lora.targets.no_saved_module",
                           "modules_to_save: no module of {arch} is called {name!r}. Valid names: {valid}.",
                           arch=arch.name, name=m, valid=", ".join(save_choices(arch)))
    return names


def _resolve(arch: Architecture, targets, modules_to_save: tuple[str, ...]) -> _Resolution:
    """Which modules (and fused parameters) peft adapts, and which it copies in full."""
    modules = arch.modules
    target_modules, target_params, rank_pattern = _peft_moe_remap(arch, targets)
    if isinstance(target_modules, str) and target_modules.lower() == PEFT_ALL_LINEAR:
        target_modules = {m.name for m in modules if m.kind in (LINEAR, CONV1D)} - {arch.output_name}
    if isinstance(target_modules, str):
        try:
            pattern = re.compile(target_modules)
        except re.error as e:
            raise LabError("lora.targets.bad_regex",
                           "target_modules {targets!r} is not a valid regular expression: {error}.",
                           targets=target_modules, error=str(e)) from None
        matched = lambda key: pattern.fullmatch(key) is not None  # noqa: E731
    else:
        wanted = frozenset(target_modules or ())
        matched = lambda key: _matches_list(key, wanted)  # noqa: E731

    if isinstance(targets, list) and not target_params:
        for t in targets:
            if not any(_matches_list(m.name, frozenset([t])) for m in modules):
                raise LabError("lora.targets.no_module",
                               "No module of {arch} is called {name!r}. Valid names: {valid}.",
                               arch=arch.name, name=t, valid=", ".join(module_choices(arch)))

    chosen: list[_Target] = []
    for m in modules:
        if _excluded_by_save(m.name, modules_to_save) or not matched(m.name):
            continue
        if not m.adaptable:
            raise LabError("lora.targets.not_adaptable",
                           "{module} is a {cls}, not a layer LoRA can adapt (Linear, Conv1D or Embedding). "
                           "Valid names for {arch}: {valid}.",
                           module=m.name, cls=m.cls, arch=arch.name, valid=", ".join(module_choices(arch)))
        mult = _rank_multiplier(m.name, rank_pattern)
        chosen.append(_Target(m.name, m.cls, m.kind, m.d_in, m.d_out, 1, mult, m.weight, m.bias))

    for pname, shape in arch.params.items():  # fused MoE parameters (only when peft remapped targets)
        if not target_params or not (pname in target_params or any(pname.endswith("." + t) for t in target_params)):
            continue
        owner = pname.rpartition(".")[0]
        experts, d_out, d_in = shape if len(shape) == 3 else (1, *shape)
        chosen.append(
            _Target(pname, "Parameter", "Parameter", d_in, d_out, experts, _rank_multiplier(pname, rank_pattern),
                    experts * d_out * d_in, arch.module(owner).bias if owner else 0)
        )

    if not chosen:
        if isinstance(targets, list):
            raise LabError("lora.targets.all_saved",
                           "Every target module is also in modules_to_save, so nothing would get a LoRA adapter.")
        raise LabError("lora.targets.no_match",
                       "target_modules {targets!r} matches no module of {arch}. Valid names: {valid}.",
                       targets=targets, arch=arch.name, valid=", ".join(module_choices(arch)))

    # modules_to_save: peft wraps every module whose name ends with the entry (plain suffix, no dot).
    saved = [m for m in modules if any(m.name.endswith(s) for s in modules_to_save)]
    adapted = {t.name for t in chosen}
    for m in saved:
        if m.name in adapted:
            raise LabError("lora.targets.saved_and_adapted",
                           "modules_to_save entry matching {name!r} is also a LoRA target; name whole modules "
                           "(e.g. 'lm_head', 'embed_tokens').", name=m.name)
    names = [m.name for m in saved]
    for a in names:
        for b in names:
            if a != b and b.startswith(a + "."):
                raise LabError("lora.targets.nested_saved",
                               "modules_to_save lists both {outer!r} and {inner!r}, which is inside it; "
                               "keep only {outer!r}.",
                               outer=a, inner=b)
    saved_pairs = tuple((m.name, arch.subtree_params(m.name)) for m in saved)
    saved_biases = frozenset(
        m.name for m in modules if m.bias and any(m.name == s or m.name.startswith(s + ".") for s in names)
    )
    biases = tuple((m.name, m.bias) for m in modules if m.bias)
    return _Resolution(tuple(chosen), saved_pairs, saved_biases, biases)


def resolve(config, target_modules=PEFT_ALL_LINEAR, modules_to_save=None, name: str | None = None):
    """(architecture, target_modules for peft, modules_to_save, resolution); cached per choice."""
    arch = config if isinstance(config, Architecture) else architecture(config, name)
    targets = _normalise_targets(arch, target_modules)
    save = _normalise_save(arch, modules_to_save)
    key = (targets if isinstance(targets, str) else tuple(targets), save)
    res = arch.resolutions.get(key)
    if res is None:
        res = arch.resolutions.setdefault(key, _resolve(arch, targets, save))
    return arch, targets, save, res
