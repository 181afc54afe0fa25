"""lab.evaluation: the behaviour judge on the bundled data and on hand-written answers, the forgetting
probes and their matching, and — on the real NF4 model — the base model's probe accuracy, batch-invariant
generation, the general-text loss, the base model's cached evaluation, and generation from dequantized
4-bit weights (bit-identical to bitsandbytes' matmul)."""

from __future__ import annotations

import json
import random
from types import SimpleNamespace

import pytest
import torch

from lab import data, evaluation, models

#: The bundled base model's probe accuracy must stay at least this (measured: 48 / 48, see lab.evaluation).
BASE_PROBE_ACCURACY_FLOOR = 0.85


def _pairs(name: str, split: str) -> list[tuple[str, str]]:
    return list(zip(*evaluation.eval_prompts(data.load_sft_dataset(name, split)["messages"])))


def _replies(name: str, split: str) -> list[str]:
    return [a for _, a in _pairs(name, split)]


def _probe(question: str) -> evaluation.Probe:
    return next(p for p in evaluation.PROBES if p.question == question)


# --- the behaviour judge ---------------------------------------------------------------------------------


def test_pirate_judge_passes_every_bundled_pirate_answer_with_its_prompt_and_no_json_answer():
    for prompt, answer in _pairs("pirate", "train") + _pairs("pirate", "eval"):
        verdict = evaluation.judge("pirate", prompt, answer)  # no reference: the prompt alone
        assert verdict.passed, (prompt, answer, verdict.reasons)
        assert verdict.reasons[0].startswith("pirate markers: ")
    for prompt, answer in _pairs("json", "train") + _pairs("json", "eval"):
        assert not evaluation.judge("pirate", prompt, answer).passed, answer
    plain = _replies("json", "train") + _replies("json", "eval")
    assert all(evaluation.is_pirate(a) for a in _replies("pirate", "train") + _replies("pirate", "eval"))
    assert not any(evaluation.is_pirate(a) for a in plain)
    assert evaluation.pirate_markers("Arr, matey! Yer ship be fine, savvy?") == {"arr", "matey", "yer", "savvy"}
    assert not evaluation.is_pirate("Yesterday the ship's crew found treasure.")  # nautical is not pirate speak


def test_json_judge_passes_the_bundled_json_answers_and_rejects_near_misses():
    for prompt, answer in _pairs("json", "eval"):
        verdict = evaluation.judge("json", prompt, answer)
        assert verdict.passed, (prompt, answer, verdict.reasons)
    for prompt, answer in _pairs("json", "train"):  # some are one-line definitions: judged with their reference
        assert evaluation.judge("json", prompt, answer, reference=answer).passed, answer
    assert all(evaluation.is_json_answer(a) for a in _replies("json", "train") + _replies("json", "eval"))
    assert not any(evaluation.is_json_answer(a) for a in _replies("pirate", "eval"))
    assert evaluation.is_json_answer('```json\n{"answer": "Paris", "confidence": 0.9}\n```')
    for bad in ['{"answer": "Paris", "confidence": 1.5}', '{"answer": 3, "confidence": 0.5}',
                '{"answer": "Paris"}', 'Sure! {"answer": "Paris", "confidence": 0.9}', '{"answer": "x", "confidence": true}']:
        assert not evaluation.is_json_answer(bad), bad
        assert not evaluation.judge("json", "What is the capital of France?", bad).passed


def test_a_repetition_loop_fails_with_its_reason():
    loop = "Ahoy, matey! Ahoy, matey! Ahoy, matey! Ahoy, matey! Ahoy, matey! Ahoy, matey!"
    assert evaluation.degenerate(loop) == "repetition: 'ahoy matey' ×6"
    verdict = evaluation.judge("pirate", "Why is the sky blue?", loop, "Arr! Sunlight scatters off the air, matey.")
    assert not verdict.passed and "repetition: 'ahoy matey' ×6" in verdict.reasons
    assert evaluation.is_pirate(loop)  # the old scorer's ✓: style alone
    cut_loop = "Arr, matey! The sky be blue because the sky be blue because the sky be blue because the sky"
    assert evaluation.degenerate(cut_loop) == "repetition: 'the sky be blue because' ×3"
    assert not evaluation.judge("pirate", "Why is the sky blue?", cut_loop).passed
    few = "Aye ye sky, matey, blue ye sky blue, matey blue sky ye, aye blue sky matey ye aye sky blue blue"
    assert evaluation.degenerate(few).startswith("too few distinct words (")
    assert evaluation.degenerate("Arr, matey! 7 cubed be 7 × 7 × 7 = 343, savvy?") is None  # arithmetic, not a loop
    looped_json = json.dumps({"answer": "Paris Paris Paris Paris Paris", "confidence": 0.9})
    verdict = evaluation.judge("json", "What is the capital of France?", looped_json)
    assert not verdict.passed and "repetition: 'paris' ×5" in verdict.reasons


