"""The QLoRA training tab's text and figures in the page's language: the live status, the loss curves,
the before / after tables, the summary, the adapter's sizes and the upload check.

Pure formatting of what a run measured (kept in the tab's state, so a language switch re-renders it
without loading a model). Text that comes from ``lab.training`` and ``lab.evaluation`` — a run's label
("run 2: r=4, 3 steps"), its stop reason and notes, the judge's reasons ("repetition: 'ahoy matey' ×6"),
the behaviour a score counts — arrives as phrases with codes (:class:`lab.errors.Msg`), said here in the
page's language by :func:`said`.
"""

from __future__ import annotations

import pandas as pd

from lab import data, models, plots, training
from lab.errors import Msg
from lab.ui import fmt, i18n
from lab.ui.i18n import t

#: The dataset choice that means "the file uploaded beside it" (a value, never shown).
UPLOAD = "upload"
MIB = 2**20  # the download box counts 1 MB as 2^20 bytes: the page's adapter sizes do too, so both agree
STATUS_COLUMNS = ["train.col.step", "train.col.loss", "train.col.lr", "train.col.tokens_s", "train.col.elapsed",
                  "train.col.eta", "train.col.memory"]
ANSWER_COLUMNS = ["train.col.prompt", "train.col.base", "train.col.this_run", "train.col.previous_none"]
FORGET_COLUMNS = ["train.col.question", "train.col.before", "train.col.after", "train.col.change"]
SUMMARY_COLUMNS = ["train.col.run", "train.col.behaviour", "train.col.forgetting", "train.col.general_loss",
                   "train.col.final_loss", "train.col.steps", "train.col.train_time", "train.col.tokens_s",
                   "train.col.adapter"]


def dataset_choices(lang: str) -> list[tuple[str, str]]:
    """The bundled datasets by name, then "uploaded file"."""
    return [(name, name) for name in data.list_datasets()] + [(t("train.dataset.upload", lang), UPLOAD)]


# --- the live column -------------------------------------------------------------------------------


def status_table(log: training.StepLog, lang: str, eval_eta_s: float | None = None) -> str:
    """The last step's numbers; the ETA adds the evaluation's expected time when it is known."""
    eta = fmt.seconds(log.eta_s, lang)
    if eval_eta_s is not None:
        eta = t("train.eta_with_eval", lang, eta=fmt.seconds(log.eta_s + eval_eta_s, lang))
    row = [f"{log.step} / {log.steps}", f"{log.loss:.3f}", f"{log.lr:.2e}", f"{log.tokens_per_s:,.0f}",
           fmt.seconds(log.elapsed_s, lang), eta, f"{log.memory_mb:,.0f} MB"]
    return fmt.md_table([t(k, lang) for k in STATUS_COLUMNS], [row], align="r" * len(row))


def evaluating(done: int, total: int, eta_s: float, lang: str) -> str:
    return t("train.status.evaluating", lang, done=done, total=total, eta=fmt.seconds(eta_s, lang))


def final_status(live: dict, lang: str) -> str:
    """How the last run ended (its reason as ``lab.training`` says it) and its last step's numbers."""
    if live["log"] is None:
        return t("train.status.no_step", lang, reason=said(live["reason"], lang))
    text = f"**{said(live['reason'], lang)}**  \n{status_table(live['log'], lang)}"
    return (text + "  \n" + t("train.status.eval_stopped", lang)) if live["eval_stopped"] else text


def said(text, lang: str) -> str:
    """A phrase of ``lab`` (a :class:`lab.errors.Msg`, or several joined by "; ") in ``lang``; plain text
    as it is."""
    if isinstance(text, (list, tuple)):
        return "; ".join(said(x, lang) for x in text)
    return i18n.msg(text, lang) if isinstance(text, str) else ("" if text is None else str(text))


def notes_text(notes: list[str], no_eval_split: bool, lang: str) -> str:
    """The run's notes (``lab.training``'s phrases), and the tab's own when the dataset held nothing out."""
    return "  \n".join([said(n, lang) for n in notes] + ([t("train.note.no_eval", lang)] if no_eval_split else []))


