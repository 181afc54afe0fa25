"""NF4 explorer tab: how QLoRA stores weights in 4 bits (bit-exact with bitsandbytes)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import gradio as gr
import pandas as pd
import torch

from lab import checks, nf4, plots
from lab import nf4_measure as measure
from lab.errors import Msg
from lab.ui import fmt, i18n
from lab.ui.i18n import Keyed, Page, TabView, Texts, t
from lab.ui.style import user_errors

WEIGHT, SYNTHETIC = "weight", "synthetic"
SOURCE_CHOICES = [("nf4.source.weight", WEIGHT), ("nf4.source.synthetic", SYNTHETIC)]
TYPE_CHOICES = [("NF4", "nf4"), ("FP4", "fp4"), ("INT4", "int4")]
KIND_CHOICES = [("nf4.kind.normal", "normal"), ("nf4.kind.uniform", "uniform"), ("nf4.kind.heavy", "heavy-tailed")]
MAX_ZOOM = 64
BLOCK_COLUMNS = ["nf4.col.index", "nf4.col.input", "nf4.col.scaled", "nf4.col.code", "nf4.col.byte", "nf4.col.nibble",
                 "nf4.col.level", "nf4.col.level_absmax", "nf4.col.error"]
SWEEP_COLUMNS = ["nf4.col.type", "nf4.col.blocksize", "nf4.col.bits", "nf4.col.mse", "nf4.col.max_error", "nf4.col.sqnr"]
BUNDLED_COLUMNS = ["nf4.col.format", "nf4.col.how", "nf4.col.mb", "nf4.col.bits_4bit"]
SIZE_COLUMNS = ["nf4.col.format", "nf4.col.bits", "nf4.col.gb"]
LOSS_COLUMNS = ["nf4.col.model", "nf4.col.sft_loss", "nf4.col.perplexity", "nf4.col.delta"]
#: Names of the stored parts (``lab.nf4.QuantState.storage_bytes``) and of the two nibbles of a byte.
PART_KEYS = {"4-bit codes": "nf4.part.codes", "absmax codes (8-bit)": "nf4.part.absmax_codes",
             "absmax scales (fp32)": "nf4.part.absmax_scales", "absmax offset (fp32)": "nf4.part.absmax_offset",
             "absmax (fp32)": "nf4.part.absmax"}
NIBBLE_KEYS = {"high": "nf4.nibble.high", "low": "nf4.nibble.low"}
#: Row labels of the memory tables, by the format / row key ``lab.nf4_measure`` returns.
FORMAT_KEYS = {"16-bit": "nf4.format.16bit", "NF4": "nf4.format.nf4", "NF4 + double quant": "nf4.format.nf4_dq"}
HOW_KEYS = {"16bit": "nf4.how.16bit", "nf4": "nf4.how.nf4", "nf4_dq": "nf4.how.nf4_dq"}


@dataclass
class Tensor:
    """Which tensor to quantize: a model weight (layer, module) or a synthetic one (kind, size, seed)."""

    source: str = WEIGHT
    layer: int = 0
    module: str = "q_proj"
    kind: str = "normal"
    size: int = 1_048_576
    seed: int = 0

    def key(self) -> tuple:
        """What identifies the values (inputs the other source ignores do not count)."""
        if self.source == WEIGHT:
            return (self.source, self.layer, self.module)
        return (self.source, self.kind, self.size, self.seed)


def _type_label(quant_type: str) -> str:
    return dict((v, k) for k, v in TYPE_CHOICES)[quant_type]


def levels_table(lang: str = i18n.DEFAULT) -> pd.DataFrame:
    books = {name: nf4.code_book(qt).tolist() for name, qt in TYPE_CHOICES}
    return pd.DataFrame({t("nf4.col.code", lang): [f"{c:04b}" for c in range(16)],
                         **{name: [f"{v:+.4f}" for v in vals] for name, vals in books.items()}})


def levels_figure(lang: str = i18n.DEFAULT):
    nf4_scale = float(torch.special.ndtri(torch.tensor(nf4.NF4_OFFSET, dtype=torch.float64)))
    text = i18n.several(lang, title="nf4.fig.levels.title", density="nf4.fig.levels.density",
                        nf4="nf4.fig.levels.nf4", ylabel="nf4.fig.levels.ylabel", fp4="nf4.fig.levels.fp4",
                        int4="nf4.fig.levels.int4", distinct="nf4.fig.levels.distinct", xlabel="nf4.fig.levels.xlabel")
    return plots.nf4_levels_figure({qt: nf4.code_book(qt) for qt in nf4.QUANT_TYPES}, nf4_scale, text=text)


def _tensor(choice: Tensor, lang: str) -> tuple[torch.Tensor, str]:
    """The chosen tensor and its description; ``lab.nf4_measure`` checks every value (API calls too)."""
    checks.one_of("The tensor source", choice.source, (WEIGHT, SYNTHETIC))
    if choice.source == WEIGHT:
        x = measure.model_weight(choice.layer, choice.module)
        return x, t("nf4.described.weight", lang, name=measure.weight_name(choice.layer, choice.module),
                    model=fmt.model_name(lang))
    x = measure.synthetic_tensor(choice.kind, choice.size, choice.seed)
    seed = checks.whole_number("The seed (synthetic)", choice.seed, 0, measure.MAX_SEED)
    kind = t(dict((v, k) for k, v in KIND_CHOICES)[choice.kind], lang)
    return x, t("nf4.described.synthetic", lang, kind=kind, std=measure.WEIGHT_STD, seed=seed)


def _source_inputs(source):
    """Show the inputs that the chosen source uses: layer and module for a model weight, else the synthetic ones."""
    weight = source == WEIGHT
    return (gr.update(visible=weight), gr.update(visible=weight),
            gr.update(visible=not weight), gr.update(visible=not weight), gr.update(visible=not weight))


#: The last answers' numbers (a few MB each), so that a language switch re-words them without quantizing
#: again: settings -> (state, quantize ms, errors, block view).
_ANSWERED: dict[str, tuple] = {}
_SWEPT: dict[str, list] = {}  # tensor and double quantization -> the sweep's rows
_KEEP = 4


def _kept(store: dict, key: str, compute):
    if key not in store:
        store[key] = compute()
        while len(store) > _KEEP:
            store.pop(next(iter(store)))
    return store[key]


@user_errors
def explore(source, layer, module, kind, size, seed, blocksize, quant_type, double_quant, block, lang=i18n.DEFAULT,
            reuse=False):
    """Quantize the chosen tensor; return summary, histogram, block header, block table, block slider.
    ``reuse``: the same settings' numbers as last shown, if kept (a language switch), quantize time included."""
    lang = i18n.check_lang(lang)
    choice = Tensor(source, layer, module, kind, size, seed)
    x, label = _tensor(choice, lang)
    quant_type = checks.one_of("The 4-bit type", quant_type, [v for _, v in TYPE_CHOICES])
    blocksize = checks.whole_number("The block size", blocksize, min(nf4.BLOCKSIZES), max(nf4.BLOCKSIZES))
    double_quant = checks.one_of("Double quantization", double_quant, (True, False))
    block = checks.whole_number("The block to zoom into", block, 0, measure.MAX_SYNTHETIC)

    def answer():
        t0 = time.perf_counter()
        packed, state = nf4.quantize(x, blocksize, quant_type, bool(double_quant))
        x_hat = nf4.dequantize(packed, state)
        quant_ms = 1000 * (time.perf_counter() - t0)
        shown = min(block, state.n_blocks - 1)  # a block of the previous tensor may be past this one's end
        return state, quant_ms, measure.error_metrics(x, x_hat), measure.block_view(x, packed, state, shown,
                                                                                    MAX_ZOOM, x_hat)

    key = repr((choice.key(), blocksize, quant_type, double_quant, block))
    if not reuse:
        _ANSWERED.pop(key, None)
    state, quant_ms, err, view = _kept(_ANSWERED, key, answer)
    block = min(block, state.n_blocks - 1)
    levels = (state.code.unique() * view.absmax).tolist()
    type_label = _type_label(quant_type)
    text = i18n.several(lang, all="nf4.fig.hist.all", levels="nf4.fig.hist.levels", block="nf4.fig.hist.block",
                        outliers="nf4.fig.hist.outliers", xlabel="nf4.fig.hist.xlabel", ylabel="nf4.fig.hist.ylabel")
    fig = plots.quant_histogram_figure(x.reshape(-1).numpy(), levels, view.values, quant_type, block, text=text,
                                       title=t("nf4.fig.hist.title", lang, qt=type_label, block=block,
                                               size=state.blocksize))
    storage = state.storage_bytes()
    table = fmt.md_table(
        [t(k, lang) for k in ("nf4.col.type", "nf4.col.mse", "nf4.col.max_error", "nf4.col.sqnr_short",
                              "nf4.col.stored", "nf4.col.bits_weight", "nf4.col.time")],
        [[type_label + (" + DQ" if double_quant else ""), fmt.num(err["mse"]), fmt.num(err["max_error"]),
          f"{err['sqnr_db']:.2f} dB", f"{sum(storage.values()):,}", f"**{state.bits_per_parameter():.4f}**",
          f"{quant_ms:.0f} ms"]])
    summary = (t("nf4.summary", lang, label=label, shape=tuple(x.shape), n=state.numel, blocks=state.n_blocks,
                 size=state.blocksize)
               + "\n\n" + table + "\n\n" + " · ".join(f"{t(PART_KEYS[k], lang)}: {v:,} B" for k, v in storage.items()))
    shown = len(view.values)
    header = t("nf4.block.header", lang, block=block, n=view.n_blocks, start=view.start, end=view.start + shown - 1,
               first=t("nf4.block.first", lang, shown=shown, size=state.blocksize) if shown < state.blocksize else "",
               absmax=view.absmax, rebuilt=t("nf4.block.rebuilt", lang) if double_quant else "",
               used=view.levels_used)
    columns = [
        list(range(view.start, view.start + shown)),
        [f"{v:+.6f}" for v in view.values],
        [f"{v / view.absmax:+.4f}" if view.absmax else "0" for v in view.values],
        [f"{c:04b} ({c})" for c in view.codes],
        view.bytes_hex,
        [t(NIBBLE_KEYS[n], lang) for n in view.nibbles],
        [f"{v:+.4f}" for v in view.levels],
        [f"{v:+.6f}" for v in view.dequantized],
        [f"{a - b:+.2e}" for a, b in zip(view.values, view.dequantized)],
    ]
    slider = gr.update(maximum=max(state.n_blocks - 1, 1), value=block)
    return summary, fig, header, fmt.frame(dict(zip(BLOCK_COLUMNS, columns)), lang), slider


