"""lab.lora.counts against the oracle: peft's own count on the same (meta-device) model and LoraConfig."""

from __future__ import annotations

import itertools
import os

import pytest

from lab import lora
from lab.errors import LabError
from lab.lora import architectures as A

PRESETS = list(lora.PRESETS)


def truncated(stem: str, layers: int = 2) -> dict:
    """A bundled config with fewer layers: the same module types and shapes, peft runs in ms.
    (LoRA's count is a sum over layers, so the rules are exercised by any two of them.)"""
    data = A.bundled_config_dict(stem)
    key = "n_layer" if "n_layer" in data else "num_hidden_layers"
    return {**data, key: layers}


def assert_same_as_peft(config, **kwargs):
    ours = lora.count_lora_params(config, **kwargs)
    peft = lora.check_with_peft(config, **kwargs)
    assert (ours.trainable, ours.total) == (peft.trainable, peft.total), kwargs
    assert ours.trainable == sum(r.trainable for r in ours.rows)
    return ours


@pytest.mark.parametrize(("stem", "preset"), list(itertools.product(A.BUNDLED.values(), PRESETS)))
def test_presets_equal_peft_on_every_bundled_architecture(stem, preset):
    assert_same_as_peft(truncated(stem), r=8, target_modules=preset)


@pytest.mark.parametrize(
    ("stem", "preset"),
    [("smollm2-135m", "all-linear"), ("gpt2", "all-linear"), ("qwen2.5-0.5b", "attention"),
     ("llama-65b", "lora-paper")],
)
def test_full_size_models_equal_peft(stem, preset):
    assert_same_as_peft(stem, r=16, target_modules=preset)


# Architectures with something special: GPT-2 (Conv1D, biases everywhere, tied), Qwen2.5 (biased
# q/k/v projections, tied), Phi-3 (fused qkv and gate_up), Mixtral (fused 3-D experts).
OPTION_CASES = [
    (stem, bias, dora, rank)
    for (stem, bias, dora), rank in zip(
        itertools.product(["gpt2", "qwen2.5-0.5b", "phi-3-mini"], lora.BIAS_MODES, [False, True]),
        itertools.cycle([1, 8, 64, 1024, 4, 32]),
    )
]


@pytest.mark.parametrize(("stem", "bias", "dora", "rank"), OPTION_CASES)
def test_bias_modes_dora_and_ranks_equal_peft(stem, bias, dora, rank):
    assert_same_as_peft(truncated(stem), r=rank, target_modules="all-linear", bias=bias, use_dora=dora)


@pytest.mark.parametrize(
    ("stem", "kwargs"),
    [
        # tied embeddings: saving both gives two full copies, as peft does
        ("smollm2-135m", dict(target_modules="lora-paper", modules_to_save=["embed_tokens", "lm_head"])),
        # peft matches modules_to_save by plain suffix: "norm" also wraps input_layernorm & co.
        ("smollm2-135m", dict(target_modules="attention", modules_to_save=["norm"])),
        # the saved module's own bias is frozen in the original, trained in the copy
        ("gpt2", dict(target_modules="all-linear", bias="all", modules_to_save=["ln_f"])),
        ("gpt2", dict(target_modules="attention", bias="lora_only", use_dora=True, modules_to_save=["wte", "lm_head"])),
        # LoRA on the embedding and the (tied) output layer themselves
        ("smollm2-135m", dict(target_modules=["embed_tokens", "lm_head"], use_dora=True)),
        # a module in modules_to_save is never adapted, even when all-linear would match it
        ("qwen2.5-0.5b", dict(target_modules="all-linear", modules_to_save=["down_proj"])),
        # a regex string is matched against the whole dotted name
        ("llama-3-8b", dict(target_modules=r".*\.layers\.1\..*(q_proj|o_proj)")),
        ("gpt2", dict(target_modules=["attn.c_proj", "mlp.c_fc"])),
    ],
)
def test_modules_to_save_and_target_forms_equal_peft(stem, kwargs):
    assert_same_as_peft(truncated(stem), r=8, **kwargs)


@pytest.mark.parametrize("targets", ["all-linear", ["w1", "w2", "w3"], r".*\.(q_proj|v_proj|gate)"])
def test_mixture_of_experts_equals_peft(targets):
    """transformers 5 fuses Mixtral's experts into 3-D parameters; peft retargets them (rank ×2 for
    the fused gate_up_proj): r · E · (d_in + d_out) per fused parameter."""
    count = assert_same_as_peft(truncated("mixtral-8x7b"), r=4, target_modules=targets)
    fused = [row for row in count.rows if row.cls == "Parameter" and row.name.endswith("gate_up_proj")]
    if fused:
        assert fused[0].rank == 8 and fused[0].lora == 8 * 8 * (4096 + 2 * 14336)


def test_dora_on_fused_experts_is_refused_like_peft():
    with pytest.raises(ValueError, match="DoRA"):
        lora.count_lora_params(truncated("mixtral-8x7b"), target_modules="all-linear", use_dora=True)
    with pytest.raises(ValueError):
        lora.check_with_peft(truncated("mixtral-8x7b"), target_modules="all-linear", use_dora=True)


def test_the_lora_formula_on_llama2_7b():
    """LoRA paper: W_q and W_v adapted, r·(d_in + d_out) each: 32 layers × 2 × 8 × (4096 + 4096)."""
    count = lora.count_lora_params("llama-2-7b", r=8, target_modules="lora-paper")
    assert count.target_modules == ["q_proj", "v_proj"]
    assert count.trainable == 32 * 2 * 8 * (4096 + 4096) == 4_194_304
    assert count.total == 6_738_415_616 + count.trainable
    assert round(count.reduction) == 1607  # 6.74B / 4.19M
    q = next(r for r in count.rows if r.name == "model.layers.0.self_attn.q_proj")
    assert (q.shape, q.base, q.lora) == ("4096 × 4096", 4096 * 4096, 65_536)
    grouped = count.grouped()
    assert [(g["module"], g["count"]) for g in grouped] == [
        ("model.layers.*.self_attn.q_proj", 32), ("model.layers.*.self_attn.v_proj", 32)]


