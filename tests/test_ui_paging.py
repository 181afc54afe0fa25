"""The paged-optimizer panel: handlers on the calculator's ledgers of the bundled model (no training), the
measurement's progress and the panel's wiring, then the panel in a real Chromium on real measurements."""

from __future__ import annotations

import re

import gradio as gr
import pytest
from conftest import screenshot

from lab import paging
from lab.ui import i18n
from lab.ui import paging as ui

MB = 1e6


@pytest.fixture(scope="module")
def ledgers():
    """The calculator's ledgers of SmolLM2-135M trained as the panel measures it (r=16, one step of 1,024
    tokens, no gradient checkpointing, full fine-tuning in fp32): the same states as the real model's
    (peft's counts), built in a blink."""
    return {m: paging.estimate_ledger("smollm2-135m", m, r=16, seq_len=128, spike_seq_len=1024, points=4,
                                      gradient_checkpointing=False, precision=32 if m == "full" else 16)
            for m in paging.METHODS}


@pytest.fixture(scope="module")
def kept(ledgers):
    return ui.Measured(ledgers, 12.0, cached=False, config=paging.TimelineConfig())


def numbers(text: str) -> list[str]:
    return re.findall(r"\d[\d,.]*\d|\d", text)


def test_gpu_slider_spans_the_ledgers_and_starts_below_full_fine_tunings_spike(ledgers):
    lo, hi, default = ui.gpu_range(ledgers)
    full = ledgers["full"]
    assert lo * MB < min(paging.min_capacity(led, True) for led in ledgers.values())
    assert hi * MB > max(led.peak().total for led in ledgers.values())
    assert paging.min_capacity(full, True) <= default * MB < paging.min_capacity(full, False)
    assert lo % 100 == hi % 100 == default % ui.GPU_STEP_MB == 0


def test_the_replay_across_the_oom_point(kept, ledgers):
    lo, hi, default = ui.gpu_range(ledgers)
    fig, text, moves, shown = ui.replay_view(kept, "full", default, 25)
    assert shown == ui.Shown("full", default, 25)
    without, paged = text.split("\n\n")[:2]
    assert without.startswith("**Without paging:** Out of memory at step 2")
    assert "The run finishes" in paged and "optimizer-state tensors" in paged
    assert "A simulation built from the calculator's estimate" in text
    assert len(moves) > 0 and set(moves["moved"]) == {"to CPU RAM (evicted)", "back to the GPU (prefetched)"}
    assert all(name.endswith((".exp_avg", ".exp_avg_sq")) for name in moves["state tensor"])
    top, bottom = fig.axes[:2]
    assert "out of memory" in [t.get_text() for t in top.get_legend().get_texts()]
    # above the peak: no out-of-memory mark, nothing moves
    fig, text, moves, _ = ui.replay_view(kept, "full", hi, 25)
    assert "**Without paging:** The run fits" in text and "never evicted" in text
    assert list(moves["state tensor"]) == ["–"]  # the placeholder
    assert "out of memory" not in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_bandwidth_sets_the_time_the_moves_cost(kept, ledgers):
    default = ui.gpu_range(ledgers)[2]
    slow = ui.replay_view(kept, "full", default, 5)[2]
    fast = ui.replay_view(kept, "full", default, 50)[2]
    assert list(slow["MB"]) == list(fast["MB"])
    ms = lambda df: sum(float(x) for x in df["time (ms)"])  # noqa: E731
    assert ms(slow) == pytest.approx(10 * ms(fast), rel=1e-2)


def test_lora_pages_nothing_at_rank_16(kept, ledgers):
    timeline, note, fig, text, moves, shown = ui.show_method(kept, "lora", ui.gpu_range(ledgers)[1], 25)
    assert shown.method == "lora"
    assert "Nothing is paged: none of the 840 optimizer-state tensors reaches 100,000 elements" in text
    assert timeline.axes[0].get_title() == "Memory during training: LoRA, SmolLM2-135M"
    assert "Built from the calculator's estimate" in note


def test_facts_say_what_the_rule_means_per_method(ledgers):
    text = ui.facts_text(ledgers, "en")
    assert "**Full fine-tuning** — 422 of 544 optimizer-state tensors reach 100,000 elements" in text
    assert "**LoRA** — None of the 840" in text and "**QLoRA** — None of the 840" in text
    fig = ui.states_figure(ledgers, "vi")
    assert fig.axes[0].get_title() == i18n.t("paging.fig.states.title", "vi")


