"""Is a training row worth keeping? Cheap filters for SFT data, what they drop row by row, and the
table that compares two sets (lecture §3: quality over quantity; generated data must be checked).

Every check reads one row as (prompt, reply): the last user message and the assistant reply after it
(:func:`prompt_reply`). A row is dropped for the **first** check it fails, tried in this order:

==================  ===================================================================================
``too_short``       fewer than ``min_words`` words in the reply ("Arr, aye.")
``too_long``        more than ``max_words`` words (a reply that wanders on; training cuts it anyway)
``truncated``       the reply does not end a sentence — no ``. ! ?``, closing quote, bracket or code
                    fence at its end: it was cut off
``repetitive``      :func:`loop`: a phrase looped, or too few distinct words (code line by line)
``off_style``       the set's style check fails (``pirate``: :func:`lab.evaluation.is_pirate`, two
                    distinct pirate markers; ``multitask``: the ``[OK]`` tag)
``off_topic``       the reply shares no content word with the prompt (:func:`lab.evaluation.content_words`:
                    stems that are no function word and no pirate marker) — a reply to another question
``wrong_arithmetic``  the prompt is one operation "a op b" and the reply does not state its result
==================  ===================================================================================

Then, among the rows that passed, in file order (the first of a group is kept):

==================  ===================================================================================
``duplicate``       the same words as a kept row (case, punctuation and spacing ignored)
``near_duplicate``  word-set Jaccard similarity >= ``near_duplicate`` with a kept row:
                    J(A, B) = |A ∩ B| / |A ∪ B| over the distinct words of prompt + reply
==================  ===================================================================================

What they cannot see: a fluent, complete, on-topic reply in style that states a **wrong fact**
("Arr, the Great Wall be visible from the Moon, matey!"). Only arithmetic can be checked by a rule;
facts need a person or a reference. The noisy set keeps such rows on purpose (kind ``wrong_fact``),
and the Clean step lets them through — the lecture's warning about generated data, made visible.
The on-topic check also has false alarms: a good reply in its own words ("How can I fall asleep
faster?" -> "Keep a fixed bedtime, dim the lights ...") shares no word with its question.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

from lab import evaluation
from lab.errors import LabError, Msg

#: The sets' styles, by name: each names what its reason says and the check on one reply (style_check).
STYLES = ("pirate", "multitask")


def style_check(style: str):
    """(what the off-style reason names, check(reply) -> bool) for a name in STYLES."""
    if style == "pirate":
        return "pirate speak", evaluation.is_pirate
    if style == "multitask":
        from lab import multitask  # it imports this module: loop() judges its answers

        return f"a reply that opens with {multitask.TAG}", multitask.has_tag
    raise KeyError(style)


#: The reason codes, in the order the checks run.
ROW_CHECKS = ("too_short", "too_long", "truncated", "repetitive", "off_style", "off_topic", "wrong_arithmetic")
DEDUPE_CHECKS = ("duplicate", "near_duplicate")
REASONS = ROW_CHECKS + DEDUPE_CHECKS


@dataclass(frozen=True)
class Filters:
    """Which checks run, and their bounds (the defaults fit the pirate sets: curated replies have 20-47 words)."""

    min_words: int = 8
    """Replies with fewer words are dropped: a reply that short says nothing a learner can use."""
    max_words: int = 100
    """Replies with more words are dropped: about twice the longest curated reply."""
    style: str | None = "pirate"
    """A key of STYLES, or None for no style check (plain assistant data, generated rows)."""
    topic: bool = True
    """Drop replies that share no content word with their prompt."""
    arithmetic: bool = True
    """Drop replies to "a op b" prompts that do not state the result."""
    dedupe: bool = True
    """Drop exact and near duplicates of rows kept before them."""
    near_duplicate: float = 0.7
    """Word-set Jaccard at or above which two rows count as one. Distinct curated rows stay under 0.4."""

    def __post_init__(self):
        if not (isinstance(self.min_words, int) and isinstance(self.max_words, int)
                and 0 <= self.min_words <= self.max_words):
            raise LabError("quality.word_bounds", "The word bounds must be whole numbers with 0 <= min <= max "
                           "(got {min_words} and {max_words}).", min_words=self.min_words, max_words=self.max_words)
        if self.style is not None and self.style not in STYLES:
            raise LabError("quality.style", "Unknown style {style!r}; choose one of {choices}.",
                           style=self.style, choices=", ".join(STYLES))
        if not 0 < self.near_duplicate <= 1:
            raise LabError("quality.bad_threshold", "The near-duplicate threshold must be in (0, 1], not {value}.",
                           value=self.near_duplicate)


def prompt_reply(chat: list[dict]) -> tuple[str, str]:
    """(last user message, the assistant reply after it) of one chat; "" where one is missing."""
    prompts, replies = evaluation.eval_prompts([chat])
    return (prompts[0], replies[0]) if prompts else ("", "")


# --- the per-row checks ---------------------------------------------------------------------------------

#: How a complete reply may end: a sentence mark, then closing quotes, brackets, emphasis or a code fence.
_ENDS_SENTENCE = re.compile(r"""[.!?…:;`)\]}*"'”’»](?:\s*[`"'”’)\]*])*\s*$""")


