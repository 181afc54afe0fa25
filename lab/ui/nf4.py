"""NF4 explorer tab: how QLoRA stores weights in 4 bits (bit-exact with bitsandbytes)."""

from __future__ import annotations

import math
import time

import gradio as gr
from gradio.context import Context
import pandas as pd
import torch

from lab import checks, models, nf4, plots
from lab import nf4_measure as measure
from lab.ui.style import user_errors

LEVELS_EXPLAIN = """
### QLoRA stores the frozen model in 4 bits
QLoRA (Dettmers et al. 2023) trains LoRA adapters on top of a base model **quantized to 4 bits**,
so that large models fine-tune on one GPU. Each weight matrix is cut into **blocks of 64** values;
a block keeps its **absmax** (largest |w|, fp32) and each weight keeps only the 4-bit **code** of
the level nearest to `w / absmax`:

`w ≈ level[code] × absmax`

**NF4 (4-bit NormalFloat)** places its 16 levels at **quantiles of a standard normal**: pre-trained
weights are roughly normal, so each level gets about the same share of the weights. The quantiles
use probabilities from 0.9677 down to 0.5 (the offset 0.9677083 is bitsandbytes' choice), with
8 levels above 0 and 7 below, so that **0 is exact**, then everything is divided by the largest
(so the ends are ±1). FP4 (a tiny float) and INT4 (a uniform grid) spend their levels less well on
bell-shaped data.
"""

DQ_EXPLAIN = """
### Double quantization: quantizing the quantization constants
One fp32 absmax per 64 weights costs **32 / 64 = 0.5 bits per weight**. QLoRA quantizes those
constants again: the absmax values minus their mean are stored in **8 bits, in blocks of 256**,
plus one fp32 scale per 256 blocks:

| | bits per weight |
|---|---|
| 4-bit codes + fp32 absmax | 4 + 32/64 = **4.5** |
| + double quantization | 4 + 8/64 + 32/(64·256) ≈ **4.127** |

That saves 0.373 bits per parameter, about **3 GB on a 65B model**. The paper says the second
quantization uses "8-bit floats"; the code (bitsandbytes) uses its 8-bit **dynamic map**: a sign
bit, a variable-length exponent (10⁻⁶ … 10⁰) and a linear fraction. On the CPU bitsandbytes finds
the 8-bit code through a 65,536-point grid, and this lab does the same, byte for byte.
"""

LOSS_EXPLAIN = """
### What 4 bits do to the model
The SFT loss (mean next-token loss on the reply) of the bundled model on the first rows of the
*pirate* set: in fp32; with every decoder weight replaced by its NF4 + DQ round trip computed by
`lab.nf4` (fp32 arithmetic: the weight error alone); and the real bitsandbytes 4-bit model that
QLoRA trains (its arithmetic in the compute dtype). QLoRA then trains LoRA adapters in 16 bits on
top of the frozen 4-bit weights, and can win back part of this loss. Small models lose more than large
ones: the QLoRA paper finds NF4 + DQ matches 16-bit fine-tuning from 7B to 65B parameters.
"""

SOURCES = ("Model weight", "Synthetic")
TYPE_LABELS = {"NF4": "nf4", "FP4": "fp4", "INT4": "int4"}
MAX_ZOOM = 64
BLOCK_COLUMNS = ["#", "input w", "w / absmax", "code", "byte", "nibble", "level", "level × absmax", "error"]
SWEEP_COLUMNS = ["type", "block size", "bits / weight", "MSE", "max error", "SQNR (dB)"]
BUNDLED_COLUMNS = ["format", "how", "MB", "bits / 4-bit weight"]
LOSS_COLUMNS = ["model", "SFT loss", "perplexity", "Δ vs fp32"]


def _placeholder(columns: list[str]) -> pd.DataFrame:
    """An empty table that already shows its column names."""
    return pd.DataFrame({c: ["–"] for c in columns})


def _levels_table() -> pd.DataFrame:
    books = {name: nf4.code_book(qt).tolist() for name, qt in TYPE_LABELS.items()}
    return pd.DataFrame({"code": [f"{c:04b}" for c in range(16)],
                         **{name: [f"{v:+.4f}" for v in vals] for name, vals in books.items()}})


def levels_figure():
    nf4_scale = float(torch.special.ndtri(torch.tensor(nf4.NF4_OFFSET, dtype=torch.float64)))
    return plots.nf4_levels_figure({qt: nf4.code_book(qt) for qt in nf4.QUANT_TYPES}, nf4_scale)


