"""Talking to the model: its real chat template, greedy or sampled decoding, streamed tokens."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import torch

MAX_NEW_TOKENS = 1024
MAX_PROMPT_CHARS = 20_000


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
        if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise ValueError(f"max new tokens must be between 1 and {MAX_NEW_TOKENS}, not {self.max_new_tokens}.")
        if not 0.05 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must be between 0.05 and 2, not {self.temperature}.")
        if not 0.05 <= self.top_p <= 1.0:
            raise ValueError(f"top_p must be between 0.05 and 1, not {self.top_p}.")

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


def check_messages(messages: list[dict]) -> None:
    if not messages or messages[-1].get("role") != "user":
        raise ValueError("The conversation must end with a user message.")
    if not messages[-1].get("content", "").strip():
        raise ValueError("Type a message first.")
    total = sum(len(m.get("content") or "") for m in messages)
    if total > MAX_PROMPT_CHARS:
        raise ValueError(f"The conversation is {total:,} characters long; the limit is {MAX_PROMPT_CHARS:,}.")


def _inputs(tokenizer, messages, device):
    enc = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    return {k: v.to(device) for k, v in enc.items()}


def stream_chat(model, tokenizer, messages: list[dict], decoding: Decoding = Decoding()):
    """Yield the reply as it grows, token by token (the model's chat template applied)."""
    from transformers import TextIteratorStreamer

    check_messages(messages)
    inputs = _inputs(tokenizer, messages, model.device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=120)
    errors: list[BaseException] = []

    def run():
        try:
            with torch.inference_mode():
                model.generate(**inputs, streamer=streamer, **decoding.generate_kwargs(tokenizer))
        except BaseException as e:  # surfaced to the caller below
            errors.append(e)
            streamer.end()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    text = ""
    for piece in streamer:
        text += piece
        yield text
    thread.join()
    if errors:
        raise RuntimeError(f"Generation failed: {errors[0]}") from errors[0]


def answer(model, tokenizer, messages: list[dict], decoding: Decoding = Decoding()) -> str:
    """The model's whole reply to ``messages`` (no streaming)."""
    check_messages(messages)
    inputs = _inputs(tokenizer, messages, model.device)
    with torch.inference_mode():
        out = model.generate(**inputs, **decoding.generate_kwargs(tokenizer))
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
            with torch.inference_mode():
                out = model.generate(**enc, **decoding.generate_kwargs(tokenizer))
            new = out[:, enc["input_ids"].shape[1] :]
            replies += [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
    finally:
        tokenizer.padding_side = old_side
    return replies
