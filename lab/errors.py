"""Sentences for the user, each with a stable code, so the app can say them in the user's language.

``lab`` is headless and speaks English: ``str(error)`` is the English sentence, for the CLI, notebooks
and tests. The app looks the same error up by its **code** in its catalog (``lab/ui/i18n``) and fills
the translated template with the error's **params**; a code the catalog does not know falls back to
the English sentence. So the English text lives here, beside the check that raises it, and no
English sentence decides what another language says::

    raise LabError("train.too_many_tokens",
                   "batch size x max length is {tokens:,} tokens per step; the limit is {limit:,}.",
                   tokens=4096 * 2, limit=4096)

A param may itself be a :class:`Msg` (a phrase with its own code, such as "while tokenizing the
data"): it is translated the same way, recursively. Every other param is shown as it is (numbers
through the template's format spec).
"""

from __future__ import annotations


class Msg(str):
    """A translatable phrase: ``code``, its English template and the params that fill it.

    It *is* its English text (a ``str``), so headless code compares, joins and prints it as any string,
    while the app finds its code and params to say it in another language."""

    def __new__(cls, code: str, english: str, /, **params):
        filled = {k: str(v) if isinstance(v, Msg) else v for k, v in params.items()}
        obj = super().__new__(cls, english.format(**filled))
        obj.code, obj.english, obj.params = code, english, params
        return obj

    def __reduce__(self):  # copy, deepcopy and pickle rebuild it from its parts
        return (_rebuild, (self.code, self.english, self.params))

    def render(self, template: str | None = None, translate=None) -> str:
        """The phrase filled in: ``template`` (a translation) or the English one; nested phrases through
        ``translate(msg) -> str`` (English when None)."""
        params = {k: (translate(v) if translate else str(v)) if isinstance(v, Msg) else v
                  for k, v in self.params.items()}
        return (template or self.english).format(**params)

    def __repr__(self) -> str:
        return f"Msg({self.code!r}, {str(self)!r})"


def _rebuild(code: str, english: str, params: dict) -> Msg:
    return Msg(code, english, **params)


class LabError(ValueError):
    """A value the user gave cannot be used: one plain sentence (English) with a code and params."""

    def __init__(self, code: str, english: str, /, **params):
        self.msg = Msg(code, english, **params)
        super().__init__(str(self.msg))

    @property
    def code(self) -> str:
        return self.msg.code

    @property
    def params(self) -> dict:
        return self.msg.params


class LabRuntimeError(LabError, RuntimeError):
    """Something the lab needs is missing or went wrong at run time (not the user's value)."""


def message_of(error: BaseException) -> Msg | None:
    """The translatable message an exception carries, if any."""
    msg = getattr(error, "msg", None)
    return msg if isinstance(msg, Msg) else None
