"""Did training teach the behaviour, and did the model forget what it knew?

Three measurements, each taken on the base model (adapter off) and on the adapted model:

* **Behaviour score**: the share of held-out prompts (the dataset's ``eval`` split, never trained on)
  whose answer is judged to show the behaviour by :func:`judge`. An answer passes only if all three hold:

  1. *style*: ``pirate``: at least two distinct pirate markers ("arr", "matey", "ye", "savvy", ...);
     ``json``: the whole answer parses as ``{"answer": <text>, "confidence": <number in [0, 1]>}``;
  2. *not degenerate* (:func:`degenerate`): no phrase looped over and over, enough distinct words.
     A few training steps teach a small model the markers before anything else, and it then
     answers "Ahoy, matey! Ahoy, matey! Ahoy, matey! ..." — style without content;
  3. *answers the prompt* (:func:`addresses`): it shares a content word with the prompt or with the
     reference answer, or has at least MIN_CONTENT_WORDS content words of its own (style and
     nautical filler not counted). A cheap check: it cannot tell a right answer from a wrong one,
     nor a long fluent answer to another question, but it fails answers that are only markers and
     filler ("Arr matey, ye be askin' a fine question, savvy?"). For ``json`` the checks 2 and 3
     apply to the ``"answer"`` field.

* **Forgetting check**: :data:`PROBES`, a fixed set of general-knowledge questions written for the lab
  (``lab/datasets/probes.jsonl``, in no training split), each with short checkable answers. An answer
  is right when an accepted form appears and no competing candidate does (:func:`check_probe`): a
  fine-tune that breaks them has overwritten knowledge (the catastrophic forgetting PEFT reduces).
  Probe accuracy = right answers / probes, before and after.

* **General-text loss**: mean next-token cross-entropy (nats/token) of the base model's own kind of
  text — a plain-English general-knowledge passage written for the lab
  (``lab/datasets/general_text.txt``). Unlike the probes it needs no generation and no matching, so
  it moves smoothly: a rise after training means the adapter changed what the model predicts on
  text that has nothing to do with the training data.

Answers are greedy (reproducible), so the base model's evaluation is computed once per (model,
quantization, dataset, prompts, decoding): cached in memory and in a small JSON file in the model
cache directory, so a server computes it once, not once per process.

Generation and the loss are computed in fp32 (:func:`float32_arithmetic`), so an answer does not
depend on which prompts share its batch.

**The probe set** (48 questions): written for the lab as 164 candidates; 12 were dropped because a
training split teaches the fact (e.g. "When did the First World War start?" in the json set); the
bundled base model answered about 80 of the rest right, and 48 of those were kept, spread over
capitals, counting, arithmetic, people, science, languages and everyday words (passes by luck, like
"Europa, Saturn's moon" for the ringed planet, left out). The probes measure what training *takes
away*, so they start from what the model knows: its accuracy on them is high by construction, and
recorded, not assumed: **48 / 48 = 1.000** for the bundled
SmolLM2-135M-Instruct in NF4, adapter-free, greedy, 24 new tokens, on the lab's 2-core AVX512-BF16
CPU, measured with ``HF_HUB_OFFLINE=1 .venv/bin/python bench/probe_baseline.py``
(``tests/test_evaluation.py`` floors it at 0.85). In bf16 arithmetic the same probes scored 45 / 48:
three answers changed with the batch alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch

from lab import chat, fused, models
from lab.errors import Msg

DATA_DIR = Path(__file__).resolve().parent / "datasets"
PROBES_FILE = DATA_DIR / "probes.jsonl"
GENERAL_TEXT_FILE = DATA_DIR / "general_text.txt"

# --- style: pirate markers and the JSON shape --------------------------------------------------------

#: Words and phrases no plain assistant uses, but every bundled pirate answer does (word-bounded, any case).
PIRATE_MARKERS = (
    "arr", "arrr", "ahoy", "matey", "mateys", "aye", "ye", "yer", "me hearty", "hearties", "landlubber",
    "landlubbers", "savvy", "scallywag", "scallywags", "avast", "shiver me timbers", "grog", "booty",
    "doubloons", "cap'n", "yo ho", "'em", "seadog", "buccaneer", "plunder", "me treasure", "ol'",
)
_PIRATE_RE = re.compile(r"(?<![\w'])(" + "|".join(re.escape(m) for m in sorted(PIRATE_MARKERS, key=len, reverse=True)) + r")(?![\w'])", re.I)


def pirate_markers(text: str) -> set[str]:
    """The distinct pirate markers in ``text`` (lower case)."""
    return {m.group(1).lower() for m in _PIRATE_RE.finditer(text)}


def is_pirate(text: str) -> bool:
    """Pirate speak: at least two distinct pirate markers ("Arr, matey!" alone is two).

    Style only: :func:`judge` also checks that the answer is not a loop and answers the prompt."""
    return len(pirate_markers(text)) >= 2


def json_answer(text: str) -> dict | None:
    """The parsed ``{"answer": str, "confidence": number in [0, 1]}`` (code fences allowed), else None."""
    s = text.strip()
    if s.startswith("```"):
        s = s.strip("`").removeprefix("json").strip()
    try:
        obj = json.loads(s)
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("answer"), str):
        return None
    c = obj.get("confidence")
    if not (isinstance(c, (int, float)) and not isinstance(c, bool) and 0 <= c <= 1):
        return None
    return obj


def is_json_answer(text: str) -> bool:
    """The whole answer is ``{"answer": str, "confidence": number in [0, 1]}`` (code fences allowed)."""
    return json_answer(text) is not None


# --- words ------------------------------------------------------------------------------------------

_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)*")

#: English function words (and pirate speak's "be"): they say nothing about what an answer is about.
STOPWORDS = frozenset("""
a about above after again against all also am an and any are aren't as at be because been before being
below between both but by can can't could did didn't do does doesn't doing don't down during each even
ever every few for from further get gets got had has have having he her here hers herself him himself his
how i if in into is isn't it it's its itself just keep let let's like make makes many may me more most
much must my myself no nor not now of off often on once one only or other our ours out over own per
quite rather really same say says she should so some such than that that's the their theirs them then
there there's these they this those through thus to too under until up upon us use used very was wasn't
way we well were what what's when where which while who whom why will with within without would you
your yours yourself tell please thing things know need want just sure yes yeah okay ok great good fine
question answer ask asking o' me thee thou tis 'tis
""".split())


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` (letters, digits, inner apostrophes: "don't", "cap'n")."""
    return _WORD_RE.findall(text.lower().replace("\u2019", "'"))


