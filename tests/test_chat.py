"""lab.chat: decoding settings refused by value, conversations checked, streaming that stops when closed."""

from __future__ import annotations

import math
import threading
import time

import pytest

from lab import chat
from lab.errors import LabError, LabRuntimeError

LONG_PROMPT = [{"role": "user", "content": "Write a very long, detailed story about a dragon who learns to cook."}]


# ---- Decoding: every field checked, whatever sends it ------------------------------------------

@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "abc", 1e30, -1, 0, 2.5, 1025, None, True])
def test_max_new_tokens_out_of_range_is_refused_with_its_range(value):
    with pytest.raises(ValueError, match=r"^Max new tokens must be a whole number from 1 to 1,024, not "):
        chat.Decoding(max_new_tokens=value)


@pytest.mark.parametrize("field, label, bounds", [("temperature", "Temperature", "0.05 to 2"), ("top_p", "Top-p", "0.05 to 1")])
@pytest.mark.parametrize("value", [math.nan, math.inf, "abc", 1e30, -0.5, 0.0, 2.5])
def test_temperature_and_top_p_out_of_range_are_refused(field, label, bounds, value):
    with pytest.raises(ValueError, match=rf"^{label} must be a number from {bounds}, not "):
        chat.Decoding(**{field: value})


def test_decoding_converts_what_the_api_sends():
    d = chat.Decoding(max_new_tokens="64", temperature="1.5", top_p=1)
    assert (d.max_new_tokens, d.temperature, d.top_p) == (64, 1.5, 1.0)
    assert type(d.max_new_tokens) is int and type(d.top_p) is float


@pytest.mark.parametrize("mode", ["Greedy", "Beam", "", None, 1, "sampled "])
def test_decoding_mode_is_refused_by_value(mode):
    """The modes are values ("greedy", "sampled"), never the labels the chat shows in some language."""
    with pytest.raises(LabError, match=r"^Decoding mode must be one of greedy, sampled, not ") as e:
        chat.Decoding.of(mode, 0.7, 0.9, 32)
    assert e.value.code == "checks.one_of" and e.value.params["name"].code == "field.decoding_mode"


def test_decoding_of_mode_sets_sampling(tokenizer):
    greedy, sampled = chat.Decoding.of(chat.GREEDY, 0.7, 0.9, 32), chat.Decoding.of(chat.SAMPLED, 1.2, 0.5, 32)
    assert greedy.do_sample is False and greedy.generate_kwargs(tokenizer)["temperature"] is None
    kw = sampled.generate_kwargs(tokenizer)
    assert kw["do_sample"] is True and kw["temperature"] == 1.2 and kw["top_p"] == 0.5


# ---- check_messages: the conversation may come from anywhere -----------------------------------

@pytest.mark.parametrize(
    "messages, sentence",
    [
        ("hello", r"^The conversation must be a list of messages, not str\.$"),
        ([], r"^The conversation must end with a user message\.$"),
        ([{"role": "user", "content": "hi"}] * (chat.MAX_MESSAGES + 1), r"^The conversation has 201 messages; the limit is 200\.$"),
        (["hi"], r"^Message 1 must be a dict with a role and a content, not str\.$"),
        ([{"role": "tool", "content": "x"}], r"^Message 1 has the role 'tool'; a role is 'user' or 'assistant'"),
        ([{"role": "User", "content": "x"}], r"^Message 1 has the role 'User';"),
        ([{"content": "x"}], r"^Message 1 has the role None;"),
        ([{"role": "user", "content": "a"}, {"role": "system", "content": "b"}, {"role": "user", "content": "c"}],
         r"^Message 2 has the role 'system'; .*'system' only for the first message"),
        ([{"role": "x" * 500, "content": "hi"}], r"^Message 1 has the role 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\.\.\.;"),
        ([{"role": "user", "content": 42}], r"^Message 1 \(user\) must have text as its content, not int\.$"),
        ([{"role": "user", "content": None}], r"^Message 1 \(user\) must have text as its content, not NoneType\.$"),
        ([{"role": "user", "content": [{"type": "text", "text": "hi"}]}], r"must have text as its content, not list\.$"),
        ([{"role": "user", "content": "x" * (chat.MAX_PROMPT_CHARS + 1)}],
         r"^The conversation is 20,001 characters long; the limit is 20,000\.$"),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
         r"^The conversation must end with a user message\.$"),
        ([{"role": "user", "content": "  \n "}], r"^Type a message first\.$"),
    ],
)
def test_check_messages_refuses_with_a_sentence(messages, sentence):
    with pytest.raises(LabError, match=sentence) as e:  # a ValueError with a code, for the app to translate
        chat.check_messages(messages)
    assert e.value.code.startswith("chat.")


def test_check_messages_accepts_a_system_prompt_and_turns():
    chat.check_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "bye"},
        ]
    )


def test_a_huge_conversation_is_refused_before_it_is_read():
    huge = [{"role": "user", "content": "hi"}] * 1_000_000
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="1,000,000 messages"):
        chat.check_messages(huge)
    assert time.perf_counter() - t0 < 0.05


# ---- streaming on the real model --------------------------------------------------------------

def _generation_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == chat.GENERATION_THREAD and t.is_alive()]


def _wait_until_no_generation(limit_s: float) -> float:
    t0 = time.perf_counter()
    while _generation_threads() and time.perf_counter() - t0 < limit_s:
        time.sleep(0.01)
    return time.perf_counter() - t0


