"""Tab 5 — QLoRA training: train an adapter live, watch the loss, compare the answers before and after.

The handlers run a training and keep what it measured in the tab's state; ``lab.ui.training_view``
turns that into text, tables and figures in the page's language (again on a language switch).
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr

from lab import checks, data, evaluation, export, masking, memory, models, training
from lab.errors import LabError, message_of
from lab.ui import fmt, i18n, session
from lab.ui import training_view as view
from lab.ui.i18n import Keyed, Page, TabView, Texts, t
from lab.ui.style import user_errors

MAX_SECONDS = float(os.environ.get("LAB_TRAIN_MAX_SECONDS", "300"))
UPLOAD = view.UPLOAD
#: How the frozen base is stored (``TrainConfig.quantization``; "none": plain LoRA on an unquantized base).
QUANT_CHOICES = [("train.quant.nf4", "nf4"), ("train.quant.none", "none")]
EVAL_PROMPTS = 32
#: Seconds between two drawings of the live loss curve. A drawing (matplotlib, then PNG) takes ~0.1 s of
#: a core, and the page's redraw more; at every step of ~1.5 s they took cores from the run they show.
REDRAW_S = 2.5
RUNS_DIR = Path(tempfile.gettempdir()) / "tuning-lab-runs"
KEEP_RUNS = 24
#: The widgets' ranges: the same bounds whether a value comes from a slider or through the API.
LIMITS = {"r": (1, 128), "alpha": (1, 256), "dropout": (0.0, 0.5), "lr": (1e-6, 0.1), "steps": (1, 300),
          "batch": (1, 32), "max_len": (32, 1024), "seed": (0, 2**31 - 1)}
_DEFAULT = training.TrainConfig()


# --- the settings ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Settings:
    """The settings widgets' values as they arrive, from the page or through the API, not yet checked.

    The field names are the ``/train`` and ``/export_script`` API's parameter names (each widget is
    passed by name); :meth:`config` checks every value and gives the run's ``TrainConfig``."""

    quant: str = "nf4"
    dataset_choice: str = _DEFAULT.dataset
    upload: str | None = None
    r: int = _DEFAULT.r
    alpha: float = _DEFAULT.alpha
    dropout: float = _DEFAULT.dropout
    targets: list = dataclasses.field(default_factory=lambda: list(_DEFAULT.target_modules))
    lr: float = _DEFAULT.learning_rate
    steps: int = _DEFAULT.steps
    batch: int = _DEFAULT.batch_size
    max_len: int = _DEFAULT.max_seq_len
    mask_mode: str = _DEFAULT.masking
    seed: int = _DEFAULT.seed

    def config(self) -> training.TrainConfig:
        """The values as a validated TrainConfig (a bad value raises a coded sentence naming it)."""
        if self.lr is None or self.seed is None:
            raise LabError("train.error.fill_in", "Fill in the learning rate and the seed.")
        quant = checks.one_of("Base model storage", self.quant, [v for _, v in QUANT_CHOICES])
        targets = self.targets
        if not isinstance(targets, (list, tuple)) or not all(isinstance(m, str) for m in targets):
            raise LabError("train.error.targets_list",
                           "Target modules must be a list of module names, for example ['q_proj', 'v_proj'].")
        targets = [checks.one_of("Each target module", m, training.ALL_LINEAR) for m in targets]
        return training.TrainConfig(
            dataset=self._dataset(), quantization=None if quant == "none" else quant,
            r=checks.whole_number("LoRA rank r", self.r, *LIMITS["r"]),
            alpha=checks.number("LoRA alpha", self.alpha, *LIMITS["alpha"]),
            dropout=checks.number("LoRA dropout", self.dropout, *LIMITS["dropout"]),
            target_modules=tuple(targets),
            learning_rate=checks.number("Learning rate", self.lr, *LIMITS["lr"]),
            steps=checks.whole_number("Steps", self.steps, *LIMITS["steps"]),
            batch_size=checks.whole_number("Batch size", self.batch, *LIMITS["batch"]),
            max_seq_len=checks.whole_number("Max length", self.max_len, *LIMITS["max_len"]),
            masking=checks.one_of("Loss masking", self.mask_mode, masking.MODES),
            seed=checks.whole_number("Seed", self.seed, *LIMITS["seed"]),
        )

    def _dataset(self) -> str:
        if self.dataset_choice == UPLOAD:
            if not self.upload:
                raise LabError("train.error.upload_first", "Upload a dataset file first, or choose a bundled dataset.")
            return self.upload
        return checks.one_of("Dataset", self.dataset_choice, data.list_datasets())


