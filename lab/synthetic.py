"""Synthetic SFT data (lecture §3): the model writes new instruction / response pairs from a few seed
tasks, and the lab's filters decide which to keep.

Self-Instruct and Alpaca in miniature. Alpaca asked a large model (175B) for 52K pairs from 175 seed
tasks; here the bundled model continues a plain text (no chat template, as Self-Instruct prompted
GPT-3) that shows ``shots`` of the :data:`SEEDS` (written for the lab) and opens one more ::

    Instruction: Translate "good luck" into Spanish.
    Response: "Good luck" in Spanish is "buena suerte".

    Instruction: What is 9 times 7?
    Response: 9 times 7 is 63.

    Instruction:

(asked through its chat template instead, the bundled model wrote no parsable pair in 6 tries; as a
continuation, 7 of 10 parsed and 5 passed the filters, seed 0 — well-formed, and mostly empty or
wrong: "What does the sentence 'The cat sleeps by the tail' mean?" -> "The cat's tail is the cat's tail."). Each continuation is sampled (temperature
and top-p: greedy decoding would write the same pair every time), parsed into one pair
(:func:`parse`) and checked as it appears (:func:`synthesize`): unparsable text, a copy of a seed,
the per-row filters of :mod:`lab.data_quality` (no style check: these are plain assistant rows) and
duplicates of rows kept before it.

What to expect (:data:`CAVEAT`): a 135M model's own pairs teach it little. It can only restate what
it already does, often wrongly, and a filter checks form, not truth — the rows that survive are
well-formed, not correct. Synthetic data works when a stronger model teaches a weaker one.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass

from lab import chat, data_quality
from lab.errors import Msg

#: Seed tasks, written for the lab: one short instruction and its answer each, across task types.
SEEDS = (
    ("Give two tips for keeping a houseplant healthy.",
     "Water it only when the top of the soil feels dry, and keep it near a window with indirect light."),
    ('Translate "good luck" into Spanish.', '"Good luck" in Spanish is "buena suerte".'),
    ("What is 9 times 7?", "9 times 7 is 63."),
    ("Write a Python function that doubles a number.", "`def double(x): return 2 * x`"),
    ("Explain what a habitat is in one sentence.",
     "A habitat is the natural home of an animal or plant, where it finds food, water and shelter."),
    ("Name three colours of the rainbow.", "Red, orange and yellow are three colours of the rainbow."),
    ("Rewrite politely: \"Move your bag.\"", "Could you please move your bag?"),
    ('Summarise: "The bakery sold out of bread by noon because of a school fair."',
     "A school fair made the bakery sell out of bread by noon."),
)

CAVEAT = Msg(
    "synthetic.caveat",
    "A 135M model's own data teaches it little: it restates what it already does, often wrongly, and the "
    "filters check form, not truth. Alpaca's 52K pairs came from a 175B model teaching a 7B one.",
)

#: The sampling that writes the candidates: varied enough to give new pairs, not so hot they fall apart.
DECODING = chat.Decoding(max_new_tokens=96, do_sample=True, temperature=0.9, top_p=0.95)
#: Filters for generated rows: no style (plain assistant answers); short answers allowed ("63.").
FILTERS = data_quality.Filters(style=None, min_words=2, max_words=100)
INSTRUCTION, RESPONSE = "Instruction:", "Response:"


def prompt(seeds) -> str:
    """The text the model continues: ``seeds`` as instruction / response pairs, then a new "Instruction:"."""
    shown = "\n\n".join(f"{INSTRUCTION} {q}\n{RESPONSE} {a}" for q, a in seeds)
    return f"{shown}\n\n{INSTRUCTION}"


#: "Instruction: ... Response: ...", the response running to a blank line, the next instruction, a
#: special token (<|im_end|>) or the end.
_PAIR = re.compile(r"Instructions?:\s*(?P<q>.+?)\s*Response:\s*(?P<a>.+?)\s*(?:\n\s*\n|Instructions?:|<\||\Z)",
                   re.S | re.I)


def parse(text: str) -> tuple[str, str] | None:
    """The first (instruction, response) the text holds — ``Instruction: ... Response: ...``, the
    response up to a blank line, the next instruction or a special token — or None when there is none,
    or either part is empty."""
    m = _PAIR.search(text)
    if m is None:
        return None
    q, a = m.group("q").strip(), m.group("a").strip()
    return (q, a) if q and a else None


@dataclass
class SyntheticRow:
    """One generated candidate: what the model wrote, the pair parsed from it, and the verdict."""

    index: int  # 0-based, in the order generated
    text: str  # the model's raw reply
    chat: list[dict] | None  # the parsed pair as messages (None: nothing to parse)
    reason: Msg | None  # why it was dropped (None: kept); codes synthetic.* or quality.*

    @property
    def kept(self) -> bool:
        return self.reason is None


def synthesize(texts, filters: data_quality.Filters = FILTERS, seeds=SEEDS):
    """Judge generated ``texts`` one by one, yielding a :class:`SyntheticRow` for each as it comes.

    A text is dropped when it holds no pair (``synthetic.unparsed``), when its pair nearly repeats a
    seed (``synthetic.copies_seed``: the model copied its example), when the pair fails a per-row
    filter (``quality.*``, :func:`lab.data_quality.row_problem`) or duplicates a pair kept before it."""
    known = data_quality.Deduper(filters.near_duplicate)
    for k, (q, a) in enumerate(seeds):
        known.add(k, q, a)
    kept = data_quality.Deduper(filters.near_duplicate)
    for i, text in enumerate(texts):
        pair = parse(text)
        if pair is None:
            yield SyntheticRow(i, text, None, Msg("synthetic.unparsed",
                                                  "no “Instruction: … Response: …” pair in the text"))
            continue
        q, a = pair
        messages = [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        reason = None
        copy = known.check(q, a)
        if copy is not None:
            reason = Msg("synthetic.copies_seed", "repeats seed task {seed} ({similarity:.0%} of words shared)",
                         seed=copy.params["row"], similarity=copy.params.get("similarity", 1.0))
        if reason is None:
            reason = data_quality.row_problem(q, a, filters)
        if reason is None and filters.dedupe:
            reason = kept.check(q, a)
        if reason is None:
            kept.add(i, q, a)
        yield SyntheticRow(i, text, messages, reason)


def candidates(model, tokenizer, n: int, shots: int = 3, seed: int = 0, decoding: chat.Decoding = DECODING,
               seeds=SEEDS, stop: threading.Event | None = None):
    """Yield ``n`` sampled continuations of :func:`prompt` (each with the opening "Instruction:" put
    back, so the text reads as parsed), each showing ``shots`` seeds drawn at random.

    ``seed`` fixes the seeds shown and the sampling (torch's generator), so a run can be repeated.
    Generation ends between replies once ``stop`` is set, or when the consumer stops reading."""
    import torch

    rng = random.Random(seed)
    torch.manual_seed(seed)
    for _ in range(n):
        if stop is not None and stop.is_set():
            return
        shown = rng.sample(list(seeds), min(shots, len(seeds)))
        text = chat.continuation(model, tokenizer, [{"role": "user", "content": prompt(shown)}], decoding)
        yield f"{INSTRUCTION}{text}"


def generate(model, tokenizer, n: int = 8, shots: int = 3, seed: int = 0, decoding: chat.Decoding = DECODING,
             filters: data_quality.Filters = FILTERS, stop: threading.Event | None = None):
    """Generate ``n`` candidate pairs with ``model`` and judge each as it appears: yields
    :class:`SyntheticRow` (works with any causal LM and its tokenizer, e.g. a tiny test model)."""
    yield from synthesize(candidates(model, tokenizer, n, shots, seed, decoding, stop=stop), filters)


def summary(rows) -> dict[str, int]:
    """Rows kept, and rows dropped per reason code: ``{"kept": 3, "synthetic.unparsed": 2, ...}``."""
    out: dict[str, int] = {"kept": 0}
    for row in rows:
        key = "kept" if row.kept else row.reason.code
        out[key] = out.get(key, 0) + 1
    return out
