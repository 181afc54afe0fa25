"""lab.ui.session (each browser session's last adapter) and lab.adapters (that adapter on the real model)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from lab import adapters, chat, memory, models
from lab.errors import LabError, LabRuntimeError
from lab.ui import session


# ---- lab.ui.session ------------------------------------------------------------------------------

def test_a_session_gets_back_its_own_last_adapter(tmp_path):
    session.remember_adapter("s-a", tmp_path / "run-1", "run 1", "nf4")
    session.remember_adapter("s-b", tmp_path / "run-2", "run 2", None)
    session.remember_adapter("s-a", tmp_path / "run-3", "run 3", "fp4")  # a newer run of the same session
    assert session.last_adapter("s-a") == {"adapter_dir": str(tmp_path / "run-3"), "label": "run 3", "quantization": "fp4"}
    assert session.last_adapter("s-b")["adapter_dir"] == str(tmp_path / "run-2")
    assert session.last_adapter("s-unknown") is None and session.last_adapter(None) is None
    session.last_adapter("s-a")["label"] = "changed"  # a copy: the record is not changed through it
    assert session.last_adapter("s-a")["label"] == "run 3"


def test_only_the_newest_sessions_are_kept():
    for i in range(session.MAX_SESSIONS + 10):
        session.remember_adapter(f"bound-{i}", f"/tmp/run-{i}", f"run {i}", None)
    assert session.last_adapter("bound-0") is None and session.last_adapter("bound-9") is None
    assert session.last_adapter("bound-10")["label"] == "run 10"
    assert session.last_adapter(f"bound-{session.MAX_SESSIONS + 9}") is not None
    assert len(session._adapters) == session.MAX_SESSIONS


def test_a_session_used_again_is_kept_over_older_ones():
    for i in range(session.MAX_SESSIONS):
        session.remember_adapter(f"lru-{i}", f"/tmp/run-{i}", f"run {i}", None)
    session.remember_adapter("lru-0", "/tmp/run-again", "again", None)  # now the newest
    session.remember_adapter("lru-new", "/tmp/run-new", "new", None)
    assert session.last_adapter("lru-0")["label"] == "again" and session.last_adapter("lru-1") is None


def test_sessions_recorded_from_many_threads_at_once():
    def record(k):
        for i in range(200):
            session.remember_adapter(f"t{k}-{i % 8}", f"/tmp/{k}/{i}", f"{k}:{i}", None)

    threads = [threading.Thread(target=record, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(session._adapters) == session.MAX_SESSIONS  # 8 threads x 8 sessions, none lost
    assert all(session.last_adapter(f"t{k}-{j}")["label"].startswith(f"{k}:") for k in range(8) for j in range(8))
    assert {session.last_adapter(f"t{k}-7")["label"] for k in range(8)} == {f"{k}:199" for k in range(8)}


@pytest.mark.parametrize("bad, words", [(("", "/tmp/x", "l", None), "session hash"),
                                        ((None, "/tmp/x", "l", None), "session hash"),
                                        (("s", "/tmp/x", "l", "int8"), "quantization must be None, 'nf4' or 'fp4'")])
def test_bad_records_are_refused(bad, words):
    with pytest.raises(ValueError, match=words):
        session.remember_adapter(*bad)


# ---- lab.adapters on the real model ---------------------------------------------------------------

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
DECODING = chat.Decoding(max_new_tokens=20)


def _checksum(t: torch.Tensor) -> int:
    """The sum of ``t``'s bits read as integers: exact, whatever the thread count (a float sum is not: its
    order of addition, so its rounding, follows torch's threads, which lab.cores changes)."""
    t = t.detach().contiguous()
    return int(t.view({1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()]).sum(dtype=torch.int64))


def _fingerprint(model) -> dict:
    """Every weight of ``model`` by name: its storage, a checksum, and its requires_grad flag."""
    return {n: (p.data_ptr(), _checksum(p), p.requires_grad) for n, p in model.named_parameters()}


@pytest.fixture
def fresh_cache():
    adapters.clear()
    yield
    adapters.clear()
    memory.release()


