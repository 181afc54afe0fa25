"""Did training teach the behaviour, and did the model forget what it knew?

* **Behaviour score**: the share of held-out prompts (the dataset's ``eval`` split, never trained on)
  whose answer shows the behaviour — ``pirate``: written in pirate speak (at least two distinct
  pirate markers such as "arr", "matey", "ye", "savvy"); ``json``: the whole answer parses as
  ``{"answer": <text>, "confidence": <number in [0, 1]>}``.
* **Forgetting check**: general-knowledge questions that appear in no bundled training set, each
  with the answers that count as correct. The base model answers them; a fine-tune that breaks them
  has overwritten knowledge (the catastrophic forgetting that PEFT reduces).

Answers are greedy (reproducible), so the base model's answers are computed once per
(model, quantization, prompts) and cached.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field

import torch

from lab import chat, models

#: Words and phrases no plain assistant uses, but every bundled pirate answer does (word-bounded, any case).
PIRATE_MARKERS = (
    "arr", "arrr", "ahoy", "matey", "mateys", "aye", "ye", "yer", "me hearty", "hearties", "landlubber",
    "landlubbers", "savvy", "scallywag", "scallywags", "avast", "shiver me timbers", "grog", "booty",
    "doubloons", "cap'n", "yo ho", "'em", "seadog", "buccaneer", "plunder", "me treasure", "ol'",
)
_PIRATE_RE = re.compile(r"(?<![\w'])(" + "|".join(re.escape(m) for m in sorted(PIRATE_MARKERS, key=len, reverse=True)) + r")(?![\w'])", re.I)

#: (question, accepted answers): the base model answers each correctly; none is in a bundled train split.
FORGETTING_QUESTIONS = (
    ("What is the capital of France?", ("paris",)),
    ("What is the capital of Germany?", ("berlin",)),
    ("How many days are there in a week?", ("seven", "7")),
    ("How many sides does a triangle have?", ("three", "3")),
    ("Who painted the Mona Lisa?", ("leonardo", "da vinci")),
    ("What is the boiling point of water in Celsius?", ("100", "one hundred")),
)

MAX_NEW_TOKENS = 48


def pirate_markers(text: str) -> set[str]:
    """The distinct pirate markers in ``text`` (lower case)."""
    return {m.group(1).lower() for m in _PIRATE_RE.finditer(text)}


def is_pirate(text: str) -> bool:
    """Pirate speak: at least two distinct pirate markers ("Arr, matey!" alone is two)."""
    return len(pirate_markers(text)) >= 2


def is_json_answer(text: str) -> bool:
    """The whole answer is ``{"answer": str, "confidence": number in [0, 1]}`` (code fences allowed)."""
    s = text.strip()
    if s.startswith("```"):
        s = s.strip("`").removeprefix("json").strip()
    try:
        obj = json.loads(s)
    except json.JSONDecodeError:
        return False
    if not isinstance(obj, dict) or not isinstance(obj.get("answer"), str):
        return False
    c = obj.get("confidence")
    return isinstance(c, (int, float)) and not isinstance(c, bool) and 0 <= c <= 1


SCORERS = {
    "pirate": ("answers in pirate speak", is_pirate),
    "json": ('answers that parse as {"answer": ..., "confidence": ...}', is_json_answer),
}


def scorer_for(dataset: str):
    """(description, predicate) for a bundled dataset, None for an uploaded one (no known behaviour)."""
    return SCORERS.get(dataset)


def is_correct(answer: str, accepted) -> bool:
    low = answer.lower()
    return any(re.search(r"(?<![\w])" + re.escape(a) + r"(?![\w])", low) for a in accepted)


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


#: Prompts generated together. Memory grows with the batch: with peft's layers in the model a batch of
#: 32 prompts held ~1.8 GB more than the model, a batch of 8 about 0.5 GB (bench/server_memory.py).
EVAL_BATCH = 8
#: Seconds past a run's wall-clock cap that its evaluation may still take.
EVAL_GRACE_S = 180.0


def generate(model, tokenizer, prompts: list[str], max_new_tokens: int = MAX_NEW_TOKENS, deadline=None,
             on_batch=None) -> list[str]:
    """Greedy answers to single-turn prompts, in left-padded batches of ``EVAL_BATCH``.

    ``deadline`` (a :class:`lab.training.Deadline`) is checked before each batch and raises
    :class:`lab.training.Stopped`; ``on_batch(done, total)`` is called after each."""
    if not prompts:
        return []
    from lab.training import standard_attention

    was_training = model.training
    model.eval()
    # peft injects its LoRA layers into the base model, so the base model generates with the adapter (and
    # without it inside disable_adapter()). Generating from the PeftModel itself would compute the logits of
    # every prompt position: its forward() hides `logits_to_keep` from generate(), and a batch of 32
    # prompts then holds ~2 GB of logits instead of the last position's few MB.
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        answers: list[str] = []
        with models.dequantized_base(model), standard_attention(model), torch.inference_mode():
            for start in range(0, len(prompts), EVAL_BATCH):
                if deadline is not None:
                    deadline.check(f"evaluating ({start} of {len(prompts)} answers)")
                chunk = prompts[start : start + EVAL_BATCH]
                answers += chat.answer_batch(causal_lm, tokenizer, chunk, chat.Decoding(max_new_tokens=max_new_tokens),
                                             batch_size=EVAL_BATCH)
                if on_batch is not None:
                    on_batch(len(answers), len(prompts))
        return answers
    finally:
        model.train(was_training)


@dataclass
class Evaluation:
    """Answers to the held-out prompts and the forgetting questions, with their scores."""

    prompts: list[str]
    references: list[str]
    answers: list[str]
    hits: list[bool] | None  # behaviour shown, per answer (None: no scorer for this dataset)
    score: float | None  # share of hits
    behaviour: str  # what the score counts
    questions: list[str] = field(default_factory=list)
    question_answers: list[str] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)

    @property
    def retained(self) -> float:
        """Share of forgetting-check questions still answered correctly."""
        return sum(self.correct) / len(self.correct) if self.correct else float("nan")


def evaluate(model, tokenizer, dataset: str, prompts: list[str], references: list[str],
             max_new_tokens: int = MAX_NEW_TOKENS, forgetting: bool = True, deadline=None) -> Evaluation:
    """Answer ``prompts`` (and the forgetting questions) in batches and score them."""
    qs = [q for q, _ in FORGETTING_QUESTIONS] if forgetting else []
    answers = generate(model, tokenizer, list(prompts) + qs, max_new_tokens, deadline)
    out, q_answers = answers[: len(prompts)], answers[len(prompts):]
    scorer = scorer_for(dataset)
    hits = [scorer[1](a) for a in out] if scorer else None
    score = sum(hits) / len(hits) if hits else None
    correct = [is_correct(a, acc) for a, (_, acc) in zip(q_answers, FORGETTING_QUESTIONS)]
    return Evaluation(list(prompts), list(references), out, hits, score,
                      scorer[0] if scorer else "no behaviour score for an uploaded dataset", qs, q_answers, correct)


_base_cache: dict[tuple, Evaluation] = {}
_base_lock = threading.Lock()


def before_after(run, n_prompts: int = 12, max_new_tokens: int = MAX_NEW_TOKENS) -> tuple[Evaluation, Evaluation]:
    """The base model's and the adapted model's evaluations on the run's held-out prompts.

    The base is the same 4-bit model with the adapter switched off (``disable_adapter``); its
    greedy answers are cached per (model, quantization, dataset, prompts). The run's deadline (its stop
    flag and wall-clock cap) is checked between batches: :class:`lab.training.Stopped` when it passes.
    """
    deadline = getattr(run, "deadline", None)
    if deadline is not None:  # a run stopped at its cap still gets its answers: the cap leaves time to evaluate
        from lab.training import Deadline

        deadline = Deadline(deadline.stop, deadline.max_seconds + EVAL_GRACE_S, deadline.started)
    cfg = run.config
    prompts, refs = eval_prompts(run.eval_chats["messages"] if len(run.eval_chats) else [], n_prompts)
    key = (cfg.model, cfg.quantization, cfg.dataset, tuple(prompts), max_new_tokens)
    with _base_lock:
        before = _base_cache.get(key)
    if before is None:
        with run.model.disable_adapter():
            before = evaluate(run.model, run.tokenizer, cfg.dataset, prompts, refs, max_new_tokens, deadline=deadline)
        with _base_lock:
            if len(_base_cache) > 16:
                _base_cache.clear()
            _base_cache[key] = before
    after = evaluate(run.model, run.tokenizer, cfg.dataset, prompts, refs, max_new_tokens, deadline=deadline)
    return before, after
