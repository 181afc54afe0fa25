"""Tab 2 — SFT masking: which tokens of an example carry the loss, on the real model."""

from __future__ import annotations

import functools
import html
import math
import os

import gradio as gr
from gradio.context import Context

from lab import checks, data, masking, masking_drill, models
from lab.ui.style import user_errors

MAX_TOKENS = 512  # tokens scored per example (keep_start truncation beyond, with a notice)

DATASET_CHOICES = {f"{data.BUNDLED[name].title} — dataset row": name for name in ("pirate", "json")}
OWN = "Your own prompt / response"
JSON_CHOICE = "Paste a chat as JSON"
EXAMPLE_CHOICES = list(DATASET_CHOICES) + list(masking.EXAMPLES) + [OWN, JSON_CHOICE]

MODE_CHOICES = [
    ("completion — only the final reply", "completion"),
    ("assistant — every assistant turn", "assistant"),
    ("none — every token (pre-training)", "none"),
]

DEFAULT_JSON = """[
  {"role": "system", "content": "You answer in one short sentence."},
  {"role": "user", "content": "Why is the sky blue?"},
  {"role": "assistant", "content": "Air scatters blue sunlight more than red, so blue light reaches us from all over the sky."}
]"""

EXPLAIN = """
### Why mask?
SFT keeps the pre-training objective — **predict the next token** — but takes the loss **only on
the response**. The prompt is given at inference time; training on it would teach the model to
write users' questions (and, with a fixed system prompt, to memorise it) instead of answering.

**What -100 means.** Each position *i* has a label: the token the model should predict there.
`torch.nn.CrossEntropyLoss` (and the loss inside `transformers`) has `ignore_index=-100`: a position
labelled **-100 adds nothing to the sum and is not counted in the mean**:

loss = − (1/|T|) · Σ<sub>i∈T</sub> log p(x<sub>i</sub> | x<sub>&lt;i</sub>),  T = positions whose label ≠ -100

Labels are **not shifted** here: the model compares its logits at *i − 1* with the label at *i*.
The reply's end-of-turn token `<|im_end|>` is trained too — that is how the model learns to stop.

**Where is the response?** The lab renders the chat template on prefixes of the conversation
(`messages[:k]` with `add_generation_prompt=True`) and counts tokens — it never searches strings.
"""

DRILL_EXPLAIN = """
### Failure drill: searching for the response template
Older recipes (TRL's `DataCollatorForCompletionOnlyLM`, Unsloth's `train_on_responses_only`,
FastChat's length arithmetic) found the reply by tokenizing a **response template alone** and
searching its token ids in the sequence. Tokenized alone, a template need not match the same text
tokenized in context (BPE merges across the boundary), and a template copied from another model's
format is not there at all. **Not found → every label becomes -100**: the example silently trains
nothing (only a log warning). The opposite slip — no collator at all, labels = input_ids — trains
the whole prompt: that is mode **none** above. Pick a template below and compare the counts; the
"Reply starting with indented code" example loses even this model's own header
`<|im_start|>assistant` + newline, because that newline token merges with the spaces that follow.
"""

CSS_TEMPLATE = """
.mk-strip { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px;
  line-height: 2.0; padding: 10px; border: 1px solid #cbd5e1; border-radius: 8px; background: #fff;
  color: #0f172a; max-height: 420px; overflow-y: auto; }
.mk-tok { display: inline-block; padding: 0 3px; margin: 1px 1px; border-radius: 4px; white-space: pre;
  border: 1px solid transparent; line-height: 1.5; }
.mk-masked { background: #f1f5f9; color: #94a3b8; border: 1px dashed #cbd5e1; }
.mk-pending { background: #e0e7ff; color: #1e1b4b; border-color: #a5b4fc; }
.mk-special { font-weight: 700; }
.mk-ws { color: #94a3b8; }
.mk-role { display: inline-block; font-family: ui-sans-serif, system-ui, sans-serif; font-size: 10px;
  text-transform: uppercase; letter-spacing: .05em; color: #fff; background: #64748b; border-radius: 3px;
  padding: 0 4px; margin: 0 3px 0 0; line-height: 1.5; }
.mk-role-assistant { background: #4f46e5; }
.mk-role-template { background: #94a3b8; }
.mk-bytes { font-size: 10px; color: #475569; }
.mk-legend { font-family: ui-sans-serif, system-ui, sans-serif; font-size: 12px; color: #334155; margin: 6px 2px; }
.mk-legend .mk-tok { margin-right: 6px; }
.mk-cards { display: flex; flex-wrap: wrap; gap: 8px; font-family: ui-sans-serif, system-ui, sans-serif; }
.mk-card { flex: 1 1 130px; border: 1px solid #cbd5e1; border-radius: 8px; padding: 8px 10px; background: #fff; }
.mk-card .v { font-size: 22px; font-weight: 700; color: #0f172a; }
.mk-card .k { font-size: 12px; color: #475569; }
.mk-card.bad .v { color: #dc2626; }
.mk-card.good .v { color: #059669; }
.mk-ids { font-family: ui-monospace, monospace; font-size: 12px; color: #334155; }
"""


