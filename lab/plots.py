"""Every figure of the lab, as pure functions returning matplotlib ``Figure`` objects.

Object API only (``matplotlib.figure.Figure``), never ``pyplot``: a server must not share global
figure state between users. Every plot has a title and axis labels with units.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

PALETTE = {
    "primary": "#4f46e5",  # indigo: trained / the lab's method
    "accent": "#f59e0b",  # amber: comparison
    "muted": "#94a3b8",  # slate: masked / frozen
    "good": "#059669",
    "bad": "#dc2626",
}


def new_figure(width: float = 7.0, height: float = 3.6) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig


def _text(defaults: dict, text: dict | None) -> dict:
    """A figure's visible strings: English defaults, replaced by ``text`` (a caller's translation)."""
    return {**defaults, **(text or {})}


# --- Model & data -----------------------------------------------------------------------------


LENGTHS_TEXT = {
    "title": "Token lengths",
    "xlabel": "tokens per example (chat template applied)",
    "ylabel": "examples (count)",
}


def token_length_histogram(lengths, title: str | None = None, text: dict | None = None) -> Figure:
    """Histogram of the number of tokens per chat-formatted example.
    ``text``: the visible strings (keys of :data:`LENGTHS_TEXT`)."""
    tx = _text(LENGTHS_TEXT, text)
    fig = new_figure()
    ax = fig.add_subplot()
    ax.hist(lengths, bins=min(30, max(5, len(set(lengths)))), color=PALETTE["primary"], alpha=0.85)
    ax.set_title(title or tx["title"])
    ax.set_xlabel(tx["xlabel"])
    ax.set_ylabel(tx["ylabel"])
    ax.grid(alpha=0.3)
    return fig


# --- SFT masking ------------------------------------------------------------------------------


# --- LoRA calculator --------------------------------------------------------------------------

MEMORY_COLORS = {
    "weights": "#4f46e5",  # indigo
    "gradients": "#f59e0b",  # amber
    "optimizer": "#dc2626",  # red: Adam's two moments
    "activations": "#059669",  # green
    "overhead": "#94a3b8",  # slate
}


def _count_label(n: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


RANK_TEXT = {
    "title": "Trainable parameters against the LoRA rank",
    "current": "r={r}: {n}",
    "full": " full fine-tuning: {n}",
    "xlabel": "LoRA rank r (log scale)",
    "ylabel": "trainable parameters (count, log scale)",
}


def lora_rank_figure(ranks, series: dict, current_rank: int, current_label: str, full_params: int,
                     title: str | None = None, text: dict | None = None) -> Figure:
    """Trainable parameters (log) against rank r (log₂) for each target preset.

    ``series``: label -> trainable count per rank. LoRA's count is r · Σ(d_in + d_out) (+ a constant for
    DoRA, biases and saved modules), so each preset is a straight line of slope 1 on log-log axes.
    The dashed line is the whole model (what full fine-tuning trains).
    ``text``: the visible strings (keys of :data:`RANK_TEXT`).
    """
    tx = _text(RANK_TEXT, text)
    fig = new_figure(7.0, 3.8)
    ax = fig.add_subplot()
    colors = [PALETTE["muted"], PALETTE["accent"], PALETTE["primary"], PALETTE["good"]]
    for (label, counts), color in zip(series.items(), colors):
        ax.plot(ranks, counts, marker="o", ms=3, lw=1.8, color=color, label=label)
        if label == current_label:
            y = counts[list(ranks).index(current_rank)] if current_rank in ranks else None
            if y is not None:
                ax.plot([current_rank], [y], marker="o", ms=10, mfc="none", mec="black", mew=1.5)
                ax.annotate(tx["current"].format(r=current_rank, n=_count_label(y)), (current_rank, y),
                            textcoords="offset points", xytext=(8, -14), fontsize=8)
    ax.axhline(full_params, color=PALETTE["bad"], ls="--", lw=1.2)
    ax.text(ranks[0], full_params, tx["full"].format(n=_count_label(full_params)), va="bottom", fontsize=8,
            color=PALETTE["bad"])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(list(ranks))
    ax.set_xticklabels([str(r) for r in ranks])
    ax.set_ylim(top=full_params * 4)
    ax.set_title(title or tx["title"])
    ax.set_xlabel(tx["xlabel"])
    ax.set_ylabel(tx["ylabel"])
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    return fig


MEMORY_TEXT = {
    "title": "GPU memory for one training step",
    "weights": "weights",
    "gradients": "gradients",
    "optimizer": "optimizer",
    "activations": "activations",
    "overhead": "overhead",
    "estimate": "{name} (estimate)",
    "gpu": "{gb} GB GPU",
    "zoom": "zoom: 0–{gb:.0f} GB",
    "xlabel": "training method",
    "ylabel": "memory (GB, 10⁹ bytes)",
}


def _two_lines(label: str) -> str:
    """A bar's label broken at the space nearest its middle ("Full\nfine-tuning", "Tinh chỉnh\ntoàn bộ")."""
    spaces = [i for i, c in enumerate(label) if c == " "]
    if not spaces:
        return label
    i = min(spaces, key=lambda k: abs(k - len(label) / 2))
    return label[:i] + "\n" + label[i + 1:]


