"""Tab 1 — Model & data: chat with the bundled model and browse the SFT datasets."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio.components.chatbot import ChatbotDataMessages
from gradio.context import Context
from pydantic import ValidationError

from lab import adapters, chat, checks, data, models, plots
from lab.errors import LabError
from lab.ui import fmt, i18n, session
from lab.ui.i18n import Keyed, Page, TabView, Texts, t
from lab.ui.style import user_errors

# Which model answers: the choices of the chat's "Model" radio, as values.
BUNDLED, ADAPTER, SIDE_BY_SIDE = "bundled", "adapter", "side_by_side"
MODEL_CHOICES = [("md.model.bundled", BUNDLED), ("md.model.adapter", ADAPTER), ("md.model.side_by_side", SIDE_BY_SIDE)]
# The chat template on, or the raw text fed as it is.
TEMPLATE_ON, TEMPLATE_OFF = "on", "off"
TEMPLATE_CHOICES = [("md.template.on", TEMPLATE_ON), ("md.template.off", TEMPLATE_OFF)]
DECODING_CHOICES = [("md.decoding.greedy", chat.GREEDY), ("md.decoding.sampled", chat.SAMPLED)]
COUNT_COLUMNS = ["md.col.rows", "md.col.messages", "md.col.replies", "md.col.tokens", "md.col.per_row"]


@dataclass(frozen=True)
class ChatChoice:
    """Who answers and how the model is fed: the chat's two radios, checked (the API can send anything)."""

    model: str = BUNDLED
    #: True: no chat template, the raw text is fed as it is (``lab.chat.raw_text``) and continued.
    raw: bool = False

    @classmethod
    def of(cls, model_choice, template) -> ChatChoice:
        model = checks.one_of("Model", model_choice, [v for _, v in MODEL_CHOICES])
        return cls(model, checks.one_of("Chat template", template, [v for _, v in TEMPLATE_CHOICES]) == TEMPLATE_OFF)


# ---- the chat's history as the API sends it -------------------------------------------------------

class _Unread:
    """A history the Chatbot's data model could not read: passed on as sent, for ``lab.chat`` to refuse."""

    def __init__(self, value):
        self.value = value


class _History(ChatbotDataMessages):
    """Gradio's Chatbot data model, except that a value it refuses reaches the handler instead of ending in
    a bare ``{'error': None}`` (Gradio validates it before any handler runs, with no sentence)."""

    model_config = {**ChatbotDataMessages.model_config, "title": "ChatbotDataMessages"}  # the API's docs unchanged

    @classmethod
    def model_validate(cls, obj, *args, **kwargs):
        try:
            return ChatbotDataMessages.model_validate(obj, *args, **kwargs)
        except ValidationError:
            return _Unread(obj)


def chat_history(**kwargs) -> gr.Chatbot:
    """A ``gr.Chatbot`` whose malformed value (through the API) reaches the handler, which refuses it with a lab
    sentence in the user's language; plain ``{"role", "content": str}`` messages are taken as they are.

    Its data model and ``preprocess`` are set on the instance, not in a subclass: Gradio writes a ``.pyi`` stub
    beside the module of every Component subclass, at import.
    """
    chatbot = gr.Chatbot(**kwargs)
    chatbot.data_model = _History
    preprocess = chatbot.preprocess

    def take_unread(payload):
        return payload.value if isinstance(payload, _Unread) else preprocess(payload)

    chatbot.preprocess = take_unread
    return chatbot


def _text_of(content):
    """Chatbot message content as plain text: Gradio may hand back a list of text parts.

    Anything else is passed on unchanged, for ``lab.chat.check_messages`` to refuse with a sentence.
    """
    if isinstance(content, dict) and content.get("type") == "text":
        content = [content]
    if isinstance(content, list) and content and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content
    ):
        return "".join(p["text"] for p in content)
    return content


