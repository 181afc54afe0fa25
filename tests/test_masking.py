"""lab.masking: labels against TRL's own SFTTrainer, the prefix-rendering oracle, losses against the
model's own loss, the string-search failure drill, and bad input."""

from __future__ import annotations

import copy
import math

import datasets
import pytest
import torch

from lab import data, masking, masking_drill
from lab.masking import IGNORE_INDEX

MULTI = masking.EXAMPLES["multi_turn"]
VIET = masking.EXAMPLES["vietnamese"]
CODE = masking.EXAMPLES["indented_code"]  # "\n" + "    return" merge: not a prefix


def bundled_rows(n: int = 6) -> list[list[dict]]:
    return list(data.load_sft_dataset("pirate")["messages"][:n]) + list(data.load_sft_dataset("json")["messages"][:n])


def trl_prepare(tokenizer, tiny, rows: list[dict], tmp_path, **config):
    """The dataset exactly as TRL 1.16's SFTTrainer prepares it (input_ids + labels)."""
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(output_dir=str(tmp_path), report_to=[], max_length=None, use_cpu=True, **config)
    trainer = SFTTrainer(model=tiny, args=args, train_dataset=datasets.Dataset.from_list(rows), processing_class=tokenizer)
    return trainer.train_dataset


# --- labels vs TRL ------------------------------------------------------------------------------


def test_completion_labels_identical_to_trl(tokenizer, tiny, tmp_path):
    chats = bundled_rows() + [MULTI, VIET, CODE]
    rows = [{"prompt": c[:-1], "completion": c[-1:]} for c in chats]
    prepared = trl_prepare(tokenizer, tiny, rows, tmp_path, completion_only_loss=True)
    for chat, trl_row in zip(chats, prepared):
        ex = masking.build_labels(tokenizer, chat, "completion")
        assert ex.input_ids == trl_row["input_ids"]
        assert ex.labels == trl_row["labels"]
        assert ex.n_trained > 0


def test_not_a_prefix_case_follows_trl(tokenizer):
    """The reply starts with spaces: "\\n" of the generation prompt merges with them into one token,
    so the tokenized prompt is not a prefix of the whole; training starts where they diverge."""
    prompt_ids = tokenizer.apply_chat_template(CODE[:-1], add_generation_prompt=True)["input_ids"]
    full_ids = tokenizer.apply_chat_template(CODE)["input_ids"]
    diverge = masking.common_prefix_length(prompt_ids, full_ids)
    assert diverge < len(prompt_ids)  # really not a prefix
    ex = masking.build_labels(tokenizer, CODE, "completion")
    first = next(i for i, lab in enumerate(ex.labels) if lab != IGNORE_INDEX)
    assert first == diverge
    assert tokenizer.decode(ex.input_ids[first:]).startswith("\n    return x * x")


def test_plain_fallback_identical_to_trl(tokenizer, tiny, tmp_path):
    plain = copy.deepcopy(tokenizer)
    plain.chat_template = None
    chats = bundled_rows(3) + [MULTI, CODE]
    rows = [{"prompt": masking.render_plain(plain, c[:-1], add_generation_prompt=True), "completion": c[-1]["content"]} for c in chats]
    prepared = trl_prepare(plain, tiny, rows, tmp_path, completion_only_loss=True)
    for chat, trl_row in zip(chats, prepared):
        ex = masking.build_labels(plain, chat, "completion")
        assert ex.format.startswith("plain")
        assert any("no chat template" in str(n) for n in ex.notices)
        assert ex.input_ids == trl_row["input_ids"] and ex.labels == trl_row["labels"]
        assert ex.labels[-1] == plain.eos_token_id  # the model learns to stop


def test_trl_assistant_only_loss_refuses_smollm2_template(tokenizer, tiny, tmp_path):
    """SmolLM2's template has no {% generation %} markers and TRL 1.16 has no patch for it."""
    with pytest.raises(ValueError, match="generation"):
        trl_prepare(tokenizer, tiny, [{"messages": MULTI}], tmp_path, assistant_only_loss=True)