def test_measure_reports_progress_and_shows_full_fine_tuning(monkeypatch, ledgers):
    calls, seen = [], {}

    def fake_timelines(config, methods, on_progress=None, paged=False):
        seen["paged"] = paged
        for m in methods:
            for s in range(1, config.steps + 1):
                on_progress(m, s, config.steps)
        return dict(ledgers)

    monkeypatch.setattr(ui.paging, "timelines", fake_timelines)
    out = ui.measure("full", 25, "en", progress=lambda f, desc=None: calls.append((f, desc)))
    kept, status, ready, results, timeline, note, slider, fig, text, moves, facts, states, shown = out
    assert isinstance(kept, ui.Measured) and not kept.cached
    assert ready["visible"] is False and results["visible"] is True
    assert seen["paged"] is (ui.models.device().type == "cuda")
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[0] == 0 and fractions[-1] == 1
    assert calls[0][1] == "Loading the model for Full fine-tuning…"
    assert "Full fine-tuning: step 1 of 3 measured" in [d for _, d in calls]
    assert "Loading the model for LoRA…" in [d for _, d in calls]
    assert status.startswith("Measured in") and "3 methods x 3 steps" in status
    lo, hi, default = ui.gpu_range(ledgers)
    assert (slider["minimum"], slider["maximum"], slider["value"]) == (lo, hi, default)
    assert shown == ui.Shown("full", default, 25)  # what a language switch re-renders
    assert "Out of memory" in text and "Full fine-tuning" in timeline.axes[0].get_title()


def test_measured_ledger_note_checks_the_ledger_against_process_memory(tokenizer):
    from lab import models

    cfg = paging.TimelineConfig(method="lora", r=4, steps=2, spike_step=2, max_seq_len=64, spike_seq_len=256)
    ledger = paging.measure_ledger(cfg, tokenizer=tokenizer, base_model=models.tiny_model(tokenizer))
    note = ui.ledger_note(ledger, "en")
    assert "Measured on this machine (cpu) with tensor hooks; process memory is the RSS" in note
    assert "ledger / process =" in note and "**2 (the long batch): 256 tokens**" in note
    vi = ui.ledger_note(ledger, "vi")
    assert "sổ ghi / tiến trình =" in vi and "(lô chuỗi dài)" in vi
    assert numbers(vi) == numbers(note)


def test_the_handlers_speak_vietnamese(kept, ledgers):
    default = ui.gpu_range(ledgers)[2]
    fig, text, moves, _ = ui.replay_view(kept, "full", default, 25, "vi")
    assert "**Không phân trang:** Tràn bộ nhớ ở bước 2 (truyền xuôi" in text
    assert "Với bộ tối ưu phân trang" in text and "Mô phỏng dựng từ ước tính của máy tính bộ nhớ" in text
    assert "tensor trạng thái" in moves.columns and "sang RAM của CPU (bị đẩy ra)" in set(moves["chuyển"])
    assert fig.axes[0].get_title() == "Không phân trang"
    with pytest.raises(gr.Error, match=r"Bộ nhớ GPU \(MB\) phải là một số từ 1 đến"):
        ui.replay_view(kept, "full", "abc", 25, "vi")
    with pytest.raises(gr.Error, match="Hãy đo trước"):
        ui.replay_view(None, "full", default, 25, "vi")
    with pytest.raises(gr.Error, match=r"Phương pháp huấn luyện phải là một trong: full, lora, qlora"):
        ui.show_method(kept, "dora", default, 25, "vi")


def test_rerender_gives_the_same_results_in_the_other_language(kept, ledgers):
    default = ui.gpu_range(ledgers)[2]
    shown = ui.replay_view(kept, "full", default, 25)[-1]
    en = ui.rerender("en", kept, shown)
    vi = ui.rerender("vi", kept, shown)
    status, timeline, note, fig, text, moves, facts, states = range(8)
    for i in (status, note, text, facts):
        assert en[i] != vi[i] and numbers(en[i]) == numbers(vi[i]), (i, en[i], vi[i])
    assert list(en[moves].iloc[:, 4]) == list(vi[moves].iloc[:, 4])  # the MB column
    assert list(en[moves].columns) != list(vi[moves].columns)
    assert en[timeline].axes[0].get_xlabel() == "time (steps)" and vi[timeline].axes[0].get_xlabel() == "thời gian (bước)"
    # nothing measured yet: the outputs left as they are (the switch re-texts the "ready" note)
    empty = ui.rerender("vi", None, None)
    assert all(isinstance(x, dict) and x.get("__type__") == "update" for x in empty[:5])  # gr.skip()


def test_llama65b_on_48gb_needs_no_measurement():
    fig, text = ui.big_view("en")
    ledger, without, paged, longest = ui.big_case()
    assert not without.finished and paged.finished
    assert "**Without paging:** Out of memory at step 2" in text and "**With a paged optimizer:** The run finishes" in text
    assert f"**{longest[False]:,} tokens** without paging, **{longest[True]:,} tokens** with a paged optimizer" in text
    assert longest[True] > 2 * longest[False]
    assert fig._suptitle.get_text() == "Simulation: the same steps on a 48.00 GB GPU"
    vi = ui.big_view("vi")[1]
    assert numbers(vi) == numbers(text) and "Tràn bộ nhớ" in vi


