"""Tab 6 — Experiments: the lecture's claims as runs a learner repeats, and paged optimizers measured.

The training experiments (``lab.experiments``: full fine-tuning vs LoRA vs QLoRA, the rank, loss
masking, data quality vs quantity, synthetic data, zero-shot generalisation) run one condition after another in the training tab's queue (one run at a time on the server),
stream their curves and table, and end with sentences computed from the numbers. Choosing an experiment
shows its result recorded at the default settings at once, labelled as recorded; Run replaces it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr

from lab import experiments, memory
from lab.ui import experiments_view as view
from lab.ui import i18n, paging, session
from lab.ui.i18n import Keyed, Page, TabView, Texts, t
from lab.ui.style import user_errors

CHOICES = [("exp.name.peft", "peft"), ("exp.name.rank", "rank"), ("exp.name.masking", "masking"),
           ("exp.name.data_quality", "data-quality"), ("exp.name.synthetic", "synthetic"),
           ("exp.name.zero_shot", "zero-shot")]
METHOD_CHOICES = [("exp.method.lora", "lora"), ("exp.method.qlora", "qlora")]
RUNS_DIR = Path(tempfile.gettempdir()) / "tuning-lab-experiments"
KEEP_RUNS = 2  # experiment folders kept on the server (a full fine-tune writes the whole model)
FLAGS = session.StopFlags()
UPDATE_EVERY_S = 1.0  # the page is updated at most this often while evaluating
#: Share of a condition's time its training takes (the rest is its evaluation), for the progress bar.
TRAIN_SHARE = 0.7


def _state(name: str) -> dict:
    """What the panel shows for experiment ``name`` before it is run here: its recorded result."""
    recorded = experiments.recorded(name)
    return {"name": name, "results": recorded, "recorded": recorded is not None, "live": None}


def claim_text(name: str, lang: str) -> str:
    exp = experiments.experiment(name)
    return f"### {i18n.msg(exp.title, lang)}\n{t('exp.claim', lang, claim=i18n.msg(exp.claim, lang))}"


def outputs_of(state: dict, lang: str) -> tuple:
    """(status, curves, table, conclusions, spectrum plot, details) for what ``state`` holds: the details are
    the masking samples, the Clean step's rows, the synthetic candidates or the zero-shot per-task table."""
    results = state.get("results")
    spectrum = view.spectrum_figure(results, lang)
    samples = view.details_text(results, lang)
    return (view.status(state, lang), view.curves_figure(results, state.get("live"), lang), view.table(results, lang),
            view.conclusions_text(results, lang), gr.update(value=spectrum, visible=spectrum is not None),
            gr.update(value=samples, visible=bool(samples)))


@user_errors
def select(name, lang=i18n.DEFAULT):
    """A chosen experiment: its claim, its default steps, its options, and its recorded result."""
    lang = i18n.check_lang(lang)
    exp = experiments.experiment(name)
    state = _state(name)
    return (claim_text(name, lang), gr.update(value=exp.default_steps), gr.update(visible=name in ("rank", "masking")),
            gr.update(visible=name == "rank"), state, *outputs_of(state, lang),
            gr.update(visible=name == "synthetic"))


def arm(request: gr.Request = None):
    FLAGS.arm(session.session_of(request))
    return gr.update(interactive=False)


def request_stop(lang=i18n.DEFAULT, request: gr.Request = None) -> str:
    if not FLAGS.request_stop(session.session_of(request)):
        return t("exp.status.nothing_running", i18n.check_lang(lang))
    return t("exp.status.stopping", i18n.check_lang(lang))


def _out_dir() -> Path:
    """A new folder for this run's results; only the newest :data:`KEEP_RUNS` are kept."""
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    old = sorted(RUNS_DIR.iterdir(), key=lambda p: p.stat().st_mtime)
    for p in old[: max(0, len(old) - KEEP_RUNS + 1)]:
        shutil.rmtree(p, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix="experiment-", dir=RUNS_DIR))


