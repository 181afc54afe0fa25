"""The LoRA calculator tab: handlers without a browser, then the user's view in Chromium."""

from __future__ import annotations

import json
import time

import gradio as gr
import pytest
from conftest import screenshot

from lab import architectures, lora
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
    with pytest.raises(gr.Error, match="alpha must be a number from 0.001 to 10000"):
        ui.calculate(**{**DEFAULTS, "alpha": 0})
    with pytest.raises(gr.Error, match="rank r must be a whole number"):
        ui.calculate(**{**DEFAULTS, "r": None})  # the number box emptied
    with pytest.raises(gr.Error, match="batch size must be"):
        ui.calculate(**{**DEFAULTS, "batch": 0})
    waiting = ui.calculate(**{**DEFAULTS, "source": "Pasted config.json", "pasted": ""})[0]
    assert "Paste a config.json" in waiting


def test_peft_check_handler_agrees():
    out = ui.peft_check("Bundled", "Phi-3-mini (3.8B)", "", "", 16, 16, "All attention", [], "none", True, [])
    assert "Identical" in out and "peft" in out


def test_peft_check_shows_the_alpha_of_the_input():
    """Reported: r = 64 with alpha 16 showed `lora_alpha=64` in the peft check."""
    out = ui.peft_check("Bundled", "SmolLM2-135M (the lab's model)", "", "", 64, 16, "q, v (LoRA paper)", [],
                        "none", False, [])
    assert "LoraConfig(r=64, lora_alpha=16," in out
    code = ui.calculate(**{**DEFAULTS, "r": 64, "alpha": 16})[1]
    assert "LoraConfig(r=64, lora_alpha=16," in code  # the same line as the code box above it


CHECK = dict(source="Bundled", bundled="GPT-2 (124M)", pasted="", hub="", r=8, alpha=16,
             preset_label="q, v (LoRA paper)", picked=[], bias="none", dora=False, saved=[])
BAD_NUMBERS = [float("nan"), float("inf"), "abc", 1e30, -1]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [("r", v, "The rank r must be a whole number from 1 to 1,024, not ") for v in BAD_NUMBERS + [2.5]]
    + [("alpha", v, "alpha must be a number from 0.001 to 10000, not ") for v in BAD_NUMBERS]
    + [("batch", v, "batch size must be a whole number from 1 to 4,096, not ") for v in BAD_NUMBERS + [2.5]]
    + [("seq", v, "sequence length must be a whole number from 1 to 1,048,576, not ") for v in BAD_NUMBERS + [2.5]]
    + [("precision_label", "8-bit", "weights and activations must be one of 16-bit (GPU), 32-bit"),
       ("preset_label", "everything", "Target modules must be one of q, v (LoRA paper), All attention"),
       ("bias", "some", "bias must be one of none, all, lora_only"),
       ("source", "Disk", "Architecture from must be one of Bundled, Pasted config.json, Hub id"),
       ("bundled", "GPT-5", "Bundled config must be one of GPT-2 (124M)"),
       ("picked", ["q_proj"] * 5000, "Modules holds 5,000 names; the limit is 1,000"),
       ("pasted", "x" * 300_000, "The pasted config.json is 300,000 characters long; the limit is 200,000")],
)
def test_values_outside_the_widgets_get_a_sentence(field, value, words):
    """Through the API any value reaches the handlers: each is refused with the field and its range."""
    args = {**DEFAULTS, field: value}
    if field in ("picked", "pasted"):
        args.update(preset_label="Pick modules" if field == "picked" else DEFAULTS["preset_label"],
                    source="Pasted config.json" if field == "pasted" else "Bundled")
    with pytest.raises(gr.Error) as err:
        ui.calculate(**args)
    assert words in err.value.message
    if field in CHECK:
        with pytest.raises(gr.Error) as err:
            ui.peft_check(**{**CHECK, field: value, **{k: args[k] for k in ("source", "preset_label")}})
        assert words in err.value.message