def _memory_axes(ax, bars: list[dict], gpu_sizes, ymax: float, legend: bool, tx: dict,
                 label_gpus: bool = True) -> None:
    labels = [_two_lines(b["label"]) for b in bars]
    names = [n for n in MEMORY_COLORS if any(n in b["terms"] for b in bars)]
    bottoms = [0.0] * len(bars)
    for name in names:
        values = [b["terms"].get(name, 0.0) for b in bars]
        estimate = name in ("activations", "overhead")
        ax.bar(labels, values, bottom=bottoms, color=MEMORY_COLORS[name], width=0.55,
               hatch="//" if estimate else None, edgecolor="white", lw=0.5,
               label=tx["estimate"].format(name=tx[name]) if estimate else tx[name])
        bottoms = [b + v for b, v in zip(bottoms, values)]
    for x, total in enumerate(bottoms):
        text = f"{total:,.1f} GB" if total < 100 else f"{total:,.0f} GB"
        if total <= ymax:
            ax.text(x, total, text, ha="center", va="bottom", fontsize=9, fontweight="bold",
                    bbox={"facecolor": "white", "alpha": 0.75, "lw": 0, "pad": 1})
        else:  # clipped in the zoomed panel
            ax.text(x, ymax * 0.97, f"↑{total:,.0f}", ha="center", va="top", fontsize=8, color="white",
                    fontweight="bold")
    sizes = [g for g in sorted(gpu_sizes) if g <= ymax]
    for g in sizes:
        ax.axhline(g, color="black", ls=":", lw=1)
    gpu_axis = ax.twinx()  # GPU sizes as labelled ticks on the right, clear of the bars
    gpu_axis.set_ylim(0, ymax)
    kept = [g for i, g in enumerate(sizes) if all(abs(g - k) > 0.05 * ymax for k in sizes[:i])] if label_gpus else []
    gpu_axis.set_yticks(kept)
    gpu_axis.set_yticklabels([tx["gpu"].format(gb=g) for g in kept], fontsize=8)
    ax.set_ylim(0, ymax)
    ax.set_xlabel(tx["xlabel"])
    ax.grid(alpha=0.3, axis="y")
    if legend:
        ax.legend(fontsize=8, loc="upper right")


