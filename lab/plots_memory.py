"""Figures of training memory over time and of its replay on a GPU (:mod:`lab.paging`).

Same rules as :mod:`lab.plots`: object API, a title and units on every axis. Every visible string is a
parameter with an English default, so a UI can pass its translations; templates keep their ``{...}``
fields (``{unit}``, ``{step}``, ``{cap}``...).
"""

from __future__ import annotations

from lab.lora.memory import METHOD_LABELS
from lab.plots import MEMORY_COLORS, PALETTE, new_figure

CATEGORY_LABELS = {
    "weights": "weights",
    "gradients": "gradients",
    "optimizer": "optimizer states",
    "activations": "activations (saved for backward)",
    "overhead": "CUDA context (allowance)",
}
TIME_UNITS = {"s": "s", "step": "steps"}
REPLAY_LABELS = {
    "capacity": "GPU capacity",
    "demand": "memory the run needs",
    "not_reached": "not reached (stopped)",
    "oom": "out of memory",
    "fixed": "must stay on the GPU",
    "paged_gpu": "paged optimizer states on the GPU",
    "paged_cpu": "paged out to CPU RAM",
    "to_cpu": "{size} to CPU",
    "to_gpu": "{size} back to the GPU",
}


def _unit(max_bytes: float) -> tuple[str, float]:
    return ("GB", 1e9) if max_bytes >= 5e9 else ("MB", 1e6)


def _time_unit(ledger, names: dict | None) -> str:
    return {**TIME_UNITS, **(names or {})}.get(ledger.time_unit, ledger.time_unit)


