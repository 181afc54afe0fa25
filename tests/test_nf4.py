"""lab.nf4 against bitsandbytes itself (the oracle): levels, packed bytes, block constants, values."""

from __future__ import annotations

import math

import bitsandbytes.functional as bnbf
import pytest
import torch

from lab import nf4

DTYPES = (torch.float32, torch.float16, torch.bfloat16)
SIZES = (1, 2, 3, 63, 64, 65, 255, 1000, 4097, 70_001)


def same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Identical dtype and bits, except that -0.0 and +0.0 count as equal.

    (bitsandbytes' own CPU paths disagree on the sign of FP4's zero: its C kernel decodes code
    0b1000 as +0.0, its torch fallback as -0.0.)
    """
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    bits = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}[a.dtype]
    return torch.equal((a + 0.0).view(bits), (b + 0.0).view(bits))


def assert_like_bnb(x: torch.Tensor, blocksize: int, quant_type: str, double_quant: bool) -> None:
    ours_packed, ours = nf4.quantize(x, blocksize, quant_type, double_quant)
    bnb_packed, bnb = bnbf.quantize_4bit(x, blocksize=blocksize, quant_type=quant_type,
                                         compress_statistics=double_quant)
    where = f"{tuple(x.shape)} {x.dtype} blocksize={blocksize} {quant_type} dq={double_quant}"
    assert ours_packed.shape == bnb_packed.shape and torch.equal(ours_packed, bnb_packed), where
    if double_quant:
        assert torch.equal(ours.absmax_codes, bnb.absmax), where
        assert torch.equal(ours.absmax_scales, bnb.state2.absmax), where
        assert torch.equal(ours.absmax_offset, bnb.offset), where
    else:
        assert torch.equal(ours.absmax, bnb.absmax), where
    ours_values = nf4.dequantize(ours_packed, ours)
    bnb_values = bnbf.dequantize_4bit(bnb_packed, bnb).reshape(x.shape)  # CPU gives 1-D as (1, n)
    assert same_values(ours_values, bnb_values), where


# --- code books ---------------------------------------------------------------------------------


def test_nf4_levels_are_normal_quantiles_equal_to_bitsandbytes_table():
    levels = nf4.nf4_levels()
    assert torch.equal(levels, bnbf.get_4bit_type("nf4", device="cpu"))  # bit for bit
    assert levels.dtype == torch.float32 and levels.numel() == 16
    assert torch.all(levels[1:] > levels[:-1])
    assert levels[0] == -1 and levels[-1] == 1
    assert (levels == 0).sum() == 1 and (levels > 0).sum() == 8 and (levels < 0).sum() == 7
    # the top level is the offset's quantile, so un-normalising gives the normal quantile back
    scale = torch.special.ndtri(torch.tensor(nf4.NF4_OFFSET, dtype=torch.float64))
    assert float(levels[-2] * scale) == pytest.approx(float(torch.special.ndtri(torch.tensor(
        nf4.NF4_OFFSET - (nf4.NF4_OFFSET - 0.5) / 8, dtype=torch.float64))), rel=1e-6)


def test_nf4_levels_depend_on_the_offset():
    other = nf4.nf4_levels(0.99)
    assert other[0] == -1 and other[-1] == 1 and not torch.equal(other, nf4.nf4_levels())


def test_fp4_int4_and_dynamic_map_equal_bitsandbytes():
    assert torch.equal(nf4.fp4_levels(), bnbf.get_4bit_type("fp4", device="cpu"))
    # bitsandbytes 0.50.2 lists int4 as [7, 6, ..., 0, -0, ..., -7] (functional.get_4bit_type), but
    # get_4bit_type("int4") itself fails on those integers, so its table is compared as written:
    table = torch.tensor([7, 6, 5, 4, 3, 2, 1, 0, -0, -1, -2, -3, -4, -5, -6, -7], dtype=torch.float32) / 7
    assert torch.equal(nf4.int4_levels(), table)
    dyn = nf4.dynamic_map()
    assert torch.equal(dyn, bnbf.create_dynamic_map())
    assert dyn.numel() == 256 and torch.all(dyn[1:] >= dyn[:-1]) and dyn[-1] == 1
    assert len(nf4.int4_levels().unique()) == 15  # 7 positive, 7 negative, and zero (twice)


# --- bit-exact with bitsandbytes ----------------------------------------------------------------


@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
@pytest.mark.parametrize("double_quant", [False, True])
def test_bit_exact_with_bitsandbytes_across_sizes_blocksizes_and_dtypes(quant_type, double_quant):
    g = torch.Generator().manual_seed(1)
    for n in SIZES:
        for blocksize in nf4.BLOCKSIZES:
            for dtype in DTYPES:
                x = (torch.randn(n, generator=g) * torch.rand(1, generator=g) * 2).to(dtype)
                assert_like_bnb(x, blocksize, quant_type, double_quant)


@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
def test_bit_exact_on_matrices_and_many_blocks(quant_type):
    g = torch.Generator().manual_seed(2)
    for shape, blocksize in [((192, 576), 64), ((576, 1536), 64), ((64, 4096), 4096), ((300, 256), 256)]:
        x = torch.randn(shape, generator=g) * 0.02
        for double_quant in (False, True):
            assert_like_bnb(x, blocksize, quant_type, double_quant)
    # > 256 blocks in the double quantization, with a shorter last block of 8-bit constants
    assert_like_bnb(torch.randn(64 * 256 * 3 + 64 * 5 + 7, generator=g), 64, quant_type, True)


def test_edge_values_like_bitsandbytes():
    cases = [
        torch.zeros(64),  # a full block of zeros keeps absmax 0
        torch.zeros(100),  # ... and a short last block stores 1e-38
        torch.tensor([1.0, -1e-4, 1e-4, 0.0, -0.0, 0.5]),  # FP4's two zeros
        torch.tensor([5.0]),
        torch.full((130,), -3.25),  # all equal: one code, double-quant offsets cancel
        torch.cat([torch.tensor([1.0]), (nf4.nf4_levels()[:-1] + nf4.nf4_levels()[1:]) / 2]),  # exact ties
        torch.tensor([3.0e38, -1e-30, 1e-45, 2.0]),  # huge and subnormal magnitudes
    ]
    for x in cases:
        for quant_type in ("nf4", "fp4"):
            for double_quant in (False, True):
                for blocksize in (32, 64):
                    assert_like_bnb(x, blocksize, quant_type, double_quant)


def test_edge_semantics_are_as_documented():
    _, state = nf4.quantize(torch.zeros(100), 64)
    assert state.absmax[0] == 0 and state.absmax[1] == torch.tensor(nf4.TINY_ABSMAX)
    # an exact tie between two NF4 levels goes to the lower one
    mid = float((nf4.nf4_levels()[9] + nf4.nf4_levels()[10]) / 2)
    packed, _ = nf4.quantize(torch.tensor([1.0, mid]), 64)
    assert int(packed[0]) & 0xF == 9
    # FP4: a tiny positive value gets the code of -0 (0b1000), a tiny negative one +0 (0b0000)
    packed, _ = nf4.quantize(torch.tensor([1.0, 1e-4, 1.0, -1e-4]), 64, "fp4")
    assert int(packed[0]) & 0xF == 0b1000 and int(packed[1]) & 0xF == 0b0000


def test_nibble_order_first_value_in_high_nibble():
    x = torch.tensor([-1.0, 1.0, 0.0])  # NF4 codes 0, 15, 7 (+ a padding 0 -> code 7)
    packed, state = nf4.quantize(x, 64)
    assert packed.shape == (2, 1) and packed.dtype == torch.uint8
    assert packed.view(-1).tolist() == [0 << 4 | 15, 7 << 4 | 7]
    assert nf4.unpack(packed, 3).tolist() == [0, 15, 7]
    assert nf4.dequantize(packed, state).tolist() == [-1.0, 1.0, 0.0]


def test_2d_tensor_whose_rows_straddle_blocks():
    """bitsandbytes 0.50's CPU dequantize_4bit takes the wrong absmax for a 2-D tensor whose last
    dimension is not a multiple of the block size; its bytes are right, and our values equal its
    dequantization of the same bytes as a flat tensor."""
    x = torch.randn(4, 576, generator=torch.Generator().manual_seed(3))
    packed, state = nf4.quantize(x, 128)
    bnb_packed, _ = bnbf.quantize_4bit(x, blocksize=128, quant_type="nf4")
    assert torch.equal(packed, bnb_packed)
    flat_packed, flat_state = bnbf.quantize_4bit(x.reshape(-1), blocksize=128, quant_type="nf4")
    assert torch.equal(nf4.dequantize(packed, state), bnbf.dequantize_4bit(flat_packed, flat_state).reshape(4, 576))


def test_real_weight_bit_exact(real_model):
    w = real_model.get_parameter("model.layers.0.self_attn.q_proj.weight").detach()  # (576, 576) fp32
    for dtype in (torch.float32, torch.bfloat16):
        for double_quant in (False, True):
            assert_like_bnb(w.to(dtype), 64, "nf4", double_quant)
    assert_like_bnb(real_model.get_parameter("model.layers.29.mlp.down_proj.weight").detach(), 64, "fp4", True)


# --- round trip and the storage it takes -------------------------------------------------------


def test_roundtrip_equals_dequantize_of_quantize():
    x = torch.randn(5000, generator=torch.Generator().manual_seed(4)).to(torch.bfloat16)
    for quant_type in nf4.QUANT_TYPES:
        for double_quant in (False, True):
            expected = nf4.dequantize(*nf4.quantize(x, 128, quant_type, double_quant))
            assert torch.equal(nf4.roundtrip(x, 128, quant_type, double_quant), expected)
    many = nf4.roundtrips(x, 64, nf4.QUANT_TYPES, True)
    assert all(torch.equal(many[qt], nf4.roundtrip(x, 64, qt, True)) for qt in nf4.QUANT_TYPES)


def test_int4_is_a_uniform_grid_of_sevenths():
    x = torch.linspace(-1, 1, 64)
    y = nf4.roundtrip(x, 64, "int4")
    assert torch.allclose(y * 7, torch.round(y * 7), atol=1e-5)
    assert (y - x).abs().max() <= 0.5 / 7 + 1e-6


def test_bits_per_parameter_figures():
    assert nf4.bits_per_parameter(64) == 4 + 32 / 64 == 4.5
    dq = nf4.bits_per_parameter(64, double_quant=True)
    assert dq == 4 + 8 / 64 + 32 / (64 * 256)
    assert round(dq, 3) == 4.127  # QLoRA paper: 0.5 -> 0.127 bits of overhead per parameter
    assert 0.5 - (dq - 4) == pytest.approx(0.373, abs=5e-4)
    # the bytes a state really holds (4 blocks of 256 absmax values + the fp32 offset)
    n = 64 * 256 * 4
    x = torch.randn(n)
    _, plain = nf4.quantize(x, 64)
    _, double = nf4.quantize(x, 64, double_quant=True)
    assert plain.bits_per_parameter() == 4.5
    assert double.bits_per_parameter() == pytest.approx(dq + 32 / n, abs=1e-12)
    _, bnb = bnbf.quantize_4bit(x, blocksize=64, compress_statistics=True)
    assert double.absmax_codes.numel() == bnb.absmax.numel() and double.absmax_scales.numel() == bnb.state2.absmax.numel()


def test_quantization_error_is_bounded_by_half_the_largest_gap():
    x = torch.randn(64 * 100, generator=torch.Generator().manual_seed(5))
    packed, state = nf4.quantize(x, 64)
    err = (nf4.dequantize(packed, state) - x).view(-1, 64).abs().amax(dim=1)
    levels = nf4.nf4_levels()
    half_gap = float((levels[1:] - levels[:-1]).max()) / 2
    assert torch.all(err <= half_gap * state.absmax * (1 + 1e-6))


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x, blocksize, quant_type, message",
    [
        (torch.empty(0), 64, "nf4", "empty tensor"),
        (torch.randn(10), 48, "nf4", "power of two from 32 to 4096"),
        (torch.randn(10), 16, "nf4", "power of two from 32 to 4096"),
        (torch.randn(10), 8192, "nf4", "power of two from 32 to 4096"),
        (torch.randn(10), "64", "nf4", "power of two from 32 to 4096"),
        (torch.randn(10), True, "nf4", "power of two from 32 to 4096"),
        (torch.tensor([1.0, math.nan]), 64, "nf4", "1 NaN or infinite"),
        (torch.tensor([1.0, math.inf, -math.inf]), 64, "nf4", "2 NaN or infinite"),
        (torch.tensor([1, 2, 3]), 64, "nf4", "float32, float16 and bfloat16"),
        ([1.0, 2.0], 64, "nf4", "torch tensor"),
        (torch.randn(10), 64, "nf8", "must be one of nf4, fp4, int4"),
    ],
)
def test_bad_input_gets_a_sentence(x, blocksize, quant_type, message):
    with pytest.raises(ValueError, match=message) as info:
        nf4.quantize(x, blocksize, quant_type)
    assert str(info.value)[0].isupper() and str(info.value).endswith(".")


def test_dequantize_checks_its_inputs():
    packed, state = nf4.quantize(torch.randn(10), 64)
    with pytest.raises(ValueError, match="needs 5"):
        nf4.dequantize(packed[:3], state)
    with pytest.raises(ValueError, match="uint8"):
        nf4.dequantize(packed.float(), state)
    with pytest.raises(ValueError, match="QuantState"):
        nf4.dequantize(packed, None)
