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
