"""lab.experiments: the three experiments on a tiny model saved to disk (every column, the events, Stop),
the singular values of LoRA's update, the conclusions, and — on the real model — the memory order."""

from __future__ import annotations

import json
import threading

import pytest
import torch

from lab import evaluation, experiments, memory, models, training
from lab.errors import LabError, Msg
from lab.experiments import analysis, conclusions

#: Columns the issue asks of every condition.
COLUMNS = {"name", "method", "r", "trainable_params", "total_params", "peak_memory_mb", "tokens_per_s", "final_loss",
           "losses", "behaviour_score", "forgetting_score", "saved_mb"}


pytestmark = pytest.mark.usefixtures("own_eval_cache")  # tiny_dir and own_eval_cache: conftest.py


def _settings(tiny_dir, **kw):
    base = dict(model=tiny_dir, steps=3, batch_size=2, max_seq_len=64, eval_prompts=2, learning_rate=1e-2,
                full_learning_rate=1e-3, sample_tokens=8)
    return experiments.ExperimentSettings(**{**base, **kw})


def _run(name, settings, out, stop=None, tokenizer=None):
    return list(experiments.run_experiment(name, settings, out_dir=out, stop=stop, tokenizer=tokenizer))


# --- settings and conditions ------------------------------------------------------------------------------


def test_each_experiment_varies_one_thing_and_shares_the_rest():
    s = experiments.ExperimentSettings(steps=7, full_learning_rate=5e-5)
    peft = experiments.experiment("peft").conditions(s)
    assert [(c.name, c.config.resolved_method, c.config.quantization) for c in peft] == [
        ("full", "full", None), ("lora", "lora", None), ("qlora", "qlora", "nf4")]
    assert [c.config.learning_rate for c in peft] == [5e-5, 1e-3, 1e-3]
    assert {(c.config.steps, c.config.batch_size, c.config.seed, c.config.dataset) for c in peft} == {(7, 4, 0, "pirate")}
    rank = experiments.experiment("rank").conditions(s)
    assert [(c.name, c.config.r, c.config.alpha) for c in rank] == [("r1", 1, 2.0), ("r4", 4, 8.0), ("r16", 16, 32.0),
                                                                    ("r64", 64, 128.0)]
    fixed = experiments.experiment("rank").conditions(experiments.ExperimentSettings(alpha=16, ranks="2, 8"))
    assert [(c.config.r, c.config.alpha) for c in fixed] == [(2, 16.0), (8, 16.0)]
    masking = experiments.experiment("masking").conditions(s, out_dir="/tmp/x")
    assert [(c.config.masking, c.config.out_dir) for c in masking] == [("completion", "/tmp/x/completion"),
                                                                       ("none", "/tmp/x/none")]
    assert experiments.experiment("masking").conditions(experiments.ExperimentSettings())[0].config.steps == 30


@pytest.mark.parametrize("kwargs, code", [
    (dict(ranks=(4, 4)), "experiment.ranks"), (dict(ranks=(0,)), "experiment.whole_number"),
    (dict(method="full"), "experiment.method"), (dict(eval_prompts=0), "experiment.whole_number"),
    (dict(dataset="my.csv"), "experiment.dataset"), (dict(full_learning_rate=1.0), "experiment.number"),
])
def test_bad_settings_are_lab_errors(kwargs, code):
    with pytest.raises(LabError) as e:
        experiments.ExperimentSettings(**kwargs)
    assert e.value.code == code


def test_unknown_experiment_names_the_choices():
    with pytest.raises(LabError, match="There is no experiment 'dora'; choose peft, rank, masking."):
        experiments.experiment("dora")


# --- the runs, on a tiny model ------------------------------------------------------------------------------


