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


# --- Model & data -----------------------------------------------------------------------------


def token_length_histogram(lengths, title: str = "Token lengths") -> Figure:
    """Histogram of the number of tokens per chat-formatted example."""
    fig = new_figure()
    ax = fig.add_subplot()
    ax.hist(lengths, bins=min(30, max(5, len(set(lengths)))), color=PALETTE["primary"], alpha=0.85)
    ax.set_title(title)
    ax.set_xlabel("tokens per example (chat template applied)")
    ax.set_ylabel("examples (count)")
    ax.grid(alpha=0.3)
    return fig


# --- SFT masking ------------------------------------------------------------------------------


# --- LoRA calculator --------------------------------------------------------------------------


# --- NF4 explorer -----------------------------------------------------------------------------

QUANT_COLORS = {"nf4": PALETTE["primary"], "fp4": PALETTE["accent"], "int4": PALETTE["good"]}


def nf4_levels_figure(levels: dict, nf4_scale: float) -> Figure:
    """The 16 levels of each 4-bit type, NF4's drawn over the normal density it was built from.

    ``levels``: {"nf4": tensor, "fp4": ..., "int4": ...} in [-1, 1]; ``nf4_scale`` = Φ⁻¹(offset),
    so a weight ~ N(0, 1) divided by ``nf4_scale`` has density ``nf4_scale · φ(nf4_scale · u)``.
    """
    import math

    import numpy as np

    fig = new_figure(7.4, 4.6)
    axes = fig.subplots(3, 1, sharex=True, height_ratios=[2.2, 1, 1])
    u = np.linspace(-1.1, 1.1, 400)
    density = nf4_scale * np.exp(-0.5 * (nf4_scale * u) ** 2) / math.sqrt(2 * math.pi)
    ax = axes[0]
    ax.plot(u, density, color=PALETTE["muted"], lw=1.5, label="N(0, 1) rescaled to the NF4 range")
    ax.fill_between(u, density, color=PALETTE["muted"], alpha=0.15)
    nf4_levels = np.asarray(levels["nf4"], dtype=float)
    ax.vlines(nf4_levels, 0, nf4_scale * np.exp(-0.5 * (nf4_scale * nf4_levels) ** 2) / math.sqrt(2 * math.pi),
              color=QUANT_COLORS["nf4"], lw=1.6, label="NF4 levels (normal quantiles)")
    ax.plot(nf4_levels, np.zeros_like(nf4_levels), "o", color=QUANT_COLORS["nf4"], ms=5, clip_on=False)
    ax.set_ylabel("density (per unit)")
    ax.set_title("The 16 levels of NF4, FP4 and INT4 (value / block absmax)")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.set_ylim(bottom=0)
    for ax, name, label in ((axes[1], "fp4", "FP4 (1 sign, 2 exponent, 1 mantissa bit)"),
                            (axes[2], "int4", "INT4 (uniform, k / 7)")):
        vals = np.unique(np.asarray(levels[name], dtype=float))
        ax.vlines(vals, 0, 1, color=QUANT_COLORS[name], lw=1.6)
        ax.plot(vals, np.zeros_like(vals), "o", color=QUANT_COLORS[name], ms=5, clip_on=False)
        ax.set_yticks([])
        ax.set_ylim(0, 1.25)
        ax.text(-1.08, 1.02, f"{label}: {len(vals)} distinct levels", fontsize=8, va="bottom")
    axes[0].text(-1.08, axes[0].get_ylim()[1] * 0.93, f"NF4: {len(np.unique(nf4_levels))} distinct levels",
                 fontsize=8, va="top")
    axes[2].set_xlabel("level (fraction of the block's absmax, unitless)")
    for ax in axes:
        ax.grid(alpha=0.3, axis="x")
    return fig


def quant_histogram_figure(values, block_levels, block_values, quant_type: str, block: int,
                           title: str = "Tensor values and one block's levels") -> Figure:
    """Histogram of a tensor with the 16 levels × absmax of one block overlaid (dashed lines)."""
    import numpy as np

    v = np.asarray(values, dtype=np.float32).reshape(-1)
    fig = new_figure(7.4, 3.6)
    ax = fig.add_subplot()
    lo, hi = np.percentile(v, [0.05, 99.95]) if v.size > 2000 else (v.min(), v.max())
    span = max(hi - lo, 1e-12)
    lvl = np.asarray(block_levels, dtype=float)
    lo, hi = min(lo, lvl.min()) - 0.05 * span, max(hi, lvl.max()) + 0.05 * span
    ax.hist(v, bins=120, range=(lo, hi), color=PALETTE["muted"], alpha=0.85, label=f"all {v.size:,} values")
    for i, level in enumerate(np.unique(lvl)):
        ax.axvline(level, color=QUANT_COLORS.get(quant_type, PALETTE["primary"]), lw=0.9, ls="--",
                   label=f"{quant_type.upper()} levels × absmax of block {block}" if i == 0 else None)
    bv = np.asarray(block_values, dtype=float)
    ax.plot(bv, np.zeros_like(bv), "|", color=PALETTE["bad"], ms=14, mew=1.2, label=f"values of block {block}")
    outside = int(((v < lo) | (v > hi)).sum())
    if outside:
        ax.text(0.99, 0.80, f"{outside:,} outliers beyond the axis", transform=ax.transAxes, ha="right", fontsize=8)
    ax.set_xlim(lo, hi)
    ax.set_title(title)
    ax.set_xlabel("weight value (unitless)")
    ax.set_ylabel("values per bin (count)")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return fig


def quant_error_figure(rows, title: str = "Quantization error across block sizes") -> Figure:
    """SQNR (dB) and MSE against block size for each 4-bit type (rows from compare_types)."""
    fig = new_figure(7.4, 3.4)
    ax1, ax2 = fig.subplots(1, 2)
    for qt in dict.fromkeys(r["quant_type"] for r in rows):
        rs = [r for r in rows if r["quant_type"] == qt]
        bs = [r["blocksize"] for r in rs]
        kw = dict(marker="o", ms=4, color=QUANT_COLORS.get(qt), label=qt.upper())
        ax1.plot(bs, [r["sqnr_db"] for r in rs], **kw)
        ax2.plot(bs, [r["mse"] for r in rs], **kw)
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("block size (values per absmax)")
        ax.grid(alpha=0.3)
    ax1.set_ylabel("SQNR (dB, higher is better)")
    ax2.set_ylabel("mean squared error (value²)")
    ax2.set_yscale("log")
    ax1.legend(fontsize=8, frameon=False)
    fig.suptitle(title)
    return fig


# --- QLoRA training ---------------------------------------------------------------------------
