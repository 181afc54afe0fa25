"""The lab's two languages: one catalog of every visible string, keyed by stable ids.

Gradio's own ``gr.I18n`` cannot serve Vietnamese (its frontend has no ``vi`` locale), so the language is
the app's own, in the pattern of LLaMA-Factory's web UI: a catalog on the server, a switch in the page,
and every component updated from the catalog when the switch changes.

* **The catalog** is one table, split into one module per tab (``common``, ``model_data``, ``masking``,
  ``lora``, ``nf4``, ``training``, ...), each ``STRINGS = {key: (english, vietnamese)}``; templates use
  ``str.format`` fields (``"{n:,} rows"``). Sentences raised by the headless ``lab`` carry a code
  (:mod:`lab.errors`): a section's ``ERRORS = {code: vietnamese}`` translates them (the lab modules a
  tab uses have their sentences in that tab's section); their English stays in ``lab``, beside the
  check that raises it. Field names given to ``lab.checks`` are codes too (``field.the_layer``).
* **Components** are built through a :class:`Texts` binder: ``texts(gr.Slider, label="nf4.layer", ...)``
  builds the component in English and remembers which of its attributes come from which keys, so
  :meth:`Texts.updates` gives one ``gr.update`` per component for another language.
* **Outputs** (results, tables, plots) are re-rendered by each tab from what it keeps in its state.

Choices are ``(label, value)`` pairs everywhere: code compares values, never labels.
"""

from __future__ import annotations

import importlib
import json
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lab.errors import Msg, message_of

LANGS = ("en", "vi")
DEFAULT = "en"
#: The switch's choices: each language named in itself.
LANG_CHOICES = [("English", "en"), ("Tiếng Việt", "vi")]
SECTIONS = ("common", "model_data", "masking", "lora", "nf4", "training", "experiments", "paging")
# (each section module: STRINGS = {key: (english, vietnamese)}, optionally ERRORS = {code: vietnamese})


def _load() -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    strings: dict[str, tuple[str, str]] = {}
    errors: dict[str, str] = {}
    for name in SECTIONS:
        module = importlib.import_module(f"lab.ui.i18n.{name}")
        for key, pair in getattr(module, "STRINGS", {}).items():
            if key in strings:
                raise RuntimeError(f"catalog key {key!r} is defined twice (again in lab.ui.i18n.{name})")
            if not (isinstance(pair, tuple) and len(pair) == 2):
                raise RuntimeError(f"catalog key {key!r} must map to (english, vietnamese)")
            strings[key] = pair
        for code, vi in getattr(module, "ERRORS", {}).items():
            if code in errors or code in strings:
                raise RuntimeError(f"lab sentence {code!r} is translated twice (again in lab.ui.i18n.{name})")
            errors[code] = vi
    return strings, errors


STRINGS, ERRORS = _load()


def check_lang(lang) -> str:
    """``lang`` if it is one of the lab's languages, else English (the API may send anything)."""
    return lang if lang in LANGS else DEFAULT


def t(key: str, lang: str = DEFAULT, **params) -> str:
    """The string ``key`` in ``lang``, its fields filled from ``params``."""
    try:
        pair = STRINGS[key]
    except KeyError:
        raise KeyError(f"no catalog key {key!r}") from None
    text = pair[LANGS.index(check_lang(lang))]
    return text.format(**params) if params else text


def several(lang: str = DEFAULT, **keys: str) -> dict[str, str]:
    """``{name: t(key, lang)}`` for each ``name=key``: a figure's visible strings in one call."""
    return {name: t(key, lang) for name, key in keys.items()}


def fields(template: str) -> set[str]:
    """The ``str.format`` field names a template uses (``"{n:,} rows"`` -> {"n"})."""
    return {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(template) if f}


def msg(m: Msg | str, lang: str = DEFAULT) -> str:
    """A :class:`lab.errors.Msg` in ``lang``: its catalog template when there is one, else its English
    (any other text is returned as it is)."""
    if not isinstance(m, Msg):
        return m
    lang = check_lang(lang)
    template = None
    if lang != DEFAULT:  # a lab sentence (ERRORS) or a phrase of the app's own catalog (STRINGS)
        template = ERRORS.get(m.code) or (STRINGS[m.code][LANGS.index(lang)] if m.code in STRINGS else None)
    return m.render(template, translate=lambda inner: msg(inner, lang))


