"""Tuning Lab: how large language models are fine-tuned after pre-training.

Run ``make run`` (or ``python app.py``) and open http://127.0.0.1:7860. On a Hugging Face
Space this file is the ``app_file``. Nothing heavy happens at import: models load on first use.
"""

from __future__ import annotations

import os

import gradio as gr

from lab import data, memory
from lab.ui import lora, masking, model_data, nf4, training
from lab.ui.style import CSS, THEME, install_input_guards

HEADER = """
# Tuning Lab
**How a pre-trained language model becomes an assistant**: supervised fine-tuning (SFT),
instruction tuning, SFT data, parameter-efficient fine-tuning (PEFT), LoRA and QLoRA — on a real
135M-parameter model, with every number checked against the real libraries
(`transformers`, `peft`, `bitsandbytes`). The tabs follow the lecture (Stanford CME 295, lecture 5).
"""


def build_app() -> gr.Blocks:
    """The whole lab as one ``gr.Blocks``; each tab is built by its own module in ``lab/ui``."""
    with gr.Blocks(title="Tuning Lab") as demo:
        gr.Markdown(HEADER, elem_id="lab-header")
        with gr.Tabs():
            with gr.Tab("Model & data", id="model-data"):
                model_data.build_model_data_tab()
            with gr.Tab("SFT masking", id="masking"):
                masking.build_masking_tab()
            with gr.Tab("LoRA calculator", id="lora"):
                lora.build_lora_tab()
            with gr.Tab("NF4 explorer", id="nf4"):
                nf4.build_nf4_tab()
            with gr.Tab("QLoRA training", id="training"):
                training.build_training_tab()
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
