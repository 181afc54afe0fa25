"""The SFT masking tab in a real Chromium: pick an example and a mode, see the strip, the numbers
and the failure drill; a bad pasted chat gives a plain message; screenshot."""

from __future__ import annotations

import json
import re
import time

import gradio as gr
import pytest
from conftest import screenshot

from lab import masking, models
from lab.ui import masking as ui


def _pick(page, elem_id: str, option: str):
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).click()


# The numbers and the strip of one answer carry the same data-view stamp (mode:tokens:trained:state).
VIEW = """([mode, state]) => {
  const n = document.querySelector('#mk-numbers .mk-cards'), s = document.querySelector('#mk-strip .mk-strip');
  if (!n || !s || n.dataset.view !== s.dataset.view) return null;
  if (!n.dataset.view.startsWith(mode) || !n.dataset.view.endsWith(state)) return null;
  return {view: n.dataset.view, numbers: n.innerText, strip: s.innerText,
          coloured: s.querySelectorAll(".mk-tok[style*='background']").length,
          masked: s.querySelectorAll('.mk-masked').length,
          title: (s.querySelector(".mk-tok[style*='background']") || {}).title || ''};
}"""


def _view(page, mode: str = "", state: str = ":losses", timeout: float = 90_000) -> dict:
    """Wait until the numbers and the strip show the same answer (that mode, that state); read both at once."""
    return page.wait_for_function(VIEW, arg=[mode, state], timeout=timeout).json_value()


@pytest.mark.browser
def test_masking_tab_shows_the_default_example_on_arrival(page):
    page.get_by_role("tab", name="SFT masking").click()
    view = _view(page)  # nobody pressed anything
    assert view["view"].startswith("completion:") and view["coloured"] > 0
    assert page.locator("#mk-row input[type='number']").get_attribute("max") == str(ui._rows(ui.DEFAULT_EXAMPLES["en"]))
    page.locator("#mk-strip").scroll_into_view_if_needed()
    screenshot(page, "masking_arrival")


@pytest.mark.browser
def test_masking_tab_strip_numbers_and_drill(page):
    page.get_by_role("tab", name="SFT masking").click()
    _pick(page, "mk-example", "Multi-turn chat + system prompt")
    page.locator("#mk-mode").get_by_text("assistant — every assistant turn").click()
    page.locator("#mk-go").click()

    # the second answer of an assistant-mode run: the model's losses replace the "…" placeholders
    # (the arrival and the example's answers are in completion mode)
    view = _view(page, "assistant:")
    values = [float(v.replace(",", "")) for v in re.findall(r"^\s*([\d.,]+)%?\s*$", view["numbers"], flags=re.M)]
    total, trained = int(values[0]), int(values[1])
    assert view["view"] == f"assistant:{total}:{trained}:losses"
    assert 50 < total < 200 and 0 < trained < total
    masked_loss, full_loss = values[2], values[3]
    assert 0 < masked_loss < 20 and 0 < full_loss < 20

    assert "<|im_start|>" in view["strip"] and view["masked"] > 0
    assert view["coloured"] == trained  # one coloured box per trained token
    assert "label" in view["title"] and "loss" in view["title"]

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


def _show(lang=None, **kw):
    args = dict(choice=ui.OWN, row=1, prompt="What is SFT?", response="Fine-tuning on pairs.", system="",
                chat_json="", mode="completion", model_choice="bundled", template="### Response:")
    args.update(kw)
    return list(ui.show(*args.values(), **({} if lang is None else {"lang": lang})))


def test_handler_answers_first_without_then_with_losses():
    first, second = _show()
    assert "…" in first[0] and "…" not in second[0]
    assert "mk-pending" in first[2] and "mk-pending" not in second[2]
    table = second[3]
    assert list(table.columns) == ["position", "token", "id", "label", "loss (nats)", "counted"]
    losses = list(table["loss (nats)"])
    assert losses[0] == "–" and all(float(v) >= 0 for v in losses[1:])  # nothing predicts token 0
    assert list(table["label"]).count(masking.IGNORE_INDEX) > 0
    assert first[-1].losses is None and len(second[-1].losses) == len(table)  # the view kept for a switch


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


def test_sixteen_hundred_pasted_messages_answer_in_bounded_time():
    """Took 51 s (every prefix rendered); the kept window of 512 tokens bounds the work now."""
    chat = [{"role": "user" if k % 2 == 0 else "assistant", "content": "x"} for k in range(1_600)]
    _show(choice=ui.JSON_CHOICE, chat_json=json.dumps(chat[:2]), mode="assistant")  # warm: the model is loaded
    t0 = time.perf_counter()
    answers = ui.show(ui.JSON_CHOICE, 1, "", "", "", json.dumps(chat), "assistant", "bundled", "### Response:")
    first = next(answers)  # labels and counts: what grew with the square of the chat
    labels_s = time.perf_counter() - t0
    second = next(answers)  # + one forward pass over the 512 kept tokens, whatever the chat's length
    assert "only the first 512" in first[1] and 'data-view="assistant:512:' in second[0]
    assert labels_s < 5, labels_s
    assert time.perf_counter() - t0 < 60
    too_many = json.dumps(chat * 2)  # 3,200 messages
    with pytest.raises(gr.Error, match="at most 2,000 messages; this one has 3,200"):
        _show(choice=ui.JSON_CHOICE, chat_json=too_many)


