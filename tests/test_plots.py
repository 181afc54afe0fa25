"""lab.plots: the figures' titles, axes and legends, read back from the matplotlib objects."""

from __future__ import annotations

from lab import plots


def _ticks(ax) -> list[float]:
    lo, hi = ax.get_xlim()
    return [t for t in ax.get_xticks() if lo <= t <= hi]


def test_training_curves_have_whole_step_ticks_full_legends_and_a_style_per_run():
    long = "run 1: pirate, NF4, r=16, completion masking, lr=0.001, targets=q+k+v+o+gate+up+down"
    runs = [(long, [(s, 3.0 - 0.1 * s) for s in range(1, 31)]), ("run 2: r=64", [(1, 3.1), (2, 2.9)])]
    for steps in (2, 3, 7, 30, 300):
        fig = plots.training_curves_figure(runs[:1] if steps == 2 else runs, steps)
        ax = fig.axes[0]
        ticks = _ticks(ax)
        assert ticks and all(float(t).is_integer() for t in ticks), (steps, ticks)
        assert ax.get_xlim()[1] >= steps
    fig = plots.training_curves_figure(runs, 30)
    ax = fig.axes[0]
    assert ax.get_title() == "Training loss, live"
    assert ax.get_xlabel() == "optimizer step" and "nats" in ax.get_ylabel()
    legend = [t.get_text().replace("\n", " ") for t in fig.legends[0].get_texts()]
    assert legend == ["run 2: r=64", long]  # newest first, nothing cut
    lines = {line.get_label().replace("\n", " "): line for line in ax.get_lines()}
    new, old = lines["run 2: r=64"], lines[long]
    assert new.get_color() != old.get_color() and new.get_linestyle() != old.get_linestyle()
    assert old.get_zorder() < new.get_zorder()  # the older run is drawn under, dashed so it still shows
    # the legend sits under the axes and inside the figure once drawn
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()  # lay the figure out as savefig does
    box = fig.legends[0].get_window_extent()
    assert box.y1 < ax.xaxis.label.get_window_extent().y0 and box.y0 >= 0 and box.x1 <= fig.bbox.x1  # under the x label


def test_training_curves_before_the_first_step_say_what_will_appear():
    ax = plots.training_curves_figure([("run 1: pirate, NF4, r=16", [])], 30).axes[0]
    fig = plots.training_curves_figure([("run 1: pirate, NF4, r=16", [])], 30)
    assert not fig.legends
    assert "appears here once training starts" in " ".join(t.get_text() for t in ax.texts)
