"""App wiring without a browser, and the API through gradio_client against a live server."""

from __future__ import annotations

from pathlib import Path

import pytest

import app

LECTURE_ORDER = ["Model & data", "SFT masking", "LoRA calculator", "NF4 explorer", "QLoRA training", "Experiments",
                 "Training experiments", "Paged optimizers"]  # the last two: the Experiments tab's panels


def _tab_labels(demo):
    import gradio as gr

    return [b.label for b in demo.blocks.values() if isinstance(b, gr.Tab)]


def test_tabs_follow_the_lecture_order_without_placeholders():
    labels = _tab_labels(app.build_app())
    assert labels[0] == "Model & data"
    assert labels == [t for t in LECTURE_ORDER if t in labels]  # in order, nothing else


def test_public_api_names():
    names = {d.get("api_name") for d in app.demo.config["dependencies"]}
    assert {"chat", "dataset_row"} <= names


def test_startup_is_lazy():
    """Building the app loads no model: the shared caches are still empty."""
    from lab import models

    models.shared_model.cache_clear()
    models.shared_tokenizer.cache_clear()
    app.build_app()
    assert models.shared_model.cache_info().currsize == 0
    assert models.shared_tokenizer.cache_info().currsize == 0


def test_space_front_matter():
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    front = text.split("---")[1]
    assert "sdk: gradio" in front and "app_file: app.py" in front
    version = front.split('python_version: "')[1].split('"')[0]
    assert tuple(int(x) for x in version.split(".")) >= (3, 11)
    assert "license:" in front and "short_description:" in front


def test_launch_kwargs_respect_host_and_port(monkeypatch):
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "7999")
    kw = app.launch_kwargs()
    assert kw["server_name"] == "0.0.0.0" and kw["server_port"] == 7999 and kw["theme"] is not None


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_chat_endpoint_streams_an_answer(client):
    job = client.submit("What is the capital of France?", [], "greedy", 0.7, 0.9, 24, api_name="/chat")
    replies = [out[1][-1]["content"] for out in job]
    replies = [r if isinstance(r, str) else r[0]["text"] for r in replies]
    assert len(replies) >= 3, "the reply should arrive in several streamed pieces"
    assert "Paris" in replies[-1]
    assert any(len(r) < len(replies[-1]) for r in replies)  # it grew


def test_chat_endpoint_leaves_an_empty_message_unchanged(client):
    """An empty message is a warning, not an error: the conversation and the box stay as they were."""
    outputs = client.predict("   ", [], "greedy", 0.7, 0.9, 24, api_name="/chat")
    assert all(out == {"__type__": "update"} for out in outputs), outputs  # gr.skip(): nothing changes


def test_dataset_endpoint_shows_row_and_template(client, tokenizer):
    from lab import data

    slider, raw, formatted, counts, _ = client.predict("json", "eval", 3, None, api_name="/dataset_row")
    row = data.load_sft_dataset("json", "eval")[2]["messages"]
    assert row[0]["content"] in raw
    assert formatted.rstrip("\n") == data.chat_text(tokenizer, row).rstrip("\n")  # gr.Code drops the last newline
    assert f"| {len(data.load_sft_dataset('json', 'eval'))} |" in counts


def test_dataset_endpoint_reads_an_uploaded_alpaca_file(client, tmp_path):
    import json

    from gradio_client import handle_file

    rows = [{"instruction": "Translate to French.", "input": "Good night", "output": "Bonne nuit"}] * 3
    p = tmp_path / "alpaca.json"
    p.write_text(json.dumps(rows), encoding="utf-8")
    _, raw, formatted, counts, _ = client.predict("pirate", "train", 1, handle_file(str(p)), api_name="/dataset_row")
    assert '"instruction": "Translate to French."' in raw  # the row as stored
    assert "<|im_start|>user\nTranslate to French.\n\nGood night<|im_end|>" in formatted  # as the model sees it
    assert "read as *alpaca*" in counts and "| 3 |" in counts


def test_dataset_endpoint_names_the_bad_row(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    p = tmp_path / "broken.jsonl"
    p.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": {"not": "text"}, "completion": "b"}\n', encoding="utf-8")
    with pytest.raises(AppError, match=r"broken\.jsonl, row 2: field 'prompt' must be text"):
        client.predict("pirate", "train", 1, handle_file(str(p)), api_name="/dataset_row")


def test_numbers_in_an_uploaded_csv_are_text(client, tmp_path):
    from gradio_client import handle_file

    p = tmp_path / "sums.csv"
    p.write_text("prompt,completion\n2+2=,4\n3,9\n", encoding="utf-8")
    _, raw, formatted, counts, _ = client.predict("pirate", "train", 2, handle_file(str(p)), api_name="/dataset_row")
    assert '"prompt": "3"' in raw and '"completion": "9"' in raw
    assert "<|im_start|>user\n3<|im_end|>" in formatted and "| 2 |" in counts


def test_a_path_that_was_never_uploaded_is_refused_in_a_sentence(app_url):
    """Through the HTTP API a client can name any server path as a file: it is refused, in the lab's words."""
    import httpx

    payload = {"data": ["pirate", "train", 1, {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, "en"],
               "session_hash": "never-uploaded"}
    r = httpx.post(app_url.rstrip("/") + "/gradio_api/call/dataset_row", json=payload, timeout=30)
    event_id = r.json()["event_id"]
    stream = httpx.get(app_url.rstrip("/") + f"/gradio_api/call/dataset_row/{event_id}", timeout=60).text
    assert "event: error" in stream
    assert "That file was not uploaded to this lab" in stream, stream
    assert "root:" not in stream


def test_uploads_over_the_limit_are_refused_before_they_are_stored(app_url, tmp_path):
    """launch(max_file_size=5 MB): Gradio's upload route refuses a 6 MB file instead of writing it to disk."""
    import httpx

    from lab import data

    assert app.launch_kwargs()["max_file_size"] == data.MAX_UPLOAD_BYTES
    big = b'{"prompt": "x", "completion": "y"}\n' * (6_000_000 // 34)
    r = httpx.post(app_url.rstrip("/") + "/gradio_api/upload", files={"files": ("big.jsonl", big)}, timeout=60)
    assert r.status_code == 413, (r.status_code, r.text[:200])
    small = httpx.post(app_url.rstrip("/") + "/gradio_api/upload", files={"files": ("ok.jsonl", big[:1000])}, timeout=60)
    assert small.status_code == 200
