"""LoRA calculator tab: exact trainable parameters, adapter size and training memory, for real models."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from lab import architectures, checks, lora, models, plots
from lab import lora_memory as memory
from lab.ui.style import user_errors

PEFT_EXPLAIN = """
### Why parameter-efficient fine-tuning (PEFT)
Full fine-tuning is expensive: GPU memory must hold the **weights**, their **gradients** and the
**optimizer states** — Adam keeps two more numbers per parameter — several times the model's size.
PEFT updates only a small part of the parameters, or adds small modules, and **freezes the rest**:
far less memory, less catastrophic forgetting of what the model knew, and adapters of a few tens of
MB to share instead of whole multi-GB models.
"""

LORA_EXPLAIN = """
### LoRA (Hu et al. 2021)
Instead of updating a weight W (d_out × d_in), learn a low-rank update **ΔW = B A**, with B (d_out × r)
and A (r × d_in), r small (8, 16, 64): **W' = W + (α / r) · B A**. One matrix then trains
**r · (d_in + d_out)** numbers instead of d_in · d_out. B starts at zero, so training starts exactly
from the pre-trained model. On GPT-3 175B the paper trains **10,000× fewer parameters** with **3× less
GPU memory**, at a quality comparable to full fine-tuning. Every count below is what
`peft.get_peft_model` makes trainable — press *Check with peft* to see peft count it.
"""

MEMORY_EXPLAIN = """
### Memory for training
**Full fine-tuning** (16-bit): weights 2 B + gradients 2 B + Adam's two fp32 moments 8 B = **12 bytes
per parameter**. **LoRA** keeps the frozen base in 16 bits; only the adapter has gradients and Adam
states. **QLoRA** (Dettmers et al. 2023) stores the frozen base in **NF4 with double quantization:
4.127 bits per parameter**, with 16-bit adapters on top. For LLaMA-65B that is the paper's claim:
full 16-bit fine-tuning needs **more than 780 GB**, QLoRA fits on **one 48 GB GPU** (pick
*LLaMA-65B*, r = 64, all linear). Weights, gradients and optimizer states are exact; activations
(hatched) are an estimate that grows with batch × sequence length and shrinks with gradient
checkpointing; the overhead is an allowance for the CUDA context.
"""

FOUR_BIT_EXPLAIN = """
### Why a 4-bit model seems to have half its parameters
bitsandbytes stores a 4-bit weight as a flat `uint8` tensor holding **two 4-bit codes per byte**, so
`p.numel()` of a quantized weight counts *bytes*, half its real number of values. Summing `numel()`
over a 4-bit model therefore undercounts every quantized layer by half; peft
(`get_nb_trainable_parameters`) and transformers (`num_parameters`) multiply those tensors back by 2.
"""

SOURCES = ("Bundled", "Pasted config.json", "Hub id")
PRESET_LABELS = {
    "q, v (LoRA paper)": "lora-paper",
    "All attention": "attention",
    "All linear": "all-linear",
    "Pick modules": None,
}
BIAS_LABELS = {"none": "none", "all": "all", "lora_only": "lora_only"}
RANKS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
PRECISIONS = {"16-bit (GPU)": 16, "32-bit (this CPU)": 32}


NOTHING_TO_CHECK = "Nothing to check: the architecture did not load (the error message says why)."
MAX_PICKED = 1_000
"""Module names one request may send (a model has a few dozen)."""


def _source(source: str, bundled: str, pasted: str, hub: str) -> tuple[str, str]:
    """(source, its text) once each input is in range; nothing is loaded yet."""
    source = checks.one_of("Architecture from", source, SOURCES)
    if source == "Pasted config.json":
        return source, checks.text("The pasted config.json", pasted, architectures.MAX_CONFIG_CHARS, required=False)
    if source == "Hub id":
        return source, checks.text("The Hub id", hub, 200, required=False).strip()
    return source, checks.one_of("Bundled config", bundled or architectures.DEFAULT, architectures.bundled_names())


def _arch(source: str, bundled: str, pasted: str, hub: str):
    """The chosen architecture, or None when the chosen source is still empty."""
    source, text = _source(source, bundled, pasted, hub)
    if not text.strip():
        return None
    if source == "Pasted config.json":
        # always JSON here: a typo gets "not valid JSON at line …", never "not a bundled name"
        return architectures.architecture(architectures.parse_config_json(text), name="pasted config.json")
    return architectures.architecture(text)


def _names(label: str, values) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"{label} must be a list of module names, not {type(values).__name__}.")
    if len(values) > MAX_PICKED:
        raise ValueError(f"{label} holds {len(values):,} names; the limit is {MAX_PICKED:,}.")
    return [v for v in values if isinstance(v, str)]


def _targets(arch, preset_label: str, picked):
    preset = PRESET_LABELS[checks.one_of("Target modules", preset_label, PRESET_LABELS)]
    if preset is not None:
        return preset
    valid = set(lora.module_choices(arch))
    picked = [p for p in _names("Modules", picked) if p in valid]
    if not picked:
        raise ValueError(f"Pick at least one module of {arch.name} (or choose a preset).")
    return picked


def _saved(arch, saved):
    valid = set(lora.save_choices(arch))
    return [s for s in _names("modules_to_save", saved) if s in valid]


def _human(n: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:,.2f}{unit}"
    return f"{n:,.0f}"


def _bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} B"


def update_choices(source, bundled, pasted, hub, picked, saved):
    """New architecture: offer its module names (keeping picks that still exist).
    A bad config is reported once, by :func:`calculate`; here it just leaves the lists alone."""
    try:
        arch = _arch(source, bundled, pasted, hub)
    except ValueError:
        arch = None
    if arch is None:
        return gr.update(), gr.update(), ""
    mods, keep = lora.module_choices(arch), lora.save_choices(arch)
    return (gr.update(choices=mods, value=[p for p in (picked or []) if p in mods]),
            gr.update(choices=keep, value=[s for s in (saved or []) if s in keep]), _arch_info(arch))


def _arch_info(arch) -> str:
    return (f"**{arch.name}** · `{arch.model_type}` · {arch.total:,} parameters · output layer "
            f"`{arch.output_name}`{' (tied to the input embedding)' if arch.tied else ''}")


def summary_markdown(count: lora.LoraCount, alpha: float) -> str:
    rows = [
        ("Trainable parameters", f"**{count.trainable:,}** ({_human(count.trainable)})"),
        ("All parameters (base + adapter)", f"{count.total:,} ({_human(count.total)})"),
        ("Trainable share (peft's trainable%)", f"**{count.percent:.4f} %**"),
        ("Fewer than full fine-tuning", f"**{count.reduction:,.0f}×** ({count.base_total:,} ÷ {count.trainable:,})"),
        ("Adapted matrices", f"{count.n_adapted:,} · rank {count.r} · scale α / r = {alpha:g} / {count.r} = "
                             f"{alpha / count.r:.3g}"),
        ("Adapter file (fp16 / bf16)", f"**{_bytes(count.adapter_bytes(2))}**"),
        ("Adapter file (fp32, peft's default)", _bytes(count.adapter_bytes(4))),
    ]
    parts = [f"LoRA {count.lora:,}"]
    if count.dora:
        parts.append(f"DoRA magnitudes {count.dora:,}")
    if count.bias_params:
        parts.append(f"biases {count.bias_params:,}")
    if count.saved:
        parts.append(f"modules_to_save copies {count.saved:,}")
    table = f"| {count.arch_name} | r = {count.r} |\n|---|---:|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    return f"{table}\n\nTrainable = " + " + ".join(parts) + "."


def module_table(count: lora.LoraCount) -> pd.DataFrame:
    rows = count.grouped()
    return pd.DataFrame({
        "module": [g["module"] for g in rows],
        "role": [g["role"] for g in rows],
        "class": [g["class"] for g in rows],
        "shape (d_out × d_in)": [g["shape"] for g in rows],
        "×": [g["count"] for g in rows],
        "params each": [f"{g['params each']:,}" for g in rows],
        "trainable each": [f"{g['trainable each']:,}" for g in rows],
        "trainable": [f"{g['trainable']:,}" for g in rows],
    })


def rank_figure(arch, count: lora.LoraCount, preset_label: str, bias, dora, saved):
    series = {}
    for label, preset in PRESET_LABELS.items():
        if preset is None:
            continue
        try:
            series[label] = lora.trainable_by_rank(arch, RANKS, preset, bias=bias, use_dora=dora,
                                                   modules_to_save=saved)
        except ValueError:  # e.g. no attention block found: leave that preset out
            continue
    current = preset_label
    if PRESET_LABELS.get(preset_label) is None:
        series["your modules"] = lora.trainable_by_rank(arch, RANKS, count.target_modules, bias=bias,
                                                       use_dora=dora, modules_to_save=saved)
        current = "your modules"
    return plots.lora_rank_figure(RANKS, series, count.r, current, arch.total,
                                  title=f"Trainable parameters against the rank — {arch.name}")


def memory_outputs(arch, r, targets, bias, dora, saved, batch: int, seq: int, gc, precision_label):
    precision = PRECISIONS[checks.one_of("weights and activations", precision_label, PRECISIONS)]
    ests = memory.estimate_all(arch, r=r, target_modules=targets, bias=bias, use_dora=dora, modules_to_save=saved,
                               batch_size=batch, seq_len=seq, gradient_checkpointing=bool(gc),
                               precision=precision, overhead_gb=0.5 if precision == 16 else 0.0)
    fig = plots.memory_figure([{"label": e.label, "terms": {t.name: t.gb for t in e.terms}} for e in ests],
                              title=f"Memory for one training step — {arch.name}, {precision}-bit, "
                                    f"batch {batch} × {seq}")
    table = pd.DataFrame({
        "term": [f"{t.name} ({'exact' if t.exact else 'estimate'})" for t in ests[0].terms] + ["total"],
        **{e.label: [f"{t.gb:,.2f}" for t in e.terms] + [f"{e.total_gb:,.2f}"] for e in ests},
    })
    fits = " · ".join(
        f"{e.label}: " + (", ".join(f"{g} GB" for g in memory.GPU_SIZES_GB if e.fits(g)) or "none of them")
        for e in ests)
    how = "\n".join(f"- **{e.label}** — " + "; ".join(f"{t.name}: {t.how}" for t in e.terms[:3]) for e in ests)
    q = lora.quantized_params(arch)
    fused = any(len(shape) == 3 for shape in arch.params.values())
    kept = (f"QLoRA stores {q:,} of the {arch.total:,} parameters in NF4 (the weights of every Linear layer but "
            f"the output layer); the other {arch.total - q:,} (embeddings, norms, output layer"
            + (", and the mixture-of-experts weights, which transformers 5 keeps as 3-D parameters that "
               "bitsandbytes does not quantize" if fused else "") + ") stay 16-bit.")
    return fig, table, f"Fits on a GPU of (GB): {fits}.\n\n{kept}\n\n{how}"


@user_errors
def calculate(source, bundled, pasted, hub, r, alpha, preset_label, picked, bias, dora, saved,
              batch, seq, gc, precision_label):
    """Everything the tab shows for the current settings (fast: pure arithmetic once shapes are known)."""
    r, alpha = lora.check_rank(r), lora.check_alpha(alpha)  # every range checked before any work
    bias = BIAS_LABELS[checks.one_of("bias", bias, BIAS_LABELS)]
    checks.one_of("Target modules", preset_label, PRESET_LABELS)
    batch = checks.whole_number("batch size", batch, 1, memory.MAX_BATCH)
    seq = checks.whole_number("sequence length", seq, 1, memory.MAX_SEQ_LEN)
    checks.one_of("weights and activations", precision_label, PRECISIONS)
    arch = _arch(source, bundled, pasted, hub)
    if arch is None:
        waiting = "Paste a config.json and click outside the box." if source.startswith("Pasted") else \
            "Type a Hub id (online only) and press Enter."
        return waiting, "", None, None, None, None, "", ""
    targets = _targets(arch, preset_label, picked)
    saved = _saved(arch, saved)
    count = lora.count_lora_params(arch, r, targets, bias, bool(dora), saved)
    code = "from peft import LoraConfig\n\nconfig = " + lora.lora_config_code(count, alpha)
    fig, mem_table, mem_note = memory_outputs(arch, count.r, targets, count.bias, count.use_dora, saved,
                                              batch, seq, gc, precision_label)
    return (summary_markdown(count, alpha), code, rank_figure(arch, count, preset_label, count.bias,
            count.use_dora, saved), module_table(count), fig, mem_table, mem_note, "")


@user_errors
def peft_check(source, bundled, pasted, hub, r, alpha, preset_label, picked, bias, dora, saved):
    """Run peft itself on the meta-device model and put its count beside the lab's.

    An architecture that does not load is not reported here: :func:`calculate` reports it, once, on
    the same change (typing a Hub id and clicking this button fires both), so this says only that
    there is nothing to check.
    """
    r, alpha = lora.check_rank(r), lora.check_alpha(alpha)
    bias = BIAS_LABELS[checks.one_of("bias", bias, BIAS_LABELS)]
    checks.one_of("Target modules", preset_label, PRESET_LABELS)
    _source(source, bundled, pasted, hub)  # inputs out of range are refused here; a failed load is not
    try:
        arch = _arch(source, bundled, pasted, hub)
    except ValueError:
        return NOTHING_TO_CHECK
    if arch is None:
        raise ValueError("Choose an architecture first.")
    targets = _targets(arch, preset_label, picked)
    saved = _saved(arch, saved)
    ours = lora.count_lora_params(arch, r, targets, bias, bool(dora), saved)
    theirs = lora.check_with_peft(arch, r, targets, bias, bool(dora), saved, lora_alpha=alpha)
    same = (ours.trainable, ours.total) == (theirs.trainable, theirs.total)
    verdict = "✓ Identical" if same else "✗ Different — please report this"
    return (
        f"| | trainable | all parameters |\n|---|---:|---:|\n"
        f"| this lab (arithmetic) | {ours.trainable:,} | {ours.total:,} |\n"
        f"| peft `get_nb_trainable_parameters()` | {theirs.trainable:,} | {theirs.total:,} |\n\n"
        f"**{verdict}.** peft wrapped the {arch.name} model on the meta device (no memory used) in "
        f"{theirs.seconds:.2f} s with `{theirs.lora_config}`."
    )


def four_bit_prediction() -> str:
    arch = architectures.architecture("smollm2-135m")
    q = lora.quantized_params(arch)
    return (
        f"For the bundled SmolLM2-135M: **{arch.total:,}** parameters, of which **{q:,}** sit in the 210 Linear "
        f"layers that bitsandbytes quantizes (embeddings, norms and the tied output layer stay 16-bit). "
        f"After a 4-bit load, `sum(p.numel())` should read {arch.total - q:,} + {q:,} / 2 = "
        f"**{lora.expected_four_bit_naive(arch):,}**."
    )


@user_errors
def four_bit_measure(progress=gr.Progress()):
    progress(0, desc="Loading the bundled model in 4-bit (NF4); the first load quantizes it (~30 s)")
    model = models.shared_model(quantization="nf4")  # the same cache entry as the NF4 tab
    c = lora.four_bit_counts(model)
    return (
        f"| count | parameters |\n|---|---:|\n"
        f"| `sum(p.numel() for p in model.parameters())` | **{c.naive:,}** |\n"
        f"| … of which the {c.packed_tensors} packed 4-bit weights (`Params4bit`, uint8) | {c.packed_naive:,} |\n"
        f"| corrected: each `Params4bit` × 2 values per byte | **{c.true:,}** |\n"
        f"| `model.num_parameters()` (transformers corrects too) | {model.num_parameters():,} |\n\n"
        f"The naive sum misses {c.missing:,} parameters: exactly half of the {c.packed_true:,} quantized ones."
    )


def build_lora_tab(page=None) -> dict:
    with gr.Row():
        with gr.Column(elem_classes="lab-explain"):
            gr.Markdown(PEFT_EXPLAIN)
        with gr.Column(elem_classes="lab-explain"):
            gr.Markdown(LORA_EXPLAIN)
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            source = gr.Radio(list(SOURCES), value="Bundled", label="Architecture from")
            bundled = gr.Dropdown(architectures.bundled_names(), value=architectures.DEFAULT,
                                  label="Bundled config (real config.json)", elem_id="lora-arch")
            pasted_box = gr.Code(language="json", label="config.json (click outside the box to use it)",
                                 visible=False, lines=8, elem_id="lora-paste")
            hub_box = gr.Textbox(label="Hub id (online only; only config.json is downloaded)",
                                 placeholder="Qwen/Qwen2.5-7B", visible=False)
            pasted, hub = gr.State(""), gr.State("")
            first = architectures.architecture(architectures.DEFAULT)
            arch_info = gr.Markdown(_arch_info(first), elem_classes="lab-note")
            rank = gr.Slider(1, lora.MAX_RANK, value=8, step=1, label="rank r", elem_id="lora-rank")
            alpha = gr.Number(16, label="alpha (α; scale α / r — does not change the count)", minimum=0.001)
            preset = gr.Radio(list(PRESET_LABELS), value="All linear", label="Target modules")
            picked = gr.Dropdown(lora.module_choices(first), value=["q_proj", "v_proj"], multiselect=True,
                                 label="Modules (for 'Pick modules')", elem_id="lora-picked")
            bias = gr.Radio(list(BIAS_LABELS), value="none", label="bias")
            dora = gr.Checkbox(False, label="DoRA (adds a magnitude vector of d_out per matrix)")
            saved = gr.Dropdown(lora.save_choices(first), value=[], multiselect=True, elem_id="lora-saved",
                                label="modules_to_save (trained in full, e.g. embed_tokens, lm_head)")
        with gr.Column(scale=3):
            summary = gr.Markdown(elem_id="lora-summary")
            code = gr.Code(language="python", label="The same adapter with peft", lines=3)
            with gr.Row():
                check_btn = gr.Button("Check with peft", variant="secondary", scale=0, elem_id="lora-check")
                check_out = gr.Markdown(elem_id="lora-check-out")
            rank_plot = gr.Plot(label="Trainable parameters against rank", show_label=False,
                                elem_id="lora-rank-plot")
    table = gr.Dataframe(label="Per module (layer index shown as *)", interactive=False, max_height=360,
                         elem_id="lora-table")
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            gr.Markdown(MEMORY_EXPLAIN, elem_classes="lab-explain")
            batch = gr.Slider(1, 64, value=1, step=1, label="batch size (sequences per step)")
            seq = gr.Slider(64, 8192, value=512, step=64, label="sequence length (tokens)")
            gc = gr.Checkbox(True, label="gradient checkpointing (recompute activations in backward)")
            precision = gr.Radio(list(PRECISIONS), value="16-bit (GPU)", label="weights and activations")
        with gr.Column(scale=3):
            mem_plot = gr.Plot(label="Memory", show_label=False, elem_id="lora-memory-plot")
            mem_table = gr.Dataframe(label="GB (10⁹ bytes)", interactive=False, elem_id="lora-memory-table")
            mem_note = gr.Markdown(elem_classes="lab-note")
    with gr.Row():
        with gr.Column(elem_classes="lab-explain"):
            gr.Markdown(FOUR_BIT_EXPLAIN)
            gr.Markdown(four_bit_prediction)
        with gr.Column():
            four_btn = gr.Button("Load the bundled model in 4-bit and count", elem_id="lora-4bit")
            four_out = gr.Markdown()

    def show_source(src):
        return (gr.update(visible=src == "Bundled"), gr.update(visible=src == "Pasted config.json"),
                gr.update(visible=src == "Hub id"))

    source.change(show_source, source, [bundled, pasted_box, hub_box], api_visibility="private")
    pasted_box.blur(lambda t: t, pasted_box, pasted, api_visibility="private")
    hub_box.submit(lambda t: t, hub_box, hub, api_visibility="private")
    hub_box.blur(lambda t: t, hub_box, hub, api_visibility="private")
    gr.on([source.change, bundled.change, pasted.change, hub.change], update_choices,
          [source, bundled, pasted, hub, picked, saved], [picked, saved, arch_info], api_visibility="private")
    inputs = [source, bundled, pasted, hub, rank, alpha, preset, picked, bias, dora, saved, batch, seq, gc, precision]
    outputs = [summary, code, rank_plot, table, mem_plot, mem_table, mem_note, check_out]  # a stale check is cleared
    gr.on(None, calculate, inputs, outputs, api_name="lora_count", trigger_mode="always_last")
    check_btn.click(peft_check, [source, bundled, pasted, hub, rank, alpha, preset, picked, bias, dora, saved],
                    check_out, api_name="lora_check_with_peft")
    four_btn.click(four_bit_measure, None, four_out, api_name="lora_four_bit")
    return {"summary": summary, "table": table, "check": check_btn, "rank": rank, "arch": bundled}
