"""Synthetic SFT data (lecture §3): the model writes new instruction / response pairs from a few seed
tasks, and the lab's filters decide which to keep.

Self-Instruct and Alpaca in miniature. Alpaca asked a large model (175B) for 52K pairs from 175 seed
tasks; here the bundled model is shown ``shots`` of the :data:`SEEDS` (written for the lab) in the
form ::

    Instruction: Translate "good luck" into Spanish.
    Response: "Good luck" in Spanish is "buena suerte".

and asked, through its chat template, for one more. Each reply is sampled (temperature and top-p:
greedy decoding would write the same pair every time), parsed into one pair (:func:`parse`) and
checked as it appears (:func:`synthesize`): unparsable text, a copy of a seed, the per-row filters
of :mod:`lab.data_quality` (no style check: these are plain assistant rows) and duplicates of
rows kept before it.

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


def request(seeds) -> str:
    """The user message that asks for one new pair, showing ``seeds`` as examples."""
    shown = "\n\n".join(f"{INSTRUCTION} {q}\n{RESPONSE} {a}" for q, a in seeds)
    return (f"Here are examples of tasks for an assistant, each with a good response:\n\n{shown}\n\n"
            f"Write one new, different task and its response in the same format, starting with "
            f'"{INSTRUCTION}".')


_PAIR = re.compile(rf"{INSTRUCTION}\s*(?P<q>.+?)\s*{RESPONSE}\s*(?P<a>.+?)\s*(?:{INSTRUCTION}|<\||\Z)",
                   re.S | re.I)


def parse(text: str) -> tuple[str, str] | None:
    """The first (instruction, response) the text holds — ``Instruction: ... Response: ...``, up to the
    next instruction or special token — or None when there is none, or either part is empty."""
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
    """Yield ``n`` sampled replies to :func:`request`, each showing ``shots`` seeds drawn at random.

    ``seed`` fixes the seeds shown and the sampling (torch's generator), so a run can be repeated.
    Generation ends between replies once ``stop`` is set, or when the consumer stops reading."""
    import torch

    rng = random.Random(seed)
    torch.manual_seed(seed)
    for _ in range(n):
        if stop is not None and stop.is_set():
            return
        shown = rng.sample(list(seeds), min(shots, len(seeds)))
        yield chat.answer(model, tokenizer, [{"role": "user", "content": request(shown)}], decoding)


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