def curve_figure(runs: list[dict], steps: int, lang: str):
    """The kept runs' loss curves (lab.plots), oldest first."""
    text = i18n.several(lang, title="train.fig.title", xlabel="train.fig.xlabel", ylabel="train.fig.ylabel",
                        empty="train.fig.empty")
    return plots.training_curves_figure([(said(r["label"], lang), r["curve"]) for r in runs], steps, text=text)


# --- the answers before and after ------------------------------------------------------------------


def run_results(before, after, logs: list, adapter_dir, sz: training.Sizes) -> dict:
    """What a run's evaluation (``lab.evaluation.before_after``) and training measured, as the tables and
    the summary read it (kept in the tab's state)."""
    def reasons(verdicts):
        return [list(v.reasons) for v in verdicts]

    last = logs[-1]
    return dict(
        prompts=after.prompts, before=before.answers, after=after.answers, before_hits=before.hits,
        after_hits=after.hits, score_before=before.score, score_after=after.score, behaviour=after.behaviour,
        questions=after.questions, q_before=before.question_answers, q_after=after.question_answers,
        correct_before=before.correct, correct_after=after.correct,
        retained_before=f"{sum(before.correct)} / {len(before.correct)}",
        retained_after=f"{sum(after.correct)} / {len(after.correct)}",
        before_reasons=reasons(before.verdicts) if before.verdicts else None,
        after_reasons=reasons(after.verdicts) if after.verdicts else None,
        q_before_reasons=reasons(before.probe_verdicts), q_after_reasons=reasons(after.probe_verdicts),
        probe_accuracy_before=before.probe_accuracy, probe_accuracy_after=after.probe_accuracy,
        general_loss_before=before.general_loss, general_loss_after=after.general_loss,
        final_loss=last.loss, steps_done=len(logs), train_s=sum(x.step_s for x in logs),
        tokens_per_s=last.tokens_per_s, adapter_mb=sz.adapter / MIB, adapter_dir=str(adapter_dir),
    )


def _mark(hit) -> str:
    return "" if hit is None else (" ✓" if hit else " ✗")


def _judged(answer: str, hits, reasons, i: int, lang: str) -> str:
    """The answer, ✓ or ✗, and why ("… ✗ repetition: 'ahoy matey' ×6; does not address the prompt")."""
    text = answer + _mark(hits[i] if hits else None)
    why = said(reasons[i], lang) if reasons else ""
    return f"{text} {why}" if why else text


def answers_placeholder(lang: str) -> pd.DataFrame:
    return fmt.placeholder(ANSWER_COLUMNS, lang)


def answers_frame(current: dict, previous: dict | None, lang: str) -> pd.DataFrame:
    """Prompt | base | this run | previous run (blank unless it answered the same prompts); each answer
    with ✓ / ✗ and the judge's reasons (lab.evaluation.judge)."""
    same = previous is not None and previous["prompts"] == current["prompts"]
    if previous is None:
        prev_col = t("train.col.previous_none", lang)
    else:
        prev_col = t("train.col.after_run", lang, label=said(previous["label"], lang))
        if not same:
            prev_col += t("train.col.other_prompts", lang)
    prompt, base = t("train.col.prompt", lang), t("train.col.base", lang)
    this = t("train.col.after_run", lang, label=said(current["label"], lang))
    rows = []
    for i, p in enumerate(current["prompts"]):
        rows.append({
            prompt: p,
            base: _judged(current["before"][i], current["before_hits"], current.get("before_reasons"), i, lang),
            this: _judged(current["after"][i], current["after_hits"], current.get("after_reasons"), i, lang),
            prev_col: _judged(previous["after"][i], previous["after_hits"], previous.get("after_reasons"), i, lang)
            if same else "",
        })
    return pd.DataFrame(rows, columns=[prompt, base, this, prev_col])


def forgetting_placeholder(lang: str) -> pd.DataFrame:
    return fmt.placeholder(FORGET_COLUMNS, lang)


