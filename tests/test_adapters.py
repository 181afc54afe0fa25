"""lab.ui.session (each browser session's last adapter) and lab.adapters (that adapter on the real model)."""

from __future__ import annotations

import threading

import pytest

from lab.ui import session


# ---- lab.ui.session ------------------------------------------------------------------------------

def test_a_session_gets_back_its_own_last_adapter(tmp_path):
    session.remember_adapter("s-a", tmp_path / "run-1", "run 1", "nf4")
    session.remember_adapter("s-b", tmp_path / "run-2", "run 2", None)
    session.remember_adapter("s-a", tmp_path / "run-3", "run 3", "fp4")  # a newer run of the same session
    assert session.last_adapter("s-a") == {"adapter_dir": str(tmp_path / "run-3"), "label": "run 3", "quantization": "fp4"}
    assert session.last_adapter("s-b")["adapter_dir"] == str(tmp_path / "run-2")
    assert session.last_adapter("s-unknown") is None and session.last_adapter(None) is None
    session.last_adapter("s-a")["label"] = "changed"  # a copy: the record is not changed through it
    assert session.last_adapter("s-a")["label"] == "run 3"


def test_only_the_newest_sessions_are_kept():
    for i in range(session.MAX_SESSIONS + 10):
        session.remember_adapter(f"bound-{i}", f"/tmp/run-{i}", f"run {i}", None)
    assert session.last_adapter("bound-0") is None and session.last_adapter("bound-9") is None
    assert session.last_adapter("bound-10")["label"] == "run 10"
    assert session.last_adapter(f"bound-{session.MAX_SESSIONS + 9}") is not None
    assert len(session._adapters) == session.MAX_SESSIONS


def test_a_session_used_again_is_kept_over_older_ones():
    for i in range(session.MAX_SESSIONS):
        session.remember_adapter(f"lru-{i}", f"/tmp/run-{i}", f"run {i}", None)
    session.remember_adapter("lru-0", "/tmp/run-again", "again", None)  # now the newest
    session.remember_adapter("lru-new", "/tmp/run-new", "new", None)
    assert session.last_adapter("lru-0")["label"] == "again" and session.last_adapter("lru-1") is None


def test_sessions_recorded_from_many_threads_at_once():
    def record(k):
        for i in range(200):
            session.remember_adapter(f"t{k}-{i % 8}", f"/tmp/{k}/{i}", f"{k}:{i}", None)

    threads = [threading.Thread(target=record, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(session._adapters) == session.MAX_SESSIONS  # 8 threads x 8 sessions, none lost
    assert all(session.last_adapter(f"t{k}-{j}")["label"].startswith(f"{k}:") for k in range(8) for j in range(8))
    assert {session.last_adapter(f"t{k}-7")["label"] for k in range(8)} == {f"{k}:199" for k in range(8)}


@pytest.mark.parametrize("bad, words", [(("", "/tmp/x", "l", None), "session hash"),
                                        ((None, "/tmp/x", "l", None), "session hash"),
                                        (("s", "/tmp/x", "l", "int8"), "quantization must be None, 'nf4' or 'fp4'")])
def test_bad_records_are_refused(bad, words):
    with pytest.raises(ValueError, match=words):
        session.remember_adapter(*bad)
