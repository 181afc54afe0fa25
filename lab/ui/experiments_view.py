"""The Experiments panel's text and figures in the page's language, from what an experiment measured.

Everything here renders a results dict (what ``results.json`` holds: live, finished or recorded) and the
live progress kept beside it, so a language switch redraws the panel without running anything.
"""

from __future__ import annotations

import pandas as pd

from lab import plots
from lab.errors import Msg
from lab.experiments.conclusions_data import reason_name
from lab.ui import fmt, i18n
from lab.ui.i18n import t

#: Each experiment's table: (column header key, how a condition row reads in it).
PEFT_COLUMNS = ["exp.col.condition", "exp.col.trainable", "exp.col.memory", "exp.col.split", "exp.col.speed",
                "exp.col.loss", "exp.col.behaviour", "exp.col.probes", "exp.col.general", "exp.col.saved"]
RANK_COLUMNS = ["exp.col.condition", "exp.col.alpha", "exp.col.trainable", "exp.col.loss", "exp.col.behaviour",
                "exp.col.directions"]
MASKING_COLUMNS = ["exp.col.condition", "exp.col.trained_share", "exp.col.loss", "exp.col.behaviour",
                   "exp.col.prompt_loss", "exp.col.after_reply"]
QUALITY_COLUMNS = ["exp.col.condition", "exp.col.examples", "exp.col.duplicates", "exp.col.off_style",
                   "exp.col.mean_words", "exp.col.loss", "exp.col.behaviour_after", "exp.col.correctness"]
SYNTHETIC_COLUMNS = ["exp.col.condition", "exp.col.examples", "exp.col.loss", "exp.col.correctness_ba"]
ZERO_SHOT_COLUMNS = ["exp.col.condition", "exp.col.examples", "exp.col.loss", "exp.col.behaviour", "exp.col.seen",
                     "exp.col.unseen"]
COLUMNS = {"peft": PEFT_COLUMNS, "rank": RANK_COLUMNS, "masking": MASKING_COLUMNS, "data-quality": QUALITY_COLUMNS,
           "synthetic": SYNTHETIC_COLUMNS, "zero-shot": ZERO_SHOT_COLUMNS}
#: Conditions of the SFT-data experiments, named by the data they train on.
DATA_CONDITIONS = {"curated": "exp.cond.curated", "noisy": "exp.cond.noisy", "cleaned": "exp.cond.cleaned",
                   "synthetic": "exp.cond.synthetic", "multitask": "exp.cond.multitask"}
#: The kinds of row the noisy set's author wrote (lab/datasets/pirate_noisy/README.md).
KINDS = {"curated": "exp.kind.curated", "duplicate": "exp.kind.duplicate", "near_duplicate": "exp.kind.near_duplicate",
         "truncated": "exp.kind.truncated", "too_short": "exp.kind.too_short", "too_long": "exp.kind.too_long",
         "repetitive": "exp.kind.repetitive", "off_style": "exp.kind.off_style", "off_topic": "exp.kind.off_topic",
         "wrong_arithmetic": "exp.kind.wrong_arithmetic", "wrong_fact": "exp.kind.wrong_fact"}
#: The multitask set's task types (lab.multitask.TASKS).
TASKS = {"summarise": "exp.task.summarise", "translate": "exp.task.translate", "code": "exp.task.code",
         "maths": "exp.task.maths", "list": "exp.task.list", "rewrite": "exp.task.rewrite",
         "explain": "exp.task.explain", "extract": "exp.task.extract", "classify": "exp.task.classify",
         "poem": "exp.task.poem"}
#: Characters of a row's text shown in the cleaning list and the candidates.
SHOWN_CHARS = 140


def condition_label(row: dict, lang: str) -> str:
    """A condition's name as the learner reads it ("LoRA (r = 16)", "every token")."""
    name, method = row["name"], row.get("method")
    if name in DATA_CONDITIONS:
        return t(DATA_CONDITIONS[name], lang)
    if method == "full":
        return t("exp.cond.full", lang)
    if row.get("masking") == "none" and name == "none":
        return t("exp.cond.every_token", lang)
    if name == "completion":
        return t("exp.cond.completion", lang)
    key = "exp.cond.qlora" if method == "qlora" else "exp.cond.lora"
    return t(key, lang, r=row.get("r"))


def _pct(x) -> str:
    return t("common.dash") if x is None else f"{100 * x:.0f} %"


def _mb(x) -> str:
    return t("common.dash") if x is None else f"{x:,.0f} MB"