def test_a_role_written_as_html_is_quoted_and_escaped():
    role = '<a href="https://example.com" style="position:fixed;inset:0">win</a>'
    chat = json.dumps([{"role": role, "content": "hi"}, {"role": "assistant", "content": "ok"}])
    with pytest.raises(gr.Error) as err:
        _show(choice=ui.JSON_CHOICE, chat_json=chat)
    message = err.value.message
    assert "role of message 1" in message and "<a" not in message and "&lt;a" in message


@pytest.mark.parametrize("row", [float("nan"), float("inf"), "abc", 1e30, -1, 0, 3.5, 224])
def test_bad_dataset_row_named_with_its_range(row):
    choice = next(iter(ui.DATASET_CHOICES))  # the pirate set: 223 rows
    with pytest.raises(gr.Error, match=r"The dataset row must be a whole number from 1 to 223, not "):
        _show(choice=choice, row=row)


def test_last_dataset_row_reachable_and_slider_spans_the_set():
    pirate, other = list(ui.DATASET_CHOICES)
    n = ui._rows(pirate)
    first, _ = _show(choice=pirate, row=n)
    assert "mk-cards" in first[0]
    row_update = ui._visibility(other, n)[0]
    assert row_update["maximum"] == ui._rows(other) and row_update["value"] == n
    assert ui._visibility(ui.OWN, n)[0] == {"__type__": "update", "visible": False, "maximum": 2, "value": 2}


# --- two languages ------------------------------------------------------------------------------


def _numbers(html_text: str) -> list[str]:
    """The values of the cards (what must not change with the language)."""
    return re.findall(r'<div class="v">([^<]*)</div>', html_text)


def test_handler_in_vietnamese_writes_vietnamese():
    _, second = _show(lang="vi")
    numbers, notes, strip, table, drill, view = second
    assert "token tổng cộng" in numbers and "tokens in total" not in numbers
    assert "Định dạng: **chat template của mô hình**" in notes and "Format" not in notes
    assert "bị che (-100)" in strip and "nhãn" in strip and "label " not in strip
    assert list(table.columns) == ["vị trí", "token", "id", "nhãn", "loss (nat)", "được tính"]
    assert set(table["được tính"]) == {"có", "không"}
    assert "dò chuỗi (không tìm thấy)" in drill and "khi tokenize riêng" in drill
    first, _ = _show(lang="vi", response="Arr! " * 10_100)
    assert "lab chỉ giữ lại 50,000 ký tự đầu tiên" in first[1] and "chỉ giữ lại 512 token đầu tiên" in first[1]


@pytest.mark.parametrize("kw,message", [
    (dict(prompt=""), "Câu hỏi (prompt) đang trống"),
    (dict(choice=ui.JSON_CHOICE, chat_json="[1,"), "không phải JSON hợp lệ (thiếu một giá trị ở dòng 1, cột 4)"),
    (dict(choice=ui.JSON_CHOICE, chat_json='[{"role": "bot", "content": "x"}]'),
     "Vai trò (role) của tin nhắn 1 phải là một trong"),
    (dict(choice="pirate_row", row=0), "Dòng dữ liệu phải là số nguyên từ 1 đến 223, không phải 0."),
    (dict(template=""), "Hãy nhập một response template để dò"),
    (dict(template=1e30), "Mẫu mở đầu câu trả lời (response template) phải là văn bản, không phải float."),
])
def test_handler_errors_in_vietnamese(kw, message):
    with pytest.raises(gr.Error) as err:
        _show(lang="vi", **kw)
    assert message in err.value.message


def test_rerender_gives_the_same_answer_in_the_other_language_without_the_model():
    en = _show(choice="multi_turn", mode="assistant")[-1]
    view = en[-1]
    t0 = time.perf_counter()
    out = ui.rerender("vi", view, True, "multi_turn")  # the user picked this example: it stays
    assert time.perf_counter() - t0 < 1.0
    choice, numbers, notes, strip, table, drill, templates = out
    assert choice == gr.skip()
    assert _numbers(numbers) == _numbers(en[0]) and numbers != en[0]  # numbers equal, text changed
    assert 'data-view="assistant:' in numbers and re.search(r'data-view="([^"]+)"', numbers)[1] == \
        re.search(r'data-view="([^"]+)"', strip)[1]  # the view stamp survives a switch
    assert notes != en[1] and "chế độ **assistant**" in notes
    assert strip.count("mk-tok") == en[2].count("mk-tok") and strip != en[2]
    assert table.values.tolist() == [[*r[:5], "có" if r[5] == "yes" else "không"] for r in en[3].values.tolist()]
    assert _numbers(drill) == _numbers(en[4]) and drill != en[4]
    assert ("'### Response:' — các bài hướng dẫn kiểu Alpaca", "### Response:") in templates["choices"]
    back = ui.rerender("en", view, True, "multi_turn")
    assert (back[1], back[2], back[3], back[5]) == (en[0], en[1], en[2], en[4]) and back[4].equals(en[3])