def _size(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def _step_marks(ax, ledger, xs, step_label: str, spike_label: str) -> None:
    """Dotted lines where each step begins; the long batch's step shaded."""
    starts: dict[int, float] = {}
    for e, x in zip(ledger.events, xs):
        starts.setdefault(e.step, x)
    ends = {s: max(x for e, x in zip(ledger.events, xs) if e.step == s) for s in starts}
    spike = ledger.spike_step()
    for s, x in starts.items():
        ax.axvline(x, color="black", lw=0.6, ls=":", alpha=0.6)
        ax.text(x, 1.0, " " + step_label.format(step=s), transform=ax.get_xaxis_transform(), va="top", fontsize=8)
        if s == spike:
            ax.axvspan(x, ends[s], color=PALETTE["accent"], alpha=0.12, lw=0, label=spike_label)


def memory_timeline_figure(ledger, title: str = "Memory during training: {method}, {model}",
                           xlabel: str = "time ({unit})", ylabel: str = "memory ({unit})",
                           category_labels: dict | None = None,
                           process_label: str = "process memory (above the baseline)",
                           step_label: str = "step {step}", spike_label: str = "long batch (activation spike)",
                           method_label: str | None = None, model_label: str | None = None,
                           time_units: dict | None = None):
    """Stacked memory per category over the ledger's events, with the process memory as a line.

    x: ``Event.t`` (seconds for measured ledgers, steps for estimated ones); y: bytes in MB or GB.
    ``method_label`` / ``model_label`` replace the method's and the model's names in the title,
    ``time_units`` the names of the time units (``{"s": ..., "step": ...}``) in the x label.
    """
    labels = {**CATEGORY_LABELS, **(category_labels or {})}
    fig = new_figure(9.0, 3.9)
    ax = fig.add_subplot()
    events = ledger.events
    peak = max(max(e.total for e in events), max((e.process or 0) for e in events))
    unit, scale = _unit(peak)
    xs = [e.t for e in events]
    names = [c for c in MEMORY_COLORS if any(getattr(e, c, 0) for e in events)]
    ax.stackplot(xs, *[[getattr(e, c) / scale for e in events] for c in names],
                 labels=[labels[c] for c in names], colors=[MEMORY_COLORS[c] for c in names], alpha=0.85)
    if any(e.process is not None for e in events):
        ax.plot(xs, [(e.process or 0) / scale for e in events], color="black", lw=1.2, label=process_label)
    _step_marks(ax, ledger, xs, step_label, spike_label)
    top = ledger.peak()
    ax.annotate(f"{top.total / scale:,.0f} {unit}" if unit == "MB" else f"{top.total / scale:,.1f} {unit}",
                (top.t, top.total / scale), textcoords="offset points", xytext=(4, 4), fontsize=8, fontweight="bold")
    ax.set_ylim(0, peak / scale * 1.15)
    ax.set_title(title.format(method=method_label or METHOD_LABELS.get(ledger.method, ledger.method),
                              model=model_label or ledger.model))
    ax.set_xlabel(xlabel.format(unit=_time_unit(ledger, time_units)))
    ax.set_ylabel(ylabel.format(unit=unit))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def replay_figure(ledger, without, paged, title: str = "The same steps on a {cap} GPU",
                  panel_titles: tuple[str, str] = ("Without paging", "With a paged optimizer"),
                  xlabel: str = "time ({unit})", ylabel: str = "GPU memory ({unit})", labels: dict | None = None,
                  step_label: str = "step {step}", spike_label: str = "long batch (activation spike)",
                  time_units: dict | None = None):
    """Two panels over the ledger's time: the replay without paging (where it stops) and with a paged
    optimizer (what stays, which states sit on the GPU, which were paged out, and each move)."""
    lab = {**REPLAY_LABELS, **(labels or {})}
    fig = new_figure(9.0, 5.6)
    axes = fig.subplots(2, 1, sharex=True)
    events = ledger.events
    xs = [e.t for e in events]
    cap = without.capacity
    unit, scale = _unit(max(cap, max(e.total for e in events)))
    ymax = max(cap, max(e.total for e in events)) / scale * 1.15
    # without paging
    ax = axes[0]
    n = len(without.points)
    ax.fill_between(xs[:n], [events[i].total / scale for i in range(n)], color=PALETTE["primary"], alpha=0.6,
                    lw=0, label=lab["demand"])
    if without.oom_event is not None:
        rest = xs[n - 1:]
        ax.plot(rest, [e.total / scale for e in events[n - 1:]], color=PALETTE["muted"], ls="--", lw=1,
                label=lab["not_reached"])
        e = events[without.oom_event]
        ax.plot([e.t], [without.oom_needed / scale], marker="X", ms=11, color=PALETTE["bad"], ls="none",
                label=lab["oom"])
    # with a paged optimizer
    ax2 = axes[1]
    m = len(paged.points)
    px = xs[:m]
    fixed = [p.fixed / scale for p in paged.points]
    on_gpu = [(p.fixed + p.paged_gpu) / scale for p in paged.points]
    demand = [(p.used + p.paged_cpu) / scale for p in paged.points]
    ax2.fill_between(px, 0, fixed, color=PALETTE["primary"], alpha=0.6, lw=0, label=lab["fixed"])
    ax2.fill_between(px, fixed, on_gpu, color=MEMORY_COLORS["optimizer"], alpha=0.7, lw=0, label=lab["paged_gpu"])
    if any(p.paged_cpu for p in paged.points):
        ax2.fill_between(px, on_gpu, demand, facecolor="none", edgecolor=MEMORY_COLORS["optimizer"], hatch="///",
                         lw=0, label=lab["paged_cpu"])
    if paged.oom_event is not None:
        e = events[paged.oom_event]
        ax2.plot([e.t], [paged.oom_needed / scale], marker="X", ms=11, color=PALETTE["bad"], ls="none",
                 label=lab["oom"])
    for direction, marker, key in (("cpu", "v", "to_cpu"), ("gpu", "^", "to_gpu")):
        per_event: dict[int, int] = {}
        for mv in paged.moves:
            if mv.to == direction:
                per_event[mv.event] = per_event.get(mv.event, 0) + mv.bytes
        if per_event:  # a marker on the capacity line at each event where states moved; the total in the legend
            total = sum(per_event.values())
            ax2.plot([xs[i] for i in per_event], [cap / scale] * len(per_event), ls="none", marker=marker, ms=7,
                     color="black", label=lab[key].format(size=_size(total)))
    for a, panel in zip(axes, panel_titles):
        a.axhline(cap / scale, color=PALETTE["bad"], lw=1.2, label=lab["capacity"])
        _step_marks(a, ledger, xs, step_label, spike_label)
        a.set_ylim(0, ymax)
        a.set_title(panel, fontsize=10)
        a.set_ylabel(ylabel.format(unit=unit))
        a.grid(alpha=0.3)
        a.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes[1].set_xlabel(xlabel.format(unit=_time_unit(ledger, time_units)))
    fig.suptitle(title.format(cap=_size(cap)))
    return fig


def state_sizes_figure(groups: dict, threshold: int = 100_000,
                       title: str = "Which optimizer states a paged optimizer pages",
                       xlabel: str = "elements per state tensor (log scale)", ylabel: str = "trained with",
                       threshold_label: str = "paged from {threshold:,} elements (bitsandbytes)",
                       count_label: str = "{label}\n{paged:,} of {n:,} paged",
                       paged_label: str = "paged (unified memory)", kept_label: str = "stays in GPU memory"):
    """One row per group (``label -> [StateTensor]``): each state tensor's size on a log axis, the
    threshold as a line, paged ones in red."""
    fig = new_figure(9.0, 1.2 + 0.8 * len(groups))
    ax = fig.add_subplot()
    ticks = []
    for row, (label, states) in enumerate(groups.items()):
        sizes: dict[tuple[int, bool], int] = {}
        for s in states:
            sizes[(s.numel, s.paged)] = sizes.get((s.numel, s.paged), 0) + 1
        for paged in (False, True):
            pts = [(n, c) for (n, p), c in sizes.items() if p == paged]
            if pts:
                ax.scatter([n for n, _ in pts], [row] * len(pts), s=[12 + 6 * c ** 0.5 for _, c in pts],
                           color=MEMORY_COLORS["optimizer"] if paged else PALETTE["muted"], alpha=0.8,
                           label=paged_label if paged else kept_label)
        ticks.append(count_label.format(label=label, paged=sum(s.paged for s in states), n=len(states)))
    ax.axvline(threshold, color="black", ls="--", lw=1.2, label=threshold_label.format(threshold=threshold))
    ax.set_xscale("log")
    ax.set_yticks(range(len(ticks)))
    ax.set_yticklabels(ticks, fontsize=8)
    ax.set_ylim(-0.6, len(ticks) - 0.4)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="x", which="both")
    handles, names = ax.get_legend_handles_labels()
    seen = dict(zip(names, handles))
    ax.legend(seen.values(), seen.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # off the points
    return fig