@user_errors
def sweep(source, layer, module, kind, size, seed, double_quant, last_key=None, lang=i18n.DEFAULT):
    """NF4 vs FP4 vs INT4 across block sizes on the same tensor: table, plot, and the tensor's key.

    Skipped when neither the tensor, double quantization nor the language changed since the last sweep.
    """
    lang = i18n.check_lang(lang)
    choice = Tensor(source, layer, module, kind, size, seed)
    key = repr(choice.key()) + str(double_quant) + lang
    if key == last_key:
        return gr.skip(), gr.skip(), key
    x, _ = _tensor(choice, lang)
    double_quant = checks.one_of("Double quantization", double_quant, (True, False))
    rows = _kept(_SWEPT, repr((choice.key(), double_quant)),
                 lambda: measure.compare_types(x, double_quant=bool(double_quant)))
    table = fmt.frame({
        "nf4.col.type": [r["quant_type"].upper() for r in rows],
        "nf4.col.blocksize": [r["blocksize"] for r in rows],
        "nf4.col.bits": [f"{r['bits_per_param']:.3f}" for r in rows],
        "nf4.col.mse": [fmt.num(r["mse"]) for r in rows],
        "nf4.col.max_error": [fmt.num(r["max_error"]) for r in rows],
        "nf4.col.sqnr": [f"{r['sqnr_db']:.2f}" for r in rows],
    }, lang)
    title = t("nf4.fig.sweep.title_dq" if double_quant else "nf4.fig.sweep.title", lang, n=x.numel())
    text = i18n.several(lang, xlabel="nf4.fig.sweep.xlabel", sqnr="nf4.fig.sweep.sqnr", mse="nf4.fig.sweep.mse")
    return table, plots.quant_error_figure(rows, title=title, text=text), key