def test_a_switch_during_an_answer_leaves_the_half_shown_answer_to_its_last_part():
    """The answer comes in two parts (labels, then losses); a switch that reads the kept view in between
    must not send the first part again after the second has landed."""
    import dataclasses

    view = _show(choice="multi_turn")[-1][-1]
    half = dataclasses.replace(view, losses=None)
    out = ui.rerender("vi", half, True, "multi_turn")
    assert all(x == gr.skip() for x in out[:6]) and out[6]["choices"]  # only the template names, re-texted
    assert ui.rerender("vi", view, True, "multi_turn")[1] != gr.skip()  # the whole answer is re-rendered


def test_the_default_example_follows_the_language_until_the_user_picks_one():
    assert ui.DEFAULT_EXAMPLES == {"en": "pirate_row", "vi": "vietnamese"}
    view = _show(choice="pirate_row")[-1][-1]
    assert ui.rerender("vi", view, False, "pirate_row")[0] == gr.skip()  # answered: a switch keeps it
    assert ui.rerender("vi", None, False, "pirate_row")[0] == gr.update(value="vietnamese")
    assert ui.rerender("en", None, False, "vietnamese")[0] == gr.update(value="pirate_row")
    assert ui.rerender("vi", None, True, "pirate_row")[0] == gr.skip()  # the user's pick is kept
    assert ui.rerender("vi", None, False, ui.OWN)[0] == gr.skip()
    args = ("pirate_row", 1, "", "", "", "", "completion", "bundled", "### Response:")
    (arrival,) = list(ui.arrive(*args, chosen=False, lang="vi"))  # its change event answers the new example
    assert arrival[0] == gr.update(value="vietnamese") and all(x == gr.skip() for x in arrival[1:])
    answers = list(ui.arrive(*args, chosen=False, lang="en"))
    assert len(answers) == 2 and answers[0][0] == gr.skip() and "mk-cards" in answers[1][1]


def test_example_values_are_stable_ids():
    assert ui.EXAMPLE_VALUES == ["pirate_row", "json_row", "multi_turn", "vietnamese", "indented_code", "own",
                                 "paste_json"]
    assert all(v in ui.EXAMPLE_VALUES for v in masking.EXAMPLES)
    with pytest.raises(gr.Error, match="The example must be one of pirate_row, json_row"):
        _show(choice="Vietnamese chat")  # a display label is not a value


def _stamp(choice: str, mode: str = "completion") -> str:
    """The view stamp of an example's answer, without the state (``mode:tokens:trained``)."""
    view = ui.analyse(ui.Settings(choice=choice, mode=mode), with_losses=False)
    return ui.view_stamp(view.example, None).removesuffix(":labels")


def _numbers_say(page, stamp: str, words: str, timeout: float = 90_000):
    """Wait until the numbers and the strip show that answer with its losses, in the language of ``words``."""
    page.wait_for_function(
        """([stamp, words]) => { const n = document.querySelector('#mk-numbers .mk-cards'),
             s = document.querySelector('#mk-strip .mk-strip');
           return n && s && n.dataset.view === stamp + ':losses' && s.dataset.view === n.dataset.view
                  && n.innerText.includes(words); }""", arg=[stamp, words], timeout=timeout)


@pytest.mark.browser
def test_masking_tab_in_vietnamese_shows_the_vietnamese_example_and_follows_a_switch(page, app_url):
    page.goto(app_url + "?lang=vi")
    page.get_by_role("tab", name="Che loss trong SFT").click()
    _numbers_say(page, _stamp("vietnamese"), "token tổng cộng")  # the Vietnamese chat, nobody pressed anything
    # the choices' labels come with the page's switch to Vietnamese (the other tabs' event), maybe after the answer
    from playwright.sync_api import expect

    expect(page.locator("#mk-example input")).to_have_value("Hội thoại tiếng Việt", timeout=30_000)
    assert "bị che (-100)" in page.locator("#mk-strip").inner_text()
    assert "không tìm thấy" in page.locator("#mk-drill").inner_text()
    page.locator("#mk-strip").scroll_into_view_if_needed()
    screenshot(page, "masking_vi")

    # a switch keeps the example on screen, said in English
    page.locator("#lab-lang").get_by_text("English").click()
    _numbers_say(page, _stamp("vietnamese"), "tokens in total", timeout=10_000)
    assert page.locator("#mk-example input").input_value() == "Vietnamese chat"

    # a picked example stays through a switch; its answer is re-rendered in the other language
    _pick(page, "mk-example", "Multi-turn chat + system prompt")
    _numbers_say(page, _stamp("multi_turn"), "tokens in total")
    page.locator("#lab-lang").get_by_text("Tiếng Việt").click()
    _numbers_say(page, _stamp("multi_turn"), "token tổng cộng", timeout=10_000)
    assert page.locator("#mk-example input").input_value() == "Hội thoại nhiều lượt + system prompt"
    assert "Chế độ che loss" in page.locator("#mk-mode").inner_text()
