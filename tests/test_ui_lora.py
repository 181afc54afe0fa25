"""The LoRA calculator tab: handlers without a browser, then the user's view in Chromium."""

from __future__ import annotations

import gradio as gr
import pytest
from conftest import screenshot

from lab import lora
from lab.ui import lora as ui

DEFAULTS = dict(source="Bundled", bundled="Llama-2-7B", pasted="", hub="", r=8, alpha=16,
                preset_label="q, v (LoRA paper)", picked=[], bias="none", dora=False, saved=[],
                batch=1, seq=512, gc=True, precision_label="16-bit (GPU)")


def test_calculate_shows_the_lab_count_and_all_outputs():
    summary, code, rank_fig, table, mem_fig, mem_table, note, check = ui.calculate(**DEFAULTS)
    expected = lora.count_lora_params("llama-2-7b", 8, "lora-paper")
    assert f"{expected.trainable:,}" in summary and "target_modules=['q_proj', 'v_proj']" in code
    assert list(table["module"]) == ["model.layers.*.self_attn.q_proj", "model.layers.*.self_attn.v_proj"]
    assert rank_fig.axes[0].get_xlabel() and mem_fig.axes[0].get_ylabel()
    assert list(mem_table.columns) == ["term", "Full fine-tuning", "LoRA", "QLoRA"]
    assert "Fits on a GPU" in note and check == ""  # an earlier peft check is cleared


def test_the_65b_memory_figures_in_the_tab():
    args = {**DEFAULTS, "bundled": "LLaMA-65B (QLoRA paper)", "r": 64, "preset_label": "All linear"}
    *_, mem_table, note, _ = ui.calculate(**args)
    totals = dict(zip(mem_table.columns[1:], (float(v.replace(",", "")) for v in mem_table.iloc[-1, 1:])))
    assert totals["Full fine-tuning"] > 780 and totals["QLoRA"] < 48
    assert "QLoRA: 48 GB, 80 GB" in note


def test_pick_modules_and_modules_to_save():
    args = {**DEFAULTS, "bundled": "GPT-2 (124M)", "preset_label": "Pick modules", "picked": ["c_fc", "nonsense"],
            "saved": ["wte"], "bias": "all"}
    summary, code, *_ = ui.calculate(**args)
    expected = lora.count_lora_params("gpt2", 8, ["c_fc"], "all", False, ["wte"])
    assert f"{expected.trainable:,}" in summary and "modules_to_save=['wte']" in code


def test_bad_input_becomes_a_gradio_error():
    with pytest.raises(gr.Error, match="not valid JSON"):
        ui.calculate(**{**DEFAULTS, "source": "Pasted config.json", "pasted": '{"model_type": "llama",'})
    with pytest.raises(gr.Error, match="Pick at least one module"):
        ui.calculate(**{**DEFAULTS, "preset_label": "Pick modules", "picked": []})
    with pytest.raises(gr.Error, match="alpha must be a positive number"):
        ui.calculate(**{**DEFAULTS, "alpha": 0})
    with pytest.raises(gr.Error, match="rank r must be a whole number"):
        ui.calculate(**{**DEFAULTS, "r": None})  # the number box emptied
    with pytest.raises(gr.Error, match="batch size must be"):
        ui.calculate(**{**DEFAULTS, "batch": 0})
    waiting = ui.calculate(**{**DEFAULTS, "source": "Pasted config.json", "pasted": ""})[0]
    assert "Paste a config.json" in waiting


def test_peft_check_handler_agrees():
    out = ui.peft_check("Bundled", "Phi-3-mini (3.8B)", "", "", 16, "All attention", [], "none", True, [])
    assert "Identical" in out and "peft" in out


@pytest.mark.browser
def test_lora_tab_in_the_browser(page):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="LoRA calculator").click()
    summary = page.locator("#lora-summary")
    first = lora.count_lora_params("smollm2-135m", 8, "all-linear").trainable
    expect(summary).to_contain_text(f"{first:,}", timeout=60_000)  # computed on load

    # another architecture, the LoRA paper's q and v, rank 16
    page.locator("#lora-arch input").click()
    page.get_by_role("option", name="Mistral-7B").click()
    page.get_by_label("q, v (LoRA paper)").check()
    rank_box = page.locator("#lora-rank input[type=number]")
    rank_box.fill("16")
    rank_box.press("Enter")
    expected = lora.count_lora_params("mistral-7b", 16, "lora-paper")
    expect(summary).to_contain_text(f"{expected.trainable:,}", timeout=30_000)
    expect(page.locator("#lora-table")).to_contain_text("model.layers.*.self_attn.v_proj")

    page.locator("#lora-check").click()
    check = page.locator("#lora-check-out")
    expect(check).to_contain_text("Identical", timeout=60_000)
    expect(check).to_contain_text(f"{expected.total:,}")
    expect(page.locator("#lora-memory-plot img").first).to_be_visible()
    expect(page.locator("#lora-rank-plot img").first).to_be_visible()
    screenshot(page, "lora")

    # bad input: malformed JSON gets a sentence, not a traceback
    page.get_by_label("Pasted config.json").check()
    editor = page.locator("#lora-paste .cm-content")
    editor.click()
    editor.type('{"model_type": "llama",')
    page.locator("#lora-summary").click()
    expect(page.get_by_text("not valid JSON").first).to_be_visible(timeout=30_000)


@pytest.mark.slow
def test_four_bit_button_shows_both_counts():
    out = ui.four_bit_measure(progress=lambda *a, **k: None)
    from lab.architectures import architecture

    naive, true = lora.expected_four_bit_naive("smollm2-135m"), architecture("smollm2-135m").total
    assert f"**{naive:,}**" in out and f"**{true:,}**" in out  # the naive sum and the corrected count
