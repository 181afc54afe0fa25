"""SFT loss masking: which tokens the model learns from.

SFT keeps the pre-training loss — next-token prediction — but only on the response:

    loss = - (1 / |T|) * sum_{i in T} log p(x_i | x_<i)        T = trained positions

A position is left out of T by setting its label to ``IGNORE_INDEX = -100``: that is the
default ``ignore_index`` of ``torch.nn.CrossEntropyLoss`` (and of ``transformers``' causal-LM
loss), so a -100 label contributes nothing to the sum *and* is not counted in ``|T|``.

Labels here are NOT shifted: ``labels[i]`` is the token at position ``i`` and the model itself
compares the logits at ``i - 1`` with ``labels[i]`` (``transformers`` shifts inside the loss).
So ``labels[0]`` is never used, and a sequence of ``L`` tokens has at most ``L - 1`` predictions.

Where the response is, is found by rendering prefixes of the conversation with the chat template
(the oracle of LLaMA-Factory's tests, and what TRL's ``SFTTrainer`` does for prompt/completion
data), never by searching strings in the text:

    start of message k            = len(tokens(render(messages[:k])))
    start of assistant k's reply  = len(tokens(render(messages[:k], add_generation_prompt=True)))
    end of message k              = len(tokens(render(messages[:k + 1])))

Each length is taken as the common prefix with the tokens of the whole conversation (TRL's
``common_prefix_length``), so a prompt whose last token merges with the reply's first token
(``"\\n"`` + ``"  code"`` -> ``"\\n "``) is cut where the two tokenizations diverge, exactly as
TRL 1.16 does.

Which tokens of an assistant turn are trained: everything the template writes after the
generation prompt up to the start of the next message — the reply's text, its end-of-turn token
(``<|im_end|>`` for SmolLM2's ChatML) and the template's separator after it (``"\\n"``). The
end-of-turn token matters most: it is how the model learns to stop. This is exactly TRL's choice:
its ``completion_only_loss`` trains everything after the rendered prompt, and its training
templates for ``assistant_only_loss`` put ``{% generation %}`` around ``content + '<|im_end|>\\n'``.
The header ``<|im_start|>assistant\\n`` is prompt: at inference the generation prompt supplies it.

A tokenizer without a chat template gets a plain format (:func:`render_plain`) whose replies end
with the EOS token, and the result says so in ``notices``.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field

from lab import checks
from lab.errors import LabError, Msg

IGNORE_INDEX = -100
MODES = ("completion", "assistant", "none")
ROLES = ("system", "user", "assistant")
MAX_MESSAGES = 2_000
"""Messages in one chat: bounds the work of rendering and tokenizing a pasted conversation."""

#: What each mode trains, as a phrase (``str()`` is the English; the app's catalog says it in another language).
MODE_HELP = {
    "completion": Msg("masking.mode_help.completion",
                      "only the final assistant reply is trained (SFT on (prompt, response) pairs)"),
    "assistant": Msg("masking.mode_help.assistant", "every assistant turn of the conversation is trained"),
    "none": Msg("masking.mode_help.none", "every token is trained, as in pre-training (the prompt too)"),
}

#: Headers of the plain fallback format for tokenizers without a chat template.
PLAIN_HEADERS = {"system": "### System:\n", "user": "### User:\n", "assistant": "### Assistant:\n"}
PLAIN_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Span:
    """The tokens ``[start, end)`` of one message; ``[content_start, end)`` is trained if ``trained``.

    ``content_start`` is the end of the header the template writes before the message (for an
    assistant turn: the end of the generation prompt); for other roles it equals ``start``.
    """

    index: int  # position in the messages list
    role: str
    start: int
    content_start: int
    end: int
    trained: bool


@dataclass
class LabeledExample:
    """One SFT example as the model sees it: token ids, labels (-100 where masked) and spans."""

    input_ids: list[int]
    labels: list[int]  # same length as input_ids, NOT shifted (the model shifts)
    spans: list[Span]
    mode: str
    format: str  # "chat template" or "plain (no chat template)"
    messages: list[dict]
    notices: list[Msg] = field(default_factory=list)  # sentences for the reader (str() is the English)
    truncated: bool = False
    total_tokens: int = 0  # before truncation
    preamble: int = 0  # tokens the template writes before the first message (e.g. a default system prompt)

    @property
    def n_tokens(self) -> int:
        return len(self.input_ids)

    @property
    def n_trained(self) -> int:
        """Positions that carry loss: label != -100, excluding position 0 (nothing predicts it)."""
        return sum(1 for lab in self.labels[1:] if lab != IGNORE_INDEX)

    @property
    def wasted_logits_share(self) -> float:
        """Share of the L computed logit rows whose loss is masked away: 1 - n_trained / L.

        The LM head computes L x V logits (V = vocabulary size) for every sequence; only the rows
        at positions i - 1 with ``labels[i] != -100`` enter the loss. The rest is computed for nothing
        (which is why some trainers gather only the trained hidden states before the LM head).
        """
        return 1.0 - self.n_trained / self.n_tokens if self.n_tokens else 0.0


# --- input checks -------------------------------------------------------------------------------


def check_messages(messages) -> list[dict]:
    """Validate a chat: a non-empty list of ``{"role", "content"}`` with known roles and text."""
    if not isinstance(messages, (list, tuple)) or not messages:
        raise LabError("masking.chat_not_list",
                       "A chat must be a non-empty list of messages, each with a 'role' and a 'content'.")
    if len(messages) > MAX_MESSAGES:
        raise LabError("masking.too_many_messages", "A chat can have at most {limit:,} messages; this one has {n:,}.",
                       limit=MAX_MESSAGES, n=len(messages))
    out = []
    for k, m in enumerate(messages):
        if not isinstance(m, dict):
            raise LabError("masking.message_not_object",
                           "Message {k} must be an object with 'role' and 'content', not {kind}.",
                           k=k + 1, kind=type(m).__name__)
        role, content = m.get("role"), m.get("content")
        # one_of quotes the role with repr (shortened): the user's text never reads as markup
        checks.one_of(Msg("masking.field.role_of_message", "The role of message {k}", k=k + 1), role, ROLES)
        if not isinstance(content, str):
            raise LabError("masking.content_not_text", "Message {k} ({role}) must have text content, not {kind}.",
                           k=k + 1, role=role, kind=type(content).__name__)
        out.append({"role": role, "content": content})
    if not any(m["role"] == "assistant" for m in out):
        raise LabError(
            "masking.no_assistant",
            "This chat has no assistant message, so there is no response to learn from: "
            "add a message with role 'assistant' (SFT trains on prompt/response pairs).",
        )
    return out


def _check_mode(mode: str) -> None:
    checks.one_of("The masking mode", mode, MODES)


def _check_replies(messages: list[dict], mode: str) -> None:
    last = len(messages) - 1
    if mode == "completion" and messages[last]["role"] != "assistant":
        raise LabError(
            "masking.last_not_reply",
            "The chat ends with a {role} message; in 'completion' mode the last message "
            "must be the assistant reply that is trained.", role=messages[last]["role"],
        )
    checked = [last] if mode == "completion" else [k for k, m in enumerate(messages) if m["role"] == "assistant"]
    for k in checked:
        if messages[k]["role"] == "assistant" and not messages[k]["content"].strip():
            raise LabError(
                "masking.empty_reply",
                "The assistant reply (message {k}) is empty: there is nothing to train on. Write a response.", k=k + 1,
            )


# --- rendering ----------------------------------------------------------------------------------


def has_chat_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render_plain(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> str:
    """The fallback format for tokenizers without a chat template ("prompt + response")::

        ### System:\\n{system}\\n\\n### User:\\n{prompt}\\n\\n### Assistant:\\n{response}<eos>

    Each assistant reply ends with the EOS token (so the model learns to stop), like TRL's
    ``add_eos`` step for non-conversational data; turns are separated by a blank line.
    """
    eos = tokenizer.eos_token or ""
    parts = []
    for k, m in enumerate(messages):
        text = PLAIN_HEADERS[m["role"]] + m["content"]
        if m["role"] == "assistant":
            text += eos
        if k < len(messages) - 1:
            text += PLAIN_SEPARATOR
        parts.append(text)
    out = "".join(parts)
    if add_generation_prompt:
        out += (PLAIN_SEPARATOR if messages else "") + PLAIN_HEADERS["assistant"]
    return out


def _render(tokenizer, messages: list[dict], add_generation_prompt: bool, chat: bool) -> str:
    if not chat:
        return render_plain(tokenizer, messages, add_generation_prompt)
    if not messages:
        return ""
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    except Exception as e:  # jinja TemplateError (e.g. "roles must alternate") or a template bug
        raise LabError("masking.template_rejects", "The model's chat template rejects this conversation: {error}",
                       error=str(e)) from e


def _tokenize(tokenizer, texts: list[str], chat: bool) -> list[list[int]]:
    """Tokenize rendered texts the way TRL does: a chat template already wrote the special tokens
    (``apply_chat_template`` uses ``add_special_tokens=False``); plain text gets the tokenizer's own
    (a BOS for Llama-style tokenizers), as TRL's ``processing_class(text=...)``."""
    return tokenizer(texts, add_special_tokens=not chat)["input_ids"]