def error_text(error: BaseException, lang: str = DEFAULT) -> str:
    """What the user reads for ``error``: a coded lab error in ``lang``, any other in its own words."""
    m = message_of(error)
    return msg(m, lang) if m is not None else (str(error) or type(error).__name__)


def choices(pairs: Iterable[tuple[str, object]], lang: str = DEFAULT) -> list[tuple[str, object]]:
    """``[(key, value), ...]`` as Gradio's ``[(label, value), ...]`` in ``lang``."""
    return [(t(key, lang), value) for key, value in pairs]


def pick_lang(query: str | None, stored: str | None, accept_language: str | None) -> str:
    """The first language of a visit: ``?lang=`` in the URL, else the browser's remembered choice, else
    the browser's language (``Accept-Language`` starting with ``vi``), else English."""
    for choice in (query, stored):
        if isinstance(choice, str) and choice.strip().lower() in LANGS:
            return choice.strip().lower()
    first = (accept_language or "").split(",")[0].strip().lower()
    return "vi" if first.startswith("vi") else DEFAULT


# --- components bound to catalog keys -----------------------------------------------------------------

#: Attributes whose value is a catalog key whenever they are given to :class:`Texts`.
TEXT_ATTRS = ("label", "info", "placeholder")


@dataclass
class Keyed:
    """Choices given as ``(key, value)`` pairs: the labels come from the catalog."""

    pairs: list[tuple[str, object]]


@dataclass
class _Binding:
    component: object
    specs: dict = field(default_factory=dict)  # attribute -> key | (key, params) | callable(lang) | Keyed


def _resolve(spec, lang: str):
    if isinstance(spec, Keyed):
        return choices(spec.pairs, lang)
    if callable(spec):
        return spec(lang)
    if isinstance(spec, tuple):
        key, params = spec
        return t(key, lang, **params)
    return t(spec, lang)


class Texts:
    """Builds components with their text from the catalog and re-texts them for another language.

    ``texts(gr.Radio, label="nf4.source", choices=Keyed([("nf4.source.weight", "weight")]), value="weight")``:
    ``label`` / ``info`` / ``placeholder`` are catalog keys; ``value`` is one too when ``text_value=True``
    (a Markdown, a Button); any of them may be ``(key, params)`` or a callable ``lang -> value``
    (a table, a figure); ``choices`` may be :class:`Keyed` or a callable ``lang -> [(label, value)]``.
    Everything else goes to the component as it is.
    """

    def __init__(self, lang: str = DEFAULT):
        self.lang = lang
        self.bindings: list[_Binding] = []

    def __call__(self, cls: Callable, *, text_value: bool = False, **kwargs):
        specs = {a: kwargs[a] for a in TEXT_ATTRS if kwargs.get(a) is not None}
        if isinstance(kwargs.get("choices"), Keyed) or callable(kwargs.get("choices")):
            specs["choices"] = kwargs["choices"]
        if text_value or callable(kwargs.get("value")):
            specs["value"] = kwargs["value"]
        for attr, spec in specs.items():
            kwargs[attr] = _resolve(spec, self.lang)
        component = cls(**kwargs)
        self.bindings.append(_Binding(component, specs))
        return component

    def md(self, key, **kwargs):
        """A Markdown whose text is the catalog entry ``key`` (or ``(key, params)``)."""
        import gradio as gr

        return self(gr.Markdown, value=key, text_value=True, **kwargs)

    @property
    def components(self) -> list:
        return [b.component for b in self.bindings]

    def updates(self, lang: str) -> list[dict]:
        """One update per bound component, in :attr:`components` order, with its text in ``lang``."""
        import gradio as gr

        return [gr.update(**{attr: _resolve(spec, lang) for attr, spec in b.specs.items()}) for b in self.bindings]

    def keys(self) -> set[str]:
        """Every catalog key the bound components use (for the catalog's completeness test)."""
        out = set()
        for b in self.bindings:
            for spec in b.specs.values():
                if isinstance(spec, Keyed):
                    out.update(k for k, _ in spec.pairs)
                elif isinstance(spec, tuple):
                    out.add(spec[0])
                elif isinstance(spec, str):
                    out.add(spec)
        return out


