"""A bad-input sweep against the launched app, through its HTTP API (``gradio_client``), as a stranger on a
public Space would send them: every public endpoint, every parameter in turn, each of empty, NaN, inf,
negative, huge, wrong-type and HTML values, the other parameters at their defaults.

Each call must end within a bounded time, either answering or refusing with a sentence (never a bare
"Error", never Python's own words, never the HTML unescaped), and the server must still answer after.
"""

from __future__ import annotations

import math
import time

import pytest

HTML = '<a href="https://example.com" style="position:fixed;inset:0">click</a>'
BAD_VALUES = {
    "empty": "",
    "nan": math.nan,
    "inf": math.inf,
    "negative": -7,
    "huge": 1e30,
    "wrong type": {"not": ["a", "value"]},
    "html": HTML,
}
PYTHON_WORDS = ("Traceback", "cannot convert", "has no attribute", "unsupported operand", "NoneType",
                "invalid literal", "Overflow", "could not convert", "object is not", "unhashable", "KeyError",
                "IndexError", "TypeError", "not subscriptable", "unexpected keyword")
# Inputs that keep the sweep short when a bad value happens to be valid (a run of 1 step, 4 new tokens).
OVERRIDES = {"/train": {"steps": 1, "batch": 1}, "/chat": {"max_new_tokens": 4}}
SLOW_FIRST_CALL_S = 180  # the first call of an endpoint may load the model (the cache is warm in tests)
BOUND_S = 45  # any later call, bad input included, on this 2-core machine


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def _endpoints(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name, info in sorted(api.items()):
        params = info["parameters"]
        defaults = {p["parameter_name"]: p.get("parameter_default") for p in params}  # None where there is none
        if name == "/chat":
            defaults["message"], defaults["history"] = "Hello", []
        defaults.update(OVERRIDES.get(name, {}))
        files = {p["parameter_name"] for p in params if "file" in str(p.get("python_type", {})).lower()}
        yield name, defaults, files


def _call(client, api_name, kwargs):
    """POST the values as raw JSON (NaN and Infinity literals included, as any HTTP client can send them);
    (error message or None, seconds)."""
    import json

    import httpx

    base = client.src.rstrip("/") + "/gradio_api/call" + api_name
    t0 = time.perf_counter()
    r = httpx.post(base, content=json.dumps({"data": list(kwargs.values())}),
                   headers={"content-type": "application/json"}, timeout=SLOW_FIRST_CALL_S)
    if r.status_code != 200:
        return f"HTTP {r.status_code}: {r.text[:200]}", time.perf_counter() - t0
    stream = httpx.get(f"{base}/{r.json()['event_id']}", timeout=SLOW_FIRST_CALL_S).text
    seconds = time.perf_counter() - t0
    if "event: error" not in stream:
        return None, seconds
    payload = stream.split("event: error", 1)[1].split("data:", 1)[1].strip().split("\n")[0]
    try:
        message = json.loads(payload)
    except json.JSONDecodeError:
        message = payload
    return str(message if message is not None else ""), seconds


@pytest.mark.slow
def test_every_endpoint_answers_bad_values_with_a_sentence_in_bounded_time(client):
    endpoints = list(_endpoints(client))
    names = {name for name, _, _ in endpoints}
    assert {"/chat", "/dataset_row", "/masking", "/lora_count", "/nf4_quantize", "/train"} <= names, names
    problems, slowest = [], (0.0, "")
    for name, defaults, files in endpoints:
        error, seconds = _call(client, name, defaults)
        assert error is None, f"{name} with its defaults: {error}"
        assert seconds < SLOW_FIRST_CALL_S
        for param in defaults:
            if param in files:
                continue  # file inputs: see test_app.py (never-uploaded paths, size limit)
            for label, value in BAD_VALUES.items():
                error, seconds = _call(client, name, {**defaults, param: value})
                where = f"{name} {param}={label}"
                slowest = max(slowest, (seconds, where))
                if seconds > BOUND_S:
                    problems.append(f"{where}: {seconds:.0f} s")
                if error is None:
                    continue  # accepted: a valid value for this field (any text is a valid chat message)
                if error.strip() in ("", "Error", "None") or " " not in error:
                    problems.append(f"{where}: bare message {error!r}")
                elif any(w in error for w in PYTHON_WORDS):
                    problems.append(f"{where}: Python's words: {error[:160]!r}")
                elif "<a " in error:
                    problems.append(f"{where}: HTML unescaped in the message: {error[:160]!r}")
    print(f"slowest bad input: {slowest[1]} in {slowest[0]:.1f} s")
    assert not problems, "\n".join(problems)
    # the server is alive and still right
    error, _ = _call(client, "/lora_count", dict(next(d for n, d, _ in endpoints if n == "/lora_count")))
    assert error is None