def test_assistant_labels_identical_to_trl_with_generation_markers(tokenizer, tiny, tmp_path):
    """Same template with {% generation %} around what follows the generation prompt (content +
    '<|im_end|>\\n', as TRL's own ChatML training templates): TRL's assistant masks = our spans."""
    marked = copy.deepcopy(tokenizer)
    turn = "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    assert turn in tokenizer.chat_template
    marked.chat_template = tokenizer.chat_template.replace(
        turn,
        "{% if message['role'] == 'assistant' %}{{'<|im_start|>assistant\n'}}{% generation %}"
        "{{message['content'] + '<|im_end|>\n'}}{% endgeneration %}{% else %}" + turn + "{% endif %}",
    )
    chats = [MULTI, VIET, CODE] + bundled_rows(3)
    prepared = trl_prepare(marked, tiny, [{"messages": c} for c in chats], tmp_path, assistant_only_loss=True)
    for chat, trl_row in zip(chats, prepared):
        ex = masking.build_labels(tokenizer, chat, "assistant")
        assert ex.input_ids == trl_row["input_ids"] and ex.labels == trl_row["labels"]


# --- prefix-rendering oracle --------------------------------------------------------------------


@pytest.mark.parametrize("chat", [MULTI, VIET], ids=["multi-turn", "vietnamese"])
def test_prefix_rendering_oracle(tokenizer, chat):
    """Every assistant turn is trained from the end of apply_chat_template(messages[:k],
    add_generation_prompt=True) to the start of the next message; nothing else is."""
    full = tokenizer.apply_chat_template(chat)["input_ids"]
    ex = masking.build_labels(tokenizer, chat, "assistant")
    assert ex.input_ids == full
    expected = [IGNORE_INDEX] * len(full)
    for k, m in enumerate(chat):
        if m["role"] != "assistant":
            continue
        start = len(tokenizer.apply_chat_template(chat[:k], add_generation_prompt=True)["input_ids"])
        end = len(tokenizer.apply_chat_template(chat[: k + 1])["input_ids"])
        assert full[:end][:start] == tokenizer.apply_chat_template(chat[:k], add_generation_prompt=True)["input_ids"]
        expected[start:end] = full[start:end]
        assert tokenizer.decode(full[start:end]) == m["content"] + "<|im_end|>\n"
    assert ex.labels == expected
    # completion mode keeps only the last of those spans; none trains everything
    last = masking.build_labels(tokenizer, chat, "completion")
    trained_text = tokenizer.decode([t for t in last.labels if t != IGNORE_INDEX])
    assert trained_text == chat[-1]["content"] + "<|im_end|>\n"
    assert masking.build_labels(tokenizer, chat, "none").labels == full
    # spans cover the sequence in order, one per message
    spans = ex.spans
    assert [s.role for s in spans] == [m["role"] for m in chat]
    assert spans[0].start == ex.preamble and spans[-1].end == len(full)
    assert all(a.end == b.start for a, b in zip(spans, spans[1:]))


def test_user_text_never_trained(tokenizer):
    ex = masking.build_labels(tokenizer, MULTI, "assistant")
    trained = tokenizer.decode([t for t in ex.labels if t != IGNORE_INDEX])
    for m in MULTI:
        if m["role"] != "assistant":
            assert m["content"] not in trained


def test_wasted_share_and_counts(tokenizer):
    none = masking.build_labels(tokenizer, MULTI, "none")
    assert none.n_trained == none.n_tokens - 1  # position 0 is never predicted
    assert math.isclose(none.wasted_logits_share, 1 / none.n_tokens)  # only the last row predicts nothing
    comp = masking.build_labels(tokenizer, MULTI, "completion")
    asst = masking.build_labels(tokenizer, MULTI, "assistant")
    assert 0 < comp.n_trained < asst.n_trained < none.n_trained
    assert comp.wasted_logits_share > asst.wasted_logits_share > none.wasted_logits_share


def test_token_texts_rebuild_the_text(tokenizer):
    ex = masking.build_labels(tokenizer, VIET, "completion")
    texts = masking.token_texts(tokenizer, ex.input_ids)
    assert len(texts) == ex.n_tokens
    assert "".join(texts).replace("\ufffd", "") == tokenizer.decode(ex.input_ids)
    assert "<|im_start|>" in texts


# --- losses -------------------------------------------------------------------------------------


