"""How much memory training needs: full fine-tuning, LoRA and QLoRA, term by term.

Training memory is four piles (Lecture 5, §4):

    weights      every parameter, in its storage format
    gradients    one per *trainable* parameter, same dtype as the parameter
    optimizer    AdamW keeps two fp32 moments (m, v) per trainable parameter: 8 bytes each
    activations  what the forward pass saves for backward: grows with batch × sequence length

Per method (``precision`` = bytes of a 16-bit or 32-bit number, b):

    full   weights b·N        gradients b·N        optimizer 8·N        (N = all parameters)
    LoRA   weights b·N + b·n  gradients b·n        optimizer 8·n        (n = trainable, n ≪ N)
    QLoRA  weights 4.127/8·Q + b·(N − Q) + b·n,  gradients b·n,  optimizer 8·n

where Q counts the weights bitsandbytes stores in NF4: every Linear / Conv1D except the output layer.
NF4 with double quantization costs ``4 + 8/64 + 32/(64·256) = 4.127`` bits per parameter: a 4-bit
code, an 8-bit absmax per block of 64, and one fp32 scale per 256 of those blocks (Dettmers et al.
2023). At 16 bits, full fine-tuning of LLaMA-65B is 12 bytes × 65.3B = 783 GB — the QLoRA paper's
"more than 780 GB" — while QLoRA fits on one 48 GB GPU.

Weights, gradients and optimizer states are exact (given the dtypes). Activations are an estimate
(see :func:`activation_bytes`), and so is the framework overhead (CUDA context, allocator cache).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab import checks, nf4
from lab.errors import LabError, Msg
from lab.lora.architectures import Architecture, architecture
from lab.lora.counts import count_lora_params, quantized_params
from lab.lora.targets import PEFT_ALL_LINEAR

METHODS = ("full", "lora", "qlora")
METHOD_LABELS = {"full": "Full fine-tuning", "lora": "LoRA", "qlora": "QLoRA"}
TERMS = ("weights", "gradients", "optimizer", "activations", "overhead")
GPU_SIZES_GB = (16, 24, 48, 80)
NF4_BITS = nf4.bits_per_parameter(64, double_quant=True)
"""Bits per parameter of NF4 with double quantization, blocks of 64 as QLoRA stores its base: 4.127 (§3)."""
ADAM_BYTES = 8
"""AdamW's two fp32 moments per trainable parameter (paged or not: paging moves them, same size)."""
GB = 1e9
MAX_BATCH = 4096
MAX_SEQ_LEN = 1_048_576
MAX_OVERHEAD_GB = 100
CUDA_OVERHEAD_GB = 0.5
"""An allowance for the CUDA context and the allocator's cache on a GPU (0 on a CPU)."""
# Field names with codes of their own: "field.batch_size" is the training tab's "Batch size".
BATCH_FIELD = Msg("lora.field.batch", "batch size")
SEQ_FIELD = Msg("lora.field.seq_len", "sequence length")


@dataclass(frozen=True)
class MemoryTerm:
    name: str  # one of TERMS
    bytes: float
    exact: bool
    how: Msg  # the formula, in words and numbers (str(how) is its English)

    @property
    def gb(self) -> float:
        return self.bytes / GB


@dataclass
class MemoryEstimate:
    method: str
    arch_name: str
    trainable: int
    terms: list[MemoryTerm] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(t.bytes for t in self.terms)

    @property
    def total_gb(self) -> float:
        return self.total / GB

    def term(self, name: str) -> MemoryTerm:
        return next(t for t in self.terms if t.name == name)

    @property
    def label(self) -> str:
        """The method's English name (the app shows its own, by :attr:`method`)."""
        return METHOD_LABELS[self.method]

    def fits(self, gpu_gb: float) -> bool:
        return self.total_gb <= gpu_gb


def _text_config(arch: Architecture):
    cfg = arch.config
    return cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg


