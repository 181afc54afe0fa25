"""Paged optimizers made visible: a measured memory timeline of training, replayed on a GPU budget.

The panel (a sub-tab of the Experiments tab) shows, from :mod:`lab.paging`:

1. **Measure** trains a few real steps of full fine-tuning, LoRA and QLoRA on the bundled model
   (:func:`lab.paging.timelines`, one step of long sequences: the activation spike) and draws the
   chosen method's memory timeline, checked against the process's memory;
2. a GPU memory and a PCIe bandwidth slider replay those steps (:func:`lab.paging.replay`) without
   paging (where the run stops with out-of-memory) and with a paged optimizer (which state tensors
   move, when, how many bytes, and the seconds that costs) — from the kept ledgers, no re-measurement;
3. the facts of bitsandbytes' rule for each method (:func:`lab.paging.facts`), and LLaMA-65B with
   QLoRA on a 48 GB GPU from the calculator (:func:`lab.paging.estimate_ledger`), shown on arrival.

On a CPU the replay is a simulation of a GPU built from memory measured here; on CUDA the steps run
with bitsandbytes' real ``PagedAdamW`` and the timeline's line is ``torch.cuda.memory_allocated``.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from dataclasses import dataclass

import gradio as gr

from lab import checks, models, paging, plots_memory
from lab.errors import Msg
from lab.ui import fmt, i18n, session
from lab.ui.i18n import Keyed, Page, TabView, Texts, t
from lab.ui.style import user_errors

MB = 1e6
METHOD_CHOICES = [("paging.method.full", "full"), ("paging.method.lora", "lora"), ("paging.method.qlora", "qlora")]
METHOD_KEYS = {value: key for key, value in METHOD_CHOICES}
PHASE_KEYS = {"forward": "paging.phase.forward", "backward": "paging.phase.backward",
              "optimizer": "paging.phase.optimizer"}
LABEL_KEYS = {"start": "paging.label.start", "loss": "paging.label.loss", "backward done": "paging.label.backward_done",
              "step": "paging.label.step", "zero_grad": "paging.label.zero_grad"}
NUMBERED_LABEL_KEYS = {"layer": "paging.label.layer", "grad": "paging.label.grad"}
UNIT_KEYS = {"s": "paging.unit.s", "step": "paging.unit.step"}
CATEGORY_KEYS = {"weights": "paging.fig.cat.weights", "gradients": "paging.fig.cat.gradients",
                 "optimizer": "paging.fig.cat.optimizer", "activations": "paging.fig.cat.activations",
                 "overhead": "paging.fig.cat.overhead"}
REPLAY_KEYS = {"capacity": "paging.fig.replay.capacity", "demand": "paging.fig.replay.demand",
               "not_reached": "paging.fig.replay.not_reached", "oom": "paging.fig.replay.oom",
               "fixed": "paging.fig.replay.fixed", "paged_gpu": "paging.fig.replay.paged_gpu",
               "paged_cpu": "paging.fig.replay.paged_cpu", "to_cpu": "paging.fig.replay.to_cpu",
               "to_gpu": "paging.fig.replay.to_gpu"}
MOVE_COLUMNS = ["paging.col.n", "paging.col.tensor", "paging.col.direction", "paging.col.when", "paging.col.mb",
                "paging.col.ms"]
DIRECTION_KEYS = {"cpu": "paging.dir.cpu", "gpu": "paging.dir.gpu"}
MAX_MOVES_SHOWN = 1000
GPU_STEP_MB = 10
BANDWIDTH_GBS = paging.PCIE_BYTES_PER_S / paging.GB  # 25 GB/s
#: LLaMA-65B with QLoRA as the calculator counts it (r=64 on every linear layer, batch 1, gradient
#: checkpointing): ordinary steps of 512 tokens, one of 4,096, on the paper's 48 GB GPU.
BIG = dict(config="llama-65b", method="qlora", r=64, seq_len=512)
BIG_SPIKE = 4096
BIG_GPU_GB = 48.0


@dataclass(frozen=True)
class Shown:
    """The method and budget on screen (checked), kept for a language switch."""

    method: str
    gpu_mb: float
    bandwidth_gbs: float


@dataclass
class Measured:
    """What the Measure button found, kept in the page's state: the ledgers and how they came."""

    ledgers: dict  # method -> lab.paging.Ledger
    seconds: float
    cached: bool  # already measured on this server: nothing was trained for this page
    config: paging.TimelineConfig


