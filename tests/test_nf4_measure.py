"""lab.nf4_measure: synthetic tensors, errors, the block zoom, memory and loss (real model, real bnb)."""

from __future__ import annotations

import math

import pytest
import torch

from lab import nf4
from lab import nf4_measure as measure


@pytest.fixture(scope="module")
def nf4_model():
    """The bundled model as QLoRA loads it: bitsandbytes NF4 + double quantization (shared)."""
    from lab import models

    return models.shared_model(quantization="nf4")


# --- tensors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", measure.SYNTHETIC_KINDS)
def test_synthetic_tensors_have_weight_scale(kind):
    x = measure.synthetic_tensor(kind, 200_000, seed=1)
    assert x.shape == (200_000,) and x.dtype == torch.float32
    bulk = x[x.abs() < 19 * measure.WEIGHT_STD]  # without the heavy-tailed kind's ±20 σ outliers
    assert float(bulk.std()) == pytest.approx(measure.WEIGHT_STD, rel=0.15)
    assert torch.equal(x, measure.synthetic_tensor(kind, 200_000, seed=1))  # seeded


def test_heavy_tailed_has_outliers_and_uniform_has_none():
    heavy = measure.synthetic_tensor("heavy-tailed", 100_000)
    uniform = measure.synthetic_tensor("uniform", 100_000)
    assert float(heavy.abs().max()) >= 10 * measure.WEIGHT_STD
    assert float(uniform.abs().max()) <= math.sqrt(3) * measure.WEIGHT_STD


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "abc", 1e30, -1, 3.5])
def test_bad_numbers_name_the_field_and_range(bad):
    with pytest.raises(ValueError, match=r"The number of values \(synthetic\) must be a whole number from 1 to 16,777,216"):
        measure.synthetic_tensor("normal", bad)
    with pytest.raises(ValueError, match=r"The seed \(synthetic\) must be a whole number from 0 to 4,294,967,295"):
        measure.synthetic_tensor("normal", 64, bad)
    with pytest.raises(ValueError, match="The layer must be a whole number from 0 to 999"):
        measure.weight_name(bad, "q_proj")
    packed, state = nf4.quantize(torch.ones(256), 64)
    with pytest.raises(ValueError, match="The block index must be a whole number from 0 to 3"):
        measure.block_view(torch.ones(256), packed, state, bad)
    if bad != 3.5:  # a model of 3.5 billion parameters is fine
        with pytest.raises(ValueError, match=r"The model size \(billions of parameters\) must be a number from 0.001"):
            measure.memory_for_size(bad)
    with pytest.raises(ValueError, match="The number of dataset rows must be a whole number from 1 to 32"):
        measure.loss_comparison(bad)


def test_synthetic_bad_input():
    with pytest.raises(ValueError, match="must be one of normal"):
        measure.synthetic_tensor("cauchy")
    with pytest.raises(ValueError, match="whole number from 1"):
        measure.synthetic_tensor("normal", 0)
    with pytest.raises(ValueError, match="whole number from 1"):
        measure.synthetic_tensor("normal", 2.5)


def test_model_weight_by_layer_and_module(real_model):
    w = measure.model_weight(3, "gate_proj", real_model)
    assert torch.equal(w, real_model.model.layers[3].mlp.gate_proj.weight)
    assert measure.model_weight(0, "k_proj", real_model).shape == (192, 576)  # 3 kv heads of 64
    with pytest.raises(ValueError, match="from 0 to 29"):
        measure.model_weight(30, "q_proj", real_model)
    with pytest.raises(ValueError, match="must be one of q_proj"):
        measure.model_weight(0, "lm_head", real_model)


# --- errors ------------------------------------------------------------------------------------


def test_error_metrics_follow_their_formulas():
    x = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    m = measure.error_metrics(x, 1.1 * x)  # error = 0.1 x: SQNR = 10 log10(1 / 0.01) = 20 dB
    assert m["sqnr_db"] == pytest.approx(20.0, abs=1e-4)
    assert m["mse"] == pytest.approx(float((0.1 * x).double().pow(2).mean()), rel=1e-5)
    assert m["max_error"] == pytest.approx(float((0.1 * x).abs().max()), rel=1e-5)
    assert measure.error_metrics(x, x)["sqnr_db"] == math.inf


def test_nf4_beats_fp4_and_int4_on_normal_weights():
    x = measure.synthetic_tensor("normal", 64 * 4096)
    rows = measure.compare_types(x)
    assert len(rows) == 3 * len(nf4.BLOCKSIZES)
    mse = {(r["quant_type"], r["blocksize"]): r["mse"] for r in rows}
    for bs in nf4.BLOCKSIZES:
        assert mse["nf4", bs] < mse["fp4", bs] and mse["nf4", bs] < mse["int4", bs]
    # bigger blocks: fewer constants, but each absmax is more extreme -> more error
    assert all(mse["nf4", a] < mse["nf4", b] for a, b in zip(nf4.BLOCKSIZES, nf4.BLOCKSIZES[1:]))
    row = rows[1]
    assert row["mse"] == pytest.approx(
        measure.error_metrics(x, nf4.dequantize(*nf4.quantize(x, row["blocksize"], row["quant_type"])))["mse"]
    )
    assert row["bits_per_param"] == nf4.bits_per_parameter(row["blocksize"])