def stem(word: str) -> str:
    """A crude stem, enough to match "vaccines"/"vaccine", "making"/"make", "pullin'"/"pulling":
    drop one common suffix (when three letters remain), then a final "e"."""
    w = word.strip("'")
    if w.endswith("in") and word.endswith("in'"):  # pirate speak drops the g: pullin' -> pulling
        w += "g"
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("es") and w[:-2].endswith(("s", "x", "z", "ch", "sh")):
        w = w[:-2]
    else:
        for suffix in ("ing", "ed", "ly", "s"):
            if w.endswith(suffix) and not w.endswith("ss") and len(w) - len(suffix) >= 3:
                w = w[: -len(suffix)]
                break
    return w[:-1] if w.endswith("e") and len(w) > 3 else w


_MARKER_WORDS = frozenset(w for m in PIRATE_MARKERS for w in words(m))


def content_words(text: str) -> set[str]:
    """Stems of the words that carry meaning: not function words, not pirate markers, 3+ letters or a number."""
    return {stem(w) for w in words(text)
            if w not in STOPWORDS and w not in _MARKER_WORDS and (len(w) >= 3 or w.isdigit())}


# --- degenerate answers -------------------------------------------------------------------------------

#: A phrase of 1-6 words repeated at least this often ...
MIN_REPEATS = 3
#: ... whose repeats cover at least this share of the answer's words is a loop.
LOOP_SHARE = 0.3
#: An answer of MIN_WORDS_FOR_DISTINCT words or more needs at least this share of distinct words.
MIN_DISTINCT_SHARE = 0.4
MIN_WORDS_FOR_DISTINCT = 10


def _repeats(seq: list[str], n: int) -> tuple[tuple[str, ...], int] | None:
    """The n-gram of ``seq`` with the most non-overlapping occurrences, and that count."""
    if len(seq) < n:
        return None
    counts = Counter(tuple(seq[i : i + n]) for i in range(len(seq) - n + 1))
    best = None
    for gram, c in counts.most_common():
        if c < MIN_REPEATS or (best and c <= best[1]):
            break
        occ, i = 0, 0  # non-overlapping occurrences ("a a a a" holds "a a" twice, not three times)
        while i <= len(seq) - n:
            if tuple(seq[i : i + n]) == gram:
                occ, i = occ + 1, i + n
            else:
                i += 1
        if best is None or occ > best[1]:
            best = (gram, occ)
    return best