def _model_loss(model, ex):
    with torch.inference_mode():
        return model(input_ids=torch.tensor([ex.input_ids]), labels=torch.tensor([ex.labels])).loss.item()


@pytest.mark.parametrize("mode", masking.MODES)
def test_masked_loss_equals_model_loss_tiny(tokenizer, tiny, mode):
    ex = masking.build_labels(tokenizer, MULTI, mode)
    tl = masking.token_losses(tiny, tokenizer, ex)
    assert len(tl.losses) == ex.n_tokens and math.isnan(tl.losses[0])
    assert tl.masked_loss == pytest.approx(_model_loss(tiny, ex), rel=1e-5)
    # a random model: the loss is near ln V
    assert abs(tl.full_loss - math.log(len(tokenizer))) < 1.0


@pytest.mark.parametrize("chat,mode", [(MULTI, "completion"), (VIET, "assistant"), (CODE, "none")])
def test_masked_loss_equals_model_loss_real(tokenizer, real_model, chat, mode):
    ex = masking.build_labels(tokenizer, chat, mode)
    tl = masking.token_losses(real_model, tokenizer, ex)
    assert tl.masked_loss == pytest.approx(_model_loss(real_model, ex), rel=1e-5)
    assert tl.full_loss == pytest.approx(_model_loss(real_model, masking.build_labels(tokenizer, chat, "none")), rel=1e-5)


def test_stop_token_is_trained_and_predicted(tokenizer, real_model):
    """The reply's <|im_end|> carries a label (the model learns to stop), and the instruct model
    already predicts it after a complete answer."""
    tl = masking.token_losses(real_model, tokenizer, masking.build_labels(tokenizer, MULTI, "completion"))
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    ex = tl.example
    last_end = max(i for i, t in enumerate(ex.input_ids) if t == im_end)
    assert ex.labels[last_end] == im_end  # the stop token is trained
    assert tl.losses[last_end] < 1.0  # and the model already predicts it


def test_bf16_autocast_close_to_fp32(tokenizer, tiny):
    ex = masking.build_labels(tokenizer, MULTI, "assistant")
    a = masking.token_losses(tiny, tokenizer, ex)
    b = masking.token_losses(tiny, tokenizer, ex, autocast_dtype=torch.bfloat16)
    assert b.masked_loss == pytest.approx(a.masked_loss, abs=0.05)


# --- the failure drill --------------------------------------------------------------------------


def test_drill_template_from_another_format_trains_nothing(tokenizer):
    ex = masking.build_labels(tokenizer, MULTI, "completion")
    drill = masking_drill.string_search_labels(tokenizer, ex, "### Response:")
    assert drill.found_at is None
    assert drill.n_trained == 0 and set(drill.labels) == {IGNORE_INDEX}
    assert ex.n_trained > 0  # prefix rendering gets it right on the same example


def test_drill_own_header_found_on_a_plain_reply(tokenizer):
    ex = masking.build_labels(tokenizer, MULTI, "completion")
    drill = masking_drill.string_search_labels(tokenizer, ex, "<|im_start|>assistant\n")
    assert drill.found_at is not None
    assert drill.labels == ex.labels  # the last match is the final reply's header


def test_drill_own_header_lost_to_tokenization_in_context(tokenizer):
    """'<|im_start|>assistant\\n' tokenized alone ends with '\\n'; in context that '\\n' merged with
    the reply's leading spaces, so the search fails and the count drops to 0."""
    ex = masking.build_labels(tokenizer, CODE, "completion")
    drill = masking_drill.string_search_labels(tokenizer, ex, "<|im_start|>assistant\n")
    assert drill.template_ids[-1] == tokenizer.encode("\n", add_special_tokens=False)[0]
    assert drill.reply_ids[: len(drill.template_ids)] != drill.template_ids
    assert drill.found_at is None and drill.n_trained == 0
    assert ex.n_trained > 0


# --- bad input ----------------------------------------------------------------------------------


def test_empty_response(tokenizer):
    with pytest.raises(ValueError, match="empty"):
        masking.build_labels(tokenizer, masking.prompt_response_messages("Hi", "   "))


