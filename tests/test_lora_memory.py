"""lab.lora.memory: the QLoRA paper's 65B figures, NF4's bits per parameter and bitsandbytes' real
4-bit layers as oracles, and the activation estimate against autograd's saved tensors."""

from __future__ import annotations

import pytest
import torch

from lab import lora, nf4
from lab.lora import memory as M

LLAMA_65B = 65_285_660_672  # built from the bundled config (tests/test_architectures.py)


def test_qlora_paper_65b_claims():
    """QLoRA paper (Dettmers et al. 2023), §1: 16-bit fine-tuning of LLaMA-65B needs "more than
    780 GB of GPU memory"; QLoRA fine-tunes it "on a single 48GB GPU". Their setting: LoRA r = 64 on
    all linear layers, paged AdamW; here micro-batch 1 × 512 tokens with gradient checkpointing."""
    full = M.estimate_memory("llama-65b", "full", batch_size=1, seq_len=512)
    exact = sum(t.bytes for t in full.terms if t.exact)
    assert exact == 12 * LLAMA_65B  # 2 (weights) + 2 (gradients) + 8 (Adam m, v) bytes per parameter
    assert full.total_gb > 780
    qlora = M.estimate_memory("llama-65b", "qlora", r=64, target_modules="all-linear", batch_size=1, seq_len=512)
    assert qlora.total_gb < 48 and qlora.fits(48) and not qlora.fits(24)
    lora16 = M.estimate_memory("llama-65b", "lora", r=64, target_modules="all-linear", batch_size=1, seq_len=512)
    assert not lora16.fits(80)  # the 16-bit frozen base alone is 131 GB


def test_nf4_bits_per_parameter_is_what_bitsandbytes_stores():
    """4 + 8/64 + 32/(64·256) = 4.127 bits: checked on a real bitsandbytes NF4 tensor with double quant."""
    import bitsandbytes.functional as F

    assert round(M.NF4_BITS, 3) == 4.127 and M.NF4_BITS == nf4.bits_per_parameter(64, double_quant=True)
    n = 64 * 256 * 8
    packed, state = F.quantize_4bit(torch.randn(n), blocksize=64, compress_statistics=True, quant_type="nf4")
    stored = packed.numel() * packed.element_size() + state.absmax.numel() * state.absmax.element_size()
    stored += state.state2.absmax.numel() * state.state2.absmax.element_size()
    assert stored * 8 / n == pytest.approx(M.NF4_BITS)


@pytest.mark.parametrize("family", ["gpt2", "mixtral"])
def test_quantized_weights_are_the_ones_bitsandbytes_quantizes(tmp_path, family):
    """A tiny random model saved and loaded with QLoRA's BitsAndBytesConfig: exactly the Linear/Conv1D
    weights except the output layer become Params4bit (not embeddings, biases, routers or fused experts)."""
    from transformers import AutoModelForCausalLM, GPT2Config, MixtralConfig

    from lab.models import bnb_config

    if family == "gpt2":
        config = GPT2Config(vocab_size=128, n_embd=64, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0)
    else:
        config = MixtralConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                               num_attention_heads=4, num_key_value_heads=2, num_local_experts=4)
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path)
    q = AutoModelForCausalLM.from_pretrained(tmp_path, quantization_config=bnb_config("nf4"), device_map={"": "cpu"})
    counts = lora.four_bit_counts(q)
    assert counts.packed_true == lora.quantized_params(config) > 0
    assert counts.naive == lora.expected_four_bit_naive(config)


def test_terms_are_flagged_and_add_up():
    est = M.estimate_memory("llama-2-7b", "qlora", r=16, batch_size=4, seq_len=1024)
    assert [t.name for t in est.terms] == list(M.TERMS)
    assert {t.name for t in est.terms if t.exact} == {"weights", "gradients", "optimizer"}
    assert est.total == sum(t.bytes for t in est.terms)
    count = lora.count_lora_params("llama-2-7b", r=16)
    assert est.term("optimizer").bytes == 8 * count.trainable
    assert est.term("gradients").bytes == 2 * count.trainable


def test_activation_estimate_moves_the_right_way():
    base = dict(r=8, seq_len=512)
    a1 = M.estimate_memory("mistral-7b", "lora", batch_size=1, gradient_checkpointing=False, **base)
    a2 = M.estimate_memory("mistral-7b", "lora", batch_size=2, gradient_checkpointing=False, **base)
    gc = M.estimate_memory("mistral-7b", "lora", batch_size=1, gradient_checkpointing=True, **base)
    act = lambda e: e.term("activations").bytes  # noqa: E731
    assert act(a2) == pytest.approx(2 * act(a1))
    assert act(gc) < act(a1) / 5
    assert a1.term("weights").bytes == a2.term("weights").bytes


def test_activation_estimate_against_autograd_on_the_real_model(real_model):
    """The bundled model in fp32, one forward with labels: the bytes autograd saves for backward
    (each storage once, parameters excluded) against the estimate for the same batch."""
    from lab.lora.architectures import architecture

    ids = torch.randint(0, real_model.config.vocab_size, (1, 64))
    params = {p.untyped_storage().data_ptr() for p in real_model.parameters()}
    saved: dict[int, int] = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            saved[s.data_ptr()] = max(saved.get(s.data_ptr(), 0), s.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = real_model(input_ids=ids, labels=ids).loss
    del loss
    estimate = M.activation_bytes(architecture("smollm2-135m"), 1, 64, False, 4)
    assert 0.7 < sum(saved.values()) / estimate < 1.3


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(method="half"), "method must be one of"),
        (dict(method="full", batch_size=0), "batch size must be a whole number from 1 to 4,096, not 0"),
        (dict(method="full", batch_size=float("nan")), "batch size must be a whole number from 1 to 4,096, not nan"),
        (dict(method="full", batch_size="abc"), "batch size must be a whole number from 1 to 4,096, not 'abc'"),
        (dict(method="full", seq_len=1.5), "sequence length must be a whole number from 1 to 1,048,576, not 1.5"),
        (dict(method="full", seq_len=1e30), "sequence length must be a whole number from 1 to 1,048,576"),
        (dict(method="full", seq_len=float("inf")), "sequence length must be a whole number from 1 to 1,048,576"),
        (dict(method="lora", precision=8), "precision must be 16 or 32"),
        (dict(method="qlora", r=0), "rank r must"),
        (dict(method="lora", r=float("nan")), "The rank r must be a whole number from 1 to 1,024, not nan"),
        (dict(method="full", overhead_gb=-1), "overhead_gb must be a number from 0 to 100, not -1"),
        (dict(method="full", overhead_gb=float("nan")), "overhead_gb must be a number from 0 to 100"),
    ],
)
def test_bad_inputs(kwargs, words):
    with pytest.raises(ValueError, match=words):
        M.estimate_memory("gpt2", **kwargs)


def test_the_package_gathers_the_api():
    """lab.lora's __init__ is the one re-export: the same functions, by either name."""
    assert lora.estimate_memory is M.estimate_memory and lora.count_lora_params is lora.counts.count_lora_params


def test_each_term_says_its_formula_with_a_code():
    est = M.estimate_memory("smollm2-135m", "qlora", r=8, batch_size=2, seq_len=64)
    weights = est.term("weights").how
    assert weights.code == "lora.how.nf4" and str(weights).startswith("NF4 4.127 bits × ")
    assert str(est.term("activations").how) == "batch 2 × 64 tokens, with gradient checkpointing"
    assert str(est.term("optimizer").how).startswith("AdamW m and v: 8 B × ")