def degenerate(text: str) -> str | None:
    """Why ``text`` is degenerate — a loop or too few distinct words — or None when it is not.

    * **repetition**: some phrase of n = 1..6 words occurs k >= MIN_REPEATS times (non-overlapping)
      and k·n >= LOOP_SHARE x the answer's words. Of the phrases that qualify, the one covering most
      words is named, the shortest on a tie: "Ahoy, matey! Ahoy, matey! ..." is "'ahoy matey' ×6".
      A single word counts only when it is no function word and no number (a fluent answer says
      "the" often, and "7 cubed be 7 × 7 × 7" is arithmetic, not a loop).
    * **too few distinct words**: distinct words / words < MIN_DISTINCT_SHARE, for answers of at least
      MIN_WORDS_FOR_DISTINCT words (fluent English answers of that length score 0.6 - 0.9).
    """
    ws = words(text)
    if not ws:
        return Msg("judge.empty", "empty answer")
    best = None  # (covered words, -n, gram, count)
    for n in range(1, 7):
        found = _repeats(ws, n)
        if found is None:
            continue
        gram, k = found
        if k < MIN_REPEATS or k * n < LOOP_SHARE * len(ws):
            continue
        if n == 1 and (gram[0] in STOPWORDS or not gram[0].isalpha()):
            continue  # "the" and "7" recur in fluent answers ("7 x 7 x 7 = 343")
        cand = (k * n, -n, gram, k)
        if best is None or cand[:2] > best[:2]:
            best = cand
    if best is not None:
        return Msg("judge.repetition", "repetition: '{gram}' ×{k}", gram=" ".join(best[2]), k=best[3])
    share = len(set(ws)) / len(ws)
    if len(ws) >= MIN_WORDS_FOR_DISTINCT and share < MIN_DISTINCT_SHARE:
        return Msg("judge.few_words", "too few distinct words ({pct:.0f} %)", pct=100 * share)
    return None


#: Nautical words pirate speak decorates any answer with: style, not content, when an answer shares
#: nothing with its prompt ("Ye be sailin' the seven seas with yer crew" is about no question).
NAUTICAL = frozenset(stem(w) for w in """
sea seas ship ships sail sails sailing sailor sailors crew treasure captain deck voyage port starboard
anchor parrot pirate pirates plank horizon tide island rum chest map seven high waters wind
""".split())
#: An answer sharing no content word with the prompt or the reference still addresses it when it has
#: this many distinct content words that are not nautical filler: a substantive answer in its own words.
MIN_CONTENT_WORDS = 6


def addresses(answer: str, prompt: str, reference: str | None = None) -> bool:
    """Does ``answer`` speak about the prompt, as far as a cheap check can tell? Either

    * it shares a content word (:func:`content_words`: a stem that is no function word and no pirate
      marker) with the prompt or with the reference answer: an on-topic answer names something the
      question or a good answer names ("eggs", "git", "72"); or
    * it has at least MIN_CONTENT_WORDS distinct content words besides the NAUTICAL filler: an answer
      with that much substance, phrased in its own words ("How can I stop impulse buying?" ->
      "Try a 24-hour rule ... unsubscribe from shop emails ..." shares no word with the question).

    It fails answers that are only markers and filler ("Arr matey, ye be askin' a fine question,
    savvy?"). What it cannot see: a wrong answer about the right thing, or a long fluent answer to
    another question (judging correctness is the forgetting check's job, not the behaviour's)."""
    mine = content_words(answer)
    if mine & content_words(prompt) or (reference and mine & content_words(reference)):
        return True
    return len(mine - NAUTICAL) >= MIN_CONTENT_WORDS


# --- the verdict on one answer -------------------------------------------------------------------------


@dataclass
class Verdict:
    """Whether an answer passed, and why, in short human phrases ("pirate markers: arr, matey")."""

    passed: bool
    reasons: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return ("✓ " if self.passed else "✗ ") + "; ".join(self.reasons)


def _content_checks(text: str, prompt: str, reference: str | None, reasons: list[str]) -> bool:
    ok = True
    why = degenerate(text)
    if why:
        reasons.append(why)
        ok = False
    if not addresses(text, prompt, reference):
        reasons.append(Msg("judge.off_prompt", "does not address the prompt"))
        ok = False
    return ok


def judge_pirate(prompt: str, answer: str, reference: str | None = None) -> Verdict:
    """Pirate speak (two distinct markers), not degenerate, and about the prompt (module docstring)."""
    found = pirate_markers(answer)
    reasons = [Msg("judge.markers", "pirate markers: {found}", found=", ".join(sorted(found))) if found
               else Msg("judge.no_markers", "no pirate markers")]
    style = len(found) >= 2
    if found and not style:
        reasons[0] = Msg("judge.one_marker", "only one pirate marker ({marker})", marker=next(iter(found)))
    ok = _content_checks(answer, prompt, reference, reasons)
    return Verdict(style and ok, reasons)


def judge_json(prompt: str, answer: str, reference: str | None = None) -> Verdict:
    """The JSON shape; then its ``"answer"`` field is checked like any answer (not degenerate, on topic)."""
    obj = json_answer(answer)
    if obj is None:
        return Verdict(False, [Msg("judge.not_json", 'not {{"answer": ..., "confidence": 0-1}} JSON')])
    reasons = [Msg("judge.json_shape", "JSON shape (confidence {c:g})", c=obj["confidence"])]
    ref = json_answer(reference) if reference else None
    ok = _content_checks(obj["answer"], prompt, ref["answer"] if ref else reference, reasons)
    return Verdict(ok, reasons)


