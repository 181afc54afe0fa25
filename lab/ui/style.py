"""Theme, CSS and small helpers shared by the tabs."""

from __future__ import annotations

import functools
import html
import inspect
import logging

import gradio as gr

from lab.ui import i18n

log = logging.getLogger("lab.ui")

# System fonts only: the lab must look right offline (no Google Fonts request).
THEME = gr.themes.Soft(
    primary_hue="indigo",
    secondary_hue="amber",
    neutral_hue="slate",
    font=["ui-sans-serif", "system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
)

CSS = """
#lab-header h1 { margin-bottom: 0.2em; }
.lab-explain { font-size: 0.95em; }
.lab-explain p, .lab-explain li { line-height: 1.45; }
.lab-note { color: var(--body-text-color-subdued); font-size: 0.9em; }
/* Gradio's container hides overflow, which would stop the training tab's live column from sticking */
.gradio-container { overflow: clip !important; }
#train-live { position: sticky; top: 8px; align-self: flex-start; }
#train-live #train-plot { min-height: 380px; }
/* Tables in the UI font, digits of one width: no monospace font on a Debian machine (Liberation Mono,
   DejaVu Sans Mono) has Vietnamese letters such as ố or ễ, which Chromium then builds from a base letter
   and a misplaced accent ("sô´ dòng") */
.table-wrap, .table-wrap * { font-family: var(--font) !important; font-variant-numeric: tabular-nums; }
"""


def user_errors(fn):
    """Turn the plain-sentence exceptions of ``lab`` into ``gr.Error`` messages, in the user's language.

    ``ValueError`` / ``RuntimeError`` / ``OSError`` raised by ``lab`` carry sentences meant for users; a
    coded one (:class:`lab.errors.LabError`) is said in the handler's ``lang`` argument (English when it
    has none) through the catalog. Every message is HTML-escaped: Gradio renders a toast's text as HTML,
    and messages quote what the user typed. Anything else is a bug: its traceback goes to the server log
    and the user reads a sentence, never a bare "Error".
    """
    signature = inspect.signature(fn)

    def lang_of(args, kwargs) -> str:
        try:
            return i18n.check_lang(signature.bind_partial(*args, **kwargs).arguments.get("lang"))
        except TypeError:
            return i18n.DEFAULT

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as e:
                raise as_user_error(e, fn, lang_of(args, kwargs)) from e

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            raise as_user_error(e, fn, lang_of(args, kwargs)) from e

    return wrapper


def escape(text) -> str:
    """User-provided text made safe to show inside an HTML toast."""
    return html.escape(str(text), quote=False)


def as_user_error(e: Exception, fn=None, lang: str = i18n.DEFAULT) -> gr.Error:
    """The ``gr.Error`` a handler's exception becomes (its message in ``lang``, escaped)."""
    if isinstance(e, gr.Error):
        if getattr(e, "_lab_escaped", False):
            return e
        message = e.message
    elif isinstance(e, (ValueError, RuntimeError, OSError)):
        message = i18n.error_text(e, lang)
    else:
        name = getattr(fn, "__name__", "handler")
        log.error("unexpected error in %s", name, exc_info=e)
        message = i18n.t("common.unexpected", lang, kind=type(e).__name__)
    err = gr.Error(escape(message), title=i18n.t("common.error", lang))
    err._lab_escaped = True
    return err


def both_languages(key: str, **params) -> str:
    """A sentence in English and Vietnamese, for refusals made before any handler knows the language."""
    return " / ".join(i18n.t(key, lang, **params) for lang in i18n.LANGS)


def refuse_paths_not_uploaded() -> None:
    """Say in a sentence why a file path that was never uploaded is refused.

    Through the HTTP API a client can name any path as a file input (``/etc/passwd``). Gradio refuses
    it before any handler runs, rightly, but with a bare "Error": its ``InvalidPathError`` is not a
    ``gr.Error``. This wraps Gradio's check (``gradio.processing_utils._check_allowed``) so the refusal
    reads as the lab's sentence; the check itself is unchanged. A test pins the behaviour.
    """
    from gradio import processing_utils
    from gradio.exceptions import InvalidPathError

    original = processing_utils._check_allowed
    if getattr(original, "_lab_wrapped", False):
        return

    def check_allowed(path, check_in_upload_folder):
        try:
            return original(path, check_in_upload_folder)
        except InvalidPathError as e:
            raise gr.Error(both_languages("common.not_uploaded")) from e

    check_allowed._lab_wrapped = True
    processing_utils._check_allowed = check_allowed


def refuse_unknown_choices_in_words() -> None:
    """A choice that is not among a Dropdown's, Radio's or CheckboxGroup's choices, in the lab's words, escaped.

    Gradio checks such values itself before any handler runs, and refuses with its own message, which
    quotes the value sent: an HTML value sent through the API then rendered as HTML inside the toast.
    This wraps those components' ``preprocess`` so the refusal names the field and its choices, with the
    value escaped; what is accepted is unchanged. A test sweeps every endpoint with such values.
    """
    for cls in (gr.Dropdown, gr.Radio, gr.CheckboxGroup):
        original = cls.preprocess
        if getattr(original, "_lab_wrapped", False):
            continue

        def preprocess(self, payload, _original=original):
            try:
                return _original(self, payload)
            except gr.Error as e:
                if "is not in the list of choices" not in e.message:
                    raise
                shown = repr(payload) if len(repr(payload)) <= 60 else repr(payload)[:57] + "..."
                choices = ", ".join(str(label) for label, _ in (self.choices or []))
                field = self.label or "This choice"
                err = gr.Error(escape(both_languages("common.bad_choice", field=field, choices=choices, shown=shown)))
                err._lab_escaped = True
                raise err from None

        preprocess._lab_wrapped = True
        cls.preprocess = preprocess


def install_input_guards() -> None:
    """Everything Gradio refuses before a handler runs, said as the lab's sentences (see the two guards)."""
    refuse_paths_not_uploaded()
    refuse_unknown_choices_in_words()
