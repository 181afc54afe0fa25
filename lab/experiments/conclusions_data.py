"""What the SFT-data experiments show, in sentences computed from their numbers (see :mod:`.conclusions`).

Each sentence is a :class:`lab.errors.Msg`; when a run does not show the lecture's claim, the sentence
says so and why that is likely here (few steps, small sets, a 135M model).
"""

from __future__ import annotations

from collections import Counter

from lab import synthetic
from lab.errors import Msg

#: Scores closer than this (on 15 held-out questions: two answers) count as comparable.
CLOSE = 0.15
#: Correctness lower by this much counts as answers lost (two of 15 questions: 0.13). The base model
#: answers most of them right, so a loss of two is already what training broke.
LOST = 0.1

#: Each reason a row or a candidate is dropped, as a short phrase.
REASON_NAMES = {
    "synthetic.unparsed": Msg("experiment.reason.synthetic.unparsed", "no instruction / response pair in the text"),
    "synthetic.copies_seed": Msg("experiment.reason.synthetic.copies_seed", "a copy of a seed task"),
    "quality.too_short": Msg("experiment.reason.quality.too_short", "reply too short"),
    "quality.too_long": Msg("experiment.reason.quality.too_long", "reply too long"),
    "quality.truncated": Msg("experiment.reason.quality.truncated", "reply cut off"),
    "quality.repetitive": Msg("experiment.reason.quality.repetitive", "reply repeats itself"),
    "quality.off_style": Msg("experiment.reason.quality.off_style", "reply out of style"),
    "quality.off_topic": Msg("experiment.reason.quality.off_topic", "reply off topic"),
    "quality.wrong_arithmetic": Msg("experiment.reason.quality.wrong_arithmetic", "wrong arithmetic"),
    "quality.duplicate": Msg("experiment.reason.quality.duplicate", "exact duplicate"),
    "quality.near_duplicate": Msg("experiment.reason.quality.near_duplicate", "near-duplicate"),
}


def reason_name(code: str) -> Msg | str:
    """A reason code (``quality.too_short``) as a short phrase."""
    return REASON_NAMES.get(code, code)


def _score(row, key="behaviour_score") -> float:
    v = row.get(key)
    return float("nan") if v is None else v


def _quality(rows, settings, results) -> list[Msg]:
    c = {r["name"]: r for r in rows}
    out = []
    cleaning, quality = results.get("cleaning") or {}, results.get("quality") or {}
    if cleaning and "noisy" in quality:
        q = quality["noisy"]
        out.append(Msg(
            "experiment.data_quality.sets",
            "The noisy set has {rows} rows: {dup} repeat an earlier row exactly or nearly, and {off:.0%} of its "
            "replies are not in pirate speak. The Clean step kept {kept} of them; {missed} of those are rows "
            "written wrong on purpose (a fluent reply in style that states a wrong fact), which no cheap filter sees.",
            rows=q["rows"], dup=q["duplicates"], off=q["off_style_share"], kept=cleaning["kept"],
            missed=len(cleaning.get("missed", []))))
    if not {"curated", "noisy"} <= c.keys():
        return out
    cur, noi = c["curated"], c["noisy"]
    params = dict(c=_score(cur), n=_score(noi), steps=cur["steps"], prompts=cur.get("eval_prompts", 0),
                  rc=cur["examples"], rn=noi["examples"], read=cur["steps"] * settings.batch_size)
    if params["c"] > params["n"] + CLOSE:
        out.append(Msg(
            "experiment.data_quality.curated_better",
            "Trained for the same {steps} steps, the {rc} curated rows taught the behaviour better than the {rn} "
            "noisy ones: {c:.0%} against {n:.0%} of {prompts} held-out answers in pirate speak and on the "
            "question, as the lecture says.", **params))
    elif params["n"] > params["c"] + CLOSE:
        out.append(Msg(
            "experiment.data_quality.noisy_better",
            "Here the noisy set scored higher: {n:.0%} against {c:.0%} for the curated rows, on {prompts} held-out "
            "questions. Most noisy rows are still in pirate speak, and {steps} steps of {read} examples read "
            "some of them again and again: this run does not show the lecture's claim.", **params))
    else:
        out.append(Msg(
            "experiment.data_quality.close",
            "The curated and the noisy set scored about the same ({c:.0%} and {n:.0%} of {prompts} held-out "
            "answers): most noisy rows are still in pirate speak, and {steps} steps read only {read} examples; "
            "the gap the lecture describes needs longer training to open.", **params))
    if "cleaned" in c:
        cl = c["cleaned"]
        p = dict(cl=_score(cl), c=params["c"], n=params["n"], k=cl["examples"])
        if p["cl"] > p["n"] + CLOSE or (p["cl"] >= p["c"] - CLOSE and p["c"] > p["n"] + CLOSE):
            out.append(Msg("experiment.data_quality.cleaned_recovers",
                           "Trained on the {k} rows the Clean step kept, the model scored {cl:.0%} (curated {c:.0%}, "
                           "noisy {n:.0%}): filtering the noisy set recovered much of what the curated set teaches.", **p))
        else:
            out.append(Msg("experiment.data_quality.cleaned_same",
                           "Trained on the {k} rows the Clean step kept, the model scored {cl:.0%} (curated {c:.0%}, "
                           "noisy {n:.0%}): in this run cleaning did not change the behaviour score much.", **p))
        cc, cn, ccl = (_score(r, "correctness") for r in (cur, noi, cl))
        p = dict(c=cc, n=cn, cl=ccl, steps=cur["steps"])
        if cn < cc - LOST or ccl < cc - LOST:
            out.append(Msg("experiment.data_quality.correctness_worse",
                           "Answer correctness on the same questions: curated {c:.0%}, noisy {n:.0%}, cleaned {cl:.0%}. "
                           "The wrong answers in the noisy rows cost correct answers, and the cleaned set still holds "
                           "the rows with wrong facts that no cheap filter sees.", **p))
        else:
            out.append(Msg("experiment.data_quality.correctness_same",
                           "Answer correctness on the same questions: curated {c:.0%}, noisy {n:.0%}, cleaned {cl:.0%}. "
                           "The base model already knew these facts, and {steps} steps on wrong ones did not unlearn "
                           "them.", **p))
    return out