def judge_multitask(prompt: str, answer: str, reference: str | None = None) -> Verdict:
    """:func:`lab.multitask.judge_multitask` (imported when called: that module imports this one)."""
    from lab import multitask

    return multitask.judge_multitask(prompt, answer, reference)


_PIRATE = Msg("judge.pirate", "answers in pirate speak that answer the prompt")
SCORERS = {
    "pirate": (_PIRATE, judge_pirate),
    "json": (Msg("judge.json", 'answers as {{"answer": ..., "confidence": ...}} that answer the prompt'), judge_json),
    # the experiments' sets: the pirate behaviour (quality vs quantity), the [OK] tag (zero-shot)
    "pirate_curated": (_PIRATE, judge_pirate),
    "pirate_noisy": (_PIRATE, judge_pirate),
    "multitask": (Msg("judge.multitask", "answers that open with [OK] and answer the prompt"), judge_multitask),
}


def scorer_for(dataset: str):
    """(description, judge(prompt, answer, reference) -> Verdict) for a bundled dataset, None for an upload."""
    return SCORERS.get(dataset)


def judge(dataset: str, prompt: str, answer: str, reference: str | None = None) -> Verdict | None:
    """The verdict on one answer for ``dataset``'s behaviour; None for an uploaded dataset (no known behaviour)."""
    scorer = scorer_for(dataset)
    return scorer[1](prompt, answer, reference) if scorer else None


# --- the forgetting probes -------------------------------------------------------------------------------

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if w != "_"}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}


#: "one" is a pronoun, not a number, after these words ("the one", "each one") and before these ("one of
#: them", "one that", "one another"): "a triangle is formed by three lines, one of which ..." states no 1.
_ONE_AFTER = frozenset("the each every any no this that which such a an another someone".split())
_ONE_BEFORE = frozenset("of that which who whose another must should can could might may would will".split())


def _pronoun_one(tokens: list[str], i: int) -> bool:
    return tokens[i] == "one" and (
        (i > 0 and tokens[i - 1] in _ONE_AFTER) or (i + 1 < len(tokens) and tokens[i + 1] in _ONE_BEFORE))


def _words_to_digits(tokens: list[str]) -> list[str]:
    """Replace runs of number words by their digits: "twenty four" -> "24", "one hundred and six" -> "106"
    (but "one" as a pronoun stays a word: :data:`_ONE_AFTER`)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if (tokens[i] not in _UNITS and tokens[i] not in _TENS) or _pronoun_one(tokens, i):
            out.append(tokens[i])
            i += 1
            continue
        total, current, j = 0, 0, i
        while j < len(tokens):
            t = tokens[j]
            if t in _UNITS:
                current += _UNITS[t]
            elif t in _TENS:
                current += _TENS[t]
            elif t in _SCALES and j > i:
                current = max(current, 1) * _SCALES[t]
                if _SCALES[t] >= 1000:
                    total, current = total + current, 0
            elif t == "and" and j + 1 < len(tokens) and j > i and tokens[j - 1] in _SCALES and (
                    tokens[j + 1] in _UNITS or tokens[j + 1] in _TENS):
                pass
            else:
                break
            j += 1
        out.append(str(total + current))
        i = j
    return out


def normalize(text: str) -> str:
    """Lower case, number words as digits, thousands separators dropped, punctuation as spaces:
    "Seven days." -> "7 days"; "1,000 grams" -> "1000 grams"; "Paris!" -> "paris"."""
    s = text.lower().replace("\u2019", "'")
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)  # 1,000 -> 1000
    s = re.sub(r"(?<=\d)\.(?=\d)", "\0", s)  # keep decimal points: 3.5
    s = re.sub(r"[^a-z0-9\0]+", " ", s).replace("\0", ".")
    return " ".join(_words_to_digits(s.replace("-", " ").split()))


def numbers(text: str) -> set[str]:
    """The numbers stated in ``text``, normalized ("seven" and "7" are both "7")."""
    return set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", normalize(text)))


def _has(normalized: str, phrase: str) -> bool:
    return re.search(r"(?<![\w.])" + re.escape(normalize(phrase)) + r"(?![\w.])", normalized) is not None


@dataclass(frozen=True)
class Probe:
    """A general-knowledge question with its accepted answers and, optionally, known wrong ones."""

    question: str
    answers: tuple[str, ...]
    wrong: tuple[str, ...] = ()

    @property
    def numeric(self) -> bool:
        """A question whose answer is a number: then any other number is a competing answer."""
        return all(re.fullmatch(r"\d+(?:\.\d+)?", normalize(a)) for a in self.answers)


def check_probe(probe: Probe, answer: str) -> Verdict:
    """Right when an accepted form appears and no competing candidate does.

    Both sides are normalized (:func:`normalize`: case, punctuation, "seven" = "7"). A competing
    candidate is one of the probe's listed ``wrong`` forms, and for a numeric question any other number
    that is not in the question itself ("What is 5 times 3?" may repeat 5 and 3). So "3^3 = 27 sides"
    for a triangle fails (27), "30 days be 30 days in a week" fails (no 7, and 30), and an answer that
    hedges between two answers fails: a fact is known when it is stated alone.
    """
    norm = normalize(answer)
    found = [a for a in probe.answers if _has(norm, a)]
    rivals = [w for w in probe.wrong if _has(norm, w)]
    if probe.numeric:
        allowed = {normalize(a) for a in probe.answers} | numbers(probe.question)
        rivals += sorted(numbers(answer) - allowed, key=float)
    if not found:
        return Verdict(False, [Msg("probe.missing", "no {answer!r}", answer=probe.answers[0])]
                       + ([Msg("probe.says", "says {what}", what=", ".join(rivals))] if rivals else []))
    if rivals:
        return Verdict(False, [Msg("probe.but_also", "{found!r} but also {rivals}", found=found[0],
                                   rivals=", ".join(rivals))])
    return Verdict(True, [Msg("probe.says", "says {what}", what=repr(found[0]))])


def is_correct(answer: str, accepted, wrong=(), question: str = "") -> bool:
    """Whether ``answer`` states one of the ``accepted`` answers and no competitor (see :func:`check_probe`)."""
    return check_probe(Probe(question, tuple(accepted), tuple(wrong)), answer).passed


def load_probes(path: str | os.PathLike = PROBES_FILE) -> tuple[Probe, ...]:
    """The probe set: one JSON object per line, ``{"question", "answers": [...], "wrong": [...]}``."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                out.append(Probe(row["question"], tuple(row["answers"]), tuple(row.get("wrong", ()))))
    return tuple(out)