def _dims(arch: Architecture) -> dict:
    """Width, depth, MLP width, kv width, vocabulary and experts from the config (with GPT-2's names)."""
    cfg = _text_config(arch)
    h = getattr(cfg, "hidden_size", None) or getattr(cfg, "n_embd", None)
    layers = getattr(cfg, "num_hidden_layers", None) or getattr(cfg, "n_layer", None)
    heads = getattr(cfg, "num_attention_heads", None) or getattr(cfg, "n_head", None)
    if not (h and layers and heads):
        raise LabError("lora.memory.no_dims",
                       "This config has no hidden size / layer count / head count the estimate can use.")
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or h // heads
    inter = getattr(cfg, "intermediate_size", None) or getattr(cfg, "n_inner", None) or 4 * h
    act = str(getattr(cfg, "hidden_act", None) or getattr(cfg, "activation_function", "gelu"))
    gated = act in ("silu", "swiglu", "gelu_pytorch_tanh", "geglu") or arch.model_type in (
        "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "gemma", "gemma2", "phi3")
    experts_per_token = getattr(cfg, "num_experts_per_tok", None) or 1
    return {
        "h": h, "layers": layers, "q": heads * head_dim, "kv": kv_heads * head_dim, "inter": inter,
        "gated": gated, "topk": experts_per_token, "vocab": getattr(cfg, "vocab_size", 0) or 0,
    }


def activation_bytes(arch: Architecture, batch_size: int, seq_len: int, gradient_checkpointing: bool,
                     nbytes: int = 2, lora_rank: int = 0, lora_modules: int = 0,
                     cast_inputs: int = 0, adapter_nbytes: int = 0) -> float:
    """Estimate of what autograd keeps between forward and backward (memory-efficient attention).

    ``nbytes``: bytes per activation (2 in bf16/fp16, 4 in fp32).

    Per layer and per token, a transformer block saves roughly (in numbers)::

        2h (norm inputs) + 2h (normalised inputs) + q + 2·kv (queries, keys, values)
        + q (attention output) + c·I·k (MLP: c = 4 for gated SwiGLU/GeGLU, 2 for a plain MLP;
                                     k experts per token for a mixture of experts)

    plus ``r`` per token for each LoRA-adapted layer (the A output). When the adapters are wider than
    the base (peft's default: fp32 adapters on a 16-bit model) each adapted layer also keeps an
    fp32 copy of its input: ``cast_inputs`` = Σ d_in numbers per token. With memory-efficient attention
    (PyTorch SDPA, FlashAttention) the s × s score matrix is not stored. The loss adds the logits:
    ``b·s·V`` numbers in the model's dtype, an fp32 copy for the loss, and the fp32 log-softmax.
    With gradient checkpointing only each layer's input (h per token) is kept, and one layer's
    activations are rebuilt at a time during backward.
    """
    d = _dims(arch)
    tokens = batch_size * seq_len
    mlp = (4 if d["gated"] else 2) * d["inter"] * d["topk"]
    per_layer = 4 * d["h"] + 2 * d["q"] + 2 * d["kv"] + mlp
    lora_extra = lora_rank * lora_modules / max(d["layers"], 1)
    per_layer_bytes = tokens * (per_layer + lora_extra) * nbytes
    if adapter_nbytes > nbytes:
        per_layer_bytes += tokens * cast_inputs / max(d["layers"], 1) * adapter_nbytes
    if gradient_checkpointing:
        layers = d["layers"] * tokens * d["h"] * nbytes + per_layer_bytes
    else:
        layers = d["layers"] * per_layer_bytes
    logits = tokens * d["vocab"] * (nbytes + 4 + (4 if nbytes < 4 else 0))
    embeddings = 2 * tokens * d["h"] * nbytes  # embedding output and final-norm input
    return layers + logits + embeddings


def estimate_memory(
    config,
    method: str,
    r: int = 8,
    target_modules=PEFT_ALL_LINEAR,
    bias: str = "none",
    use_dora: bool = False,
    modules_to_save=None,
    batch_size: int = 1,
    seq_len: int = 512,
    gradient_checkpointing: bool = True,
    precision: int = 16,
    adapter_precision: int | None = None,
    overhead_gb: float = CUDA_OVERHEAD_GB,
) -> MemoryEstimate:
    """Memory for training with ``method`` in ``("full", "lora", "qlora")``, split into terms.

    ``precision``: 16 (bf16/fp16 weights, gradients and activations, as on a GPU) or 32 (fp32, as on
    this CPU). ``adapter_precision``: the LoRA/DoRA tensors' bits (default: ``precision``, as in the
    QLoRA paper; peft itself keeps adapters in fp32 on a 16-bit base unless told otherwise).
    Adam's moments are always fp32.
    ``overhead_gb``: an allowance for the CUDA context and allocator cache (0 on a CPU).
    """
    method = checks.one_of("method", method, METHODS)
    if precision not in (16, 32):
        raise LabError("lora.memory.precision", "{name} must be 16 or 32 (bits), not {value!r}.",
                       name="precision", value=precision)
    adapter_precision = precision if adapter_precision is None else adapter_precision
    if adapter_precision not in (16, 32):
        raise LabError("lora.memory.precision", "{name} must be 16 or 32 (bits), not {value!r}.",
                       name="adapter_precision", value=adapter_precision)
    ab = adapter_precision // 8
    batch_size = checks.whole_number(BATCH_FIELD, batch_size, 1, MAX_BATCH)
    seq_len = checks.whole_number(SEQ_FIELD, seq_len, 1, MAX_SEQ_LEN)
    overhead_gb = checks.number("overhead_gb", overhead_gb, 0, MAX_OVERHEAD_GB)
    b = precision // 8
    arch = config if isinstance(config, Architecture) else architecture(config)
    n_all = arch.total
    if method == "full":
        n = n_all
        weights = MemoryTerm("weights", b * n_all, True,
                             Msg("lora.how.all_params", "{b} B × {n:,} parameters", b=b, n=n_all))
        grads = MemoryTerm("gradients", b * n, True, Msg("lora.how.trainable", "{b} B × {n:,} trainable", b=b, n=n))
        act = activation_bytes(arch, batch_size, seq_len, gradient_checkpointing, b)
    else:
        count = count_lora_params(arch, r, target_modules, bias, use_dora, modules_to_save)
        n = count.trainable
        adapter = count.lora + count.dora  # at adapter precision; saved copies and biases stay at b
        extra = ab * adapter + b * count.saved
        saved = Msg("lora.how.saved", " + saved {b} B × {n:,}", b=b, n=count.saved) if count.saved else ""
        extra_how = Msg("lora.how.adapter", "adapter {ab} B × {n:,}{saved}", ab=ab, n=adapter, saved=saved)
        if method == "lora":
            weights = MemoryTerm("weights", b * n_all + extra, True,
                                 Msg("lora.how.frozen", "frozen base {b} B × {n:,} + {extra}", b=b, n=n_all,
                                     extra=extra_how))
        else:
            q = quantized_params(arch)
            base = NF4_BITS / 8 * q + b * (n_all - q)
            weights = MemoryTerm(
                "weights", base + extra, True,
                Msg("lora.how.nf4", "NF4 {bits:.3f} bits × {q:,} + {b} B × {rest:,} not quantized + {extra}",
                    bits=NF4_BITS, q=q, b=b, rest=n_all - q, extra=extra_how),
            )
        others = count.saved + count.bias_params  # full copies and biases: gradients at the model's precision
        grads = MemoryTerm("gradients", ab * adapter + b * others, True,
                           Msg("lora.how.adapter_grads", "{ab} B × {n:,} adapter{others}", ab=ab, n=adapter,
                               others=f" + {b} B × {others:,}" if others else ""))
        act = activation_bytes(arch, batch_size, seq_len, gradient_checkpointing, b, count.r, count.n_adapted,
                               count.adapted_inputs, ab)
    if gradient_checkpointing:
        act_how = Msg("lora.how.activations_gc", "batch {batch} × {seq} tokens, with gradient checkpointing",
                      batch=batch_size, seq=seq_len)
    else:
        act_how = Msg("lora.how.activations", "batch {batch} × {seq} tokens, without gradient checkpointing",
                      batch=batch_size, seq=seq_len)
    terms = [
        weights,
        grads,
        MemoryTerm("optimizer", ADAM_BYTES * n, True,
                   Msg("lora.how.adam", "AdamW m and v: {bytes} B × {n:,} trainable", bytes=ADAM_BYTES, n=n)),
        MemoryTerm("activations", act, False, act_how),
        MemoryTerm("overhead", float(overhead_gb) * GB, False,
                   Msg("lora.how.overhead", "CUDA context and allocator cache (allowance)")),
    ]
    return MemoryEstimate(method, arch.name, n, terms)


def estimate_all(config, **kwargs) -> list[MemoryEstimate]:
    """Full, LoRA and QLoRA side by side, with the same settings."""
    return [estimate_memory(config, m, **kwargs) for m in METHODS]