def _conversation(history, message: str) -> list:
    """The chat history from the Chatbot (or the API) with the new user turn appended."""
    if history is None:
        history = []
    if not isinstance(history, list) or len(history) > chat.MAX_MESSAGES:
        return history  # check_messages says why, before anything reads it
    turns = [{"role": m.get("role"), "content": _text_of(m.get("content"))} if isinstance(m, dict) else m
             for m in history]
    return turns + [{"role": "user", "content": message}]


# ---- this session's adapter -------------------------------------------------------------------------

def _session_hash(request) -> str | None:
    return getattr(request, "session_hash", None)


def _said(key: str) -> LabError:
    """A sentence of this tab's catalog as a coded error (``user_errors`` says it in the user's language)."""
    return LabError(key, t(key))


def session_adapter(request) -> dict:
    """This browser session's last adapter (adapter_dir, label, quantization), checked to be still there.

    Raises a LabError with the sentence to show when there is none, or when its folder was pruned.
    """
    entry = session.last_adapter(_session_hash(request))
    if entry is None:
        raise _said("md.adapter.none")
    if not adapters.is_complete(entry["adapter_dir"]):
        raise _said("md.adapter.gone")
    return entry


def _adapter_or_why(request) -> tuple[dict | None, LabError | None]:
    try:
        return session_adapter(request), None
    except LabError as e:
        return None, e


def _base_words(quantization: str | None, lang: str) -> str:
    if quantization:
        return t("md.base.4bit", lang, quant=quantization.upper())
    return t("md.base.fp32", lang)


def adapter_status(request: gr.Request = None, lang: str = i18n.DEFAULT) -> str:
    """One line on this session's adapter: which run, on which base; or why there is none."""
    entry, why = _adapter_or_why(request)
    if why is not None:
        return i18n.error_text(why, lang)
    return t("md.adapter.status", lang, label=i18n.msg(entry["label"], lang), base=_base_words(entry["quantization"], lang))


def _headings(choice: ChatChoice, entry: dict | None, lang: str) -> tuple[str, str]:
    """The headings over the two chats: which model answers in each, and how it is fed."""
    fed = t("md.heading.raw", lang) if choice.raw else ""
    label = i18n.msg(entry["label"], lang) if entry is not None else t("md.heading.none_yet", lang)
    adapter = t("md.heading.adapter", lang, label=label, fed=fed)
    if choice.model == ADAPTER:
        return adapter, adapter
    return t("md.heading.bundled", lang, fed=fed), adapter


def mode_note(choice: ChatChoice, lang: str) -> str:
    return t("md.note.raw" if choice.raw else "md.note.template", lang)


# ---- the model line -------------------------------------------------------------------------------

def model_facts(model, load_s: float) -> dict:
    """What the model line says, kept for a language switch: parameters, dtype, device, time to get ready."""
    return {"params": sum(p.numel() for p in model.parameters()), "dtype": str(model.dtype).replace("torch.", ""),
            "device": model.device.type.upper(), "load_s": load_s, "adapter": None}


def info_text(facts: dict | None, lang: str) -> str:
    """The model line in ``lang`` (before the first answer: the model is loaded on first use)."""
    if facts is None:
        return t("md.info.empty", lang, name=models.BUNDLED_NAME)
    text = t("md.info.model", lang, name=fmt.model_name(lang), params=facts["params"] / 1e6, dtype=facts["dtype"],
             device=facts["device"])
    if facts["load_s"] > 0.05:
        text += t("md.info.ready", lang, s=facts["load_s"])
    adapter = facts.get("adapter")
    if adapter:
        text += "  \n" + t("md.info.adapter", lang, label=i18n.msg(adapter["label"], lang),
                           base=_base_words(adapter["quantization"], lang))
        if adapter["ready_s"] > 0.05:
            text += t("md.info.ready", lang, s=adapter["ready_s"])
    return text


# ---- the chat's handlers ----------------------------------------------------------------------------

def fed_text(tokenizer, messages: list[dict], raw: bool) -> str:
    """Exactly the text the model is fed for ``messages``: the chat template applied, or the raw text."""
    if raw:
        return chat.raw_text(messages)
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def _stream(model, tokenizer, messages, decoding, raw: bool):
    return (chat.stream_continuation if raw else chat.stream_chat)(model, tokenizer, messages, decoding)


