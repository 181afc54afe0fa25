"""The SFT-data experiments (lecture §2-3): what each one prepares before it trains, and how it evaluates.

    data-quality  curated (40 rows)  vs  noisy (200)  vs  cleaned (the noisy set after lab.data_quality.clean):
                  behaviour and answer correctness on the same held-out questions, and each set's quality table
    synthetic     the bundled model writes instruction / response pairs (sampled), the filters judge each one;
                  training on the survivors is optional (``train_synthetic``)
    zero-shot     train on the multitask set's eight seen task types, score the [OK] behaviour per task type,
                  before and after, on held-out prompts of seen and unseen types

A **prepare** step runs before the conditions (``prepare(settings, out, tokenizer, stop, results)``, a
generator: it yields its own events, writes what it found into ``results`` and returns the rows each
condition trains on that no bundled name holds: ``{condition: (train, eval) datasets}``). An
**evaluate** step replaces the runner's behaviour score (``evaluate(settings, name, run, progress,
deadline, results)``
returns the condition's evaluation columns).

Answer correctness (data-quality, synthetic): the held-out questions of ``pirate_curated`` each carry
their checkable answer (``meta``); an answer is correct when it states it and none of the listed wrong
ones (:func:`lab.data_quality.correctness`). The base model knows these facts (its correctness is near
1 by construction: ``bench/quality_eval_baseline.py``), so the column shows what training *broke*.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from lab import data, data_quality, evaluation, memory, models, multitask, synthetic
from lab.errors import Msg

#: The held-out questions of the quality experiment (both pirate sets share them) and their scorer.
EVAL_SET = "pirate_curated"
CLEANED_FILE = "cleaned.jsonl"
#: New tokens per zero-shot answer: the tag is the first tokens, and the judge needs a little of the
#: body after it (no loop, about the prompt); 32 shows it (bench/multitask_generalisation.py used 24).
ZERO_SHOT_TOKENS = 32


@dataclass
class DataCleaned:
    """The Clean step's verdicts, row by row (what ``results["cleaning"]`` holds)."""

    kind: ClassVar[str] = "cleaned"
    cleaning: dict


@dataclass
class Generated:
    """One synthetic candidate, as it appears: what the model wrote and the filters' verdict."""

    kind: ClassVar[str] = "candidate"
    index: int  # 0-based
    total: int
    row: dict  # one entry of results["synthetic"]["candidates"]


def msg_dict(m: Msg) -> dict:
    """A Msg as results.json keeps it: its code, its English and its params (nested phrases as text)."""
    return {"code": m.code, "text": str(m), "params": {k: (str(v) if isinstance(v, Msg) else v)
                                                         for k, v in m.params.items()}}


def _messages_dataset(chats):
    import datasets

    return datasets.Dataset.from_dict({"messages": list(chats)})


def _write_jsonl(path: Path, chats) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"messages": c}, ensure_ascii=False) + "\n" for c in chats), encoding="utf-8")


def quality_row(chats, filters: data_quality.Filters = data_quality.Filters()) -> dict:
    """One set's line of the quality table, with its shares."""
    q = data_quality.quality_table(chats, filters)
    return {**dataclasses.asdict(q), "duplicate_share": q.duplicate_share, "off_style_share": q.off_style_share,
            "flagged_share": q.flagged_share}


# --- data-quality --------------------------------------------------------------------------------------------


def prepare_quality(settings, out: Path, tokenizer, stop, results):
    """The Clean step: the filters on the noisy train rows, each dropped row with its reason (and the kind
    the set's author gave it, so a learner sees what the filters caught and what they missed); the
    quality table of the three sets; the cleaned rows written to ``out/cleaned.jsonl``."""
    curated = list(data.load_sft_dataset("pirate_curated", "train")["messages"])
    noisy = list(data.load_sft_dataset("pirate_noisy", "train")["messages"])
    kinds = [m.get("kind", "") for m in data.bundled_meta("pirate_noisy", "train")]
    cleaned = data_quality.clean(noisy)
    dropped_at = {d.index for d in cleaned.dropped}
    kept_idx = [i for i in range(len(noisy)) if i not in dropped_at]

    def shown(i):
        prompt, reply = data_quality.prompt_reply(noisy[i])
        return {"row": i + 1, "prompt": prompt, "reply": reply, "kind": kinds[i]}

    results["cleaning"] = {
        "rows": len(noisy), "kept": len(cleaned.kept), "counts": cleaned.counts(),
        "kept_kinds": dict(Counter(kinds[i] for i in kept_idx)),
        "dropped": [{**shown(d.index), "reason": msg_dict(d.reason)} for d in cleaned.dropped],
        # rows the filters let through though their author wrote them bad (wrong facts: no cheap rule sees them)
        "missed": [shown(i) for i in kept_idx if kinds[i] not in ("curated", "")],
    }
    results["quality"] = {"curated": quality_row(curated), "noisy": quality_row(noisy),
                          "cleaned": quality_row(cleaned.kept)}
    _write_jsonl(out / CLEANED_FILE, cleaned.kept)
    yield DataCleaned(results["cleaning"])
    eval_ds = data.load_sft_dataset(EVAL_SET, "eval")
    return {"cleaned": (_messages_dataset(cleaned.kept), eval_ds)}


