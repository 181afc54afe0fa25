"""Talking to the model: its real chat template, greedy or sampled decoding, streamed tokens."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import torch

from lab import checks, cores
from lab.errors import LabError, LabRuntimeError, Msg

MAX_NEW_TOKENS = 1024
MAX_PROMPT_CHARS = 20_000
MAX_MESSAGES = 200
TEMPERATURE_RANGE = (0.05, 2.0)
TOP_P_RANGE = (0.05, 1.0)
# The decoding modes, as values (the chat's radio shows them in the user's language).
GREEDY, SAMPLED = "greedy", "sampled"
MODES = (GREEDY, SAMPLED)
# A system message may open the conversation; after it, turns are the user's or the assistant's.
ROLES = ("user", "assistant")
# The name of the thread that runs model.generate() behind stream_chat (one per streamed reply).
GENERATION_THREAD = "lab.chat generation"
#: What an empty message gets (the chat warns with it; :func:`check_messages` refuses with it).
EMPTY_MESSAGE = Msg("chat.empty_message", "Type a message first.")


@dataclass(frozen=True)
class Decoding:
    """How to pick each next token."""

    max_new_tokens: int = 128
    # Greedy (always the most likely token) is reproducible; sampling draws from the
    # distribution, sharpened or flattened by temperature and cut to the top_p mass.
    do_sample: bool = False
    temperature: float = 0.7
    top_p: float = 0.9

    def __post_init__(self):
        # Values may come from the HTTP API, not a slider: "3", 2.5, NaN, inf or 1e30.
        set_ = object.__setattr__  # frozen: store the checked, converted values
        set_(self, "max_new_tokens", checks.whole_number("Max new tokens", self.max_new_tokens, 1, MAX_NEW_TOKENS))
        set_(self, "temperature", checks.number("Temperature", self.temperature, *TEMPERATURE_RANGE))
        set_(self, "top_p", checks.number("Top-p", self.top_p, *TOP_P_RANGE))
        if not isinstance(self.do_sample, bool):
            raise LabError("chat.do_sample", "do_sample must be True or False, not {value}.",
                           value=f"{self.do_sample!r:.40}")

    @classmethod
    def of(cls, mode: str, temperature: float, top_p: float, max_new_tokens: int) -> Decoding:
        """The decoding the chat's settings describe; ``mode`` is one of MODES, compared by value."""
        mode = checks.one_of("Decoding mode", mode, MODES)
        return cls(max_new_tokens=max_new_tokens, do_sample=mode == SAMPLED, temperature=temperature, top_p=top_p)

    def generate_kwargs(self, tokenizer) -> dict:
        kwargs = {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": self.do_sample,
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        }
        if self.do_sample:
            kwargs.update(temperature=self.temperature, top_p=self.top_p)
        else:  # keep generation_config's sampling defaults from warning under greedy decoding
            kwargs.update(temperature=None, top_p=None, top_k=None)
        return kwargs


