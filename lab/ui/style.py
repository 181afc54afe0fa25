"""Theme, CSS and small helpers shared by the tabs."""

from __future__ import annotations

import functools
import inspect

import gradio as gr

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
"""


def user_errors(fn):
    """Turn the plain-sentence exceptions of ``lab`` into ``gr.Error`` messages in the UI.

    ``ValueError`` / ``RuntimeError`` raised by ``lab`` carry sentences meant for users;
    anything else is a bug and keeps its traceback in the server log.
    """

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except (ValueError, RuntimeError, OSError) as e:
                raise gr.Error(str(e)) from e

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ValueError, RuntimeError, OSError) as e:
            raise gr.Error(str(e)) from e

    return wrapper