def _loss(x) -> str:
    return t("common.dash") if x is None else f"{x:.3f}"


def _cells(name: str, row: dict, lang: str) -> list:
    label = condition_label(row, lang)
    trainable = f"{row['trainable_params']:,} ({100 * row['trainable_share']:.2f} %)"
    behaviour = (f"{_pct(row.get('behaviour_before'))} → {_pct(row.get('behaviour_score'))}"
                 if row.get("behaviour_before") is not None else _pct(row.get("behaviour_score")))
    if name == "peft":
        m = row.get("memory") or {}
        split = t("exp.split", lang, w=m.get("weights_mb", 0), g=m.get("gradients_mb", 0),
                  o=m.get("optimizer_mb", 0), a=m.get("activations_mb", 0))
        probes = row.get("probes") or 0
        before, after = row.get("probe_accuracy_before"), row.get("probe_accuracy_after")
        probe_cell = (f"{round((before or 0) * probes)} → {round((after or 0) * probes)} / {probes}"
                      if probes else t("common.dash"))
        change = row.get("general_loss_change")
        saved = t("exp.saved.model" if row.get("method") == "full" else "exp.saved.adapter", lang,
                  mb=row.get("saved_mb") or 0)
        return [label, trainable, _mb(row.get("training_memory_mb")), split, f"{row.get('tokens_per_s', 0):,.0f}",
                _loss(row.get("final_loss")), behaviour, probe_cell,
                t("common.dash") if change is None else f"{change:+.3f}", saved]
    if name == "data-quality":
        q = row.get("quality") or {}
        return [label, f"{row.get('examples', 0):,}", f"{q.get('duplicates', 0)} ({_pct(q.get('duplicate_share'))})",
                _pct(q.get("off_style_share")), f"{q.get('mean_words', 0):.0f}", _loss(row.get("final_loss")),
                behaviour, _pct(row.get("correctness"))]
    if name == "synthetic":
        return [label, f"{row.get('examples', 0):,}", _loss(row.get("final_loss")),
                f"{_pct(row.get('correctness_before'))} → {_pct(row.get('correctness'))}"]
    if name == "zero-shot":
        return [label, f"{row.get('examples', 0):,}", _loss(row.get("final_loss")), behaviour,
                f"{_pct(row.get('seen_before'))} → {_pct(row.get('seen_after'))}",
                f"{_pct(row.get('unseen_before'))} → {_pct(row.get('unseen_after'))}"]
    if name == "rank":
        svd = row.get("svd") or {}
        directions = (t("exp.directions", lang, nonzero=svd["nonzero"], r=svd["r"], d90=svd["directions_90"])
                      if svd else t("common.dash"))
        return [label, f"{row.get('alpha') or 0:g}", trainable, _loss(row.get("final_loss")), behaviour, directions]
    sample = row.get("sample") or {}
    turns = sample.get("turns_after_reply") or []
    after_reply = (t("exp.after.turns", lang, turns=", ".join(turns)) if turns
                   else t("exp.after.stopped", lang) if sample.get("ended_reply") else t("exp.after.no_end", lang))
    return [label, _pct(row.get("trained_tokens_share")), _loss(row.get("final_loss")), behaviour,
            _loss(row.get("prompt_loss")), after_reply if sample else t("common.dash")]


def table(results: dict | None, lang: str) -> pd.DataFrame:
    """One row per finished condition (the columns of this experiment)."""
    name = (results or {}).get("experiment", "peft")
    keys = COLUMNS.get(name, PEFT_COLUMNS)
    rows = (results or {}).get("conditions") or []
    if not rows:
        return fmt.placeholder(keys, lang)
    cells = [_cells(name, r, lang) for r in rows]
    return fmt.frame({k: [c[i] for c in cells] for i, k in enumerate(keys)}, lang)


def curves_figure(results: dict | None, live: dict | None, lang: str):
    """Each condition's loss per step, the running one included."""
    rows = (results or {}).get("conditions") or []
    runs = [(condition_label(r, lang), list(enumerate(r.get("losses") or [], start=1))) for r in rows]
    if live and live.get("curve"):
        runs.append((condition_label(live["row"], lang), list(live["curve"])))
    steps = max([(results or {}).get("settings", {}).get("steps") or 1] + [len(c) for _, c in runs])
    text = i18n.several(lang, title="exp.fig.title", xlabel="train.fig.xlabel", ylabel="train.fig.ylabel",
                        empty="exp.fig.empty")
    return plots.training_curves_figure(runs, steps, text=text)


