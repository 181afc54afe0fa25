"""Paged optimizers made visible: a measured memory timeline of training, replayed on a GPU budget."""

from __future__ import annotations

from lab.ui.i18n import Page, TabView, Texts


def build_paging_panel(page: Page) -> TabView:
    tx = Texts()
    tx.md("paging.coming")
    return TabView(texts=tx)
