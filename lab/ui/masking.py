"""Tab 2 — SFT masking: which tokens of an example carry the loss, on the real model."""

from __future__ import annotations

import functools
import html
import math
import os
from dataclasses import dataclass, replace

import gradio as gr
import pandas as pd

from lab import checks, data, masking, masking_drill, models
from lab.errors import LabError
from lab.ui import fmt, i18n, session
from lab.ui.i18n import Keyed, Page, TabView, Texts, t
from lab.ui.style import user_errors

MAX_TOKENS = 512  # tokens scored per example (keep_start truncation beyond, with a notice)

#: The example's values (stable ids; the labels come from the catalog): a row of a bundled dataset,
#: the example chats of ``lab.masking``, the user's own prompt / response, a chat pasted as JSON.
DATASET_CHOICES = {"pirate_row": "pirate", "json_row": "json"}  # value -> bundled dataset
OWN = "own"
JSON_CHOICE = "paste_json"
EXAMPLE_CHOICES = (
    [("masking.example.pirate_row", "pirate_row"), ("masking.example.json_row", "json_row")]
    + [(title.code, key) for key, title in masking.EXAMPLE_TITLES.items()]
    + [("masking.example.own", OWN), ("masking.example.paste_json", JSON_CHOICE)]
)
EXAMPLE_VALUES = [value for _, value in EXAMPLE_CHOICES]
#: The example shown until the user picks one, by language: Vietnamese visitors see the Vietnamese chat.
DEFAULT_EXAMPLES = {"en": "pirate_row", "vi": "vietnamese"}

MODE_CHOICES = [("masking.mode.completion", "completion"), ("masking.mode.assistant", "assistant"),
                ("masking.mode.none", "none")]
#: ``LabeledExample.format`` (data) -> its name in the catalog.
FORMAT_KEYS = {"chat template": "masking.format.chat", "plain (no chat template)": "masking.format.plain"}
TABLE_COLUMNS = ["masking.col.position", "masking.col.token", "masking.col.id", "masking.col.label",
                 "masking.col.loss", "masking.col.counted"]
DEFAULT_TEMPLATE = "### Response:"

DEFAULT_JSON = """[
  {"role": "system", "content": "You answer in one short sentence."},
  {"role": "user", "content": "Why is the sky blue?"},
  {"role": "assistant", "content": "Air scatters blue sunlight more than red, so blue light reaches us from all over the sky."}
]"""

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


def default_example(lang: str) -> str:
    return DEFAULT_EXAMPLES[i18n.check_lang(lang)]


def template_choices(lang: str = i18n.DEFAULT) -> list[tuple[str, str]]:
    """The drill's templates as ``(label, template)``: the template as code, and where it comes from in ``lang``."""
    return [(f"{tpl!r} — {i18n.msg(source, lang)}", tpl) for tpl, source in masking_drill.DRILL_TEMPLATES.items()]


# --- data and models ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _dataset(name: str):
    return data.load_sft_dataset(name, split="train")


def model_choices() -> list[tuple[str, str]]:
    """``(catalog key, value)``: the bundled model always; a base checkpoint too when ``LAB_MODEL`` names one."""
    choices = [("masking.model.bundled", "bundled")]
    if os.environ.get("LAB_MODEL"):
        choices.append(("masking.model.base", "base"))
    return choices


def _model_name(choice: str) -> str | None:
    """What ``lab.models`` calls the choice; ``None`` is the shared default (no double loading)."""
    if choice == "base":
        if not os.environ.get("LAB_MODEL"):
            raise LabError("masking.no_base_checkpoint",
                           "No base checkpoint is configured: set LAB_MODEL to a local model directory.")
        return None  # LAB_MODEL is what name=None means
    if os.environ.get("LAB_MODEL"):
        local = models.bundled_model_dir()
        return str(local) if local is not None else models.HUB_ID
    return None