def _synthetic(rows, settings, results) -> list[Msg]:
    syn = results.get("synthetic") or {}
    cands = syn.get("candidates") or []
    if not cands:
        return []
    kept = sum(1 for r in cands if r["kept"])
    reasons = Counter(r["reason"]["code"] for r in cands if not r["kept"])
    out = []
    if reasons:
        code, count = reasons.most_common(1)[0]
        out.append(Msg("experiment.synthetic.survived",
                       "{kept} of {n} generated pairs passed the filters. The most common reason to drop one: "
                       "{reason} ({count} of {n}).", kept=kept, n=len(cands), reason=reason_name(code), count=count))
    else:
        out.append(Msg("experiment.synthetic.all_kept", "All {n} generated pairs passed the filters: they are "
                       "well-formed, which says nothing about whether they are true.", n=len(cands)))
    if rows:
        r = rows[0]
        out.append(Msg("experiment.synthetic.trained",
                       "Trained on the {k} surviving pairs for {steps} steps: correctness on {prompts} held-out "
                       "questions went from {b:.0%} to {a:.0%}.", k=r["examples"], steps=r["steps"],
                       prompts=r.get("eval_prompts", 0), b=_score(r, "correctness_before"), a=_score(r, "correctness")))
    out.append(synthetic.CAVEAT)
    return out


def _zero_shot(rows, settings, results) -> list[Msg]:
    if not rows:
        return []
    r, table = rows[0], results.get("per_task") or rows[0].get("per_task") or {}
    unseen = [t for t, v in table.items() if not v["seen"]]
    n_unseen = sum(table[t]["n"] for t in unseen)
    out = [Msg("experiment.zero_shot.seen",
               "On the {k} task types it trained on, the behaviour went from {b:.0%} to {a:.0%} of the held-out "
               "prompts after {steps} steps.", k=len(table) - len(unseen), b=r["seen_before"], a=r["seen_after"],
               steps=r["steps"])]
    params = dict(names=", ".join(unseen), b=r["unseen_before"], a=r["unseen_after"], tagged=r.get("tagged_unseen", 0),
                  n=n_unseen)
    if params["a"] > params["b"] + CLOSE:
        out.append(Msg("experiment.zero_shot.reached",
                       "On the task types it never saw ({names}), from {b:.0%} to {a:.0%} ({tagged} of {n} answers "
                       "open with the tag): the behaviour reached tasks absent from training, as the lecture says.",
                       **params))
    else:
        out.append(Msg("experiment.zero_shot.not_reached",
                       "On the task types it never saw ({names}), from {b:.0%} to {a:.0%} ({tagged} of {n} answers "
                       "open with the tag): in this run the behaviour did not carry over to them.", **params))
    out.append(Msg("experiment.zero_shot.format",
                   "What carries over here is a format: the judge checks the tag, that the answer does not loop and "
                   "that it speaks about the prompt, not whether the task was done right."))
    return out


CONCLUDE = {"data-quality": _quality, "synthetic": _synthetic, "zero-shot": _zero_shot}