@pytest.mark.slow
def test_the_adapter_answers_as_peft_itself_and_the_shared_model_is_untouched(real_model, tokenizer, pirate_adapter,
                                                                             fresh_cache):
    from peft import PeftModel

    before = _fingerprint(real_model)
    base_answer = chat.answer(real_model, tokenizer, QUESTION, DECODING)
    adapted = adapters.adapted_model(pirate_adapter)
    answer = chat.answer(adapted, tokenizer, QUESTION, DECODING)
    # peft's own model: a separately loaded base with the adapter, generating through PeftModel.generate
    reference = PeftModel.from_pretrained(models.load_model(), str(pirate_adapter)).eval()
    with torch.inference_mode():
        out = reference.generate(**chat._inputs(tokenizer, QUESTION, "cpu"), **DECODING.generate_kwargs(tokenizer))
    peft_answer = tokenizer.decode(out[0, chat._inputs(tokenizer, QUESTION, "cpu")["input_ids"].shape[1]:],
                                   skip_special_tokens=True).strip()
    print(f"base: {base_answer!r}\nadapter: {answer!r}")
    assert "Paris" in base_answer
    assert answer != base_answer
    assert answer == peft_answer
    # the shared model: same weights, same flags, no LoRA layer in it, the same answer as before
    assert _fingerprint(real_model) == before
    assert not any("lora" in n for n, _ in real_model.named_modules())
    assert chat.answer(real_model, tokenizer, QUESTION, DECODING) == base_answer


@pytest.mark.slow
def test_the_adapted_model_shares_the_base_weights_and_costs_about_the_adapter(real_model, tokenizer, pirate_adapter,
                                                                              fresh_cache):
    chat.answer(real_model, tokenizer, QUESTION, chat.Decoding(max_new_tokens=2))  # base pages resident
    memory.release()
    rss0 = memory.rss_mb()
    adapted = adapters.adapted_model(pirate_adapter)
    chat.answer(adapted, tokenizer, QUESTION, chat.Decoding(max_new_tokens=2))
    memory.release()
    extra = memory.rss_mb() - rss0
    base_ptrs = {p.data_ptr() for p in real_model.parameters()}
    lora = {n: p for n, p in adapted.named_parameters() if "lora_" in n}
    others = {n: p for n, p in adapted.named_parameters() if "lora_" not in n}
    lora_mb = sum(p.numel() * p.element_size() for p in lora.values()) / 2**20
    file_mb = (pirate_adapter / "adapter_model.safetensors").stat().st_size / 2**20
    print(f"extra RSS of the adapted model: {extra:.1f} MiB (LoRA tensors {lora_mb:.1f} MiB, file {file_mb:.1f} MiB)")
    assert len(lora) == 2 * 7 * 30  # A and B of the 7 linear layers of each of the 30 blocks
    assert {p.data_ptr() for p in others.values()} <= base_ptrs  # every base weight is the shared one
    assert adapted.lm_head.weight.data_ptr() == adapted.model.embed_tokens.weight.data_ptr()  # still tied
    model_mb = sum(p.numel() * p.element_size() for p in real_model.parameters()) / 2**20
    assert extra < lora_mb + 40 < model_mb / 5  # a second full model would be ~513 MiB


def test_a_missing_adapter_folder_is_refused_with_a_sentence(tmp_path, fresh_cache):
    (tmp_path / "adapter_config.json").write_text("{}")
    assert not adapters.is_complete(tmp_path) and not adapters.is_complete(tmp_path / "gone")
    with pytest.raises(FileNotFoundError, match=r"^The adapter folder 'gone' is incomplete or gone: it needs "
                                                 r"adapter_config\.json and adapter_model\.safetensors\.$") as e:
        adapters.adapted_model(tmp_path / "gone")
    assert isinstance(e.value, LabRuntimeError) and e.value.code == "adapters.incomplete"  # translated by the app
    assert adapters.cached() == []