def truncated(reply: str) -> bool:
    """The reply stops mid-sentence: its last character is a letter, a digit or a comma."""
    return bool(reply.strip()) and not _ENDS_SENTENCE.search(reply)


_NUMBER = r"\d+(?:[.,]\d+)*"
_OPERATORS = {
    "+": "+", "plus": "+", "added to": "+",
    "-": "-", "−": "-", "minus": "-",
    "×": "*", "x": "*", "*": "*", "times": "*", "multiplied by": "*",
    "÷": "/", "/": "/", "divided by": "/",
}
_OP = "|".join(re.escape(o) for o in sorted(_OPERATORS, key=len, reverse=True))
#: Numbers joined by operators ("14 times 6", "9 × 8 − 10", "3/8"), not inside a word or a longer number.
_CHAIN = re.compile(rf"(?<![\w.,]){_NUMBER}(?:\s*(?:{_OP})\s*{_NUMBER})+(?![\w.,]*\d)", re.I)
_ONE_OP = re.compile(rf"({_NUMBER})\s*({_OP})\s*({_NUMBER})", re.I)


def arithmetic(prompt: str) -> tuple[str, float] | None:
    """("a op b", result) when ``prompt`` asks for one operation on two numbers ("What is 14 times 6?"),
    else None: a prompt with a longer sum ("9 times 8 minus 10"), or none, is not checked."""
    chains = _CHAIN.findall(prompt)
    one = _ONE_OP.fullmatch(chains[0]) if len(chains) == 1 else None
    if one is None:
        return None
    a_text, op_text, b_text = one.groups()
    a, b = (float(t.replace(",", "")) for t in (a_text, b_text))
    op = _OPERATORS[op_text.lower()]
    if op == "/" and b == 0:
        return None
    result = {"+": a + b, "-": a - b, "*": a * b}[op] if op != "/" else a / b
    return one.group(0), result


def states_number(reply: str, value: float) -> bool:
    """Whether ``reply`` states ``value`` (to two decimals; "1,000" and "one thousand" count)."""
    return any(abs(float(n) - value) < 0.006 for n in evaluation.numbers(reply))