@dataclass
class Page:
    """What every tab is built with: the language switch, and the page's arrival.

    ``lang`` is an input of every handler that writes text (the API may leave it out: English).
    :meth:`on_arrival` runs a tab's first answer once the visit's language is known (after the
    ``load`` event that picks it), so the answer arrives in that language."""

    lang: object
    loaded: object = None

    def on_arrival(self, fn, inputs, outputs, **kwargs):
        kwargs.setdefault("api_visibility", "private")
        return self.loaded.then(fn, inputs, outputs, **kwargs)


@dataclass
class TabView:
    """What a tab gives the app: its bound texts and how to re-render its outputs in another language.

    ``rerender``: ``(fn, inputs, outputs)`` triples; on a language switch the app calls ``fn(lang, *inputs)``
    and sends the result to ``outputs`` (results already on screen, in the new language, no model loaded).
    ``parts``: the tab's components by name, for tests.
    """

    texts: Texts
    rerender: list[tuple] = field(default_factory=list)
    parts: dict = field(default_factory=dict)


def merged(text_update: dict, rendered) -> dict:
    """One component's update on a switch: its catalog texts (``text_update``) and what its tab re-rendered
    (``rendered``: a ``gr.update`` / ``gr.skip()`` dict, or a plain value)."""
    if isinstance(rendered, dict) and rendered.get("__type__") == "update":
        return {**text_update, **rendered}
    return {**text_update, "value": rendered}


