"""LoRA calculator tab: exact trainable parameters, adapter size and training memory, for real models."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import gradio as gr

from lab import checks, lora, models, plots
from lab.errors import LabError, Msg
from lab.lora import architectures
from lab.lora import memory as lora_memory
from lab.ui import fmt, i18n
from lab.ui.i18n import Keyed, Page, TabView, Texts, t
from lab.ui.style import user_errors

BUNDLED, PASTED, HUB = "bundled", "pasted", "hub"
SOURCE_CHOICES = [("lora.source.bundled", BUNDLED), ("lora.source.pasted", PASTED), ("lora.source.hub", HUB)]
PICK = "pick"
"""The preset value that means "the modules picked by name"."""
PRESET_CHOICES = [("lora.preset.lora_paper", "lora-paper"), ("lora.preset.attention", "attention"),
                  ("lora.preset.all_linear", lora.PEFT_ALL_LINEAR), ("lora.preset.pick", PICK)]
PRECISION_CHOICES = [("lora.precision.16", 16), ("lora.precision.32", 32)]
RANKS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
MAX_HUB_ID = 200
MAX_PICKED = 1_000
"""Module names one request may send (a model has a few dozen)."""
#: Bundled architectures whose name in the list carries a note.
BUNDLED_NOTES = {"smollm2-135m": "lora.bundled.lab_model", "llama-65b": "lora.bundled.qlora_paper"}
#: Display keys of the values ``lab.lora`` returns (roles of a module row, methods, memory terms).
ROLE_KEYS = {"LoRA": "lora.role.lora", "DoRA": "lora.role.dora", "saved in full": "lora.role.saved",
             "bias": "lora.role.bias"}
METHOD_KEYS = {"full": "lora.method.full", "lora": "lora.method.lora", "qlora": "lora.method.qlora"}
TERM_KEYS = {"weights": "lora.term.weights", "gradients": "lora.term.gradients", "optimizer": "lora.term.optimizer",
             "activations": "lora.term.activations", "overhead": "lora.term.overhead"}
MODULE_COLUMNS = ["lora.col.module", "lora.col.role", "lora.col.class", "lora.col.shape", "lora.col.count",
                  "lora.col.each", "lora.col.trainable_each", "lora.col.trainable"]
NOTHING = "nothing"
"""What the peft check keeps when there was nothing to check (the architecture did not load)."""


def _values(pairs) -> list:
    return [value for _, value in pairs]


@dataclass
class Settings:
    """Everything the tab's inputs say, in the order of its inputs (and of :func:`calculate`'s parameters).

    The first eleven describe the adapter (all :func:`peft_check` needs); the last four the training step
    whose memory is estimated. Values arrive unchecked (the API sends anything): :meth:`checked`."""

    source: str = BUNDLED
    bundled: str = architectures.DEFAULT
    pasted: str = ""
    hub: str = ""
    r: int = 8
    alpha: float = lora.DEFAULT_ALPHA
    preset: str = lora.PEFT_ALL_LINEAR
    picked: list = field(default_factory=list)
    bias: str = "none"
    dora: bool = False
    saved: list = field(default_factory=list)
    batch: int = 1
    seq: int = 512
    gc: bool = True
    precision: int = 16

    ADAPTER = 11  # the adapter's fields come first

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def checked(self) -> Settings:
        """The same settings with every range checked, before any work (nothing is loaded yet)."""
        r, alpha = lora.check_rank(self.r), lora.check_alpha(self.alpha)
        bias = checks.one_of("bias", self.bias, lora.BIAS_MODES)
        preset = checks.one_of("Target modules", self.preset, _values(PRESET_CHOICES))
        batch = checks.whole_number(lora_memory.BATCH_FIELD, self.batch, 1, lora_memory.MAX_BATCH)
        seq = checks.whole_number(lora_memory.SEQ_FIELD, self.seq, 1, lora_memory.MAX_SEQ_LEN)
        precision = checks.one_of("weights and activations", self.precision, _values(PRECISION_CHOICES))
        source = checks.one_of("Architecture from", self.source, _values(SOURCE_CHOICES))
        pasted, hub, bundled = self.pasted, self.hub, self.bundled or architectures.DEFAULT
        if source == PASTED:  # only the chosen source's text is read
            pasted = checks.text("The pasted config.json", pasted, architectures.MAX_CONFIG_CHARS, required=False)
        elif source == HUB:
            hub = checks.text("The Hub id", hub, MAX_HUB_ID, required=False).strip()
        else:
            bundled = checks.one_of("Bundled config", bundled, architectures.bundled_names())
        return Settings(source, bundled, pasted, hub, r, alpha, preset, self.picked, bias, bool(self.dora),
                        self.saved, batch, seq, bool(self.gc), precision)

    def architecture(self):
        """The chosen architecture (of checked settings), or None while the chosen source is still empty."""
        if self.source == PASTED:
            if not self.pasted.strip():
                return None
            # always JSON here: a typo gets "not valid JSON at line …", never "not a bundled name"
            return architectures.architecture(architectures.parse_config_json(self.pasted),
                                              name=architectures.PASTED_NAME)
        if self.source == HUB:
            if not self.hub:
                return None
            return architectures.architecture(architectures.hub_config_dict(self.hub), name=self.hub)
        return architectures.architecture(self.bundled)

    def targets(self, arch):
        """``target_modules`` for peft: the preset's value, or the picked modules that exist in ``arch``."""
        if self.preset != PICK:
            return self.preset
        valid = set(lora.module_choices(arch))
        picked = [p for p in _names(Msg("field.modules", "Modules"), self.picked) if p in valid]
        if not picked:
            raise LabError("lora.err.pick_one", "Pick at least one module of {arch} (or choose a preset).",
                           arch=arch.name)
        return picked

    def modules_to_save(self, arch) -> list[str]:
        valid = set(lora.save_choices(arch))
        return [s for s in _names(Msg("field.modules_to_save", "modules_to_save"), self.saved) if s in valid]


