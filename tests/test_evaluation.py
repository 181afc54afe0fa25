"""lab.evaluation: the behaviour scorers on the bundled data, the forgetting check on the real model,
and generation from dequantized 4-bit weights (bit-identical to bitsandbytes' matmul)."""

from __future__ import annotations

import pytest
import torch

from lab import data, evaluation, models


def _replies(name: str, split: str) -> list[str]:
    return [m[-1]["content"] for m in data.load_sft_dataset(name, split)["messages"]]


def test_pirate_scorer_accepts_every_bundled_pirate_answer_and_no_json_answer():
    pirate = _replies("pirate", "train") + _replies("pirate", "eval")
    plain = _replies("json", "train") + _replies("json", "eval")
    assert all(evaluation.is_pirate(a) for a in pirate)
    assert not any(evaluation.is_pirate(a) for a in plain)
    assert evaluation.pirate_markers("Arr, matey! Yer ship be fine, savvy?") == {"arr", "matey", "yer", "savvy"}
    assert not evaluation.is_pirate("Yesterday the ship's crew found treasure.")  # nautical is not pirate speak


def test_json_scorer_accepts_every_bundled_json_answer_and_rejects_near_misses():
    assert all(evaluation.is_json_answer(a) for a in _replies("json", "train") + _replies("json", "eval"))
    assert not any(evaluation.is_json_answer(a) for a in _replies("pirate", "eval"))
    assert evaluation.is_json_answer('```json\n{"answer": "Paris", "confidence": 0.9}\n```')
    for bad in ['{"answer": "Paris", "confidence": 1.5}', '{"answer": 3, "confidence": 0.5}',
                '{"answer": "Paris"}', 'Sure! {"answer": "Paris", "confidence": 0.9}', '{"answer": "x", "confidence": true}']:
        assert not evaluation.is_json_answer(bad), bad


def test_forgetting_questions_are_in_no_training_split():
    prompts = {m["content"].lower() for name in data.list_datasets()
               for msgs in data.load_sft_dataset(name, "train")["messages"] for m in msgs if m["role"] == "user"}
    for q, _ in evaluation.FORGETTING_QUESTIONS:
        assert q.lower() not in prompts


def test_eval_prompts_are_the_last_user_turn_and_its_reply():
    chats = [[{"role": "system", "content": "s"}, {"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"},
              {"role": "user", "content": "u2"}, {"role": "assistant", "content": "a2"}]]
    assert evaluation.eval_prompts(chats) == (["u2"], ["a2"])


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
    evaluation.generate(nf4_model, tokenizer, ["Hi!"], max_new_tokens=4)
    layers = [m for m in nf4_model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers and not any(getattr(m.weight.quant_state, "packing_format_for_cpu", False) for m in layers)
    assert all("forward" not in vars(m) for m in layers)  # the patch is gone


@pytest.mark.slow
def test_base_model_passes_the_forgetting_check_and_is_no_pirate(nf4_model, tokenizer):
    prompts, refs = evaluation.eval_prompts(data.load_sft_dataset("pirate", "eval")["messages"], 8)
    ev = evaluation.evaluate(nf4_model, tokenizer, "pirate", prompts, refs)
    assert ev.correct == [True] * len(evaluation.FORGETTING_QUESTIONS), list(zip(ev.questions, ev.question_answers))
    assert ev.score == 0.0 and len(ev.answers) == 8 and all(a.strip() for a in ev.answers)
    assert ev.behaviour == "answers in pirate speak"
