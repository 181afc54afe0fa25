"""The LoRA calculator tab: handlers without a browser, then the user's view in Chromium."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict

import gradio as gr
import pytest
from conftest import screenshot

from lab import lora
from lab.lora import architectures
from lab.ui import lora as ui
from lab.ui.i18n import t

DEFAULTS = asdict(ui.Settings(bundled="llama-2-7b", preset="lora-paper"))
CHECK = {k: v for k, v in DEFAULTS.items() if k in ui.Settings.names()[:ui.Settings.ADAPTER]}


def test_calculate_shows_the_lab_count_and_all_outputs():
    summary, code, rank_fig, table, mem_fig, mem_table, note, check, kept = ui.calculate(**DEFAULTS)
    expected = lora.count_lora_params("llama-2-7b", 8, "lora-paper")
    assert f"{expected.trainable:,}" in summary and "target_modules=['q_proj', 'v_proj']" in code
    assert list(table["module"]) == ["model.layers.*.self_attn.q_proj", "model.layers.*.self_attn.v_proj"]
    assert rank_fig.axes[0].get_xlabel() and mem_fig.axes[0].get_ylabel()
    assert list(mem_table.columns) == ["term", "Full fine-tuning", "LoRA", "QLoRA"]
    assert "Fits on a GPU" in note and check == "" and kept is None  # an earlier peft check is cleared


def test_choices_are_values_and_their_labels_are_translated():
    assert [v for _, v in ui.PRESET_CHOICES] == ["lora-paper", "attention", "all-linear", "pick"]
    assert [v for _, v in ui.SOURCE_CHOICES] == ["bundled", "pasted", "hub"]
    assert [v for _, v in ui.bundled_choices("vi")] == architectures.bundled_names()
    assert ("SmolLM2-135M (the lab's model)", "smollm2-135m") in ui.bundled_choices("en")
    assert ("LLaMA-65B (bài báo QLoRA)", "llama-65b") in ui.bundled_choices("vi")


def test_the_65b_memory_figures_in_the_tab():
    args = {**DEFAULTS, "bundled": "llama-65b", "r": 64, "preset": "all-linear"}
    *_, mem_table, note, _, _ = ui.calculate(**args)
    totals = dict(zip(mem_table.columns[1:], (float(v.replace(",", "")) for v in mem_table.iloc[-1, 1:])))
    assert totals["Full fine-tuning"] > 780 and totals["QLoRA"] < 48
    assert "QLoRA: 48 GB, 80 GB" in note


def test_pick_modules_and_modules_to_save():
    args = {**DEFAULTS, "bundled": "gpt2", "preset": "pick", "picked": ["c_fc", "nonsense"], "saved": ["wte"],
            "bias": "all"}
    summary, code, *_ = ui.calculate(**args)
    expected = lora.count_lora_params("gpt2", 8, ["c_fc"], "all", False, ["wte"])
    assert f"{expected.trainable:,}" in summary and "modules_to_save=['wte']" in code


def test_bad_input_becomes_a_gradio_error():
    with pytest.raises(gr.Error, match="not valid JSON"):
        ui.calculate(**{**DEFAULTS, "source": "pasted", "pasted": '{"model_type": "llama",'})
    with pytest.raises(gr.Error, match="Pick at least one module"):
        ui.calculate(**{**DEFAULTS, "preset": "pick", "picked": []})
    with pytest.raises(gr.Error, match="alpha must be a number from 0.001 to 10000"):
        ui.calculate(**{**DEFAULTS, "alpha": 0})
    with pytest.raises(gr.Error, match="rank r must be a whole number"):
        ui.calculate(**{**DEFAULTS, "r": None})  # the number box emptied
    with pytest.raises(gr.Error, match="batch size must be"):
        ui.calculate(**{**DEFAULTS, "batch": 0})
    waiting = ui.calculate(**{**DEFAULTS, "source": "pasted", "pasted": ""})[0]
    assert "Paste a config.json" in waiting


def test_peft_check_handler_agrees():
    out, kept = ui.peft_check("bundled", "phi-3-mini", "", "", 16, 16, "attention", [], "none", True, [])
    assert "Identical" in out and "peft" in out and kept["ours"] == kept["theirs"]


def test_peft_check_shows_the_alpha_of_the_input():
    """Reported: r = 64 with alpha 16 showed `lora_alpha=64` in the peft check."""
    out, _ = ui.peft_check("bundled", "smollm2-135m", "", "", 64, 16, "lora-paper", [], "none", False, [])
    assert "LoraConfig(r=64, lora_alpha=16," in out
    code = ui.calculate(**{**DEFAULTS, "r": 64, "alpha": 16})[1]
    assert "LoraConfig(r=64, lora_alpha=16," in code  # the same line as the code box above it


BAD_NUMBERS = [float("nan"), float("inf"), "abc", 1e30, -1]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [("r", v, "The rank r must be a whole number from 1 to 1,024, not ") for v in BAD_NUMBERS + [2.5]]
    + [("alpha", v, "alpha must be a number from 0.001 to 10000, not ") for v in BAD_NUMBERS]
    + [("batch", v, "batch size must be a whole number from 1 to 4,096, not ") for v in BAD_NUMBERS + [2.5]]
    + [("seq", v, "sequence length must be a whole number from 1 to 1,048,576, not ") for v in BAD_NUMBERS + [2.5]]
    + [("precision", "8-bit", "weights and activations must be one of 16, 32, not '8-bit'"),
       ("preset", "everything", "Target modules must be one of lora-paper, attention, all-linear, pick"),
       ("bias", "some", "bias must be one of none, all, lora_only"),
       ("source", "Disk", "Architecture from must be one of bundled, pasted, hub"),
       ("bundled", "GPT-5", "Bundled config must be one of gpt2, smollm2-135m"),
       ("picked", ["q_proj"] * 5000, "Modules holds 5,000 names; the limit is 1,000"),
       ("pasted", "x" * 300_000, "The pasted config.json is 300,000 characters long; the limit is 200,000")],
)
def test_values_outside_the_widgets_get_a_sentence(field, value, words):
    """Through the API any value reaches the handlers: each is refused with the field and its range."""
    args = {**DEFAULTS, field: value}
    if field in ("picked", "pasted"):
        args.update(preset="pick" if field == "picked" else DEFAULTS["preset"],
                    source="pasted" if field == "pasted" else "bundled")
    with pytest.raises(gr.Error) as err:
        ui.calculate(**args)
    assert words in err.value.message
    if field in CHECK:
        with pytest.raises(gr.Error) as err:
            ui.peft_check(**{**CHECK, field: value, **{k: args[k] for k in ("source", "preset")}})
        assert words in err.value.message


def test_pasted_text_that_is_not_json_says_so():
    """Reported: pasting YAML said "neither a bundled architecture … nor a Hub id"."""
    with pytest.raises(gr.Error) as err:
        ui.calculate(**{**DEFAULTS, "source": "pasted", "pasted": "model_type: llama"})
    assert "not valid JSON: Expecting value at line 1, column 1" in err.value.message
    assert "neither" not in err.value.message
    with pytest.raises(gr.Error, match="not valid JSON"):
        ui.calculate(**{**DEFAULTS, "source": "pasted", "pasted": "gpt2"})  # a name is not JSON


def test_pasted_config_nested_too_deeply():
    deep = '{"model_type": "llama", "rope_scaling": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(gr.Error, match="The JSON is nested more than 32 levels deep"):
        ui.calculate(**{**DEFAULTS, "source": "pasted", "pasted": deep})


def test_a_pasted_2000_layer_bart_is_refused_at_once():
    """Reported: this config kept the server busy for 193 s (4,000 layers: over 270 s)."""
    from transformers import BartConfig

    pasted = {"source": "pasted", "pasted": json.dumps({**BartConfig().to_dict(), "decoder_layers": 2000})}
    t0 = time.perf_counter()
    with pytest.raises(gr.Error) as err:
        ui.calculate(**{**DEFAULTS, **pasted})
    assert time.perf_counter() - t0 < 2.0
    assert "decoder_layers=2,000 is more layers than any real model; the calculator stops at 256." in err.value.message
    t0 = time.perf_counter()
    assert ui.peft_check(**{**CHECK, **pasted}) == (t("lora.check.nothing"), ui.NOTHING)  # the count reports it
    assert time.perf_counter() - t0 < 2.0


def test_the_offline_hub_error_is_shown_once(monkeypatch):
    """Typing a Hub id and clicking "Check with peft" fires both handlers (the box's blur, then the click):
    only the count reports the architecture's error; the check says there is nothing to check."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = {"source": "hub", "hub": "Qwen/Qwen2.5-7B"}
    shown = []
    for handler, args in ((ui.calculate, DEFAULTS), (ui.peft_check, CHECK)):
        try:
            out = handler(**{**args, **hub})
            shown.extend(out if isinstance(out, tuple) else [out])
        except gr.Error as e:
            shown.append(e.message)
    assert sum(str(x).count("The Hub is offline") for x in shown) == 1
    assert t("lora.check.nothing") in shown
    picked, saved, info = ui.update_choices("hub", "", "", "Qwen/Qwen2.5-7B", [], [])
    assert info == ""  # the module lists are left alone, and say nothing either


def test_the_memory_chart_title_fits_in_the_figure(tmp_path):
    """Reported: on the default model the title read "emory for one training step" (clipped both sides)."""
    args = {**DEFAULTS, "bundled": architectures.DEFAULT}
    for bundled in (architectures.DEFAULT, "llama-65b"):  # one panel, and two (zoom)
        fig = ui.calculate(**{**args, "bundled": bundled})[4]
        fig.savefig(tmp_path / "memory.png")  # draws it: the title's extent is known
        title = fig._suptitle
        box = title.get_window_extent()
        assert 0 <= box.x0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height, (bundled, box)
        assert title.get_text().replace("\n", " ").startswith("Memory for one training step")
        assert architectures.BUNDLED[bundled] in title.get_text()


def test_the_tab_in_vietnamese():
    """Outputs and errors in the user's language; numbers, code and module names as they are."""
    summary, code, rank_fig, table, mem_fig, mem_table, note, *_ = ui.calculate(**DEFAULTS, lang="vi")
    expected = lora.count_lora_params("llama-2-7b", 8, "lora-paper")
    assert "Tham số huấn luyện được" in summary and f"{expected.trainable:,}" in summary
    assert "target_modules=['q_proj', 'v_proj']" in code
    assert list(table.columns)[:2] == ["lớp", "vai trò"] and list(table["lớp"])[0] == "model.layers.*.self_attn.q_proj"
    assert list(mem_table.columns) == ["thành phần", "Tinh chỉnh toàn bộ", "LoRA", "QLoRA"]
    assert "Vừa với GPU (GB)" in note and "Fits" not in note
    assert rank_fig.axes[0].get_xlabel() == "hạng r của LoRA (thang log)"
    assert mem_fig._suptitle.get_text().startswith("Bộ nhớ cho một bước huấn luyện")
    with pytest.raises(gr.Error) as err:
        ui.calculate(**{**DEFAULTS, "r": 0}, lang="vi")
    assert err.value.message == "Hạng r phải là số nguyên từ 1 đến 1,024, không phải 0."
    with pytest.raises(gr.Error) as err:
        ui.calculate(**{**DEFAULTS, "source": "pasted", "pasted": '{"model_type": "llama",'}, lang="vi")
    assert err.value.message == ("config.json đã dán không phải JSON hợp lệ: tên thuộc tính phải nằm trong dấu "
                                 "ngoặc kép ở dòng 1, cột 24.")
    with pytest.raises(gr.Error, match="Hãy chọn ít nhất một lớp của Llama-2-7B"):
        ui.calculate(**{**DEFAULTS, "preset": "pick", "picked": []}, lang="vi")
    with pytest.raises(gr.Error) as err:
        ui.calculate(**{**DEFAULTS, "batch": 0}, lang="vi")
    assert err.value.message == "Kích thước lô phải là số nguyên từ 1 đến 4,096, không phải 0."
    assert "lớp đầu ra `lm_head`" in ui.update_choices("bundled", "gpt2", "", "", [], [], "vi")[2]


def _numbers(text: str) -> list[str]:
    return sorted(re.findall(r"\d[\d,.]*\d|\d", text))


def test_a_language_switch_rerenders_the_same_numbers():
    """The rerender gives every output again in the other language, from the inputs and what is kept:
    the same numbers, other words (the peft check and the 4-bit counts are not run again)."""
    settings = asdict(ui.Settings(bundled="gpt2", r=16, preset="attention", bias="all", saved=["wte"]))
    _, checked = ui.peft_check(**{k: settings[k] for k in CHECK})
    four = (lora.FourBitCount(naive=81_430_848, true=134_515_008, packed_naive=53_084_160, packed_true=106_168_320,
                              packed_tensors=210), 134_515_008)
    outputs = {lang: ui.rerender(lang, *settings.values(), checked, four) for lang in ("en", "vi")}
    en, vi = outputs["en"], outputs["vi"]
    for i in (0, 2, 3, 8, 9, 10):  # info, summary, code, memory note, peft check, 4-bit counts
        assert _numbers(en[i]) == _numbers(vi[i]), i
    for i in (0, 2, 8, 9, 10):
        assert en[i] != vi[i], i
    assert en[3] == vi[3]  # the code is code
    for i in (5, 7):  # module table, memory table: same cells, translated headers
        assert (en[i].values[:, 2:] == vi[i].values[:, 2:]).all() and list(en[i].columns) != list(vi[i].columns)
    assert "Trùng khớp" in vi[9] and "Identical" in en[9]
    assert "**81,430,848**" in vi[10] and "Phép cộng ngây thơ" in vi[10]
    assert [label for label, _ in vi[1]["choices"]] != [label for label, _ in en[1]["choices"]]
    # nothing kept yet: nothing to say; a value still being typed: what is on screen stays
    assert ui.rerender("vi", *settings.values(), None, None)[9:] == ("", "")
    stale = ui.rerender("vi", *{**settings, "r": "abc"}.values(), None, None)
    assert stale[0] == stale[2] == gr.skip() and stale[9:] == ("", "")


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


@pytest.mark.browser
def test_lora_tab_switches_language_and_keeps_everything(page):
    """A switch to Vietnamese re-texts the inputs and re-renders the answer and the peft check (not run again);
    the chosen preset, rank and architecture stay."""
    from playwright.sync_api import expect

    page.get_by_role("tab", name="LoRA calculator").click()
    summary, check = page.locator("#lora-summary"), page.locator("#lora-check-out")
    page.get_by_label("q, v (LoRA paper)").check()
    rank_box = page.locator("#lora-rank input[type=number]")
    rank_box.fill("32")
    rank_box.press("Enter")
    expected = lora.count_lora_params("smollm2-135m", 32, "lora-paper")
    expect(summary).to_contain_text(f"{expected.trainable:,}", timeout=60_000)
    page.locator("#lora-check").click()
    expect(check).to_contain_text("Identical", timeout=60_000)
    page.locator("#lab-lang").get_by_text("Tiếng Việt").click()
    expect(summary).to_contain_text("Tham số huấn luyện được", timeout=30_000)
    expect(summary).to_contain_text(f"{expected.trainable:,}")
    expect(check).to_contain_text("Trùng khớp")
    expect(page.get_by_label("q, v (bài báo LoRA)")).to_be_checked()
    expect(rank_box).to_have_value("32")
    expect(page.locator("#lora-arch input")).to_have_value("SmolLM2-135M (mô hình của lab)")
    expect(page.locator("#lora-memory-note")).to_contain_text("Vừa với GPU (GB)")
    screenshot(page, "lora_vi")


@pytest.mark.slow
def test_four_bit_button_shows_both_counts():
    out, _ = ui.four_bit_measure(progress=lambda *a, **k: None)
    from lab.lora.architectures import architecture

    naive, true = lora.expected_four_bit_naive("smollm2-135m"), architecture("smollm2-135m").total
    assert f"**{naive:,}**" in out and f"**{true:,}**" in out  # the naive sum and the corrected count
