"""The SFT masking tab in a real Chromium: pick an example and a mode, see the strip, the numbers
and the failure drill; a bad pasted chat gives a plain message; screenshot."""

from __future__ import annotations

import re

import pytest
from conftest import screenshot

pytestmark = pytest.mark.browser


def _pick(page, elem_id: str, option: str):
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).click()


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


def test_masking_tab_bad_json_gets_a_message(page):
    page.get_by_role("tab", name="SFT masking").click()
    _pick(page, "mk-example", "Paste a chat as JSON")
    editor = page.locator("#mk-json .cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("[{'role': 'user'}]")
    page.locator("#mk-go").click()
    page.get_by_text("not valid JSON").first.wait_for(timeout=30_000)
