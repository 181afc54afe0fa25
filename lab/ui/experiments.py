"""Tab 6 — Experiments: the lecture's claims as runs a learner repeats, and paged optimizers measured."""

from __future__ import annotations

import gradio as gr

from lab.ui import paging
from lab.ui.i18n import Page, TabView, Texts


def build_experiments_tab(page: Page) -> TabView:
    tx = Texts()
    views = []
    with gr.Tabs():
        with tx(gr.Tab, label="exp.tab.runs", id="exp-runs"):
            tx.md("exp.coming")
        with tx(gr.Tab, label="exp.tab.paging", id="exp-paging"):
            views.append(paging.build_paging_panel(page))
    for v in views:  # one TabView for the app: the sub-panels' texts and re-renders with the tab's own
        tx.bindings += v.texts.bindings
    return TabView(texts=tx, rerender=[r for v in views for r in v.rerender],
                   parts={k: c for v in views for k, c in v.parts.items()})