def test_event_labels_and_phases_in_vietnamese():
    assert ui.label_text("layer 12", "vi") == "lớp 12" and ui.label_text("grad 57", "en") == "grad 57"
    assert ui.label_text("5/8", "vi") == "5/8" and ui.label_text("zero_grad", "vi") == "zero_grad"
    assert ui.phase_text("backward", "vi") == "truyền ngược" and ui.phase_text("optimizer", "en") == "optimizer"


def test_panel_wiring_shares_the_training_queue():
    with gr.Blocks() as demo:
        lang = gr.Radio(choices=i18n.LANG_CHOICES, value="en")
        page = i18n.Page(lang, demo.load(lambda: "en", None, lang))
        view = ui.build_paging_panel(page)
    fns = {f.name: f for f in demo.fns.values()}
    measure = fns["measure"]
    assert measure.concurrency_limit == 1 and measure.concurrency_id == "qlora-train"  # it trains: one at a time
    assert measure.api_visibility == "private"  # minutes of training per call: the page's button only
    assert fns["replay_view"].trigger_mode == "always_last"
    assert all(fns[n].api_visibility == "private" for n in ("measure", "show_method", "replay_view"))  # page-only
    assert {"measure", "gpu", "bandwidth", "summary"} <= set(view.parts)
    assert "paging.measure" in view.texts.keys()


# --- in the browser -------------------------------------------------------------------------------------


def _open_panel(page):
    page.get_by_role("tab", name="Experiments").click()
    page.get_by_role("tab", name="Paged optimizers").click()
    page.locator("#paging-measure").wait_for()


def _set_gpu(page, mb: int):
    box = page.locator("#paging-gpu input[type='number']")
    box.fill(str(mb))
    box.press("Enter")


@pytest.mark.browser
@pytest.mark.slow
def test_paging_panel_in_the_browser(page):
    from test_browser_i18n import english_words

    _open_panel(page)
    page.locator("#paging-big").get_by_text("LLaMA-65B").first.wait_for(timeout=120_000)  # on arrival
    page.locator("#paging-measure").click()
    summary = page.locator("#paging-summary")
    summary.get_by_text("Without paging:").wait_for(timeout=1_500_000)  # 3 methods x 3 steps of the real model
    assert "Out of memory at step 2" in summary.inner_text()  # the default sits below full fine-tuning's spike
    assert "to CPU RAM (evicted)" in page.locator("#paging-moves").inner_text()
    image = lambda: page.locator("#paging-replay img").get_attribute("src")  # noqa: E731
    before = image()
    maximum = int(page.locator("#paging-gpu input[type='range']").get_attribute("max"))
    _set_gpu(page, maximum)  # above the peak: the run fits, nothing moves
    summary.get_by_text("The run fits: its peak").wait_for(timeout=30_000)
    assert "Out of memory" not in summary.inner_text() and "never evicted" in summary.inner_text()
    assert image() != before
    _set_gpu(page, 2000)  # far below: without paging the run stops; paging moves every large state
    summary.get_by_text("Out of memory at step 1").wait_for(timeout=30_000)
    assert "The run finishes" in summary.inner_text() and "came back for the optimizer update" in summary.inner_text()
    assert "step 1, optimizer (step)" in page.locator("#paging-moves").inner_text()  # the states' first allocation
    text_en = summary.inner_text()
    page.locator("#paging-method").get_by_text("LoRA", exact=True).click()
    summary.get_by_text("Nothing is paged").wait_for(timeout=30_000)
    page.locator("#paging-method").get_by_text("Full fine-tuning").click()
    summary.get_by_text("Out of memory at step 1").wait_for(timeout=30_000)
    page.locator("#paging-replay").scroll_into_view_if_needed()
    screenshot(page, "paging")
    # the same results in Vietnamese, from the kept ledgers
    page.locator("#lab-lang").get_by_text("Tiếng Việt").click()
    summary.get_by_text("Không phân trang:").wait_for(timeout=30_000)
    # the summary may still show a running event's timer ("0.4s") over the re-rendered text: wait it out
    page.wait_for_function("() => !/^\\s*\\d+(\\.\\d+)?s\\b/.test(document.querySelector('#paging-summary').innerText)",
                           timeout=30_000)
    assert numbers(summary.inner_text()) == numbers(text_en), (summary.inner_text(), text_en)
    page.locator("#paging-big").get_by_text("Chuỗi dài nhất").wait_for(timeout=30_000)
    page.locator("#paging-replay").scroll_into_view_if_needed()
    screenshot(page, "vi_paging")
    assert not english_words(page), english_words(page)
