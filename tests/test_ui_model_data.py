"""The Model & data tab in a real Chromium: tabs visible, one chat, dataset browser, screenshot."""

from __future__ import annotations

import pytest
from conftest import screenshot

pytestmark = pytest.mark.browser


def test_model_data_tab_chat_and_dataset(page):
    tabs = page.get_by_role("tab")
    assert tabs.first.inner_text().strip() == "Model & data"
    # the dataset browser fills itself on load: counts table and the chat-formatted row
    page.get_by_text("Pirate assistant").first.wait_for()
    assert "<|im_start|>" in page.locator("body").inner_text()

    page.locator("#chat-input textarea").fill("What is the capital of France?")
    page.locator("#chat-send").click()
    page.locator("#chatbot").get_by_text("Paris").first.wait_for(timeout=90_000)
    screenshot(page, "model_data")