# --- words ---------------------------------------------------------------------------------------------


def on_cuda() -> bool:
    return models.device().type == "cuda"


def machine_note(lang: str = i18n.DEFAULT) -> str:
    """What the replay is on this machine: a simulation from memory measured on the CPU, or the real
    ``PagedAdamW`` on CUDA."""
    if on_cuda():
        import torch

        return t("paging.machine.cuda", lang, gpu=torch.cuda.get_device_name(0))
    return t("paging.machine.cpu", lang)


def method_name(method: str, lang: str) -> str:
    return t(METHOD_KEYS[method], lang) if method in METHOD_KEYS else method


def phase_text(phase: str, lang: str) -> str:
    return t(PHASE_KEYS[phase], lang) if phase in PHASE_KEYS else phase


def label_text(label: str, lang: str) -> str:
    """Where in a phase an event was sampled ("layer 12", "grad 57", "loss"...), in ``lang``; an estimated
    ledger's "5/8" stays as it is."""
    numbered = re.fullmatch(r"(layer|grad) (\d+)", label)
    if numbered:
        return t(NUMBERED_LABEL_KEYS[numbered[1]], lang, n=int(numbered[2]))
    return t(LABEL_KEYS[label], lang) if label in LABEL_KEYS else label


def say(m: Msg, lang: str) -> str:
    """A sentence of :mod:`lab.paging` in ``lang``, its phase, event label and method named in ``lang`` too."""
    params = dict(m.params)
    if isinstance(params.get("phase"), str):
        params["phase"] = phase_text(params["phase"], lang)
    if isinstance(params.get("label"), str):
        params["label"] = label_text(params["label"], lang)
    if params.get("method") in METHOD_KEYS:
        params["method"] = method_name(params["method"], lang)
    return i18n.msg(Msg(m.code, m.english, **params), lang)


def time_units(lang: str) -> dict:
    return {unit: t(key, lang) for unit, key in UNIT_KEYS.items()}


def ready_status(lang: str = i18n.DEFAULT) -> str:
    cfg = paging.TimelineConfig()
    return t("paging.status.ready", lang, steps=cfg.steps, spike=cfg.spike_step,
             tokens=cfg.spike_batch_size * cfg.spike_seq_len)


def measured_status(kept: Measured | None, lang: str) -> str:
    if kept is None:
        return ready_status(lang)
    device = next(iter(kept.ledgers.values())).device
    n, steps = len(kept.ledgers), kept.config.steps
    if kept.cached:
        return t("paging.status.cached", lang, device=device, n=n, steps=steps)
    return t("paging.status.done", lang, time=fmt.seconds(kept.seconds, lang), device=device, n=n, steps=steps)


# --- what is shown ---------------------------------------------------------------------------------------


def gpu_range(ledgers: dict) -> tuple[int, int, int]:
    """The GPU slider's (minimum, maximum, default) in MB, from the measured ledgers: from a little under
    the smallest GPU any method finishes on with paging to a little over the largest peak. The default
    lies between full fine-tuning's two smallest GPUs (with and without paging): below its spike, so
    the run without paging stops and the paged one finishes."""
    lo = min(paging.min_capacity(led, True) for led in ledgers.values()) / MB
    hi = max(paging.min_capacity(led, False) for led in ledgers.values()) / MB
    minimum = max(GPU_STEP_MB, math.floor(0.8 * lo / 100) * 100)
    maximum = math.ceil(1.15 * hi / 100) * 100
    full = ledgers.get("full") or max(ledgers.values(), key=lambda led: led.peak().total)
    no, yes = paging.min_capacity(full, False) / MB, paging.min_capacity(full, True) / MB
    default = math.floor((no + yes) / 2 / 50) * 50
    if default >= no:
        default = math.floor((no - 1) / GPU_STEP_MB) * GPU_STEP_MB
    return minimum, maximum, int(min(max(default, minimum), maximum))