class ForwardCounter:
    """Counts the model's forward passes (one per generated token) with a real forward hook."""

    def __init__(self, model):
        self.calls = 0
        self.handle = model.register_forward_hook(self._hook)

    def _hook(self, *args):
        self.calls += 1

    def remove(self):
        self.handle.remove()


@pytest.mark.slow
def test_closing_the_stream_stops_generation(real_model, tokenizer):
    assert not _generation_threads()
    counter = ForwardCounter(real_model)
    try:
        stream = chat.stream_chat(real_model, tokenizer, LONG_PROMPT, chat.Decoding(max_new_tokens=1024))
        pieces = [next(stream) for _ in range(5)]
        assert len(pieces[-1]) > len(pieces[0]) > 0
        assert len(_generation_threads()) == 1, "the 1,024-token answer is still being generated"
        at_close = counter.calls
        t0 = time.perf_counter()
        stream.close()
        close_s = time.perf_counter() - t0
        gone_s = _wait_until_no_generation(2.0)
        after = counter.calls
        time.sleep(0.3)
        print(f"close() returned in {close_s * 1000:.0f} ms; {after - at_close} forward passes after close")
        assert not _generation_threads(), f"generation still running {gone_s:.1f} s after close"
        assert close_s < 2.0
        assert after - at_close <= 3  # at most the step in flight
        assert counter.calls == after  # nothing more once it has ended
        assert after < 100 < 1024
    finally:
        counter.remove()


@pytest.mark.slow
def test_stop_event_ends_a_stream_and_greedy_stream_matches_answer(real_model, tokenizer):
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    decoding = chat.Decoding(max_new_tokens=12)
    streamed = list(chat.stream_chat(real_model, tokenizer, msgs, decoding))
    assert streamed[-1].strip() == chat.answer(real_model, tokenizer, msgs, decoding)
    assert "Paris" in streamed[-1]

    stop = threading.Event()
    stream = chat.stream_chat(real_model, tokenizer, LONG_PROMPT, chat.Decoding(max_new_tokens=1024), stop=stop)
    first = [next(stream) for _ in range(3)]
    stop.set()
    rest = list(stream)  # ends by itself, at the next token
    assert len(rest) <= 3
    assert len((rest or first)[-1]) < 400
    assert not _generation_threads()


# ---- no chat template: the raw text, continued ----------------------------------------------------

def test_raw_text_is_the_conversation_without_template_or_roles():
    assert chat.raw_text([{"role": "user", "content": "The capital of France is"}]) == "The capital of France is"
    turns = [
        {"role": "system", "content": "Notes."},
        {"role": "user", "content": "The capital of France is"},
        {"role": "assistant", "content": " Paris."},  # a continuation: appended as written
        {"role": "user", "content": "The capital of Italy is"},  # a new line after the text so far
    ]
    assert chat.raw_text(turns) == "Notes.\nThe capital of France is Paris.\nThe capital of Italy is"


def test_raw_text_checks_the_conversation_first():
    with pytest.raises(ValueError, match=r"^The conversation must end with a user message\.$"):
        chat.raw_text([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    with pytest.raises(ValueError, match=r"^Message 1 \(user\) must have text as its content, not int\.$"):
        chat.raw_text([{"role": "user", "content": 42}])


def test_raw_inputs_are_the_text_tokens_only(tokenizer):
    text = "What is the capital of France?"
    ids = chat._raw_inputs(tokenizer, text, "cpu")["input_ids"][0].tolist()
    assert ids == tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.decode(ids) == text  # no <|im_start|>, no system prompt
    templated = chat._inputs(tokenizer, [{"role": "user", "content": text}], "cpu")["input_ids"][0].tolist()
    assert len(templated) > len(ids) + 10 and templated[-3:] != ids[-3:]  # the template ends with its header


@pytest.mark.slow
def test_raw_continuation_continues_the_text(real_model, tokenizer):
    msgs = [{"role": "user", "content": "The capital of France is"}]
    text = chat.continuation(real_model, tokenizer, msgs, chat.Decoding(max_new_tokens=8))
    print(repr(text))
    assert text.lstrip().startswith("Paris")  # the sentence goes on: not an answer to a question
    streamed = list(chat.stream_continuation(real_model, tokenizer, msgs, chat.Decoding(max_new_tokens=8)))
    assert streamed[-1] == text and len(streamed) >= 2


@pytest.mark.slow
def test_raw_question_is_continued_not_answered_in_the_assistant_turn(real_model, tokenizer):
    """Without the template, the instruct model's next token after a question is the end of a user turn: it
    writes the chat markers itself; with the template the reply starts right away with the answer."""
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    raw = chat.continuation(real_model, tokenizer, msgs, chat.Decoding(max_new_tokens=12))
    answered = chat.answer(real_model, tokenizer, msgs, chat.Decoding(max_new_tokens=12))
    print(f"raw: {raw!r}\ntemplated: {answered!r}")
    assert answered.startswith("The capital of France is Paris")
    assert raw.startswith("<|im_end|>")  # its most likely next token after the question
    assert not raw.startswith("The capital")
    assert "<|im_start|>assistant" in raw  # then it writes the assistant's header itself


def test_a_failed_generation_is_said_in_a_coded_sentence(tiny, tokenizer, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(tiny, "generate", broken)
    with pytest.raises(LabRuntimeError, match=r"^Generation failed: boom$") as e:
        list(chat.stream_chat(tiny, tokenizer, [{"role": "user", "content": "hi"}], chat.Decoding(max_new_tokens=2)))
    assert e.value.code == "chat.generation_failed" and isinstance(e.value, RuntimeError)
