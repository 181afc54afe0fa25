"""The Experiments tab's training-experiments panel: its handlers on results dicts, both languages, and a
real masking experiment in the browser."""

from __future__ import annotations

import re

import gradio as gr
import pytest
from conftest import screenshot

from lab.ui import experiments as ui
from lab.ui import experiments_view as view


def _row(name, method, r, **extra):
    row = {"name": name, "method": method, "r": r, "alpha": None if r is None else 2.0 * r, "masking": "completion",
           "trainable_params": 134_515_008 if method == "full" else 4_884_480, "total_params": 134_515_008,
           "trainable_share": 1.0 if method == "full" else 4_884_480 / 134_515_008, "training_memory_mb": 2971.9,
           "memory": {"weights_mb": 513.1, "gradients_mb": 513.1, "optimizer_mb": 1026.3, "activations_mb": 731.6},
           "tokens_per_s": 98.3, "final_loss": 1.234, "losses": [3.1, 2.0, 1.234], "behaviour_before": 0.0,
           "behaviour_score": 0.75, "probes": 48, "probe_accuracy_before": 1.0, "probe_accuracy_after": 0.875,
           "general_loss_change": 0.021, "saved_mb": 516.5 if method == "full" else 18.7,
           "trained_tokens_share": 0.6}
    row.update(extra)
    return row


PEFT = {"experiment": "peft", "settings": {"steps": 3}, "seconds": 301.0,
        "conditions": [_row("full", "full", None), _row("lora", "lora", 16), _row("qlora", "qlora", 16)],
        "conclusions": [{"code": "experiment.peft.quality_close", "text": "The behaviour scores are close (full 75%, "
                         "LoRA 75%, QLoRA 75% of 16 held-out prompts): training 3.63% of the parameters taught the "
                         "behaviour about as well as training all of them.",
                         "params": {"full": 0.75, "lora": 0.75, "qlora": 0.75, "prompts": 16, "steps": 3,
                                    "share": 0.0363}}]}


def _numbers(text) -> list[str]:
    return re.findall(r"\d[\d,.]*", str(text))


def test_the_table_has_a_row_per_condition_with_its_measurements():
    table = view.table(PEFT, "en")
    assert list(table.iloc[:, 0]) == ["Full fine-tuning", "LoRA (r = 16)", "QLoRA (r = 16, NF4)"]
    assert table.iloc[0, 1] == "134,515,008 (100.00 %)" and table.iloc[1, 1] == "4,884,480 (3.63 %)"
    assert "2,972 MB" == table.iloc[0, 2] and "42 → 48" not in table.iloc[0, 7]
    assert table.iloc[0, 7] == "48 → 42 / 48" and table.iloc[0, 8] == "+0.021"
    assert "whole model" in table.iloc[0, 9] and "adapter" in table.iloc[1, 9]


def test_everything_shown_is_re_rendered_in_vietnamese_with_the_same_numbers():
    state = {"name": "peft", "results": PEFT, "recorded": False, "live": None}
    en, vi = ui.rerender("en", state), ui.rerender("vi", state)
    claim_en, status_en, _, table_en, conclusions_en, _, _ = en
    claim_vi, status_vi, fig_vi, table_vi, conclusions_vi, _, _ = vi
    assert "Bài giảng khẳng định" in claim_vi and "lecture's claim" in claim_en
    assert "Xong" in status_vi and _numbers(status_vi) == _numbers(status_en)
    assert table_vi.values.tolist() != table_en.values.tolist()
    assert [_numbers(c) for c in table_vi.values.ravel()] == [_numbers(c) for c in table_en.values.ravel()]
    assert "Điểm hành vi gần nhau" in conclusions_vi and _numbers(conclusions_vi)[:4] == _numbers(conclusions_en)[:4]
    assert fig_vi.axes[0].get_title() == "Loss huấn luyện của từng lượt"
    assert ui.rerender("vi", None) == (gr.skip(),) * 7  # nothing chosen yet


def test_live_status_shows_the_condition_progress_and_eta():
    live = {"index": 1, "total": 3, "started": 0.0, "condition_started": 100.0, "curve": [(1, 2.5), (2, 2.0)],
            "log": {"step": 2, "steps": 4, "loss": 2.0}, "evaluating": None,
            "row": {"name": "lora", "method": "lora", "r": 16}}
    ui._progress(live, [100.0], 150.0)
    assert live["fraction"] == pytest.approx((1 + 0.7 * 0.5) / 3)
    assert live["eta"] == pytest.approx(100.0 * 0.65 + 100.0)
    state = {"name": "peft", "results": {"experiment": "peft", "conditions": [PEFT["conditions"][0]]}, "live": live}
    text = view.status(state, "en")
    assert "Condition 2 of 3: LoRA (r = 16)" in text and "step 2 / 4" in text and "45 %" in text
    assert "Lượt 2 / 3" in view.status(state, "vi")
    between = {"name": "peft", "results": state["results"], "live": None, "running": True}
    assert "1 condition(s) done" in view.status(between, "en")  # not "Finished" before the last condition
    fig = view.curves_figure(state["results"], live, "en")
    assert len(fig.axes[0].get_lines()) == 2  # the finished condition and the running one