@pytest.mark.slow
def test_at_most_two_adapted_models_are_kept_and_one_is_built_once(real_model, pirate_adapter, tmp_path, fresh_cache):
    import shutil

    dirs = [pirate_adapter] + [Path(shutil.copytree(pirate_adapter, tmp_path / f"copy-{i}")) for i in range(2)]
    built = []
    results = []
    threads = [threading.Thread(target=lambda: results.append(adapters.adapted_model(dirs[0]))) for _ in range(3)]
    original = adapters.build_adapted_model
    adapters.build_adapted_model = lambda *a, **k: built.append(a[0]) or original(*a, **k)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(built) == 1 and len({id(m) for m in results}) == 1  # three callers, one build
        second = adapters.adapted_model(dirs[1])
        assert adapters.adapted_model(dirs[0]) is results[0]  # cached; now the newest used
        adapters.adapted_model(dirs[2])  # a third: the least recently used (dirs[1]) goes
        assert [Path(k[0]) for k in adapters.cached()] == [dirs[0].resolve(), dirs[2].resolve()]
        assert adapters.adapted_model(dirs[1]) is not second  # built again
        assert len(built) == 4
    finally:
        adapters.build_adapted_model = original


@pytest.mark.slow
def test_a_4bit_run_is_applied_to_the_4bit_base_as_training_computes_it(tokenizer, pirate_adapter, tmp_path,
                                                                       fresh_cache):
    """The adapter on the shared NF4 model, each weight dequantized once: what PeftModel computes in training's
    evaluation (lab.evaluation.generate), and the shared 4-bit weights are never repacked in place.

    (The pirate adapter was trained on the fp32 base; its tensors fit the NF4 base all the same.)"""
    import shutil

    from peft import PeftModel

    nf4 = models.shared_model(quantization="nf4")
    with models.dequantized_base(nf4):
        base_answer = chat.answer(nf4, tokenizer, QUESTION, DECODING)
    packed = {n: (p.data_ptr(), p.data.clone()) for n, p in nf4.named_parameters() if p.dtype == torch.uint8}
    memory.release()
    rss0 = memory.rss_mb()
    adapted = adapters.adapted_model(pirate_adapter, "nf4")
    memory.release()
    rss1 = memory.rss_mb()
    other = adapters.adapted_model(shutil.copytree(pirate_adapter, tmp_path / "second"), "nf4")
    memory.release()
    rss2 = memory.rss_mb()
    answer = chat.answer(adapted, tokenizer, QUESTION, DECODING)
    layer, layer2 = adapted.model.layers[0].mlp.down_proj.base_layer, other.model.layers[0].mlp.down_proj.base_layer
    dequantized_mb = sum(m.base_layer.out_features * m.base_layer.in_features for n, m in adapted.named_modules()
                         if n.endswith("proj") and hasattr(m, "base_layer")) * models.compute_dtype().itemsize / 2**20
    print(f"extra RSS: first NF4 adapter {rss1 - rss0:.0f} MiB (its dequantized weights {dequantized_mb:.0f} MiB), "
          f"second {rss2 - rss1:.0f} MiB")
    assert layer.forward is layer2.forward  # one dequantized copy for both adapters
    assert rss1 - rss0 < dequantized_mb + 60 and rss2 - rss1 < 50
    reference = PeftModel.from_pretrained(models.load_model(quantization="nf4"), str(pirate_adapter)).eval()
    with models.dequantized_base(reference):
        peft_answer = chat.answer(reference.get_base_model(), tokenizer, QUESTION, DECODING)
    print(f"NF4 base: {base_answer!r}\nNF4 + adapter: {answer!r}")
    assert answer == peft_answer != base_answer
    assert len(packed) == 7 * 30
    for n, p in nf4.named_parameters():
        if n in packed:
            assert p.data_ptr() == packed[n][0] and torch.equal(p.data, packed[n][1]), n


def test_an_unknown_quantization_is_refused_before_any_model_loads(fresh_cache):
    with pytest.raises(LabError, match=r"^quantization must be one of None, 'nf4', 'fp4', not 'int8'\.$") as e:
        adapters.adapted_model("/nowhere", "int8")
    assert e.value.code == "models.bad_quantization" and adapters.cached() == []