def forgetting_frame(current: dict, lang: str) -> pd.DataFrame:
    """Each probe: the base model's and the adapted model's answers, ✓ / ✗ with the reason for a ✗
    ("'3' but also 27"), and whether training made it forgotten or regained."""
    n = len(current["questions"])
    why_before = current.get("q_before_reasons") or [""] * n
    why_after = current.get("q_after_reasons") or [""] * n
    forgotten, regained = t("train.change.forgotten", lang), t("train.change.regained", lang)
    columns: dict[str, list] = {key: [] for key in FORGET_COLUMNS}
    for i, (q, b, a, cb, ca) in enumerate(zip(current["questions"], current["q_before"], current["q_after"],
                                              current["correct_before"], current["correct_after"])):
        columns["train.col.question"].append(q)
        columns["train.col.before"].append(b + _mark(cb) + ("" if cb or not why_before[i] else f" {said(why_before[i], lang)}"))
        columns["train.col.after"].append(a + _mark(ca) + ("" if ca or not why_after[i] else f" {said(why_after[i], lang)}"))
        columns["train.col.change"].append(forgotten if cb and not ca else (regained if ca and not cb else ""))
    return fmt.frame(columns, lang)


# --- the summary and the adapter -------------------------------------------------------------------


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


def _nats(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def summary_table(runs: list[dict], lang: str) -> str:
    """What the scores mean, the newest run's forgetting numbers, and one row per kept run (newest first)
    under the base model's."""
    if not runs:
        return ""
    head = runs[-1]
    lines = [t("train.summary.explain", lang, n=len(head["prompts"]), behaviour=said(head["behaviour"], lang)) + "\n"]
    if head.get("probe_accuracy_after") is not None:
        lines.append(t("train.summary.head", lang, label=said(head["label"], lang), acc_before=_pct(head["probe_accuracy_before"]),
                       acc_after=_pct(head["probe_accuracy_after"]), retained_before=head["retained_before"],
                       retained_after=head["retained_after"], loss_before=_nats(head.get("general_loss_before")),
                       loss_after=_nats(head.get("general_loss_after"))) + "\n")
    rows = [[t("train.summary.base", lang), _pct(head["score_before"]), head["retained_before"],
             _nats(head.get("general_loss_before")), "", "", "", "", ""]]
    for r in reversed(runs):
        rows.append([said(r["label"], lang), _pct(r["score_after"]), r["retained_after"], _nats(r.get("general_loss_after")),
                     f"{r['final_loss']:.3f}", r["steps_done"], fmt.seconds(r["train_s"], lang),
                     f"{r['tokens_per_s']:,.0f}", f"{r['adapter_mb']:.1f} MB"])
    lines.append(fmt.md_table([t(k, lang) for k in SUMMARY_COLUMNS], rows))
    return "\n".join(lines)


def sizes_text(sz: training.Sizes, quantization: str | None, files_bytes: int, zip_bytes: int, lang: str) -> str:
    """The adapter's size on disk and as the download, each labelled, beside the base model's."""
    disk = t("train.sizes.disk", lang, mb=sz.base_disk / MIB) if sz.base_disk else ""
    stored = "NF4" if quantization else str(models.compute_dtype()).replace("torch.", "")
    return t("train.sizes", lang, files=files_bytes / MIB, adapter=sz.adapter / MIB, zip=zip_bytes / MIB, disk=disk,
             memory=sz.base_memory / MIB, stored=stored, share=100 * sz.adapter / (sz.base_disk or sz.base_memory))


# --- the upload check ------------------------------------------------------------------------------


def upload_message(check: dict | None, lang: str) -> str:
    """What the upload check found: the file's rows and eval split, or why it cannot be used."""
    if not check:
        return ""
    if "error" in check:
        error = check["error"]
        return t("train.upload.bad", lang, name=check["name"],
                 error=i18n.msg(error, lang) if isinstance(error, Msg) else error)
    if check["held_out"] == 0:
        return t("train.upload.no_eval", lang, name=check["name"], rows=check["train"])
    return t("train.upload.ok", lang, name=check["name"], rows=check["train"] + check["held_out"],
             train=check["train"], held_out=check["held_out"])