def memory_figure(bars: list[dict], gpu_sizes=(16, 24, 48, 80), title: str | None = None,
                  text: dict | None = None) -> Figure:
    """Stacked bars: weights / gradients / optimizer states / activations / overhead (GB) per method.

    ``bars``: ``{"label": str, "terms": {name: GB}}`` each; hatched segments are estimates (activations,
    overhead), solid ones exact. Dotted lines mark common GPU sizes (labelled on the right axis). When
    the tallest bar dwarfs the GPUs (a 65B model: ~785 GB against 48 GB), a second panel zooms in.
    ``text``: the visible strings (keys of :data:`MEMORY_TEXT`; a term's name is its key).
    """
    import textwrap

    tx = _text(MEMORY_TEXT, text)
    title = title or tx["title"]
    totals = [sum(b["terms"].values()) for b in bars] or [1.0]
    top = max(totals)
    zoom = top > 2.5 * max(gpu_sizes)
    fig = new_figure(7.4 if zoom else 7.0, 4.1)
    # A long title ("… — Mixtral-8x7B (MoE), 16-bit, batch 1 × 512") can be wider than the
    # figure, and constrained layout does not shrink text: break it at its dash, then wrap each part.
    title = "\n".join(textwrap.fill(part, 70) for part in title.split(" — "))
    if zoom:
        left, right = fig.subplots(1, 2, width_ratios=[3, 2])
        _memory_axes(left, bars, gpu_sizes, top * 1.15, legend=True, tx=tx, label_gpus=False)
        _memory_axes(right, bars, gpu_sizes, max(gpu_sizes) * 1.25, legend=False, tx=tx)
        right.set_title(tx["zoom"].format(gb=max(gpu_sizes) * 1.25), fontsize=9)
        left.set_ylabel(tx["ylabel"])
        fig.suptitle(title)
    else:
        ax = fig.add_subplot()
        _memory_axes(ax, bars, gpu_sizes, max(top * 1.15, min(gpu_sizes) * 1.1), legend=True, tx=tx)
        ax.set_ylabel(tx["ylabel"])
        fig.suptitle(title)
    return fig


# --- NF4 explorer -----------------------------------------------------------------------------

QUANT_COLORS = {"nf4": PALETTE["primary"], "fp4": PALETTE["accent"], "int4": PALETTE["good"]}


LEVELS_TEXT = {
    "title": "The 16 levels of NF4, FP4 and INT4 (value / block absmax)",
    "density": "N(0, 1) rescaled to the NF4 range",
    "nf4": "NF4 levels (normal quantiles)",
    "ylabel": "density (per unit)",
    "fp4": "FP4 (1 sign, 2 exponent, 1 mantissa bit)",
    "int4": "INT4 (uniform, k / 7)",
    "distinct": "{name}: {n} distinct levels",
    "xlabel": "level (fraction of the block's absmax, unitless)",
}


def nf4_levels_figure(levels: dict, nf4_scale: float, text: dict | None = None) -> Figure:
    """The 16 levels of each 4-bit type, NF4's drawn over the normal density it was built from.

    ``levels``: {"nf4": tensor, "fp4": ..., "int4": ...} in [-1, 1]; ``nf4_scale`` = Φ⁻¹(offset),
    so a weight ~ N(0, 1) divided by ``nf4_scale`` has density ``nf4_scale · φ(nf4_scale · u)``.
    ``text``: the visible strings (keys of :data:`LEVELS_TEXT`).
    """
    tx = _text(LEVELS_TEXT, text)
    import math

    import numpy as np

    fig = new_figure(7.4, 4.6)
    axes = fig.subplots(3, 1, sharex=True, height_ratios=[2.2, 1, 1])
    u = np.linspace(-1.1, 1.1, 400)
    density = nf4_scale * np.exp(-0.5 * (nf4_scale * u) ** 2) / math.sqrt(2 * math.pi)
    ax = axes[0]
    ax.plot(u, density, color=PALETTE["muted"], lw=1.5, label=tx["density"])
    ax.fill_between(u, density, color=PALETTE["muted"], alpha=0.15)
    nf4_levels = np.asarray(levels["nf4"], dtype=float)
    ax.vlines(nf4_levels, 0, nf4_scale * np.exp(-0.5 * (nf4_scale * nf4_levels) ** 2) / math.sqrt(2 * math.pi),
              color=QUANT_COLORS["nf4"], lw=1.6, label=tx["nf4"])
    ax.plot(nf4_levels, np.zeros_like(nf4_levels), "o", color=QUANT_COLORS["nf4"], ms=5, clip_on=False)
    ax.set_ylabel(tx["ylabel"])
    ax.set_title(tx["title"])
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.set_ylim(bottom=0)
    for ax, name, label in ((axes[1], "fp4", tx["fp4"]), (axes[2], "int4", tx["int4"])):
        vals = np.unique(np.asarray(levels[name], dtype=float))
        ax.vlines(vals, 0, 1, color=QUANT_COLORS[name], lw=1.6)
        ax.plot(vals, np.zeros_like(vals), "o", color=QUANT_COLORS[name], ms=5, clip_on=False)
        ax.set_yticks([])
        ax.set_ylim(0, 1.25)
        ax.text(-1.08, 1.02, tx["distinct"].format(name=label, n=len(vals)), fontsize=8, va="bottom")
    axes[0].text(-1.08, axes[0].get_ylim()[1] * 0.93, tx["distinct"].format(name="NF4", n=len(np.unique(nf4_levels))),
                 fontsize=8, va="top")
    axes[2].set_xlabel(tx["xlabel"])
    for ax in axes:
        ax.grid(alpha=0.3, axis="x")
    return fig


