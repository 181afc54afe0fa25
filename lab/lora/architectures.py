"""Real model architectures for the LoRA calculator, built on the meta device.

A ``config.json`` fixes every weight shape of a model. ``transformers`` can build the model from it
on PyTorch's *meta* device, where a tensor has a shape and a dtype but no storage::

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)   # a 65B model: ~30 ms, no memory

We walk that model once (its modules, their classes and weight shapes) and keep the result per
config, so the LoRA arithmetic never touches a tensor. The meta model itself is kept too: it is what
``peft`` is run on for the cross-check, and it answers questions like "which module is the output
layer".

Where a config comes from (:func:`load_config`):

- a bundled name (``lab/configs/<stem>.json``: real ``config.json`` files as published on the Hub),
- a ``transformers.PretrainedConfig`` or a plain ``dict`` (what ``config.json`` holds),
- the text of a ``config.json`` (starts with ``{``),
- a Hub id like ``Qwen/Qwen2.5-7B`` (only when online: only ``config.json`` is downloaded).

Nothing here runs remote code, and no user string becomes a file path.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lab.errors import LabError, Msg

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

BUNDLED = {
    # file stem in lab/configs (the source of each file is its "_source" key): the model's name
    "gpt2": "GPT-2 (124M)",
    "smollm2-135m": "SmolLM2-135M",  # the lab's own model
    "qwen2.5-0.5b": "Qwen2.5-0.5B",
    "gemma-2b": "Gemma-2B",
    "phi-3-mini": "Phi-3-mini (3.8B)",
    "llama-2-7b": "Llama-2-7B",
    "mistral-7b": "Mistral-7B",
    "llama-3-8b": "Llama-3-8B",
    "mixtral-8x7b": "Mixtral-8x7B (MoE)",
    "llama-65b": "LLaMA-65B",  # the QLoRA paper's model
}
DEFAULT = "smollm2-135m"
PASTED_NAME = "config.json"
"""The name of an architecture given as a config (dict or text) without a name of its own."""

MAX_CONFIG_CHARS = 200_000
"""A config.json is a few kB; refuse anything much larger before parsing it."""

# Caps on every size field of a config, at any nesting (text_config, ...), checked before anything is
# built. Building and counting are linear in the number of modules, so a pasted config with 2,000
# decoder layers would otherwise keep the server busy for minutes, and nothing can cancel it.
MAX_LAYERS = 256
"""Layers per stack (num_hidden_layers, n_layer, decoder_layers, ...): Llama-3.1-405B has 126."""
MAX_WIDTH = 262_144
"""Hidden, intermediate and head sizes: Llama-3.1-405B's widest matrix is 53,248."""
MAX_VOCAB = 1_048_576
"""Vocabulary entries: the largest real vocabularies are about 262,000 (Gemma 3)."""
MAX_EXPERTS = 1_024
"""Experts of a mixture-of-experts layer: DeepSeek-V3 has 256."""
MAX_HEADS = 1_024
"""Attention heads: Llama-3.1-405B has 128."""
MAX_MODULES = 20_000
"""Modules one build may create, whatever the config says (Llama-3.1-405B: about 1,400)."""
MAX_BUILD_SECONDS = 20.0
"""Wall time one build may take (a bundled 65B model builds in well under a second)."""
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")

# Modules LoRA can adapt, as peft dispatches them (class names; isinstance checks below).
LINEAR, CONV1D, EMBEDDING, OTHER = "Linear", "Conv1D", "Embedding", "other"