def test_no_assistant_turn(tokenizer):
    with pytest.raises(ValueError, match="no assistant message"):
        masking.build_labels(tokenizer, [{"role": "user", "content": "Hi"}])


def test_chat_must_end_with_reply_in_completion_mode(tokenizer):
    chat = MULTI + [{"role": "user", "content": "Thanks"}]
    with pytest.raises(ValueError, match="last message"):
        masking.build_labels(tokenizer, chat, "completion")
    assert masking.build_labels(tokenizer, chat, "assistant").n_trained > 0


@pytest.mark.parametrize(
    "bad,match",
    [([], "non-empty"), ("hello", "non-empty"), ([{"role": "bot", "content": "x"}], "role"),
     ([{"role": "user", "content": 3}], "text content")],
)
def test_malformed_chats(tokenizer, bad, match):
    with pytest.raises(ValueError, match=match):
        masking.build_labels(tokenizer, bad)


def test_bad_mode(tokenizer):
    with pytest.raises(ValueError, match="mode must be one of"):
        masking.build_labels(tokenizer, MULTI, "prompt")


def test_fifty_thousand_characters_truncated_with_notice(tokenizer):
    long = "Arr, " * 10_000  # 50,000 characters
    msgs, notes = masking.clip_chars(masking.prompt_response_messages("Tell me a tale.", long + "the end"))
    assert len(msgs[-1]["content"]) == masking.MAX_CHARS and "cut" in str(notes[0])
    ex = masking.build_labels(tokenizer, msgs, max_length=512)
    assert ex.n_tokens == 512 and ex.truncated and ex.total_tokens > 512
    assert any("only the first 512" in str(n) for n in ex.notices)
    assert ex.n_trained > 0
    # a prompt that fills the window leaves nothing to train: said plainly
    ex2 = masking.build_labels(tokenizer, masking.prompt_response_messages(long, "Short."), max_length=512)
    assert ex2.n_trained == 0 and any("trains nothing" in str(n) for n in ex2.notices)


def test_json_chat_errors():
    with pytest.raises(ValueError, match="not valid JSON"):
        masking.messages_from_json("[{'role': 'user'}]")
    with pytest.raises(ValueError, match="Paste a chat"):
        masking.messages_from_json("  ")
    ok = masking.messages_from_json('{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}')
    assert ok[1] == {"role": "assistant", "content": "b"}



def test_template_preamble_found(tokenizer):
    """SmolLM2's template writes a default system prompt before a chat without one: the spans start
    after it (source of the expected text: the template itself)."""
    ex = masking.build_labels(tokenizer, VIET)
    pre = tokenizer.decode(ex.input_ids[: ex.preamble])
    assert ex.preamble > 0 and pre.startswith("<|im_start|>system\n") and pre.endswith("<|im_end|>\n")
    assert pre.removeprefix("<|im_start|>system\n").removesuffix("<|im_end|>\n") in tokenizer.chat_template
    assert masking.build_labels(tokenizer, MULTI).preamble == 0  # it has its own system prompt


def test_token_bytes_split_vietnamese_letters(tokenizer):
    ex = masking.build_labels(tokenizer, VIET)
    raw = masking.token_bytes(tokenizer, ex.input_ids)
    assert b"".join(raw).decode("utf-8") == tokenizer.decode(ex.input_ids)
    assert any(_is_partial(b) for b in raw)  # some letters really span two tokens