def _quoted(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_messages(messages: list[dict]) -> None:
    """Refuse, with one sentence, a conversation the chat template cannot take.

    A list of at most MAX_MESSAGES dicts, each with a ``role`` ('system' first only, then 'user' or
    'assistant') and a text ``content``; MAX_PROMPT_CHARS characters in all; the last turn is the user's.
    """
    if not isinstance(messages, (list, tuple)):
        raise LabError("chat.not_a_list", "The conversation must be a list of messages, not {kind}.",
                       kind=type(messages).__name__)
    if len(messages) > MAX_MESSAGES:
        raise LabError("chat.too_many", "The conversation has {n:,} messages; the limit is {limit:,}.",
                       n=len(messages), limit=MAX_MESSAGES)
    total = 0
    for number, m in enumerate(messages, 1):
        if not isinstance(m, dict):
            raise LabError("chat.not_a_dict", "Message {number} must be a dict with a role and a content, not {kind}.",
                           number=number, kind=type(m).__name__)
        role = m.get("role")
        if not (role in ROLES or (role == "system" and number == 1)):
            raise LabError("chat.bad_role", "Message {number} has the role {role}; a role is 'user' or 'assistant' "
                           "('system' only for the first message).", number=number, role=_quoted(role))
        content = m.get("content")
        if not isinstance(content, str):
            raise LabError("chat.not_text", "Message {number} ({role}) must have text as its content, not {kind}.",
                           number=number, role=role, kind=type(content).__name__)
        total += len(content)
    if total > MAX_PROMPT_CHARS:
        raise LabError("chat.too_long", "The conversation is {n:,} characters long; the limit is {limit:,}.",
                       n=total, limit=MAX_PROMPT_CHARS)
    if not messages or messages[-1]["role"] != "user":
        raise LabError("chat.last_not_user", "The conversation must end with a user message.")
    if not messages[-1]["content"].strip():
        raise LabError(EMPTY_MESSAGE.code, EMPTY_MESSAGE.english)


def _inputs(tokenizer, messages, device):
    enc = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    return {k: v.to(device) for k, v in enc.items()}


def _stop_when_set(event: threading.Event):
    """A StoppingCriteria that ends generation at the next token once ``event`` is set."""
    from transformers import StoppingCriteria

    class StopWhenSet(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs) -> torch.BoolTensor:
            # one flag per sequence in the batch, as generate() expects
            return torch.full((input_ids.shape[0],), event.is_set(), dtype=torch.bool, device=input_ids.device)

    return StopWhenSet()


def _fit_cores():
    """A StoppingCriteria that never stops: at each token it re-reads this generation's share of the cores
    (lab.cores), so a reply started beside a training run gives cores back when the run ends, and the reverse."""
    from transformers import StoppingCriteria

    class FitCores(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs) -> torch.BoolTensor:
            cores.fit()
            return torch.zeros((input_ids.shape[0],), dtype=torch.bool, device=input_ids.device)

    return FitCores()


def generate(model, criteria=(), **kwargs):
    """``model.generate(**kwargs)`` in a lane of its own (:mod:`lab.cores`), without gradients."""
    from transformers import StoppingCriteriaList

    with cores.lane(), torch.inference_mode():
        return model.generate(**kwargs, stopping_criteria=StoppingCriteriaList([*criteria, _fit_cores()]))


def stream_chat(model, tokenizer, messages: list[dict], decoding: Decoding = Decoding(), stop: threading.Event | None = None):
    """Yield the reply as it grows, token by token (the model's chat template applied).

    Generation runs in a thread named GENERATION_THREAD. It ends at the next token when ``stop`` is set,
    or when the consumer goes away: closing this generator (Gradio does when the client disconnects)
    stops and joins the thread, so an abandoned 1,024-token answer does not keep the CPU busy.
    """
    check_messages(messages)
    inputs = _inputs(tokenizer, messages, model.device)
    yield from _stream(model, tokenizer, inputs, decoding.generate_kwargs(tokenizer), stop)


# ---- no chat template: the same weights as a plain next-word predictor ----------------------------

def raw_text(messages: list[dict]) -> str:
    """The conversation as one plain text, without the chat template: what a next-word predictor continues.

    No role markers and no system prompt are added. Each user message starts a new line after the text
    before it; each model reply (a continuation) is appended to the text it continued, as the model
    wrote it. A first system message is text like any other. The conversation is checked first.
    """
    check_messages(messages)
    text = ""
    for m in messages:
        if m["role"] == "assistant":
            text += m["content"]
        else:
            text += ("\n" if text else "") + m["content"]
    return text


def _raw_inputs(tokenizer, text: str, device) -> dict:
    # add_special_tokens=False: nothing but the text's own tokens (SmolLM2's tokenizer adds none anyway)
    enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    return {k: v.to(device) for k, v in enc.items()}


def _raw_generate_kwargs(tokenizer, decoding: Decoding) -> dict:
    """Generation ends only at ``<|endoftext|>`` (the end of a document, where the vocabulary has it) or after
    max_new_tokens: not at the end-of-turn token, which an instruction-tuned model predicts here too."""
    kwargs = decoding.generate_kwargs(tokenizer)
    end_of_text = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    has_it = isinstance(end_of_text, int) and end_of_text != tokenizer.unk_token_id
    kwargs["eos_token_id"] = end_of_text if has_it else None
    return kwargs


def stream_continuation(model, tokenizer, messages: list[dict], decoding: Decoding = Decoding(),
                        stop: threading.Event | None = None):
    """Yield the continuation of :func:`raw_text` of ``messages`` as it grows: no template, no roles.

    Special tokens the model writes (``<|im_end|>``, ``<|im_start|>``) are kept in the text: they are
    part of what it predicts. Closing the generator or setting ``stop`` ends generation, as in
    :func:`stream_chat`.
    """
    text = raw_text(messages)
    inputs = _raw_inputs(tokenizer, text, model.device)
    yield from _stream(model, tokenizer, inputs, _raw_generate_kwargs(tokenizer, decoding), stop,
                       skip_special_tokens=False)


def continuation(model, tokenizer, messages: list[dict], decoding: Decoding = Decoding()) -> str:
    """The whole continuation of :func:`raw_text` of ``messages`` (no streaming), special tokens kept."""
    inputs = _raw_inputs(tokenizer, raw_text(messages), model.device)
    out = generate(model, **inputs, **_raw_generate_kwargs(tokenizer, decoding))
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=False)


def _stream(model, tokenizer, inputs: dict, generate_kwargs: dict, stop: threading.Event | None,
            skip_special_tokens: bool = True):
    """Run ``model.generate`` in a thread and yield the decoded new text as it grows (see stream_chat)."""
    from transformers import TextIteratorStreamer

    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=skip_special_tokens,
                                    timeout=120)
    stop = stop or threading.Event()
    errors: list[BaseException] = []

    def run():
        try:
            generate(model, [_stop_when_set(stop)], **inputs, streamer=streamer, **generate_kwargs)
        except BaseException as e:  # surfaced to the caller below
            errors.append(e)
            streamer.end()

    thread = threading.Thread(target=run, name=GENERATION_THREAD, daemon=True)
    thread.start()
    text = ""
    try:
        for piece in streamer:
            text += piece
            yield text
    finally:  # normal end, an error, or GeneratorExit when the consumer closes us
        stop.set()
        thread.join(timeout=30)  # one more decoding step at most
    if errors:
        raise LabRuntimeError("chat.generation_failed", "Generation failed: {error}", error=errors[0]) from errors[0]


def answer(model, tokenizer, messages: list[dict], decoding: Decoding = Decoding()) -> str:
    """The model's whole reply to ``messages`` (no streaming)."""
    check_messages(messages)
    inputs = _inputs(tokenizer, messages, model.device)
    out = generate(model, **inputs, **decoding.generate_kwargs(tokenizer))
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()


def answer_batch(model, tokenizer, prompts: list[str], decoding: Decoding = Decoding(), batch_size: int = 8) -> list[str]:
    """Greedy/sampled answers to many single-turn prompts, left-padded in batches (faster on CPU)."""
    replies: list[str] = []
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        for start in range(0, len(prompts), batch_size):
            chunk = [[{"role": "user", "content": p}] for p in prompts[start : start + batch_size]]
            texts = [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in chunk]
            enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            out = generate(model, **enc, **decoding.generate_kwargs(tokenizer))
            new = out[:, enc["input_ids"].shape[1] :]
            replies += [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
    finally:
        tokenizer.padding_side = old_side
    return replies