# --- data and models ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _dataset(name: str):
    return data.load_sft_dataset(name, split="train")


def model_choices() -> list[tuple[str, str]]:
    """The bundled model always; a base checkpoint too when ``LAB_MODEL`` names one."""
    choices = [("Bundled: SmolLM2-135M-Instruct", "bundled")]
    if os.environ.get("LAB_MODEL"):
        choices.append((f"Base checkpoint: {os.environ['LAB_MODEL']}", "base"))
    return choices


def _model_name(choice: str) -> str | None:
    """What ``lab.models`` calls the choice; ``None`` is the shared default (no double loading)."""
    if choice == "base":
        if not os.environ.get("LAB_MODEL"):
            raise ValueError("No base checkpoint is configured: set LAB_MODEL to a local model directory.")
        return None  # LAB_MODEL is what name=None means
    if os.environ.get("LAB_MODEL"):
        local = models.bundled_model_dir()
        return str(local) if local is not None else models.HUB_ID
    return None


def example_messages(choice: str, row: float, prompt: str, response: str, system: str, chat_json: str):
    """The chat the user picked, as validated messages."""
    if choice in DATASET_CHOICES:
        ds = _dataset(DATASET_CHOICES[choice])
        index = checks.whole_number("The dataset row", row, 1, len(ds)) - 1
        return ds[index]["messages"]
    if choice in masking.EXAMPLES:
        return masking.EXAMPLES[choice]
    if choice == OWN:
        return masking.prompt_response_messages(prompt, response, system)
    if choice == JSON_CHOICE:
        return masking.messages_from_json(chat_json)
    checks.one_of("The example", choice, EXAMPLE_CHOICES)  # raises: every choice is handled above


@functools.lru_cache(maxsize=64)
def _losses_cached(model_choice: str, ids: tuple[int, ...]) -> tuple[float, ...]:
    """Per-token losses depend only on the model and the token ids, not on the labels: cache them,
    so switching the masking mode does not run the model again."""
    name = _model_name(model_choice)
    tok, model = models.shared_tokenizer(name), models.shared_model(name)
    ex = masking.LabeledExample(list(ids), list(ids), [], "none", "", [])
    return tuple(masking.token_losses(model, tok, ex, autocast_dtype=loss_dtype()).losses)


def loss_dtype():
    """The lab's compute dtype (``models.compute_dtype``): bf16 autocast where the hardware has native
    bf16 (about 2x faster than fp32 here; per-token losses within ~0.2 nats, their means within ~1e-3), else None (fp32)."""
    import torch

    dt = models.compute_dtype()
    return None if dt == torch.float32 else dt


def analyse(choice, row, prompt, response, system, chat_json, mode, model_choice, template, with_losses=True):
    """Everything the tab shows, computed by ``lab.masking``; returns a dict (used by the bench too)."""
    name = _model_name(model_choice)
    tok = models.shared_tokenizer(name)
    messages = masking.check_messages(example_messages(choice, row, prompt, response, system, chat_json))
    messages, notices = masking.clip_chars(messages)
    ex = masking.build_labels(tok, messages, mode, max_length=MAX_TOKENS)
    ex.notices[:0] = notices
    drill = masking_drill.string_search_labels(tok, ex, template)
    losses = list(_losses_cached(model_choice, tuple(ex.input_ids))) if with_losses else None
    return {"tokenizer": tok, "example": ex, "drill": drill, "losses": losses,
            "texts": masking.token_texts(tok, ex.input_ids), "bytes": masking.token_bytes(tok, ex.input_ids)}