def _tensor(source: str, layer, module: str, kind: str, size, seed) -> tuple[torch.Tensor, str]:
    """The chosen tensor and its description; ``lab.nf4_measure`` checks every value (API calls too)."""
    checks.one_of("The tensor source", source, SOURCES)
    if source == "Model weight":
        x = measure.model_weight(layer, module)
        return x, f"`{measure.weight_name(layer, module)}` of {models.display_name()}"
    x = measure.synthetic_tensor(kind, size, seed)
    seed = checks.whole_number("The seed (synthetic)", seed, 0, measure.MAX_SEED)
    return x, f"synthetic **{kind}** tensor (std ≈ {measure.WEIGHT_STD}, seed {seed})"


def _source_inputs(source):
    """Show the inputs that the chosen source uses: layer and module for a model weight, else the synthetic ones."""
    weight = source == "Model weight"
    return (gr.update(visible=weight), gr.update(visible=weight),
            gr.update(visible=not weight), gr.update(visible=not weight), gr.update(visible=not weight))


def _fmt(v: float) -> str:
    return "∞" if math.isinf(v) else f"{v:.4g}"


@user_errors
def explore(source, layer, module, kind, size, seed, blocksize, type_label, double_quant, block):
    """Quantize the chosen tensor; return summary, histogram, block header, block table, block slider."""
    x, label = _tensor(source, layer, module, kind, size, seed)
    quant_type = TYPE_LABELS[checks.one_of("The 4-bit type", type_label, TYPE_LABELS)]
    blocksize = checks.whole_number("The block size", blocksize, min(nf4.BLOCKSIZES), max(nf4.BLOCKSIZES))
    double_quant = checks.one_of("Double quantization", double_quant, (True, False))
    block = checks.whole_number("The block to zoom into", block, 0, measure.MAX_SYNTHETIC)
    t0 = time.perf_counter()
    packed, state = nf4.quantize(x, blocksize, quant_type, bool(double_quant))
    x_hat = nf4.dequantize(packed, state)
    quant_ms = 1000 * (time.perf_counter() - t0)
    err = measure.error_metrics(x, x_hat)
    block = min(block, state.n_blocks - 1)  # a block of the previous tensor may be past this one's end
    view = measure.block_view(x, packed, state, block, MAX_ZOOM, x_hat)
    levels = (state.code.unique() * view.absmax).tolist()
    fig = plots.quant_histogram_figure(x.reshape(-1).numpy(), levels, view.values, quant_type, block,
                                       title=f"{type_label} levels of block {block} over all values "
                                             f"(block size {state.blocksize})")
    storage = state.storage_bytes()
    summary = (
        f"{label}: shape {tuple(x.shape)}, **{state.numel:,} values** in **{state.n_blocks:,} blocks** "
        f"of {state.blocksize}.\n\n"
        f"| type | MSE | max error | SQNR | stored bytes | bits per weight | quantize + dequantize |\n"
        f"|---|---:|---:|---:|---:|---:|---:|\n"
        f"| {type_label}{' + DQ' if double_quant else ''} | {_fmt(err['mse'])} | {_fmt(err['max_error'])} | "
        f"{err['sqnr_db']:.2f} dB | {sum(storage.values()):,} | **{state.bits_per_parameter():.4f}** | "
        f"{quant_ms:.0f} ms |\n\n"
        + " · ".join(f"{k}: {v:,} B" for k, v in storage.items())
    )
    shown = len(view.values)
    header = (
        f"**Block {block}** of {view.n_blocks:,} (values {view.start:,}–{view.start + shown - 1:,}"
        f"{f', first {shown} of {state.blocksize}' if shown < state.blocksize else ''}): "
        f"absmax = **{view.absmax:.6g}**{' (rebuilt from its 8-bit code)' if double_quant else ''}, "
        f"{view.levels_used} of 16 codes used. Two codes per byte: the first value in the **high** nibble."
    )
    table = pd.DataFrame({
        "#": range(view.start, view.start + shown),
        "input w": [f"{v:+.6f}" for v in view.values],
        "w / absmax": [f"{v / view.absmax:+.4f}" if view.absmax else "0" for v in view.values],
        "code": [f"{c:04b} ({c})" for c in view.codes],
        "byte": view.bytes_hex,
        "nibble": view.nibbles,
        "level": [f"{v:+.4f}" for v in view.levels],
        "level × absmax": [f"{v:+.6f}" for v in view.dequantized],
        "error": [f"{a - b:+.2e}" for a, b in zip(view.values, view.dequantized)],
    })
    slider = gr.update(maximum=max(state.n_blocks - 1, 1), value=block)
    return summary, fig, header, table, slider


