"""lab.synthetic: parsing a generated pair, the verdict on each generated text, generation with a tiny
model (rows and verdicts as they appear, reproducible, stoppable) and with the real one."""

from __future__ import annotations

import threading

import pytest

from lab import chat, synthetic
from lab.errors import Msg


@pytest.mark.parametrize(("text", "pair"), [
    ("Instruction: Name a red fruit.\nResponse: A strawberry is a red fruit.", ("Name a red fruit.", "A strawberry is a red fruit.")),
    ("Here is one!\n\ninstruction:  Name a red fruit.\nresponse: Cherries.\n\nInstruction: Name a blue one.\nResponse: ...",
     ("Name a red fruit.", "Cherries.")),
    ("Instruction: Name a red fruit.\nResponse: Cherries.<|im_end|>junk", ("Name a red fruit.", "Cherries.")),
    ("Instructions: Name a red fruit.\nResponse: Cherries.\n\nPremise: more text", ("Name a red fruit.", "Cherries.")),
    ("Instruction: Name a red fruit.", None),
    ("Instruction: \nResponse: Cherries.", None),
    ("A strawberry is a red fruit.", None),
])
def test_parse_takes_the_first_pair(text, pair):
    assert synthetic.parse(text) == pair


def test_the_prompt_shows_the_seeds_in_the_format_it_parses():
    text = synthetic.prompt(synthetic.SEEDS[:2])
    assert all(q in text and a in text for q, a in synthetic.SEEDS[:2]) and text.endswith("\n\nInstruction:")
    assert synthetic.parse(text) == synthetic.SEEDS[0]
    assert synthetic.parse(text.split("\n\n", 1)[1]) == synthetic.SEEDS[1]
    assert len(synthetic.SEEDS) >= 6 and all(synthetic.parse(f"Instruction: {q}\nResponse: {a}") == (q, a) for q, a in synthetic.SEEDS)


def test_each_generated_text_gets_a_verdict():
    texts = [
        "Sure! Here is a new task for you.",
        'Instruction: Translate "good luck" into Spanish.\nResponse: "Good luck" in Spanish is "buena suerte".',
        "Instruction: Name a fruit that is yellow.\nResponse: A banana is a yellow fruit.",
        "Instruction: Name a fruit that is yellow.\nResponse: A banana is a yellow fruit.",
        "Instruction: What is 6 times 4?\nResponse: 6 times 4 is 25.",
        "Instruction: Describe the ocean in one sentence.\nResponse: The ocean is a vast body of",
        "Instruction: Give a tip for sleeping well.\nResponse: Keep a regular bedtime so you sleep well, even at weekends.\nInstruction: Another?",
    ]
    rows = list(synthetic.synthesize(texts))
    assert [r.index for r in rows] == list(range(7)) and [r.text for r in rows] == texts
    codes = [None if r.kept else r.reason.code for r in rows]
    assert codes == [
        "synthetic.unparsed", "synthetic.copies_seed", None, "quality.duplicate", "quality.wrong_arithmetic",
        "quality.truncated", None,
    ]
    assert rows[0].chat is None and rows[2].chat == [
        {"role": "user", "content": "Name a fruit that is yellow."}, {"role": "assistant", "content": "A banana is a yellow fruit."}]
    assert rows[1].reason.params == {"seed": 2, "similarity": 1.0}
    assert rows[3].reason.params == {"row": 3}  # the kept row it repeats, 1-based
    assert all(isinstance(r.reason, Msg) and str(r.reason) for r in rows if not r.kept)
    assert synthetic.summary(rows) == {"kept": 2, "synthetic.unparsed": 1, "synthetic.copies_seed": 1,
                                       "quality.duplicate": 1, "quality.wrong_arithmetic": 1, "quality.truncated": 1}
    assert "little" in str(synthetic.CAVEAT) and synthetic.CAVEAT.code == "synthetic.caveat"


def test_generate_with_a_tiny_model_yields_rows_with_verdicts(tiny, tokenizer):
    decoding = chat.Decoding(max_new_tokens=8, do_sample=True, temperature=1.0, top_p=1.0)
    rows = list(synthetic.generate(tiny, tokenizer, n=3, seed=1, decoding=decoding))
    assert len(rows) == 3 and all(r.text.startswith("Instruction:") for r in rows)
    assert all(r.kept or isinstance(r.reason, Msg) for r in rows)
    assert all(r.reason.code == "synthetic.unparsed" for r in rows)  # random weights write no pair
    again = list(synthetic.generate(tiny, tokenizer, n=3, seed=1, decoding=decoding))
    assert [r.text for r in again] == [r.text for r in rows]  # the seed fixes the shots and the sampling
    other = list(synthetic.generate(tiny, tokenizer, n=3, seed=2, decoding=decoding))
    assert [r.text for r in other] != [r.text for r in rows]


def test_generation_stops_between_rows(tiny, tokenizer):
    stop, seen = threading.Event(), []
    for row in synthetic.generate(tiny, tokenizer, n=5, decoding=chat.Decoding(max_new_tokens=4, do_sample=True), stop=stop):
        seen.append(row)
        stop.set()
    assert len(seen) == 1


@pytest.mark.slow
def test_the_real_model_writes_candidates_that_get_verdicts(real_model, tokenizer):
    rows = list(synthetic.generate(real_model, tokenizer, n=3, seed=0))  # 96 tokens each: 1-3 min on 2 cores
    assert len(rows) == 3 and all(r.text.strip() for r in rows)
    assert all(r.kept or r.reason.code.startswith(("synthetic.", "quality.")) for r in rows)
    assert any(r.chat is not None for r in rows)  # it follows the format at least once in three
