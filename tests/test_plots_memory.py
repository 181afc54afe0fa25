"""lab.plots_memory: the timeline, replay and state-size figures have titles, labelled axes with units,
and take every visible string from their parameters."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from lab import paging as P
from lab import plots_memory as F


@pytest.fixture(scope="module")
def ledger():
    return P.estimate_ledger("llama-65b", "qlora", r=64, seq_len=512, spike_seq_len=4096, points=4)


def _texts(fig: Figure) -> list[str]:
    out = [t.get_text() for t in fig.texts]
    if fig._suptitle is not None:
        out.append(fig._suptitle.get_text())
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()] + [t.get_text() for t in ax.texts]
        out += [t.get_text() for t in ax.get_yticklabels()]
        leg = ax.get_legend()
        if leg is not None:
            out += [t.get_text() for t in leg.get_texts()]
    return out


def test_timeline_figure(ledger):
    fig = F.memory_timeline_figure(ledger)
    ax = fig.axes[0]
    assert isinstance(fig, Figure)
    assert ax.get_title() == "Memory during training: QLoRA, LLaMA-65B"
    assert ax.get_xlabel() == "time (steps)" and ax.get_ylabel() == "memory (GB)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:4] == ["weights", "gradients", "optimizer states", "activations (saved for backward)"]
    assert "long batch (activation spike)" in legend
    assert "51.0 GB" in [t.get_text() for t in ax.texts]  # the peak, annotated


def test_timeline_figure_takes_its_strings(ledger):
    fig = F.memory_timeline_figure(ledger, title="T {method}", xlabel="X {unit}", ylabel="Y {unit}",
                                   category_labels={c: c.upper() for c in P.CATEGORIES}, step_label="S{step}",
                                   spike_label="SPIKE", method_label="M")
    texts = _texts(fig)
    assert {"T M", "X steps", "Y GB", "WEIGHTS", "OPTIMIZER", "SPIKE", " S2"} <= set(texts)


def test_replay_figure(ledger):
    no, yes = P.replay(ledger, 48e9, False), P.replay(ledger, 48e9, True)
    fig = F.replay_figure(ledger, no, yes)
    top, bottom = fig.axes
    assert fig._suptitle.get_text() == "The same steps on a 48.00 GB GPU"
    assert (top.get_title(), bottom.get_title()) == ("Without paging", "With a paged optimizer")
    assert top.get_ylabel() == bottom.get_ylabel() == "GPU memory (GB)" and bottom.get_xlabel() == "time (steps)"
    assert "out of memory" in [t.get_text() for t in top.get_legend().get_texts()]
    notes = [t.get_text() for t in bottom.get_legend().get_texts()]  # the moves' totals, beside their markers
    assert f"{yes.bytes_to_cpu / 1e9:.2f} GB to CPU" in notes
    assert f"{yes.bytes_to_gpu / 1e9:.2f} GB back to the GPU" in notes
    fr = F.replay_figure(ledger, no, yes, title="A {cap}", panel_titles=("B", "C"), xlabel="D {unit}",
                         ylabel="E {unit}", labels={k: k.upper() + " {size}" for k in F.REPLAY_LABELS})
    texts = _texts(fr)
    assert {"A 48.00 GB", "B", "C", "D steps", "E GB"} <= set(texts)
    assert any(t.startswith("TO_CPU ") for t in texts) and "OOM {size}" in texts


def test_state_sizes_figure():
    full = P.estimate_ledger("smollm2-135m", "full", points=1).states
    lora = P.estimate_ledger("smollm2-135m", "lora", r=16, points=1).states
    fig = F.state_sizes_figure({"full": full, "LoRA r=16": lora})
    ax = fig.axes[0]
    assert ax.get_title() == "Which optimizer states a paged optimizer pages"
    assert ax.get_xlabel() == "elements per state tensor (log scale)" and ax.get_ylabel() == "trained with"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["full\n422 of 544 paged", "LoRA r=16\n0 of 840 paged"]
    assert "paged from 100,000 elements (bitsandbytes)" in [t.get_text() for t in ax.get_legend().get_texts()]