def test_fluent_pirate_answer_passes_and_a_plain_or_empty_one_fails():
    prompt = "How do I keep bread fresh?"
    fluent = "Arr, matey! Wrap yer bread in a cloth or paper bag and keep it in a cool, dry spot, savvy?"
    verdict = evaluation.judge("pirate", prompt, fluent)
    assert verdict.passed and verdict.reasons == ["pirate markers: arr, matey, savvy, yer"]
    plain = "Wrap the bread in a cloth or a paper bag and keep it in a cool, dry place."  # correct, not pirate
    verdict = evaluation.judge("pirate", prompt, plain)
    assert not verdict.passed and verdict.reasons == ["no pirate markers"]
    filler = "Arr matey, ye be askin' a fine question, savvy?"
    verdict = evaluation.judge("pirate", prompt, filler)
    assert not verdict.passed and verdict.reasons[-1] == "does not address the prompt"
    babble = "Arr matey! Ye be sailin' the seven seas with yer crew of scallywags on the high seas, savvy?"
    assert not evaluation.judge("pirate", prompt, babble).passed  # nautical filler is no answer
    assert evaluation.judge("pirate", prompt, "Arr, matey!").reasons[-1] == "does not address the prompt"
    assert str(evaluation.judge("pirate", prompt, fluent)) == "✓ pirate markers: arr, matey, savvy, yer"
    assert evaluation.judge("my-upload.jsonl", prompt, fluent) is None  # no known behaviour


# --- the forgetting probes --------------------------------------------------------------------------------


def test_wrong_facts_fail_and_right_facts_pass():
    triangle = _probe("How many sides does a triangle have?")
    week = _probe("How many days are there in a week?")
    france = _probe("What is the capital of France?")
    assert not evaluation.check_probe(triangle, "3^3 = 27 sides").passed
    assert evaluation.check_probe(triangle, "3^3 = 27 sides").reasons == ["'3' but also 27"]
    assert evaluation.check_probe(triangle, "A triangle has three sides.").passed
    assert not evaluation.check_probe(week, "30 days be 30 days in a week").passed
    assert evaluation.check_probe(week, "There are seven days in a week.").passed
    assert evaluation.check_probe(week, "A week is 7 days long.").passed
    assert evaluation.check_probe(france, "The capital of France is Paris.").passed
    assert not evaluation.check_probe(france, "It is Lyon.").passed
    assert not evaluation.check_probe(france, "Paris, or maybe Lyon.").passed  # hedging between two answers
    assert not evaluation.check_probe(france, "Parisian food is famous.").passed  # a whole word, not a prefix
    plus = _probe("What is 2 + 2?")
    assert evaluation.check_probe(plus, "2 + 2 is 4.").passed  # numbers of the question may be repeated
    assert not evaluation.check_probe(plus, "2 + 2 is 5.").passed
    assert evaluation.is_correct("Seven days.", ("7",)) and not evaluation.is_correct("Eight days.", ("seven",))


def test_normalizing_numbers():
    assert evaluation.normalize("Twenty-four hours, 1,000 grams!") == "24 hours 1000 grams"
    assert evaluation.numbers("three hundred and sixty five days; 3.5 litres") == {"365", "3.5"}
    assert evaluation.numbers("It has 3 sides, one of which is long.") == {"3"}  # "one" as a pronoun
    assert evaluation.numbers("There is one heart.") == {"1"}
    assert evaluation.numbers("H2O, the 17th century, World War I") == set()


def _taught(probe: evaluation.Probe, pairs) -> str | None:
    """A training question about the probe's fact: it shares two content words with the probe's
    question (or is the same one-word question) and its answer states the probe's accepted answer."""
    q = evaluation.content_words(probe.question)
    for tq, ta in pairs:
        shared = q & evaluation.content_words(tq)
        if (len(shared) >= 2 or shared == q == evaluation.content_words(tq)) and any(
                evaluation._has(evaluation.normalize(ta), a) for a in probe.answers):
            return tq
    return None