@user_errors
def sweep(source, layer, module, kind, size, seed, double_quant, last_key=None):
    """NF4 vs FP4 vs INT4 across block sizes on the same tensor: table, plot, and the tensor's key.

    Skipped when neither the tensor nor double quantization changed since the last sweep.
    """
    key = repr((source, layer, module) if source == "Model weight" else (source, kind, size, seed)) + str(double_quant)
    if key == last_key:
        return gr.skip(), gr.skip(), key
    x, _ = _tensor(source, layer, module, kind, size, seed)
    double_quant = checks.one_of("Double quantization", double_quant, (True, False))
    rows = measure.compare_types(x, double_quant=bool(double_quant))
    table = pd.DataFrame({
        "type": [r["quant_type"].upper() for r in rows],
        "block size": [r["blocksize"] for r in rows],
        "bits / weight": [f"{r['bits_per_param']:.3f}" for r in rows],
        "MSE": [_fmt(r["mse"]) for r in rows],
        "max error": [_fmt(r["max_error"]) for r in rows],
        "SQNR (dB)": [f"{r['sqnr_db']:.2f}" for r in rows],
    })
    title = f"NF4 vs FP4 vs INT4 on {x.numel():,} values{' (double quant)' if double_quant else ''}"
    return table, plots.quant_error_figure(rows, title=title), key


@user_errors
def memory_for_size(billions):
    rows = measure.memory_for_size(billions)
    return pd.DataFrame({"format": [r["format"] for r in rows],
                         "bits / weight": [f"{r['bits_per_param']:.3f}" for r in rows],
                         "weights (GB)": [f"{r['gb']:,.1f}" for r in rows]})


@user_errors
def measure_bundled():
    mem = measure.bundled_model_memory()
    table = pd.DataFrame({"format": [r["format"] for r in mem.rows], "how": [r["how"] for r in mem.rows],
                          "MB": [f"{r['mb']:.1f}" for r in mem.rows],
                          "bits / 4-bit weight": [f"{r['bits_per_quantized_weight']:.3f}" for r in mem.rows]})
    parts = " · ".join(f"{k}: {v / 1e6:.2f} MB" for k, v in mem.measured_parts.items())
    note = (f"{mem.n_params / 1e6:.1f}M parameters, of which {mem.n_quantized / 1e6:.1f}M are in Linear layers "
            f"(stored in 4 bits); the rest — mostly the {mem.n_params - mem.n_quantized:,} embedding and norm "
            f"values — stays 16-bit, which is why the whole model shrinks less than 4×. Measured parts: {parts}.")
    return table, note


@user_errors
def compare_losses(n_rows, progress=gr.Progress()):
    """The loss table; the bar moves one step per model loaded and per row scored."""
    rows = measure.loss_comparison(n_rows, on_step=lambda fraction, what: progress(fraction, desc=what))
    return pd.DataFrame({"model": [r["model"] for r in rows], "SFT loss": [f"{r['loss']:.4f}" for r in rows],
                         "perplexity": [f"{r['perplexity']:.2f}" for r in rows],
                         "Δ vs fp32": [f"{r['delta']:+.4f}" for r in rows]})