def spectrum_figure(results: dict | None, lang: str):
    """The rank experiment's singular values of ΔW, one line per rank (None for other experiments)."""
    rows = [r for r in (results or {}).get("conditions") or [] if r.get("svd")]
    if not rows:
        return None
    text = i18n.several(lang, title="exp.fig.svd.title", xlabel="exp.fig.svd.xlabel", ylabel="exp.fig.svd.ylabel")
    return plots.spectrum_figure([(condition_label(r, lang), r["svd"]["singular_values"]) for r in rows],
                                 module=rows[0]["svd"]["module"], text=text)


def samples_text(results: dict | None, lang: str) -> str:
    """The masking experiment's samples: what each model wrote after the same held-out prompt."""
    rows = [r for r in (results or {}).get("conditions") or [] if r.get("sample")]
    if not rows:
        return ""
    parts = [t("exp.samples.heading", lang, prompt=rows[0]["sample"]["prompt"])]
    for r in rows:
        parts.append(f"**{condition_label(r, lang)}**\n\n```text\n{r['sample']['text']}\n```")
    return "\n\n".join(parts)


def _cell(text: str, limit: int = SHOWN_CHARS) -> str:
    """Text fit for one Markdown table cell: one line, pipes escaped, cut at ``limit`` characters."""
    one = " ".join(str(text).split()).replace("|", "\\|")
    return one if len(one) <= limit else one[: limit - 1] + "…"


def cleaning_text(results: dict | None, lang: str) -> str:
    """The Clean step: counts per reason, the rows it let through though they are bad, every removed row."""
    c = (results or {}).get("cleaning")
    if not c:
        return ""
    counts = ", ".join(f"{i18n.msg(reason_name('quality.' + r), lang)} {n}" for r, n in c["counts"].items() if n)
    parts = [t("exp.cleaning.heading", lang, kept=c["kept"], rows=c["rows"]), t("exp.cleaning.counts", lang, counts=counts)]
    if c.get("missed"):
        parts.append(t("exp.cleaning.missed", lang, n=len(c["missed"])) + "\n\n" + "\n".join(
            f"- {_cell(m['prompt'], 60)} → *{_cell(m['reply'])}*" for m in c["missed"]))
    lines = [f"| {t('exp.cleaning.col.row', lang)} | {t('exp.cleaning.col.reason', lang)} | "
             f"{t('exp.cleaning.col.kind', lang)} | {t('exp.cleaning.col.text', lang)} |", "|---:|---|---|---|"]
    for d in c["dropped"]:
        lines.append(f"| {d['row']} | {_cell(conclusion(d['reason'], lang), 80)} | {t(KINDS[d['kind']], lang) if d['kind'] in KINDS else d['kind']} | "
                     f"{_cell(d['prompt'], 60)} → {_cell(d['reply'])} |")
    parts.append(f"<details><summary>{t('exp.cleaning.all', lang, n=len(c['dropped']))}</summary>\n\n"
                 + "\n".join(lines) + "\n\n</details>")
    return "\n\n".join(parts)


def candidates_text(results: dict | None, lang: str) -> str:
    """The synthetic candidates so far: each one's pair (or raw text) and the filters' verdict."""
    syn = (results or {}).get("synthetic")
    if not syn or not syn.get("candidates"):
        return ""
    cands = syn["candidates"]
    kept = sum(1 for r in cands if r["kept"])
    lines = [f"| # | {t('exp.synthetic.col.verdict', lang)} | {t('exp.synthetic.col.instruction', lang)} | "
             f"{t('exp.synthetic.col.response', lang)} |", "|---:|---|---|---|"]
    for r in cands:
        verdict = t("exp.synthetic.kept", lang) if r["kept"] else conclusion(r["reason"], lang)
        if r["prompt"]:
            lines.append(f"| {r['index'] + 1} | {_cell(verdict, 80)} | {_cell(r['prompt'], 90)} | {_cell(r['reply'])} |")
        else:
            lines.append(f"| {r['index'] + 1} | {_cell(verdict, 80)} | `{_cell(r['text'], 90)}` | |")
    caveat = syn.get("caveat") if not results.get("conclusions") else None  # (then the last conclusion says it)
    return "\n\n".join(p for p in [t("exp.synthetic.heading", lang, kept=kept, n=len(cands),
                                      total=syn.get("total", len(cands))),
                                    f"> {conclusion(caveat, lang)}" if caveat else "", "\n".join(lines)] if p)