def test_peft_experiment_produces_every_column_and_what_each_condition_trained(tiny_dir, tokenizer, tmp_path):
    from transformers import AutoModelForCausalLM

    events = _run("peft", _settings(tiny_dir), tmp_path / "peft", tokenizer=tokenizer)
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished" and kinds.count("condition_done") == 3
    assert kinds.count("step") == 9 and "evaluating" in kinds
    done = events[-1]
    assert not done.stopped and done.path == tmp_path / "peft" / "results.json"
    results = json.loads(done.path.read_text())
    assert results["experiment"] == "peft" and results["settings"]["steps"] == 3 and results["machine"]["cores"] >= 1
    rows = {r["name"]: r for r in results["conditions"]}
    assert list(rows) == ["full", "lora", "qlora"]
    for row in rows.values():
        assert COLUMNS <= row.keys()
        assert len(row["losses"]) == 3 and row["final_loss"] == pytest.approx(sum(row["losses"]) / 3)
        assert 0 <= row["behaviour_score"] <= 1 and 0 <= row["forgetting_score"] <= 1
        assert row["peak_memory_mb"] > 0 and row["tokens_per_s"] > 0 and row["probes"] == len(evaluation.PROBES)
        m = row["memory"]
        assert m["activations_mb"] > 0
        assert sum(m[k] for k in ("process_mb", "weights_mb", "gradients_mb", "optimizer_mb", "activations_mb",
                                  "other_mb")) == pytest.approx(row["peak_memory_mb"])
    full, lora, qlora = rows["full"], rows["lora"], rows["qlora"]
    assert full["trainable_params"] == full["total_params"] and full["r"] is None
    assert lora["trainable_params"] == qlora["trainable_params"] < full["total_params"] // 10
    # full: fp32 gradient per parameter, two fp32 AdamW moments; LoRA: the same for A and B only
    assert full["memory"]["gradients_mb"] * 2**20 == 4 * full["total_params"]
    assert lora["memory"]["gradients_mb"] * 2**20 == 4 * lora["trainable_params"]
    assert qlora["memory"]["weights_mb"] < lora["memory"]["weights_mb"] < full["memory"]["weights_mb"]
    assert full["saved_mb"] > 5 * lora["saved_mb"] > 0
    loaded = AutoModelForCausalLM.from_pretrained(full["model_dir"])
    assert sum(p.numel() for p in loaded.parameters()) == full["total_params"]
    for name in ("lora", "qlora"):
        assert {p.name for p in (tmp_path / "peft" / name).iterdir()} >= set(training.ADAPTER_FILES)
        assert rows[name]["adapter_dir"] == str(tmp_path / "peft" / name)
    assert all(isinstance(m, Msg) for m in done.conclusions) and len(done.conclusions) == 3
    assert [c["code"] for c in results["conclusions"]] == [m.code for m in done.conclusions]
    assert results["conclusions"][0]["text"] == str(done.conclusions[0])


def test_rank_experiment_gives_the_spectrum_of_each_update(tiny_dir, tokenizer, tmp_path):
    events = _run("rank", _settings(tiny_dir, ranks=(1, 4), svd_module="v_proj"), tmp_path / "rank", tokenizer=tokenizer)
    rows = events[-1].results["conditions"]
    assert [r["r"] for r in rows] == [1, 4] and [r["alpha"] for r in rows] == [2.0, 8.0]
    assert rows[1]["trainable_params"] == 4 * rows[0]["trainable_params"]  # A and B grow linearly with r
    for row in rows:
        spec = row["svd"]
        assert spec["module"] == "model.layers.1.self_attn.v_proj" and spec["r"] == row["r"]
        assert 1 <= spec["nonzero"] <= row["r"] and 1 <= spec["directions_90"] <= spec["nonzero"]
        sv = spec["singular_values"]
        assert sv == sorted(sv, reverse=True) and all(s < 1e-6 * sv[0] for s in sv[row["r"]:])
        assert row["forgetting_score"] is None  # measured by the peft experiment only
    assert {m.code for m in events[-1].conclusions} >= {"experiment.rank.params"}


def test_masking_experiment_shares_of_trained_tokens_and_a_sample_with_special_tokens(tiny_dir, tokenizer, tmp_path):
    events = _run("masking", _settings(tiny_dir, steps=2), tmp_path / "masking", tokenizer=tokenizer)
    rows = {r["name"]: r for r in events[-1].results["conditions"]}
    assert 0 < rows["completion"]["trained_tokens_share"] < 0.9 < rows["none"]["trained_tokens_share"] < 1
    for row in rows.values():
        sample = row["sample"]
        assert isinstance(sample["text"], str) and sample["prompt"]
        assert sample["turns_after_reply"] == analysis.turns_after_reply(sample["text"])
        assert sample["ended_reply"] == ("<|im_end|>" in sample["text"])
        assert 5 < row["prompt_loss"] < 15  # a random model: about ln V = 10.8 nats/token
    assert len(events[-1].conclusions) == 3


def test_stop_during_the_second_condition_ends_the_experiment(tiny_dir, tokenizer, tmp_path):
    stop = threading.Event()
    events = []
    for event in experiments.run_experiment("rank", _settings(tiny_dir, ranks=(1, 2, 4), steps=5), tmp_path / "x",
                                            stop=stop, tokenizer=tokenizer):
        events.append(event)
        if event.kind == "step" and event.condition == "r2" and event.log.step == 2:
            stop.set()
    done = events[-1]
    assert done.kind == "finished" and done.stopped and done.conclusions == []
    assert [e.row["name"] for e in events if e.kind == "condition_done"] == ["r1"]
    assert not any(e.kind == "condition_started" and e.name == "r4" for e in events)
    saved = json.loads(done.path.read_text())
    assert saved["stopped"] and [r["name"] for r in saved["conditions"]] == ["r1"]
    assert saved["stop_reason"] == "Stopped by the user after 2 of 5 steps."
    assert (tmp_path / "x" / "r2" / "adapter_model.safetensors").is_file()  # what it learned is kept
    assert not (tmp_path / "x" / "r4").exists()


