"""Zero-shot generalisation (lecture §2): one output behaviour taught across many task types, then
measured on task types the model never saw in training.

The bundled ``multitask`` set (``lab/datasets/multitask``) holds ten task types. Every reply opens
with the tag ``[OK]`` and then does the task ("[OK] "Thank you" in Spanish is "gracias"."). The tag
is a behaviour the base model never shows on its own (measured: see the set's card), that a small
model picks up in a few LoRA steps, and that a reader spots at a glance. Eight task types are in the
train split; ``classify`` and ``poem`` (:data:`HELD_OUT`) appear only in the eval split. If the tuned
model opens its replies to those with the tag too, it carried the behaviour over to tasks it never
saw — the zero-shot generalisation of instruction tuning, in miniature.

A reply shows the behaviour (:func:`judge_multitask`) when it opens with the tag and the text after
the tag is no loop and speaks about the prompt (:func:`lab.data_quality.loop`, which checks code line
by line, and :func:`lab.evaluation.addresses`): the tag alone, or the tag over a loop, is not the
behaviour.
"""

from __future__ import annotations

import re

from lab import data_quality, evaluation
from lab.errors import Msg

TAG = "[OK]"

#: The task types, in the order tables list them: (name, what the prompt asks).
TASKS = {
    "summarise": "shorten a passage to one or two sentences",
    "translate": "a phrase in another language",
    "code": "a short Python snippet",
    "maths": "a worked calculation",
    "list": "a numbered or bulleted list",
    "rewrite": "the same text in another tone or form",
    "explain": "a plain explanation of a term",
    "extract": "pull a fact out of a given text",
    "classify": "pick a label for a text",
    "poem": "a few lines of verse",
}
#: Task types that appear only in the eval split: never trained on.
HELD_OUT = ("classify", "poem")
SEEN = tuple(t for t in TASKS if t not in HELD_OUT)

_TAG_RE = re.compile(r"\s*" + re.escape(TAG) + r"(?=\s|$)")


def has_tag(text: str) -> bool:
    """The reply opens with the tag (leading spaces allowed), followed by a space, a line break or nothing."""
    return _TAG_RE.match(text) is not None


def after_tag(text: str) -> str:
    """The reply without its opening tag (the whole reply when it has none)."""
    m = _TAG_RE.match(text)
    return text[m.end():].strip() if m else text.strip()


def judge_multitask(prompt: str, answer: str, reference: str | None = None) -> evaluation.Verdict:
    """The tag first, then a body that is not degenerate and addresses the prompt (module docstring)."""
    if not has_tag(answer):
        return evaluation.Verdict(False, [Msg("judge.no_tag", "does not open with {tag}", tag=TAG)])
    body = after_tag(answer)
    reasons, ok = [Msg("judge.tag", "opens with {tag}", tag=TAG)], True
    why = data_quality.loop(body)
    if why:
        reasons.append(why)
        ok = False
    if not evaluation.addresses(body, prompt, after_tag(reference) if reference else None):
        reasons.append(Msg("judge.off_prompt", "does not address the prompt"))
        ok = False
    return evaluation.Verdict(ok, reasons)


#: In the shape of :data:`lab.evaluation.SCORERS` values: (what the score counts, the judge).
SCORER = (f"answers that open with {TAG} and answer the prompt", judge_multitask)


def eval_rows(split: str = "eval") -> tuple[list[str], list[str], list[str]]:
    """(task types, prompts, reference replies) of the bundled ``multitask`` split, in row order."""
    from lab import data

    chats = data.load_sft_dataset("multitask", split)["messages"]
    prompts, refs = evaluation.eval_prompts(chats)
    tasks = [m["task"] for m in data.bundled_meta("multitask", split)]
    return tasks, prompts, refs


def per_task(tasks, prompts, before, after, references=None, judge=judge_multitask) -> dict[str, dict]:
    """The behaviour score per task type, before and after training.

    ``tasks``, ``prompts``, ``before`` and ``after`` (the base's and the tuned model's answers) are
    parallel lists. Returns ``{task: {"seen": bool, "before": score, "after": score, "n": prompts}}``,
    a score being the share of that task's answers that ``judge(prompt, answer, reference)`` passes;
    task types in :data:`TASKS` order, then any others in order of first appearance. ``seen`` is
    False for the :data:`HELD_OUT` types (and any type not in :data:`SEEN`)."""
    tasks, prompts, before, after = list(tasks), list(prompts), list(before), list(after)
    refs = list(references) if references is not None else [None] * len(tasks)
    if not len(tasks) == len(prompts) == len(before) == len(after) == len(refs):
        raise ValueError("tasks, prompts, answers and references must be parallel lists of one length.")
    order = [t for t in TASKS if t in tasks] + list(dict.fromkeys(t for t in tasks if t not in TASKS))
    out = {}
    for task in order:
        idx = [i for i, t in enumerate(tasks) if t == task]
        score = {name: sum(judge(prompts[i], answers[i], refs[i]).passed for i in idx) / len(idx)
                 for name, answers in (("before", before), ("after", after))}
        out[task] = {"seen": task in SEEN, "before": score["before"], "after": score["after"], "n": len(idx)}
    return out