def test_rank_spectrum_and_masking_samples():
    svd = {"module": "model.layers.15.self_attn.q_proj", "r": 4, "nonzero": 4, "directions_90": 2,
           "singular_values": [3.0, 1.0, 0.5, 0.1]}
    rank = {"experiment": "rank", "conditions": [_row("r4", "lora", 4, svd=svd)]}
    assert view.table(rank, "en").iloc[0, -1] == "4 of r = 4 (90 % of the energy in 2)"
    fig = view.spectrum_figure(rank, "vi")
    assert fig is not None and "giá trị kỳ dị" in fig.axes[0].get_ylabel()
    sample = {"prompt": "Why?", "text": "Arr!<|im_end|>\n<|im_start|>user\nAnd", "ended_reply": True,
              "turns_after_reply": ["user"]}
    masking = {"experiment": "masking", "conditions": [_row("none", "lora", 16, masking="none", sample=sample)]}
    assert view.table(masking, "en").iloc[0, 0] == "loss on every token"
    assert view.table(masking, "en").iloc[0, -1] == "opens a new turn: user"
    assert "<|im_start|>user" in view.samples_text(masking, "en")


def test_select_shows_the_claim_the_options_and_a_recorded_result_when_there_is_one():
    claim, steps, method, alpha, state, status, *_ = ui.select("rank", "vi")
    assert "Hạng của LoRA" in claim and steps["value"] == ui.experiments.experiment("rank").default_steps
    assert method["visible"] and alpha["visible"]
    if state["recorded"]:
        assert "Kết quả đã ghi lại" in status
    with pytest.raises(gr.Error, match="Không có thí nghiệm"):
        ui.select("nope", "vi")


@pytest.mark.browser
@pytest.mark.slow
def test_a_masking_experiment_with_two_steps_in_the_browser(page):
    page.get_by_role("tab", name="Experiments").click()
    page.locator("#exp-name").get_by_text("Loss masking").click()
    page.locator("#exp-claim").get_by_text("Loss masking").wait_for()
    steps = page.locator("#exp-steps input")
    steps.fill("2")
    page.locator("#exp-run").click()
    page.locator("#exp-status").get_by_text(re.compile("Condition 1 of 2")).wait_for(timeout=300_000)
    page.wait_for_function("() => document.querySelector('#exp-status').innerText.includes('Finished')",
                           timeout=900_000)
    table = page.locator("#exp-table").inner_text()
    assert "loss on the reply only" in table and "loss on every token" in table
    assert "What the numbers show" in page.locator("#exp-conclusions").inner_text()
    page.locator("#exp-samples").get_by_text("<|im_start|>").first.wait_for()
    screenshot(page, "experiments_masking")


# --- the SFT-data experiments -----------------------------------------------------------------------------------

_REASON = {"code": "quality.too_short", "text": "reply too short: 3 words, fewer than 8",
           "params": {"words": 3, "min_words": 8}}
QUALITY = {
    "experiment": "data-quality", "settings": {"steps": 24}, "seconds": 250.0,
    "conditions": [
        _row(name, "lora", 16, examples=n, correctness=c, behaviour_score=b, behaviour_before=None,
             quality={"rows": n, "duplicates": d, "duplicate_share": d / n, "off_style_share": o, "mean_words": w})
        for name, n, c, b, d, o, w in (("curated", 40, 0.93, 0.8, 0, 0.0, 31.6), ("noisy", 200, 0.8, 0.47, 45, 0.15, 30.2),
                                       ("cleaned", 55, 0.87, 0.73, 0, 0.0, 31.0))],
    "cleaning": {"rows": 200, "kept": 55, "counts": {"too_short": 10, "duplicate": 20},
                 "dropped": [{"row": 41, "prompt": "What is a comet?", "reply": "Arr, dunno.", "kind": "too_short",
                              "reason": _REASON}],
                 "missed": [{"row": 190, "prompt": "Can you see the Great Wall from the Moon?",
                             "reply": "Aye, matey, plain as day!", "kind": "wrong_fact"}]},
}