#: The forgetting probes (see the module docstring for the base model's accuracy on them).
PROBES = load_probes()
#: The old name: (question, accepted answers) pairs.
FORGETTING_QUESTIONS = tuple((p.question, p.answers) for p in PROBES)


# --- loss on general text --------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def general_text() -> str:
    """The held-out general-knowledge passage (plain English, written for the lab, in no training set)."""
    return GENERAL_TEXT_FILE.read_text(encoding="utf-8").strip()


def general_text_loss(model, tokenizer, text: str | None = None) -> float:
    """Mean next-token cross-entropy of ``text`` (default :func:`general_text`), in nats per token.

    loss = -(1 / (T - 1)) * sum_{t=2..T} log p(x_t | x_<t): the plain text, no chat template, one
    forward pass under ``torch.inference_mode()``, the 4-bit weights dequantized once and multiplied in
    fp32 (:func:`float32_arithmetic`), the model in its current adapter state (inside
    ``disable_adapter()`` that is the base). A model
    that knows such text predicts it well: 2.45 nats/token for the bundled NF4 base (e^2.45 ≈ 12 equally
    likely tokens; 353 tokens); the same words shuffled score far worse.
    """
    from lab.training import standard_attention

    ids = tokenizer(text if text is not None else general_text(), return_tensors="pt",
                    add_special_tokens=False)["input_ids"].to(model.device)
    was_training = model.training
    model.eval()
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        with float32_arithmetic(model), standard_attention(model), torch.inference_mode():
            logits = causal_lm(input_ids=ids, use_cache=False).logits[0, :-1].float()
            return torch.nn.functional.cross_entropy(logits, ids[0, 1:]).item()
    finally:
        model.train(was_training)


# --- exact arithmetic -------------------------------------------------------------------------------------


#: False: evaluate in the compute precision instead (bf16 where the CPU has it): about twice as fast,
#: but answers then depend on the batch (float32_arithmetic). bench/evaluation_time.py --compare.
EXACT_ARITHMETIC = True


@contextlib.contextmanager
def float32_arithmetic(model):
    """The model's own weights, multiplied in fp32, while the context lasts (generation, losses).

    Why: where the lab computes in bf16 (CPUs with AVX512-BF16, CUDA), every operation rounds to about
    3 significant digits, and a prompt's greedy answer then depends on which other prompts share its
    batch: the padding changes the attention kernel's order of summation, the rounding differs, and
    near-tied tokens flip (measured on the bundled NF4 model: 16 of 48 probe answers differed between
    batches of 8 and one prompt at a time; in fp32, 0 at batch 8, 16, 24 and 48). The values stay
    those training multiplies by — each 4-bit weight dequantized as training does it, then widened
    (bf16 -> fp32 is exact); other floating parameters (embeddings, norms, LoRA) are widened copies,
    put back when the context ends. Where the lab already computes in fp32 this changes nothing.
    Cost: about twice the time of bf16 arithmetic on the 2-core CPU, and the weights held in fp32.
    """
    if getattr(model, "_lab_float32", False):  # already inside: evaluate() wraps its generations and loss once
        yield model
        return
    if not EXACT_ARITHMETIC:
        with models.dequantized_base(model):
            model._lab_float32 = True
            try:
                yield model
            finally:
                model._lab_float32 = False
        return
    saved = []
    with models.dequantized_base(model, dtype=torch.float32), torch.no_grad():
        try:
            for mod in model.modules():
                for t in list(mod.parameters(recurse=False)) + list(mod.buffers(recurse=False)):
                    if t.is_floating_point() and t.dtype != torch.float32:
                        saved.append((t, t.data))
                        t.data = t.data.float()
            model._lab_float32 = True
            yield model
        finally:
            model._lab_float32 = False
            for t, data in saved:
                t.data = data


