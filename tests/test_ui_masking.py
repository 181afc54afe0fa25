"""The SFT masking tab in a real Chromium: pick an example and a mode, see the strip, the numbers
and the failure drill; a bad pasted chat gives a plain message; screenshot."""

from __future__ import annotations

import re

import gradio as gr
import pytest
from conftest import screenshot

from lab import masking, models
from lab.ui import masking as ui


def _pick(page, elem_id: str, option: str):
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).click()


@pytest.mark.browser
def test_masking_tab_strip_numbers_and_drill(page):
    page.get_by_role("tab", name="SFT masking").click()
    _pick(page, "mk-example", "Multi-turn chat + system prompt")
    page.locator("#mk-mode").get_by_text("assistant — every assistant turn").click()
    page.locator("#mk-go").click()

    numbers = page.locator("#mk-numbers")
    numbers.get_by_text("mean loss without masking").wait_for()
    # wait for the second answer: the model's losses replace the "…" placeholders
    page.wait_for_function(
        "() => { const t = document.querySelector('#mk-numbers').innerText; return !t.includes('…'); }",
        timeout=90_000,
    )
    text = numbers.inner_text()
    values = [float(v.replace(",", "")) for v in re.findall(r"^\s*([\d.,]+)%?\s*$", text, flags=re.M)]
    total, trained = int(values[0]), int(values[1])
    assert 50 < total < 200 and 0 < trained < total
    masked_loss, full_loss = values[2], values[3]
    assert 0 < masked_loss < 20 and 0 < full_loss < 20

    strip = page.locator("#mk-strip")
    assert "<|im_start|>" in strip.inner_text()
    assert strip.locator(".mk-masked").count() > 0
    coloured = strip.locator(".mk-strip .mk-tok[style*='background']")  # not the legend
    assert coloured.count() == trained  # one coloured box per trained token
    title = coloured.first.get_attribute("title")
    assert "label" in title and "loss" in title

    drill = page.locator("#mk-drill")
    drill.get_by_text("supervised tokens, string search (not found)").wait_for()
    assert drill.locator(".mk-card.bad .v").inner_text().strip() == "0"
    page.locator("#mk-drill").scroll_into_view_if_needed()
    screenshot(page, "masking")


@pytest.mark.browser
def test_masking_tab_bad_json_gets_a_message(page):
    page.get_by_role("tab", name="SFT masking").click()
    _pick(page, "mk-example", "Paste a chat as JSON")
    editor = page.locator("#mk-json .cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("[{'role': 'user'}]")
    page.locator("#mk-go").click()
    page.get_by_text("not valid JSON").first.wait_for(timeout=30_000)


def _show(**kw):
    args = dict(choice=ui.OWN, row=1, prompt="What is SFT?", response="Fine-tuning on pairs.", system="",
                chat_json="", mode="completion", model_choice="bundled", template="### Response:")
    args.update(kw)
    return list(ui.show(*args.values()))


def test_handler_answers_first_without_then_with_losses():
    first, second = _show()
    assert "…" in first[0] and "…" not in second[0]
    assert "mk-pending" in first[2] and "mk-pending" not in second[2]
    rows = second[3]
    assert rows[0][4] is None and all(r[4] is not None for r in rows[1:])  # nothing predicts token 0
    assert [r[3] for r in rows].count(masking.IGNORE_INDEX) > 0


@pytest.mark.parametrize(
    "kw,match",
    [(dict(response="  "), "empty"), (dict(prompt=""), "prompt is empty"),
     (dict(choice=ui.JSON_CHOICE, chat_json='[{"role": "user", "content": "hi"}]'), "no assistant message"),
     (dict(template=""), "response template")],
)
def test_handler_bad_input_is_a_gr_error(kw, match):
    with pytest.raises(gr.Error, match=match):
        _show(**kw)


def test_long_response_truncated_with_notice():
    first, _ = _show(response="Arr! " * 10_100)  # 50,500 characters
    assert "cut to the first 50,000" in first[1] and "only the first 512" in first[1]


def test_base_checkpoint_toggle(monkeypatch):
    """With LAB_MODEL set, the tab offers it beside the bundled model (here LAB_MODEL points at the
    bundled directory itself: the only checkpoint available offline)."""
    local = models.bundled_model_dir()
    monkeypatch.setenv("LAB_MODEL", str(local))
    assert [v for _, v in ui.model_choices()] == ["bundled", "base"]
    assert ui._model_name("bundled") == str(local) and ui._model_name("base") is None
    a = _show(model_choice="bundled")[-1]
    b = _show(model_choice="base")[-1]
    assert a[0] == b[0]  # same weights, same numbers
    monkeypatch.delenv("LAB_MODEL")
    assert len(ui.model_choices()) == 1
    with pytest.raises(gr.Error, match="LAB_MODEL"):
        _show(model_choice="base")
