"""Run an experiment: its conditions one after another in this process, each trained, evaluated and
written out, as a stream of events the UI, the CLI and the tests all read::

    for event in run_experiment("peft", ExperimentSettings(steps=20), out_dir="runs/peft", stop=flag):
        ...   # Started, ConditionStarted, Step (one per optimizer step), Evaluating, ConditionDone, Finished

The SFT-data experiments first run a prepare step, with events of its own (``DataCleaned``: the Clean
step's verdicts; ``Generated``: one synthetic candidate as it appears; :mod:`lab.experiments.sftdata`).

Conditions never overlap: each one's model, optimizer and evaluation are released
(:func:`lab.memory.release`) before the next loads, so every peak is measured from the same process
(and from the first step on: loading, which for QLoRA builds the 4-bit weights from fp32 ones, is not
part of it). Setting ``stop`` ends the whole experiment: the condition in progress stops after its
step (its adapter is kept) or between two evaluation batches, no later condition starts, and
``results.json`` lists the conditions that finished, with ``"stopped": true``.
"""

from __future__ import annotations

import contextlib
import json
import queue
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from lab import evaluation, memory, models
from lab.errors import Msg
from lab.experiments import analysis
from lab.experiments.conclusions import conclude
from lab.experiments.definitions import Condition, Experiment, ExperimentSettings, experiment, settings_dict
from lab.training import Deadline, StepLog, Stopped, TrainingRun, dir_size

RESULTS_FILE = "results.json"
#: The final loss of a condition: the mean over its last few steps (one batch's loss is noisy).
FINAL_LOSS_STEPS = 5


@dataclass
class Started:
    kind: ClassVar[str] = "started"
    experiment: str
    conditions: list[str]
    settings: dict
    out_dir: Path


@dataclass
class ConditionStarted:
    kind: ClassVar[str] = "condition_started"
    index: int  # 0-based
    total: int
    name: str
    method: str
    r: int | None


@dataclass
class Step:
    kind: ClassVar[str] = "step"
    condition: str
    log: StepLog


@dataclass
class Evaluating:
    kind: ClassVar[str] = "evaluating"
    condition: str
    done: int  # answers generated so far
    total: int


@dataclass
class ConditionDone:
    kind: ClassVar[str] = "condition_done"
    row: dict  # one entry of results["conditions"]


@dataclass
class Finished:
    kind: ClassVar[str] = "finished"
    results: dict  # what results.json holds
    conclusions: list[Msg] = field(default_factory=list)
    stopped: bool = False
    path: Path | None = None  # results.json


def run_experiment(name: str, settings: ExperimentSettings | None = None, out_dir: str | Path | None = None,
                   stop: threading.Event | None = None, tokenizer=None):
    """Run experiment ``name`` (a key of ``EXPERIMENTS``); yield its events (module docstring). ``out_dir``
    (default: a new temporary directory) receives ``results.json`` and one folder per condition."""
    exp = experiment(name)
    settings = settings or ExperimentSettings()
    stop = stop or threading.Event()
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix=f"experiment-{name}-"))
    out.mkdir(parents=True, exist_ok=True)
    conditions = exp.conditions(settings, out)
    memory.configure()
    results = {"experiment": name, "title": str(exp.title), "claim": str(exp.claim),
               "settings": {**settings_dict(settings), "steps": settings.steps or exp.default_steps},
               "machine": analysis.machine(), "conditions": [], "stopped": False, "stop_reason": ""}
    yield Started(name, [c.name for c in conditions], results["settings"], out)
    started = time.perf_counter()
    tok = tokenizer if tokenizer is not None else models.load_tokenizer(settings.model)
    try:
        prepared = {}
        if exp.prepare is not None:  # the data a condition trains on, made here (cleaned, generated)
            prepared = yield from exp.prepare(settings, out, tok, stop, results)
            _write(out, results)
            if stop.is_set():
                results["stop_reason"] = "Stopped by the user before training."
        conditions = [c for c in conditions if prepared.get(c.name, True) is not None]
        for i, cond in enumerate(conditions):
            if stop.is_set():
                results["stop_reason"] = results["stop_reason"] or f"Stopped by the user before {cond.name}."
                break
            cfg = cond.config
            yield ConditionStarted(i, len(conditions), cond.name, cfg.resolved_method,
                                   None if cfg.resolved_method == "full" else cfg.r)
            row = yield from _condition(exp, settings, cond, tok, stop, results, prepared.get(cond.name))
            if row is None:
                break
            results["conditions"].append(row)
            _write(out, results)
            yield ConditionDone(row)
    except GeneratorExit:
        stop.set()  # the consumer went away (a cancelled UI event): nothing more runs
        raise
    finally:
        memory.release()
    results["stopped"] = bool(results["stop_reason"])
    results["seconds"] = round(time.perf_counter() - started, 1)
    msgs = [] if results["stopped"] else conclude(name, results["conditions"], settings, results)
    results["conclusions"] = [{"code": m.code, "text": str(m), "params": _plain(m.params)} for m in msgs]
    path = _write(out, results)
    yield Finished(results, msgs, results["stopped"], path)