def test_probe_set_is_large_and_in_no_training_split():
    probes = evaluation.PROBES
    assert len(probes) >= 40 and len({p.question for p in probes}) == len(probes)
    assert all(p.answers for p in probes)
    train = [pair for name in data.list_datasets() for pair in _pairs(name, "train")]
    prompts = {evaluation.normalize(q) for q, _ in train}
    for p in probes:
        assert evaluation.normalize(p.question) not in prompts, p.question
        assert _taught(p, train) is None, (p.question, _taught(p, train))
    # the check does find a taught fact: the json set answers "When did the First World War start?"
    assert _taught(evaluation.Probe("In what year did World War I begin?", ("1914",)), train)
    assert evaluation.FORGETTING_QUESTIONS[0] == (probes[0].question, probes[0].answers)  # the old name
    assert "probes" not in data.list_datasets() and "general_text" not in data.list_datasets()


def test_general_text_is_in_no_bundled_split():
    words = evaluation.words(evaluation.general_text())
    assert 250 <= len(words) <= 500
    grams = {" ".join(words[i : i + 6]) for i in range(len(words) - 5)}
    for name in data.list_datasets():
        for split in data.SPLITS:
            for msgs in data.load_sft_dataset(name, split)["messages"]:
                text = " ".join(evaluation.words(" ".join(m["content"] for m in msgs)))
                assert not any(g in text for g in grams), name


def test_evaluation_scores_and_old_names():
    probes = evaluation.PROBES[:3]
    ev = evaluation.score("pirate", ["How do I keep bread fresh?"], [""],
                          ["Arr, matey! Wrap yer bread in a cloth and keep it cool and dry, savvy?"],
                          ["The capital of France is Paris.", "Berlin.", "Milan, I think."], 2.5, probes)
    assert ev.hits == [True] and ev.score == 1.0
    assert ev.probe_correct == [True, True, False] == ev.correct
    assert ev.probe_accuracy == pytest.approx(2 / 3) == ev.retained
    assert ev.questions == [p.question for p in probes] and ev.general_loss == 2.5
    assert evaluation.score("data.csv", ["p"], ["r"], ["a"]).score is None


def test_eval_prompts_are_the_last_user_turn_and_its_reply():
    chats = [[{"role": "system", "content": "s"}, {"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"},
              {"role": "user", "content": "u2"}, {"role": "assistant", "content": "a2"}]]
    assert evaluation.eval_prompts(chats) == (["u2"], ["a2"])


# --- on the real model --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nf4_model():
    return models.load_model(quantization="nf4")