def _progress(live: dict, done_s: list[float], now: float) -> None:
    """The live block's fraction done and ETA: training is :data:`TRAIN_SHARE` of a condition, the
    evaluation the rest; conditions still to come take the mean time of those done (or this one's)."""
    log, ev = live.get("log"), live.get("evaluating")
    part = 0.0
    if ev:
        part = TRAIN_SHARE + (1 - TRAIN_SHARE) * ev[0] / max(1, ev[1])
    elif log:
        part = TRAIN_SHARE * log["step"] / max(1, log["steps"])
    live["fraction"] = (live["index"] + part) / live["total"]
    live["elapsed"] = now - live["started"]
    this = now - live["condition_started"]
    per = sum(done_s) / len(done_s) if done_s else (this / part if part > 0.05 else None)
    left = live["total"] - live["index"] - 1
    live["eta"] = 0.0 if per is None else max(0.0, per * (1 - part) + per * left)


@user_errors
def run(name, steps, method, alpha, train_synthetic=False, lang=i18n.DEFAULT, request: gr.Request = None):
    """Run the chosen experiment; stream (state, status, curves, table, conclusions, spectrum, details)."""
    lang = i18n.check_lang(lang)
    who = session.session_of(request)
    stop = FLAGS.begin(who)
    try:
        settings = experiments.ExperimentSettings(
            steps=steps, method=method if name in ("rank", "masking") else "lora",
            alpha=alpha if name == "rank" and alpha not in (None, "", 0) else None,
            train_synthetic=bool(train_synthetic) and name == "synthetic")
        experiments.experiment(name)
        state = {"name": name, "results": None, "recorded": False, "live": None, "running": True}
        done_s: list[float] = []
        last = 0.0
        events = experiments.run_experiment(name, settings, out_dir=_out_dir(), stop=stop)
        try:
            for event in events:
                now = time.perf_counter()
                lang = session.lang(getattr(request, "session_hash", None), lang)
                if event.kind == "started":
                    state["results"] = {"experiment": name, "settings": event.settings, "conditions": []}
                    started = now
                    continue
                if event.kind == "cleaned":
                    state["results"]["cleaning"] = event.cleaning
                elif event.kind == "candidate":
                    syn = state["results"].setdefault("synthetic", {"total": event.total, "candidates": []})
                    syn["candidates"].append(event.row)
                    state["prep"] = (event.index + 1, event.total)
                elif event.kind == "condition_started":
                    state["prep"] = None
                    state["live"] = {"index": event.index, "total": event.total, "started": started,
                                     "condition_started": now, "curve": [], "log": None, "evaluating": None,
                                     "row": {"name": event.name, "method": event.method, "r": event.r,
                                             "masking": "none" if event.name == "none" else "completion"}}
                elif event.kind == "step":
                    state["live"]["curve"].append((event.log.step, event.log.loss))
                    state["live"]["log"] = {"step": event.log.step, "steps": event.log.steps, "loss": event.log.loss}
                elif event.kind == "evaluating":
                    state["live"]["evaluating"] = (event.done, event.total)
                    if now - last < UPDATE_EVERY_S:
                        continue
                elif event.kind == "condition_done":
                    done_s.append(now - state["live"]["condition_started"])
                    state["results"]["conditions"].append(event.row)
                    state["live"] = None
                elif event.kind == "finished":
                    state["results"] = event.results
                    state["live"], state["running"] = None, False
                if state["live"] is not None:
                    _progress(state["live"], done_s, now)
                last = now
                yield (state, *outputs_of(state, lang))
        finally:
            events.close()  # the page went away: the runner stops and releases its model
    finally:
        FLAGS.end(who)
        memory.release()


def rerender(lang, state):
    """What the panel shows, in ``lang``, from its state (nothing runs)."""
    lang = i18n.check_lang(lang)
    if not state:
        return (gr.skip(),) * 7
    return (claim_text(state["name"], lang), *outputs_of(state, lang))