@user_errors
def respond(message: str, history: list, decoding_mode: str, temperature: float, top_p: float, max_new_tokens: int,
            model_choice: str = BUNDLED, template: str = TEMPLATE_ON, adapter_history: list | None = None,
            lang: str = i18n.DEFAULT, request: gr.Request = None):
    """Stream the reply; yields (cleared textbox, chat history, model line, adapter's chat history, text fed,
    the model line's facts kept for a language switch).

    ``model_choice``: the bundled model answers (BUNDLED), this browser session's last adapter does
    (ADAPTER, in the same chat), or both (SIDE_BY_SIDE: the base in ``history``, the adapter in
    ``adapter_history``, the same message to each, the base first). ``template``: TEMPLATE_OFF feeds
    the raw text (``lab.chat.raw_text``) and streams its continuation.

    An empty message changes nothing (a warning toast says so). Every setting is checked by
    ``lab.chat`` first, as the API can send anything. When Gradio closes this generator (the
    client went away), the model's stream is closed too, which stops its generation. The model line
    follows a language switch made while the answer streams.
    """
    lang = i18n.check_lang(lang)
    message = checks.text("Your message", message, chat.MAX_PROMPT_CHARS, required=False).strip()
    if not message:
        gr.Warning(i18n.msg(chat.EMPTY_MESSAGE, lang))
        yield (gr.skip(),) * 6
        return
    decoding = chat.Decoding.of(decoding_mode, temperature, top_p, max_new_tokens)
    choice = ChatChoice.of(model_choice, template)
    messages = _conversation(history, message)
    chat.check_messages(messages)
    both = choice.model == SIDE_BY_SIDE
    other = _conversation(adapter_history, message) if both else None
    if both:
        chat.check_messages(other)
    entry = session_adapter(request) if choice.model != BUNDLED else None

    def said(conversation, reply):
        return conversation + [{"role": "assistant", "content": reply}]

    def waiting():
        return said(other, "…") if both else gr.skip()

    t0 = time.perf_counter()
    tokenizer = models.shared_tokenizer()
    yield "", said(messages, "…"), gr.skip(), waiting(), fed_text(tokenizer, messages, choice.raw), gr.skip()
    base = models.shared_model()
    facts = model_facts(base, time.perf_counter() - t0)
    adapted = None
    if entry is not None:
        t1 = time.perf_counter()
        adapted = adapters.adapted_model(entry["adapter_dir"], entry["quantization"])
        facts["adapter"] = {"label": entry["label"], "quantization": entry["quantization"],
                            "ready_s": time.perf_counter() - t1}

    def info():  # in the language the page shows now (a switch mid-answer)
        return info_text(facts, session.lang(_session_hash(request), lang))

    # The left chat: the bundled model, or the adapter alone; then, side by side, the adapter on the right.
    left = ""
    stream = _stream(adapted if choice.model == ADAPTER else base, tokenizer, messages, decoding, choice.raw)
    try:
        for left in stream:
            yield "", said(messages, left), info(), waiting(), gr.skip(), facts
    finally:  # GeneratorExit when the client disconnected: end the generation thread now
        stream.close()
    yield "", said(messages, left), info(), waiting(), gr.skip(), facts
    if not both:
        return
    right = ""
    stream = _stream(adapted, tokenizer, other, decoding, choice.raw)
    try:
        for right in stream:
            yield "", said(messages, left), info(), said(other, right), gr.skip(), facts
    finally:
        stream.close()
    yield "", said(messages, left), info(), said(other, right), gr.skip(), facts


@user_errors
def refresh(model_choice: str, template: str, lang: str = i18n.DEFAULT, request: gr.Request = None):
    """The adapter line and both headings, for this session's adapter now: (adapter line, left, right)."""
    lang = i18n.check_lang(lang)
    choice = ChatChoice.of(model_choice, template)
    entry, _ = _adapter_or_why(request)
    return (adapter_status(request, lang), *_headings(choice, entry, lang))


