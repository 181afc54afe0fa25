"""What one browser session trained last: its adapter, for the chat of the Model & data tab.

The training tab records each finished run here (``remember_adapter``); the chat reads it back
(``last_adapter``). Sessions are Gradio's ``request.session_hash`` (one per page load). Only the newest
:data:`MAX_SESSIONS` sessions are kept, so a server that stays up does not grow without bound. No heavy
imports: this module is safe to import anywhere.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from pathlib import Path

MAX_SESSIONS = 64

_adapters: OrderedDict[str, dict] = OrderedDict()
_lock = threading.Lock()


def remember_adapter(session_hash: str, adapter_dir: str | Path, label: str, quantization: str | None) -> None:
    """Record ``adapter_dir`` (peft's files of a finished run) as ``session_hash``'s last adapter.

    ``label`` names the run for the chat ("Run 2 · pirate · r=16 …"); ``quantization`` is the base it was
    trained on (``"nf4"``, ``"fp4"`` or None), so the chat puts the adapter back on the same base.
    """
    if not isinstance(session_hash, str) or not session_hash:
        raise ValueError("A session needs a non-empty session hash.")
    if quantization not in (None, "nf4", "fp4"):
        raise ValueError(f"quantization must be None, 'nf4' or 'fp4', not {quantization!r}.")
    entry = {"adapter_dir": str(adapter_dir), "label": label if isinstance(label, str) else str(label),
             "quantization": quantization}
    with _lock:
        _adapters[session_hash] = entry
        _adapters.move_to_end(session_hash)
        while len(_adapters) > MAX_SESSIONS:
            _adapters.popitem(last=False)


def last_adapter(session_hash: str | None) -> dict | None:
    """``session_hash``'s last adapter as a new dict (adapter_dir, label, quantization), or None."""
    if not isinstance(session_hash, str):
        return None
    with _lock:
        entry = _adapters.get(session_hash)
        return dict(entry) if entry is not None else None


def forget(session_hash: str) -> None:
    """Drop ``session_hash``'s adapter (tests; a session that ends)."""
    with _lock:
        _adapters.pop(session_hash, None)


# --- each browser session's language ---------------------------------------------------------------

_langs: OrderedDict[str, str] = OrderedDict()


def set_lang(session_hash: str | None, lang: str) -> None:
    """Record the language ``session_hash`` switched to (a long run reads it at each update)."""
    if not isinstance(session_hash, str) or not session_hash:
        return
    with _lock:
        _langs[session_hash] = lang
        _langs.move_to_end(session_hash)
        while len(_langs) > 4 * MAX_SESSIONS:
            _langs.popitem(last=False)


def lang(session_hash: str | None, default: str) -> str:
    """The language ``session_hash`` uses now: its last switch, else ``default``."""
    with _lock:
        return _langs.get(session_hash, default) if isinstance(session_hash, str) else default


# --- stop flags of long runs (training, experiments) ------------------------------------------------


@dataclasses.dataclass
class _Slot:
    """A session's stop flag, and whether a run of that session is queued or running."""

    stop: threading.Event = dataclasses.field(default_factory=threading.Event)
    active: bool = False


class StopFlags:
    """One stop flag per browser session for one kind of long run (the training tab's, the experiments').

    ``arm`` when the button is pressed (before the run waits in the queue), ``begin`` when the run starts
    (a direct API call gets a fresh flag), ``end`` however it ends; ``request_stop`` sets the flag of a
    queued or running run and says False when there is none, leaving nothing set (a later run is not
    stopped by an old press)."""

    def __init__(self):
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()

    def arm(self, session: str) -> None:
        with self._lock:
            self._slots[session] = _Slot(active=True)

    def begin(self, session: str) -> threading.Event:
        with self._lock:
            slot = self._slots.get(session)
            if slot is None or not slot.active:
                slot = self._slots[session] = _Slot(active=True)
            return slot.stop

    def end(self, session: str) -> None:
        with self._lock:
            slot = self._slots.get(session)
            if slot is not None:
                slot.active = False

    def running(self, session: str) -> bool:
        with self._lock:
            slot = self._slots.get(session)
            return slot is not None and slot.active

    def request_stop(self, session: str) -> bool:
        with self._lock:
            slot = self._slots.get(session)
            if slot is None or not slot.active:
                return False
            slot.stop.set()
            return True


def session_of(request) -> str:
    """The browser session of a Gradio request (``"default"`` for a call without one)."""
    return getattr(request, "session_hash", None) or "default"