HISTOGRAM_TEXT = {
    "title": "Tensor values and one block's levels",
    "all": "all {n:,} values",
    "levels": "{qt} levels × absmax of block {block}",
    "block": "values of block {block}",
    "outliers": "{n:,} outliers beyond the axes",
    "xlabel": "weight value (unitless)",
    "ylabel": "values per bin (count)",
}


def quant_histogram_figure(values, block_levels, block_values, quant_type: str, block: int,
                           title: str | None = None, text: dict | None = None) -> Figure:
    """Histogram of a tensor with the 16 levels × absmax of one block overlaid (dashed lines).
    ``text``: the visible strings (keys of :data:`HISTOGRAM_TEXT`)."""
    tx = _text(HISTOGRAM_TEXT, text)
    title = title or tx["title"]
    import numpy as np

    v = np.asarray(values, dtype=np.float32).reshape(-1)
    fig = new_figure(7.4, 3.6)
    ax = fig.add_subplot()
    lo, hi = np.percentile(v, [0.05, 99.95]) if v.size > 2000 else (v.min(), v.max())
    span = max(hi - lo, 1e-12)
    lvl = np.asarray(block_levels, dtype=float)
    lo, hi = min(lo, lvl.min()) - 0.05 * span, max(hi, lvl.max()) + 0.05 * span
    ax.hist(v, bins=120, range=(lo, hi), histtype="stepfilled", color=PALETTE["muted"], alpha=0.85,
            label=tx["all"].format(n=v.size))  # one outline, not 120 bars: a third of the time to build
    for i, level in enumerate(np.unique(lvl)):
        ax.axvline(level, color=QUANT_COLORS.get(quant_type, PALETTE["primary"]), lw=0.9, ls="--",
                   label=tx["levels"].format(qt=quant_type.upper(), block=block) if i == 0 else None)
    bv = np.asarray(block_values, dtype=float)
    ax.plot(bv, np.zeros_like(bv), "|", color=PALETTE["bad"], ms=14, mew=1.2, label=tx["block"].format(block=block))
    outside = int(((v < lo) | (v > hi)).sum())
    if outside:
        ax.text(0.01, 0.97, tx["outliers"].format(n=outside), transform=ax.transAxes, ha="left", va="top",
                fontsize=8)
    ax.set_xlim(lo, hi)
    ax.set_title(title)
    ax.set_xlabel(tx["xlabel"])
    ax.set_ylabel(tx["ylabel"])
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return fig


ERROR_TEXT = {
    "title": "Quantization error across block sizes",
    "xlabel": "block size (values per absmax)",
    "sqnr": "SQNR (dB, higher is better)",
    "mse": "mean squared error (value²)",
}


def quant_error_figure(rows, title: str | None = None, text: dict | None = None) -> Figure:
    """SQNR (dB) and MSE against block size for each 4-bit type (rows from compare_types).
    ``text``: the visible strings (keys of :data:`ERROR_TEXT`)."""
    tx = _text(ERROR_TEXT, text)
    title = title or tx["title"]
    fig = new_figure(7.4, 4.2)
    ax1, ax2 = fig.subplots(1, 2)
    for qt in dict.fromkeys(r["quant_type"] for r in rows):
        rs = [r for r in rows if r["quant_type"] == qt]
        bs = [r["blocksize"] for r in rs]
        kw = dict(marker="o", ms=4, color=QUANT_COLORS.get(qt), label=qt.upper())
        ax1.plot(bs, [r["sqnr_db"] for r in rs], **kw)
        ax2.plot(bs, [r["mse"] for r in rs], **kw)
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xlabel(tx["xlabel"])
        ax.grid(alpha=0.3)
    ax1.set_ylabel(tx["sqnr"])
    ax2.set_ylabel(tx["mse"])
    ax2.set_yscale("log")
    ax1.legend(fontsize=8, frameon=False)
    fig.suptitle(title)
    return fig