def test_pasted_text_that_is_not_json_says_so():
    """Reported: pasting YAML said "neither a bundled architecture … nor a Hub id"."""
    with pytest.raises(gr.Error) as err:
        ui.calculate(**{**DEFAULTS, "source": "Pasted config.json", "pasted": "model_type: llama"})
    assert "not valid JSON: Expecting value at line 1, column 1" in err.value.message
    assert "neither" not in err.value.message
    with pytest.raises(gr.Error, match="not valid JSON"):
        ui.calculate(**{**DEFAULTS, "source": "Pasted config.json", "pasted": "gpt2"})  # a name is not JSON


def test_pasted_config_nested_too_deeply():
    deep = '{"model_type": "llama", "rope_scaling": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(gr.Error, match="The JSON is nested more than 32 levels deep"):
        ui.calculate(**{**DEFAULTS, "source": "Pasted config.json", "pasted": deep})


def test_a_pasted_2000_layer_bart_is_refused_at_once():
    """Reported: this config kept the server busy for 193 s (4,000 layers: over 270 s)."""
    from transformers import BartConfig

    pasted = {"source": "Pasted config.json", "pasted": json.dumps({**BartConfig().to_dict(), "decoder_layers": 2000})}
    t0 = time.perf_counter()
    with pytest.raises(gr.Error) as err:
        ui.calculate(**{**DEFAULTS, **pasted})
    assert time.perf_counter() - t0 < 2.0
    assert "decoder_layers=2,000 is more layers than any real model; the calculator stops at 256." in err.value.message
    t0 = time.perf_counter()
    assert ui.peft_check(**{**CHECK, **pasted}) == ui.NOTHING_TO_CHECK  # the count reports it, once
    assert time.perf_counter() - t0 < 2.0


def test_the_offline_hub_error_is_shown_once(monkeypatch):
    """Typing a Hub id and clicking "Check with peft" fires both handlers (the box's blur, then the click):
    only the count reports the architecture's error; the check says there is nothing to check."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = {"source": "Hub id", "hub": "Qwen/Qwen2.5-7B"}
    shown = []
    for handler, args in ((ui.calculate, DEFAULTS), (ui.peft_check, CHECK)):
        try:
            out = handler(**{**args, **hub})
            shown.extend(out if isinstance(out, tuple) else [out])
        except gr.Error as e:
            shown.append(e.message)
    assert sum(str(x).count("The Hub is offline") for x in shown) == 1
    assert ui.NOTHING_TO_CHECK in shown
    picked, saved, info = ui.update_choices("Hub id", "", "", "Qwen/Qwen2.5-7B", [], [])
    assert info == ""  # the module lists are left alone, and say nothing either


def test_the_memory_chart_title_fits_in_the_figure(tmp_path):
    """Reported: on the default model the title read "emory for one training step" (clipped both sides)."""
    args = {**DEFAULTS, "bundled": architectures.DEFAULT}
    for bundled in (architectures.DEFAULT, "LLaMA-65B (QLoRA paper)"):  # one panel, and two (zoom)
        fig = ui.calculate(**{**args, "bundled": bundled})[4]
        fig.savefig(tmp_path / "memory.png")  # draws it: the title's extent is known
        title = fig._suptitle
        box = title.get_window_extent()
        assert 0 <= box.x0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height, (bundled, box)
        assert title.get_text().replace("\n", " ").startswith("Memory for one training step")
        assert bundled in title.get_text()


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

    # offline, a Hub id typed and "Check with peft" clicked at once: the error is shown once
    page.get_by_label("Hub id").check()
    page.get_by_placeholder("Qwen/Qwen2.5-7B").fill("Qwen/Qwen2.5-7B")
    page.locator("#lora-check").click()
    expect(check).to_contain_text("Nothing to check", timeout=30_000)
    offline = page.get_by_text("The Hub is offline")
    expect(offline.first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1500)
    assert offline.count() == 1


@pytest.mark.slow
def test_four_bit_button_shows_both_counts():
    out = ui.four_bit_measure(progress=lambda *a, **k: None)
    from lab.architectures import architecture

    naive, true = lora.expected_four_bit_naive("smollm2-135m"), architecture("smollm2-135m").total
    assert f"**{naive:,}**" in out and f"**{true:,}**" in out  # the naive sum and the corrected count