@dataclass
class Settings:
    """What the tab is asked to show: the example (and the inputs it reads), the masking mode, the model
    that scores the tokens and the drill's response template. Built once per answer from the inputs."""

    choice: str = DEFAULT_EXAMPLES["en"]
    row: object = 1  # 1-based row of the chosen dataset (an API call may send anything: checked)
    prompt: str = ""
    response: str = ""
    system: str = ""
    chat_json: str = ""
    mode: str = "completion"
    model_choice: str = "bundled"
    template: str = DEFAULT_TEMPLATE

    def messages(self) -> list[dict]:
        """The chat the user picked, as validated messages."""
        if self.choice in DATASET_CHOICES:
            ds = _dataset(DATASET_CHOICES[self.choice])
            index = checks.whole_number("The dataset row", self.row, 1, len(ds)) - 1
            return ds[index]["messages"]
        if self.choice in masking.EXAMPLES:
            return masking.EXAMPLES[self.choice]
        if self.choice == OWN:
            return masking.prompt_response_messages(self.prompt, self.response, self.system)
        if self.choice == JSON_CHOICE:
            return masking.messages_from_json(self.chat_json)
        checks.one_of("The example", self.choice, EXAMPLE_VALUES)  # raises: every choice is handled above


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


@dataclass
class View:
    """One answer of the tab, kept in its state: every output is rendered from it, in any language."""

    example: masking.LabeledExample
    drill: masking_drill.DrillResult
    texts: list[str]  # each token's text in context
    raw: list[bytes] | None  # each token's bytes (byte-level vocabularies)
    special: frozenset  # the tokenizer's special token ids (drawn bold)
    losses: list[float] | None = None  # per-token losses; None until the model has scored them
    dtype: str = "fp32"  # what the losses are computed in


def analyse(settings: Settings, with_losses: bool = True) -> View:
    """Everything the tab shows, computed by ``lab.masking``: the view of one answer."""
    name = _model_name(settings.model_choice)
    tok = models.shared_tokenizer(name)
    messages = masking.check_messages(settings.messages())
    messages, notices = masking.clip_chars(messages)
    ex = masking.build_labels(tok, messages, settings.mode, max_length=MAX_TOKENS)
    ex.notices[:0] = notices
    drill = masking_drill.string_search_labels(tok, ex, settings.template)
    dt = loss_dtype()
    view = View(ex, drill, masking.token_texts(tok, ex.input_ids), masking.token_bytes(tok, ex.input_ids),
                frozenset(getattr(tok, "all_special_ids", []) or []),
                dtype="fp32" if dt is None else str(dt).replace("torch.", "") + " autocast")
    return with_model_losses(view, settings.model_choice) if with_losses else view


def with_model_losses(view: View, model_choice: str) -> View:
    return replace(view, losses=list(_losses_cached(model_choice, tuple(view.example.input_ids))))


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


def token_strip(view: View, labels, losses=None, lang: str = i18n.DEFAULT) -> str:
    """The sequence as inline token boxes: masked grey, trained coloured by loss; title = details.

    A token holding part of a multi-byte letter shows its bytes in hex, e.g. ‹e1 bb›."""
    ex, raw = view.example, view.raw
    starts = {s.start: s.role for s in ex.spans}
    if ex.preamble:
        starts[0] = "template"
    parts = []
    for i, (tid, text, lab) in enumerate(zip(ex.input_ids, view.texts, labels)):
        if i in starts:
            role = starts[i]
            if role == "template":  # the lab's word (the others are the chat's own roles)
                tip = html.escape(t("masking.role.template_tip", lang))
                parts.append(f'<span class="mk-role mk-role-template" title="{tip}">'
                             f'{html.escape(t("masking.role.template", lang))}</span>')
            else:
                parts.append(f'<span class="mk-role mk-role-{role}">{role}</span>')
        loss = losses[i] if losses is not None else math.nan
        trained = lab != masking.IGNORE_INDEX and i > 0
        partial = raw is not None and "\ufffd" in text
        shown = repr(text) if raw is None else t("masking.tok.bytes", lang, text=repr(text), hex=raw[i].hex(" "))
        title = t("masking.tok.title", lang, i=i, shown=shown, id=tid, label=lab,
                  loss="—" if math.isnan(loss) else f"{loss:.2f}")
        if not trained:
            title += t("masking.tok.not_counted", lang)
        cls = ["mk-tok"]
        style = ""
        if not trained:
            cls.append("mk-masked")
        elif losses is None:
            cls.append("mk-pending")
        else:
            style = f' style="background:{loss_colour(loss)}"'
        if tid in view.special:
            cls.append("mk-special")
        inner = f'<span class="mk-bytes">‹{raw[i].hex(" ")}›</span>' if partial else visible(text)
        parts.append(f'<span class="{" ".join(cls)}"{style} title="{html.escape(title)}">{inner}</span>')
        if "\n" in text:
            parts.append("<br>")
    return f'<div class="mk-strip" data-view="{view_stamp(ex, losses)}">' + "".join(parts) + "</div>"