def timeline_figure(ledger: paging.Ledger, lang: str):
    text = i18n.several(lang, title="paging.fig.timeline.title", xlabel="paging.fig.xlabel",
                        ylabel="paging.fig.timeline.ylabel", step_label="paging.fig.step",
                        spike_label="paging.fig.spike")
    process = "paging.fig.process.cuda" if ledger.device == "cuda" else "paging.fig.process.cpu"
    model = fmt.model_name(lang) if ledger.source == "measured" else ledger.model
    return plots_memory.memory_timeline_figure(
        ledger, **text, process_label=t(process, lang), method_label=method_name(ledger.method, lang),
        model_label=model, category_labels={c: t(k, lang) for c, k in CATEGORY_KEYS.items()},
        time_units=time_units(lang))


def ledger_note(ledger: paging.Ledger, lang: str) -> str:
    """How the timeline was measured, the ledger checked against process memory at its peak, and the steps."""
    parts = [say(n, lang) for n in ledger.notes]
    peak = ledger.peak()
    if peak.process:
        parts.append(t("paging.check", lang, step=peak.step, phase=phase_text(peak.phase, lang),
                       label=label_text(peak.label, lang), ledger=peak.total / MB, process=peak.process / MB,
                       ratio=peak.total / peak.process))
    if ledger.steps:
        steps = [t("paging.step_spike" if s.spike else "paging.step_info", lang, step=s.step, tokens=s.tokens,
                   seconds=s.seconds, loss=s.loss) for s in ledger.steps]
        parts.append(t("paging.steps", lang, steps=" · ".join(steps)))
    return "\n\n".join(parts)


def replay_figure(ledger: paging.Ledger, without: paging.Replay, paged: paging.Replay, lang: str):
    text = i18n.several(lang, title="paging.fig.replay.title", xlabel="paging.fig.xlabel",
                        ylabel="paging.fig.replay.ylabel", step_label="paging.fig.step", spike_label="paging.fig.spike")
    return plots_memory.replay_figure(
        ledger, without, paged, **text,
        panel_titles=(t("paging.fig.replay.without", lang), t("paging.fig.replay.with", lang)),
        labels={k: t(key, lang) for k, key in REPLAY_KEYS.items()}, time_units=time_units(lang))


def replay_text(ledger: paging.Ledger, without: paging.Replay, paged: paging.Replay, lang: str) -> str:
    """The two replays' sentences, then what the replay is (a simulation) in a note."""
    lines = [t("paging.replay.without", lang, text=say(paging.summary(ledger, without), lang)),
             t("paging.replay.with", lang, text=say(paging.summary(ledger, paged), lang))]
    if len(paged.moves) > MAX_MOVES_SHOWN:
        lines.append(t("paging.replay.first_moves", lang, shown=MAX_MOVES_SHOWN, n=len(paged.moves)))
    if paged.note is not None:
        lines.append(f"*{say(paged.note, lang)}*")
    return "\n\n".join(lines)


def moves_frame(ledger: paging.Ledger, paged: paging.Replay | None, lang: str):
    """One row per state tensor crossing PCIe: which, which way, when, its size and the time it takes."""
    moves = paged.moves[:MAX_MOVES_SHOWN] if paged is not None else []
    if not moves:
        return fmt.placeholder(MOVE_COLUMNS, lang)
    unit = t(UNIT_KEYS.get(ledger.time_unit, "paging.unit.s"), lang)
    return fmt.frame({
        "paging.col.n": list(range(1, len(moves) + 1)),
        "paging.col.tensor": [m.tensor for m in moves],
        "paging.col.direction": [t(DIRECTION_KEYS[m.to], lang) for m in moves],
        "paging.col.when": [t("paging.when", lang, step=m.step, phase=phase_text(m.phase, lang),
                              label=label_text(ledger.events[m.event].label, lang), t=m.t, unit=unit)
                            for m in moves],
        "paging.col.mb": [f"{m.bytes / MB:,.2f}" for m in moves],
        "paging.col.ms": [f"{1000 * m.seconds:.3f}" for m in moves],
    }, lang)


