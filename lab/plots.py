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


# --- QLoRA training ---------------------------------------------------------------------------