def legend(with_losses: bool, lang: str = i18n.DEFAULT) -> str:
    items = [f'<span class="mk-tok mk-masked">{t("masking.legend.masked", lang)}</span>']
    if with_losses:
        items += [f'<span class="mk-tok" style="background:{loss_colour(v)}">{t("masking.legend.loss", lang, v=v)}</span>'
                  for v in (0, 2, 4, 6, 8)]
    else:
        items.append(f'<span class="mk-tok mk-pending">{t("masking.legend.pending", lang)}</span>')
    return '<div class="mk-legend">' + "".join(items) + html.escape(t("masking.legend.help", lang)) + "</div>"


def empty_strip(lang: str = i18n.DEFAULT) -> str:
    """What the strip says before any answer."""
    return f'<div class="mk-legend">{t("masking.strip.empty", lang)}</div>'


def card(value: str, key: str, kind: str = "") -> str:
    return f'<div class="mk-card {kind}"><div class="v">{value}</div><div class="k">{key}</div></div>'


def view_stamp(ex: masking.LabeledExample, losses) -> str:
    """Which view an output shows (mode, sizes, labels only or with losses): the numbers and the strip
    of one answer carry the same stamp, so a reader (or a browser test) can tell they belong together."""
    return f"{ex.mode}:{ex.n_tokens}:{ex.n_trained}:{'labels' if losses is None else 'losses'}"


def numbers_html(ex: masking.LabeledExample, losses, lang: str = i18n.DEFAULT) -> str:
    n_pred = max(ex.n_tokens - 1, 1)
    trained = [i for i in range(1, ex.n_tokens) if ex.labels[i] != masking.IGNORE_INDEX]
    cards = [
        card(f"{ex.n_tokens:,}", t("masking.card.tokens", lang)),
        card(f"{ex.n_trained:,}", t("masking.card.trained", lang, share=ex.n_trained / n_pred),
             "good" if ex.n_trained else "bad"),
    ]
    if losses is not None:
        masked = sum(losses[i] for i in trained) / len(trained) if trained else math.nan
        full = sum(losses[1:]) / n_pred
        cards.append(card("—" if math.isnan(masked) else f"{masked:.3f}",
                          t("masking.card.masked_loss", lang, mode=ex.mode)))
        cards.append(card(f"{full:.3f}", t("masking.card.full_loss", lang)))
    else:
        cards.append(card("…", t("masking.card.masked_loss_pending", lang)))
        cards.append(card("…", t("masking.card.full_loss", lang)))
    cards.append(card(f"{ex.wasted_logits_share:.0%}", t("masking.card.wasted", lang)))
    return f'<div class="mk-cards" data-view="{view_stamp(ex, losses)}">' + "".join(cards) + "</div>"


def notices_md(view: View, lang: str = i18n.DEFAULT) -> str:
    ex = view.example
    head = t("masking.notes", lang, format=t(FORMAT_KEYS[ex.format], lang), mode=ex.mode,
             help=i18n.msg(masking.MODE_HELP[ex.mode], lang), dtype=view.dtype)
    return "\n\n".join([head] + [f"⚠️ {i18n.msg(n, lang)}" for n in ex.notices])


def token_table(view: View, lang: str = i18n.DEFAULT) -> pd.DataFrame:
    """One row per token: position, text, id, label, loss, whether it counts."""
    ex, losses = view.example, view.losses
    counted = [lab != masking.IGNORE_INDEX and i > 0 for i, lab in enumerate(ex.labels)]
    loss = [None if losses is None or math.isnan(losses[i]) else f"{losses[i]:.4f}" for i in range(ex.n_tokens)]
    return fmt.frame({
        "masking.col.position": list(range(ex.n_tokens)),
        "masking.col.token": [repr(text)[1:-1] for text in view.texts],
        "masking.col.id": list(ex.input_ids),
        "masking.col.label": list(ex.labels),
        "masking.col.loss": [t("common.dash", lang) if v is None else v for v in loss],
        "masking.col.counted": [t("masking.counted.yes" if c else "masking.counted.no", lang) for c in counted],
    }, lang)


