"""One home for the range checks every entry point shares (widgets, the HTTP API, the CLI, notebooks).

A value that reaches ``lab`` may not come from a widget: through the API a slider can send ``2.5``,
``NaN``, ``inf``, ``1e30`` or ``'abc'``. Each check turns such a value into the type the code needs or
raises a ``ValueError`` with one plain sentence that names the field and its range.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from lab.errors import LabError, Msg


def field(name) -> Msg:
    """A field's name as a translatable phrase: ``"The layer"`` has the code ``field.the_layer``
    (an app's catalog says it in another language; headless it stays as written)."""
    if isinstance(name, Msg):
        return name
    return Msg("field." + re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_"), str(name))


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _as_float(value) -> float | None:
    """The number in ``value`` (int, float, numeric string), or None when there is none."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an int too large for a float
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str) and len(value) <= 64:
        try:
            return float(value.strip().replace(",", ""))
        except ValueError:
            return None
    return None


def whole_number(name: str, value, lo: int, hi: int) -> int:
    """``value`` as an int in ``[lo, hi]``: 3, 3.0 and "3" pass; 2.5, NaN, inf, "abc" and out-of-range fail."""
    x = _as_float(value)
    if x is None or not math.isfinite(x) or not x.is_integer() or not lo <= x <= hi:
        raise LabError("checks.whole_number", "{name} must be a whole number from {lo:,} to {hi:,}, not {value}.",
                       name=field(name), lo=lo, hi=hi, value=_shown(value))
    return int(x)


def number(name: str, value, lo: float, hi: float) -> float:
    """``value`` as a finite float in ``[lo, hi]``."""
    x = _as_float(value)
    if x is None or not math.isfinite(x) or not lo <= x <= hi:
        raise LabError("checks.number", "{name} must be a number from {lo:g} to {hi:g}, not {value}.",
                       name=field(name), lo=lo, hi=hi, value=_shown(value))
    return x


def one_of(name: str, value, options: Iterable):
    """``value`` if it is one of ``options`` (compared as values, never as display labels)."""
    options = list(options)
    if value not in options:
        raise LabError("checks.one_of", "{name} must be one of {options}, not {value}.",
                       name=field(name), options=", ".join(str(o) for o in options), value=_shown(value))
    return value


def text(name: str, value, max_chars: int, *, required: bool = True) -> str:
    """``value`` as a string of at most ``max_chars`` characters (None counts as empty)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise LabError("checks.not_text", "{name} must be text, not {kind}.", name=field(name), kind=type(value).__name__)
    if required and not value.strip():
        raise LabError("checks.empty", "{name} is empty: type something first.", name=field(name))
    if len(value) > max_chars:
        raise LabError("checks.too_long", "{name} is {n:,} characters long; the limit is {limit:,}.",
                       name=field(name), n=len(value), limit=max_chars)
    return value