def replay_outputs(ledger: paging.Ledger, gpu_mb: float, bandwidth_gbs: float, lang: str):
    """(figure, sentences, moves table) of ``ledger`` replayed on a ``gpu_mb`` MB GPU, both ways."""
    bandwidth = bandwidth_gbs * paging.GB
    without = paging.replay(ledger, gpu_mb * MB, paged=False, bandwidth=bandwidth)
    paged = paging.replay(ledger, gpu_mb * MB, paged=True, bandwidth=bandwidth)
    return (replay_figure(ledger, without, paged, lang), replay_text(ledger, without, paged, lang),
            moves_frame(ledger, paged, lang))


def facts_text(ledgers: dict, lang: str) -> str:
    """Per method, which states a paged optimizer pages and the smallest GPU with and without paging
    (:func:`lab.paging.facts`); the largest LoRA rank that pages nothing, once."""
    lines, rank = [], None
    for method, ledger in ledgers.items():
        facts = paging.facts(ledger)
        rank = rank or next((f for f in facts if f.code == "paging.fact_rank"), None)
        shown = " ".join(say(f, lang) for f in facts if f.code != "paging.fact_rank")
        lines.append("- " + t("paging.facts.method", lang, method=method_name(method, lang), facts=shown))
    if rank is not None:
        lines.append("\n" + say(rank, lang))
    return "\n".join(lines)


def states_figure(ledgers: dict, lang: str):
    text = i18n.several(lang, title="paging.fig.states.title", xlabel="paging.fig.states.xlabel",
                        ylabel="paging.fig.states.ylabel", threshold_label="paging.fig.states.threshold",
                        count_label="paging.fig.states.count", paged_label="paging.fig.states.paged",
                        kept_label="paging.fig.states.kept")
    groups = {method_name(m, lang): led.states for m, led in ledgers.items()}
    return plots_memory.state_sizes_figure(groups, paging.PAGE_MIN_NUMEL, **text)


_BIG_LOCK = threading.Lock()


def big_case():
    """LLaMA-65B with QLoRA from the calculator: its ledger, the two replays on 48 GB, and the longest
    sequence one step may read there without and with paging (computed once per process: a page's
    arrival and its language switch may ask at the same moment)."""
    with _BIG_LOCK:
        return _big_case()


@functools.cache
def _big_case():
    ledger = paging.estimate_ledger(spike_seq_len=BIG_SPIKE, **BIG)
    cap = BIG_GPU_GB * paging.GB
    kw = {k: v for k, v in BIG.items() if k != "config"}
    longest = {p: paging.longest_spike(BIG["config"], BIG_GPU_GB, paged=p, **kw) for p in (False, True)}
    return ledger, paging.replay(ledger, cap, False), paging.replay(ledger, cap, True), longest


@user_errors
def big_view(lang=i18n.DEFAULT):
    """The LLaMA-65B section: (replay figure, sentences). Needs no measurement."""
    lang = i18n.check_lang(lang)
    ledger, without, paged, longest = big_case()
    text = [say(n, lang) for n in ledger.notes]
    text += [t("paging.replay.without", lang, text=say(paging.summary(ledger, without), lang)),
             t("paging.replay.with", lang, text=say(paging.summary(ledger, paged), lang)),
             t("paging.big.longest", lang, gpu=BIG_GPU_GB, no=longest[False], yes=longest[True])]
    text += ["- " + say(f, lang) for f in paging.facts(ledger)]
    text.append(f"*{say(paged.note, lang)}*")
    return replay_figure(ledger, without, paged, lang), "\n\n".join(text)


# --- handlers --------------------------------------------------------------------------------------------


def _ledger(kept, method, lang: str) -> paging.Ledger:
    if not isinstance(kept, Measured):
        raise gr.Error(t("paging.measure_first", lang))
    method = checks.one_of("The training method", method, list(kept.ledgers))
    return kept.ledgers[method]


def _budget(gpu_mb, bandwidth_gbs) -> tuple[float, float]:
    gpu_mb = checks.number("The GPU memory (MB)", gpu_mb, 1, 10_000_000)
    bandwidth_gbs = checks.number("The PCIe bandwidth (GB/s)", bandwidth_gbs, 0.1, 1000)
    return gpu_mb, bandwidth_gbs