def per_task_text(results: dict | None, lang: str) -> str:
    """The zero-shot table: the behaviour per task type, before and after, seen types first."""
    table = (results or {}).get("per_task")
    if not table:
        return ""
    lines = [f"| {t('exp.task.col.task', lang)} | {t('exp.task.col.seen', lang)} | {t('exp.task.col.n', lang)} | "
             f"{t('exp.task.col.before', lang)} | {t('exp.task.col.after', lang)} |", "|---|---|---:|---:|---:|"]
    for seen in (True, False):
        for task, v in table.items():
            if v["seen"] is seen:
                yes = t("exp.task.seen" if seen else "exp.task.unseen", lang)
                lines.append(f"| {t(TASKS[task], lang) if task in TASKS else task} | {yes} | {v['n']} | {_pct(v['before'])} | "
                             f"**{_pct(v['after'])}** |")
    return t("exp.task.heading", lang) + "\n\n" + "\n".join(lines)


def details_text(results: dict | None, lang: str) -> str:
    """What an experiment shows under its table besides the numbers: the masking samples, the Clean
    step's rows, the synthetic candidates, the zero-shot per-task table."""
    return "\n\n".join(p for p in (samples_text(results, lang), per_task_text(results, lang),
                                     cleaning_text(results, lang), candidates_text(results, lang)) if p)


def conclusion(c: dict | Msg, lang: str) -> str:
    """One conclusion in ``lang``: a Msg, or as results.json keeps it (code, English text, params)."""
    if isinstance(c, Msg):
        return i18n.msg(c, lang)
    template = i18n.ERRORS.get(c.get("code")) if lang != i18n.DEFAULT else None
    try:
        return template.format(**c.get("params", {})) if template else c["text"]
    except (KeyError, ValueError, IndexError):
        return c["text"]


def conclusions_text(results: dict | None, lang: str) -> str:
    items = (results or {}).get("conclusions") or []
    if not items:
        return ""
    return t("exp.conclusions", lang) + "\n\n" + "\n".join(f"- {conclusion(c, lang)}" for c in items)


def bar(fraction: float, width: int = 24) -> str:
    """A text progress bar: ▰▰▰▱▱▱."""
    filled = max(0, min(width, round(fraction * width)))
    return "▰" * filled + "▱" * (width - filled)


def status(state: dict, lang: str) -> str:
    """Where the experiment is: recorded, running (condition, step, progress, elapsed, ETA), or finished."""
    results, live = state.get("results"), state.get("live")
    if results is None:
        return t("exp.status.idle", lang)
    if state.get("recorded"):
        m, rec = results.get("machine", {}), results.get("recorded", {})
        return t("exp.status.recorded", lang, date=rec.get("date") or str(m.get("date", "?"))[:10],
                 cpu=m.get("cpu", "?"), cores=m.get("cores", "?"),
                 seconds=fmt.seconds(rec.get("wall_s") or results.get("seconds", 0), lang))
    if live is not None:
        fraction = live.get("fraction", 0.0)
        if live.get("evaluating"):
            what = t("exp.status.evaluating", lang, done=live["evaluating"][0], total=live["evaluating"][1])
        elif live.get("log") is not None:
            what = t("exp.status.step", lang, step=live["log"]["step"], steps=live["log"]["steps"],
                     loss=live["log"]["loss"])
        else:
            what = t("exp.status.loading", lang)
        return t("exp.status.running", lang, i=live["index"] + 1, n=live["total"],
                 name=condition_label(live["row"], lang), what=what, bar=bar(fraction), pct=100 * fraction,
                 elapsed=fmt.seconds(live["elapsed"], lang), eta=fmt.seconds(live["eta"], lang))
    if state.get("running") and state.get("prep"):  # the prepare step: cleaning, or generating candidates
        done, total = state["prep"]
        return t("exp.status.generating", lang, done=done, total=total, bar=bar(done / max(1, total)))
    if state.get("running"):  # between two conditions: the next one is loading
        return t("exp.status.between", lang, done=len(results.get("conditions", [])))
    if results.get("stopped"):
        return t("exp.status.stopped", lang, done=len(results.get("conditions", [])),
                 seconds=fmt.seconds(results.get("seconds", 0), lang))
    return t("exp.status.finished", lang, n=len(results.get("conditions", [])),
             seconds=fmt.seconds(results.get("seconds", 0), lang))
