"""App wiring without a browser, and the API through gradio_client against a live server."""

from __future__ import annotations

from pathlib import Path

import pytest

import app

LECTURE_ORDER = ["Model & data", "SFT masking", "LoRA calculator", "NF4 explorer", "QLoRA training"]


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
    job = client.submit("What is the capital of France?", [], "Greedy", 0.7, 0.9, 24, api_name="/chat")
    replies = [out[1][-1]["content"] for out in job]
    replies = [r if isinstance(r, str) else r[0]["text"] for r in replies]
    assert len(replies) >= 3, "the reply should arrive in several streamed pieces"
    assert "Paris" in replies[-1]
    assert any(len(r) < len(replies[-1]) for r in replies)  # it grew


def test_chat_endpoint_rejects_empty_message(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Type a message first"):
        client.predict("   ", [], "Greedy", 0.7, 0.9, 24, api_name="/chat")


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
    p.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": 1, "completion": "b"}\n', encoding="utf-8")
    with pytest.raises(AppError, match=r"broken\.jsonl, row 2: field 'prompt' must be text"):
        client.predict("pirate", "train", 1, handle_file(str(p)), api_name="/dataset_row")