def _render_twice(tokenizer, message: dict, chat: bool) -> str:
    try:
        return _render(tokenizer, [message, message], False, chat)
    except ValueError:  # templates that insist on alternating roles
        return ""


def _preamble_length(once: list[int], twice: list[int], full: list[int]) -> int:
    """Tokens a template writes before the first message (SmolLM2 adds a default system prompt).

    If render([m]) = P + M and render([m, m]) = P + M + M, then len(P) = 2 * len(once) - len(twice).
    Returns 0 when the renderings do not have that shape.
    """
    p = 2 * len(once) - len(twice)
    if not 0 < p < len(once) or twice[: len(once)] != once or twice[len(once):] != once[p:]:
        return 0
    return p if full[:p] == once[:p] else 0


def common_prefix_length(a: list[int], b: list[int]) -> int:
    """Number of leading tokens ``a`` and ``b`` share (TRL's ``common_prefix_length``)."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


# --- labels -------------------------------------------------------------------------------------


def _boundaries(tokenizer, messages: list[dict], full: list[int], chat: bool, keep: int):
    """``bounds[k]`` = first token of message k (``bounds[n]`` = end), and the start of each assistant reply.

    Prefixes are rendered in order, a doubling batch at a time, and only until a message starts at or
    after token ``keep`` (``max_length``): bounds never decrease, so every later message lies past the
    cut too and cannot change a kept label. Rendering prefix k costs O(k), so this bounds the work by
    the turns inside the kept window instead of growing with the square of the whole chat.
    """
    n, total = len(messages), len(full)
    bounds = [0] * n + [total]
    k, batch = 1, 8
    while k < n:
        ks = range(k, min(k + batch, n))
        ids_list = _tokenize(tokenizer, [_render(tokenizer, messages[:j], False, chat) for j in ks], chat)
        for j, ids in zip(ks, ids_list):
            # clipped to be non-decreasing (TRL's common prefix can stop short of a merged token)
            bounds[j] = max(common_prefix_length(ids, full), bounds[j - 1])
        k, batch = ks[-1] + 1, 2 * batch
        if bounds[k - 1] >= keep:  # the rest starts past the cut: same bound as the message before
            bounds[k:n] = [bounds[k - 1]] * (n - k)
            break
    # An assistant reply starts where the rendered generation prompt stops matching the whole.
    assistants = [j for j, m in enumerate(messages) if m["role"] == "assistant"]
    rendered = [j for j in assistants if bounds[j] < bounds[j + 1]]
    ids_list = _tokenize(tokenizer, [_render(tokenizer, messages[:j], True, chat) for j in rendered], chat) if rendered else []
    reply_start = {j: bounds[j] for j in assistants}
    for j, ids in zip(rendered, ids_list):
        reply_start[j] = min(max(common_prefix_length(ids, full), bounds[j]), bounds[j + 1])
    return bounds, reply_start


def build_labels(tokenizer, messages, mode: str = "completion", max_length: int | None = None) -> LabeledExample:
    """Token ids and labels of one chat for SFT, with ``IGNORE_INDEX`` where no loss is taken.

    ``mode``: ``"completion"`` trains only the final assistant reply (the chat must end with it);
    ``"assistant"`` trains every assistant turn; ``"none"`` trains every token. ``max_length``
    truncates to the first ``max_length`` tokens (TRL's ``truncation_mode="keep_start"``) and adds
    a notice. Labels equal TRL 1.16 ``SFTTrainer(completion_only_loss=True)`` on the same chat as
    ``{"prompt": messages[:-1], "completion": messages[-1:]}`` in completion mode.
    """
    _check_mode(mode)
    messages = check_messages(messages)
    _check_replies(messages, mode)
    if max_length is not None:
        max_length = checks.whole_number("max_length (tokens kept)", max_length, 2, 10_000_000)
    chat = has_chat_template(tokenizer)

    n = len(messages)
    # The whole conversation, and for display the first message alone and twice (to find text the
    # template adds before it).
    texts = [_render(tokenizer, messages, False, chat), _render(tokenizer, messages[:1], False, chat),
             _render_twice(tokenizer, messages[0], chat)]
    full, once, twice = (list(ids) for ids in _tokenize(tokenizer, texts, chat))
    total = len(full)
    bounds, reply_start = _boundaries(tokenizer, messages, full, chat, total if max_length is None else max_length)
    preamble = min(_preamble_length(once, twice, full), bounds[1])
    bounds[0] = preamble

    trained_msgs = {"completion": {n - 1}, "assistant": set(reply_start), "none": set(range(n))}[mode]
    labels = list(full) if mode == "none" else [IGNORE_INDEX] * total
    spans = []
    for k, m in enumerate(messages):
        start, end = bounds[k], bounds[k + 1]
        content_start = reply_start.get(k, start)
        trained = k in trained_msgs
        if trained and mode != "none":
            labels[content_start:end] = full[content_start:end]
        spans.append(Span(k, m["role"], start, content_start, end, trained))

    notices = []
    if not chat:
        notices.append(Msg(
            "masking.notice.plain_format",
            "This tokenizer has no chat template, so the lab uses a plain format "
            "('### User:' / '### Assistant:' headers, each reply ending with the EOS token).",
        ))
    truncated = max_length is not None and total > max_length
    if truncated:
        full, labels = full[:max_length], labels[:max_length]
        spans = [
            Span(s.index, s.role, min(s.start, max_length), min(s.content_start, max_length), min(s.end, max_length), s.trained)
            for s in spans
        ]
        notices.append(Msg(
            "masking.notice.truncated",
            "The example has {total:,} tokens; only the first {keep:,} are kept "
            "(truncation_mode='keep_start', as TRL's max_length={keep}).", total=total, keep=max_length,
        ))
    ex = LabeledExample(full, labels, spans, mode, "chat template" if chat else "plain (no chat template)",
                        messages, notices, truncated, total, min(preamble, len(full)))
    if truncated and ex.n_trained == 0:
        ex.notices.append(Msg("masking.notice.nothing_left", "After truncation no response token is left: "
                              "this example trains nothing (TRL drops such rows)."))
    return ex


# --- per-token losses ---------------------------------------------------------------------------


@dataclass
class TokenLosses:
    """Per-token losses of one example under a model.

    ``losses[i] = -log p(input_ids[i] | input_ids[:i])`` for i >= 1 (nan at i = 0: nothing predicts
    the first token). ``masked_loss`` is their mean over trained positions, which is what
    ``model(input_ids, labels=labels).loss`` returns; ``full_loss`` is the mean over every position
    (what the loss would be with no masking).
    """

    example: LabeledExample
    losses: list[float]
    masked_loss: float
    full_loss: float
    prompt_loss: float  # mean over the masked positions (what masking leaves out)


def token_losses(model, tokenizer, example, autocast_dtype=None) -> TokenLosses:
    """Run the model once over ``example`` (a :class:`LabeledExample` or a chat) and score every token.

    logits: (L, V); nll[i] = cross_entropy(logits[i - 1], input_ids[i]) for i = 1..L-1.
    The losses do not depend on the labels (the model sees only ``input_ids``): masking only
    chooses which of them are averaged. ``autocast_dtype`` (e.g. ``torch.bfloat16``) runs the
    forward under ``torch.autocast`` — faster on CPUs with native bf16, losses then differ from
    fp32 by about 1e-2; the loss itself is always taken in fp32.
    """
    import torch
    import torch.nn.functional as F

    if not isinstance(example, LabeledExample):
        example = build_labels(tokenizer, example)
    if example.n_tokens < 2:
        raise LabError("masking.too_short", "The example needs at least 2 tokens to have a next-token loss.")
    device = next(model.parameters()).device
    ids = torch.tensor([example.input_ids], device=device)  # (1, L)
    autocast = (
        torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None else contextlib.nullcontext()
    )
    with torch.inference_mode(), autocast:
        logits = model(input_ids=ids).logits[0].float()  # (L, V)
        nll = F.cross_entropy(logits[:-1], ids[0, 1:], reduction="none")  # (L-1,)
    nll = nll.cpu().tolist()
    losses = [math.nan] + nll
    trained = [lab != IGNORE_INDEX for lab in example.labels]
    on = [x for x, t in zip(losses[1:], trained[1:]) if t]
    off = [x for x, t in zip(losses[1:], trained[1:]) if not t]
    mean = lambda xs: sum(xs) / len(xs) if xs else math.nan  # noqa: E731
    return TokenLosses(example, losses, mean(on), mean(nll), mean(off))


# --- token text for display ---------------------------------------------------------------------


def token_texts(tokenizer, ids: list[int], window: int = 4) -> list[str]:
    """The text each token adds, decoded in context (works for byte-level and SentencePiece vocabularies).

    piece_i = decode(ids[w:i+1]) minus decode(ids[w:i]) with w = i - window. A token that holds only
    part of a multi-byte UTF-8 character (common in Vietnamese) shows as U+FFFD; the token that
    completes the character carries it.
    """
    a = [ids[max(0, i - window): i + 1] for i in range(len(ids))]
    b = [ids[max(0, i - window): i] for i in range(len(ids))]
    da = tokenizer.batch_decode(a)
    db = tokenizer.batch_decode(b)
    out = []
    for x, y in zip(da, db):
        y = y.rstrip("\ufffd")
        out.append(x[len(y):] if x.startswith(y) else x)
    return out


def _gpt2_byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, reversed: each of the 256 bytes is written as one printable char."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(bs, cs)}


_BYTE_DECODER = _gpt2_byte_decoder()


def token_bytes(tokenizer, ids: list[int]) -> list[bytes] | None:
    """The raw UTF-8 bytes of each token for byte-level BPE vocabularies (GPT-2 style, as SmolLM2's);
    None for other vocabularies. Shows that one Vietnamese letter (2-3 bytes) can span two tokens."""
    out = []
    for tok in tokenizer.convert_ids_to_tokens(ids):
        if tok is None or any(ch not in _BYTE_DECODER for ch in tok):
            return None
        out.append(bytes(_BYTE_DECODER[ch] for ch in tok))
    return out


# --- examples -----------------------------------------------------------------------------------

#: Example chats by a stable id (data: they stay as written in every language); their titles are in
#: :data:`EXAMPLE_TITLES`.
EXAMPLES = {
    "multi_turn": [
        {"role": "system", "content": "You are a patient maths tutor. Answer in at most two sentences."},
        {"role": "user", "content": "What is a prime number?"},
        {"role": "assistant", "content": "A prime number is a whole number greater than 1 whose only divisors are 1 and itself, like 2, 3, 5 and 7."},
        {"role": "user", "content": "Is 1 prime?"},
        {"role": "assistant", "content": "No: 1 has only one divisor, and a prime needs exactly two, so 1 is not prime."},
    ],
    "vietnamese": [
        {"role": "user", "content": "Tinh chỉnh có giám sát (SFT) là gì?"},
        {"role": "assistant", "content": "SFT là bước huấn luyện mô hình ngôn ngữ trên các cặp (câu hỏi, câu trả lời) chất lượng cao, để mô hình học cách làm theo chỉ dẫn."},
        {"role": "user", "content": "Mất mát được tính trên những token nào?"},
        {"role": "assistant", "content": "Chỉ trên các token của câu trả lời; các token của câu hỏi có nhãn -100 nên bị bỏ qua."},
    ],
    "indented_code": [
        {"role": "user", "content": "Write the body of a Python function that returns the square of x."},
        {"role": "assistant", "content": "    return x * x"},
    ],
}
EXAMPLE_TITLES = {
    "multi_turn": Msg("masking.example.multi_turn", "Multi-turn chat + system prompt"),
    "vietnamese": Msg("masking.example.vietnamese", "Vietnamese chat"),
    "indented_code": Msg("masking.example.indented_code", "Reply starting with indented code"),
}

#: Python's own words for a JSON syntax error (``json.JSONDecodeError.msg``), as phrases the app can translate.
JSON_PROBLEMS = {
    "Expecting value": Msg("masking.json.expecting_value", "Expecting value"),
    "Expecting property name enclosed in double quotes":
        Msg("masking.json.expecting_name", "Expecting property name enclosed in double quotes"),
    "Expecting ':' delimiter": Msg("masking.json.expecting_colon", "Expecting ':' delimiter"),
    "Expecting ',' delimiter": Msg("masking.json.expecting_comma", "Expecting ',' delimiter"),
    "Extra data": Msg("masking.json.extra_data", "Extra data"),
    "Unterminated string starting at": Msg("masking.json.unterminated", "Unterminated string starting at"),
    "Invalid control character at": Msg("masking.json.control_character", "Invalid control character at"),
    "Invalid \\escape": Msg("masking.json.invalid_escape", "Invalid \\escape"),
}

MAX_CHARS = 50_000


def messages_from_json(text: str) -> list[dict]:
    """Parse a chat pasted as JSON: a list of messages, or an object with a 'messages' list."""
    if not text or not text.strip():
        raise LabError("masking.json_empty", 'Paste a chat as JSON, e.g. [{{"role": "user", "content": "Hi"}}, '
                       '{{"role": "assistant", "content": "Hello!"}}].')
    if len(text) > 4 * MAX_CHARS:
        raise LabError("masking.json_too_long", "The pasted JSON has {n:,} characters; the limit is {limit:,}.",
                       n=len(text), limit=4 * MAX_CHARS)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise LabError("masking.json_invalid", "The pasted chat is not valid JSON ({problem} at line {line}, column {column}).",
                       problem=JSON_PROBLEMS.get(e.msg, e.msg), line=e.lineno, column=e.colno) from None
    except RecursionError:
        raise LabError("masking.json_too_deep",
                       "The pasted JSON is nested too deeply: a chat is a flat list of messages.") from None
    if isinstance(data, dict) and "messages" in data:
        data = data["messages"]
    return check_messages(data)


def prompt_response_messages(prompt: str, response: str, system: str = "") -> list[dict]:
    """A single-turn chat from a typed prompt and response (and an optional system prompt)."""
    if not (prompt or "").strip():
        raise LabError("masking.prompt_empty", "The prompt is empty: type the user's question or instruction.")
    msgs = [{"role": "system", "content": system}] if (system or "").strip() else []
    return msgs + [{"role": "user", "content": prompt}, {"role": "assistant", "content": response or ""}]


def clip_chars(messages: list[dict], max_chars: int = MAX_CHARS) -> tuple[list[dict], list[Msg]]:
    """Cut each message to ``max_chars`` characters, with a notice for each cut."""
    out, notices = [], []
    for k, m in enumerate(messages):
        c = m["content"]
        if len(c) > max_chars:
            notices.append(Msg("masking.notice.cut", "Message {k} ({role}) had {n:,} characters; it was cut to the first "
                               "{limit:,}.", k=k + 1, role=m["role"], n=len(c), limit=max_chars))
            c = c[:max_chars]
        out.append({**m, "content": c})
    return out, notices


__all__ = [
    "IGNORE_INDEX", "MODES", "Span", "LabeledExample", "build_labels", "TokenLosses", "token_losses",
    "token_texts", "token_bytes", "render_plain", "common_prefix_length",
    "check_messages", "messages_from_json", "prompt_response_messages", "clip_chars", "EXAMPLES", "EXAMPLE_TITLES", "MAX_CHARS",
    "MAX_MESSAGES",
]
