"""Tuning Lab: how large language models are fine-tuned after pre-training.

Run ``make run`` (or ``python app.py``) and open http://127.0.0.1:7860. On a Hugging Face
Space this file is the ``app_file``. Nothing heavy happens at import: models load on first use.

The page speaks English or Vietnamese (``?lang=vi``): a switch in the header re-texts every component
from the catalog (``lab/ui/i18n``) and each tab re-renders what it shows.
"""

from __future__ import annotations

import os

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
    views: list[TabView] = []
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
                        views.append(view)
        bound = texts.components + [c for v in views for c in v.texts.components]

        def switch(choice, request: gr.Request = None):
            """Every bound component re-texted, and the choice remembered by the browser and the server."""
            choice = i18n.check_lang(choice)
            session.set_lang(getattr(request, "session_hash", None), choice)
            updates = texts.updates(choice) + [u for v in views for u in v.texts.updates(choice)]
            return [choice, *updates]

        lang.change(switch, lang, [remembered, *bound], api_visibility="private", queue=False)
        for view in views:
            for fn, inputs, outputs in view.rerender:
                lang.change(fn, [lang, *inputs], outputs, api_visibility="private")
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


memory.configure()  # freed tensors go back to the system (see lab/memory.py)
install_input_guards()
demo = build_app()

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=4).launch(**launch_kwargs())
