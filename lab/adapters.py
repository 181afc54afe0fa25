"""A trained LoRA adapter on top of the base it was trained on, ready to chat with.

The lab's base models are shared by every user of the server (:func:`lab.models.shared_model`), so an
adapter is never injected into them. :func:`adapted_model` builds a *second module tree over the same
weight storage*: every module is copied, every weight tensor is shared (new ``Parameter`` objects that
view the base's storage, so nothing peft sets on them reaches the base), and
``peft.PeftModel.from_pretrained`` injects the LoRA layers into that copy. LoRA stays unmerged
(``W x + B A x · alpha / r``), so the base's weights are only ever read; the copy costs the adapter's
own tensors plus the module objects (measured in ``tests/test_adapters.py``).

A run trained on a 4-bit base (QLoRA: NF4 or FP4) gets the same 4-bit base back: the shared 4-bit model
(the NF4 tab's), each 4-bit weight dequantized once as in training (:func:`lab.models.dequantized_forward`),
so the chat computes what the training tab evaluated. Those dequantized weights are the extra memory
of a 4-bit adapter (~212 MB in bf16 for SmolLM2-135M's 210 linear layers), one copy shared by every
adapter on the same 4-bit base.

At most :data:`MAX_CACHED` adapted models are kept, newest used first out last.
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections import OrderedDict
from pathlib import Path

import torch

from lab import models
from lab.errors import LabRuntimeError, Msg

#: What peft writes for an adapter; the weights are read from safetensors only (never a pickle).
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
MAX_CACHED = 2

_cache: OrderedDict[tuple, torch.nn.Module] = OrderedDict()
_cache_lock = threading.Lock()


class AdapterMissingError(LabRuntimeError, FileNotFoundError):
    """An adapter folder without peft's files (a run folder pruned, or never written).

    Raised with the :class:`~lab.errors.Msg` it says: ``AdapterMissingError(Msg(code, english, **params))``.
    """

    def __init__(self, message: Msg):
        super().__init__(message.code, message.english, **message.params)


def is_complete(adapter_dir: str | Path) -> bool:
    """True when ``adapter_dir`` still holds both of peft's adapter files (run folders may be pruned)."""
    path = Path(adapter_dir)
    return all((path / name).is_file() for name in ADAPTER_FILES)


def shared_weights_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model``'s modules whose weights are the same storage as ``model``'s.

    Plain parameters become new ``Parameter`` objects over the same tensors (``requires_grad`` off),
    so a flag set on the copy never reaches ``model``; 4-bit parameters (bitsandbytes' ``Params4bit``,
    which carry their quantization state) and buffers are shared as they are: the copy only reads them.
    Writing to a copied weight in place would change ``model``: never merge an adapter into the copy.
    """
    memo: dict[int, object] = {}
    for p in model.parameters():  # each tensor once: tied weights stay tied in the copy
        memo[id(p)] = torch.nn.Parameter(p.detach(), requires_grad=False) if type(p) is torch.nn.Parameter else p
    for b in model.buffers():
        memo[id(b)] = b
    return copy.deepcopy(model, memo)


def _base_for(quantization: str | None):
    """The shared model an adapter trained with ``quantization`` goes on (the same storage it trained against)."""
    if quantization not in models.QUANTIZATIONS:
        raise models.bad_quantization(quantization)
    return models.shared_model(quantization=quantization)


#: Each shared 4-bit weight's dequantized forward, while some adapted model holds it: every adapter on the same
#: 4-bit base shares one dequantized copy of its weights (freed when the last such model goes).
_dequantized: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_dequantized_lock = threading.Lock()


def _dequantize_4bit_layers(model) -> int:
    """Give every 4-bit layer of ``model`` (a copy) a forward over its weight dequantized once; the count."""
    try:
        import bitsandbytes as bnb
    except ImportError:
        return 0
    count = 0
    for mod in model.modules():
        if isinstance(mod, bnb.nn.Linear4bit) and getattr(mod.weight, "quant_state", None) is not None:
            # Never bitsandbytes' own CPU inference path: on CPUs with AVX512-BF16 it repacks the weight in
            # place, and the copy's 4-bit weights are the shared model's.
            with _dequantized_lock:
                forward = _dequantized.get(mod.weight)
                if forward is None:
                    forward = _dequantized[mod.weight] = models.dequantized_forward(mod)
            mod.forward = forward
            count += 1
    return count


def build_adapted_model(adapter_dir: str | Path, quantization: str | None = None, base=None):
    """The shared base for ``quantization`` (or ``base``) with the adapter in ``adapter_dir`` injected into a
    copy, in eval mode.

    Returns the causal LM (generate from it directly); the base is left unchanged.
    """
    from peft import PeftModel

    path = Path(adapter_dir)
    if not is_complete(path):
        raise AdapterMissingError(Msg(
            "adapters.incomplete", "The adapter folder {folder} is incomplete or gone: it needs {config} and {weights}.",
            folder=repr(path.name), config=ADAPTER_FILES[0], weights=ADAPTER_FILES[1]))
    if base is None:  # before BUILD_LOCK: the shared loader takes its own lock, then BUILD_LOCK
        base = _base_for(quantization)
    with models.BUILD_LOCK:
        copied = shared_weights_copy(base)
        peft_model = PeftModel.from_pretrained(copied, str(path), is_trainable=False)
        peft_model.eval()
        causal_lm = peft_model.get_base_model()  # the copy, with the LoRA layers in it
        if quantization is not None:
            _dequantize_4bit_layers(causal_lm)
    return causal_lm


def _key(adapter_dir: str | Path, quantization: str | None) -> tuple:
    path = Path(adapter_dir).resolve()
    weights = path / ADAPTER_FILES[1]
    try:
        stamp = weights.stat().st_mtime_ns
    except OSError:
        stamp = None
    return str(path), quantization, stamp


def adapted_model(adapter_dir: str | Path, quantization: str | None = None):
    """:func:`build_adapted_model`, built once per adapter folder and kept for the :data:`MAX_CACHED` newest used.

    Builds take turns (``models.BUILD_LOCK``); a second caller of the same adapter waits for the first build.
    """
    key = _key(adapter_dir, quantization)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    # The shared base first, outside BUILD_LOCK: its loader holds its own lock while it takes BUILD_LOCK.
    base = _base_for(quantization)
    with models.BUILD_LOCK:  # one build at a time; the winner's model is reused by those who waited
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
        model = build_adapted_model(adapter_dir, quantization, base)
        with _cache_lock:
            _cache[key] = model
            while len(_cache) > MAX_CACHED:
                _cache.popitem(last=False)
    return model


def cached() -> list[tuple]:
    """The cache's keys (adapter folder, quantization, weights' mtime), oldest used first."""
    with _cache_lock:
        return list(_cache)


def clear() -> None:
    with _cache_lock:
        _cache.clear()
