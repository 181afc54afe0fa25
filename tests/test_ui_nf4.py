"""The NF4 explorer tab: handlers (no browser), then the tab in a real Chromium with a screenshot."""

from __future__ import annotations

import re

import gradio as gr
import pytest
from conftest import screenshot

from lab import nf4
from lab.ui import nf4 as ui

SYNTH = ("synthetic", 0, "q_proj", "normal", 4096, 0)


def test_explore_shows_the_block_that_bitsandbytes_would_store():
    summary, fig, header, table, slider = ui.explore(*SYNTH, "64", "nf4", False, 5)
    assert "4,096 values" in summary and "64 blocks" in summary and "4.5000" in summary
    assert "Block 5" in header and fig.axes[0].get_xlabel()
    assert len(table) == 64 and list(table["#"])[:2] == [320, 321]
    x = ui._tensor(ui.Tensor(*SYNTH), "en")[0]
    packed, _ = nf4.quantize(x, 64)
    assert list(table["byte"])[0] == f"0x{int(packed.view(-1)[160]):02X}"  # value 320 -> byte 160, high nibble
    assert slider["maximum"] == 63 and slider["value"] == 5


def test_explore_clamps_the_block_and_reports_double_quant():
    summary, _, header, table, slider = ui.explore(*SYNTH, "4096", "fp4", True, 99)
    assert slider["value"] == 0 and "FP4 + DQ" in summary and "rebuilt from its 8-bit code" in header
    assert "first 64 of 4096" in header and len(table) == 64


def test_sweep_table_and_skip_when_unchanged():
    table, fig, key = ui.sweep(*SYNTH, False, None)
    assert len(table) == 24 and set(table["type"]) == {"NF4", "FP4", "INT4"}
    assert fig.axes[0].get_ylabel().startswith("SQNR")
    again = ui.sweep(*SYNTH, False, key)
    assert again[2] == key and again[0] is not table  # gr.skip(): nothing recomputed


def test_bad_input_becomes_gr_error():
    with pytest.raises(gr.Error, match="whole number from 1"):
        ui.explore("synthetic", 0, "q_proj", "normal", 0, 0, "64", "nf4", False, 0)
    with pytest.raises(gr.Error, match="power of two"):
        ui.explore(*SYNTH, "48", "nf4", False, 0)
    with pytest.raises(gr.Error, match="model size"):
        ui.memory_for_size(-3)


BAD_NUMBERS = [float("nan"), float("inf"), "abc", 1e30, -1, 3.5]
WEIGHT = ("weight", 0, "q_proj", "normal", 4096, 0)


@pytest.mark.parametrize("bad", BAD_NUMBERS)
@pytest.mark.parametrize(
    "field,args,message",
    [
        ("layer", lambda b: (*WEIGHT[:1], b, *WEIGHT[2:], "64", "nf4", False, 0), "The layer must be a whole number from 0 to 29, not "),
        ("size", lambda b: (*SYNTH[:4], b, 0, "64", "nf4", False, 0),
         "The number of values \\(synthetic\\) must be a whole number from 1 to 16,777,216, not "),
        ("seed", lambda b: (*SYNTH[:5], b, "64", "nf4", False, 0),
         "The seed \\(synthetic\\) must be a whole number from 0 to 4,294,967,295, not "),
        ("block size", lambda b: (*SYNTH, b, "nf4", False, 0), "The block size must be a whole number from 32 to 4,096, not "),
        ("block", lambda b: (*SYNTH, "64", "nf4", False, b), "The block to zoom into must be a whole number from 0 to "),
    ],
    ids=["layer", "size", "seed", "blocksize", "block"],
)
def test_explore_refuses_bad_numbers_with_the_field_and_range(field, args, message, bad):
    with pytest.raises(gr.Error, match=message):
        ui.explore(*args(bad))


@pytest.mark.parametrize("bad", BAD_NUMBERS[:5] + [0])
def test_sweep_memory_and_loss_refuse_bad_numbers(bad):
    with pytest.raises(gr.Error, match="The number of values \\(synthetic\\) must be a whole number from 1"):
        ui.sweep(*SYNTH[:4], bad, 0, False, None)
    with pytest.raises(gr.Error, match="The model size \\(billions of parameters\\) must be a number from 0.001 to 10000"):
        ui.memory_for_size(bad)
    with pytest.raises(gr.Error, match="The number of dataset rows must be a whole number from 1 to 32, not "):
        ui.compare_losses(bad, progress=lambda *a, **k: None)