def test_trainable_is_affine_in_rank():
    counts = lora.trainable_by_rank("mistral-7b", [1, 2, 4], "all-linear", use_dora=True)
    assert counts[2] - counts[1] == 2 * (counts[1] - counts[0])


def test_adapter_size_matches_a_saved_peft_adapter(tmp_path):
    """The real bundled model, wrapped by peft and saved: the file is the trainable tensors in fp32."""
    from peft import LoraConfig, get_peft_model

    from lab import models

    model = models.load_model()  # fresh: get_peft_model changes the model in place
    count = lora.count_lora_params(model.config, r=8, target_modules="all-linear", bias="lora_only")
    peft_model = get_peft_model(model, LoraConfig(**count.lora_config_kwargs()))
    assert peft_model.get_nb_trainable_parameters() == (count.trainable, count.total)
    peft_model.save_pretrained(tmp_path)
    size = os.path.getsize(tmp_path / "adapter_model.safetensors")
    assert 0 <= size - count.adapter_bytes(4) < 100_000  # the rest is the safetensors JSON header


@pytest.mark.slow
def test_four_bit_numel_is_half_and_the_correction_restores_it(real_model):
    """bitsandbytes packs two 4-bit codes per uint8: numel() of a 4-bit weight is half its count."""
    from lab import models

    q = models.shared_model(quantization="nf4")  # read-only use: shared with the NF4 tests
    counts = lora.four_bit_counts(q)
    assert counts.true == real_model.num_parameters() == q.num_parameters() == 134_515_008
    assert counts.naive == lora.expected_four_bit_naive("smollm2-135m") < counts.true
    assert counts.packed_true == 2 * counts.packed_naive == lora.quantized_params("smollm2-135m")
    assert counts.packed_tensors == 30 * 7


@pytest.mark.parametrize("r", [0, -1, 1.5, 2000, True, "abc", float("nan"), float("inf"), 1e30, None])
def test_bad_rank(r):
    with pytest.raises(ValueError, match="The rank r must be a whole number from 1 to 1,024, not "):
        lora.count_lora_params("gpt2", r=r)
    with pytest.raises(ValueError, match="The rank r must be a whole number from 1 to 1,024"):
        lora.check_with_peft("gpt2", r=r)


@pytest.mark.parametrize("alpha", [0, -16, float("nan"), float("inf"), "abc", 1e30, None])
def test_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha must be a number from 0.001 to 10000, not "):
        lora.check_with_peft(truncated("smollm2-135m"), r=8, lora_alpha=alpha)


def test_peft_check_shows_the_alpha_it_was_given():
    """Reported: r=64 with alpha 16 showed `lora_alpha=64` (alpha was set to r)."""
    check = lora.check_with_peft(truncated("smollm2-135m"), r=64, target_modules="lora-paper", lora_alpha=16)
    assert "r=64, lora_alpha=16," in check.lora_config
    assert "lora_alpha=32.5" in lora.check_with_peft(truncated("smollm2-135m"), r=8, lora_alpha=32.5).lora_config
    assert "lora_alpha=16," in lora.check_with_peft(truncated("smollm2-135m"), r=8).lora_config  # the default


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_peft_check_allocates_no_real_memory():
    """Reported: hidden_size=262,144 made "Check with peft" allocate 2 GB. peft builds each LoRA A and B
    as a CPU nn.Linear before moving it to the (meta) base layer; under torch.device("meta") it does not.
    Measured on this config without the meta context: RSS grew by 2.9 GB; with it, by about 10 MB."""
    import threading

    data = {**A.bundled_config_dict("llama-2-7b"), "hidden_size": 262_144}  # 32 layers
    arch = A.architecture(data)
    lora.check_with_peft(truncated("smollm2-135m"), r=8)  # peft imported, first-call caches filled
    before, peak, done = _rss_bytes(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            done.wait(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        check = lora.check_with_peft(arch, r=8, target_modules="all-linear")
    finally:
        done.set()
        sampler.join()
    grown = max(peak[0], _rss_bytes()) - before
    assert grown < 200e6, f"RSS grew by {grown / 1e6:.0f} MB"
    assert check.trainable == lora.count_lora_params(arch, 8, "all-linear").trainable


def test_other_bad_inputs_get_sentences():
    with pytest.raises(ValueError, match="bias must be one of"):
        lora.count_lora_params("gpt2", bias="some")
    with pytest.raises(ValueError, match="not valid JSON"):
        lora.count_lora_params('{"model_type": "gpt2",,}')
    with pytest.raises(ValueError, match="cannot build a causal language model"):
        lora.count_lora_params({"model_type": "vit"})


def test_refusals_carry_a_code_for_the_app():
    """The English sentence for the CLI and tests; a stable code and params for the app's catalog."""
    with pytest.raises(LabError) as err:
        lora.count_lora_params(truncated("mixtral-8x7b"), target_modules="all-linear", use_dora=True)
    assert err.value.code == "lora.count.dora_fused" and str(err.value).startswith("DoRA cannot adapt")
    with pytest.raises(LabError) as err:
        lora.count_lora_params("gpt2", r=0)
    assert err.value.code == "checks.whole_number" and err.value.params["name"].code == "field.the_rank_r"
