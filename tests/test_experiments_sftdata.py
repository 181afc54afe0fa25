"""lab.experiments' SFT-data experiments (data-quality, synthetic, zero-shot): the runner on a tiny model
saved to disk (conditions, the Clean step, the candidates, the per-task table, results.json), their
conclusions from hand-made numbers, and — on the real model — curated beating noisy."""

from __future__ import annotations

import json

import pytest

from lab import data, data_quality, evaluation, experiments, multitask
from lab.experiments import conclusions, sftdata


pytestmark = pytest.mark.usefixtures("own_eval_cache")  # tiny_dir and own_eval_cache: conftest.py


def _settings(tiny_dir, **kw):
    base = dict(model=tiny_dir, steps=2, batch_size=2, max_seq_len=64, eval_prompts=2, learning_rate=1e-2)
    return experiments.ExperimentSettings(**{**base, **kw})


def _run(name, settings, out, tokenizer):
    return list(experiments.run_experiment(name, settings, out_dir=out, tokenizer=tokenizer))


def test_the_new_experiments_are_registered_with_their_conditions():
    s = experiments.ExperimentSettings()
    quality = experiments.experiment("data-quality").conditions(s, out_dir="/tmp/q")
    assert [(c.name, c.config.dataset) for c in quality] == [
        ("curated", "pirate_curated"), ("noisy", "pirate_noisy"), ("cleaned", "/tmp/q/cleaned.jsonl")]
    assert {c.config.steps for c in quality} == {experiments.experiment("data-quality").default_steps}
    assert experiments.experiment("synthetic").conditions(s) == []  # training on the pairs is off by default
    assert [c.name for c in experiments.experiment("synthetic").conditions(
        experiments.ExperimentSettings(train_synthetic=True))] == ["synthetic"]
    assert [c.config.dataset for c in experiments.experiment("zero-shot").conditions(s)] == ["multitask"]
    for name in ("pirate_curated", "pirate_noisy", "multitask"):  # the sets' behaviours can be scored
        assert name in evaluation.SCORERS
    assert evaluation.judge("multitask", "Translate 'cat' into French.", "[OK] 'Cat' in French is 'chat'.").passed
    with pytest.raises(Exception, match="prompts per task type must be a whole number from 1 to 5"):
        experiments.ExperimentSettings(per_task=6)


def test_data_quality_trains_curated_noisy_and_cleaned_and_keeps_the_clean_steps_verdicts(tiny_dir, tokenizer,
                                                                                           tmp_path):
    events = _run("data-quality", _settings(tiny_dir), tmp_path / "dq", tokenizer)
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["started", "cleaned"] and kinds[-1] == "finished" and kinds.count("condition_done") == 3
    results = json.loads((tmp_path / "dq" / "results.json").read_text())
    rows = {r["name"]: r for r in results["conditions"]}
    assert list(rows) == ["curated", "noisy", "cleaned"]
    # rows trained on: every row of each set (none is longer than 64 tokens' worth of reply... all have one)
    assert rows["curated"]["examples"] == 40 and rows["noisy"]["examples"] == 200
    cleaning = results["cleaning"]
    noisy = data.load_sft_dataset("pirate_noisy", "train")["messages"]
    want = data_quality.clean(noisy)
    assert cleaning["kept"] == len(want.kept) == rows["cleaned"]["examples"] == 55  # the card's count
    assert [d["row"] for d in cleaning["dropped"]] == [d.index + 1 for d in want.dropped]
    first = cleaning["dropped"][0]
    assert first["reason"]["code"].startswith("quality.") and first["prompt"] and first["kind"] != "curated"
    assert len(cleaning["missed"]) == 15 and {m["kind"] for m in cleaning["missed"]} == {"wrong_fact"}
    assert sum(cleaning["counts"].values()) == 200 - 55
    assert (tmp_path / "dq" / "cleaned.jsonl").read_text().count("\n") == 55
    q = results["quality"]
    assert q["curated"]["rows"] == 40 and q["curated"]["duplicates"] == 0 and q["curated"]["off_style"] == 0
    assert q["noisy"]["rows"] == 200 and q["noisy"]["duplicates"] >= 45 and q["noisy"]["off_style_share"] >= 0.15
    assert q["cleaned"]["flagged"] == 0
    for name, row in rows.items():
        assert row["quality"] == q[name] and row["eval_prompts"] == 2
        assert 0 <= row["behaviour_score"] <= 1 and 0 <= row["correctness"] <= 1 and len(row["losses"]) == 2
        assert (tmp_path / "dq" / name / "adapter_model.safetensors").is_file()
    saved = json.loads((tmp_path / "dq" / "cleaned" / "train_config.json").read_text())
    assert saved["dataset"] == str(tmp_path / "dq" / "cleaned.jsonl")
    codes = [c["code"] for c in results["conclusions"]]
    assert codes[0] == "experiment.data_quality.sets" and len(codes) == 4


