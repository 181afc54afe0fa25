"""NF4, FP4 and INT4: how QLoRA stores a weight in 4 bits, as a readable reference.

QLoRA (Dettmers et al. 2023) keeps the frozen base model in 4 bits. A weight tensor is cut into
blocks of ``blocksize`` consecutive values (64 by default) and every weight ``w`` of block ``b`` is
stored as a 4-bit code::

    absmax_b = max |w|   over the block                     (one fp32 number per block)
    code(w)  = index of the level nearest to w / absmax_b    (4 bits: one of 16 levels in [-1, 1])
    w_hat    = level[code(w)] * absmax_b                     (what the model computes with)

Two codes share a byte, the first value of each pair in the high nibble:
``byte = code[2i] << 4 | code[2i + 1]``.

**NF4** (4-bit NormalFloat) puts its 16 levels at quantiles of a standard normal, because
pre-trained weights are roughly normal, so each level is used about equally often. It is
asymmetric so that 0 is exact: 8 positive and 7 negative quantiles plus 0, scaled to [-1, 1].
**FP4** is a tiny float (1 sign, 2 exponent, 1 mantissa bit); **INT4** a uniform grid k/7.

**Double quantization** quantizes the block constants too: the fp32 ``absmax`` values minus their
mean are stored in 8 bits, in blocks of 256, with one fp32 scale per 256 blocks::

    bits per parameter = 4 + 32/64                 = 4.5      (plain)
                       = 4 + 8/64 + 32/(64 * 256)  ≈ 4.127    (double quantization)

The paper calls these 8-bit constants "FP8"; bitsandbytes' code uses its 8-bit *dynamic* map
(:func:`dynamic_map`), an 8-bit float-like code with a variable exponent.

Bit-exactness: :func:`quantize` / :func:`dequantize` give the same packed bytes, block constants
and values as ``bitsandbytes.functional.quantize_4bit`` / ``dequantize_4bit`` (0.50, on the CPU)
for "nf4" and "fp4", with and without double quantization, any length, fp32 / fp16 / bf16 (the
tests compare them). That fixes a few details that the formula above leaves open:

- a full block is scaled by multiplying with ``1 / absmax``; the last, shorter block by dividing;
  a block of zeros keeps ``absmax = 0`` (the last block stores ``1e-38`` instead);
- "nearest" compares with the midpoints between sorted levels; an exact tie goes to the lower
  level. FP4 has two zeros (+0 = 0b0000 sorts first, -0 = 0b1000), so tiny *positive* values get
  the code of -0;
- an odd length is padded with one 0 before packing;
- the 8-bit absmax codes are looked up through a 65,536-point grid over [-1, 1], as bitsandbytes'
  CPU kernel does, rather than by an exact nearest-level search (the two differ on about 0.15% of normal values).

INT4 (bitsandbytes' sign-magnitude ``int4`` table) goes through the same code path; bitsandbytes
itself does not quantize to it, so it is only a comparison here.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from lab import cores
from lab.errors import LabError

NF4_OFFSET = 0.9677083
"""Outermost probability of the NF4 quantiles (bitsandbytes' ``create_normal_map`` default):
the mean of the two choices 1 - 1/(2·15) and 1 - 1/(2·16) given in the QLoRA paper."""
QUANT_TYPES = ("nf4", "fp4", "int4")
BLOCKSIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096)
DQ_BLOCKSIZE = 256
"""Double quantization: absmax values per 8-bit block (fixed in bitsandbytes)."""
DQ_GRID_POINTS = 65536
"""bitsandbytes' CPU kernel finds the 8-bit code through this many evenly spaced points."""
TINY_ABSMAX = 1e-38
"""bitsandbytes clamps the scale to at least this, so a block of zeros divides by something."""
FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)

# FP4 as bitsandbytes defines it: sign bit, then 3 bits whose values (before normalising by the
# largest, 12) are listed in bit-pattern order: 0b000 = 0, 0b001 = 0.0625 (subnormal), ...
_FP4_MAGNITUDES = (0.0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0)
# INT4, bitsandbytes' sign-magnitude table: codes 0..7 are +7..0, codes 8..15 are -0..-7 (over 7).
_INT4_MAGNITUDES = (7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0)