SETTINGS = [f.name for f in dataclasses.fields(Settings)]


# --- per-session stop flags ------------------------------------------------------------------------


FLAGS = session.StopFlags()
_session = session.session_of


def arm(request: gr.Request = None):
    """A fresh stop flag for this browser session, before its run is queued; Train waits for the run."""
    FLAGS.arm(_session(request))
    return gr.update(interactive=False)


def request_stop(lang=i18n.DEFAULT, request: gr.Request = None) -> str:
    """Stop this session's queued or running run; when none is, say so and leave nothing set."""
    if not FLAGS.request_stop(_session(request)):
        return t("train.status.nothing_running", lang)
    return t("train.status.stopping", lang)


def _begin(request) -> threading.Event:
    """The stop flag of the run that starts now (armed by Train; a fresh one for a direct API call)."""
    return FLAGS.begin(_session(request))


def _end(request) -> None:
    FLAGS.end(_session(request))


def _running(request) -> bool:
    """Whether this session has a run queued or in progress."""
    return FLAGS.running(_session(request))


# --- the run ---------------------------------------------------------------------------------------


def label_runs(runs: list[dict]) -> None:
    """Give the kept runs legend labels that name what differs between them ("run 2: r=4, 3 steps")."""
    for r, label in zip(runs, training.run_labels([r["config"] for r in runs], [r["number"] for r in runs])):
        r["label"] = label


class EvalClock:
    """Seconds per generated answer, measured on this server (the evaluation's ETA before it starts).

    The first guess is what a default run's evaluation took on a 2-core CPU; each evaluation then
    replaces it with its own measured rate."""

    def __init__(self, seconds_per_answer: float = 0.35):
        self.rate = seconds_per_answer
        self._lock = threading.Lock()

    def eta(self, answers: int) -> float:
        return answers * self.rate

    def record(self, answers: int, seconds: float) -> None:
        if answers > 0 and seconds > 0:
            with self._lock:
                self.rate = seconds / answers


EVAL_CLOCK = EvalClock()


def expected_answers(run) -> int:
    """Answers the evaluation will generate: the adapted model's, plus the base model's unless cached."""
    n = min(EVAL_PROMPTS, len(run.eval_chats)) + len(evaluation.PROBES)
    return n if evaluation.base_cached(run, EVAL_PROMPTS) else 2 * n