def test_data_quality_table_and_the_clean_steps_rows_in_both_languages():
    table = view.table(QUALITY, "en")
    assert list(table.iloc[:, 0]) == ["curated (40 rows)", "noisy (200 rows)", "noisy, cleaned"]
    assert list(table.iloc[1]) == ["noisy (200 rows)", "200", "45 (22 %)", "15 %", "30", "1.234", "47 %", "80 %"]
    en, vi = view.details_text(QUALITY, "en"), view.details_text(QUALITY, "vi")
    assert "The Clean step: 55 of 200 noisy rows kept" in en and "reply too short 10, exact duplicate 20" in en
    assert "| 41 | reply too short: 3 words, fewer than 8 | too short | What is a comet? → Arr, dunno. |" in en
    assert "Great Wall" in en and "Kept though written bad (1 rows)" in en
    assert "giữ lại 55 trên 200 dòng nhiễu" in vi and "câu trả lời quá ngắn: 3 từ, ít hơn 8" in vi
    assert "sai sự thật" not in en and "quá ngắn" in vi
    assert [_numbers(c) for c in view.table(QUALITY, "vi").values.ravel()] == [_numbers(c) for c in table.values.ravel()]


def test_zero_shot_per_task_table_and_synthetic_candidates():
    per_task = {t: {"seen": t not in ("classify", "poem"), "before": 0.0, "after": 1.0 if t != "poem" else 0.67, "n": 3}
                for t in ("summarise", "translate", "classify", "poem")}
    zs = {"experiment": "zero-shot", "per_task": per_task,
          "conditions": [_row("multitask", "lora", 16, examples=160, behaviour_before=0.0, behaviour_score=0.9,
                              seen_before=0.0, seen_after=1.0, unseen_before=0.0, unseen_after=0.83)]}
    table = view.table(zs, "en")
    assert list(table.iloc[0]) == ["8 task types, one format", "160", "1.234", "0 % → 90 %", "0 % → 100 %", "0 % → 83 %"]
    text = view.details_text(zs, "en")
    assert "| write a poem | **never seen** | 3 | 0 % | **67 %** |" in text
    assert text.index("translate") < text.index("classify")  # seen task types first
    assert "| viết thơ | **chưa từng thấy** | 3 | 0 % | **67 %** |" in view.details_text(zs, "vi")
    syn = {"experiment": "synthetic", "conditions": [], "synthetic": {
        "total": 4, "caveat": {"code": "synthetic.caveat", "text": "A 135M model's own data teaches it little.",
                               "params": {}},
        "candidates": [
            {"index": 0, "text": "Instruction: Name a fruit.\nResponse: Apple.", "prompt": "Name a fruit.",
             "reply": "Apple is a fruit.", "kept": True, "reason": None},
            {"index": 1, "text": "Instruction: ??", "prompt": "", "reply": "", "kept": False,
             "reason": {"code": "synthetic.unparsed", "text": "no “Instruction: … Response: …” pair in the text",
                        "params": {}}}]}}
    text = view.details_text(syn, "en")
    assert "Synthetic candidates: 1 of 2 kept (4 asked)" in text and "| 1 | **kept** | Name a fruit. |" in text
    assert "| 2 | no “Instruction: … Response: …” pair in the text | `Instruction: ??` |" in text
    assert "teaches it little" in text and "Dữ liệu do chính một mô hình" in view.details_text(syn, "vi")
    state = {"name": "synthetic", "results": syn, "running": True, "prep": (2, 4), "live": None}
    assert "Generating synthetic pairs**: 2 / 4" in view.status(state, "en")


def test_select_shows_the_synthetic_option_only_for_synthetic():
    *_, train_synthetic = ui.select("synthetic", "en")
    assert train_synthetic["visible"]
    claim, steps, method, alpha, state, *_, train_synthetic = ui.select("data-quality", "vi")
    assert "Chất lượng hay số lượng dữ liệu" in claim and not method["visible"] and not train_synthetic["visible"]
    assert steps["value"] == ui.experiments.experiment("data-quality").default_steps


@pytest.mark.browser
@pytest.mark.slow
def test_a_zero_shot_experiment_with_two_steps_in_the_browser(page):
    """The zero-shot experiment for real, 2 steps: the per-task table appears, then in Vietnamese."""
    page.get_by_role("tab", name="Experiments").click()
    page.locator("#exp-name").get_by_text("Zero-shot generalisation").click()
    page.locator("#exp-claim").get_by_text("Zero-shot generalisation").wait_for()
    page.locator("#exp-steps input").fill("2")
    page.locator("#exp-run").click()
    page.locator("#exp-status").get_by_text(re.compile("Condition 1 of 1")).wait_for(timeout=300_000)
    page.wait_for_function("() => document.querySelector('#exp-status').innerText.includes('Finished')",
                           timeout=900_000)
    assert "8 task types, one format" in page.locator("#exp-table").inner_text()
    details = page.locator("#exp-samples")
    details.get_by_text("never seen").first.wait_for()
    assert "write a poem" in details.inner_text() and "classify" in details.inner_text()
    assert "What the numbers show" in page.locator("#exp-conclusions").inner_text()
    screenshot(page, "experiments_zero_shot")
    page.locator("#lab-lang").get_by_text("Tiếng Việt").click()
    details.get_by_text("chưa từng thấy").first.wait_for()
    assert "viết thơ" in details.inner_text() and "write a poem" not in details.inner_text()
    screenshot(page, "experiments_zero_shot_vi")