# --- QLoRA training ---------------------------------------------------------------------------

#: The newest run first: indigo solid, the run before it amber dashed, older ones slate dotted, so a
#: run drawn under another one still shows.
RUN_STYLES = (
    {"color": "#4f46e5", "linestyle": "-", "linewidth": 2.0},
    {"color": "#f59e0b", "linestyle": (0, (6, 3)), "linewidth": 2.2},
    {"color": "#64748b", "linestyle": (0, (1.5, 2)), "linewidth": 2.0},
)


CURVES_TEXT = {
    "title": "Training loss, live",
    "xlabel": "optimizer step",
    "ylabel": "loss (nats per trained token)",
    "empty": "The loss of each step appears here once training starts.",
}


def training_curves_figure(runs, steps: int, title: str | None = None, text: dict | None = None) -> Figure:
    """Loss per optimizer step for each run: ``runs`` is a list of ``(label, [(step, loss), ...])``,
    oldest first. The x-axis spans steps 1 .. ``steps`` with whole-number ticks; each run has its own
    colour and dash, and its full label in the legend (wrapped, under the axes).
    ``text``: the visible strings (keys of :data:`CURVES_TEXT`)."""
    import textwrap

    from matplotlib.ticker import MaxNLocator

    tx = _text(CURVES_TEXT, text)
    fig = new_figure(7.0, 3.9)
    ax = fig.add_subplot()
    newest_first = list(reversed(list(runs)))
    for i, (label, curve) in enumerate(newest_first):
        style = RUN_STYLES[min(i, len(RUN_STYLES) - 1)]
        xs = [s for s, _ in curve]
        ys = [v for _, v in curve]
        ax.plot(xs, ys, marker="o" if len(xs) < 25 else None, ms=3.5, label=textwrap.fill(label, 60),
                zorder=3 + len(newest_first) - i, **style)
    ax.set_xlim(0.5, max(2, steps) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
    ax.set_xlabel(tx["xlabel"])
    ax.set_ylabel(tx["ylabel"])
    ax.set_title(title or tx["title"])
    ax.grid(alpha=0.3)
    if any(curve for _, curve in newest_first):
        # a figure legend "outside": constrained layout makes room for it, however many lines it has
        fig.legend(loc="outside lower center", ncol=1, fontsize=8.5, frameon=False)
    else:
        ax.text(0.5, 0.5, tx["empty"], ha="center", va="center",
                transform=ax.transAxes, color=PALETTE["muted"])
        ax.set_yticks([])
    return fig


# --- Experiments ------------------------------------------------------------------------------

SPECTRUM_TEXT = {
    "title": "Singular values of the learned update ΔW = (α/r)·B·A of {module}",
    "xlabel": "index of the singular value (largest first)",
    "ylabel": "singular value σ (log scale)",
}


def spectrum_figure(spectra, module: str, text: dict | None = None) -> Figure:
    """Singular values of ΔW for each rank, largest first (log y): a rank-r update has at most r
    non-zero ones, and how fast they fall shows how many directions the update really uses.
    ``spectra``: ``[(label, [σ1, σ2, ...]), ...]``; ``text``: keys of :data:`SPECTRUM_TEXT`."""
    tx = _text(SPECTRUM_TEXT, text)
    fig = new_figure(7.0, 3.8)
    ax = fig.add_subplot()
    colors = (PALETTE["primary"], PALETTE["accent"], PALETTE["good"], PALETTE["bad"], PALETTE["muted"])
    for i, (label, values) in enumerate(spectra):
        ys = [v for v in values if v > 0]
        ax.plot(range(1, len(ys) + 1), ys, marker="o", ms=3, lw=1.6, color=colors[i % len(colors)], label=label)
    ax.set_yscale("log")
    ax.set_title(tx["title"].format(module=module), fontsize=10)
    ax.set_xlabel(tx["xlabel"])
    ax.set_ylabel(tx["ylabel"])
    ax.grid(alpha=0.3)
    if spectra:
        ax.legend(fontsize=8, frameon=False)
    return fig