class Switch:
    """A language switch as three events. The first re-texts the header, the tab names and the tab in view,
    and re-renders that tab's tables and text, in one request and one page update; the second does the
    same for the other tabs; the third draws every figure (matplotlib takes a few tenths of a second for
    each one). One event per tab, figures included, took 5 s with results on screen; everything in one
    event, 2 s.

    ``head``: outputs the caller fills itself, first (the remembered choice); ``texts``: the app's own bound
    :class:`Texts` (header, tab names); ``views``: ``{tab id: TabView}``. Build it inside the ``gr.Blocks``:
    it adds :attr:`tab` (a hidden box the page fills with the tab in view, see :attr:`JS`) and
    :attr:`pending` (what each event leaves to the next). :attr:`inputs` and :attr:`outputs` serve the
    first two events, :attr:`plots` and :attr:`pending` the third; :meth:`first`, :meth:`second` and
    :meth:`third` are their bodies."""

    #: The event's ``js``: the tab in view (its ``data-tab-id``) into the second input, the others as they are.
    JS = """(...args) => { const ids = %s; const b = [...document.querySelectorAll('[role=tab][aria-selected=true]')]
        .find(e => ids.includes(e.dataset.tabId)); args[1] = b ? b.dataset.tabId : ''; return args; }"""

    def __init__(self, head: list, texts: Texts, views: dict[str, TabView]):
        import gradio as gr

        self.n_head = len(head)
        self.tab = gr.Textbox(visible=False)
        self.js = self.JS % json.dumps(list(views))
        self.pending = gr.State(None)
        self.inputs: list = []
        self.outputs: list = list(head)
        self.owner: list[str | None] = [None] * len(head)  # the tab each output belongs to (None: always first)
        self.texted: list[tuple[str | None, Texts, int]] = []  # (tab, texts, first output slot)
        slot: dict[int, int] = {id(c): i for i, c in enumerate(self.outputs)}
        for tab, tx in [(None, texts), *((k, v.texts) for k, v in views.items())]:
            self.texted.append((tab, tx, len(self.outputs)))
            for c in tx.components:
                slot[id(c)] = len(self.outputs)
                self.outputs.append(c)
                self.owner.append(tab)
        self.n_texted = len(self.outputs)
        seen: dict[int, int] = {}
        self.plan = []  # (tab, fn, input positions, output positions)
        for tab, view in views.items():
            for fn, ins, outs in view.rerender:
                where_in = []
                for c in ins:
                    if id(c) not in seen:
                        seen[id(c)] = len(self.inputs)
                        self.inputs.append(c)
                    where_in.append(seen[id(c)])
                where_out = []
                for c in outs:
                    if id(c) not in slot:
                        slot[id(c)] = len(self.outputs)
                        self.outputs.append(c)
                        self.owner.append(tab)
                    where_out.append(slot[id(c)])
                self.plan.append((tab, fn, where_in, where_out))
        self.plot_slots = {i for i, c in enumerate(self.outputs) if isinstance(c, gr.Plot)}
        self.plots = [self.outputs[i] for i in sorted(self.plot_slots)]
        self.outputs.append(self.pending)

    def _render(self, lang: str, tabs, values, request) -> list:
        """Updates for the outputs of ``tabs`` (a predicate on an output's tab), ``gr.skip()`` elsewhere."""
        import inspect
        import logging

        import gradio as gr

        out: list = [gr.skip()] * (len(self.outputs) - 1)
        for tab, tx, start in self.texted:
            if tabs(tab):
                out[start:start + len(tx.components)] = tx.updates(lang)
        for tab, fn, where_in, where_out in self.plan:
            if not tabs(tab):
                continue
            args = [values[i] for i in where_in]
            try:
                takes_request = "request" in inspect.signature(fn).parameters
                result = fn(lang, *args, request=request) if takes_request else fn(lang, *args)
            except Exception:  # one tab's re-render must not keep the others in the old language
                logging.getLogger(__name__).exception("re-rendering %s in %s", getattr(fn, "__qualname__", fn), lang)
                continue
            result = result if isinstance(result, (tuple, list)) else (result,)
            for pos, value in zip(where_out, result):
                out[pos] = merged(out[pos], value) if pos < self.n_texted else value
        return out

    def _hold_figures(self, out: list, held: dict) -> None:
        """Take every figure out of ``out`` into ``held`` (slot -> figure): drawing waits for :meth:`third`."""
        for pos in self.plot_slots:
            update = out[pos] if isinstance(out[pos], dict) and out[pos].get("__type__") == "update" \
                else {"__type__": "update", "value": out[pos]}
            if "value" in update:
                update = dict(update)
                held[pos] = update.pop("value")
            out[pos] = update

    def first(self, lang: str, tab: str, values, request=None) -> list:
        """The first event: the head slots left ``None`` for the caller, the header, the tab names and the tab
        in view re-texted and re-rendered, its figures held back (into :attr:`pending`)."""
        out = self._render(lang, lambda t: t is None or t == tab, values, request)
        held: dict = {}
        self._hold_figures(out, held)
        for pos in range(self.n_head):
            out[pos] = None
        return out + [{"lang": lang, "tab": tab, "figures": held}]

    @staticmethod
    def _current(pending, request) -> bool:
        """Whether ``pending`` is the page's latest switch (not one the page has switched away from since)."""
        from lab.ui import session

        return isinstance(pending, dict) and \
            session.lang(getattr(request, "session_hash", None), pending["lang"]) == pending["lang"]

    def second(self, pending, values, request=None) -> list:
        """The second event: every other tab re-texted and its tables and text re-rendered, their figures held
        back too; nothing if the page has switched again since (its own events will come)."""
        import gradio as gr

        if not self._current(pending, request):
            return [gr.skip()] * len(self.outputs)
        out = self._render(pending["lang"], lambda t: t is not None and t != pending["tab"], values, request)
        held = dict(pending["figures"])
        self._hold_figures(out, held)
        return out + [{**pending, "figures": held}]

    def third(self, pending, request=None) -> list:
        """The third event: every held figure drawn (as the Plot would), :attr:`pending` emptied. Drawing them
        all takes seconds, so it gives up as soon as the page switches again (the next switch would wait)."""
        import gradio as gr

        out = [gr.skip()] * len(self.plots)
        if not self._current(pending, request):
            return [*out, None]
        for k, pos in enumerate(sorted(self.plot_slots)):
            if pos not in pending["figures"]:
                continue
            figure = pending["figures"][pos]
            if figure is None:  # a re-render that empties its plot
                out[k] = None
                continue
            if not self._current(pending, request):
                return [gr.skip()] * len(self.plots) + [None]
            out[k] = self.outputs[pos].postprocess(figure)
        return [*out, None]