# --- HTML formatting ----------------------------------------------------------------------------

LOSS_MAX = 8.0  # nats at the red end of the colour scale
_STOPS = [(0.0, (220, 252, 231)), (2.0, (254, 249, 195)), (4.0, (254, 215, 170)), (6.0, (252, 165, 165)), (8.0, (239, 68, 68))]


def loss_colour(loss: float) -> str:
    """Green (the model predicted it, loss ~0) -> yellow -> red (surprised, >= 8 nats)."""
    x = min(max(loss, 0.0), LOSS_MAX)
    for (x0, c0), (x1, c1) in zip(_STOPS, _STOPS[1:]):
        if x <= x1:
            f = (x - x0) / (x1 - x0)
            return "rgb({},{},{})".format(*(round(a + f * (b - a)) for a, b in zip(c0, c1)))
    return "rgb(239,68,68)"


def visible(text: str) -> str:
    """HTML-escape a token's text and make its whitespace visible (· space, ↵ newline, → tab)."""
    out = []
    for ch in text:
        if ch == " ":
            out.append('<span class="mk-ws">·</span>')
        elif ch == "\n":
            out.append('<span class="mk-ws">↵</span>')
        elif ch == "\t":
            out.append('<span class="mk-ws">→</span>')
        else:
            out.append(html.escape(ch))
    return "".join(out) or '<span class="mk-ws">∅</span>'


def token_strip(tokenizer, ex: masking.LabeledExample, texts, labels, losses=None, raw=None) -> str:
    """The sequence as inline token boxes: masked grey, trained coloured by loss; title = details.

    ``raw``: each token's bytes (byte-level vocabularies); a token holding part of a multi-byte
    letter shows its bytes in hex, e.g. ‹e1 bb›."""
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    starts = {s.start: s.role for s in ex.spans}
    if ex.preamble:
        starts[0] = "template"
    parts = []
    for i, (tid, text, lab) in enumerate(zip(ex.input_ids, texts, labels)):
        if i in starts:
            role = starts[i]
            tip = ' title="text the chat template adds by itself (SmolLM2: a default system prompt)"' if role == "template" else ""
            parts.append(f'<span class="mk-role mk-role-{role}"{tip}>{role}</span>')
        loss = losses[i] if losses is not None else math.nan
        trained = lab != masking.IGNORE_INDEX and i > 0
        loss_txt = "—" if math.isnan(loss) else f"{loss:.2f}"
        partial = raw is not None and "\ufffd" in text
        shown = repr(text) if raw is None else f"{text!r} (bytes {raw[i].hex(' ')})"
        title = f"#{i} · {shown} · id {tid} · label {lab} · loss {loss_txt}" + ("" if trained else " (not counted)")
        cls = ["mk-tok"]
        style = ""
        if not trained:
            cls.append("mk-masked")
        elif losses is None:
            cls.append("mk-pending")
        else:
            style = f' style="background:{loss_colour(loss)}"'
        if tid in special:
            cls.append("mk-special")
        inner = f'<span class="mk-bytes">‹{raw[i].hex(" ")}›</span>' if partial else visible(text)
        parts.append(f'<span class="{" ".join(cls)}"{style} title="{html.escape(title)}">{inner}</span>')
        if "\n" in text:
            parts.append("<br>")
    return f'<div class="mk-strip" data-view="{view_stamp(ex, losses)}">' + "".join(parts) + "</div>"


def legend(with_losses: bool) -> str:
    items = ['<span class="mk-tok mk-masked">masked (-100)</span>']
    if with_losses:
        items += [f'<span class="mk-tok" style="background:{loss_colour(v)}">loss {v:g}</span>' for v in (0, 2, 4, 6, 8)]
    else:
        items.append('<span class="mk-tok mk-pending">trained (loss pending…)</span>')
    return '<div class="mk-legend">' + "".join(items) + " · hover a token for its id, label and loss · · = space, ↵ = newline, ‹e1 bb› = bytes of part of a letter</div>"


def card(value: str, key: str, kind: str = "") -> str:
    return f'<div class="mk-card {kind}"><div class="v">{value}</div><div class="k">{key}</div></div>'