@user_errors
def memory_for_size(billions, lang=i18n.DEFAULT):
    rows = measure.memory_for_size(billions)
    return fmt.frame({"nf4.col.format": [t(FORMAT_KEYS[r["format"]], lang) for r in rows],
                      "nf4.col.bits": [f"{r['bits_per_param']:.3f}" for r in rows],
                      "nf4.col.gb": [f"{r['gb']:,.1f}" for r in rows]}, i18n.check_lang(lang))


def bundled_outputs(mem, lang: str):
    """The bundled model's memory table and note (placeholders before it is measured)."""
    if mem is None:
        return fmt.placeholder(BUNDLED_COLUMNS, lang), ""
    table = fmt.frame({"nf4.col.format": [t(FORMAT_KEYS[r["format"]], lang) for r in mem.rows],
                       "nf4.col.how": [t(HOW_KEYS[r["key"]], lang) for r in mem.rows],
                       "nf4.col.mb": [f"{r['mb']:.1f}" for r in mem.rows],
                       "nf4.col.bits_4bit": [f"{r['bits_per_quantized_weight']:.3f}" for r in mem.rows]}, lang)
    parts = " · ".join(f"{k}: {v / 1e6:.2f} MB" for k, v in mem.measured_parts.items())
    note = t("nf4.bundled.note", lang, params=mem.n_params / 1e6, quantized=mem.n_quantized / 1e6,
             rest=mem.n_params - mem.n_quantized, parts=parts)
    return table, note


