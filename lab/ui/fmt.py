"""Formatting every tab shares: Markdown tables, tables with translated headers, numbers and durations."""

from __future__ import annotations

import math

import pandas as pd

from lab.ui.i18n import t


def md_table(headers: list[str], rows: list[list], align: str | None = None) -> str:
    """A Markdown table; ``align`` is one character per column (``l`` or ``r``; default: the first left,
    the rest right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    rule = ["---" if a == "l" else "---:" for a in align]
    lines = [headers, rule, *[[str(c) for c in row] for row in rows]]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def frame(columns: dict[str, list], lang: str) -> pd.DataFrame:
    """A table whose column headers are catalog keys, shown in ``lang``."""
    return pd.DataFrame({t(key, lang): values for key, values in columns.items()})


def placeholder(keys: list[str], lang: str) -> pd.DataFrame:
    """An empty table that already shows its (translated) column names."""
    return pd.DataFrame({t(key, lang): [t("common.dash", lang)] for key in keys})


def num(v: float) -> str:
    """Four significant digits, or ∞."""
    return "∞" if math.isinf(v) else f"{v:.4g}"


def model_name(lang: str, name: str | None = None) -> str:
    """The model ``name`` means (``lab.models.display_name``), with "(bundled)" said in ``lang``."""
    from lab import models

    shown = models.display_name(name)
    if shown.endswith(" (bundled)"):
        return t("common.bundled_model", lang, name=shown.removesuffix(" (bundled)"))
    return shown


def seconds(s: float, lang: str) -> str:
    """``"42 s"``, or ``"2 min 05 s"`` from two minutes on."""
    if s < 120:
        return t("common.seconds", lang, s=s)
    return t("common.minutes", lang, m=s // 60, s=s % 60)