# --- generation -------------------------------------------------------------------------------------------

MAX_NEW_TOKENS = 48
#: Probe answers are short facts, stated first: at 24 new tokens every base answer already holds its
#: fact (bench/probe_baseline.py: no probe wrong at 24 tokens is right at 32 or 64), and later text
#: only adds chances to name a competitor.
PROBE_MAX_NEW_TOKENS = 24
#: Prompts generated together. Generating from the causal LM (not the PeftModel, see generate) keeps
#: only the last position's logits, so a batch costs little memory: the ~0.54 GB that evaluation holds
#: beyond the model is the fp32 copy of the weights (float32_arithmetic). Measured peak RSS over the
#: model, 48 probes from a peft model: +612 MB at batch 8, +665 at 16, +674 at 24, +739 at 48.
#: A generated token reads every fp32 weight once (~0.6 GB) whatever the batch, and the 2-core machine reads
#: them at ~6 GB/s: a token costs about the same for 16 prompts as for 32, so bigger batches mean fewer
#: tokens to wait for. The default run's 31 held-out prompts in one batch of 32 and the 48 probes in one:
#: 13.0 s + 12.3 s, against 15.0 s + 13.5 s at 16 and 24 (the same answers; 2 steps of training).
EVAL_BATCH = 32
PROBE_BATCH = 48
#: Seconds past a run's wall-clock cap that its evaluation may still take.
EVAL_GRACE_S = 180.0


def generate(model, tokenizer, prompts: list[str], max_new_tokens: int = MAX_NEW_TOKENS, deadline=None,
             on_batch=None, batch_size: int = EVAL_BATCH) -> list[str]:
    """Greedy answers to single-turn prompts, in left-padded batches of ``batch_size``.

    Prompts are batched in order of length (less padding to compute), answers returned in the order
    asked. Arithmetic is fp32 (:func:`float32_arithmetic`), so a padded prompt gets the same greedy
    answer as alone, whatever shares its batch.
    ``deadline`` (a :class:`lab.training.Deadline`) is checked before each batch and raises
    :class:`lab.training.Stopped`; ``on_batch(done, total)`` is called after each."""
    if not prompts:
        return []
    from lab.training import standard_attention

    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    was_training = model.training
    model.eval()
    # peft injects its LoRA layers into the base model, so the base model generates with the adapter (and
    # without it inside disable_adapter()). Generating from the PeftModel itself would compute the logits of
    # every prompt position: its forward() hides `logits_to_keep` from generate(), and a batch of 32
    # prompts then holds ~2 GB of logits instead of the last position's few MB.
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        answers: dict[int, str] = {}
        with float32_arithmetic(model), fused.merged_adapter(model), standard_attention(model), torch.inference_mode():
            for start in range(0, len(prompts), batch_size):
                if deadline is not None:
                    deadline.check(f"evaluating ({start} of {len(prompts)} answers)")
                idx = order[start : start + batch_size]
                got = chat.answer_batch(causal_lm, tokenizer, [prompts[i] for i in idx],
                                        chat.Decoding(max_new_tokens=max_new_tokens), batch_size=batch_size)
                answers.update(zip(idx, got))
                if on_batch is not None:
                    on_batch(len(answers), len(prompts))
        return [answers[i] for i in range(len(prompts))]
    finally:
        model.train(was_training)


# --- one evaluation -----------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """Answers to the held-out prompts and the probes, their verdicts, and the general-text loss."""

    prompts: list[str]
    references: list[str]
    answers: list[str]
    verdicts: list[Verdict] | None  # per answer (None: no scorer for this dataset)
    behaviour: str  # what the score counts
    questions: list[str] = field(default_factory=list)  # the probes' questions
    question_answers: list[str] = field(default_factory=list)  # the model's answers to them
    probe_verdicts: list[Verdict] = field(default_factory=list)
    general_loss: float | None = None  # nats/token on the general text (None: not measured)

    @property
    def hits(self) -> list[bool] | None:
        """Behaviour shown, per answer (None: no scorer for this dataset)."""
        return None if self.verdicts is None else [v.passed for v in self.verdicts]

    @property
    def score(self) -> float | None:
        """Behaviour score: share of the held-out answers that pass :func:`judge`."""
        return sum(self.hits) / len(self.hits) if self.verdicts else None

    @property
    def probe_correct(self) -> list[bool]:
        return [v.passed for v in self.probe_verdicts]

    @property
    def probe_accuracy(self) -> float:
        """Share of probes answered correctly (nan when none were asked)."""
        return sum(self.probe_correct) / len(self.probe_correct) if self.probe_verdicts else float("nan")

    # the old names
    correct = probe_correct
    retained = probe_accuracy


