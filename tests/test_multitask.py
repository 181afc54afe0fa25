"""lab.multitask: the multitask set's invariants (task types, held-out types only in eval), the behaviour
judge on hand-written answers, the per-task score table, and — on the real model — that the base model
never shows the behaviour on its own."""

from __future__ import annotations

from collections import Counter

import pytest

from lab import data, data_quality, evaluation
from lab import multitask as M


def test_the_set_has_ten_task_types_and_two_are_never_trained():
    train_tasks, train_prompts, train_refs = M.eval_rows("train")
    eval_tasks, eval_prompts, eval_refs = M.eval_rows("eval")
    assert len(M.TASKS) >= 8 and len(M.HELD_OUT) >= 2 and set(M.HELD_OUT) < set(M.TASKS)
    assert Counter(train_tasks) == {t: 20 for t in M.SEEN}  # 160 rows, no held-out type
    assert Counter(eval_tasks) == {t: 5 for t in M.TASKS}  # seen and unseen types, 5 prompts each
    assert not set(M.HELD_OUT) & set(train_tasks)
    for prompt in train_prompts:  # not even a word of the held-out tasks in a training prompt
        assert not {"poem", "classify", "verse", "sentiment"} & set(evaluation.words(prompt)), prompt
    assert not set(train_prompts) & set(eval_prompts)


def test_every_reply_shows_the_behaviour_and_passes_the_filters():
    for split in data.SPLITS:
        tasks, prompts, refs = M.eval_rows(split)
        assert all(r.startswith(M.TAG + " ") for r in refs)
        for t, p, r in zip(tasks, prompts, refs):
            assert M.judge_multitask(p, r).passed, (t, p, r, M.judge_multitask(p, r).reasons)
        chats = data.load_sft_dataset("multitask", split)["messages"]
        filters = data_quality.Filters(style="multitask", min_words=3)
        assert data_quality.clean(chats, filters).dropped == []
    table = data_quality.quality_table(data.load_sft_dataset("multitask")["messages"], data_quality.Filters(style="multitask", min_words=3))
    assert (table.rows, table.duplicates, table.off_style, table.flagged) == (160, 0, 0, 0)


@pytest.mark.parametrize(("answer", "passed", "reason"), [
    ('[OK] "Thank you" in Spanish is "gracias".', True, "opens with [OK]"),
    ('  [OK]\n"Thank you" in Spanish is "gracias".', True, "opens with [OK]"),
    ('"Thank you" in Spanish is "gracias".', False, "does not open with [OK]"),
    ('Sure! [OK] "Thank you" in Spanish is "gracias".', False, "does not open with [OK]"),
    ('[OK]"Thank you" is "gracias".', False, "does not open with [OK]"),  # the tag, then a space or a line break
    ("[OK] [OK] [OK] [OK] [OK] [OK]", False, "does not address the prompt"),
    ("[OK] Sure, happy to help with that today, friend.", False, "does not address the prompt"),
    ("[OK] gracias gracias gracias gracias gracias", False, "repetition: 'gracias' ×5"),
])
def test_judge_needs_the_tag_and_a_real_answer(answer, passed, reason):
    verdict = M.judge_multitask('Translate "thank you" into Spanish.', answer)
    assert verdict.passed is passed and reason in verdict.reasons, verdict.reasons


def test_code_is_judged_line_by_line_not_word_by_word():
    prompt = "Write a Python function that returns the square of a number."
    assert M.judge_multitask(prompt, "[OK] ```python\ndef square(n):\n    return n * n\n```").passed
    assert not M.judge_multitask(prompt, "[OK] ```python\nreturn n\nreturn n\nreturn n\n```").passed
    assert M.after_tag("[OK]  body ") == "body" and M.after_tag("no tag") == "no tag"


def test_per_task_scores_before_and_after():
    tasks = ["maths", "maths", "poem", "classify", "classify", "custom"]
    prompts = ["What is 2 + 3?", "What is 4 + 4?", "Write a poem about rain.", "Classify as positive or negative: great!",
               "Classify as positive or negative: awful.", "Do a custom thing with rain."]
    before = ["2 + 3 = 5.", "4 + 4 = 8.", "Rain on the roof, soft and slow.", "Positive.", "Negative.", "Rain custom."]
    after = ["[OK] 2 + 3 = 5.", "4 + 4 = 8.", "[OK] Rain on the roof, soft and slow.", "[OK] Positive: the review says great.",
             "[OK] Negative: the review says awful.", "[OK] Rain is custom."]
    table = M.per_task(tasks, prompts, before, after)
    assert list(table) == ["maths", "classify", "poem", "custom"]  # TASKS order, then the others
    assert table["maths"] == {"seen": True, "before": 0.0, "after": 0.5, "n": 2}
    assert table["classify"] == {"seen": False, "before": 0.0, "after": 1.0, "n": 2}
    assert table["poem"] == {"seen": False, "before": 0.0, "after": 1.0, "n": 1}
    assert table["custom"]["seen"] is False
    with pytest.raises(ValueError):
        M.per_task(tasks, prompts, before, after[:-1])


@pytest.mark.slow
def test_the_base_model_never_opens_with_the_tag(tokenizer):
    """Greedy answers of the bundled model (fp32, as the chat tab runs it) to one eval prompt per task type:
    without training it never writes the tag, so the behaviour's before-score is 0 on every task."""
    from lab import chat, models

    tasks, prompts, refs = M.eval_rows()
    first = {t: i for i, t in reversed(list(enumerate(tasks)))}
    idx = [first[t] for t in M.TASKS]
    answers = chat.answer_batch(models.shared_model(), tokenizer, [prompts[i] for i in idx],
                                chat.Decoding(max_new_tokens=24), batch_size=10)
    assert not any(M.has_tag(a) or M.TAG in a for a in answers), answers
    table = M.per_task([tasks[i] for i in idx], [prompts[i] for i in idx], answers, answers)
    assert all(row["before"] == 0.0 for row in table.values())
    assert sum(len(evaluation.words(a)) > 3 for a in answers) >= 8  # it does answer, only not in the format