def drill_html(view: View, lang: str = i18n.DEFAULT) -> str:
    ex, drill = view.example, view.drill
    right = ex.n_trained
    wrong = drill.n_trained
    kind = "bad" if wrong == 0 else ("good" if drill.labels == ex.labels else "")
    found = (t("masking.drill.not_found", lang) if drill.found_at is None
             else t("masking.drill.found", lang, n=drill.found_at))
    ids_alone = ", ".join(str(i) for i in drill.template_ids)
    ids_ctx = ", ".join(str(i) for i in drill.reply_ids)
    cards = (
        '<div class="mk-cards">'
        + card(f"{wrong:,}", t("masking.drill.string_search", lang, found=found), kind)
        + card(f"{right:,}", t("masking.drill.prefix", lang), "good")
        + "</div>"
    )
    ids = (
        f'<div class="mk-ids">{t("masking.drill.alone", lang, template=html.escape(repr(drill.template)), ids=ids_alone)}'
        f'<br>{t("masking.drill.context", lang, ids=ids_ctx)}</div>'
    )
    return cards + ids + token_strip(view, drill.labels, lang=lang)


def render(view: View, lang: str = i18n.DEFAULT) -> tuple:
    """The tab's outputs for ``view`` in ``lang``: numbers, notes, legend + strip, token table, drill."""
    lang = i18n.check_lang(lang)
    ex, losses = view.example, view.losses
    return (numbers_html(ex, losses, lang), notices_md(view, lang),
            legend(losses is not None, lang) + token_strip(view, ex.labels, losses, lang),
            token_table(view, lang), drill_html(view, lang))


# --- handlers -----------------------------------------------------------------------------------


@user_errors
def show(choice, row, prompt, response, system, chat_json, mode, model_choice, template, lang=i18n.DEFAULT,
         request: gr.Request = None):
    """Yield the view twice: at once with labels and counts, then with the model's losses; each answer
    also gives the view to keep (a language switch re-renders it). Each answer is written in the
    session's language at that moment: a switch while the model runs takes effect."""
    settings = Settings(choice, row, prompt, response, system, chat_json, mode, model_choice, template)
    view = analyse(settings, with_losses=False)

    def now() -> str:
        return i18n.check_lang(session.lang(getattr(request, "session_hash", None), i18n.check_lang(lang)))

    yield (*render(view, now()), view)
    view = with_model_losses(view, settings.model_choice)
    yield (*render(view, now()), view)


@user_errors
def arrive(choice, row, prompt, response, system, chat_json, mode, model_choice, template, chosen=False,
           lang=i18n.DEFAULT, request: gr.Request = None):
    """The tab's first answer on a visit: the example shown while the user has picked none follows the
    language (the Vietnamese chat in Vietnamese); a new example is answered by its own change event."""
    default = default_example(lang)
    if not chosen and choice != default:
        yield gr.update(value=default), *(gr.skip(),) * 6
        return
    for answer in show(choice, row, prompt, response, system, chat_json, mode, model_choice, template, lang,
                       request):
        yield gr.skip(), *answer


def rerender(lang, view, chosen, choice):
    """On a language switch: the answer on screen in ``lang`` from the kept view (no model runs), and the
    drill's template names. An example already answered stays (a switch keeps what is shown); before
    the first answer, an example the user has not picked becomes the language's default (its change
    event answers it)."""
    lang = i18n.check_lang(lang)
    templates = gr.update(choices=template_choices(lang))
    default = default_example(lang)
    if view is None and not chosen and choice != default and choice in DEFAULT_EXAMPLES.values():
        return gr.update(value=default), *(gr.skip(),) * 5, templates
    if view is None:  # nothing answered yet: the arrival's answer is on its way, in this language
        return gr.skip(), *(gr.skip(),) * 5, templates
    if view.losses is None:  # an answer half-way (labels, losses still being scored): its last part comes
        return gr.skip(), *(gr.skip(),) * 5, templates  # after, and re-rendering this half would replace it
    return gr.skip(), *render(view, lang), templates


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


# --- layout -------------------------------------------------------------------------------------