def score(dataset: str, prompts, references, answers, probe_answers=(), general_loss=None,
          probes: tuple[Probe, ...] | None = None) -> Evaluation:
    """Judge generated answers: the behaviour verdicts, the probes' verdicts, as an :class:`Evaluation`."""
    probes = PROBES if probes is None else probes
    scorer = scorer_for(dataset)
    verdicts = [scorer[1](p, a, r) for p, a, r in zip(prompts, answers, references)] if scorer else None
    probe_answers = list(probe_answers)
    probes = probes[: len(probe_answers)]
    return Evaluation(list(prompts), list(references), list(answers), verdicts,
                      scorer[0] if scorer else Msg("judge.none", "no behaviour score for an uploaded dataset"),
                      [p.question for p in probes], probe_answers,
                      [check_probe(p, a) for p, a in zip(probes, probe_answers)], general_loss)


def evaluate(model, tokenizer, dataset: str, prompts: list[str], references: list[str],
             max_new_tokens: int = MAX_NEW_TOKENS, forgetting: bool = True, deadline=None,
             on_progress=None) -> Evaluation:
    """Answer ``prompts`` (and, with ``forgetting``, the probes, and measure the general-text loss), then
    judge the answers (:func:`score`). The model is evaluated in its current adapter state.

    ``on_progress(done, total)`` is called after each generated batch; ``total`` counts the prompts and
    the probes."""
    prompts = list(prompts)
    qs = [p.question for p in PROBES] if forgetting else []
    total = len(prompts) + len(qs)

    def progress(offset):
        return None if on_progress is None else (lambda done, _n: on_progress(offset + done, total))

    with float32_arithmetic(model):  # the weights widened once for all three
        answers = generate(model, tokenizer, prompts, max_new_tokens, deadline, progress(0))
        q_answers = generate(model, tokenizer, qs, min(max_new_tokens, PROBE_MAX_NEW_TOKENS), deadline,
                             progress(len(prompts)), batch_size=PROBE_BATCH)
        loss = general_text_loss(model, tokenizer) if forgetting else None
    return score(dataset, prompts, references, answers, q_answers, loss)


# --- the base model's evaluation, cached ------------------------------------------------------------------

_base_cache: dict[str, Evaluation] = {}
_base_lock = threading.Lock()
CACHE_VERSION = 1
CACHE_FILES_KEPT = 64


def _model_identity(name: str | None) -> list:
    """What names the base model's weights: the resolved path or id, and a local directory's weight files."""
    path = models.resolve(name)
    files = []
    if Path(path).is_dir():
        files = sorted([p.name, p.stat().st_size, int(p.stat().st_mtime)]
                       for p in Path(path).glob("*.safetensors"))
    return [path, files]


