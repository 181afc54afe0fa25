"""Shared fixtures: the real tokenizer and model (loaded once), a tiny model, the app server,
and a real Chromium page (Debian's, driven by Playwright)."""

from __future__ import annotations

import os
import random
import shutil
import socket
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest
import torch

SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def tokenizer():
    """The real tokenizer of the bundled SmolLM2-135M-Instruct (with its chat template)."""
    from lab import models

    return models.shared_tokenizer()


@pytest.fixture(scope="session")
def real_model():
    """The real bundled model in fp32, shared read-only (do not train it in place)."""
    from lab import models

    return models.shared_model()


@pytest.fixture(scope="session")
def tiny(tokenizer):
    from lab import models

    return models.tiny_model(tokenizer)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, tokenizer):
    """A tiny random Llama with the real tokenizer, saved like a model directory: every method loads it
    (QLoRA quantizes it to NF4 on load), and full fine-tuning's "before" reloads it."""
    from lab import models

    path = tmp_path_factory.mktemp("tiny-model")
    models.tiny_model(tokenizer).save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return str(path)


@pytest.fixture
def own_eval_cache(tmp_path, monkeypatch):
    """The base model's evaluations cached in this test's own folder and memory (none shared between tests)."""
    from lab import evaluation

    monkeypatch.setattr(evaluation, "CACHE_DIR", tmp_path / "eval-cache")
    monkeypatch.setattr(evaluation, "_base_cache", {})


@pytest.fixture(scope="session")
def pirate_adapter(tmp_path_factory):
    """A real LoRA adapter (peft's files) from 6 steps of ``lab.training`` on the pirate set: fp32 base, r=8.

    About 30 s, once per session. Its greedy answers differ from the base's ("Ahoy, matey! Paris, ...").
    """
    from lab import memory, training

    out = tmp_path_factory.mktemp("pirate-adapter")
    cfg = training.TrainConfig(dataset="pirate", quantization=None, r=8, alpha=16, steps=6, batch_size=4,
                               max_seq_len=96, learning_rate=3e-3, warmup_steps=0, seed=0, out_dir=str(out))
    run = training.TrainingRun(cfg)
    for _ in run.steps():
        pass
    adapter_dir = run.adapter_dir
    del run  # the run's own copy of the model
    memory.release()
    return adapter_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url():
    """The whole app, served once for the session on a free local port."""
    import app

    demo = app.build_app()
    demo.queue(default_concurrency_limit=4)
    kwargs = app.launch_kwargs()
    kwargs.update(server_name="127.0.0.1", server_port=_free_port())
    demo.launch(prevent_thread_lock=True, quiet=True, **kwargs)
    yield demo.local_url
    demo.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    """A fresh page on the app, 1400x1000, waiting until the tabs are there."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(app_url)
    pg.get_by_role("tab").first.wait_for()
    yield pg
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under artifacts/screenshots/ and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def lora_with_b(base, seed=0, **kw):
    """``base`` wrapped in LoRA (``lab.training.wrap_lora``, no quantization of its own) with B drawn from
    N(0, 0.05), in training mode: B = 0, peft's start, would leave half of the LoRA path untested."""
    from lab import training

    model = training.wrap_lora(base, training.TrainConfig(quantization=None, **kw))
    torch.manual_seed(seed)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.05)
    model.train()
    return model


@pytest.fixture()
def pirate_batch(tokenizer):
    """Four chats of the bundled pirate set packed into one row, the loss on each final reply."""
    from lab import data, masking, packing

    chats = data.load_sft_dataset("pirate")["messages"][:4]
    return packing.pack([masking.build_labels(tokenizer, c, "completion") for c in chats])