@user_errors
def measure_bundled(lang=i18n.DEFAULT):
    """Measure the bundled model in 4 bits: (table, note, the measurement kept for a language switch)."""
    mem = measure.bundled_model_memory()
    return (*bundled_outputs(mem, i18n.check_lang(lang)), mem)


def loss_frame(rows, lang: str) -> pd.DataFrame:
    if rows is None:
        return fmt.placeholder(LOSS_COLUMNS, lang)
    return fmt.frame({"nf4.col.model": [i18n.msg(r["name"], lang) if isinstance(r.get("name"), Msg) else r["model"]
                                        for r in rows],
                      "nf4.col.sft_loss": [f"{r['loss']:.4f}" for r in rows],
                      "nf4.col.perplexity": [f"{r['perplexity']:.2f}" for r in rows],
                      "nf4.col.delta": [f"{r['delta']:+.4f}" for r in rows]}, lang)


@user_errors
def compare_losses(n_rows, lang=i18n.DEFAULT, progress=gr.Progress()):
    """The loss table (and its rows, kept for a language switch); the bar moves one step per model loaded
    and per row scored."""
    lang = i18n.check_lang(lang)
    rows = measure.loss_comparison(n_rows, on_step=lambda fraction, what: progress(fraction, desc=i18n.msg(what, lang)))
    return loss_frame(rows, lang), rows