def build_runs_panel(page: Page) -> TabView:
    tx, lang = Texts(), page.lang
    first = CHOICES[0][1]
    tx.md("exp.intro", elem_classes="lab-explain")
    with gr.Row():
        with gr.Column(scale=2, min_width=340):
            name = tx(gr.Radio, choices=Keyed(CHOICES), value=first, label="exp.choose", elem_id="exp-name")
            claim = gr.Markdown(claim_text(first, i18n.DEFAULT), elem_id="exp-claim")
            with gr.Row():
                steps = tx(gr.Number, value=experiments.experiment(first).default_steps, label="exp.steps",
                           info="exp.steps.info", precision=0, minimum=1, maximum=300, elem_id="exp-steps")
                method = tx(gr.Radio, choices=Keyed(METHOD_CHOICES), value="lora", label="exp.method", visible=False,
                            elem_id="exp-method")
                alpha = tx(gr.Number, value=None, label="exp.alpha", info="exp.alpha.info", visible=False,
                           elem_id="exp-alpha")
            with gr.Row():
                run_btn = tx(gr.Button, value="exp.run", text_value=True, variant="primary", elem_id="exp-run")
                stop_btn = tx(gr.Button, value="exp.stop", text_value=True, variant="stop", elem_id="exp-stop")
            train_synthetic = tx(gr.Checkbox, value=False, label="exp.train_synthetic", info="exp.train_synthetic.info",
                                 visible=False, elem_id="exp-train-synthetic")
            status = gr.Markdown(t("exp.status.idle"), elem_id="exp-status")
            tx.md("exp.queue", elem_classes="lab-note")
        with gr.Column(scale=3, min_width=460):
            curves = gr.Plot(show_label=False, elem_id="exp-curves")
    table = tx(gr.Dataframe, value=view.table(None, i18n.DEFAULT), label="exp.table", interactive=False, wrap=True,
               elem_id="exp-table")
    conclusions = gr.Markdown(elem_id="exp-conclusions", elem_classes="lab-explain")
    spectrum = gr.Plot(show_label=False, visible=False, elem_id="exp-spectrum")
    samples = gr.Markdown(visible=False, elem_id="exp-samples")
    state = gr.State(None)

    shown = [status, curves, table, conclusions, spectrum, samples]
    chosen = [claim, steps, method, alpha, state, *shown, train_synthetic]
    # The arrival's answer (the first experiment) and a choice made while it is on its way run one after the
    # other, in that order: run side by side, the arrival's could land last and undo the user's choice.
    in_order = {"concurrency_limit": 1, "concurrency_id": "exp-select"}
    name.change(select, [name, lang], chosen, api_visibility="private", **in_order)
    page.on_arrival(select, [name, lang], chosen, **in_order)
    event = run_btn.click(arm, None, run_btn, concurrency_limit=None, api_visibility="private").then(
        run, [name, steps, method, alpha, train_synthetic, lang], [state, *shown], concurrency_limit=1,
        concurrency_id="qlora-train", api_visibility="private",  # UI only: a whole experiment per call
        show_progress="minimal", show_progress_on=status)  # see the training tab's Train event
    event.then(lambda: gr.update(interactive=True), None, run_btn, api_visibility="private")
    stop_btn.click(request_stop, lang, status, concurrency_limit=None, api_visibility="private")
    return TabView(texts=tx, rerender=[(rerender, [state], [claim, *shown])],
                   parts={"name": name, "run": run_btn, "stop": stop_btn, "status": status, "table": table})


def build_experiments_tab(page: Page) -> TabView:
    tx = Texts()
    views = []
    with gr.Tabs():
        with tx(gr.Tab, label="exp.tab.runs", id="exp-runs"):
            views.append(build_runs_panel(page))
        with tx(gr.Tab, label="exp.tab.paging", id="exp-paging"):
            views.append(paging.build_paging_panel(page))
    for v in views:  # one TabView for the app: the panels' texts and re-renders with the tab's own
        tx.bindings += v.texts.bindings
    return TabView(texts=tx, rerender=[r for v in views for r in v.rerender],
                   parts={k: c for v in views for k, c in v.parts.items()})