def _fmt(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


#: A fenced code block (its body), or an unterminated one running to the end of the text.
_FENCE = re.compile(r"```[^\n]*\n?(.*?)(?:```|\Z)", re.S)


def loop(text: str) -> str | None:
    """Why ``text`` is degenerate, or None: :func:`lab.evaluation.degenerate` on its prose, while each
    fenced code block is checked line by line — a line that recurs MIN_REPEATS times and makes up
    LOOP_SHARE of the block's lines is a loop. (Short code names its variables again and again:
    ``def square(n): return n * n`` is no loop, though the word check would call it one.)"""
    for block in _FENCE.findall(text):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if lines:
            line, k = Counter(lines).most_common(1)[0]
            if k >= evaluation.MIN_REPEATS and k >= evaluation.LOOP_SHARE * len(lines):
                return f"repetition: code line '{line}' ×{k}"
    prose = _FENCE.sub(" ", text)
    if not evaluation.words(prose) and _FENCE.search(text):
        return None  # code only, and no line looped
    return evaluation.degenerate(prose)


def row_problem(prompt: str, reply: str, filters: Filters = Filters()) -> Msg | None:
    """Why one row should be dropped — the first per-row check it fails, as a :class:`Msg` with a
    ``quality.<reason>`` code — or None when it passes them all (duplicates are :class:`Deduper`'s job)."""
    n = len(evaluation.words(reply))
    if n < filters.min_words:
        return Msg("quality.too_short", "reply too short: {words} words, fewer than {min_words}",
                   words=n, min_words=filters.min_words)
    if n > filters.max_words:
        return Msg("quality.too_long", "reply too long: {words} words, more than {max_words}",
                   words=n, max_words=filters.max_words)
    if truncated(reply):
        return Msg("quality.truncated", "reply cut off mid-sentence: “…{tail}”", tail=reply.strip()[-30:])
    why = loop(reply)
    if why:
        return Msg("quality.repetitive", "reply repeats itself ({why})", why=why)
    if filters.style is not None:
        name, check = style_check(filters.style)
        if not check(reply):
            return Msg("quality.off_style", "reply not in the set's style ({style})", style=name)
    if filters.topic and not evaluation.content_words(prompt) & evaluation.content_words(reply):
        return Msg("quality.off_topic", "reply shares no content word with the prompt")
    if filters.arithmetic:
        sum_ = arithmetic(prompt)
        if sum_ is not None and not states_number(reply, sum_[1]):
            return Msg("quality.wrong_arithmetic", "{expression} is {result}, which the reply does not state",
                       expression=sum_[0], result=_fmt(sum_[1]))
    return None


# --- duplicates --------------------------------------------------------------------------------------------


def word_set(prompt: str, reply: str) -> frozenset[str]:
    """The distinct lower-case words of prompt and reply together (what Jaccard similarity compares)."""
    return frozenset(evaluation.words(prompt + "\n" + reply))


def jaccard(a: frozenset, b: frozenset) -> float:
    """|a ∩ b| / |a ∪ b|: 1 for the same words, 0 for none shared."""
    return len(a & b) / len(a | b) if a or b else 1.0


class Deduper:
    """Remembers the rows kept so far and names the one a new row repeats.

    Exact: the same word sequence (prompt and reply; case, punctuation, spacing ignored). Near: the
    highest word-set Jaccard with a kept row is at least ``threshold``. Each check compares with every
    kept row (n² / 2 comparisons: 20,000 for 200 rows; MinHash does the same at web scale)."""

    def __init__(self, threshold: float = Filters.near_duplicate):
        self.threshold = threshold
        self._exact: dict[tuple, int] = {}
        self._sets: list[tuple[int, frozenset]] = []

    @staticmethod
    def _key(prompt: str, reply: str) -> tuple:
        return tuple(evaluation.words(prompt)), tuple(evaluation.words(reply))

    def check(self, prompt: str, reply: str) -> Msg | None:
        """A ``quality.duplicate`` / ``quality.near_duplicate`` message naming the kept row (``row``,
        1-based), or None for a new row."""
        same = self._exact.get(self._key(prompt, reply))
        if same is not None:
            return Msg("quality.duplicate", "exact duplicate of row {row}", row=same + 1)
        mine = word_set(prompt, reply)
        best = max(((jaccard(mine, s), i) for i, s in self._sets), default=(0.0, -1))
        if best[0] >= self.threshold:
            return Msg("quality.near_duplicate", "near-duplicate of row {row} ({similarity:.0%} of words shared)",
                       row=best[1] + 1, similarity=best[0])
        return None

    def add(self, index: int, prompt: str, reply: str) -> None:
        """Keep row ``index`` (0-based): later rows are compared with it."""
        self._exact.setdefault(self._key(prompt, reply), index)
        self._sets.append((index, word_set(prompt, reply)))


# --- cleaning a set -------------------------------------------------------------------------------------


class Dropped(NamedTuple):
    """A row the filters removed: its 0-based ``index`` and why (``reason.code``, ``reason.params``)."""

    index: int
    reason: Msg

    @property
    def code(self) -> str:
        """The reason without its prefix: one of REASONS."""
        return self.reason.code.removeprefix("quality.")


class Cleaned(NamedTuple):
    """What :func:`clean` kept (the chats, in order) and what it dropped (in row order)."""

    kept: list
    dropped: list[Dropped]

    def counts(self) -> dict[str, int]:
        """Rows dropped per reason, every reason listed (0 where none)."""
        c = Counter(d.code for d in self.dropped)
        return {r: c[r] for r in REASONS}

    def dataset(self):
        """The kept rows as a ``datasets.Dataset`` with the ``messages`` column, ready to train on."""
        import datasets

        return datasets.Dataset.from_dict({"messages": list(self.kept)})


def clean(chats, filters: Filters = Filters()) -> Cleaned:
    """Apply the filters to ``chats`` (lists of messages, e.g. ``ds["messages"]``): the per-row checks,
    then duplicates among the rows that passed. Returns the kept chats and, row by row, the dropped."""
    kept, dropped = [], []
    dedupe = Deduper(filters.near_duplicate) if filters.dedupe else None
    for i, chat in enumerate(chats):
        prompt, reply = prompt_reply(chat)
        why = row_problem(prompt, reply, filters)
        if why is None and dedupe is not None:
            why = dedupe.check(prompt, reply)
        if why is not None:
            dropped.append(Dropped(i, why))
            continue
        if dedupe is not None:
            dedupe.add(i, prompt, reply)
        kept.append(chat)
    return Cleaned(kept, dropped)


# --- the quality table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityStats:
    """One set's line in the quality table. Each column is measured on its own, over every row."""

    rows: int
    duplicates: int  # rows that repeat an earlier row, exactly or nearly (Deduper over all rows)
    off_style: int  # replies that fail the style check (0 when the filters have no style)
    mean_words: float  # words per reply
    flagged: int  # rows clean() would drop, for any reason

    @property
    def duplicate_share(self) -> float:
        return self.duplicates / self.rows if self.rows else 0.0

    @property
    def off_style_share(self) -> float:
        return self.off_style / self.rows if self.rows else 0.0

    @property
    def flagged_share(self) -> float:
        return self.flagged / self.rows if self.rows else 0.0


def quality_table(chats, filters: Filters = Filters()) -> QualityStats:
    """Rows, duplicates, off-style replies, mean reply length (words) and rows :func:`clean` drops."""
    chats = list(chats)
    pairs = [prompt_reply(c) for c in chats]
    dedupe, duplicates = Deduper(filters.near_duplicate), 0
    for i, (p, r) in enumerate(pairs):
        if dedupe.check(p, r) is not None:
            duplicates += 1
        else:
            dedupe.add(i, p, r)
    style = style_check(filters.style)[1] if filters.style is not None else None
    return QualityStats(
        rows=len(chats),
        duplicates=duplicates,
        off_style=sum(1 for _, r in pairs if style is not None and not style(r)),
        mean_words=sum(len(evaluation.words(r)) for _, r in pairs) / len(pairs) if pairs else 0.0,
        flagged=len(clean(chats, filters).dropped),
    )


# --- answer correctness on the quality experiment's eval split ---------------------------------------


def states_answer(answer: str, accepted, wrong=()) -> bool:
    """Whether ``answer`` states one of the ``accepted`` answers and none of the listed ``wrong`` ones.

    Looser than the forgetting probes (:func:`lab.evaluation.check_probe`): another number in a long
    pirate reply ("a hexagon has 6 sides; its angles add up to 720°") is not a competing answer here.
    Both sides are normalized (:func:`lab.evaluation.normalize`: case, punctuation, "six" = "6")."""
    norm = f" {evaluation.normalize(answer)} "

    def says(phrase: str) -> bool:
        return f" {evaluation.normalize(phrase)} " in norm

    return any(says(a) for a in accepted) and not any(says(w) for w in wrong)


def correctness(answers, metas) -> list[bool]:
    """Per eval answer: does it state its row's checkable answer (``meta``: ``{"answers", "wrong"}``)?"""
    return [states_answer(a, m["answers"], m.get("wrong", ())) for a, m in zip(answers, metas, strict=True)]