def test_source_shows_only_its_own_inputs():
    layer, module, kind, size, seed = ui._source_inputs("weight")
    assert layer["visible"] and module["visible"] and not (kind["visible"] or size["visible"] or seed["visible"])
    layer, module, kind, size, seed = ui._source_inputs("synthetic")
    assert not (layer["visible"] or module["visible"]) and kind["visible"] and size["visible"] and seed["visible"]


@pytest.mark.browser
def test_nf4_tab_on_arrival_and_the_block_number(page):
    page.get_by_role("tab", name="NF4 explorer").click()
    summary = page.locator("#nf4-summary")
    summary.get_by_text("model.layers.0.self_attn.q_proj.weight").wait_for(timeout=90_000)  # nobody pressed
    page.wait_for_function("() => document.querySelector('#nf4-sweep-table').innerText.includes('INT4')",
                           timeout=120_000)  # the comparison follows the answer
    assert page.locator("#nf4-layer").is_visible() and not page.locator("#nf4-size").is_visible()
    page.locator("#nf4-levels").scroll_into_view_if_needed()
    screenshot(page, "nf4_arrival")
    # the block number: type + Enter, then an arrow key, each answers
    box = page.locator("#nf4-block input[type='number']")
    box.fill("12")
    box.press("Enter")
    page.locator("#nf4-block-header").get_by_text("Block 12 of").wait_for(timeout=60_000)
    page.locator("#nf4-block input[type='range']").press("ArrowRight")
    page.locator("#nf4-block-header").get_by_text("Block 13 of").wait_for(timeout=60_000)
    # a synthetic tensor shows its own inputs and hides the layer's
    page.locator("#nf4-source").get_by_text("Synthetic").click()
    page.locator("#nf4-size").wait_for()
    summary.get_by_text("synthetic normal tensor").wait_for(timeout=60_000)
    assert not page.locator("#nf4-layer").is_visible() and page.locator("#nf4-seed").is_visible()


@pytest.mark.browser
def test_nf4_tab_in_the_browser(page):
    page.get_by_role("tab", name="NF4 explorer").click()
    page.locator("#nf4-levels").wait_for()
    page.locator("#nf4-run").click()
    summary = page.locator("#nf4-summary")
    summary.get_by_text("model.layers.0.self_attn.q_proj.weight").wait_for(timeout=90_000)
    assert "331,776 values" in summary.inner_text()
    # change something: block size 256 -> the summary and the block zoom follow
    page.get_by_label("Block size").click()
    page.get_by_role("option", name="256", exact=True).click()
    summary.get_by_text("blocks of 256").wait_for(timeout=60_000)
    assert "1,296 blocks" in summary.inner_text()
    assert "first 64 of 256" in page.locator("#nf4-block-header").inner_text()
    # the comparison across block sizes arrives after the answer
    page.get_by_text("SQNR (dB)").first.wait_for(timeout=120_000)
    screenshot(page, "nf4")
    assert "33.5" in page.locator("#nf4-size-table").inner_text()  # 65B at 4.127 bits per weight


@pytest.mark.browser
@pytest.mark.slow
def test_nf4_tab_memory_and_loss_on_the_real_model(page):
    """The two buttons that load the bundled model in 4 bits through bitsandbytes."""
    page.get_by_role("tab", name="NF4 explorer").click()
    # the loss first: running the 4-bit model must not change what the memory measurement finds
    page.locator("#nf4-loss").click()
    table = page.locator("#nf4-loss-table")
    # real progress while it runs (its text names the models too), then the table: fp32's Δ is +0.0000
    table.get_by_text(re.compile(r"Loading: full precision|Scoring row \d of 4")).first.wait_for(timeout=60_000)
    page.wait_for_function("() => document.querySelector('#nf4-loss-table').innerText.includes('+0.0000')",
                           timeout=240_000)
    assert "NF4 + DQ via bitsandbytes" in table.inner_text() and "%" not in table.inner_text()
    page.locator("#nf4-measure").click()
    bundled = page.locator("#nf4-bundled-table")
    bundled.get_by_text("measured: bitsandbytes tensors").wait_for(timeout=180_000)
    assert "Linear layers" in page.locator("body").inner_text()
    text = bundled.inner_text()
    assert "4.127" in text.split("NF4 + double quant")[-1], text  # the measured row, double quantization kept
    page.locator("#nf4-loss-table").scroll_into_view_if_needed()
    screenshot(page, "nf4_model")