@dataclass(frozen=True)
class ModuleInfo:
    """One module of the model, as LoRA sees it.

    For a ``Linear`` ``y = x Wᵀ + b``: ``W`` is (d_out × d_in). GPT-2's ``Conv1D`` is the same map with
    ``W`` stored transposed (d_in × d_out). An ``Embedding`` has ``d_in`` = vocabulary rows and
    ``d_out`` = embedding width.
    """

    name: str  # dotted path, e.g. "model.layers.0.self_attn.q_proj"
    cls: str  # class name, e.g. "Linear", "Conv1D", "LlamaMLP"
    kind: str  # LINEAR, CONV1D, EMBEDDING or OTHER
    d_in: int = 0
    d_out: int = 0
    weight: int = 0  # numel of its own weight (0 if none)
    bias: int = 0  # numel of its own bias (0 if none)
    in_attention: bool = False  # a direct child of an attention block
    leaf: bool = True  # has no sub-modules

    @property
    def adaptable(self) -> bool:
        return self.kind != OTHER


@dataclass
class Architecture:
    """Everything the calculator needs to know about one model, read once from the meta model."""

    name: str
    config: object  # transformers.PretrainedConfig
    model: torch.nn.Module  # on the meta device: shapes only, never run
    modules: list[ModuleInfo]
    total: int  # unique parameters (tied weights counted once), as model.num_parameters()
    output_name: str | None  # the output layer (lm_head), which "all-linear" leaves out
    tied: bool  # the output layer shares its weight with the input embedding
    params: dict[str, tuple[int, ...]] = field(default_factory=dict)  # unique name -> shape
    _subtree: dict[str, int] = field(default_factory=dict, repr=False)
    resolutions: dict = field(default_factory=dict, repr=False)  # lab.lora's cache, per target choice

    @property
    def model_type(self) -> str:
        return self.config.model_type

    def module(self, name: str) -> ModuleInfo:
        return self._by_name[name]

    @functools.cached_property
    def _by_name(self) -> dict[str, ModuleInfo]:
        return {m.name: m for m in self.modules}

    def subtree_params(self, name: str) -> int:
        """Parameters of module ``name`` and its children, each tensor once (a full copy of it)."""
        if name not in self._subtree:
            self._subtree[name] = sum(p.numel() for p in self.model.get_submodule(name).parameters())
        return self._subtree[name]


def bundled_names() -> list[str]:
    """The bundled architectures' stems (the values to choose by; :data:`BUNDLED` gives their names)."""
    return list(BUNDLED)


def bundled_stem(name: str) -> str | None:
    """The stem of a bundled architecture given by stem or by name, else None."""
    if name in BUNDLED:
        return name
    return next((stem for stem, shown in BUNDLED.items() if shown == name), None)


def _read_bundled(stem: str) -> dict:
    path = CONFIG_DIR / f"{stem}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def bundled_config_dict(name: str) -> dict:
    """The published ``config.json`` of a bundled architecture (by file stem or name)."""
    stem = bundled_stem(name)
    if stem is None:
        raise LabError("lora.arch.unknown_bundled", "Unknown bundled architecture {name!r}. Choose one of: {names}.",
                       name=name, names=", ".join(BUNDLED))
    return _read_bundled(stem)


def parse_config_json(text: str) -> dict:
    """Parse the text of a ``config.json``; a malformed one gets a sentence saying where."""
    from lab.data import MAX_JSON_DEPTH, nested_deeper_than

    if not isinstance(text, str) or not text.strip():
        raise LabError("lora.arch.paste_first", "Paste the contents of a config.json (a JSON object) first.")
    if len(text) > MAX_CONFIG_CHARS:
        raise LabError("lora.arch.too_long", "That config.json is {n:,} characters; a real one is a few thousand.",
                       n=len(text))
    if nested_deeper_than(text, MAX_JSON_DEPTH):
        raise LabError("lora.arch.json_too_deep",
                       "The JSON is nested more than {depth} levels deep; a real config.json is 3 or 4 levels deep.",
                       depth=MAX_JSON_DEPTH)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise LabError("lora.arch.not_json",
                       "The pasted config.json is not valid JSON: {reason} at line {line}, column {column}.",
                       reason=JSON_REASONS.get(e.msg, e.msg), line=e.lineno, column=e.colno) from None
    if not isinstance(data, dict):
        raise LabError("lora.arch.not_object",
                       "A config.json holds a JSON object ({{...}}), not a list or a single value.")
    return data