def test_dequantized_generation_is_bit_identical_and_leaves_the_4bit_weights_alone(nf4_model, tokenizer):
    import bitsandbytes as bnb

    ids = tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    nf4_model.train()  # train mode: bitsandbytes' own matmul (dequantize, then F.linear)
    with torch.no_grad():
        reference = nf4_model(ids).logits
        with models.dequantized_base(nf4_model):
            fast = nf4_model(ids).logits
    assert torch.equal(reference, fast)
    dtypes = {p.dtype for p in nf4_model.parameters()}
    evaluation.generate(nf4_model, tokenizer, ["Hi!"], max_new_tokens=4)
    layers = [m for m in nf4_model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers and not any(getattr(m.weight.quant_state, "packing_format_for_cpu", False) for m in layers)
    assert all("forward" not in vars(m) for m in layers)  # the patch is gone
    assert {p.dtype for p in nf4_model.parameters()} == dtypes  # fp32 copies given back
    assert not getattr(nf4_model, "_lab_float32", False)


@pytest.mark.slow
def test_batched_generation_gives_the_same_greedy_answers_as_one_by_one(nf4_model, tokenizer):
    prompts = ["Hi!", "What is the capital of Italy?", "How many sides does an octagon have?",
               "Why do we see lightning before we hear thunder? Explain it to me simply, with an example.",
               "Name a colour.", "What is the chemical symbol for iron?"]
    together = evaluation.generate(nf4_model, tokenizer, prompts, max_new_tokens=16, batch_size=6)
    in_threes = evaluation.generate(nf4_model, tokenizer, prompts[::-1], max_new_tokens=16, batch_size=3)[::-1]
    alone = [evaluation.generate(nf4_model, tokenizer, [p], max_new_tokens=16)[0] for p in prompts]
    assert together == alone == in_threes
    assert len(set(alone)) == len(alone) and all(a.strip() for a in alone)


@pytest.mark.slow
def test_base_model_answers_the_probes_and_is_no_pirate(nf4_model, tokenizer):
    prompts, refs = evaluation.eval_prompts(data.load_sft_dataset("pirate", "eval")["messages"], 8)
    seen = []
    ev = evaluation.evaluate(nf4_model, tokenizer, "pirate", prompts, refs, on_progress=lambda d, t: seen.append((d, t)))
    n = len(prompts) + len(evaluation.PROBES)
    assert seen[-1] == (n, n) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    wrong = [(q, a, v.reasons) for q, a, v in zip(ev.questions, ev.question_answers, ev.probe_verdicts) if not v.passed]
    assert ev.probe_accuracy >= BASE_PROBE_ACCURACY_FLOOR, wrong
    assert ev.score == 0.0 and len(ev.answers) == 8 and all(a.strip() for a in ev.answers)
    assert all(v.reasons[0] == "no pirate markers" for v in ev.verdicts)
    assert ev.behaviour.startswith("answers in pirate speak")
    assert 0.5 < ev.general_loss < 3.5


@pytest.mark.slow
def test_general_text_loss_is_plausible_and_higher_on_shuffled_text(nf4_model, tokenizer):
    loss = evaluation.general_text_loss(nf4_model, tokenizer)
    words = evaluation.general_text().split()
    random.Random(0).shuffle(words)
    shuffled = evaluation.general_text_loss(nf4_model, tokenizer, " ".join(words))
    assert 0.5 < loss < 3.5  # nats / token on text the model knows
    assert shuffled > loss + 1.0
    assert evaluation.general_text_loss(nf4_model, tokenizer) == loss  # deterministic


@pytest.mark.slow
def test_base_evaluation_is_cached_on_disk_and_used_by_the_next_process(nf4_model, tokenizer, tmp_path, monkeypatch):
    from lab import training

    monkeypatch.setattr(evaluation, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(evaluation, "PROBES", evaluation.PROBES[:6])  # a short probe set: the cache is the subject
    monkeypatch.setattr(evaluation, "_base_cache", {})
    cfg = training.TrainConfig(dataset="pirate", quantization="nf4")
    run = SimpleNamespace(config=cfg, model=training.wrap_lora(nf4_model, cfg), tokenizer=tokenizer, deadline=None,
                          eval_chats=data.load_sft_dataset("pirate", "eval"))
    totals = []

    def call():
        seen = []
        out = evaluation.before_after(run, 3, max_new_tokens=16, on_progress=lambda d, t: seen.append((d, t)))
        totals.append(seen[-1][1] if seen else 0)
        assert seen[-1][0] == seen[-1][1]
        return out

    try:
        _check_the_cache(run, call, totals, tmp_path)
    finally:
        run.model.unload()  # the module's model without LoRA layers again


def _check_the_cache(run, call, totals, tmp_path):
    assert not evaluation.base_cached(run, 3, 16)
    before, after = call()
    files = list(tmp_path.glob("base-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["answers"] == before.answers
    assert after.answers == before.answers  # a fresh adapter (B = 0) changes nothing
    evaluation._base_cache.clear()  # what a new server process starts with
    assert evaluation.base_cached(run, 3, 16)
    again, _ = call()
    assert (again.answers, again.question_answers, again.general_loss) == (
        before.answers, before.question_answers, before.general_loss)
    assert [v.passed for v in again.probe_verdicts] == [v.passed for v in before.probe_verdicts]
    files[0].write_text('{"key": "not json')  # a corrupt file is ignored, and rewritten
    evaluation._base_cache.clear()
    assert not evaluation.base_cached(run, 3, 16)
    call()
    assert totals == [2 * (3 + 6), 3 + 6, 2 * (3 + 6)]  # answers generated: base + adapted, adapted only, both
    assert json.loads(files[0].read_text())["answers"] == before.answers


def test_full_fine_tuning_before_is_the_untrained_model(tokenizer, tmp_path, monkeypatch):
    """A full fine-tune has no adapter to switch off: its "before" is the model it started from, loaded afresh."""
    from lab import models, training

    monkeypatch.setattr(evaluation, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(evaluation, "PROBES", evaluation.PROBES[:4])
    monkeypatch.setattr(evaluation, "_base_cache", {})
    base = models.tiny_model(tokenizer)
    untrained_loss = evaluation.general_text_loss(base, tokenizer)
    cfg = training.TrainConfig(method="full", steps=4, batch_size=2, max_seq_len=64, learning_rate=3e-3,
                               warmup_steps=0, out_dir=str(tmp_path / "run"))
    run = training.TrainingRun(cfg, base, tokenizer)
    list(run.steps())
    before, after = evaluation.before_after(run, 2, max_new_tokens=4)
    assert before.general_loss == pytest.approx(untrained_loss, abs=1e-6)
    assert after.general_loss == pytest.approx(evaluation.general_text_loss(run.model, tokenizer), abs=1e-6)
    assert abs(after.general_loss - before.general_loss) > 0.05
    assert len(before.question_answers) == len(after.question_answers) == 4