def prune_runs(keep: int = KEEP_RUNS) -> None:
    """Delete all but the newest ``keep`` run folders (adapters and zips) of this server."""
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    entries = sorted(RUNS_DIR.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    folders = [p for p in entries if p.is_dir()]
    for old in folders[keep:]:
        shutil.rmtree(old, ignore_errors=True)
        for sibling in RUNS_DIR.glob(old.name + "-*.zip"):
            sibling.unlink(missing_ok=True)


def _zip_adapter(adapter_dir: Path) -> str:
    base = adapter_dir.parent / f"{adapter_dir.name}-adapter"
    return shutil.make_archive(str(base), "zip", root_dir=adapter_dir)


OUTPUTS = ("state", "plot", "status", "notes", "summary", "answers", "forgetting", "adapter_file", "adapter_info")


def _out(**values) -> tuple:
    """One value per output of the train event, in OUTPUTS order; the rest left as they are."""
    return tuple(values.get(name, gr.skip()) for name in OUTPUTS)


@user_errors
def train_run(state, lang=i18n.DEFAULT, request: gr.Request = None, **settings):
    """Stream the loss curve while training, then evaluate before / after and offer the adapter.

    ``settings``: the fields of :class:`Settings`, by name. However the run ends (finished, stopped,
    failed, or the page went away), the model it loaded is dropped and its memory given back to the
    system (:func:`lab.memory.release`)."""
    stop = _begin(request)
    try:
        yield from _train(state, stop, Settings(**settings), i18n.check_lang(lang), request)
    finally:
        _end(request)
        memory.release()


def _train(state, stop, settings: Settings, lang: str, request):
    cfg = settings.config()
    prune_runs()
    cfg = dataclasses.replace(cfg, max_seconds=MAX_SECONDS, out_dir=tempfile.mkdtemp(prefix="run-", dir=RUNS_DIR))
    state = state or {}
    runs = [dict(r) for r in list(state.get("runs", []))[-1:]]  # keep the previous run to compare with
    n = state.get("count", 0) + 1
    current = {"config": cfg, "number": n, "curve": []}
    label_runs(runs + [current])
    max_steps = max([cfg.steps] + [len(r["curve"]) for r in runs])
    # what the live column shows when the run ends: kept in the state, for a language switch
    live = {"curves": runs + [current], "steps": max_steps, "reason": "", "log": None, "eval_stopped": False,
            "notes": [], "no_eval_split": False, "sizes": None}

    def now() -> str:
        """The page's language at this moment: a switch during the run applies from the next update."""
        return i18n.check_lang(session.lang(getattr(request, "session_hash", None), lang))

    run = training.TrainingRun(cfg)
    yield _out(status=t("train.status.loading", now()), notes="", plot=view.curve_figure(live["curves"], max_steps, now()))
    gen = run.steps(stop)
    eval_eta, drawn, undrawn = None, -math.inf, False
    try:
        for log in gen:
            if eval_eta is None:
                eval_eta = EVAL_CLOCK.eta(expected_answers(run))
            current["curve"].append((log.step, log.loss))
            status = view.status_table(log, now(), eval_eta)
            if time.perf_counter() - drawn < REDRAW_S and log.step < cfg.steps:
                undrawn = True
                yield _out(status=status)  # the numbers at every step; the curve a moment later
                continue
            drawn, undrawn = time.perf_counter(), False
            yield _out(plot=view.curve_figure(live["curves"], max_steps, now()), status=status)
    finally:
        gen.close()  # if the page went away: the run's own finally saves the adapter
    if undrawn:  # stopped between two drawings: the curve shows every step trained
        yield _out(plot=view.curve_figure(live["curves"], max_steps, now()))
    live.update(reason=run.stop_reason, notes=list(run.notes))
    if not run.logs:
        lg = now()
        yield _out(state={**state, "live": live}, status=view.final_status(live, lg),
                   notes=view.notes_text(live["notes"], False, lg))
        return
    stop.clear()  # a Stop ended training; pressing it again skips the evaluation
    live.update(log=run.logs[-1], no_eval_split=len(run.eval_chats) == 0)
    before = after = None
    for update in _evaluate(run, stop):
        if len(update) == 3:  # (done, total, eta_s); else the (before, after) evaluations
            lg = now()
            yield _out(status=view.final_status(live, lg) + "\n\n" + view.evaluating(*update, lg),
                       notes=view.notes_text(live["notes"], live["no_eval_split"], lg))
        else:
            before, after = update
    live["eval_stopped"] = after is None
    sz = training.sizes(run)
    archive = _zip_adapter(run.adapter_dir)
    live["sizes"] = (sz, cfg.quantization, training.dir_size(run.adapter_dir), os.path.getsize(archive))
    if request is not None:  # the Model & data tab's chat can use this session's last adapter
        session.remember_adapter(_session(request), run.adapter_dir, current["label"], cfg.quantization)
    if after is not None:
        current.update(view.run_results(before, after, run.logs, run.adapter_dir, sz))
        runs.append(current)
    lg = now()
    shown = dict(state={"runs": runs, "count": n, "live": live}, status=view.final_status(live, lg),
                 notes=view.notes_text(live["notes"], live["no_eval_split"], lg),
                 adapter_file=gr.update(value=archive, visible=True), adapter_info=view.sizes_text(*live["sizes"], lg))
    if after is None:
        yield _out(**shown)
        return
    yield _out(plot=view.curve_figure(runs, max_steps, lg), summary=view.summary_table(runs, lg),
               answers=view.answers_frame(current, runs[-2] if len(runs) > 1 else None, lg),
               forgetting=view.forgetting_frame(current, lg), **shown)


def _evaluate(run, stop):
    """Run the before / after evaluation in a thread; yield ``(done, total, eta_s)`` about once a second,
    then ``(before, after)`` — or nothing more when it was stopped.

    If the page goes away while it runs, the stop flag ends the evaluation between two batches."""
    box: dict = {"done": 0, "total": None}
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        box["done"], box["total"] = done, total

    def work() -> None:
        try:
            box["result"] = evaluation.before_after(run, EVAL_PROMPTS, on_progress=progress)
        except training.Stopped:
            box["result"] = None
        except BaseException as e:  # re-raised in the handler's thread
            box["error"] = e

    worker = threading.Thread(target=work, name="lab-evaluate", daemon=True)
    worker.start()
    expected = expected_answers(run)
    try:
        while worker.is_alive():
            total = box["total"] if box["total"] is not None else expected
            done = box["done"]
            elapsed = time.perf_counter() - started
            # answers come a batch at a time (32 or 48): until the first, count down the clock's estimate
            eta = (total - done) * elapsed / done if done else total * EVAL_CLOCK.rate - elapsed
            yield done, total, max(0.0, eta)
            worker.join(1.0)
    finally:
        if worker.is_alive():  # the page went away: end the evaluation between two batches
            stop.set()
            worker.join()
    if "error" in box:
        raise box["error"]
    if box.get("result") is not None:
        EVAL_CLOCK.record(box["total"] or expected, time.perf_counter() - started)
        yield box["result"]


# --- the other handlers ----------------------------------------------------------------------------


@user_errors
def check_upload(path: str | None, lang=i18n.DEFAULT):
    """Read an uploaded file at once, so a bad one is named before anyone presses Train: the message, the
    dataset choice, and what was found (kept to say it again in another language)."""
    if not path:
        return "", gr.update(value="pirate"), None
    check: dict = {"name": Path(path).name}
    try:
        train_ds, eval_ds = training.load_splits(path)
    except (ValueError, OSError) as e:
        check["error"] = message_of(e) or str(e)
        return view.upload_message(check, lang), gr.update(value="pirate"), check
    check.update(train=len(train_ds), held_out=len(eval_ds))
    return view.upload_message(check, lang), gr.update(value=UPLOAD), check


@user_errors
def export_run(lang=i18n.DEFAULT, **settings):
    """The settings (the fields of :class:`Settings`, by name) as a TRL SFTTrainer script and a zip of
    the script with the training data."""
    cfg = Settings(**settings).config()
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    dest = export.export_bundle(cfg, tempfile.mkdtemp(prefix="export-", dir=RUNS_DIR))
    archive = shutil.make_archive(str(dest.parent / f"{dest.name}-trl-script"), "zip", root_dir=dest)
    return export.trl_script(cfg), archive


def rerender(lang, state, upload_check, request: gr.Request = None):
    """What the tab shows, in ``lang``, from its state: the dataset choices, the upload check, the summary
    and tables of the kept runs, and the live column as the last run left it. While this session's run
    is queued or in progress, its own updates re-render the live column (they read the switch)."""
    lang = i18n.check_lang(lang)
    state = state or {}
    runs, live = state.get("runs") or [], state.get("live")
    if _running(request):
        plot = status = notes = adapter_info = gr.skip()
    elif live is None:
        plot = view.curve_figure([], _DEFAULT.steps, lang)
        status, notes, adapter_info = t("train.status.ready", lang), "", t("train.adapter.none", lang)
    else:
        plot = view.curve_figure(live["curves"], live["steps"], lang)
        status, notes = view.final_status(live, lang), view.notes_text(live["notes"], live["no_eval_split"], lang)
        adapter_info = view.sizes_text(*live["sizes"], lang) if live["sizes"] else t("train.adapter.none", lang)
    if runs:
        summary = view.summary_table(runs, lang)
        answers = view.answers_frame(runs[-1], runs[-2] if len(runs) > 1 else None, lang)
        forgetting = view.forgetting_frame(runs[-1], lang)
    else:
        summary, answers, forgetting = "", view.answers_placeholder(lang), view.forgetting_placeholder(lang)
    return (gr.update(choices=view.dataset_choices(lang)), view.upload_message(upload_check, lang), plot, status,
            notes, summary, answers, forgetting, adapter_info)


# --- layout ----------------------------------------------------------------------------------------


def build_training_tab(page: Page) -> TabView:
    tx, lang, d = Texts(), page.lang, Settings()
    en = i18n.DEFAULT
    state, upload_check = gr.State({"runs": [], "count": 0}), gr.State(None)
    with gr.Row():
        with gr.Column(scale=2, min_width=360):
            tx.md("train.heading.settings")
            tx(gr.Dropdown, choices=[models.BUNDLED_NAME], value=models.BUNDLED_NAME, label="train.base_model",
               interactive=False)
            with gr.Row():
                dataset = tx(gr.Dropdown, choices=view.dataset_choices(en), value=d.dataset_choice,
                             label="train.dataset", elem_id="train-dataset")
                quant = tx(gr.Radio, choices=Keyed(QUANT_CHOICES), value=d.quant, label="train.quant",
                           elem_id="train-quant")
            upload = tx(gr.File, label="train.upload", file_types=[".jsonl", ".json", ".csv", ".parquet"],
                        type="filepath", height=130, elem_id="train-upload")
            upload_status = gr.Markdown(elem_id="train-upload-status")
            with gr.Row():
                r = tx(gr.Slider, minimum=1, maximum=128, value=d.r, step=1, label="train.rank", elem_id="train-rank")
                alpha = tx(gr.Slider, minimum=1, maximum=256, value=d.alpha, step=1, label="train.alpha",
                           info="train.alpha.info")
            with gr.Row():
                dropout = tx(gr.Slider, minimum=0, maximum=0.5, value=d.dropout, step=0.05, label="train.dropout")
                lr = tx(gr.Number, value=d.lr, label="train.lr", minimum=1e-6, maximum=0.1, step=1e-4)
            targets = tx(gr.CheckboxGroup, choices=list(training.ALL_LINEAR), value=d.targets, label="train.targets")
            with gr.Row():
                steps = tx(gr.Slider, minimum=1, maximum=300, value=d.steps, step=1, label="train.steps",
                           elem_id="train-steps")
                batch = tx(gr.Slider, minimum=1, maximum=32, value=d.batch, step=1, label="train.batch",
                           info=("train.batch.info", {"limit": training.MAX_TOKENS_PER_STEP}))
            with gr.Row():
                max_len = tx(gr.Slider, minimum=32, maximum=1024, value=d.max_len, step=16, label="train.max_len",
                             info="train.max_len.info")
                seed = tx(gr.Number, value=d.seed, label="train.seed", precision=0, minimum=0)
            mask_mode = tx(gr.Radio, choices=list(masking.MODES), value=d.mask_mode, label="train.masking",
                           info="train.masking.info")
        # the live column stays in view while the settings scroll: Train, Stop, the curve and the status
        with gr.Column(scale=3, min_width=480, elem_id="train-live"):
            with gr.Row():
                train_btn = tx(gr.Button, value="train.train", text_value=True, variant="primary",
                               elem_id="train-start")
                stop_btn = tx(gr.Button, value="train.stop", text_value=True, variant="stop", elem_id="train-stop")
            plot = gr.Plot(view.curve_figure([], d.steps, en), show_label=False, elem_id="train-plot")
            status = gr.Markdown(t("train.status.ready"), elem_id="train-status")
            notes = gr.Markdown(elem_classes="lab-note", elem_id="train-notes")
            tx(gr.Markdown, value=lambda lg: t("train.queue_note", lg, cap=fmt.seconds(MAX_SECONDS, lg)),
               elem_classes="lab-note")
    with gr.Row():
        with gr.Column(scale=3):
            tx.md("train.explain.how", elem_classes="lab-explain")
        with gr.Column(scale=2):
            with tx(gr.Accordion, label="train.explain.title", open=False):
                tx.md("train.explain.lora", elem_classes="lab-explain")
    tx.md("train.heading.before_after")
    summary = gr.Markdown(elem_id="train-summary")
    answers = tx(gr.Dataframe, value=view.answers_placeholder(en), label="train.answers", wrap=True,
                 interactive=False, elem_id="train-answers", max_height=520,
                 column_widths=["19%", "27%", "27%", "27%"])
    forgetting = tx(gr.Dataframe, value=view.forgetting_placeholder(en), label="train.forgetting", wrap=True,
                    interactive=False, elem_id="train-forgetting", column_widths=["22%", "34%", "34%", "10%"])
    tx.md("train.heading.adapter")
    with gr.Row():
        adapter_file = tx(gr.File, label="train.adapter.file", interactive=False, elem_id="train-adapter", height=90,
                          visible=False)
        adapter_info = gr.Markdown(t("train.adapter.none"), elem_id="train-adapter-info")
    with tx(gr.Accordion, label="train.export.title", open=False):
        export_btn = tx(gr.Button, value="train.export.button", text_value=True, elem_id="train-export")
        with gr.Row():
            script = gr.Code(language="python", label="train_qlora.py", lines=16)
            bundle = tx(gr.File, label="train.export.bundle", interactive=False, height=90)

    widgets = dict(quant=quant, dataset_choice=dataset, upload=upload, r=r, alpha=alpha, dropout=dropout,
                   targets=targets, lr=lr, steps=steps, batch=batch, max_len=max_len, mask_mode=mask_mode, seed=seed)
    assert list(widgets) == SETTINGS, "one widget per field of Settings"
    by_name = {**widgets, "lang": lang}  # the handlers take the settings by name, and the language last
    outputs = [state, plot, status, notes, summary, answers, forgetting, adapter_file, adapter_info]
    upload.upload(check_upload, [upload, lang], [upload_status, dataset, upload_check], api_visibility="private")
    upload.clear(lambda: ("", "pirate", None), None, [upload_status, dataset, upload_check], api_visibility="private")
    # The status line shows the run's progress; Gradio's own timer goes there only, small. Its default, an
    # animated overlay with a timer on each of the 9 outputs, redrawn for minutes, took a third of a
    # core in the browser: on 2 cores that slowed the run itself (Train to answers 145 s -> 110 s in
    # bench/train_to_answers.py, where Chromium shares the machine).
    event = train_btn.click(arm, None, train_btn, concurrency_limit=None, api_visibility="private").then(
        train_run, [state], outputs, inputs_kwargs=by_name, concurrency_limit=1, concurrency_id="qlora-train",
        api_name="train", show_progress="minimal", show_progress_on=status,
    )
    event.then(lambda: gr.update(interactive=True), None, train_btn, api_visibility="private")
    stop_btn.click(request_stop, lang, status, concurrency_limit=None, api_visibility="private")
    export_btn.click(export_run, None, [script, bundle], inputs_kwargs=by_name, api_name="export_script")
    return TabView(
        texts=tx,
        rerender=[(rerender, [state, upload_check],
                   [dataset, upload_status, plot, status, notes, summary, answers, forgetting, adapter_info])],
        parts={"train": train_btn, "stop": stop_btn, "plot": plot, "status": status, "event": event,
               "summary": summary, "answers": answers, "dataset": dataset},
    )