def nf4_levels(offset: float = NF4_OFFSET) -> torch.Tensor:
    """The 16 NF4 levels, derived from quantiles of N(0, 1) (not copied from a table).

    With ``Φ⁻¹`` the inverse normal CDF::

        positive = Φ⁻¹(p) for 8 probabilities p evenly spaced from offset down to 0.5 (0.5 excluded)
        negative = -Φ⁻¹(p) for 7 probabilities evenly spaced from offset down to 0.5 (0.5 excluded)
        levels   = sort(negative ∪ {0} ∪ positive) / Φ⁻¹(offset)          (so the ends are ±1)

    One more positive than negative level makes room for an exact 0. The probabilities are a
    float32 grid and the quantiles are rounded to float32, as bitsandbytes generated its table;
    the result equals that table bit for bit.
    """
    if not 0.5 < offset < 1.0:
        raise ValueError(f"The NF4 offset is a probability between 0.5 and 1, not {offset}.")
    p_pos = torch.linspace(offset, 0.5, 9, dtype=torch.float32)[:-1]  # 8 probabilities
    p_neg = torch.linspace(offset, 0.5, 8, dtype=torch.float32)[:-1]  # 7 probabilities
    positive = torch.special.ndtri(p_pos.double())
    negative = -torch.special.ndtri(p_neg.double())
    levels = torch.cat([negative, torch.zeros(1, dtype=torch.float64), positive]).float()
    levels = levels.sort().values
    return levels / levels.max()


def fp4_levels() -> torch.Tensor:
    """FP4 (bitsandbytes' E2M1 variant) in code order: code = sign << 3 | 3 magnitude bits."""
    mags = torch.tensor(_FP4_MAGNITUDES)
    return torch.cat([mags, -mags]) / 12.0


def int4_levels() -> torch.Tensor:
    """Symmetric INT4 in code order (sign-magnitude): k / 7 for k = 7..0, then -0..-7."""
    mags = torch.tensor(_INT4_MAGNITUDES)
    return torch.cat([mags, -mags.flip(0)]) / 7.0


def code_book(quant_type: str) -> torch.Tensor:
    """The 16 levels of ``quant_type`` indexed by their 4-bit code (NF4's codes are sorted)."""
    _check_quant_type(quant_type)
    return {"nf4": nf4_levels, "fp4": fp4_levels, "int4": int4_levels}[quant_type]()