@user_errors
def measure(method, bandwidth_gbs, lang=i18n.DEFAULT, progress=gr.Progress(), request: gr.Request = None):
    """Measure the three timelines (or take them from the server's cache); show ``method``'s.

    Returns: the kept measurement, status, the "ready" note hidden, the results column shown, timeline,
    its note, the GPU slider
    (range and default from the ledgers), replay figure, replay sentences, moves table, facts, state
    sizes, and what is shown (for a language switch)."""
    lang = i18n.check_lang(lang)
    method = checks.one_of("The training method", method, paging.METHODS)
    _budget(1, bandwidth_gbs)

    def now() -> str:
        """The page's language at this moment: a switch during the measurement applies from the next update."""
        return i18n.check_lang(session.lang(getattr(request, "session_hash", None), lang))

    config = paging.TimelineConfig()
    methods = paging.METHODS
    total = len(methods) * config.steps
    trained = []

    def on_progress(m, step, steps):
        trained.append(m)
        done = methods.index(m) * steps + step
        lg = now()
        if step < steps or m == methods[-1]:
            desc = t("paging.progress.step", lg, method=method_name(m, lg), step=step, steps=steps)
        else:  # the next method's model is loading
            desc = t("paging.progress.load", lg, method=method_name(methods[methods.index(m) + 1], lg))
        progress(done / total, desc=desc)

    progress(0, desc=t("paging.progress.load", lang, method=method_name(methods[0], lang)))
    t0 = time.perf_counter()
    ledgers = paging.timelines(config, methods, on_progress=on_progress, paged=on_cuda())
    kept = Measured(ledgers, time.perf_counter() - t0, cached=not trained, config=config)
    lang = now()
    lo, hi, default = gpu_range(ledgers)
    slider = gr.update(minimum=lo, maximum=hi, value=default, step=GPU_STEP_MB)
    ledger = ledgers[method]
    return (kept, measured_status(kept, lang), gr.update(visible=False), gr.update(visible=True),
            timeline_figure(ledger, lang),
            ledger_note(ledger, lang), slider, *replay_outputs(ledger, default, bandwidth_gbs, lang),
            facts_text(ledgers, lang), states_figure(ledgers, lang), Shown(method, default, bandwidth_gbs))


@user_errors
def show_method(kept, method, gpu_mb, bandwidth_gbs, lang=i18n.DEFAULT):
    """Another method's timeline and its replay on the same budget: (timeline, note, replay figure,
    sentences, moves table, what is shown)."""
    lang = i18n.check_lang(lang)
    ledger = _ledger(kept, method, lang)
    gpu_mb, bandwidth_gbs = _budget(gpu_mb, bandwidth_gbs)
    return (timeline_figure(ledger, lang), ledger_note(ledger, lang),
            *replay_outputs(ledger, gpu_mb, bandwidth_gbs, lang), Shown(method, gpu_mb, bandwidth_gbs))


@user_errors
def replay_view(kept, method, gpu_mb, bandwidth_gbs, lang=i18n.DEFAULT):
    """The kept ledger of ``method`` replayed on the sliders' GPU: (figure, sentences, moves table, what
    is shown). No measurement: a fraction of a second."""
    lang = i18n.check_lang(lang)
    ledger = _ledger(kept, method, lang)
    gpu_mb, bandwidth_gbs = _budget(gpu_mb, bandwidth_gbs)
    return (*replay_outputs(ledger, gpu_mb, bandwidth_gbs, lang), Shown(method, gpu_mb, bandwidth_gbs))


def rerender(lang, kept, shown):
    """Everything measured on screen in ``lang`` from what is kept (no measurement): the status, and the
    method and replay last shown, when there are any. The settings come from the kept ``shown``, not
    from the widgets: a slider may not have reached the page yet when the switch reads it. (The
    LLaMA-65B section re-renders with :func:`big_view`.)"""
    lang = i18n.check_lang(lang)
    if not (isinstance(kept, Measured) and isinstance(shown, Shown) and shown.method in kept.ledgers):
        return (*(gr.skip(),) * 5, fmt.placeholder(MOVE_COLUMNS, lang), gr.skip(), gr.skip())
    ledger = kept.ledgers[shown.method]
    return (measured_status(kept, lang), timeline_figure(ledger, lang), ledger_note(ledger, lang),
            *replay_outputs(ledger, shown.gpu_mb, shown.bandwidth_gbs, lang), facts_text(kept.ledgers, lang),
            states_figure(kept.ledgers, lang))