@user_errors
def choose(model_choice: str, template: str, lang: str = i18n.DEFAULT, request: gr.Request = None):
    """A new model or template choice starts a new conversation.

    Returns (both chats, the adapter's column shown or not, both headings, adapter line, mode note, text fed).

    Choosing the adapter when this session has none (or its folder is gone) says so in a warning.
    """
    lang = i18n.check_lang(lang)
    choice = ChatChoice.of(model_choice, template)
    entry, why = _adapter_or_why(request)
    if choice.model != BUNDLED and why is not None:
        gr.Warning(i18n.error_text(why, lang))
    left, right = _headings(choice, entry, lang)
    return [], [], gr.update(visible=choice.model == SIDE_BY_SIDE), left, right, adapter_status(request, lang), \
        mode_note(choice, lang), ""


# ---- the dataset browser ----------------------------------------------------------------------------

@dataclass(frozen=True)
class DatasetView:
    """What the counts and the histogram show, kept for a language switch: which data, and its statistics."""

    stats: data.DatasetStats
    name: str | None = None  # a bundled dataset and its split...
    split: str | None = None
    filename: str | None = None  # ...or an uploaded file, read as ``file_format``
    file_format: str | None = None


def dataset_outputs(view: DatasetView | None, lang: str):
    """The counts (title and table) and the token-length histogram of ``view`` in ``lang``."""
    if view is None:
        return gr.skip(), gr.skip()
    if view.filename is not None:
        title = t("md.ds.upload_title", lang, file=view.filename, format=view.file_format)
        label = view.filename
    else:
        bundled = data.BUNDLED[view.name]
        title = t("md.ds.title", lang, title=i18n.msg(bundled.title, lang),
                  description=i18n.msg(bundled.description, lang))
        label = f"{view.name} / {view.split}"
    s = view.stats
    table = fmt.md_table([t(k, lang) for k in COUNT_COLUMNS],
                         [[f"{s.rows:,}", f"{s.messages:,}", f"{s.assistant_messages:,}", f"{s.total_tokens:,}",
                           f"{s.mean_tokens:.0f} / {s.median_tokens:.0f} / {s.max_tokens}"]], align="rrrrr")
    fig = plots.token_length_histogram(s.lengths, title=t("md.fig.title", lang, label=label, n=s.rows),
                                       text=i18n.several(lang, xlabel="md.fig.xlabel", ylabel="md.fig.ylabel"))
    return f"{title}\n\n{table}", fig


@user_errors
def show_dataset(name: str, split: str, row: float, upload: str | None = None, lang: str = i18n.DEFAULT):
    """Everything the browser shows for a bundled dataset (or an uploaded file) and row ``row`` (1-based):
    (row slider, row as stored, row as the model sees it, counts, histogram, the view kept for a switch).

    ``row`` must be a whole number from 1 to the number of rows (None means row 1).
    """
    lang = i18n.check_lang(lang)
    tokenizer = models.shared_tokenizer()
    if upload:
        filename = Path(upload).name
        table = data.read_table(upload, max_bytes=data.MAX_UPLOAD_BYTES)
        ds = data.convert(table, filename)
        where = {"filename": filename, "file_format": data.detect_format(table.column_names)}
    else:
        table = ds = data.load_sft_dataset(name, split=split)
        where = {"name": name, "split": split}
    # The API can send anything; the slider spans the dataset (a new dataset starts at row 1).
    index = checks.whole_number("Row", 1 if row is None else row, 1, len(ds)) - 1
    view = DatasetView(data.dataset_stats(tokenizer, ds), **where)
    slider = gr.update(maximum=len(ds), value=index + 1)
    raw = json.dumps(table[index], ensure_ascii=False, indent=2, default=str)
    return slider, raw, data.chat_text(tokenizer, ds[index]["messages"]), *dataset_outputs(view, lang), view


# ---- a language switch -----------------------------------------------------------------------------

