"""Tab 5 — QLoRA training: train an adapter live, watch the loss, compare the answers before and after."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr
import pandas as pd

from lab import checks, data, evaluation, export, masking, memory, models, plots, training
from lab.ui import session
from lab.ui.style import user_errors

MAX_SECONDS = float(os.environ.get("LAB_TRAIN_MAX_SECONDS", "300"))
UPLOAD = "uploaded file"
QUANT = {"NF4 + double quantization (QLoRA)": "nf4", "None: unquantized base (plain LoRA)": None}
EVAL_PROMPTS = 32
RUNS_DIR = Path(tempfile.gettempdir()) / "tuning-lab-runs"

EXPLAIN = """
### LoRA (Hu et al. 2021)
Instead of updating a weight matrix **W** (d × d), learn a low-rank update **ΔW = B A** with
B (d × r) and A (r × d), r small (8, 16, 64): **W′ = W + (α / r) · B A**. **B starts at zero**, so
training starts exactly from the pre-trained model. Trainable parameters fall by orders of magnitude
(GPT-3 175B: 10,000× fewer, 3× less GPU memory) with quality comparable to full fine-tuning.

### QLoRA (Dettmers et al. 2023)
LoRA on top of a base model **stored in 4 bits**, so large models train on small GPUs:
- **NF4**: 16 levels at quantiles of a standard normal, block-wise absmax scaling (blocks of 64);
- **double quantization**: the block scales are quantized too (8 bits, blocks of 256) —
  0.5 → 0.127 bits of overhead per parameter;
- **paged optimizers**: optimizer states move between GPU and CPU memory when the GPU runs out.
  *On this CPU there is nothing to page to: the lab uses plain AdamW and says so.*

Result: a 65B model fine-tuned on a single 48 GB GPU (16-bit full fine-tuning needs > 780 GB).
Here: a 135M model on two CPU cores: with the default settings about 65 s of training and 25 s of
evaluation (measured on an idle 2-core machine).
"""

HOW = """
**What happens when you press Train.** The base model loads in 4-bit NF4, LoRA adapters are added to
the chosen layers, and each step trains on *batch size* examples (labels from the masking mode). The
loss is next-token cross-entropy on the trained tokens. Afterwards the base model (adapter switched
off) and the adapted model answer the dataset's held-out `eval` prompts, never trained on, plus a few
general-knowledge questions: did it learn the behaviour, and did it forget anything?
Speed on a CPU: examples are packed end to end without padding, logits are computed only where there
is a loss, and nothing is recomputed (no gradient checkpointing).
"""


# --- per-session stop flags ------------------------------------------------------------------------


@dataclasses.dataclass
class _Slot:
    """A session's stop flag, and whether a run of that session is queued or running."""

    stop: threading.Event = dataclasses.field(default_factory=threading.Event)
    active: bool = False


_slots: dict[str, _Slot] = {}
_slots_lock = threading.Lock()
NOTHING_RUNNING = "Nothing is training: press **Train** to start a run."


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "default"


def arm(request: gr.Request = None):
    """A fresh stop flag for this browser session, before its run is queued; Train waits for the run."""
    with _slots_lock:
        _slots[_session(request)] = _Slot(active=True)
    return gr.update(interactive=False)


def request_stop(request: gr.Request = None) -> str:
    """Stop this session's queued or running run; when none is, say so and leave nothing set."""
    with _slots_lock:
        slot = _slots.get(_session(request))
        if slot is None or not slot.active:
            return NOTHING_RUNNING
        slot.stop.set()
    return "**Stopping** after the current step; the adapter keeps what it learned so far…"


def _begin(request) -> threading.Event:
    """The stop flag of the run that starts now (armed by Train; a fresh one for a direct API call)."""
    with _slots_lock:
        slot = _slots.get(_session(request))
        if slot is None or not slot.active:
            slot = _slots[_session(request)] = _Slot(active=True)
        return slot.stop