def view_stamp(ex: masking.LabeledExample, losses) -> str:
    """Which view an output shows (mode, sizes, labels only or with losses): the numbers and the strip
    of one answer carry the same stamp, so a reader (or a browser test) can tell they belong together."""
    return f"{ex.mode}:{ex.n_tokens}:{ex.n_trained}:{'labels' if losses is None else 'losses'}"


def numbers_html(ex: masking.LabeledExample, losses) -> str:
    n_pred = max(ex.n_tokens - 1, 1)
    trained = [i for i in range(1, ex.n_tokens) if ex.labels[i] != masking.IGNORE_INDEX]
    cards = [
        card(f"{ex.n_tokens:,}", "tokens in total (as the model sees them)"),
        card(f"{ex.n_trained:,}", f"tokens that carry loss ({ex.n_trained / n_pred:.0%} of predictions)", "good" if ex.n_trained else "bad"),
    ]
    if losses is not None:
        masked = sum(losses[i] for i in trained) / len(trained) if trained else math.nan
        full = sum(losses[1:]) / n_pred
        cards.append(card("—" if math.isnan(masked) else f"{masked:.3f}", f"mean loss with masking ({ex.mode})"))
        cards.append(card(f"{full:.3f}", "mean loss without masking (every token)"))
    else:
        cards.append(card("…", "mean loss with masking"))
        cards.append(card("…", "mean loss without masking"))
    cards.append(card(f"{ex.wasted_logits_share:.0%}", "of the logits computed are wasted on masked positions"))
    return f'<div class="mk-cards" data-view="{view_stamp(ex, losses)}">' + "".join(cards) + "</div>"


def notices_md(ex: masking.LabeledExample) -> str:
    dt = loss_dtype()
    head = (f"Format: **{ex.format}** · mode **{ex.mode}**: {masking.MODE_HELP[ex.mode]}. "
            f"Losses computed in {'fp32' if dt is None else str(dt).replace('torch.', '') + ' autocast'}.")
    return "\n\n".join([head] + [f"⚠️ {n}" for n in ex.notices])


def table_rows(ex, texts, losses):
    rows = []
    for i, (tid, text, lab) in enumerate(zip(ex.input_ids, texts, ex.labels)):
        loss = losses[i] if losses is not None else math.nan
        counted = "yes" if (lab != masking.IGNORE_INDEX and i > 0) else "no"
        rows.append([i, repr(text)[1:-1], tid, lab, None if math.isnan(loss) else round(loss, 4), counted])
    return rows


def drill_html(tok, ex, drill: masking_drill.DrillResult, texts, raw=None) -> str:
    right = ex.n_trained
    wrong = drill.n_trained
    kind = "bad" if wrong == 0 else ("good" if drill.labels == ex.labels else "")
    found = "not found" if drill.found_at is None else f"found, last match at token {drill.found_at}"
    ids_alone = ", ".join(str(i) for i in drill.template_ids)
    ids_ctx = ", ".join(str(i) for i in drill.reply_ids)
    cards = (
        '<div class="mk-cards">'
        + card(f"{wrong:,}", f"supervised tokens, string search ({found})", kind)
        + card(f"{right:,}", "supervised tokens, prefix rendering (the lab)", "good")
        + "</div>"
    )
    ids = (
        f'<div class="mk-ids">template {html.escape(repr(drill.template))} tokenized alone: [{ids_alone}]<br>'
        f"the last reply's header in context: [{ids_ctx}]</div>"
    )
    strip = token_strip(tok, ex, texts, drill.labels, raw=raw)
    return cards + ids + strip


# --- handler and layout -------------------------------------------------------------------------


@user_errors
def show(choice, row, prompt, response, system, chat_json, mode, model_choice, template):
    """Yield the view twice: at once with labels and counts, then with the model's losses."""
    r = analyse(choice, row, prompt, response, system, chat_json, mode, model_choice, template, with_losses=False)
    tok, ex, texts, drill, raw = r["tokenizer"], r["example"], r["texts"], r["drill"], r["bytes"]
    dr = drill_html(tok, ex, drill, texts, raw)
    yield (numbers_html(ex, None), notices_md(ex), legend(False) + token_strip(tok, ex, texts, ex.labels, raw=raw),
           table_rows(ex, texts, None), dr)
    losses = list(_losses_cached(model_choice, tuple(ex.input_ids)))
    yield (numbers_html(ex, losses), notices_md(ex), legend(True) + token_strip(tok, ex, texts, ex.labels, losses, raw),
           table_rows(ex, texts, losses), dr)