@functools.cache
def _sorted_code(quant_type: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(midpoints between sorted levels, sorted position -> code) for the nearest-level search."""
    code = code_book(quant_type)
    order = torch.argsort(code, stable=True)  # equal levels (+0, -0) keep code order: +0 first
    levels = code[order]
    return (levels[:-1] + levels[1:]) / 2, order


def dynamic_map() -> torch.Tensor:
    """bitsandbytes' signed 8-bit dynamic map (Dettmers 2015), used for double quantization.

    After the sign bit, the number of leading zero bits picks a decade ``10^-e`` (e = 6..0) and
    the remaining bits a fraction on a linear grid in [0.1, 1]: decade ``10^(i-6)`` gets
    ``2^i`` fractions (the midpoints of ``linspace(0.1, 1, 2^i + 1)``), for i = 0..6, on
    both sides of zero. With 0 and 1 that makes 2·127 + 2 = 256 sorted values in [-1, 1]:
    fine steps near 0, coarse near ±1, like a float with a variable-length exponent.
    """
    values = [torch.tensor([0.0, 1.0])]
    for i in range(7):
        edges = torch.linspace(0.1, 1, 2**i + 1, dtype=torch.float32)
        fractions = (edges[:-1] + edges[1:]) / 2.0
        values += [(10 ** (i - 6)) * fractions, -(10 ** (i - 6)) * fractions]
    return torch.cat(values).sort().values


@functools.cache
def _dynamic_grid_lookup() -> torch.Tensor:
    """For each of the 65,536 grid points -1 + 2i/65535, the index of the nearest dynamic level."""
    code = dynamic_map()
    midpoints = 0.5 * (code[:-1] + code[1:])
    grid = -1.0 + (2.0 * torch.arange(DQ_GRID_POINTS, dtype=torch.float32)) / (DQ_GRID_POINTS - 1)
    return torch.searchsorted(midpoints, grid, side="left")  # number of midpoints below the point


@dataclass(frozen=True)
class QuantState:
    """What :func:`dequantize` needs besides the packed codes (bitsandbytes' ``QuantState``).

    Plain: ``absmax`` holds one fp32 scale per block. Double quantization: ``absmax`` is None and
    the scales are stored as ``absmax_codes`` (uint8, one per block), ``absmax_scales`` (fp32,
    one per 256 blocks) and ``absmax_offset`` (their fp32 mean), see :meth:`block_absmax`.
    """

    shape: tuple
    dtype: torch.dtype
    blocksize: int
    quant_type: str
    code: torch.Tensor  # (16,) levels by code
    absmax: torch.Tensor | None = None  # (n_blocks,) fp32
    absmax_codes: torch.Tensor | None = None  # (n_blocks,) uint8, dynamic-map codes
    absmax_scales: torch.Tensor | None = None  # (ceil(n_blocks / 256),) fp32
    absmax_offset: torch.Tensor | None = None  # () fp32, mean of the fp32 absmax values

    @property
    def double_quant(self) -> bool:
        return self.absmax_codes is not None

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def n_blocks(self) -> int:
        return -(-self.numel // self.blocksize)

    def block_absmax(self) -> torch.Tensor:
        """The fp32 scale of every block; with double quantization, rebuilt from 8 bits::

        absmax_b = dynamic[absmax_codes_b] * absmax_scales[b // 256] + absmax_offset
        """
        if not self.double_quant:
            return self.absmax
        return _dequantize_dynamic(self.absmax_codes, self.absmax_scales) + self.absmax_offset

    def storage_bytes(self) -> dict[str, int]:
        """Bytes stored, by part (the 16 levels and the 256-value map are shared, not counted)."""
        parts = {"4-bit codes": (self.numel + 1) // 2}
        if self.double_quant:
            parts["absmax codes (8-bit)"] = self.absmax_codes.numel()
            parts["absmax scales (fp32)"] = 4 * self.absmax_scales.numel()
            parts["absmax offset (fp32)"] = 4
        else:
            parts["absmax (fp32)"] = 4 * self.absmax.numel()
        return parts

    def bits_per_parameter(self) -> float:
        """Stored bits divided by the number of values (→ 4.5 or ≈ 4.127 for blocks of 64)."""
        return 8 * sum(self.storage_bytes().values()) / self.numel


def _check_quant_type(quant_type: str) -> None:
    if quant_type not in QUANT_TYPES:
        raise LabError("nf4.bad_type", "The 4-bit type must be one of {types}, not {value}.",
                       types=", ".join(QUANT_TYPES), value=repr(quant_type))


def check_blocksize(blocksize) -> int:
    """A block size is a power of two from 32 to 4096 (what bitsandbytes accepts)."""
    if isinstance(blocksize, float) and blocksize.is_integer():
        blocksize = int(blocksize)
    if isinstance(blocksize, bool) or not isinstance(blocksize, int) or blocksize not in BLOCKSIZES:
        raise LabError("nf4.bad_blocksize",
                       "The block size must be a power of two from 32 to 4096 (32, 64, ..., 4096), not {value}.",
                       value=repr(blocksize))
    return blocksize


def check_tensor(x) -> torch.Tensor:
    """A non-empty, finite fp32 / fp16 / bf16 tensor, or a ValueError that says what is wrong.

    NaN and ±inf are refused: bitsandbytes does not check them, and one of them makes the
    block's absmax NaN or inf, so every value of that block comes back as NaN.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"Expected a torch tensor of weights, got {type(x).__name__}.")
    if x.dtype not in FLOAT_DTYPES:
        raise ValueError(f"Only float32, float16 and bfloat16 tensors can be quantized, not {x.dtype}.")
    if x.numel() == 0:
        raise LabError("nf4.empty", "Cannot quantize an empty tensor: it has no values to scale.")
    if not bool(torch.isfinite(x.sum(dtype=torch.float64))):  # NaN and ±inf survive a sum
        bad = int((~torch.isfinite(x)).sum())
        raise LabError("nf4.not_finite",
                       "The tensor has {bad} NaN or infinite value(s). They would make their block's absmax "
                       "NaN or infinite and every value of that block NaN; remove or replace them first.", bad=bad)
    return x


def _scale_blocks(flat: torch.Tensor, blocksize: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``flat`` (fp32) into blocks: (each value / its block's absmax in [-1, 1], absmax)."""
    n = flat.numel()
    full = n - n % blocksize
    blocks = flat[:full].view(-1, blocksize)  # (n_full_blocks, blocksize)
    absmax = blocks.abs().amax(dim=1)
    scaled = (blocks * (1.0 / absmax.clamp(min=TINY_ABSMAX)).view(-1, 1)).clamp(-1, 1).reshape(-1)
    if full < n:  # the last, shorter block: divided, and its stored absmax is clamped too
        tail_absmax = flat[full:].abs().max().clamp(min=TINY_ABSMAX)
        scaled = torch.cat([scaled, (flat[full:] / tail_absmax).clamp(-1, 1)])
        absmax = torch.cat([absmax, tail_absmax.view(1)])
    return scaled, absmax


def nearest_codes(scaled: torch.Tensor, quant_type: str) -> torch.Tensor:
    """The 4-bit code of the level nearest to each value in [-1, 1] (an exact tie goes down)."""
    midpoints, order = _sorted_code(quant_type)
    position = torch.bucketize(scaled, midpoints)  # = number of midpoints strictly below the value
    return order[position].to(torch.uint8)


def pack(codes: torch.Tensor) -> torch.Tensor:
    """Two 4-bit codes per byte, the first in the high nibble; an odd count is padded with 0s."""
    return ((codes[0::2] << 4) | codes[1::2]).view(-1, 1)  # ((n + 1) // 2, 1) like bitsandbytes


def unpack(packed: torch.Tensor, n: int) -> torch.Tensor:
    """The ``n`` codes in ``packed``: high nibble first, then low nibble, byte after byte."""
    packed = packed.reshape(-1)
    return torch.stack([packed >> 4, packed & 0xF], dim=1).reshape(-1)[:n]


def _quantize_dynamic(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """8-bit blockwise quantization with the dynamic map, as bitsandbytes' CPU kernel does it.

    Per block of 256: ``absmax = max |v|``; ``u = clamp(v * (1 / absmax), -1, 1)``; the grid point
    ``i = trunc(((u + 1) * 0.5) * 65535 + 0.5)`` and that point's nearest dynamic level. A block
    of zeros gets code 0 (and absmax 0, which :meth:`QuantState.block_absmax` multiplies by).
    """
    n = values.numel()
    n_blocks = -(-n // DQ_BLOCKSIZE)
    padded = torch.nn.functional.pad(values, (0, n_blocks * DQ_BLOCKSIZE - n))
    blocks = padded.view(n_blocks, DQ_BLOCKSIZE)  # zeros never change a block's absmax
    absmax = blocks.abs().amax(dim=1)
    u = (blocks * (1.0 / absmax).view(-1, 1)).clamp(-1, 1)
    grid_index = (((u + 1.0) * 0.5) * (DQ_GRID_POINTS - 1) + 0.5).to(torch.int64)
    codes = _dynamic_grid_lookup()[grid_index.clamp(0, DQ_GRID_POINTS - 1)]
    codes[absmax == 0] = 0
    return codes.reshape(-1)[:n].to(torch.uint8), absmax


def _validated(x, blocksize, quant_type) -> tuple[torch.Tensor, int]:
    check_tensor(x)
    _check_quant_type(quant_type)
    return x.detach().reshape(-1).float(), check_blocksize(blocksize)


def _scale_back(levels: torch.Tensor, absmax: torch.Tensor, blocksize: int) -> torch.Tensor:
    """``levels[i] * absmax[i // blocksize]`` in fp32 (the last block may be shorter)."""
    n = levels.numel()
    full = n - n % blocksize
    out = (levels[:full].view(-1, blocksize) * absmax[: full // blocksize].view(-1, 1)).reshape(-1)
    if full < n:
        out = torch.cat([out, levels[full:] * absmax[-1]])
    return out


def _dequantize_dynamic(codes: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """Back from 8 bits: ``dynamic[code_i] * scales[i // 256]`` (fp32)."""
    return _scale_back(dynamic_map()[codes.long()], scales, DQ_BLOCKSIZE)


@cores.in_lane
def quantize(x: torch.Tensor, blocksize: int = 64, quant_type: str = "nf4", double_quant: bool = False):
    """Block-wise 4-bit quantization: returns ``(packed, state)``.

    ``packed`` is a ``uint8`` tensor of shape ``((n + 1) // 2, 1)`` holding two codes per byte
    (first value in the high nibble), and ``state`` a :class:`QuantState`. For "nf4" and
    "fp4" both equal what ``bitsandbytes.functional.quantize_4bit(x, blocksize=blocksize,
    quant_type=quant_type, compress_statistics=double_quant)`` returns on the CPU.
    With double quantization: ``offset = mean(absmax)``, then ``absmax - offset`` in 8 bits.

    Raises ValueError for an empty tensor, NaN or inf values, an integer tensor, or a block size
    that is not a power of two from 32 to 4096.
    """
    flat, blocksize = _validated(x, blocksize, quant_type)
    scaled, absmax = _scale_blocks(flat, blocksize)  # (n,) in [-1, 1], (n_blocks,)
    if scaled.numel() % 2:
        scaled = torch.cat([scaled, scaled.new_zeros(1)])
    packed = pack(nearest_codes(scaled, quant_type))
    common = dict(shape=tuple(x.shape), dtype=x.dtype, blocksize=blocksize, quant_type=quant_type,
                  code=code_book(quant_type))
    if not double_quant:
        return packed, QuantState(absmax=absmax, **common)
    offset = absmax.mean()
    codes, scales = _quantize_dynamic(absmax - offset)
    return packed, QuantState(absmax_codes=codes, absmax_scales=scales, absmax_offset=offset, **common)


@cores.in_lane
def dequantize(packed: torch.Tensor, state: QuantState) -> torch.Tensor:
    """Back from 4 bits: ``w_hat = level[code] * absmax_b``, computed in fp32, then cast.

    Returns a tensor of ``state.shape`` and ``state.dtype``, equal to bitsandbytes'
    ``dequantize_4bit`` (which on the CPU returns a 1-D input as shape ``(1, n)``).
    """
    if not isinstance(state, QuantState):
        raise ValueError("dequantize needs the QuantState that quantize returned with the codes.")
    if not isinstance(packed, torch.Tensor) or packed.dtype != torch.uint8:
        raise ValueError("The packed codes must be the uint8 tensor that quantize returned.")
    n = state.numel
    if packed.numel() != (n + 1) // 2:
        raise ValueError(
            f"The packed tensor has {packed.numel()} bytes, but a tensor of {n} values needs {(n + 1) // 2}."
        )
    # Every byte decodes to a pair of levels: (level[byte >> 4], level[byte & 15]).
    byte = torch.arange(256)
    pair_of_levels = torch.stack([state.code[byte >> 4], state.code[byte & 0xF]], dim=1)  # (256, 2)
    levels = pair_of_levels[packed.reshape(-1).long()].reshape(-1)[:n]  # (n,) fp32 in [-1, 1]
    return _scale_back(levels, state.block_absmax(), state.blocksize).to(state.dtype).reshape(state.shape)


def roundtrip(x: torch.Tensor, blocksize: int = 64, quant_type: str = "nf4", double_quant: bool = False):
    """``dequantize(*quantize(x, ...))`` without packing the codes: the same values, sooner."""
    return roundtrips(x, blocksize, (quant_type,), double_quant)[quant_type]


@cores.in_lane
def roundtrips(x: torch.Tensor, blocksize: int = 64, quant_types=QUANT_TYPES, double_quant: bool = False):
    """:func:`roundtrip` for several 4-bit types at once (the blocks are scaled only once)."""
    for quant_type in quant_types:
        _check_quant_type(quant_type)
    flat, blocksize = _validated(x, blocksize, "nf4")
    scaled, absmax = _scale_blocks(flat, blocksize)
    if double_quant:
        offset = absmax.mean()
        absmax = _dequantize_dynamic(*_quantize_dynamic(absmax - offset)) + offset
    out = {}
    for quant_type in quant_types:
        levels = code_book(quant_type)[nearest_codes(scaled, quant_type).long()]
        out[quant_type] = _scale_back(levels, absmax, blocksize).to(x.dtype).reshape(x.shape)
    return out


def bits_per_parameter(blocksize: int = 64, double_quant: bool = False) -> float:
    """Storage per weight (ignoring a shorter last block)::

    plain:  4 + 32 / blocksize                          (64 → 4.5)
    double: 4 + 8 / blocksize + 32 / (blocksize * 256)  (64 → 4.127)
    """
    blocksize = check_blocksize(blocksize)
    if double_quant:
        return 4 + 8 / blocksize + 32 / (blocksize * DQ_BLOCKSIZE)
    return 4 + 32 / blocksize
