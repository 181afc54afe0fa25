"""lab.lora.targets: the presets per architecture and peft's matching rules, refusals named by module."""

from __future__ import annotations

import time

import pytest

from lab.errors import LabError
from lab.lora import architectures as A
from lab.lora import targets


def test_presets_per_architecture():
    assert targets.preset_targets(A.architecture("gpt2"), "lora-paper") == ["c_attn"]  # fused qkv
    assert targets.preset_targets(A.architecture("phi-3-mini"), "lora-paper") == ["qkv_proj"]
    assert targets.preset_targets(A.architecture("gpt2"), "attention") == ["attn.c_proj", "c_attn"]
    assert targets.preset_targets(A.architecture("mistral-7b"), "attention") == ["k_proj", "o_proj", "q_proj", "v_proj"]
    assert targets.preset_targets(A.architecture("gpt2"), targets.PEFT_ALL_LINEAR) == "all-linear"
    choices = targets.module_choices(A.architecture("gpt2"))
    assert {"c_attn", "c_fc", "attn.c_proj", "mlp.c_proj", "lm_head", "wte"} <= set(choices)


def test_the_attention_preset_is_linear_in_depth():
    """Reported with the 2,000-layer BART: naming the attention layers compared every layer with every
    other (minutes). Now one set of suffixes: a 256-layer BART (2,048 attention matrices) in well under 1 s."""
    from transformers import BartConfig

    arch = A.architecture(BartConfig(decoder_layers=A.MAX_LAYERS).to_dict())
    t0 = time.perf_counter()
    names = targets.preset_targets(arch, "attention")
    assert time.perf_counter() - t0 < 1.0
    assert names == ["k_proj", "out_proj", "q_proj", "v_proj"]  # fc1 / fc2 sit outside attention
    _, _, _, res = targets.resolve(arch, names)
    assert len(res.targets) == 8 * A.MAX_LAYERS  # self- and cross-attention q, k, v, out in every layer


def test_unknown_module_lists_the_valid_names():
    with pytest.raises(LabError) as err:
        targets.resolve("smollm2-135m", ["q_proj", "query"])
    message = str(err.value)
    assert "'query'" in message and "q_proj" in message and "down_proj" in message and "lm_head" in message
    assert err.value.code == "lora.targets.no_module" and err.value.params["name"] == "query"


@pytest.mark.parametrize(
    ("stem", "kwargs", "code", "words"),
    [
        ("smollm2-135m", dict(target_modules=["mlp"]), "lora.targets.not_adaptable", "not a layer LoRA can adapt"),
        ("gpt2", dict(modules_to_save=["embed_tokens"]), "lora.targets.no_saved_module", "modules_to_save: no module"),
        ("gpt2", dict(target_modules="q_proj"), "lora.targets.no_match", "matches no module"),  # a regex on the name
        ("gpt2", dict(target_modules="("), "lora.targets.bad_regex", "not a valid regular expression"),
        ("gpt2", dict(target_modules=[]), "lora.targets.none", "at least one"),
        ("gpt2", dict(target_modules=[".c_fc"]), "lora.targets.not_a_name", "is not a module name"),
        ("gpt2", dict(target_modules=["c_fc"], modules_to_save=["c_fc"]), "lora.targets.all_saved",
         "nothing would get a LoRA adapter"),
        ("gpt2", dict(target_modules=["c_fc"], modules_to_save=["h.0", "h.0.mlp"]), "lora.targets.nested_saved",
         "which is inside it; keep only 'transformer.h.0'"),
    ],
)
def test_bad_targets_get_coded_sentences(stem, kwargs, code, words):
    with pytest.raises(LabError) as err:
        targets.resolve(stem, **kwargs)
    assert err.value.code == code and words in str(err.value)