def test_stop_during_evaluation_ends_it_between_batches(tiny_dir, tokenizer, tmp_path, monkeypatch):
    monkeypatch.setattr(evaluation, "PROBES", evaluation.PROBES[:6])  # the stop is the subject
    stop = threading.Event()
    events = []
    for event in experiments.run_experiment("peft", _settings(tiny_dir, eval_prompts=4), tmp_path / "y", stop=stop,
                                            tokenizer=tokenizer):
        events.append(event)
        if event.kind == "evaluating":
            stop.set()
    assert events[-1].stopped and "while evaluating" in events[-1].results["stop_reason"]
    assert [e.kind for e in events].count("condition_done") == 0


def test_closing_the_stream_sets_stop_and_keeps_the_adapter(tiny_dir, tokenizer, tmp_path):
    stop = threading.Event()
    gen = experiments.run_experiment("masking", _settings(tiny_dir, steps=50), tmp_path / "z", stop=stop,
                                     tokenizer=tokenizer)
    for event in gen:
        if event.kind == "step":
            break
    gen.close()  # what Gradio does to a cancelled generator
    assert stop.is_set() and (tmp_path / "z" / "completion" / "adapter_model.safetensors").is_file()


# --- the singular values of ΔW ------------------------------------------------------------------------------


def test_update_has_at_most_r_nonzero_singular_values(tokenizer):
    """ΔW = (alpha/r) B A with B random (as after training): exactly r non-zero singular values, the rank and
    the singular values of peft's own dense ΔW (``get_delta_weight``, computed in fp32: its zeros are ~1e-7)."""
    model = training.wrap_lora(models.tiny_model(tokenizer), training.TrainConfig(r=3, alpha=12, quantization=None))
    for mod in model.modules():
        if hasattr(mod, "lora_B") and "default" in mod.lora_B:
            torch.nn.init.normal_(mod.lora_B["default"].weight)
    spec = analysis.update_spectrum(model, "q_proj", layer=0)
    assert spec["shape"] == [64, 64] and spec["scale"] == 4.0 and spec["nonzero"] == 3
    layer = model.base_model.model.model.layers[0].self_attn.q_proj
    merged = layer.get_delta_weight("default").double()
    assert torch.linalg.matrix_rank(merged, rtol=1e-5) == 3
    torch.testing.assert_close(torch.tensor(spec["singular_values"][:3]),
                               torch.linalg.svdvals(merged)[:3].float(), rtol=1e-4, atol=0)
    with pytest.raises(LabError, match="no layer 7"):
        analysis.update_spectrum(model, "q_proj", layer=7)


def test_turns_after_reply_reads_the_roles_the_sample_opens():
    text = "Arr!<|im_end|>\n<|im_start|>user\nWhat now?<|im_end|>\n<|im_start|>assistant\nAye"
    assert analysis.turns_after_reply(text) == ["user", "assistant"]
    assert analysis.turns_after_reply("Arr, matey!<|im_end|>\n") == []
    assert analysis.turns_after_reply("no end of turn <|im_start|>user") == []


def test_prompt_loss_is_transformers_loss_on_the_tokens_completion_masks(tokenizer):
    """Oracle: ``model(labels=...)`` with every label but the prompt's set to -100 (transformers shifts them)."""
    from lab import data, masking

    model = models.tiny_model(tokenizer)
    chat = data.load_sft_dataset("pirate", "eval")["messages"][0]
    every, reply = (masking.build_labels(tokenizer, chat, m) for m in ("none", "completion"))
    labels = [t if r == masking.IGNORE_INDEX else -100 for t, r in zip(every.labels, reply.labels)]
    assert 10 < sum(t != -100 for t in labels[1:]) < every.n_tokens - 10  # system prompt, user turn, headers
    with torch.no_grad():
        want = model(input_ids=torch.tensor([every.input_ids]), labels=torch.tensor([labels])).loss.item()
    assert analysis.prompt_loss(model, tokenizer, [chat], 256) == pytest.approx(want, rel=1e-5)


# --- conclusions from the numbers -------------------------------------------------------------------------------