def _is_partial(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


# --- long chats: linear work, same labels -------------------------------------------------------


def prefix_labels(tokenizer, chat, mode, max_length=None):
    """The former build_labels, kept as an oracle: render and tokenize EVERY prefix (quadratic work)."""
    full = tokenizer.apply_chat_template(chat)["input_ids"]
    n, total = len(chat), len(full)
    bounds = [0] + [masking.common_prefix_length(tokenizer.apply_chat_template(chat[:k])["input_ids"], full)
                    for k in range(1, n)] + [total]
    for k in range(1, n + 1):
        bounds[k] = max(bounds[k], bounds[k - 1])
    labels = list(full) if mode == "none" else [IGNORE_INDEX] * total
    for k, m in enumerate(chat):
        if m["role"] == "assistant" and (mode == "assistant" or (mode == "completion" and k == n - 1)):
            gen = tokenizer.apply_chat_template(chat[:k], add_generation_prompt=True)["input_ids"]
            start = min(max(masking.common_prefix_length(gen, full), bounds[k]), bounds[k + 1])
            labels[start:bounds[k + 1]] = full[start:bounds[k + 1]]
    keep = total if max_length is None else max_length
    return full[:keep], labels[:keep], [min(b, keep) for b in bounds[1:]]


def long_chat(n: int) -> list[dict]:
    """n alternating turns, some replies starting with indented code (their first token merges)."""
    return [{"role": "user", "content": f"Question {k}?"} if k % 2 == 0 else
            {"role": "assistant", "content": "    return x" if k % 6 == 1 else f"Answer {k}."} for k in range(n)]


@pytest.mark.parametrize("max_length", [None, 512, 1000])
@pytest.mark.parametrize("mode", ["completion", "assistant"])
def test_long_chat_labels_equal_the_prefix_rendering_method(tokenizer, mode, max_length):
    chat = long_chat(200)
    ex = masking.build_labels(tokenizer, chat, mode, max_length=max_length)
    ids, labels, ends = prefix_labels(tokenizer, chat, mode, max_length)
    assert ex.input_ids == ids and ex.labels == labels
    assert [s.end for s in ex.spans] == ends
    assert ex.truncated == (max_length is not None)
    assert ex.n_trained > 0 if mode == "assistant" or max_length is None else ex.n_trained == 0  # reply cut off


def test_sixteen_hundred_messages_answer_in_bounded_time(tokenizer):
    """1,600 one-character turns took 51 s when every prefix was rendered; the kept window bounds it."""
    import time

    chat = [{"role": "user" if k % 2 == 0 else "assistant", "content": "x"} for k in range(1_600)]
    t0 = time.perf_counter()
    ex = masking.build_labels(tokenizer, chat, "assistant", max_length=512)
    elapsed = time.perf_counter() - t0
    assert ex.n_tokens == 512 and ex.total_tokens > 1_600 * 5  # <|im_start|>user\nx<|im_end|>\n each
    assert ex.n_trained > 0 and elapsed < 5, elapsed


def test_too_many_messages_refused_with_the_limit(tokenizer):
    chat = [{"role": "user" if k % 2 == 0 else "assistant", "content": "x"} for k in range(masking.MAX_MESSAGES + 2)]
    with pytest.raises(ValueError, match=f"at most {masking.MAX_MESSAGES:,} messages; this one has 2,002"):
        masking.build_labels(tokenizer, chat)


# --- coded sentences (the app translates them; headless they read as before) ------------------------


def test_sentences_carry_a_code_and_keep_their_english():
    from lab.errors import LabError

    with pytest.raises(LabError) as e:
        masking.messages_from_json("  ")
    assert e.value.code == "masking.json_empty"
    assert str(e.value) == ('Paste a chat as JSON, e.g. [{"role": "user", "content": "Hi"}, '
                            '{"role": "assistant", "content": "Hello!"}].')
    with pytest.raises(LabError) as e:
        masking.messages_from_json("[1,")
    assert str(e.value) == "The pasted chat is not valid JSON (Expecting value at line 1, column 4)."
    assert e.value.params["problem"].code == "masking.json.expecting_value"
    with pytest.raises(LabError) as e:
        masking.check_messages([{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}])
    assert str(e.value) == "The role of message 2 must be one of system, user, assistant, not 'bot'."
    assert e.value.params["name"].code == "masking.field.role_of_message"
    with pytest.raises(LabError) as e:
        masking_drill.string_search_labels(None, None, "")
    assert e.value.code == "masking_drill.no_template"
    with pytest.raises(LabError, match=r"^The response template must be text, not float\.$"):
        masking_drill.string_search_labels(None, None, float("nan"))  # an API call may send anything
    assert str(masking.MODE_HELP["none"]) == "every token is trained, as in pre-training (the prompt too)"
    assert set(masking.EXAMPLE_TITLES) == set(masking.EXAMPLES)
    assert str(masking.EXAMPLE_TITLES["vietnamese"]) == "Vietnamese chat"
    assert str(masking_drill.DRILL_TEMPLATES["### Response:"]) == "Alpaca-style tutorials"
