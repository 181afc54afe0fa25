"""lab.data_quality: each filter on hand-made rows, the quality sets (pirate_curated, pirate_noisy) and
their build script, the Clean step on the noisy set, the quality table and answer correctness."""

from __future__ import annotations

import difflib
import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from lab import data, evaluation
from lab import data_quality as Q
from lab.errors import LabError, Msg

GOOD = ("How do I keep bread fresh?",
        "Arr, matey! Wrap yer bread in a clean cloth and keep it in a cool, dry box; freeze what ye won't eat in two days, savvy?")


def _chat(prompt, reply):
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]


#: One hand-made row of each kind a filter should catch, with the reason it must give.
BAD = {
    "too_short": ("How do I keep bread fresh?", "Arr, aye."),
    "too_long": ("How do I keep bread fresh?", "Arr, matey! " + " ".join(f"Wrap loaf number {k} in cloth, savvy." for k in range(30))),
    "truncated": ("How do I keep bread fresh?", "Arr, matey! Wrap yer bread in a clean cloth and keep it in a cool"),
    "repetitive": ("How do I keep bread fresh?", "Arr, matey! Keep bread fresh, ye see. Keep bread fresh, ye see. Keep bread fresh, ye see. Keep bread fresh, ye see."),
    "off_style": ("How do I keep bread fresh?", "Wrap the bread in a clean cloth and keep it in a cool, dry box; freeze what you will not eat in two days."),
    "off_topic": ("How do I keep bread fresh?", "Arr, matey! Run `git branch -d` to delete a merged branch from yer repository, savvy?"),
    "wrong_arithmetic": ("What is 14 times 6?", "Arr, matey! 14 times 6 be 78, a fine haul of doubloons, savvy?"),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_each_filter_catches_its_kind_of_hand_made_row(kind):
    prompt, reply = BAD[kind]
    why = Q.row_problem(prompt, reply)
    assert isinstance(why, Msg) and why.code == f"quality.{kind}", (kind, why)
    assert str(why)  # an English sentence for the table, filled from its params
    assert Q.row_problem(*GOOD) is None


def test_reasons_carry_their_numbers():
    assert Q.row_problem(*BAD["too_short"]).params == {"words": 2, "min_words": 8}
    assert Q.row_problem(*BAD["wrong_arithmetic"]).params == {"expression": "14 times 6", "result": "84"}
    assert str(Q.row_problem(*BAD["wrong_arithmetic"])) == "14 times 6 is 84, which the reply does not state"
    assert Q.row_problem("What is 14 times 6?", "Arr, matey! 14 times 6 be 84, a fine haul of doubloons, savvy?") is None
    assert Q.row_problem(*BAD["off_style"], Q.Filters(style=None)) is None  # the style check is the set's
    assert Q.row_problem(*BAD["off_topic"], Q.Filters(topic=False)) is None


@pytest.mark.parametrize(("prompt", "expected"), [
    ("What is 14 times 6?", ("14 times 6", 84.0)),
    ("What is 1,000 minus 357?", ("1,000 minus 357", 643.0)),
    ("What is 3/8 as a decimal?", ("3/8", 0.375)),
    ("What is 23 × 4?", ("23 × 4", 92.0)),
    ("What is 9 times 8 minus 10?", None),  # two operations: not checked
    ("What is 15% of 80?", None),
    ("Is the 12/10/2020 meeting still on?", None),
    ("How far is the Moon from Earth?", None),
    ("What is 5 divided by 0?", None),
])
def test_arithmetic_reads_one_operation(prompt, expected):
    assert Q.arithmetic(prompt) == expected


def test_truncation_and_code_aware_loops():
    assert not Q.truncated("It ends here.") and not Q.truncated('He said "go!"') and not Q.truncated("```python\nx = 1\n```")
    assert Q.truncated("It stops in the middle of the") and Q.truncated("One, two,")
    assert Q.loop("```python\ndef square(n):\n    return n * n\n```") is None  # a word check alone calls it a loop
    assert evaluation.degenerate("def square(n): return n * n") is not None
    assert Q.loop("```python\nprint(1)\nprint(1)\nprint(1)\n```").startswith("repetition: code line 'print(1)'")
    assert Q.loop("Arr matey! Arr matey! Arr matey! Arr matey!").startswith("repetition")


def test_dedupe_keeps_the_first_and_names_it():
    near = ("Quick question: how do I keep bread fresh?", GOOD[1].replace("Arr, matey!", "Ahoy, matey!"))
    other = ("How do I boil an egg?", "Ahoy, matey! Lower yer egg into boiling water for six minutes, then cool it in cold water, savvy?")
    chats = [_chat(*GOOD), _chat(*other), _chat(GOOD[0].upper(), GOOD[1] + "  "), _chat(*near)]
    kept, dropped = Q.clean(chats)
    assert kept == chats[:2]
    assert [(d.index, d.code, d.reason.params["row"]) for d in dropped] == [(2, "duplicate", 1), (3, "near_duplicate", 1)]
    assert dropped[1].reason.params["similarity"] >= 0.7
    assert Q.jaccard(Q.word_set(*GOOD), Q.word_set(*other)) < 0.4
    kept, dropped = Q.clean(chats, Q.Filters(dedupe=False))
    assert len(kept) == 4 and not dropped


def test_filters_refuse_bad_settings_with_a_code():
    for kwargs, code in [({"min_words": 9, "max_words": 3}, "quality.word_bounds"), ({"style": "klingon"}, "quality.style"),
                         ({"near_duplicate": 0}, "quality.bad_threshold")]:
        with pytest.raises(LabError) as e:
            Q.Filters(**kwargs)
        assert e.value.code == code


# --- the bundled quality sets ---------------------------------------------------------------------------

KINDS = {"curated": 40, "duplicate": 20, "near_duplicate": 25, "truncated": 20, "too_short": 10, "too_long": 5,
         "repetitive": 10, "off_style": 30, "off_topic": 15, "wrong_arithmetic": 10, "wrong_fact": 15}


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"build_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("folder", ["pirate_curated", "multitask"])
def test_build_scripts_reproduce_the_files(folder):
    assert _load(data.DATA_DIR / folder / "build.py").main(["--check"]) == 0


def test_quality_sets_curated_inside_noisy_and_every_kind_counted():
    curated = list(data.load_sft_dataset("pirate_curated")["messages"])
    noisy = list(data.load_sft_dataset("pirate_noisy")["messages"])
    kinds = [m["kind"] for m in data.bundled_meta("pirate_noisy")]
    assert len(curated) == 40 and len(noisy) == 200 and Counter(kinds) == KINDS
    assert sorted(map(str, (c for c, k in zip(noisy, kinds) if k == "curated"))) == sorted(map(str, curated))
    pirate_train = list(data.load_sft_dataset("pirate")["messages"])
    assert all(c in pirate_train for c in curated)
    assert data.bundled_meta("pirate_curated") == [{}] * 40


def test_quality_eval_split_is_shared_checkable_and_unseen():
    assert (data.DATA_DIR / "pirate_curated" / "eval.jsonl").read_bytes() == (data.DATA_DIR / "pirate_noisy" / "eval.jsonl").read_bytes()
    prompts, refs = evaluation.eval_prompts(data.load_sft_dataset("pirate_noisy", "eval")["messages"])
    metas = data.bundled_meta("pirate_noisy", "eval")
    assert len(prompts) == 15 and all(m["answers"] for m in metas)
    assert all(Q.correctness(refs, metas))  # each reference states its own fact
    assert all(evaluation.judge_pirate(p, r).passed for p, r in zip(prompts, refs))
    train = [evaluation.normalize(p) for name in data.list_datasets(experiments=True)
             for p in evaluation.eval_prompts(data.load_sft_dataset(name, "train")["messages"])[0]]
    for p in prompts:
        assert evaluation.normalize(p) not in train
        assert not difflib.get_close_matches(evaluation.normalize(p), train, n=1, cutoff=0.9), p


def test_clean_catches_each_noisy_kind_and_keeps_curated_and_wrong_facts():
    noisy = data.load_sft_dataset("pirate_noisy")["messages"]
    kinds = [m["kind"] for m in data.bundled_meta("pirate_noisy")]
    cleaned = Q.clean(noisy)
    why = {d.index: d.code for d in cleaned.dropped}
    for i, kind in enumerate(kinds):
        if kind in ("curated", "wrong_fact"):
            assert i not in why, (kind, noisy[i], why.get(i))  # no cheap filter sees a wrong fact
        else:
            assert why.get(i) == kind, (kind, noisy[i], why.get(i))
    assert len(cleaned.kept) == 55 and len(cleaned.dataset()) == 55
    assert cleaned.counts() == {k: n for k, n in KINDS.items() if k not in ("curated", "wrong_fact")}
    dup = next(d for d in cleaned.dropped if d.code == "duplicate")
    assert noisy[dup.reason.params["row"] - 1] == noisy[dup.index]  # it names the row it repeats, kept
    assert dup.reason.params["row"] - 1 not in why


def test_quality_table_of_the_two_sets():
    curated = Q.quality_table(data.load_sft_dataset("pirate_curated")["messages"])
    noisy = Q.quality_table(data.load_sft_dataset("pirate_noisy")["messages"])
    assert (curated.rows, curated.duplicates, curated.off_style, curated.flagged) == (40, 0, 0, 0)
    assert 25 <= curated.mean_words <= 45
    assert noisy.rows == 200 and noisy.duplicates >= 45 and noisy.off_style >= 30 and noisy.flagged == 145
    assert noisy.off_style_share == noisy.off_style / 200 and noisy.flagged_share == pytest.approx(0.725)


def test_states_answer_is_word_bounded_and_refuses_listed_rivals():
    assert Q.states_answer("Arr, a hexagon has six sides; its angles add up to 720°, matey!", ["6"], ["5", "8"])
    assert not Q.states_answer("Arr, it has 16 sides!", ["6"])
    assert not Q.states_answer("Michelangelo, or was it Leonardo?", ["leonardo"], ["michelangelo"])
    assert Q.states_answer("It costs $3.60 in tax.", ["3.60", "3.6"])


def _taught(probe, pairs):
    """A train question about the probe's fact (the rule of tests/test_evaluation.py): it shares two content
    words with the probe's question, or is the same one-word question, and its answer states the fact."""
    q = evaluation.content_words(probe.question)
    for tq, ta in pairs:
        shared = q & evaluation.content_words(tq)
        if (len(shared) >= 2 or shared == q == evaluation.content_words(tq)) and Q.states_answer(ta, probe.answers):
            return tq
    return None


def test_quality_sets_teach_no_probe_and_hold_no_general_text():
    ws = evaluation.words(evaluation.general_text())
    grams = {" ".join(ws[i : i + 6]) for i in range(len(ws) - 5)}
    for name in ("pirate_curated", "pirate_noisy", "multitask"):
        pairs = list(zip(*evaluation.eval_prompts(data.load_sft_dataset(name, "train")["messages"])))
        for p in evaluation.PROBES:
            assert evaluation.normalize(p.question) not in {evaluation.normalize(q) for q, _ in pairs}
            assert _taught(p, pairs) is None, (name, p.question, _taught(p, pairs))
        for split in data.SPLITS:
            for msgs in data.load_sft_dataset(name, split)["messages"]:
                text = " ".join(evaluation.words(" ".join(m["content"] for m in msgs)))
                assert not any(g in text for g in grams), name