def test_synthetic_generates_and_judges_each_candidate_as_it_appears(tiny_dir, tokenizer, tmp_path):
    events = _run("synthetic", _settings(tiny_dir, candidates=3, train_synthetic=True), tmp_path / "syn", tokenizer)
    cands = [e for e in events if e.kind == "candidate"]
    assert [(e.index, e.total) for e in cands] == [(0, 3), (1, 3), (2, 3)]
    results = json.loads((tmp_path / "syn" / "results.json").read_text())
    syn = results["synthetic"]
    assert [c["index"] for c in syn["candidates"]] == [0, 1, 2] and syn["generated"] == 3
    for c in syn["candidates"]:
        assert c["text"].startswith("Instruction:") and (c["kept"] == (c["reason"] is None))
    assert sum(syn["summary"].values()) == 3 and syn["caveat"]["code"] == "synthetic.caveat"
    trained = [r["name"] for r in results["conditions"]]
    assert trained == (["synthetic"] if syn["kept"] else [])  # a random model's text rarely parses: nothing to train
    assert results["conclusions"][-1]["code"] == "synthetic.caveat"


def test_zero_shot_scores_each_task_type_before_and_after(tiny_dir, tokenizer, tmp_path):
    events = _run("zero-shot", _settings(tiny_dir, per_task=1, max_seq_len=256), tmp_path / "zs", tokenizer)
    results = json.loads((tmp_path / "zs" / "results.json").read_text())
    table = results["per_task"]
    assert list(table) == list(multitask.TASKS)
    assert [t for t, v in table.items() if not v["seen"]] == list(multitask.HELD_OUT)
    assert all(v["n"] == 1 and v["before"] == 0.0 and 0 <= v["after"] <= 1 for v in table.values())
    (row,) = results["conditions"]
    assert row["examples"] == 160 and row["eval_prompts"] == 10 and row["per_task"] == table
    evaluating = [e for e in events if e.kind == "evaluating"]
    assert evaluating[-1].done == evaluating[-1].total == 20  # before and after
    assert [c["code"] for c in results["conclusions"]][0] == "experiment.zero_shot.seen"


# --- conclusions from hand-made numbers ----------------------------------------------------------------------


def _q(name, score, correct, examples):
    return dict(name=name, behaviour_score=score, correctness=correct, examples=examples, steps=24, eval_prompts=15)


QUALITY = {"cleaning": {"kept": 55, "missed": [{}] * 15},
           "quality": {"noisy": {"rows": 200, "duplicates": 45, "off_style_share": 0.15}}}


def test_data_quality_conclusions_follow_the_numbers_and_say_when_they_disagree():
    s = experiments.ExperimentSettings()
    said = conclusions.conclude("data-quality", [_q("curated", 0.8, 1.0, 40), _q("noisy", 0.4, 0.7, 200),
                                                 _q("cleaned", 0.73, 0.9, 55)], s, QUALITY)
    assert [m.code for m in said] == ["experiment.data_quality.sets", "experiment.data_quality.curated_better",
                                      "experiment.data_quality.cleaned_recovers",
                                      "experiment.data_quality.correctness_worse"]
    assert "80% against 40%" in str(said[1]) and "15 of those" in str(said[0])
    said = conclusions.conclude("data-quality", [_q("curated", 0.4, 1.0, 40), _q("noisy", 0.8, 1.0, 200),
                                                 _q("cleaned", 0.8, 1.0, 55)], s, QUALITY)
    assert [m.code for m in said][1:] == ["experiment.data_quality.noisy_better", "experiment.data_quality.cleaned_same",
                                          "experiment.data_quality.correctness_same"]
    assert "does not show the lecture's claim" in str(said[1])


def test_zero_shot_conclusions_say_whether_the_unseen_types_were_reached():
    table = {t: {"seen": t in multitask.SEEN, "before": 0.0, "after": 1.0, "n": 3} for t in multitask.TASKS}
    row = dict(steps=20, seen_before=0.0, seen_after=1.0, unseen_before=0.0, unseen_after=0.83, tagged_unseen=6)
    said = conclusions.conclude("zero-shot", [row], None, {"per_task": table})
    assert [m.code for m in said] == ["experiment.zero_shot.seen", "experiment.zero_shot.reached",
                                      "experiment.zero_shot.format"]
    assert "(classify, poem), from 0% to 83% (6 of 6" in str(said[1])
    said = conclusions.conclude("zero-shot", [{**row, "unseen_after": 0.0}], None, {"per_task": table})
    assert said[1].code == "experiment.zero_shot.not_reached"


# --- the real model ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_curated_beats_noisy_on_the_held_out_score_on_the_real_model(tokenizer, tmp_path):
    """The data-quality experiment at its default settings, curated and noisy only (cleaned has its own
    test above): the curated set's behaviour score on the 15 held-out questions is the higher."""
    exp = experiments.experiment("data-quality")
    settings = experiments.ExperimentSettings()
    rows = {}
    for cond in exp.conditions(settings, tmp_path)[:2]:
        from lab.training import Deadline, TrainingRun

        run = TrainingRun(cond.config, tokenizer=tokenizer)
        losses = [log.loss for log in run.steps()]
        assert len(losses) == exp.default_steps
        rows[cond.name] = sftdata.evaluate_quality(settings, cond.name, run, lambda *_: None, Deadline(), {})
        del run
    assert rows["curated"]["eval_prompts"] == 15
    assert rows["curated"]["behaviour_score"] > rows["noisy"]["behaviour_score"], rows