def _peft_rows(used, scores=(0.5, 0.5, 0.5), forgetting=(0.2, 0.0, 0.0), loss_change=(0.3, 0.02, 0.03)):
    rows = []
    for name, mb, score, f, d, lr in zip(("full", "lora", "qlora"), used, scores, forgetting, loss_change,
                                         (1e-4, 1e-3, 1e-3)):
        rows.append(dict(name=name, training_memory_mb=mb, behaviour_score=score, forgetting_score=f,
                         general_loss_change=d, total_params=134_515_008, trainable_share=0.035, steps=20,
                         eval_prompts=16, probes=48, learning_rate=lr,
                         memory=dict(gradients_mb=513, optimizer_mb=1026, weights_mb=275, process_mb=600)))
    return rows


def test_peft_conclusions_follow_the_numbers_and_say_when_they_disagree():
    said = conclusions.conclude("peft", _peft_rows((3400, 1700, 1450)), None)
    assert [m.code for m in said] == ["experiment.peft.memory", "experiment.peft.quality_close",
                                      "experiment.peft.forgetting_more"]
    assert str(said[0]).startswith("Training took 3,400 MB with full fine-tuning, 1,700 MB with LoRA and 1,450 MB")
    said = conclusions.conclude("peft", _peft_rows((3400, 1400, 1450), scores=(0.94, 0.94, 0.75),
                                                   forgetting=(0.33, 0.49, 0.33), loss_change=(-0.08, -0.07, -0.01)),
                                None)
    assert [m.code for m in said] == ["experiment.peft.memory_unordered", "experiment.peft.quality_apart",
                                      "experiment.peft.forgetting_adapters_too"]
    assert "lowest: QLoRA" in str(said[1]) and "at 10x full fine-tuning's learning rate" in str(said[2])
    quiet = conclusions.conclude("peft", _peft_rows((3, 2, 1), forgetting=(0.02, 0.0, 0.0),
                                                    loss_change=(0.01, 0.0, 0.0)), None)
    assert quiet[2].code == "experiment.peft.forgetting_little"


def _masking_rows(prompt_loss, turns, ended=(True, True), scores=(0.7, 0.7)):
    return [dict(name=name, trained_tokens_share=share, final_loss=2.0, prompt_loss=pl, behaviour_score=sc, steps=30,
                 sample=dict(turns_after_reply=t, ended_reply=e))
            for name, share, pl, t, e, sc in zip(("completion", "none"), (0.6, 0.99), prompt_loss, turns, ended, scores)]


def test_masking_conclusions_say_what_the_samples_and_the_prompt_loss_show():
    settings = experiments.ExperimentSettings()
    said = conclusions.conclude("masking", _masking_rows((3.1, 1.2), ([], ["user"])), settings)
    assert [m.code for m in said] == ["experiment.masking.share", "experiment.masking.prompts_learned",
                                      "experiment.masking.behaviour_close"]
    assert said[1].params["sample"].code == "experiment.masking.sample.none_turn"
    assert "better (1.20 against 3.10 nats/token)" in str(said[1]) and "only the model trained on every" in str(said[1])
    said = conclusions.conclude("masking", _masking_rows((3.1, 3.1), (["user"], []), ended=(True, False),
                                                         scores=(0.9, 0.5)), settings)
    assert [m.code for m in said][1:] == ["experiment.masking.prompts_not_learned",
                                          "experiment.masking.behaviour_completion"]
    assert "did not end its reply within 128 tokens" in str(said[1])


# --- the real model -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_peak_memory_orders_full_above_lora_above_qlora_on_the_real_model(tokenizer, tmp_path):
    """The experiment's order and settings (one process, memory released between runs), 2 steps each.
    Compared as the experiment's conclusion does: the peak above the process before the model was loaded
    (the process keeps some memory after a run, which would count against the later conditions)."""
    memory.configure()
    peaks, used, weights = {}, {}, {}
    for method in ("full", "lora", "qlora"):
        cfg = experiments.ExperimentSettings(steps=2).train_config(2, method=method, out_dir=str(tmp_path / method))
        run = training.TrainingRun(cfg, tokenizer=tokenizer)
        assert len(list(run.steps())) == 2
        peaks[method] = run.peak_memory_mb
        used[method] = run.peak_memory_mb - run.before_model_mb  # the experiment's training_memory_mb
        weights[method] = run.tensor_memory.weights
        del run
        memory.release()
    assert used["full"] > used["lora"] > used["qlora"], used
    assert peaks["full"] > max(peaks["lora"], peaks["qlora"]), peaks
    assert used["full"] - used["lora"] > 1000  # fp32 gradients + AdamW states of 134.5M parameters: 1.5 GB
    assert weights["full"] > weights["lora"] > weights["qlora"]