def _end(request) -> None:
    with _slots_lock:
        slot = _slots.get(_session(request))
        if slot is not None:
            slot.active = False


# --- formatting ------------------------------------------------------------------------------------


def label_runs(runs: list[dict]) -> None:
    """Give the kept runs legend labels that name what differs between them ("run 2: r=4, 3 steps")."""
    for r, label in zip(runs, training.run_labels([r["config"] for r in runs], [r["number"] for r in runs])):
        r["label"] = label


def _fmt_s(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s // 60:.0f} min {s % 60:02.0f} s"


def status_table(log: training.StepLog, eval_eta_s: float | None = None) -> str:
    """The last step's numbers; the ETA adds the evaluation's expected time when it is known."""
    eta = _fmt_s(log.eta_s) if eval_eta_s is None else f"{_fmt_s(log.eta_s + eval_eta_s)} (incl. evaluation)"
    return (
        "| step | loss | learning rate | tokens / s | elapsed | ETA | memory in use |\n"
        "|---:|---:|---:|---:|---:|---:|---:|\n"
        f"| {log.step} / {log.steps} | {log.loss:.3f} | {log.lr:.2e} | {log.tokens_per_s:,.0f} | "
        f"{_fmt_s(log.elapsed_s)} | {eta} | {log.memory_mb:,.0f} MB |"
    )


def curve_figure(runs: list[dict], steps: int):
    """The kept runs' loss curves (lab.plots), oldest first."""
    return plots.training_curves_figure([(r["label"], r["curve"]) for r in runs], steps)


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


def _mark(hit) -> str:
    return "" if hit is None else (" ✓" if hit else " ✗")


def _judged(answer: str, hits, reasons, i: int) -> str:
    """The answer, ✓ or ✗, and why ("… ✗ repetition: 'ahoy matey' ×6; does not address the prompt")."""
    text = answer + _mark(hits[i] if hits else None)
    why = reasons[i] if reasons else ""
    return f"{text} {why}" if why else text


def answers_frame(current: dict, previous: dict | None) -> pd.DataFrame:
    """Prompt | base | this run | previous run (blank unless it answered the same prompts); each answer
    with ✓ / ✗ and the judge's reasons (lab.evaluation.judge)."""
    same = previous is not None and previous["prompts"] == current["prompts"]
    prev_col = f"after — {previous['label']}" if previous is not None else "after — previous run (none yet)"
    if previous is not None and not same:
        prev_col += " (other prompts)"
    rows = []
    for i, p in enumerate(current["prompts"]):
        rows.append({
            "held-out prompt": p,
            "base model (before)": _judged(current["before"][i], current["before_hits"], current.get("before_reasons"), i),
            f"after — {current['label']}": _judged(current["after"][i], current["after_hits"],
                                                   current.get("after_reasons"), i),
            prev_col: _judged(previous["after"][i], previous["after_hits"], previous.get("after_reasons"), i) if same else "",
        })
    return pd.DataFrame(rows)


def forgetting_frame(current: dict) -> pd.DataFrame:
    """Each probe: the base model's and the adapted model's answers, ✓ / ✗ with the reason for a ✗
    ("'3' but also 27"), and whether training made it forgotten or regained."""
    n = len(current["questions"])
    why_before = current.get("q_before_reasons") or [""] * n
    why_after = current.get("q_after_reasons") or [""] * n
    rows = []
    for i, (q, b, a, cb, ca) in enumerate(zip(current["questions"], current["q_before"], current["q_after"],
                                              current["correct_before"], current["correct_after"])):
        rows.append({
            "general-knowledge question": q,
            "before": b + _mark(cb) + ("" if cb or not why_before[i] else f" {why_before[i]}"),
            "after": a + _mark(ca) + ("" if ca or not why_after[i] else f" {why_after[i]}"),
            "change": "forgotten" if cb and not ca else ("regained" if ca and not cb else ""),
        })
    return pd.DataFrame(rows)


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


def _nats(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def summary_table(runs: list[dict]) -> str:
    if not runs:
        return ""
    head = runs[-1]
    lines = [
        f"**Behaviour score** = share of the {len(head['prompts'])} held-out prompts whose answer shows the behaviour "
        f"({head['behaviour']}), is no repetition loop and addresses the prompt. **Forgetting check** = "
        "general-knowledge probes answered correctly (the right fact, no competing one). **General-text loss** = "
        "mean next-token cross-entropy (nats / token) on a plain-English passage the base model knows; a rise "
        "means the adapter changed ordinary text too.\n",
    ]
    if head.get("probe_accuracy_after") is not None:
        lines.append(
            f"**{head['label']}**: probe accuracy {_pct(head['probe_accuracy_before'])} → "
            f"{_pct(head['probe_accuracy_after'])} ({head['retained_before']} → {head['retained_after']}) · "
            f"general-text loss {_nats(head.get('general_loss_before'))} → {_nats(head.get('general_loss_after'))} "
            "nats / token\n"
        )
    lines += [
        "| | behaviour score | forgetting check | general-text loss | final loss | steps | training time | tokens / s | adapter |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| base model (no adapter) | {_pct(head['score_before'])} | {head['retained_before']} | "
        f"{_nats(head.get('general_loss_before'))} | | | | | |",
    ]
    for r in reversed(runs):
        lines.append(
            f"| {r['label']} | {_pct(r['score_after'])} | {r['retained_after']} | {_nats(r.get('general_loss_after'))} | "
            f"{r['final_loss']:.3f} | {r['steps_done']} | {_fmt_s(r['train_s'])} | {r['tokens_per_s']:,.0f} | "
            f"{r['adapter_mb']:.1f} MB |"
        )
    return "\n".join(lines)


MIB = 2**20  # the download box counts 1 MB as 2^20 bytes: the page's adapter sizes do too, so both agree


def sizes_text(sz: training.Sizes, cfg: training.TrainConfig, files_bytes: int, zip_bytes: int) -> str:
    """The adapter's size on disk and as the download, each labelled, beside the base model's."""
    disk = f"{sz.base_disk / MIB:,.0f} MB on disk (fp32 safetensors) · " if sz.base_disk else ""
    stored = "NF4" if cfg.quantization else str(models.compute_dtype()).replace("torch.", "")
    return (
        f"**Adapter files: {files_bytes / MIB:.1f} MB on disk** (peft format: `adapter_model.safetensors` "
        f"{sz.adapter / MIB:.1f} MB + `adapter_config.json`) · **zip download: {zip_bytes / MIB:.1f} MB** "
        f"(compressed) · base model: {disk}{sz.base_memory / MIB:,.0f} MB in memory ({stored}). "
        f"Share the adapter, not the model: it is {100 * sz.adapter / (sz.base_disk or sz.base_memory):.1f} % of the base's size. "
        f"*1 MB = 2²⁰ bytes here, as the download box counts.*"
    )


# --- handlers --------------------------------------------------------------------------------------


KEEP_RUNS = 24


def prune_runs(keep: int = KEEP_RUNS) -> None:
    """Delete all but the newest ``keep`` run folders (adapters and zips) of this server."""
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    entries = sorted(RUNS_DIR.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    folders = [p for p in entries if p.is_dir()]
    for old in folders[keep:]:
        shutil.rmtree(old, ignore_errors=True)
        for sibling in RUNS_DIR.glob(old.name + "-*.zip"):
            sibling.unlink(missing_ok=True)


def _dataset_arg(choice: str, upload: str | None) -> str:
    if choice == UPLOAD:
        if not upload:
            raise gr.Error("Upload a dataset file first, or choose a bundled dataset.")
        return upload
    return checks.one_of("Dataset", choice, data.list_datasets())


@user_errors
def check_upload(path: str | None):
    """Read an uploaded file at once, so a bad one is named before anyone presses Train."""
    if not path:
        return "", gr.update(value="pirate")
    name = Path(path).name
    try:
        train_ds, eval_ds = training.load_splits(path)
    except (ValueError, OSError) as e:
        return f"⚠️ **{name} cannot be used:** {e}", gr.update(value="pirate")
    if len(eval_ds) == 0:
        return (
            f"✓ **{name}**: {len(train_ds):,} rows, all to train on. ⚠️ **Too few rows for an eval split**: "
            f"one row in ten is held out, so at least 10 rows are needed. After training there are no held-out "
            f"prompts to compare before and after (so no behaviour score) — only the general-knowledge probes.",
            gr.update(value=UPLOAD),
        )
    return (
        f"✓ **{name}**: {len(train_ds) + len(eval_ds):,} rows — {len(train_ds):,} to train on, "
        f"{len(eval_ds):,} held out as its eval split.", gr.update(value=UPLOAD)
    )


OUTPUTS = ("state", "plot", "status", "notes", "summary", "answers", "forgetting", "adapter_file", "adapter_info")


def _out(**values) -> tuple:
    """One value per output of the train event, in OUTPUTS order; the rest left as they are."""
    return tuple(values.get(name, gr.skip()) for name in OUTPUTS)


def _zip_adapter(adapter_dir: Path) -> str:
    base = adapter_dir.parent / f"{adapter_dir.name}-adapter"
    return shutil.make_archive(str(base), "zip", root_dir=adapter_dir)


#: The widgets' ranges: the same bounds whether a value comes from a slider or through the API.
LIMITS = {"r": (1, 128), "alpha": (1, 256), "dropout": (0.0, 0.5), "lr": (1e-6, 0.1), "steps": (1, 300),
          "batch": (1, 32), "max_len": (32, 1024), "seed": (0, 2**31 - 1)}


def settings_config(quant, dataset_choice, upload, r, alpha, dropout, targets, lr, steps, batch, max_len,
                    mask_mode, seed) -> training.TrainConfig:
    """The settings widgets' values as a validated TrainConfig (a bad value raises a sentence)."""
    if lr is None or seed is None:
        raise gr.Error("Fill in the learning rate and the seed.")
    quant = checks.one_of("Base model storage", quant, QUANT)
    if not isinstance(targets, (list, tuple)) or not all(isinstance(t, str) for t in targets):
        raise ValueError("Target modules must be a list of module names, for example ['q_proj', 'v_proj'].")
    targets = [checks.one_of("Each target module", t, training.ALL_LINEAR) for t in targets]
    return training.TrainConfig(
        dataset=_dataset_arg(dataset_choice, upload), quantization=QUANT[quant],
        r=checks.whole_number("LoRA rank r", r, *LIMITS["r"]),
        alpha=checks.number("LoRA alpha", alpha, *LIMITS["alpha"]),
        dropout=checks.number("LoRA dropout", dropout, *LIMITS["dropout"]),
        target_modules=tuple(targets),
        learning_rate=checks.number("Learning rate", lr, *LIMITS["lr"]),
        steps=checks.whole_number("Steps", steps, *LIMITS["steps"]),
        batch_size=checks.whole_number("Batch size", batch, *LIMITS["batch"]),
        max_seq_len=checks.whole_number("Max length", max_len, *LIMITS["max_len"]),
        masking=checks.one_of("Loss masking", mask_mode, masking.MODES),
        seed=checks.whole_number("Seed", seed, *LIMITS["seed"]),
    )


@user_errors
def train_run(state, quant, dataset_choice, upload, r, alpha, dropout, targets, lr, steps, batch, max_len,
              mask_mode, seed, request: gr.Request = None):
    """Stream the loss curve while training, then evaluate before / after and offer the adapter.

    However the run ends (finished, stopped, failed, or the page went away), the model it loaded is
    dropped and its memory given back to the system (:func:`lab.memory.release`)."""
    stop = _begin(request)
    try:
        yield from _train(state, stop, quant, dataset_choice, upload, r, alpha, dropout, targets, lr, steps, batch,
                          max_len, mask_mode, seed, request=request)
    finally:
        _end(request)
        memory.release()


def _train(state, stop, *settings, request=None):
    cfg = settings_config(*settings)
    prune_runs()
    cfg = dataclasses.replace(cfg, max_seconds=MAX_SECONDS, out_dir=tempfile.mkdtemp(prefix="run-", dir=RUNS_DIR))
    runs = [dict(r) for r in list((state or {}).get("runs", []))[-1:]]  # keep the previous run to compare with
    n = (state or {}).get("count", 0) + 1
    current = {"config": cfg, "number": n, "curve": []}
    label_runs(runs + [current])
    max_steps = max([cfg.steps] + [len(r["curve"]) for r in runs])
    run = training.TrainingRun(cfg)
    yield _out(status="**Loading** the model and the data…", notes="", plot=curve_figure(runs + [current], max_steps))
    gen = run.steps(stop)
    eval_eta = None
    try:
        for log in gen:
            if eval_eta is None:
                eval_eta = EVAL_CLOCK.eta(expected_answers(run))
            current["curve"].append((log.step, log.loss))
            yield _out(plot=curve_figure(runs + [current], max_steps), status=status_table(log, eval_eta))
    finally:
        gen.close()  # if the page went away: the run's own finally saves the adapter
    if not run.logs:
        yield _out(status=f"**{run.stop_reason}** No step was trained, so there is nothing to compare.",
                   notes="  \n".join(run.notes))
        return
    stop.clear()  # a Stop ended training; pressing it again skips the evaluation
    last = run.logs[-1]
    done = f"**{run.stop_reason}**  \n{status_table(last)}"
    notes = list(run.notes)
    if len(run.eval_chats) == 0:
        notes.append("This dataset has no eval split (too few rows to hold any out): only the general-knowledge "
                     "probes are compared before and after.")
    before = after = None
    for update in _evaluate(run, stop):
        if isinstance(update, str):
            yield _out(status=done + "\n\n" + update, notes="  \n".join(notes))
        else:
            before, after = update
    if after is None:
        done += "  \n*Evaluation stopped: the adapter is kept; no answers to compare.*"
    sz = training.sizes(run)
    archive = _zip_adapter(run.adapter_dir)
    adapter = dict(adapter_file=gr.update(value=archive, visible=True),
                   adapter_info=sizes_text(sz, cfg, training.dir_size(run.adapter_dir), os.path.getsize(archive)))
    if request is not None:  # the Model & data tab's chat can use this session's last adapter
        session.remember_adapter(_session(request), run.adapter_dir, current["label"], cfg.quantization)
    if after is None:
        yield _out(status=done, **adapter)
        return
    current.update(
        prompts=after.prompts, before=before.answers, after=after.answers, before_hits=before.hits,
        after_hits=after.hits, score_before=before.score, score_after=after.score, behaviour=after.behaviour,
        questions=after.questions, q_before=before.question_answers, q_after=after.question_answers,
        correct_before=before.correct, correct_after=after.correct,
        retained_before=f"{sum(before.correct)} / {len(before.correct)}",
        retained_after=f"{sum(after.correct)} / {len(after.correct)}",
        before_reasons=["; ".join(v.reasons) for v in before.verdicts] if before.verdicts else None,
        after_reasons=["; ".join(v.reasons) for v in after.verdicts] if after.verdicts else None,
        q_before_reasons=["; ".join(v.reasons) for v in before.probe_verdicts],
        q_after_reasons=["; ".join(v.reasons) for v in after.probe_verdicts],
        probe_accuracy_before=before.probe_accuracy, probe_accuracy_after=after.probe_accuracy,
        general_loss_before=before.general_loss, general_loss_after=after.general_loss,
        final_loss=last.loss, steps_done=len(run.logs),
        train_s=sum(x.step_s for x in run.logs), tokens_per_s=last.tokens_per_s,
        adapter_mb=sz.adapter / MIB, adapter_dir=str(run.adapter_dir),
    )
    runs.append(current)
    previous = runs[-2] if len(runs) > 1 else None
    yield _out(
        state={"runs": runs, "count": n},
        plot=curve_figure(runs, max_steps),
        status=done,
        summary=summary_table(runs),
        answers=answers_frame(current, previous),
        forgetting=forgetting_frame(current),
        **adapter,
    )


def _evaluate(run, stop):
    """Run the before / after evaluation in a thread; yield a progress line about once a second
    ("answering 12 / 72 · ETA 9 s"), then ``(before, after)`` — or nothing more when it was stopped.

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
            rate = elapsed / done if done else EVAL_CLOCK.rate
            yield (f"**Evaluating:** answering {done} / {total} · ETA {_fmt_s(max(0.0, (total - done) * rate))} — the base "
                   f"model (adapter off) and the adapted model answer the held-out prompts and the general-knowledge "
                   f"probes, in batches. *(Stop skips this.)*")
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


@user_errors
def export_run(quant, dataset_choice, upload, r, alpha, dropout, targets, lr, steps, batch, max_len, mask_mode, seed):
    """The current settings as a TRL SFTTrainer script (+ the training data), zipped."""
    cfg = settings_config(quant, dataset_choice, upload, r, alpha, dropout, targets, lr, steps, batch, max_len,
                          mask_mode, seed)
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    dest = export.export_bundle(cfg, tempfile.mkdtemp(prefix="export-", dir=RUNS_DIR))
    archive = shutil.make_archive(str(dest.parent / f"{dest.name}-trl-script"), "zip", root_dir=dest)
    return export.trl_script(cfg), archive


# --- layout ----------------------------------------------------------------------------------------

def build_training_tab(page=None) -> dict:
    d = training.TrainConfig()
    state = gr.State({"runs": [], "count": 0})
    with gr.Row():
        with gr.Column(scale=2, min_width=360):
            gr.Markdown("### Settings")
            gr.Dropdown([models.BUNDLED_NAME + " (bundled)"], value=models.BUNDLED_NAME + " (bundled)",
                        label="Base model", interactive=False)
            with gr.Row():
                dataset = gr.Dropdown(data.list_datasets() + [UPLOAD], value=d.dataset, label="Dataset", elem_id="train-dataset")
                quant = gr.Radio(list(QUANT), value=next(iter(QUANT)), label="Base model storage")
            upload = gr.File(label="…or upload your own (JSONL / JSON / CSV / Parquet, ≤ 5 MB)",
                             file_types=[".jsonl", ".json", ".csv", ".parquet"], type="filepath", height=130,
                             elem_id="train-upload")
            upload_status = gr.Markdown(elem_id="train-upload-status")
            with gr.Row():
                r = gr.Slider(1, 128, value=d.r, step=1, label="LoRA rank r", elem_id="train-rank")
                alpha = gr.Slider(1, 256, value=d.alpha, step=1, label="LoRA alpha α", info="B A is scaled by α / r")
            with gr.Row():
                dropout = gr.Slider(0, 0.5, value=d.dropout, step=0.05, label="LoRA dropout")
                lr = gr.Number(value=d.learning_rate, label="Learning rate (peak)", minimum=1e-6, maximum=0.1, step=1e-4)
            targets = gr.CheckboxGroup(list(training.ALL_LINEAR), value=list(d.target_modules),
                                       label="Target modules (QLoRA: every linear layer)")
            with gr.Row():
                steps = gr.Slider(1, 300, value=d.steps, step=1, label="Steps", elem_id="train-steps")
                batch = gr.Slider(1, 32, value=d.batch_size, step=1, label="Batch size",
                                  info=f"examples per step; batch × max length ≤ {training.MAX_TOKENS_PER_STEP:,} tokens (memory)")
            with gr.Row():
                max_len = gr.Slider(32, 1024, value=d.max_seq_len, step=16, label="Max length", info="tokens per example")
                seed = gr.Number(value=d.seed, label="Seed", precision=0, minimum=0)
            mask_mode = gr.Radio(list(masking.MODES), value=d.masking, label="Loss masking",
                                 info=" · ".join(f"{k}: {v}" for k, v in masking.MODE_HELP.items()))
        # the live column stays in view while the settings scroll: Train, Stop, the curve and the status
        with gr.Column(scale=3, min_width=480, elem_id="train-live"):
            with gr.Row():
                train_btn = gr.Button("Train", variant="primary", elem_id="train-start")
                stop_btn = gr.Button("Stop", variant="stop", elem_id="train-stop")
            plot = gr.Plot(curve_figure([], d.steps), show_label=False, elem_id="train-plot")
            status = gr.Markdown("Press **Train** to start.", elem_id="train-status")
            notes = gr.Markdown(elem_classes="lab-note", elem_id="train-notes")
            gr.Markdown(
                f"One run at a time on this server: if someone else is training, your run waits in the queue "
                f"(its place shows on the plot). A run stops by itself after {_fmt_s(MAX_SECONDS)}.",
                elem_classes="lab-note",
            )
    with gr.Row():
        with gr.Column(scale=3):
            gr.Markdown(HOW, elem_classes="lab-explain")
        with gr.Column(scale=2):
            with gr.Accordion("LoRA and QLoRA in one page", open=False):
                gr.Markdown(EXPLAIN, elem_classes="lab-explain")
    gr.Markdown("### Before and after: held-out prompts (the `eval` split, never trained on)")
    summary = gr.Markdown(elem_id="train-summary")
    answers = gr.Dataframe(pd.DataFrame(columns=["held-out prompt", "base model (before)", "after — this run",
                                                 "after — previous run"]), label="Answers (✓ = shows the behaviour)", wrap=True, interactive=False,
                           elem_id="train-answers", max_height=520, column_widths=["19%", "27%", "27%", "27%"])
    forgetting = gr.Dataframe(pd.DataFrame(columns=["general-knowledge question", "before", "after"]), label="Forgetting check (✓ = still correct)", wrap=True, interactive=False,
                              elem_id="train-forgetting", column_widths=["24%", "38%", "38%"])
    gr.Markdown("### The adapter")
    with gr.Row():
        adapter_file = gr.File(label="Download the adapter (zip)", interactive=False, elem_id="train-adapter",
                               height=90, visible=False)
        adapter_info = gr.Markdown("Train a run to get its adapter.")
    with gr.Accordion("Export as a TRL SFTTrainer script (for more GPUs: accelerate launch)", open=False):
        export_btn = gr.Button("Export these settings")
        with gr.Row():
            script = gr.Code(language="python", label="train_qlora.py", lines=16)
            bundle = gr.File(label="Script + training data (zip)", interactive=False, height=90)

    settings = [quant, dataset, upload, r, alpha, dropout, targets, lr, steps, batch, max_len, mask_mode, seed]
    outputs = [state, plot, status, notes, summary, answers, forgetting, adapter_file, adapter_info]
    upload.upload(check_upload, upload, [upload_status, dataset], api_visibility="private")
    upload.clear(lambda: ("", "pirate"), None, [upload_status, dataset], api_visibility="private")
    event = train_btn.click(arm, None, train_btn, concurrency_limit=None, api_visibility="private").then(
        train_run, [state, *settings], outputs, concurrency_limit=1, concurrency_id="qlora-train",
        api_name="train",
    )
    event.then(lambda: gr.update(interactive=True), None, train_btn, api_visibility="private")
    stop_btn.click(request_stop, None, status, concurrency_limit=None, api_visibility="private")
    export_btn.click(export_run, settings, [script, bundle], api_name="export_script")
    return {"train": train_btn, "stop": stop_btn, "plot": plot, "status": status, "event": event}