def build_nf4_tab() -> dict:
    with gr.Row():
        with gr.Column(scale=3):
            gr.Plot(levels_figure(), label="NF4, FP4 and INT4 levels", show_label=False, elem_id="nf4-levels")
            with gr.Accordion("The 16 levels by code", open=False):
                gr.Dataframe(_levels_table(), interactive=False, max_height=420)
        with gr.Column(scale=2, elem_classes="lab-explain"):
            gr.Markdown(LEVELS_EXPLAIN)

    gr.Markdown("### Quantize a tensor")
    with gr.Row():
        source = gr.Radio(list(SOURCES), value="Model weight", label="Tensor", scale=2, elem_id="nf4-source")
        layer = gr.Slider(0, 29, value=0, step=1, label="Layer (model weight)", scale=2, elem_id="nf4-layer")
        module = gr.Dropdown(list(measure.MODULES), value="q_proj", label="Module (model weight)", scale=2,
                             elem_id="nf4-module")
        # hidden while the source is a model weight; precision=None: 3.5 reaches lab, which refuses it
        kind = gr.Dropdown(list(measure.SYNTHETIC_KINDS), value="normal", label="Distribution (synthetic)", scale=2,
                           visible=False, elem_id="nf4-kind")
        size = gr.Number(1_048_576, label="Values (synthetic)", scale=1, visible=False, elem_id="nf4-size")
        seed = gr.Number(0, label="Seed (synthetic)", scale=1, visible=False, elem_id="nf4-seed")
    with gr.Row():
        blocksize = gr.Dropdown([str(b) for b in nf4.BLOCKSIZES], value="64", label="Block size", scale=1)
        qtype = gr.Radio(list(TYPE_LABELS), value="NF4", label="4-bit type", scale=2)
        double_quant = gr.Checkbox(False, label="Double quantization", scale=1)
        block = gr.Slider(0, 100, value=0, step=1, label="Block to zoom into", scale=3, elem_id="nf4-block")
        run = gr.Button("Quantize", variant="primary", scale=1, elem_id="nf4-run")
    summary = gr.Markdown("Pick a tensor and a block size, then press **Quantize**.", elem_id="nf4-summary")
    hist = gr.Plot(label="Histogram with one block's levels", show_label=False)
    block_header = gr.Markdown(elem_id="nf4-block-header")
    block_table = gr.Dataframe(_placeholder(BLOCK_COLUMNS), interactive=False, max_height=360,
                               label="One block: values, codes, bytes", elem_id="nf4-block-table")

    gr.Markdown("### NF4 vs FP4 vs INT4 across block sizes")
    with gr.Row():
        sweep_table = gr.Dataframe(_placeholder(SWEEP_COLUMNS), interactive=False, max_height=460,
                                   label="Errors (same tensor)", scale=1, elem_id="nf4-sweep-table")
        sweep_plot = gr.Plot(label="Errors against block size", show_label=False, scale=1)

    with gr.Row():
        with gr.Column(scale=2, elem_classes="lab-explain"):
            gr.Markdown(DQ_EXPLAIN)
        with gr.Column(scale=3):
            gr.Markdown("#### Memory of the weights")
            with gr.Row():
                billions = gr.Number(65, label="Model size (billions of parameters)", scale=1)
            size_table = gr.Dataframe(memory_for_size(65), interactive=False, label="Computed for that size",
                                      elem_id="nf4-size-table")
            measure_btn = gr.Button("Measure the bundled model (loads it in 4 bits)", elem_id="nf4-measure")
            bundled_table = gr.Dataframe(_placeholder(BUNDLED_COLUMNS), interactive=False, label="Bundled model",
                                         wrap=True, column_widths=["24%", "40%", "14%", "22%"],
                                         elem_id="nf4-bundled-table")
            bundled_note = gr.Markdown(elem_classes="lab-note")

    with gr.Row():
        with gr.Column(scale=2, elem_classes="lab-explain"):
            gr.Markdown(LOSS_EXPLAIN)
        with gr.Column(scale=3):
            n_rows = gr.Slider(1, 8, value=4, step=1, label="Dataset rows")
            loss_btn = gr.Button("Compare full precision and NF4", elem_id="nf4-loss")
            loss_table = gr.Dataframe(_placeholder(LOSS_COLUMNS), interactive=False, label="SFT loss on the same rows",
                                      wrap=True, column_widths=["55%", "15%", "15%", "15%"], elem_id="nf4-loss-table")

    tensor_inputs = [source, layer, module, kind, size, seed]
    explore_inputs = tensor_inputs + [blocksize, qtype, double_quant, block]
    explore_outputs = [summary, hist, block_header, block_table, block]
    sweep_key = gr.State(None)
    sweep_inputs = tensor_inputs + [double_quant, sweep_key]
    source.change(_source_inputs, source, [layer, module, kind, size, seed], api_visibility="private")
    main = gr.on(
        triggers=[run.click, source.change, layer.release, module.change, kind.change, size.submit, seed.submit,
                  blocksize.change, qtype.change, double_quant.change,
                  Context.root_block.load],  # the default tensor's answer on arrival
        fn=explore, inputs=explore_inputs, outputs=explore_outputs, api_name="nf4_quantize",
        trigger_mode="always_last",
    )
    main.success(sweep, sweep_inputs, [sweep_table, sweep_plot, sweep_key], api_name="nf4_compare")
    # the slider's number box and arrow keys send `input` (typing, Enter, ←/→, a drag): each answers
    block.input(explore, explore_inputs, explore_outputs, api_visibility="private", trigger_mode="always_last",
                show_progress="minimal")
    billions.change(memory_for_size, billions, size_table, api_visibility="private")
    measure_btn.click(measure_bundled, None, [bundled_table, bundled_note], api_name="nf4_memory")
    loss_btn.click(compare_losses, n_rows, loss_table, api_name="nf4_loss")
    return {"run": run, "summary": summary, "block_table": block_table, "sweep_table": sweep_table}
