"""lab.lora.architectures: the bundled configs build the real models (parameter totals against published
figures); every other source and every refusal."""

from __future__ import annotations

import json
import time

import pytest

from lab.errors import LabError, Msg
from lab.lora import architectures as A

# Published parameter counts, with where they come from. Exact integers where the source gives one.
PUBLISHED_EXACT = {
    # GPT-2 small: the count `GPT2LMHeadModel.from_pretrained("gpt2").num_parameters()` reports
    # (tied embeddings), the figure quoted for the 124M model.
    "gpt2": 124_439_808,
    # Llama 2 7B: Meta's checkpoint, 6,738,415,616 parameters (Hub model card / safetensors metadata).
    "llama-2-7b": 6_738_415_616,
    # Mistral 7B v0.1: 7,241,732,096 parameters (Hub safetensors metadata, "7.24B").
    "mistral-7b": 7_241_732_096,
    # Llama 3 8B: 8,030,261,248 parameters (Hub safetensors metadata, "8.03B").
    "llama-3-8b": 8_030_261_248,
}
PUBLISHED_ROUNDED = {
    # (figure, unit of its last digit): the count truncated to that digit equals the figure.
    # LLaMA paper (Touvron et al. 2023), Table 2: 65.2B.
    "llama-65b": (65.2e9, 0.1e9),
    # Mixtral of Experts (Jiang et al. 2024): 47B total parameters (Hub: 46.7B).
    "mixtral-8x7b": (46.7e9, 0.1e9),
    # Phi-3 technical report (Abdin et al. 2024): phi-3-mini, 3.8B parameters.
    "phi-3-mini": (3.8e9, 0.1e9),
    # Qwen2.5-0.5B model card: 0.49B parameters.
    "qwen2.5-0.5b": (0.49e9, 0.01e9),
}


@pytest.mark.parametrize("stem", sorted(PUBLISHED_EXACT))
def test_bundled_totals_match_published_exact_counts(stem):
    assert A.architecture(stem).total == PUBLISHED_EXACT[stem]


@pytest.mark.parametrize("stem", sorted(PUBLISHED_ROUNDED))
def test_bundled_totals_match_published_rounded_counts(stem):
    value, unit = PUBLISHED_ROUNDED[stem]
    assert A.architecture(stem).total // unit == round(value / unit)


def test_gemma_non_embedding_count_matches_the_gemma_report():
    # Gemma report (Gemma Team 2024), Table 2: the 2B model has 1,981,884,416 non-embedding parameters.
    arch = A.architecture("gemma-2b")
    embedding = arch.config.vocab_size * arch.config.hidden_size
    assert arch.total - embedding == 1_981_884_416
    assert arch.tied and arch.output_name == "lm_head"


def test_qwen_non_embedding_count_matches_its_card():
    # Qwen2.5-0.5B model card: 0.36B non-embedding parameters (embeddings are tied).
    arch = A.architecture("qwen2.5-0.5b")
    assert round((arch.total - arch.config.vocab_size * arch.config.hidden_size) / 1e9, 2) == 0.36


def test_every_bundled_config_builds_and_names_its_output_layer():
    assert len(A.BUNDLED) >= 10
    for stem, name in A.BUNDLED.items():
        arch = A.architecture(stem)
        assert arch.name == name and A.architecture(name) is arch, stem
        assert arch.total > 100_000_000, stem
        assert arch.output_name == "lm_head", stem
        assert json.loads((A.CONFIG_DIR / f"{stem}.json").read_text())["_source"]


def test_smollm2_config_has_the_bundled_models_shapes(real_model):
    """The bundled config.json builds exactly the lab's real model: same names, same shapes."""
    arch = A.architecture("smollm2-135m")
    real = {n: tuple(p.shape) for n, p in real_model.named_parameters()}
    assert arch.params == real
    assert arch.total == real_model.num_parameters() == 134_515_008
    assert arch.tied == (real_model.lm_head.weight is real_model.model.embed_tokens.weight)


def test_gpt2_modules_are_conv1d_with_transposed_weights():
    arch = A.architecture("gpt2")
    c_attn = arch.module("transformer.h.0.attn.c_attn")
    assert (c_attn.cls, c_attn.kind, c_attn.d_in, c_attn.d_out) == ("Conv1D", A.CONV1D, 768, 2304)
    assert c_attn.bias == 2304 and c_attn.in_attention


def test_sources_are_equivalent():
    """A bundled name, its dict, its JSON text and its PretrainedConfig all give the same model."""
    data = A.bundled_config_dict("llama-2-7b")
    a = A.architecture("Llama-2-7B")
    assert A.architecture("llama-2-7b") is a and a.name == "Llama-2-7B"
    assert A.architecture(data) is a
    assert A.architecture(json.dumps(data)) is a
    assert A.architecture(a.config) is a