#: The usual reasons Python's JSON parser gives, as phrases the app can translate (any other is shown
#: as the parser says it).
JSON_REASONS = {
    "Expecting value": Msg("lora.json.value", "Expecting value"),
    "Expecting ',' delimiter": Msg("lora.json.comma", "Expecting ',' delimiter"),
    "Expecting ':' delimiter": Msg("lora.json.colon", "Expecting ':' delimiter"),
    "Expecting property name enclosed in double quotes": Msg("lora.json.property",
                                                             "Expecting property name enclosed in double quotes"),
    "Unterminated string starting at": Msg("lora.json.unterminated", "Unterminated string starting at"),
    "Extra data": Msg("lora.json.extra", "Extra data"),
}


def hub_config_dict(repo_id: str) -> dict:
    """Download only ``config.json`` of a Hub model (needs internet; never runs its code)."""
    from lab.models import offline

    repo_id = (repo_id or "").strip()
    if not HUB_ID.match(repo_id) or ".." in repo_id:
        raise LabError("lora.arch.not_hub_id",
                       "{repo_id!r} is not a Hub model id; it looks like 'organisation/model-name'.",
                       repo_id=repo_id)
    if offline():
        raise LabError("lora.arch.offline",
                       "The Hub is offline here (HF_HUB_OFFLINE=1), so {repo_id!r} cannot be fetched: "
                       "paste its config.json instead, or pick a bundled architecture.", repo_id=repo_id)
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(repo_id, "config.json")
    except Exception as e:  # network, gated or missing repositories all land here
        raise LabError("lora.arch.download", "Could not download config.json of {repo_id!r}: {kind}: {error}",
                       repo_id=repo_id, kind=type(e).__name__, error=str(e)) from None
    return parse_config_json(Path(path).read_text(encoding="utf-8"))


def config_from_dict(data: dict):
    """A ``PretrainedConfig`` from the contents of a ``config.json``.

    Keys starting with ``_`` (the bundled files' ``_source``) and ``auto_map`` (remote code, never
    run here) are dropped; ``model_type`` picks the configuration class.
    """
    from transformers import AutoConfig

    check_config_sizes(data)
    data = {k: v for k, v in data.items() if not k.startswith("_") and k != "auto_map"}
    model_type = data.pop("model_type", None)
    if not model_type or not isinstance(model_type, str):
        raise LabError("lora.arch.no_model_type",
                       'The config has no "model_type" (e.g. "llama"), so transformers cannot tell what to build.')
    from transformers import CONFIG_MAPPING

    if model_type not in CONFIG_MAPPING:
        raise LabError("lora.arch.unknown_type",
                       "transformers {version} does not know the model type {model_type!r} "
                       "(check the spelling against the model's config.json).",
                       version=_tf_version(), model_type=model_type)
    try:
        return AutoConfig.for_model(model_type, **data)
    except Exception as e:
        raise LabError("lora.arch.unreadable", "transformers could not read this {model_type!r} config: {error}",
                       model_type=model_type, error=str(e)) from None


def _tf_version() -> str:
    import transformers

    return transformers.__version__


def load_config(source, name: str | None = None):
    """Turn any accepted source into ``(config, name)``; see the module docstring for the sources."""
    from transformers import PretrainedConfig

    if isinstance(source, PretrainedConfig):
        return source, name or getattr(source, "name_or_path", "") or source.model_type
    if isinstance(source, dict):
        return config_from_dict(source), name or source.get("model_type") or PASTED_NAME
    if not isinstance(source, str) or not source.strip():
        raise LabError("lora.arch.no_source",
                       "Give a bundled architecture name, a config dict, config.json text or a Hub id.")
    text = source.strip()
    if text.startswith(("{", "[", '"')) or "\n" in text:  # JSON text, not a name: say what is wrong with it
        return config_from_dict(parse_config_json(text)), name or PASTED_NAME
    stem = bundled_stem(text)
    if stem is not None:
        return config_from_dict(bundled_config_dict(stem)), name or BUNDLED[stem]
    if "/" in text:
        return config_from_dict(hub_config_dict(text)), name or text
    raise LabError("lora.arch.unknown_source",
                   "{text!r} is neither a bundled architecture ({names}) nor a Hub id like 'org/model'.",
                   text=text, names=", ".join(BUNDLED))