def build_masking_tab(page: Page) -> TabView:
    tx, lang = Texts(), page.lang
    first = DEFAULT_EXAMPLES[i18n.DEFAULT]
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            choice = tx(gr.Dropdown, choices=Keyed(EXAMPLE_CHOICES), value=first, label="masking.example",
                        elem_id="mk-example")
            row = tx(gr.Slider, minimum=1, maximum=_rows(first), value=1, step=1, label="masking.row", visible=True,
                     elem_id="mk-row")
            with gr.Group(visible=False) as own:
                system = tx(gr.Textbox, label="masking.system", lines=1, value="")  # the API may leave it out
                # the default prompt / response are data (an example to edit), like the example chats
                prompt = tx(gr.Textbox, label="masking.prompt", lines=3, value="What is supervised fine-tuning?")
                response = tx(
                    gr.Textbox, label="masking.response", lines=3,
                    value="Training a pre-trained model on prompt/response pairs, with the loss on the response only.",
                )
            chat_json = tx(gr.Code, value=DEFAULT_JSON, language="json", label="masking.chat_json", lines=8,
                           visible=False, interactive=True, elem_id="mk-json")
            mode = tx(gr.Radio, choices=Keyed(MODE_CHOICES), value="completion", label="masking.mode",
                      elem_id="mk-mode")
            base = os.environ.get("LAB_MODEL", "")
            model_choice = tx(gr.Radio, choices=Keyed(model_choices()), value="bundled", label="masking.model",
                              info=("masking.model.info", {"path": base}) if base else None,
                              visible=len(model_choices()) > 1)
            go = tx(gr.Button, value="masking.go", text_value=True, variant="primary", elem_id="mk-go")
            with tx(gr.Accordion, label="masking.why", open=True, elem_classes="lab-explain"):
                tx.md("masking.explain")
        with gr.Column(scale=3):
            numbers = gr.HTML(css_template=CSS_TEMPLATE, elem_id="mk-numbers")
            notes = gr.Markdown(elem_classes="lab-note", elem_id="mk-notes")
            strip = gr.HTML(empty_strip(), css_template=CSS_TEMPLATE, elem_id="mk-strip")
            with tx(gr.Accordion, label="masking.table", open=False):
                table = gr.Dataframe(value=fmt.placeholder(TABLE_COLUMNS, i18n.DEFAULT), interactive=False,
                                     max_height=360, elem_id="mk-table")
            tx(gr.Markdown, value=lambda lg: t("masking.drill.explain", lg, example=t("masking.example.indented_code", lg)),
               elem_classes="lab-explain")
            # the choices' labels are re-rendered on a switch (see rerender): they show the template as code
            template = tx(gr.Dropdown, choices=template_choices(), value=DEFAULT_TEMPLATE, label="masking.template",
                          allow_custom_value=True, elem_id="mk-template")
            drill = gr.HTML(css_template=CSS_TEMPLATE, elem_id="mk-drill")

    # kept for a language switch: the answer on screen, and whether the user picked an example
    view, chosen = gr.State(None), gr.State(False)
    inputs = [choice, row, prompt, response, system, chat_json, mode, model_choice, template]
    # One event answers with every output at once (numbers, strip, table, drill): never half a view.
    outputs = [numbers, notes, strip, table, drill, view]
    gr.on(
        triggers=[go.click, row.release, mode.change, model_choice.change, template.change],
        fn=show, inputs=[*inputs, lang], outputs=outputs, api_name="masking",
        trigger_mode="always_last",  # a change made while the model runs is answered right after
    )
    # the default example's answer on arrival, in the visit's language
    page.on_arrival(arrive, [*inputs, chosen, lang], [choice, *outputs])
    # A new example first sets the row slider's range (a dataset's length), then is shown.
    choice.change(_visibility, [choice, row], [row, own, chat_json], api_visibility="private").then(
        show, [*inputs, lang], outputs, api_visibility="private", trigger_mode="always_last")
    # the user's own pick (not the language's default example): a switch keeps it
    gr.on([choice.input, row.input], lambda: True, None, chosen, api_visibility="private", queue=False)
    return TabView(
        texts=tx,
        rerender=[(rerender, [view, chosen, choice], [choice, numbers, notes, strip, table, drill, template])],
        parts={"example": choice, "mode": mode, "go": go, "strip": strip, "numbers": numbers, "drill": drill,
               "table": table, "template": template, "view": view, "chosen": chosen},
    )