def _rows(choice) -> int:
    """Rows of the chosen dataset: the row slider's maximum (2 for the other examples, where it is hidden)."""
    return len(_dataset(DATASET_CHOICES[choice])) if choice in DATASET_CHOICES else 2


def _visibility(choice, row):
    """Show the inputs of the chosen example; the row slider spans the chosen dataset."""
    rows = _rows(choice)
    return (
        gr.update(visible=choice in DATASET_CHOICES, maximum=rows, value=min(row, rows)),
        gr.update(visible=choice == OWN),
        gr.update(visible=choice == JSON_CHOICE),
    )


def build_masking_tab(page=None) -> dict:
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            choice = gr.Dropdown(EXAMPLE_CHOICES, value=EXAMPLE_CHOICES[0], label="Example", elem_id="mk-example")
            row = gr.Slider(1, _rows(EXAMPLE_CHOICES[0]), value=1, step=1, label="Dataset row", visible=True,
                            elem_id="mk-row")
            with gr.Group(visible=False) as own:
                system = gr.Textbox(label="System prompt (optional)", lines=1)
                prompt = gr.Textbox(label="Prompt (user)", lines=3, value="What is supervised fine-tuning?")
                response = gr.Textbox(
                    label="Response (assistant)", lines=3,
                    value="Training a pre-trained model on prompt/response pairs, with the loss on the response only.",
                )
            chat_json = gr.Code(DEFAULT_JSON, language="json", label="Chat as JSON (list of {role, content})",
                                lines=8, visible=False, interactive=True, elem_id="mk-json")
            mode = gr.Radio(MODE_CHOICES, value="completion", label="Masking mode", elem_id="mk-mode")
            model_choice = gr.Radio(model_choices(), value="bundled", label="Model scoring the tokens",
                                    visible=len(model_choices()) > 1)
            go = gr.Button("Show tokens and losses", variant="primary", elem_id="mk-go")
            with gr.Accordion("Why masking, and what -100 means", open=True, elem_classes="lab-explain"):
                gr.Markdown(EXPLAIN)
        with gr.Column(scale=3):
            numbers = gr.HTML(css_template=CSS_TEMPLATE, elem_id="mk-numbers")
            notes = gr.Markdown(elem_classes="lab-note", elem_id="mk-notes")
            strip = gr.HTML(
                '<div class="mk-legend">Pick an example and a masking mode, then press '
                "<b>Show tokens and losses</b>.</div>", css_template=CSS_TEMPLATE, elem_id="mk-strip",
            )
            with gr.Accordion("Token table", open=False):
                table = gr.Dataframe(
                    headers=["position", "token", "id", "label", "loss (nats)", "counted"],
                    datatype=["number", "str", "number", "number", "number", "str"],
                    interactive=False, max_height=360, elem_id="mk-table",
                )
            gr.Markdown(DRILL_EXPLAIN, elem_classes="lab-explain")
            template = gr.Dropdown(
                [(f"{t!r} — {src}", t) for t, src in masking_drill.DRILL_TEMPLATES.items()],
                value="### Response:", label="Response template searched for (tokenized alone)",
                allow_custom_value=True, elem_id="mk-template",
            )
            drill = gr.HTML(css_template=CSS_TEMPLATE, elem_id="mk-drill")

    inputs = [choice, row, prompt, response, system, chat_json, mode, model_choice, template]
    # One event answers with every output at once (numbers, strip, table, drill): never half a view.
    outputs = [numbers, notes, strip, table, drill]
    gr.on(
        triggers=[go.click, row.release, mode.change, model_choice.change, template.change,
                  Context.root_block.load],  # the default example's answer on arrival
        fn=show, inputs=inputs, outputs=outputs, api_name="masking",
        trigger_mode="always_last",  # a change made while the model runs is answered right after
    )
    # A new example first sets the row slider's range (a dataset's length), then is shown.
    choice.change(_visibility, [choice, row], [row, own, chat_json], api_visibility="private").then(
        show, inputs, outputs, api_visibility="private", trigger_mode="always_last")
    return {"example": choice, "mode": mode, "go": go, "strip": strip, "numbers": numbers, "drill": drill}