def _condition(exp: Experiment, settings: ExperimentSettings, cond: Condition, tok, stop, results, splits=None):
    """Train and evaluate one condition (on ``splits``, when its prepare step made its rows); its row, or
    None when the experiment was stopped."""
    run = TrainingRun(cond.config, tokenizer=tok, splits=splits)
    t0 = time.perf_counter()
    try:
        with contextlib.closing(run.steps(stop)) as steps:
            for log in steps:
                yield Step(cond.name, log)
        if stop.is_set() or run.model is None:
            results["stop_reason"] = run.stop_reason or "Stopped by the user."
            return None
        row = _row(cond, run)
        t1 = time.perf_counter()
        try:
            if exp.evaluate is not None:
                work = lambda progress: exp.evaluate(settings, cond.name, run, progress,  # noqa: E731
                                                     Deadline(run.deadline.stop), results)
            else:
                work = lambda progress: _evaluate(exp, settings, run, progress)  # noqa: E731
            row.update((yield from _in_thread(cond.name, stop, work)))
        except Stopped as e:
            results["stop_reason"] = str(e)
            return None
        row["eval_seconds"], row["seconds"] = time.perf_counter() - t1, time.perf_counter() - t0
        return row
    finally:
        del run
        memory.release()


def _row(cond: Condition, run: TrainingRun) -> dict:
    """The condition's training columns (its evaluation adds the rest)."""
    cfg, logs = cond.config, run.logs
    full = cfg.resolved_method == "full"
    split = analysis.memory_split(run)
    tokens, trained = sum(log.tokens for log in logs), sum(log.trained_tokens for log in logs)
    last = [log.loss for log in logs[-FINAL_LOSS_STEPS:]]
    where = run.out_dir
    return {
        "name": cond.name, "method": cfg.resolved_method, "r": None if full else cfg.r,
        "alpha": None if full else cfg.alpha, "masking": cfg.masking, "learning_rate": cfg.learning_rate,
        "steps": len(logs), "examples": len(run.examples), "dataset": cfg.dataset, "trainable_params": run.trainable_params, "total_params": run.total_params,
        "trainable_share": run.trainable_params / run.total_params,
        "peak_memory_mb": run.peak_memory_mb, "training_memory_mb": (run.peak_memory_mb or 0) - split["process_mb"],
        "memory": split,
        "tokens_per_s": logs[-1].tokens_per_s if logs else 0.0, "train_seconds": sum(log.step_s for log in logs),
        "final_loss": sum(last) / len(last) if last else None, "losses": [log.loss for log in logs],
        "trained_tokens_share": trained / tokens if tokens else 0.0,
        "behaviour_score": None, "forgetting_score": None,
        "saved_mb": dir_size(where) / analysis.MIB if where else 0.0,
        ("model_dir" if full else "adapter_dir"): str(where) if where else None,
        "stop_reason": run.stop_reason,
    }


def _evaluate(exp: Experiment, settings: ExperimentSettings, run: TrainingRun, progress) -> dict:
    """The evaluation columns: behaviour (and, for ``peft``, forgetting before and after); the rank's
    spectrum; the masking's sample."""
    cfg = run.config
    if exp.forgetting:
        before, after = evaluation.before_after(run, settings.eval_prompts, on_progress=progress)
        return {
            "behaviour_before": before.score, "behaviour_score": after.score,
            "forgetting_score": analysis.forgetting_score(before, after),
            "probe_accuracy_before": before.probe_accuracy, "probe_accuracy_after": after.probe_accuracy,
            "general_loss_before": before.general_loss, "general_loss_after": after.general_loss,
            "general_loss_change": after.general_loss - before.general_loss,
            "probes": len(after.probe_verdicts), "eval_prompts": len(after.prompts),
        }
    prompts, refs = evaluation.eval_prompts(run.eval_chats["messages"], settings.eval_prompts)
    after = evaluation.evaluate(run.model, run.tokenizer, cfg.dataset, prompts, refs, forgetting=False,
                                deadline=Deadline(run.deadline.stop), on_progress=progress)
    out = {"behaviour_score": after.score, "eval_prompts": len(prompts)}
    if exp.name == "rank":
        out["svd"] = analysis.update_spectrum(run.model, settings.svd_module, settings.svd_layer)
    if exp.name == "masking":  # the prompt with the shortest reference reply: room to see what follows the reply
        prompt = prompts[min(range(len(prompts)), key=lambda i: len(refs[i]))]
        text = analysis.sample_reply(run.model, run.tokenizer, prompt, settings.sample_tokens)
        out["sample"] = {"prompt": prompt, "text": text, "ended_reply": "<|im_end|>" in text,
                         "turns_after_reply": analysis.turns_after_reply(text)}
        chats = list(run.eval_chats["messages"])[: settings.eval_prompts]
        out["prompt_loss"] = analysis.prompt_loss(run.model, run.tokenizer, chats, cfg.max_seq_len)
    return out


def _in_thread(condition: str, stop: threading.Event, work):
    """Run ``work(progress)`` in a thread, yield an :class:`Evaluating` event per ``progress(done, total)``,
    and return its result (or raise its error). If the consumer leaves meanwhile, ``stop`` is set and the
    work ends at its next check."""
    events: queue.Queue = queue.Queue()
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = work(lambda done, total: events.put((done, total)))
        except BaseException as e:  # re-raised in the consumer's thread below
            outcome["error"] = e
        finally:
            events.put(None)

    thread = threading.Thread(target=target, name="lab-experiment-evaluation", daemon=True)
    thread.start()
    finished = False
    try:
        while (item := events.get()) is not None:
            yield Evaluating(condition, *item)
        finished = True
    finally:
        if not finished:
            stop.set()
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _plain(params: dict) -> dict:
    return {k: (str(v) if isinstance(v, Msg) else v) for k, v in params.items()}


def _write(out: Path, results: dict) -> Path:
    path = out / RESULTS_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=1, default=str))
    tmp.replace(path)
    return path


def load_results(path: str | Path) -> dict:
    """A ``results.json`` (or the folder that holds it)."""
    p = Path(path)
    return json.loads((p / RESULTS_FILE if p.is_dir() else p).read_text())
