"""What 4-bit storage costs and saves: errors, memory and the model's loss.

Built on :mod:`lab.nf4` (the bit-exact reference of bitsandbytes). Three measurements:

- **Error** of a tensor ``x`` against its 4-bit round trip ``x_hat = dequantize(quantize(x))``::

      MSE  = mean (x - x_hat)^2        max error = max |x - x_hat|
      SQNR = 10 log10( sum x^2 / sum (x - x_hat)^2 )   dB (signal-to-quantization-noise ratio)

- **Memory**: 2 bytes per weight at 16 bits, ``bits_per_parameter / 8`` at 4 bits; measured on the
  bundled model as bitsandbytes stores it, computed for any size (QLoRA's 65B).
- **Loss**: the SFT loss of the bundled model on a few dataset rows, full precision vs NF4.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass

import torch

from lab import checks, nf4
from lab.models import LLAMA_LINEAR
from lab.errors import LabError, Msg

SYNTHETIC_KINDS = ("normal", "uniform", "heavy-tailed")
MAX_SYNTHETIC = 16_777_216
MAX_SEED = 2**32 - 1
MAX_LAYERS = 1_000
"""Upper bound of a layer index before the model is consulted (its own count is checked after)."""
WEIGHT_STD = 0.02
"""Synthetic tensors are scaled like a pre-trained weight matrix (std ≈ 0.02)."""
MODULES = LLAMA_LINEAR
"""The Linear layers of a Llama decoder layer: what QLoRA stores in 4 bits (embeddings stay 16-bit)."""


# --- tensors to look at ------------------------------------------------------------------------


def synthetic_tensor(kind: str = "normal", n: int = 65_536, seed: int = 0) -> torch.Tensor:
    """``n`` fp32 values whose bulk has a standard deviation of about 0.02.

    "normal": N(0, 0.02²), what NF4 is designed for. "uniform": U(-a, a) with the same std.
    "heavy-tailed": Student's t with 3 degrees of freedom, plus 1 value in 1,000 pushed to
    ±20 σ: the outliers that make one block's absmax large and crush its other values to 0.
    """
    checks.one_of("The synthetic tensor kind", kind, SYNTHETIC_KINDS)
    n = checks.whole_number("The number of values (synthetic)", n, 1, MAX_SYNTHETIC)
    seed = checks.whole_number("The seed (synthetic)", seed, 0, MAX_SEED)
    g = torch.Generator().manual_seed(seed)
    if kind == "normal":
        return torch.randn(n, generator=g) * WEIGHT_STD
    if kind == "uniform":
        return (torch.rand(n, generator=g) * 2 - 1) * (WEIGHT_STD * math.sqrt(3))
    # Student's t(3) = normal / sqrt(chi²(3) / 3); its std is sqrt(3), so divide by it.
    z = torch.randn(n, generator=g)
    chi2 = (torch.randn(3, n, generator=g) ** 2).sum(dim=0)
    t = z / torch.sqrt(chi2 / 3) / math.sqrt(3) * WEIGHT_STD
    outliers = torch.rand(n, generator=g) < 1e-3
    t[outliers] = torch.sign(t[outliers]) * 20 * WEIGHT_STD
    return t


def weight_name(layer: int, module: str) -> str:
    """The parameter name of ``module`` in decoder layer ``layer`` (Llama layout)."""
    checks.one_of("The module", module, MODULES)
    layer = checks.whole_number("The layer", layer, 0, MAX_LAYERS - 1)
    part = "self_attn" if module in MODULES[:4] else "mlp"
    return f"model.layers.{layer}.{part}.{module}.weight"


def model_weight(layer: int, module: str, model=None) -> torch.Tensor:
    """A real weight matrix of the bundled model (fp32, read-only; shared model by default)."""
    from lab import models

    model = model if model is not None else models.shared_model()
    layer = checks.whole_number("The layer", layer, 0, model.config.num_hidden_layers - 1)
    return model.get_parameter(weight_name(layer, module)).detach()


# --- errors ------------------------------------------------------------------------------------


def error_metrics(x: torch.Tensor, x_hat: torch.Tensor, signal: float | None = None) -> dict[str, float]:
    """MSE, max |error| and SQNR (dB) of ``x_hat`` as an approximation of ``x`` (sums in fp64).

    ``signal`` = sum x² may be passed in when several approximations of one ``x`` are scored.
    """
    x, x_hat = x.reshape(-1).float(), x_hat.reshape(-1).float()
    err = x - x_hat
    noise = float(torch.linalg.vector_norm(err, dtype=torch.float64)) ** 2
    if signal is None:
        signal = float(torch.linalg.vector_norm(x, dtype=torch.float64)) ** 2
    return {
        "mse": noise / x.numel(),
        "max_error": float(err.abs().max()),
        "sqnr_db": math.inf if noise == 0 else 10 * math.log10(signal / noise) if signal > 0 else -math.inf,
    }


def compare_types(x: torch.Tensor, blocksizes=nf4.BLOCKSIZES, quant_types=nf4.QUANT_TYPES,
                  double_quant: bool = False) -> list[dict]:
    """One row per (type, block size): the round-trip errors and the storage per weight."""
    nf4.check_tensor(x)
    signal = float(torch.linalg.vector_norm(x.float(), dtype=torch.float64)) ** 2
    by_size = {bs: nf4.roundtrips(x, bs, quant_types, double_quant) for bs in blocksizes}
    return [{"quant_type": qt, "blocksize": bs, "bits_per_param": nf4.bits_per_parameter(bs, double_quant),
             **error_metrics(x, by_size[bs][qt], signal)} for qt in quant_types for bs in blocksizes]


@dataclass(frozen=True)
class BlockView:
    """One block under the microscope: inputs, codes, bytes and what comes back."""

    block: int
    n_blocks: int
    start: int  # index of the block's first value in the flattened tensor
    absmax: float  # the fp32 absmax (dequantized from 8 bits under double quantization)
    values: list[float]  # inputs (as fp32)
    codes: list[int]  # 4-bit codes
    bytes_hex: list[str]  # the byte each value sits in, e.g. "0x7A"
    nibbles: list[str]  # "high" or "low"
    levels: list[float]  # level[code] in [-1, 1]
    dequantized: list[float]
    levels_used: int  # distinct codes in the block


def block_view(x: torch.Tensor, packed: torch.Tensor, state: nf4.QuantState, block: int = 0,
               max_values: int = 64, x_hat: torch.Tensor | None = None) -> BlockView:
    """Zoom into block ``block`` of ``x`` quantized as ``(packed, state)`` (its first ``max_values``)."""
    block = checks.whole_number("The block index", block, 0, state.n_blocks - 1)
    start = block * state.blocksize
    stop = min(start + state.blocksize, state.numel)
    shown = min(stop, start + max_values)
    codes = nf4.unpack(packed, state.numel)[start:stop]
    x_hat = (x_hat if x_hat is not None else nf4.dequantize(packed, state)).reshape(-1)
    byte_values = packed.reshape(-1)[start // 2 : (shown + 1) // 2].tolist()  # start is even
    return BlockView(
        block=block, n_blocks=state.n_blocks, start=start,
        absmax=float(state.block_absmax()[block]),
        values=x.detach().reshape(-1)[start:shown].float().tolist(),
        codes=codes[: shown - start].tolist(),
        bytes_hex=[f"0x{byte_values[(i - start) // 2]:02X}" for i in range(start, shown)],
        nibbles=["high" if i % 2 == 0 else "low" for i in range(start, shown)],
        levels=state.code[codes[: shown - start].long()].tolist(),
        dequantized=x_hat[start:shown].float().tolist(),
        levels_used=int(codes.unique().numel()),
    )


# --- memory ------------------------------------------------------------------------------------

FORMATS = ("16-bit", "NF4", "NF4 + double quant")


def weight_bytes(n_params: float, fmt: str, blocksize: int = 64) -> float:
    """Bytes to store ``n_params`` weights: 2 each at 16 bits, ``bits_per_parameter / 8`` at 4."""
    if fmt == "16-bit":
        return 2.0 * n_params
    if fmt not in FORMATS:
        raise LabError("nf4.bad_format", "The format must be one of {formats}, not {value}.",
                       formats=", ".join(FORMATS), value=repr(fmt))
    return n_params * nf4.bits_per_parameter(blocksize, fmt == "NF4 + double quant") / 8


def memory_for_size(billions: float, blocksize: int = 64) -> list[dict]:
    """Weight memory of a model with ``billions`` × 10⁹ parameters, all of them quantized.

    (Real QLoRA models keep embeddings and norms in 16 bits; at 65B they are < 1% of the weights.)
    """
    billions = checks.number("The model size (billions of parameters)", billions, 0.001, 10_000)
    n = billions * 1e9
    return [{"format": f, "bits_per_param": 8 * weight_bytes(n, f, blocksize) / n,
             "gb": weight_bytes(n, f, blocksize) / 1e9} for f in FORMATS]


def quantized_model_storage(model) -> dict[str, int]:
    """Bytes of a model loaded in 4 bits by bitsandbytes, by part, read from its tensors.

    ``4-bit codes``: the packed uint8 weights; ``absmax ...``: each layer's ``QuantState``
    (8-bit codes + fp32 scales and offset when double-quantized, else fp32 absmax);
    ``code tables``: the 16 levels and the 256-entry map that bitsandbytes keeps per layer;
    ``not quantized``: embeddings, norms (in the model's 16-bit dtype).
    """
    import bitsandbytes as bnb

    parts = dict.fromkeys(["4-bit codes", "absmax (8-bit codes)", "absmax (fp32)", "code tables",
                           "not quantized"], 0)
    quantized = set()
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            w, qs = module.weight, module.weight.quant_state
            quantized.add(id(w))
            parts["4-bit codes"] += w.numel() * w.element_size()
            if qs.nested:
                parts["absmax (8-bit codes)"] += qs.absmax.numel() * qs.absmax.element_size()
                parts["absmax (fp32)"] += 4 * qs.state2.absmax.numel() + 4  # scales + offset
                parts["code tables"] += 4 * (qs.code.numel() + qs.state2.code.numel())
            else:
                parts["absmax (fp32)"] += 4 * qs.absmax.numel()
                parts["code tables"] += 4 * qs.code.numel()
    seen = set()
    for p in model.parameters():
        if id(p) not in quantized and id(p) not in seen:
            seen.add(id(p))
            parts["not quantized"] += p.numel() * p.element_size()
    return parts


@dataclass(frozen=True)
class ModelMemory:
    n_params: int  # parameters of the full-precision model (tied embeddings counted once)
    n_quantized: int  # weights in the Linear layers that QLoRA stores in 4 bits
    rows: list[dict]  # format, how (measured / computed), MB, bits per quantized weight
    measured_parts: dict[str, int]


def bundled_model_memory(full_model=None, nf4_model=None) -> ModelMemory:
    """The bundled model at 16 bits, NF4 and NF4 + double quantization.

    NF4 + DQ is measured on the model that ``lab.models`` loads through bitsandbytes; 16-bit
    and plain NF4 are computed from the same parameter counts (NF4 = DQ's storage with the 8-bit
    absmax codes and their fp32 scales replaced by one fp32 absmax per block of 64).
    """
    from lab import models

    full_model = full_model if full_model is not None else models.shared_model()
    nf4_model = nf4_model if nf4_model is not None else models.shared_model(quantization="nf4")
    n_params = sum(p.numel() for p in full_model.parameters())
    parts = quantized_model_storage(nf4_model)
    n_quantized = 2 * parts["4-bit codes"]
    n_blocks = parts["absmax (8-bit codes)"] or parts["absmax (fp32)"] // 4
    rest = parts["not quantized"] + parts["code tables"]
    measured = sum(parts.values())
    plain = measured - parts["absmax (8-bit codes)"] - parts["absmax (fp32)"] + 4 * n_blocks
    mb = 1e6
    rows = [
        {"key": "16bit", "format": "16-bit", "how": "computed: 2 bytes × parameters", "mb": 2 * n_params / mb,
         "bits_per_quantized_weight": 16.0},
        {"key": "nf4", "format": "NF4", "how": "computed: one fp32 absmax per 64 weights", "mb": plain / mb,
         "bits_per_quantized_weight": 8 * (plain - rest) / n_quantized},
        {"key": "nf4_dq", "format": "NF4 + double quant", "how": "measured: bitsandbytes tensors", "mb": measured / mb,
         "bits_per_quantized_weight": 8 * (measured - rest) / n_quantized},
    ]
    return ModelMemory(n_params, n_quantized, rows, parts)


# --- loss --------------------------------------------------------------------------------------


def simulated_nf4_model(model, blocksize: int = 64, double_quant: bool = True, dtype=torch.bfloat16,
                        on_layer=None):
    """A full-precision copy of ``model`` whose Linear weights went through ``lab.nf4``.

    Each decoder-layer weight ``W`` becomes ``dequantize(quantize(W.to(dtype)))`` in fp32 (what
    bitsandbytes stores, cast from the 16-bit load dtype): the 4-bit weight error alone, with
    the arithmetic still in fp32. ``on_layer(fraction)`` is called after each weight (for progress).
    """
    import copy

    sim = copy.deepcopy(model)
    linears = [m for name, m in sim.named_modules() if isinstance(m, torch.nn.Linear) and ".layers." in f".{name}"]
    with torch.no_grad():
        for k, module in enumerate(linears):
            w = module.weight
            w.copy_(nf4.roundtrip(w.to(dtype), blocksize, "nf4", double_quant).float())
            if on_layer is not None:
                on_layer((k + 1) / len(linears))
    return sim


def _sft_loss(model, tokenizer, messages) -> tuple[float, int]:
    """Mean next-token loss on the final reply (SFT labels from ``lab.masking``), and its token count.

    Run it inside ``models.dequantized_base(model)``: 4-bit layers computed as in training (bitsandbytes'
    own CPU inference path would repack the stored weights in place, undoing double quantization, and
    change the memory measured above), each weight dequantized once for all the rows.
    """
    from lab import masking

    ex = masking.build_labels(tokenizer, messages)
    ids = torch.tensor([ex.input_ids])
    labels = torch.tensor([ex.labels])
    with torch.inference_mode():
        loss = model(input_ids=ids, labels=labels).loss
    return float(loss), sum(1 for t in ex.labels[1:] if t != -100)


@functools.lru_cache(maxsize=8)
def _rows(dataset: str, n_rows: int) -> tuple:
    from lab import data

    ds = data.load_sft_dataset(dataset)
    return tuple(ds[i]["messages"] for i in range(min(n_rows, len(ds))))


def loss_comparison(n_rows: int = 4, dataset: str = "pirate", models_by_name: dict | None = None,
                    on_step=None) -> list[dict]:
    """SFT loss (mean over reply tokens) of each model on the first ``n_rows`` rows of ``dataset``.

    Default models: the bundled model in fp32, the same weights through ``lab.nf4`` (fp32
    arithmetic), and the bitsandbytes NF4 + DQ model that QLoRA trains (16-bit arithmetic where
    the CPU has native bf16). Returns one row per model: loss, perplexity exp(loss), Δ vs fp32.
    ``on_step(fraction, what)`` is called as the work goes (a model to load, a row to score), so a
    caller can show real progress.
    """
    from lab import models

    n_rows = checks.whole_number("The number of dataset rows", n_rows, 1, 32)
    tokenizer = models.shared_tokenizer()
    rows_msgs = _rows(dataset, n_rows)
    if models_by_name is None:  # each loader takes a progress callback (only the lab.nf4 copy uses it)
        dtype = str(models.compute_dtype()).split(".")[-1]
        loaders = {
            "fp32": (Msg("nf4.model.fp32", "full precision (fp32)"), lambda on_part: models.shared_model()),
            "lab_nf4": (Msg("nf4.model.lab_nf4", "NF4 + DQ weights via lab.nf4 (fp32 arithmetic)"), _shared_simulated),
            "bnb_nf4": (Msg("nf4.model.bnb_nf4", "NF4 + DQ via bitsandbytes ({dtype} arithmetic)", dtype=dtype),
                        lambda on_part: models.shared_model(quantization="nf4")),
        }
    else:
        loaders = {name: (name, lambda on_part, m=model: m) for name, model in models_by_name.items()}
    report = on_step or (lambda fraction, what: None)
    units = len(loaders) * (1 + len(rows_msgs))  # one per model loaded, one per row scored
    unit = 0
    out = []
    for key, (name, load) in loaders.items():
        what = Msg("nf4.loading", "Loading: {name}", name=name)
        report(unit / units, what)
        model = load(lambda f, u=unit, what=what: report((u + f) / units, what))
        unit += 1
        scored = []
        with models.dequantized_base(model):  # each 4-bit weight dequantized once for all the rows
            for k, m in enumerate(rows_msgs):
                report(unit / units, Msg("nf4.scoring", "Scoring row {k} of {n}: {name}", k=k + 1, n=len(rows_msgs),
                                         name=name))
                scored.append(_sft_loss(model, tokenizer, m))
                unit += 1
        losses, tokens = zip(*scored)
        mean = sum(l * t for l, t in zip(losses, tokens)) / sum(tokens)  # noqa: E741 (token-weighted)
        out.append({"key": key, "model": str(name), "name": name, "loss": mean, "perplexity": math.exp(mean), "per_row": list(losses)})
    report(1.0, Msg("nf4.done", "Done"))
    for row in out:
        row["delta"] = row["loss"] - out[0]["loss"]
    return out


_SIMULATED: dict = {}
_SIMULATED_LOCK = threading.Lock()


def _shared_simulated(on_part=None):
    """The bundled model through ``lab.nf4`` (built once; ``on_part(fraction)`` while it is built)."""
    from lab import models

    with _SIMULATED_LOCK:
        if "model" not in _SIMULATED:
            _SIMULATED["model"] = simulated_nf4_model(models.shared_model(), on_layer=on_part)
        return _SIMULATED["model"]