def test_block_view_matches_the_packed_bytes():
    x = measure.synthetic_tensor("heavy-tailed", 1000)
    packed, state = nf4.quantize(x, 128, "nf4", double_quant=True)
    view = measure.block_view(x, packed, state, block=7, max_values=64)  # the short last block (104 values)
    assert view.n_blocks == 8 and view.start == 896 and len(view.values) == 64
    assert view.absmax == pytest.approx(float(x[896:].abs().max()), rel=0.02)  # 8-bit absmax
    for i in range(0, 64, 2):
        assert int(view.bytes_hex[i], 16) == view.codes[i] << 4 | view.codes[i + 1]
        assert view.nibbles[i : i + 2] == ["high", "low"]
    assert view.dequantized == nf4.dequantize(packed, state)[896:960].tolist()
    assert view.levels == [float(nf4.nf4_levels()[c]) for c in view.codes]
    with pytest.raises(ValueError, match="from 0 to 7"):
        measure.block_view(x, packed, state, block=8)


# --- memory ------------------------------------------------------------------------------------


def test_memory_for_65b():
    rows = {r["format"]: r for r in measure.memory_for_size(65)}
    assert rows["16-bit"]["gb"] == pytest.approx(130.0)
    assert rows["NF4"]["gb"] == pytest.approx(65 * 4.5 / 8)
    assert rows["NF4 + double quant"]["bits_per_param"] == nf4.bits_per_parameter(64, True)
    # QLoRA paper: double quantization saves about 3 GB on a 65B model
    assert rows["NF4"]["gb"] - rows["NF4 + double quant"]["gb"] == pytest.approx(3.0, abs=0.05)
    for bad in (0, -1, "lots", 1e9):
        with pytest.raises(ValueError, match="model size"):
            measure.memory_for_size(bad)


@pytest.mark.slow
def test_bundled_model_memory_measured_on_bitsandbytes(real_model, nf4_model):
    mem = measure.bundled_model_memory(real_model, nf4_model)
    parts = mem.measured_parts
    param_bytes = sum(p.numel() * p.element_size() for p in nf4_model.parameters())
    assert parts["4-bit codes"] + parts["not quantized"] == param_bytes  # every parameter counted once
    n_linear = sum(m.weight.numel() for n, m in real_model.named_modules()
                   if isinstance(m, torch.nn.Linear) and ".layers." in n)
    assert mem.n_quantized == n_linear
    rows = {r["format"]: r for r in mem.rows}
    assert rows["16-bit"]["mb"] == pytest.approx(2 * mem.n_params / 1e6)
    assert rows["NF4"]["bits_per_quantized_weight"] == pytest.approx(4.5)
    # measured double quantization: 4 + 8/64 + the fp32 scales per 256 blocks (+ an offset per layer)
    assert rows["NF4 + double quant"]["bits_per_quantized_weight"] == pytest.approx(4.127, abs=1e-3)
    assert rows["16-bit"]["mb"] > 2 * rows["NF4 + double quant"]["mb"]


@pytest.mark.slow
def test_bitsandbytes_model_weights_equal_our_quantization(real_model, nf4_model):
    """The 4-bit model QLoRA trains stores exactly lab.nf4.quantize(W.to(load dtype), 64, nf4, DQ)."""
    for name in ("model.layers.0.self_attn.q_proj", "model.layers.17.mlp.down_proj"):
        stored = nf4_model.get_submodule(name).weight
        qs = stored.quant_state
        w = real_model.get_submodule(name).weight.detach().to(qs.dtype)
        packed, state = nf4.quantize(w, qs.blocksize, qs.quant_type, double_quant=True)
        assert torch.equal(packed, stored.data.view(torch.uint8).reshape(packed.shape))
        assert torch.equal(state.absmax_codes, qs.absmax) and torch.equal(state.absmax_scales, qs.state2.absmax)


@pytest.mark.slow
def test_loss_full_precision_vs_nf4(real_model, nf4_model, tokenizer):
    sim = measure.simulated_nf4_model(real_model)
    layer = nf4_model.get_submodule("model.layers.3.mlp.up_proj").weight
    stored, absmax = layer.data.clone(), layer.quant_state.absmax.clone()
    steps = []
    rows = measure.loss_comparison(2, models_by_name={"fp32": real_model, "sim": sim, "bnb": nf4_model},
                                   on_step=lambda fraction, what: steps.append((fraction, what)))
    # real progress: one step per model loaded and per row scored (3 x (1 + 2)), rising from 0 to 1
    fractions = [f for f, _ in steps]
    assert len(steps) == 10 and fractions == sorted(fractions) and fractions[0] == 0 and fractions[-1] == 1
    assert steps[4][0] == 4 / 9 and str(steps[4][1]) == "Scoring row 1 of 2: sim"
    # measuring the loss leaves the stored 4-bit weights (and so the memory figures) as they were
    assert torch.equal(layer.data, stored) and layer.quant_state.nested
    assert torch.equal(layer.quant_state.absmax, absmax)
    dq = {r["format"]: r for r in measure.bundled_model_memory(real_model, nf4_model).rows}["NF4 + double quant"]
    assert dq["bits_per_quantized_weight"] == pytest.approx(4.127, abs=1e-3)
    loss = {r["model"]: r["loss"] for r in rows}
    assert 0.5 < loss["fp32"] < 8  # a trained model on in-domain chat
    assert loss["sim"] != loss["fp32"] and abs(loss["sim"] - loss["fp32"]) < 1.0
    # the same 4-bit weights; only the arithmetic (fp32 vs the 4-bit model's compute dtype) differs
    assert loss["bnb"] == pytest.approx(loss["sim"], abs=0.05)
    assert rows[0]["delta"] == 0 and rows[1]["perplexity"] == pytest.approx(math.exp(loss["sim"]))
    with pytest.raises(ValueError, match="from 1 to 32"):
        measure.loss_comparison(0)
