"""Tuning Lab: how large language models are fine-tuned after pre-training.

Run ``make run`` (or ``python app.py``) and open http://127.0.0.1:7860. On a Hugging Face
Space this file is the ``app_file``. Nothing heavy happens at import: models load on first use.

The page speaks English or Vietnamese (``?lang=vi``): a switch in the header re-texts every component
from the catalog (``lab/ui/i18n``) and each tab re-renders what it shows.
"""

from __future__ import annotations

import os
import threading

import gradio as gr

from lab import data, memory
from lab.ui import experiments, i18n, lora, masking, model_data, nf4, session, training
from lab.ui.i18n import Page, TabView, Texts
from lab.ui.style import CSS, THEME, install_input_guards

#: The tabs in lecture order: (catalog key of the name, tab id, builder).
TABS = (
    ("tab.model_data", "model-data", model_data.build_model_data_tab),
    ("tab.masking", "masking", masking.build_masking_tab),
    ("tab.lora", "lora", lora.build_lora_tab),
    ("tab.nf4", "nf4", nf4.build_nf4_tab),
    ("tab.training", "training", training.build_training_tab),
    ("tab.experiments", "experiments", experiments.build_experiments_tab),
)


def first_lang(stored: str | None, request: gr.Request = None) -> str:
    """The language of this visit: ``?lang=`` in the URL, else the remembered choice, else the
    browser's ``Accept-Language``, else English."""
    query = request.query_params.get("lang") if request is not None else None
    accept = request.headers.get("accept-language") if request is not None else None
    return i18n.pick_lang(query, stored, accept)


def build_app() -> gr.Blocks:
    """The whole lab as one ``gr.Blocks``; each tab is built by its own module in ``lab/ui``."""
    texts = Texts()
    views: dict[str, TabView] = {}
    with gr.Blocks(title="Tuning Lab") as demo:
        with gr.Row(equal_height=False):
            texts.md("app.header", elem_id="lab-header", scale=5)
            lang = texts(gr.Radio, choices=i18n.LANG_CHOICES, value=i18n.DEFAULT, label="app.lang", scale=1,
                         min_width=170, elem_id="lab-lang")
        remembered = gr.BrowserState("", storage_key="tuning-lab-lang")
        page = Page(lang, demo.load(first_lang, remembered, lang, api_visibility="private"))
        with gr.Tabs():
            for key, tab_id, build in TABS:
                with texts(gr.Tab, label=key, id=tab_id):
                    view = build(page)
                    if isinstance(view, TabView):
                        views[tab_id] = view
        switch = i18n.Switch([remembered], texts, views)

        def first(choice, tab, *values, request: gr.Request = None):
            """The header, the tab names and the tab in view in ``choice`` (the other tabs follow in ``second``,
            the figures in ``third``); the choice remembered by the browser and the server."""
            choice = i18n.check_lang(choice)
            session.set_lang(getattr(request, "session_hash", None), choice)
            return [choice, *switch.first(choice, tab, values, request)[1:]]

        def second(*values, request: gr.Request = None):
            return switch.second(values[-1], values[:-1], request)

        def third(pending, request: gr.Request = None):
            return switch.third(pending, request)

        # Gradio 6 shows its timer on every output whatever show_progress says (gradio#12406): on ~200
        # components at once it is noise and costs the page time, so it goes on the hidden tab box.
        quiet = {"api_visibility": "private", "queue": False, "show_progress": "hidden",
                 "show_progress_on": switch.tab}
        lang.change(first, [lang, switch.tab, *switch.inputs], switch.outputs, js=switch.js, **quiet).then(
            second, [*switch.inputs, switch.pending], switch.outputs, **quiet).then(
            third, switch.pending, [*switch.plots, switch.pending], **quiet)
    return demo


def launch_kwargs() -> dict:
    """What ``launch()`` needs besides the Blocks (Gradio 6 takes theme and css here)."""
    # max_file_size: Gradio refuses a larger upload before writing it to its upload folder
    kwargs = {"theme": THEME, "css": CSS, "max_file_size": data.MAX_UPLOAD_BYTES}
    if os.environ.get("HOST"):
        kwargs["server_name"] = os.environ["HOST"]
    if os.environ.get("PORT"):
        kwargs["server_port"] = int(os.environ["PORT"])
    return kwargs


def warm_imports() -> None:
    """Import what a first training run needs (peft, bitsandbytes, the model's code: ~4 s on 2 cores) while
    the server starts, not after the learner presses Train."""
    import importlib

    for name in ("lab.training", "lab.evaluation", "datasets", "peft", "bitsandbytes",
                 "transformers.models.llama.modeling_llama"):
        try:
            importlib.import_module(name)
        except ImportError:  # the run that needs it will say so
            pass


memory.configure()  # freed tensors go back to the system (see lab/memory.py)
threading.Thread(target=warm_imports, name="lab-warm-imports", daemon=True).start()
install_input_guards()
demo = build_app()

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=4).launch(**launch_kwargs())