def rerender(lang, model_choice, template, facts, view, request: gr.Request = None):
    """What the lab wrote on this tab, in ``lang``: the adapter line, both headings, the model line, the mode
    note, the dataset's counts and histogram (nothing loaded; the conversations stay as they are)."""
    lang = i18n.check_lang(lang)
    try:
        choice = ChatChoice.of(model_choice, template)
    except LabError:  # not a value the radios send: leave the chat's lines as they are
        return (gr.skip(),) * 3 + (info_text(facts, lang), gr.skip(), *dataset_outputs(view, lang))
    entry, _ = _adapter_or_why(request)
    return (adapter_status(request, lang), *_headings(choice, entry, lang), info_text(facts, lang),
            mode_note(choice, lang), *dataset_outputs(view, lang))


def build_model_data_tab(page: Page) -> TabView:
    tx, lang = Texts(), page.lang
    tab = Context.block  # the "Model & data" tab: selecting it refreshes the adapter line
    first = ChatChoice()
    with gr.Row():
        with gr.Column(scale=3, elem_id="chat-column"):
            # The model's name goes in the heading: a Chatbot's floating label badge covers the
            # first line of the conversation.
            tx.md(("md.chat.heading", {"name": models.BUNDLED_NAME}), elem_id="chat-heading")
            with gr.Row():
                model_choice = tx(gr.Radio, choices=Keyed(MODEL_CHOICES), value=BUNDLED, label="md.model",
                                  elem_id="chat-model", scale=1)
                template = tx(gr.Radio, choices=Keyed(TEMPLATE_CHOICES), value=TEMPLATE_ON, scale=0, min_width=200,
                              elem_id="chat-template", label="md.template", info="md.template.info")
            status = gr.Markdown(t("md.adapter.none"), elem_classes="lab-note", elem_id="chat-adapter-status")
            left_text, right_text = _headings(first, None, i18n.DEFAULT)
            with gr.Row():
                with gr.Column(min_width=240):
                    left_heading = gr.Markdown(left_text, elem_id="chat-left-heading")
                    chatbot = tx(chat_history, label="md.conversation", show_label=False, height=340,
                                 elem_id="chatbot")
                with gr.Column(min_width=240, visible=False, elem_id="chat-right") as right_column:
                    right_heading = gr.Markdown(right_text, elem_id="chat-right-heading")
                    adapter_chatbot = tx(chat_history, label="md.conversation_adapter", show_label=False,
                                         height=340, elem_id="chatbot-adapter")
            with gr.Row():
                box = tx(gr.Textbox, placeholder="md.input.placeholder", show_label=False, scale=5,
                         elem_id="chat-input")
                send = tx(gr.Button, value="md.send", text_value=True, variant="primary", scale=1, elem_id="chat-send")
            info = gr.Markdown(info_text(None, i18n.DEFAULT), elem_classes="lab-note", elem_id="chat-info")
            note = gr.Markdown(mode_note(first, i18n.DEFAULT), elem_classes="lab-note", elem_id="chat-mode-note")
            with tx(gr.Accordion, label="md.fed", open=False, elem_id="chat-fed-accordion"):
                fed = tx(gr.Textbox, show_label=False, lines=3, max_lines=8, interactive=False, elem_id="chat-fed",
                         placeholder="md.fed.placeholder")
            with tx(gr.Accordion, label="md.decoding", open=False):
                mode = tx(gr.Radio, choices=Keyed(DECODING_CHOICES), value=chat.GREEDY, label="md.decoding",
                          elem_id="chat-mode")
                with gr.Row():
                    temperature = tx(gr.Slider, minimum=chat.TEMPERATURE_RANGE[0], maximum=chat.TEMPERATURE_RANGE[1],
                                     value=0.7, step=0.05, label="md.temperature")
                    top_p = tx(gr.Slider, minimum=chat.TOP_P_RANGE[0], maximum=chat.TOP_P_RANGE[1], value=0.9,
                               step=0.05, label="md.top_p")
                max_new = tx(gr.Slider, minimum=1, maximum=chat.MAX_NEW_TOKENS, value=128, step=1, label="md.max_new",
                             elem_id="chat-max-new")
                tx.md("md.chat_note", elem_classes="lab-note")
            clear = tx(gr.Button, value="md.clear", text_value=True, size="sm")
        with gr.Column(scale=2, elem_classes="lab-explain"):
            tx.md("md.explain")

    tx.md("md.heading.datasets")
    with gr.Row():
        name = tx(gr.Dropdown, choices=data.list_datasets(), value="pirate", label="md.dataset", scale=1)
        # dataset and split names are identifiers (the explanation says what train / eval are)
        split = tx(gr.Radio, choices=list(data.SPLITS), value="train", label="md.split", scale=1)
        row = tx(gr.Slider, minimum=1, maximum=300, value=1, step=1, label="md.row", scale=3)
        upload = tx(gr.File, label="md.upload", file_types=[".jsonl", ".json", ".csv", ".parquet"], type="filepath",
                    scale=3, height=130)
    with gr.Row():
        raw = tx(gr.Code, label="md.raw", language="json", lines=12, wrap_lines=True, elem_id="md-raw")
        formatted = tx(gr.Code, label="md.formatted", lines=12, wrap_lines=True, elem_id="md-formatted")
    with gr.Row():
        counts = gr.Markdown(elem_id="dataset-counts")
    hist = tx(gr.Plot, label="md.hist")

    # what a language switch re-renders: the model line's facts, the dataset's statistics
    facts, view = gr.State(None), gr.State(None)
    # The API's /chat takes the first six as before; the rest have defaults (the bundled model, the template
    # on, English).
    inputs = [box, chatbot, mode, temperature, top_p, max_new, model_choice, template, adapter_chatbot, lang]
    outputs = [box, chatbot, info, adapter_chatbot, fed, facts]
    answering = [send.click(respond, inputs, outputs, api_name="chat"),
                 box.submit(respond, inputs, outputs, api_visibility="private")]

    # Clearing, or another model or template, ends an answer still streaming (its generation stops too).
    # The chats are emptied once more after that: a piece of the cancelled stream already on its way
    # could otherwise land after the first clearing.
    def empty_chats():
        return [], []

    clear.click(lambda: ([], [], ""), None, [chatbot, adapter_chatbot, fed], api_visibility="private",
                cancels=answering).then(empty_chats, None, [chatbot, adapter_chatbot], api_visibility="private")
    gr.on(
        triggers=[model_choice.change, template.change],
        fn=choose,
        inputs=[model_choice, template, lang],
        outputs=[chatbot, adapter_chatbot, right_column, left_heading, right_heading, status, note, fed],
        api_visibility="private",
        cancels=answering,
    ).then(empty_chats, None, [chatbot, adapter_chatbot], api_visibility="private")
    if tab is not None and hasattr(tab, "select"):  # back from the training tab: this session's new adapter
        tab.select(refresh, [model_choice, template, lang], [status, left_heading, right_heading],
                   api_visibility="private")
    browse = {"fn": show_dataset, "outputs": [row, raw, formatted, counts, hist, view]}
    # Another dataset, split or file starts at row 1 (its slider is resized to its rows), so a row
    # number is always checked against the dataset it belongs to.
    gr.on(triggers=[name.change, split.change, upload.change], inputs=[name, split, gr.State(1), upload, lang],
          api_visibility="private", **browse)
    row.change(inputs=[name, split, row, upload, lang], api_name="dataset_row", **browse)
    page.on_arrival(inputs=[name, split, row, upload, lang], **browse)  # the first dataset, in the visit's language

    return TabView(
        texts=tx,
        rerender=[(rerender, [model_choice, template, facts, view],
                   [status, left_heading, right_heading, info, note, counts, hist])],
        parts={"chatbot": chatbot, "adapter_chatbot": adapter_chatbot, "input": box, "send": send,
               "model": model_choice, "template": template, "dataset": name, "row": row, "status": status,
               "info": info, "note": note, "counts": counts, "hist": hist},
    )