def test_layer_pattern():
    assert A.layer_pattern("model.layers.12.mlp.experts.3") == "model.layers.*.mlp.experts.*"
    assert A.layer_pattern("lm_head") == "lm_head"


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ('{"model_type": "llama", "hidden_size": 64,', "not valid JSON: "),
        ("[1, 2]", None),
        ('{"hidden_size": 64}', "model_type"),
        ('{"model_type": "no-such-model"}', "does not know the model type"),
        ('{"model_type": "vit"}', "cannot build a causal language model"),
        ('{"model_type": "llama", "num_hidden_layers": 100000}', "more layers than any real model"),
        ('{"model_type": "llama", "text_config": {"num_hidden_layers": 999}}', "text_config.num_hidden_layers=999"),
        ('{"model_type": "llama", "hidden_size": 10000000}', "wider than any real model; the calculator stops at 262,144"),
        ('{"model_type": "llama", "vocab_size": 1e12}', "more vocabulary entries than any real model"),
        ('{"model_type": "mixtral", "num_local_experts": 5000}', "more experts than any real model"),
        ('{"model_type": "llama", "num_attention_heads": 100000}', "more attention heads than any real model"),
        ('{"model_type": "llama", "num_hidden_layers": NaN}', "num_hidden_layers=nan is more layers"),
        ('{"model_type": "llama", "x": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}", "nested more than 32 levels deep"),
        ("model_type: llama\nhidden_size: 64", "not valid JSON: "),  # YAML pasted: JSON text, not a name
        ("nonsense", "neither a bundled architecture"),
        ("org/model", "offline"),
        ("../../etc/passwd", "not a Hub model id"),
    ],
)
def test_bad_configs_get_a_sentence(source, words):
    with pytest.raises(ValueError) as err:
        A.architecture(source)
    message = str(err.value)
    assert message.endswith(".") or message.endswith(")")
    if words:
        assert words in message
    if "JSON" in (words or ""):
        assert "line 1, column" in message


def test_a_2000_layer_bart_is_refused_at_once():
    """Reported: decoder_layers=2000 in a BART config kept a CPU busy for 193 s (built, then counted)."""
    from transformers import BartConfig

    A.architecture("gpt2")  # imports done: time only the refusal
    for layers in (2000, 4000):
        data = {**BartConfig().to_dict(), "decoder_layers": layers}
        t0 = time.perf_counter()
        with pytest.raises(ValueError, match=f"decoder_layers={layers:,} is more layers than any real model; "
                                             f"the calculator stops at {A.MAX_LAYERS}"):
            A.architecture(json.dumps(data))
        assert time.perf_counter() - t0 < 2.0
    config = BartConfig(encoder_layers=999)  # a PretrainedConfig goes through the same caps
    with pytest.raises(ValueError, match="encoder_layers=999"):
        A.architecture(config)


def test_the_largest_allowed_depth_still_builds():
    data = {**A.bundled_config_dict("smollm2-135m"), "num_hidden_layers": A.MAX_LAYERS}
    arch = A.architecture(data)
    assert sum(1 for m in arch.modules if m.name.endswith(".self_attn.q_proj")) == A.MAX_LAYERS


def test_every_build_has_a_module_and_time_budget(monkeypatch):
    """Whatever a config's fields say, one build creates at most MAX_MODULES modules in MAX_BUILD_SECONDS."""
    data = {**A.bundled_config_dict("smollm2-135m"), "num_hidden_layers": 20}
    config = A.config_from_dict(data)
    monkeypatch.setattr(A, "MAX_MODULES", 100)  # 20 Llama layers make about 300 modules
    with pytest.raises(ValueError, match="more than 100 modules"):
        A.build_meta_model(config)
    monkeypatch.setattr(A, "MAX_MODULES", 20_000)
    monkeypatch.setattr(A, "MAX_BUILD_SECONDS", 0.0)
    with pytest.raises(ValueError, match="took more than 0 s"):
        A.build_meta_model(config)
    monkeypatch.setattr(A, "MAX_BUILD_SECONDS", 20.0)
    assert sum(p.numel() for p in A.build_meta_model(config).parameters()) > 0  # the hook is gone again


def test_refusals_carry_codes_and_the_json_reason_as_a_phrase():
    """The English sentence stays the same; the app reads the code, and the JSON parser's reason as a phrase."""
    with pytest.raises(LabError) as err:
        A.architecture('{"model_type": "llama",')
    assert err.value.code == "lora.arch.not_json"
    reason = err.value.params["reason"]
    assert isinstance(reason, Msg) and reason.code == "lora.json.property"
    assert str(err.value) == ("The pasted config.json is not valid JSON: Expecting property name enclosed in double "
                              "quotes at line 1, column 24.")
    with pytest.raises(LabError) as err:
        A.architecture('{"model_type": "llama", "num_attention_heads": 100000}')
    assert err.value.code == "lora.arch.too_many" and err.value.params["what"].code == "lora.arch.what.heads"
    with pytest.raises(LabError, match=r"holds a JSON object \(\{\.\.\.\}\)") as err:
        A.parse_config_json("[1, 2]")
    assert err.value.code == "lora.arch.not_object"