def _config_key(config) -> str:
    return json.dumps(config.to_dict(), sort_keys=True, default=str)


def _size_limit(key: str):
    """(cap, what) for a config field that sets a size, or None for any other field."""
    k = key.lower()
    if "vocab" in k:
        return MAX_VOCAB, Msg("lora.arch.what.vocab", "vocabulary entries")
    if k.endswith(("size", "dim", "n_embd", "d_model", "n_inner", "d_ff", "d_kv", "width")):
        return MAX_WIDTH, None  # a width: "wider than any real model"
    if "layer" in k:
        return MAX_LAYERS, Msg("lora.arch.what.layers", "layers")
    if "expert" in k:
        return MAX_EXPERTS, Msg("lora.arch.what.experts", "experts")
    if "head" in k:
        return MAX_HEADS, Msg("lora.arch.what.heads", "attention heads")
    return None


def check_config_sizes(data: dict) -> None:
    """Refuse a config whose sizes no real model has, before transformers builds anything.

    Every numeric field is looked at, nested configs (``text_config``, ``decoder``, ...) and lists
    included, without recursion: layer counts (any key with "layer"), widths (keys ending in
    ``size`` / ``dim``), vocabularies, experts and heads each have a cap (``MAX_*`` above).
    """
    from lab.data import MAX_JSON_DEPTH

    stack = [("", data, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise LabError("lora.arch.config_too_deep",
                           "The config is nested more than {depth} levels deep; a real config.json is 3 or 4 levels "
                           "deep.", depth=MAX_JSON_DEPTH)
        if isinstance(value, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v, depth + 1) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            stack.extend((path, v, depth + 1) for v in value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            limit = _size_limit(path.rpartition(".")[2])
            if limit is not None and not value <= limit[0]:  # NaN fails too
                cap, what = limit
                if what is None:
                    raise LabError("lora.arch.too_wide",
                                   "{path}={value:,} is wider than any real model; the calculator stops at {cap:,}.",
                                   path=path, value=value, cap=cap)
                raise LabError("lora.arch.too_many",
                               "{path}={value:,} is more {what} than any real model; the calculator stops at {cap:,}.",
                               path=path, value=value, what=what, cap=cap)


class _BuildTooBig(Exception):
    """Raised from inside a build (so no library code catches it as a ValueError); carries the LabError."""


class _BuildBudget:
    """Counts the modules one build creates in this thread and watches the clock; over either limit
    it stops the build from inside (torch's module-registration hook), so no config can hang it."""

    def __init__(self):
        self.thread = threading.get_ident()
        self.modules = 0
        self.start = time.perf_counter()

    def __call__(self, module, name, submodule):
        if threading.get_ident() != self.thread:
            return None
        self.modules += 1
        if self.modules > MAX_MODULES:
            raise _BuildTooBig(LabError("lora.arch.too_many_modules",
                                        "This config builds more than {n:,} modules; the calculator stops there.",
                                        n=MAX_MODULES))
        if time.perf_counter() - self.start > MAX_BUILD_SECONDS:
            raise _BuildTooBig(LabError("lora.arch.too_slow",
                                        "Building this config took more than {s:g} s; the calculator stops there.",
                                        s=MAX_BUILD_SECONDS))
        return None


def build_meta_model(config) -> torch.nn.Module:
    """Build the causal LM of ``config`` on the meta device (shapes only, no memory, no download).

    Under ``lab.models.BUILD_LOCK``: the meta device and the budget hook are process-wide, so no other
    thread may build or load a model meanwhile."""
    from torch.nn.modules.module import register_module_module_registration_hook
    from transformers import AutoModelForCausalLM

    from lab.models import BUILD_LOCK

    check_config_sizes(config.to_dict())
    tf_logger = logging.getLogger("transformers")
    level = tf_logger.level
    with BUILD_LOCK:
        tf_logger.setLevel(logging.ERROR)
        hook = register_module_module_registration_hook(_BuildBudget())
        try:
            with warnings.catch_warnings(), torch.device("meta"):
                warnings.simplefilter("ignore")
                return AutoModelForCausalLM.from_config(config)
        except _BuildTooBig as e:
            raise e.args[0] from None
        except ValueError as e:
            if "Unrecognized configuration class" in str(e):
                raise LabError("lora.arch.not_causal",
                               "transformers cannot build a causal language model from model_type {model_type!r} "
                               "(is it an encoder, a vision model or a model that needs remote code?).",
                               model_type=config.model_type) from None
            raise LabError("lora.arch.build_failed", "transformers could not build this config: {error}",
                           error=str(e)) from None
        except Exception as e:  # shape mistakes in a pasted config end up here (e.g. heads not dividing width)
            raise LabError("lora.arch.build_failed", "transformers could not build this config: {error}",
                           error=f"{type(e).__name__}: {e}") from None
        finally:
            hook.remove()
            tf_logger.setLevel(level)


def _kind(module) -> tuple[str, int, int]:
    from transformers.pytorch_utils import Conv1D

    if isinstance(module, torch.nn.Linear):
        return LINEAR, module.in_features, module.out_features
    if isinstance(module, Conv1D):  # weight stored (d_in, d_out)
        d_in, d_out = module.weight.shape
        return CONV1D, int(d_in), int(d_out)
    if isinstance(module, torch.nn.Embedding):
        return EMBEDDING, module.num_embeddings, module.embedding_dim
    return OTHER, 0, 0


def describe(model, config, name: str) -> Architecture:
    """Walk a (meta) model once: every module's class, kind and weight shape."""
    modules = []
    attention = {n for n, m in model.named_modules() if "attention" in type(m).__name__.lower()}
    for mod_name, module in model.named_modules():
        if not mod_name:
            continue
        kind, d_in, d_out = _kind(module)
        own = dict(module.named_parameters(recurse=False))  # parameters only: GPT-2 once had a "bias" buffer
        weight, bias = own.get("weight"), own.get("bias")
        parent = mod_name.rpartition(".")[0]
        modules.append(
            ModuleInfo(
                name=mod_name,
                cls=type(module).__name__,
                kind=kind,
                d_in=d_in,
                d_out=d_out,
                weight=weight.numel() if weight is not None else 0,
                bias=bias.numel() if bias is not None else 0,
                in_attention=parent in attention,
                leaf=next(module.children(), None) is None,
            )
        )
    out = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    output_name = next((n for n, m in model.named_modules() if m is out), None) if out is not None else None
    inp = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    tied = bool(out is not None and inp is not None and out.weight is inp.weight)
    params = {n: tuple(p.shape) for n, p in model.named_parameters()}
    total = sum(p.numel() for p in model.parameters())
    return Architecture(
        name=name, config=config, model=model, modules=modules, total=total,
        output_name=output_name, tied=tied, params=params,
    )


_lock = threading.Lock()
_cache: dict[str, Architecture] = {}
_CACHE_SIZE = 16


def architecture(source, name: str | None = None) -> Architecture:
    """The :class:`Architecture` of any config source, built once per distinct config."""
    config, name = load_config(source, name)
    key = _config_key(config)
    with _lock:
        arch = _cache.get(key)
    if arch is not None:
        return arch
    arch = describe(build_meta_model(config), config, name)
    with _lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache.setdefault(key, arch)
        return _cache[key]


def layer_pattern(name: str) -> str:
    """``model.layers.7.mlp.up_proj`` → ``model.layers.*.mlp.up_proj``: one row per repeated module."""
    return re.sub(r"(?<=\.)\d+(?=\.|$)", "*", name)