def _names(name: Msg, values) -> list[str]:
    """A list of module names as sent (one name, a list, or nothing), at most :data:`MAX_PICKED`."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, (list, tuple)):
        raise LabError("lora.err.not_a_list", "{name} must be a list of module names, not {kind}.",
                       name=name, kind=type(values).__name__)
    if len(values) > MAX_PICKED:
        raise LabError("lora.err.too_many_names", "{name} holds {n:,} names; the limit is {limit:,}.",
                       name=name, n=len(values), limit=MAX_PICKED)
    return [v for v in values if isinstance(v, str)]


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


def _label(pairs, value, lang: str) -> str:
    return t(dict((v, k) for k, v in pairs)[value], lang)


def bundled_choices(lang: str = i18n.DEFAULT) -> list[tuple[str, str]]:
    """The bundled architectures as (name, stem); two names carry a note in ``lang``."""
    return [(t(BUNDLED_NOTES[stem], lang, name=name) if stem in BUNDLED_NOTES else name, stem)
            for stem, name in architectures.BUNDLED.items()]


def arch_info(arch, lang: str) -> str:
    tied = t("lora.arch_info.tied", lang) if arch.tied else ""
    return t("lora.arch_info", lang, name=arch.name, model_type=arch.model_type, total=arch.total,
             output=arch.output_name, tied=tied)


def update_choices(source, bundled, pasted, hub, picked, saved, lang=i18n.DEFAULT):
    """New architecture: offer its module names (keeping picks that still exist) and describe it.
    A bad config is reported once, by :func:`calculate`; here it just leaves the lists alone."""
    try:
        arch = Settings(source, bundled, pasted, hub).checked().architecture()
    except ValueError:
        arch = None
    if arch is None:
        return gr.update(), gr.update(), ""
    mods, keep = lora.module_choices(arch), lora.save_choices(arch)
    return (gr.update(choices=mods, value=[p for p in (picked or []) if p in mods]),
            gr.update(choices=keep, value=[s for s in (saved or []) if s in keep]),
            arch_info(arch, i18n.check_lang(lang)))


def summary_markdown(count: lora.LoraCount, alpha: float, lang: str) -> str:
    scale = t("lora.sum.adapted_value", lang, n=count.n_adapted, r=count.r, alpha=alpha, scale=alpha / count.r)
    rows = [
        [t("lora.sum.trainable", lang), f"**{count.trainable:,}** ({_human(count.trainable)})"],
        [t("lora.sum.total", lang), f"{count.total:,} ({_human(count.total)})"],
        [t("lora.sum.share", lang), f"**{count.percent:.4f} %**"],
        [t("lora.sum.fewer", lang), f"**{count.reduction:,.0f}×** ({count.base_total:,} ÷ {count.trainable:,})"],
        [t("lora.sum.adapted", lang), scale],
        [t("lora.sum.file16", lang), f"**{_bytes(count.adapter_bytes(2))}**"],
        [t("lora.sum.file32", lang), _bytes(count.adapter_bytes(4))],
    ]
    parts = [t("lora.sum.part.lora", lang, n=count.lora)]
    if count.dora:
        parts.append(t("lora.sum.part.dora", lang, n=count.dora))
    if count.bias_params:
        parts.append(t("lora.sum.part.bias", lang, n=count.bias_params))
    if count.saved:
        parts.append(t("lora.sum.part.saved", lang, n=count.saved))
    table = fmt.md_table([count.arch_name, f"r = {count.r}"], rows)
    return table + "\n\n" + t("lora.sum.parts", lang, parts=" + ".join(parts))


def module_table(count: lora.LoraCount, lang: str):
    rows = count.grouped()
    return fmt.frame({
        "lora.col.module": [g["module"] for g in rows],
        "lora.col.role": [t(ROLE_KEYS[g["role"]], lang) for g in rows],
        "lora.col.class": [g["class"] for g in rows],
        "lora.col.shape": [g["shape"] for g in rows],
        "lora.col.count": [g["count"] for g in rows],
        "lora.col.each": [f"{g['params each']:,}" for g in rows],
        "lora.col.trainable_each": [f"{g['trainable each']:,}" for g in rows],
        "lora.col.trainable": [f"{g['trainable']:,}" for g in rows],
    }, lang)


def rank_figure(arch, count: lora.LoraCount, preset: str, lang: str):
    """Trainable parameters against the rank for each preset (and the picked modules), the current one marked."""
    series = {}
    options = dict(bias=count.bias, use_dora=count.use_dora, modules_to_save=count.modules_to_save)
    for key, value in PRESET_CHOICES:
        if value == PICK:
            continue
        try:
            series[t(key, lang)] = lora.trainable_by_rank(arch, RANKS, value, **options)
        except ValueError:  # e.g. no attention block found: leave that preset out
            continue
    if preset == PICK:
        current = t("lora.fig.rank.yours", lang)
        series[current] = lora.trainable_by_rank(arch, RANKS, count.target_modules, **options)
    else:
        current = _label(PRESET_CHOICES, preset, lang)
    text = i18n.several(lang, current="lora.fig.rank.current", full="lora.fig.rank.full",
                        xlabel="lora.fig.rank.xlabel", ylabel="lora.fig.rank.ylabel")
    return plots.lora_rank_figure(RANKS, series, count.r, current, arch.total, text=text,
                                  title=t("lora.fig.rank.title", lang, name=arch.name))


def memory_outputs(arch, count: lora.LoraCount, s: Settings, lang: str):
    """The memory figure, its table and the note under it, for checked settings."""
    ests = lora_memory.estimate_all(
        arch, r=count.r, target_modules=count.target_modules, bias=count.bias, use_dora=count.use_dora,
        modules_to_save=count.modules_to_save, batch_size=s.batch, seq_len=s.seq, gradient_checkpointing=s.gc,
        precision=s.precision, overhead_gb=lora_memory.CUDA_OVERHEAD_GB if s.precision == 16 else 0.0)
    label = {e.method: t(METHOD_KEYS[e.method], lang) for e in ests}
    text = i18n.several(lang, estimate="lora.fig.memory.estimate", gpu="lora.fig.memory.gpu",
                        zoom="lora.fig.memory.zoom", xlabel="lora.fig.memory.xlabel", ylabel="lora.fig.memory.ylabel",
                        **{name: key for name, key in TERM_KEYS.items()})
    fig = plots.memory_figure([{"label": label[e.method], "terms": {term.name: term.gb for term in e.terms}}
                               for e in ests], lora_memory.GPU_SIZES_GB, text=text,
                              title=t("lora.fig.memory.title", lang, name=arch.name, bits=s.precision,
                                      batch=s.batch, seq=s.seq))
    terms = [t("lora.mem.exact" if term.exact else "lora.mem.estimate", lang, name=t(TERM_KEYS[term.name], lang))
             for term in ests[0].terms]
    table = fmt.frame({"lora.col.term": terms + [t("lora.mem.total", lang)],
                       **{METHOD_KEYS[e.method]: [f"{term.gb:,.2f}" for term in e.terms] + [f"{e.total_gb:,.2f}"]
                          for e in ests}}, lang)
    fits = " · ".join(
        f"{label[e.method]}: "
        + (", ".join(f"{g} GB" for g in lora_memory.GPU_SIZES_GB if e.fits(g)) or t("lora.mem.none", lang))
        for e in ests)
    how = "\n".join(f"- **{label[e.method]}** — "
                    + "; ".join(f"{t(TERM_KEYS[term.name], lang)}: {i18n.msg(term.how, lang)}" for term in e.terms[:3])
                    for e in ests)
    q = lora.quantized_params(arch)
    fused = any(len(shape) == 3 for shape in arch.params.values())
    kept = t("lora.mem.kept", lang, q=q, total=arch.total, rest=arch.total - q,
             moe=t("lora.mem.kept_moe", lang) if fused else "")
    return fig, table, f"{t('lora.mem.fits', lang, fits=fits)}\n\n{kept}\n\n{how}"


def answer(s: Settings, lang: str) -> tuple:
    """What the tab shows for these settings: summary, code, rank plot, module table, memory plot, memory
    table, memory note (fast: pure arithmetic once the architecture's shapes are known)."""
    s = s.checked()  # every range checked before any work
    arch = s.architecture()
    if arch is None:
        waiting = t("lora.wait.paste" if s.source == PASTED else "lora.wait.hub", lang)
        return waiting, "", None, None, None, None, ""
    count = lora.count_lora_params(arch, s.r, s.targets(arch), s.bias, s.dora, s.modules_to_save(arch))
    code = "from peft import LoraConfig\n\nconfig = " + lora.lora_config_code(count, s.alpha)
    fig, mem_table, mem_note = memory_outputs(arch, count, s, lang)
    return (summary_markdown(count, s.alpha, lang), code, rank_figure(arch, count, s.preset, lang),
            module_table(count, lang), fig, mem_table, mem_note)


@user_errors
def calculate(source, bundled, pasted, hub, r, alpha, preset, picked, bias, dora, saved, batch, seq, gc, precision,
              lang=i18n.DEFAULT):
    """Everything the tab shows for the current settings (see :func:`answer`), and an earlier peft check
    cleared (its text and what is kept of it)."""
    s = Settings(source, bundled, pasted, hub, r, alpha, preset, picked, bias, dora, saved, batch, seq, gc, precision)
    return (*answer(s, i18n.check_lang(lang)), "", None)


def check_markdown(kept, lang: str) -> str:
    """The peft check's answer from what :func:`peft_check` kept (None: nothing shown yet)."""
    if kept is None:
        return ""
    if kept == NOTHING:
        return t("lora.check.nothing", lang)
    verdict = t("lora.check.same" if kept["ours"] == kept["theirs"] else "lora.check.different", lang)
    table = fmt.md_table(["", t("lora.check.col.trainable", lang), t("lora.check.col.total", lang)],
                         [[t("lora.check.ours", lang), *(f"{n:,}" for n in kept["ours"])],
                          [t("lora.check.theirs", lang), *(f"{n:,}" for n in kept["theirs"])]])
    return table + "\n\n" + t("lora.check.done", lang, verdict=verdict, name=kept["arch"], s=kept["seconds"],
                              config=kept["config"])


@user_errors
def peft_check(source, bundled, pasted, hub, r, alpha, preset, picked, bias, dora, saved, lang=i18n.DEFAULT):
    """Run peft itself on the meta-device model and put its count beside the lab's: (text, what is kept).

    An architecture that does not load is not reported here: :func:`calculate` reports it, once, on
    the same change (typing a Hub id and clicking this button fires both), so this says only that
    there is nothing to check.
    """
    lang = i18n.check_lang(lang)
    s = Settings(source, bundled, pasted, hub, r, alpha, preset, picked, bias, dora, saved).checked()
    try:  # inputs out of range were refused above; a failed load is not
        arch = s.architecture()
    except ValueError:
        return check_markdown(NOTHING, lang), NOTHING
    if arch is None:
        raise LabError("lora.err.no_arch", "Choose an architecture first.")
    targets, saved = s.targets(arch), s.modules_to_save(arch)
    ours = lora.count_lora_params(arch, s.r, targets, s.bias, s.dora, saved)
    theirs = lora.check_with_peft(arch, s.r, targets, s.bias, s.dora, saved, lora_alpha=s.alpha)
    kept = {"arch": arch.name, "ours": (ours.trainable, ours.total), "theirs": (theirs.trainable, theirs.total),
            "seconds": theirs.seconds, "config": theirs.lora_config}
    return check_markdown(kept, lang), kept


def four_bit_prediction(lang: str = i18n.DEFAULT) -> str:
    arch = architectures.architecture("smollm2-135m")
    q = lora.quantized_params(arch)
    layers = sum(1 for m in arch.modules
                 if m.kind in (architectures.LINEAR, architectures.CONV1D) and m.name != arch.output_name)
    return t("lora.four.prediction", lang, name=arch.name, total=arch.total, q=q, layers=layers,
             rest=arch.total - q, naive=lora.expected_four_bit_naive(arch))


def four_bit_markdown(kept, lang: str) -> str:
    """The 4-bit counts from what :func:`four_bit_measure` kept (None: not measured yet)."""
    if kept is None:
        return ""
    c, reported = kept
    table = fmt.md_table(
        [t("lora.four.col.count", lang), t("lora.four.col.params", lang)],
        [["`sum(p.numel() for p in model.parameters())`", f"**{c.naive:,}**"],
         [t("lora.four.packed", lang, n=c.packed_tensors), f"{c.packed_naive:,}"],
         [t("lora.four.corrected", lang), f"**{c.true:,}**"],
         [t("lora.four.transformers", lang), f"{reported:,}"]])
    return table + "\n\n" + t("lora.four.missing", lang, missing=c.missing, quantized=c.packed_true)


@user_errors
def four_bit_measure(lang=i18n.DEFAULT, progress=gr.Progress()):
    """Load the bundled model in 4 bits and count its parameters both ways: (text, what is kept)."""
    lang = i18n.check_lang(lang)
    progress(0, desc=t("lora.four.loading", lang))
    model = models.shared_model(quantization="nf4")  # the same cache entry as the NF4 tab
    kept = (lora.four_bit_counts(model), model.num_parameters())
    return four_bit_markdown(kept, lang), kept


def rerender(lang, *values):
    """Everything on screen in ``lang``, from the inputs and what is kept (no model is loaded, peft is not
    run again): the architecture's line, the bundled list, the answer, the peft check and the 4-bit counts."""
    lang = i18n.check_lang(lang)
    n = len(Settings.names())
    s, (checked, four) = Settings(*values[:n]), values[n:]
    try:
        arch = s.checked().architecture()
        info = arch_info(arch, lang) if arch is not None else gr.skip()
        shown = answer(s, lang)
    except (ValueError, RuntimeError, OSError):  # the error on screen stays as it was said
        info, shown = gr.skip(), (gr.skip(),) * 7
    return (info, gr.update(choices=bundled_choices(lang)), *shown, check_markdown(checked, lang),
            four_bit_markdown(four, lang))


def build_lora_tab(page: Page) -> TabView:
    tx, lang, d = Texts(), page.lang, Settings()
    first = architectures.architecture(d.bundled)
    with gr.Row():
        with gr.Column(elem_classes="lab-explain"):
            tx.md("lora.explain.peft")
        with gr.Column(elem_classes="lab-explain"):
            tx.md("lora.explain.lora")
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            source = tx(gr.Radio, choices=Keyed(SOURCE_CHOICES), value=d.source, label="lora.source",
                        elem_id="lora-source")
            bundled = tx(gr.Dropdown, choices=bundled_choices(), value=d.bundled, label="lora.bundled",
                         elem_id="lora-arch")
            pasted_box = tx(gr.Code, language="json", label="lora.pasted", visible=False, lines=8,
                            elem_id="lora-paste")
            hub_box = tx(gr.Textbox, label="lora.hub", placeholder="lora.hub.placeholder", visible=False,
                         elem_id="lora-hub")
            pasted, hub = gr.State(d.pasted), gr.State(d.hub)
            info = gr.Markdown(arch_info(first, i18n.DEFAULT), elem_classes="lab-note", elem_id="lora-arch-info")
            rank = tx(gr.Slider, minimum=1, maximum=lora.MAX_RANK, value=d.r, step=1, label="lora.rank",
                      elem_id="lora-rank")
            alpha = tx(gr.Number, value=d.alpha, label="lora.alpha", minimum=0.001, elem_id="lora-alpha")
            preset = tx(gr.Radio, choices=Keyed(PRESET_CHOICES), value=d.preset, label="lora.preset",
                        elem_id="lora-preset")
            picked = tx(gr.Dropdown, choices=lora.module_choices(first), value=["q_proj", "v_proj"],
                        multiselect=True, label="lora.picked", elem_id="lora-picked")
            bias = tx(gr.Radio, choices=list(lora.BIAS_MODES), value=d.bias, label="lora.bias", elem_id="lora-bias")
            dora = tx(gr.Checkbox, value=d.dora, label="lora.dora", elem_id="lora-dora")
            saved = tx(gr.Dropdown, choices=lora.save_choices(first), value=d.saved, multiselect=True,
                       label="lora.saved", elem_id="lora-saved")
        with gr.Column(scale=3):
            summary = gr.Markdown(elem_id="lora-summary")
            code = tx(gr.Code, language="python", label="lora.code", lines=3, elem_id="lora-code")
            with gr.Row():
                check_btn = tx(gr.Button, value="lora.check", text_value=True, variant="secondary", scale=0,
                               elem_id="lora-check")
                check_out = gr.Markdown(elem_id="lora-check-out")
            rank_plot = tx(gr.Plot, label="lora.rank_plot", show_label=False, elem_id="lora-rank-plot")
    table = tx(gr.Dataframe, value=fmt.placeholder(MODULE_COLUMNS, i18n.DEFAULT), label="lora.table",
               interactive=False, max_height=360, wrap=True, elem_id="lora-table")
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            tx.md(("lora.explain.memory", {"bits": lora_memory.NF4_BITS}), elem_classes="lab-explain")
            batch = tx(gr.Slider, minimum=1, maximum=64, value=d.batch, step=1, label="lora.batch",
                       elem_id="lora-batch")
            seq = tx(gr.Slider, minimum=64, maximum=8192, value=d.seq, step=64, label="lora.seq", elem_id="lora-seq")
            gc = tx(gr.Checkbox, value=d.gc, label="lora.gc", elem_id="lora-gc")
            precision = tx(gr.Radio, choices=Keyed(PRECISION_CHOICES), value=d.precision, label="lora.precision",
                           elem_id="lora-precision")
        with gr.Column(scale=3):
            mem_plot = tx(gr.Plot, label="lora.mem_plot", show_label=False, elem_id="lora-memory-plot")
            mem_table = tx(gr.Dataframe, label="lora.mem_table", interactive=False, elem_id="lora-memory-table")
            mem_note = gr.Markdown(elem_classes="lab-note", elem_id="lora-memory-note")
    with gr.Row():
        with gr.Column(elem_classes="lab-explain"):
            tx.md("lora.explain.four_bit")
            tx(gr.Markdown, value=four_bit_prediction, elem_id="lora-4bit-prediction")
        with gr.Column():
            four_btn = tx(gr.Button, value="lora.four", text_value=True, elem_id="lora-4bit")
            four_out = gr.Markdown(elem_id="lora-4bit-out")
    check_state, four_state = gr.State(None), gr.State(None)  # kept for a language switch

    def show_source(src):
        return gr.update(visible=src == BUNDLED), gr.update(visible=src == PASTED), gr.update(visible=src == HUB)

    source.change(show_source, source, [bundled, pasted_box, hub_box], api_visibility="private")
    pasted_box.blur(lambda text: text, pasted_box, pasted, api_visibility="private")
    hub_box.submit(lambda text: text, hub_box, hub, api_visibility="private")
    hub_box.blur(lambda text: text, hub_box, hub, api_visibility="private")
    gr.on([source.change, bundled.change, pasted.change, hub.change], update_choices,
          [source, bundled, pasted, hub, picked, saved, lang], [picked, saved, info], api_visibility="private")
    settings = [source, bundled, pasted, hub, rank, alpha, preset, picked, bias, dora, saved, batch, seq, gc, precision]
    assert len(settings) == len(Settings.names())
    outputs = [summary, code, rank_plot, table, mem_plot, mem_table, mem_note, check_out, check_state]
    gr.on([c.change for c in settings], calculate, [*settings, lang], outputs, api_name="lora_count",
          trigger_mode="always_last")  # a stale peft check is cleared
    page.on_arrival(calculate, [*settings, lang], outputs)
    check_btn.click(peft_check, [*settings[:Settings.ADAPTER], lang], [check_out, check_state],
                    api_name="lora_check_with_peft")
    four_btn.click(four_bit_measure, lang, [four_out, four_state], api_name="lora_four_bit")
    return TabView(
        texts=tx,
        rerender=[(rerender, [*settings, check_state, four_state],
                   [info, bundled, summary, code, rank_plot, table, mem_plot, mem_table, mem_note, check_out,
                    four_out])],
        parts={"summary": summary, "table": table, "check": check_btn, "rank": rank, "arch": bundled,
               "source": source, "preset": preset, "check_out": check_out},
    )