def cache_key(model_name, quantization, dataset, prompts, max_new_tokens) -> str:
    """A hash of everything the base model's greedy answers depend on."""
    import transformers

    parts = {
        "version": CACHE_VERSION, "model": _model_identity(model_name), "quantization": quantization,
        "dtype": str(models.compute_dtype()), "torch": torch.__version__, "transformers": transformers.__version__,
        "dataset": str(dataset), "prompts": list(prompts), "max_new_tokens": max_new_tokens,
        "probes": [p.question for p in PROBES], "probe_max_new_tokens": min(max_new_tokens, PROBE_MAX_NEW_TOKENS),
        "general_text": general_text(), "arithmetic": "float32" if EXACT_ARITHMETIC else str(models.compute_dtype()),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


#: Where the base model's evaluations are stored: None for ``evaluations/`` in the model cache directory
#: (:func:`lab.models.cache_dir`, e.g. ``~/.cache/tuning-lab``); tests and benches point it elsewhere.
CACHE_DIR: Path | None = None


def cache_path(key: str) -> Path:
    """The JSON file that holds the base model's answers for ``key`` (:func:`cache_key`)."""
    return Path(CACHE_DIR or models.cache_dir() / "evaluations") / f"base-{key}.json"


def _read_cached(key: str, dataset: str, prompts, references) -> Evaluation | None:
    """The stored base answers, re-judged with today's scorers; None if absent, corrupt or not this key."""
    try:
        with open(cache_path(key), encoding="utf-8") as f:
            obj = json.load(f)
        answers, q_answers, loss = obj["answers"], obj["probe_answers"], obj["general_loss"]
        if (obj.get("key") != key or len(answers) != len(prompts) or len(q_answers) != len(PROBES)
                or not all(isinstance(a, str) for a in answers + q_answers)
                or not isinstance(loss, (int, float)) or isinstance(loss, bool)):
            return None
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    return score(dataset, prompts, references, answers, q_answers, float(loss))


def _write_cached(key: str, ev: Evaluation) -> None:
    """Store the base answers atomically (a temporary file renamed into place); keep the newest files."""
    path = cache_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"key": key, "answers": ev.answers, "probe_answers": ev.question_answers,
                           "general_loss": ev.general_loss}, f)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        old = sorted(path.parent.glob("base-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for p in old[CACHE_FILES_KEPT:]:
            p.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only cache directory: the in-memory cache still works


def _full(run) -> bool:
    return getattr(run.config, "resolved_method", None) == "full"


def _run_key(run, n_prompts: int, max_new_tokens: int):
    cfg = run.config
    prompts, refs = eval_prompts(run.eval_chats["messages"] if len(run.eval_chats) else [], n_prompts)
    # full fine-tuning starts from the fp32 weights; plain LoRA from the same weights rounded to the compute dtype
    storage = "float32 (full fine-tuning)" if _full(run) else cfg.quantization
    return cache_key(cfg.model, storage, cfg.dataset, prompts, max_new_tokens), prompts, refs


def base_cached(run, n_prompts: int = 12, max_new_tokens: int = MAX_NEW_TOKENS) -> bool:
    """Whether :func:`before_after` would find the base model's evaluation of this run cached
    (in memory or on disk), so that it generates only the adapted model's answers."""
    key, prompts, refs = _run_key(run, n_prompts, max_new_tokens)
    with _base_lock:
        if key in _base_cache:
            return True
    return _read_cached(key, run.config.dataset, prompts, refs) is not None


def before_after(run, n_prompts: int = 12, max_new_tokens: int = MAX_NEW_TOKENS,
                 on_progress=None) -> tuple[Evaluation, Evaluation]:
    """The base model's and the adapted model's evaluations on the run's held-out prompts.

    The base is the same 4-bit model with the adapter switched off (``disable_adapter``); for full
    fine-tuning, whose weights themselves changed, the untrained model loaded afresh
    (``run.fresh_base()``, dropped after). Its greedy answers are cached per (model, quantization, dataset, prompts, decoding), in memory and on disk
    (:func:`cache_path`). ``on_progress(done, total)`` is called after each generated batch; ``total``
    counts every answer this call generates (the base's only when not cached). The run's deadline (its
    stop flag and wall-clock cap) is checked between batches: :class:`lab.training.Stopped` when it passes.
    """
    from lab import memory

    # The heap that training freed but glibc still holds (~0.9 GB after a default run) goes back first:
    # evaluation's fp32 weights then reuse the pages instead of adding to them (peak RSS of a default run
    # with its evaluation 2,372 -> 2,004 MB headless).
    memory.release()
    deadline = getattr(run, "deadline", None)
    if deadline is not None:  # a run stopped at its cap still gets its answers: the cap leaves time to evaluate
        from lab.training import Deadline

        deadline = Deadline(deadline.stop, deadline.max_seconds + EVAL_GRACE_S, deadline.started)
    cfg = run.config
    key, prompts, refs = _run_key(run, n_prompts, max_new_tokens)
    with _base_lock:
        before = _base_cache.get(key)
    if before is None:
        before = _read_cached(key, cfg.dataset, prompts, refs)
    per_eval = len(prompts) + len(PROBES)
    total = per_eval * (1 if before is not None else 2)

    def progress(offset):
        return None if on_progress is None else (lambda done, _n: on_progress(offset + done, total))

    if before is None and _full(run):
        base = run.fresh_base()
        try:
            before = evaluate(base, run.tokenizer, cfg.dataset, prompts, refs, max_new_tokens,
                              deadline=deadline, on_progress=progress(0))
        finally:
            del base
            memory.release()
        _write_cached(key, before)
    with float32_arithmetic(run.model):  # the weights widened once for both evaluations
        if before is None:
            with run.model.disable_adapter():
                before = evaluate(run.model, run.tokenizer, cfg.dataset, prompts, refs, max_new_tokens,
                                  deadline=deadline, on_progress=progress(0))
            _write_cached(key, before)
        with _base_lock:
            if len(_base_cache) > 16:
                _base_cache.clear()
            _base_cache[key] = before
        after = evaluate(run.model, run.tokenizer, cfg.dataset, prompts, refs, max_new_tokens, deadline=deadline,
                         on_progress=progress(total - per_eval))
    return before, after


def eval_prompts(chats, n: int | None = None) -> tuple[list[str], list[str]]:
    """(prompts, reference answers) of held-out chats: the last user message and the reply after it."""
    prompts, refs = [], []
    for msgs in list(chats)[: n if n is not None else None]:
        user = [k for k, m in enumerate(msgs) if m["role"] == "user"]
        if not user:
            continue
        k = user[-1]
        prompts.append(msgs[k]["content"])
        refs.append(next((m["content"] for m in msgs[k + 1 :] if m["role"] == "assistant"), ""))
    return prompts, refs