# --- the panel -------------------------------------------------------------------------------------------


def build_paging_panel(page: Page) -> TabView:
    tx, lang = Texts(), page.lang
    with gr.Row():
        with gr.Column(scale=3, elem_classes="lab-explain"):
            tx.md("paging.explain")
        with gr.Column(scale=2):
            tx(gr.Markdown, value=machine_note, elem_id="paging-machine")
            measure_btn = tx(gr.Button, value="paging.measure", text_value=True, variant="primary",
                             elem_id="paging-measure")
            # before a measurement: what Measure does (texted by the switch); after: what was measured
            ready = tx(gr.Markdown, value=ready_status, elem_classes="lab-note", elem_id="paging-ready")
            status = gr.Markdown(elem_classes="lab-note", elem_id="paging-status")

    with gr.Column(visible=False, elem_id="paging-results") as results:
        tx.md("paging.heading.timeline")
        method = tx(gr.Radio, choices=Keyed(METHOD_CHOICES), value="full", label="paging.choose_method",
                    elem_id="paging-method")
        timeline = tx(gr.Plot, label="paging.timeline_plot", show_label=False, elem_id="paging-timeline")
        note = gr.Markdown(elem_classes="lab-note", elem_id="paging-ledger-note")

        tx.md("paging.heading.replay")
        with gr.Row():
            gpu = tx(gr.Slider, minimum=100, maximum=4000, value=2500, step=GPU_STEP_MB, label="paging.gpu",
                     info="paging.gpu.info", scale=3, elem_id="paging-gpu")
            bandwidth = tx(gr.Slider, minimum=1, maximum=64, value=BANDWIDTH_GBS, step=1,
                           label="paging.bandwidth_slider", info="paging.bandwidth_slider.info", scale=2,
                           elem_id="paging-bandwidth")
        replay_plot = tx(gr.Plot, label="paging.replay_plot", show_label=False, elem_id="paging-replay")
        summary = gr.Markdown(elem_id="paging-summary")
        moves = tx(gr.Dataframe, value=fmt.placeholder(MOVE_COLUMNS, i18n.DEFAULT), label="paging.moves",
                   interactive=False, max_height=320, wrap=True, elem_id="paging-moves",
                   column_widths=["4%", "39%", "17%", "26%", "7%", "7%"])

        tx.md("paging.heading.facts")
        facts = gr.Markdown(elem_id="paging-facts")
        states_plot = tx(gr.Plot, label="paging.states_plot", show_label=False, elem_id="paging-states")

    tx(gr.Markdown, value=lambda lg: t("paging.heading.big", lg, gpu=BIG_GPU_GB))
    with gr.Row():
        big_plot = tx(gr.Plot, label="paging.big_plot", show_label=False, scale=3, elem_id="paging-big-plot")
        big_text = gr.Markdown(elem_id="paging-big", elem_classes="lab-explain")

    kept, shown = gr.State(None), gr.State(None)  # the measurement; the method and budget on screen
    replay_shown = [replay_plot, summary, moves, shown]
    measured = measure_btn.click(
        measure, [method, bandwidth, lang],
        [kept, status, ready, results, timeline, note, gpu, *replay_shown[:3], facts, states_plot, shown],
        api_visibility="private", concurrency_limit=1, concurrency_id="qlora-train")
    method.input(show_method, [kept, method, gpu, bandwidth, lang], [timeline, note, *replay_shown],
                 api_visibility="private")
    gr.on([gpu.input, bandwidth.input], replay_view, [kept, method, gpu, bandwidth, lang], replay_shown,
          api_visibility="private", trigger_mode="always_last", show_progress="minimal")
    page.on_arrival(big_view, [lang], [big_plot, big_text])
    return TabView(
        texts=tx,
        rerender=[(rerender, [kept, shown], [status, timeline, note, *replay_shown[:3], facts, states_plot]),
                  (big_view, [], [big_plot, big_text])],
        parts={"measure": measure_btn, "event": measured, "method": method, "gpu": gpu, "bandwidth": bandwidth,
               "status": status, "summary": summary, "moves": moves, "big": big_text},
    )