def rerender(lang, source, layer, module, kind, size, seed, blocksize, quant_type, double_quant, block, explored,
             billions, mem, loss_rows):
    """Everything on screen in ``lang``: the tensor's answer (if it was shown), the size table, the
    bundled model's memory and the loss table, from what is kept (no model is loaded)."""
    lang = i18n.check_lang(lang)
    settings = (source, layer, module, kind, size, seed, blocksize, quant_type, double_quant, block)
    try:
        answer = explore(*settings, lang=lang, reuse=True) if explored else (gr.skip(),) * 5
        sweep_out = sweep(source, layer, module, kind, size, seed, double_quant, None, lang=lang) if explored \
            else (gr.skip(),) * 3
        size_table = memory_for_size(billions, lang=lang)
    except gr.Error:  # a value the user is still typing: the next answer will show it
        answer, sweep_out, size_table = (gr.skip(),) * 5, (gr.skip(),) * 3, gr.skip()
    # nothing answered yet: the arrival's answer is on its way, in this language
    return (*answer[:4], *sweep_out, size_table, *bundled_outputs(mem, lang), loss_frame(loss_rows, lang))


def build_nf4_tab(page: Page) -> TabView:
    tx, lang = Texts(), page.lang
    with gr.Row():
        with gr.Column(scale=3):
            tx(gr.Plot, value=levels_figure, label="nf4.levels.label", show_label=False, elem_id="nf4-levels")
            with tx(gr.Accordion, label="nf4.levels.table", open=False):
                tx(gr.Dataframe, value=levels_table, interactive=False, max_height=420)
        with gr.Column(scale=2, elem_classes="lab-explain"):
            tx.md("nf4.explain.levels")

    tx.md("nf4.heading.quantize")
    with gr.Row():
        source = tx(gr.Radio, choices=Keyed(SOURCE_CHOICES), value=WEIGHT, label="nf4.source", scale=2,
                    elem_id="nf4-source")
        layer = tx(gr.Slider, minimum=0, maximum=29, value=0, step=1, label="nf4.layer", scale=2, elem_id="nf4-layer")
        module = tx(gr.Dropdown, choices=list(measure.MODULES), value="q_proj", label="nf4.module", scale=2,
                    elem_id="nf4-module")
        # hidden while the source is a model weight; precision=None: 3.5 reaches lab, which refuses it
        kind = tx(gr.Dropdown, choices=Keyed(KIND_CHOICES), value="normal", label="nf4.kind", scale=2, visible=False,
                  elem_id="nf4-kind")
        size = tx(gr.Number, value=1_048_576, label="nf4.size", scale=1, visible=False, elem_id="nf4-size")
        seed = tx(gr.Number, value=0, label="nf4.seed", scale=1, visible=False, elem_id="nf4-seed")
    with gr.Row():
        blocksize = tx(gr.Dropdown, choices=[str(b) for b in nf4.BLOCKSIZES], value="64", label="nf4.blocksize",
                       scale=1, elem_id="nf4-blocksize")
        qtype = tx(gr.Radio, choices=TYPE_CHOICES, value="nf4", label="nf4.qtype", scale=2, elem_id="nf4-qtype")
        double_quant = tx(gr.Checkbox, value=False, label="nf4.dq", scale=1)
        block = tx(gr.Slider, minimum=0, maximum=100, value=0, step=1, label="nf4.block", scale=3, elem_id="nf4-block")
        run = tx(gr.Button, value="nf4.run", text_value=True, variant="primary", scale=1, elem_id="nf4-run")
    summary = gr.Markdown(t("nf4.summary.empty"), elem_id="nf4-summary")
    hist = tx(gr.Plot, label="nf4.hist.label", show_label=False)
    block_header = gr.Markdown(elem_id="nf4-block-header")
    block_table = tx(gr.Dataframe, value=fmt.placeholder(BLOCK_COLUMNS, i18n.DEFAULT), interactive=False,
                     max_height=360, label="nf4.block_table", elem_id="nf4-block-table")

    tx.md("nf4.heading.sweep")
    with gr.Row():
        sweep_table = tx(gr.Dataframe, value=fmt.placeholder(SWEEP_COLUMNS, i18n.DEFAULT), interactive=False,
                         max_height=460, label="nf4.sweep_table", scale=1, elem_id="nf4-sweep-table")
        sweep_plot = tx(gr.Plot, label="nf4.sweep_plot", show_label=False, scale=1)

    with gr.Row():
        with gr.Column(scale=2, elem_classes="lab-explain"):
            tx.md("nf4.explain.dq")
        with gr.Column(scale=3):
            tx.md("nf4.heading.memory")
            with gr.Row():
                billions = tx(gr.Number, value=65, label="nf4.billions", scale=1)
            size_table = tx(gr.Dataframe, value=memory_for_size(65), interactive=False, label="nf4.size_table",
                            elem_id="nf4-size-table")
            measure_btn = tx(gr.Button, value="nf4.measure", text_value=True, elem_id="nf4-measure")
            bundled_table = tx(gr.Dataframe, value=fmt.placeholder(BUNDLED_COLUMNS, i18n.DEFAULT), interactive=False,
                               label="nf4.bundled_table", wrap=True, column_widths=["24%", "40%", "14%", "22%"],
                               elem_id="nf4-bundled-table")
            bundled_note = gr.Markdown(elem_classes="lab-note", elem_id="nf4-bundled-note")

    with gr.Row():
        with gr.Column(scale=2, elem_classes="lab-explain"):
            tx.md("nf4.explain.loss")
        with gr.Column(scale=3):
            n_rows = tx(gr.Slider, minimum=1, maximum=8, value=4, step=1, label="nf4.rows")
            loss_btn = tx(gr.Button, value="nf4.loss", text_value=True, elem_id="nf4-loss")
            loss_table = tx(gr.Dataframe, value=fmt.placeholder(LOSS_COLUMNS, i18n.DEFAULT), interactive=False,
                            label="nf4.loss_table", wrap=True, column_widths=["55%", "15%", "15%", "15%"],
                            elem_id="nf4-loss-table")

    # what a language switch re-renders: whether a tensor was answered, the measurement, the loss rows
    explored, mem_state, loss_state = gr.State(False), gr.State(None), gr.State(None)
    tensor_inputs = [source, layer, module, kind, size, seed]
    explore_inputs = tensor_inputs + [blocksize, qtype, double_quant, block, lang]
    explore_outputs = [summary, hist, block_header, block_table, block]
    sweep_key = gr.State(None)
    sweep_inputs = tensor_inputs + [double_quant, sweep_key, lang]
    source.change(_source_inputs, source, [layer, module, kind, size, seed], api_visibility="private")
    main = gr.on(
        triggers=[run.click, source.change, layer.release, module.change, kind.change, size.submit, seed.submit,
                  blocksize.change, qtype.change, double_quant.change],
        fn=explore, inputs=explore_inputs, outputs=explore_outputs, api_name="nf4_quantize",
        trigger_mode="always_last",
    )
    arrival = page.on_arrival(explore, explore_inputs, explore_outputs)  # the default tensor's answer
    for answered in (main, arrival):
        answered.success(lambda: True, None, explored, api_visibility="private")
    main.success(sweep, sweep_inputs, [sweep_table, sweep_plot, sweep_key], api_name="nf4_compare")
    arrival.success(sweep, sweep_inputs, [sweep_table, sweep_plot, sweep_key], api_visibility="private")
    # the slider's number box and arrow keys send `input` (typing, Enter, ←/→, a drag): each answers
    block.input(explore, explore_inputs, explore_outputs, api_visibility="private", trigger_mode="always_last",
                show_progress="minimal")
    billions.change(memory_for_size, [billions, lang], size_table, api_visibility="private")
    measure_btn.click(measure_bundled, lang, [bundled_table, bundled_note, mem_state], api_name="nf4_memory")
    loss_btn.click(compare_losses, [n_rows, lang], [loss_table, loss_state], api_name="nf4_loss")
    return TabView(
        texts=tx,
        rerender=[(rerender, [*tensor_inputs, blocksize, qtype, double_quant, block, explored, billions, mem_state,
                              loss_state],
                   [summary, hist, block_header, block_table, sweep_table, sweep_plot, sweep_key, size_table,
                    bundled_table, bundled_note, loss_table])],
        parts={"run": run, "summary": summary, "block_table": block_table, "sweep_table": sweep_table},
    )