def correctness_columns(model, tokenizer, n: int, deadline, progress, before: bool = False) -> dict:
    """Behaviour (pirate) and answer correctness of ``model`` on the first ``n`` held-out questions of
    :data:`EVAL_SET`; with ``before``, also the base's (the adapter switched off)."""
    chats = data.load_sft_dataset(EVAL_SET, "eval")["messages"]
    prompts, refs = evaluation.eval_prompts(chats, n)
    metas = data.bundled_meta(EVAL_SET, "eval")[: len(prompts)]
    total = len(prompts) * (2 if before else 1)

    def answers(offset):
        return evaluation.generate(model, tokenizer, prompts, deadline=deadline,
                                   on_batch=lambda done, _n: progress(offset + done, total))

    out = {"eval_prompts": len(prompts)}
    with evaluation.float32_arithmetic(model):
        if before:
            with model.disable_adapter():
                base = answers(0)
            out["behaviour_before"] = _share(evaluation.judge_pirate(p, a, r).passed for p, a, r in zip(prompts, base, refs))
            out["correctness_before"] = _share(data_quality.correctness(base, metas))
        after = answers(total - len(prompts))
    out["behaviour_score"] = _share(evaluation.judge_pirate(p, a, r).passed for p, a, r in zip(prompts, after, refs))
    out["correctness"] = _share(data_quality.correctness(after, metas))
    out["answers"] = [{"prompt": p, "answer": a, "correct": ok}
                      for p, a, ok in zip(prompts, after, data_quality.correctness(after, metas))]
    return out


def _share(flags) -> float:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else float("nan")


def evaluate_quality(settings, name, run, progress, deadline, results) -> dict:
    cols = correctness_columns(run.model, run.tokenizer, settings.eval_prompts, deadline, progress)
    if name in results.get("quality", {}):
        cols["quality"] = results["quality"][name]
    return cols


# --- synthetic -----------------------------------------------------------------------------------------------


def prepare_synthetic(settings, out: Path, tokenizer, stop, results):
    """Generate ``settings.candidates`` pairs with the bundled model (sampled), judge each as it appears;
    with ``train_synthetic``, the survivors become the ``synthetic`` condition's training rows."""
    model = models.load_model(settings.model, quantization=None)
    model.eval()
    rows = []
    results["synthetic"] = {"total": settings.candidates, "candidates": rows, "caveat": msg_dict(synthetic.CAVEAT)}
    try:
        for r in synthetic.generate(model, tokenizer, settings.candidates, seed=settings.seed, stop=stop):
            prompt, reply = (r.chat[0]["content"], r.chat[1]["content"]) if r.chat else ("", "")
            row = {"index": r.index, "text": r.text, "prompt": prompt, "reply": reply, "kept": r.kept,
                   "reason": None if r.kept else msg_dict(r.reason)}
            rows.append(row)
            yield Generated(r.index, settings.candidates, row)
    finally:
        del model
        memory.release()
    kept = [[{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["reply"]}]
            for r in rows if r["kept"]]
    results["synthetic"].update(kept=len(kept), generated=len(rows),
                                summary=Counter("kept" if r["kept"] else r["reason"]["code"] for r in rows))
    if settings.train_synthetic and kept:
        _write_jsonl(out / "synthetic.jsonl", kept)
        return {"synthetic": (_messages_dataset(kept), data.load_sft_dataset(EVAL_SET, "eval"))}
    return {"synthetic": None}  # nothing to train on (or training not asked for): the condition is skipped


def evaluate_synthetic(settings, name, run, progress, deadline, results) -> dict:
    """Did the model's own pairs change what it knows? Correctness on the held-out questions, before and after
    (the pirate behaviour score is no measure of plain assistant rows: left out)."""
    cols = correctness_columns(run.model, run.tokenizer, settings.eval_prompts, deadline, progress, before=True)
    cols["behaviour_score"] = cols["behaviour_before"] = None
    return cols


# --- zero-shot -----------------------------------------------------------------------------------------------


def zero_shot_prompts(per_task: int):
    """(task types, prompts, references): the first ``per_task`` held-out prompts of every task type."""
    tasks, prompts, refs = multitask.eval_rows("eval")
    keep = [i for i, t in enumerate(tasks) if tasks[: i + 1].count(t) <= per_task]
    return [tasks[i] for i in keep], [prompts[i] for i in keep], [refs[i] for i in keep]


def evaluate_zero_shot(settings, name, run, progress, deadline, results) -> dict:
    """The [OK] behaviour per task type, the adapter off (before) and on (after): ``results["per_task"]``."""
    tasks, prompts, refs = zero_shot_prompts(settings.per_task)
    total = 2 * len(prompts)

    def answers(offset):
        return evaluation.generate(run.model, run.tokenizer, prompts, ZERO_SHOT_TOKENS, deadline=deadline,
                                   on_batch=lambda done, _n: progress(offset + done, total))

    with evaluation.float32_arithmetic(run.model):
        with run.model.disable_adapter():
            before = answers(0)
        after = answers(len(prompts))
    table = multitask.per_task(tasks, prompts, before, after, refs)
    results["per_task"] = table

    def mean(seen, key):
        rows = [r for r in table.values() if r["seen"] is seen]
        n = sum(r["n"] for r in rows)
        return sum(r[key] * r["n"] for r in rows) / n if n else float("nan")

    verdicts = [multitask.judge_multitask(p, a, r).passed for p, a, r in zip(prompts, after, refs)]
    return {
        "eval_prompts": len(prompts), "per_task": table,
        "behaviour_before": _share(multitask.judge_multitask(p, a, r).passed for p, a, r in zip(prompts, before, refs)),
        "behaviour_score": _share(verdicts),
        "seen_before": mean(True, "before"), "seen_after": mean(True, "after"),
        "unseen_before": mean(False, "before"), "unseen_after": mean(False, "after"),
        "tagged_unseen": sum(multitask.has_tag(a) for a, t in zip(after, tasks) if t in multitask.HELD_OUT),
        "answers": [{"task": t, "prompt": p, "before": b, "after": a, "passed": ok}
                    for t, p, b, a, ok in zip(tasks, prompts, before, after, verdicts)],
    }
