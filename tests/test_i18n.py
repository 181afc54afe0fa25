"""The catalog: every key in both languages, every key used, every coded lab sentence translated."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from lab import checks
from lab.errors import LabError, Msg
from lab.ui import i18n

ROOT = Path(__file__).resolve().parent.parent
UI_FILES = [p for p in (ROOT / "lab" / "ui").rglob("*.py") if "i18n" not in p.parts] + [ROOT / "app.py"]
LAB_FILES = [p for p in (ROOT / "lab").rglob("*.py") if "ui" not in p.relative_to(ROOT / "lab").parts]
KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
PREFIXES = {k.split(".")[0] for k in i18n.STRINGS}


def _literals(paths) -> set[str]:
    out = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.add(node.value)
    return out


def _coded(paths) -> dict[str, str]:
    """code -> English template of every ``LabError(code, english, ...)`` / ``Msg(code, english, ...)``
    (and of every other call whose first two arguments are a dotted code and a sentence: the error
    subclasses of ``lab``) written in ``paths``."""
    found: dict[str, str] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None) or ""
            code, english = node.args[0], node.args[1]
            if (name in ("Msg", "LabError", "LabRuntimeError") or name.endswith("Error")) and isinstance(code, ast.Constant) \
                    and isinstance(code.value, str) and KEY.match(code.value) and isinstance(english, ast.Constant):
                assert found.get(code.value, english.value) == english.value, f"{code.value}: two English texts"
                found[code.value] = english.value
    return found


def _field_names(paths) -> set[str]:
    """The names given to ``lab.checks`` functions as a literal first argument (field codes)."""
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and getattr(node.func.value, "id", None) == "checks" and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                names.add(node.args[0].value)
    return names


def test_every_key_has_both_languages_with_the_same_fields():
    for key, (en, vi) in i18n.STRINGS.items():
        assert en.strip() and vi.strip(), key
        assert i18n.fields(en) == i18n.fields(vi), key


def test_every_catalog_key_is_used_and_every_key_used_exists():
    ui_literals = _literals(UI_FILES)
    lab_codes = set(_coded(LAB_FILES))
    unused = sorted(k for k in i18n.STRINGS if k not in ui_literals and k not in lab_codes)
    assert not unused, f"catalog keys nothing uses: {unused}"
    missing = sorted(s for s in ui_literals if KEY.match(s) and s.split(".")[0] in PREFIXES and s not in i18n.STRINGS
                     and s not in i18n.ERRORS)
    assert not missing, f"keys used in lab/ui but missing from the catalog: {missing}"


def test_every_coded_lab_sentence_is_translated_with_the_same_fields():
    coded = _coded(LAB_FILES + UI_FILES)
    assert len(coded) > 10
    for code, english in coded.items():
        if code in i18n.STRINGS:
            assert i18n.fields(i18n.STRINGS[code][0]) == i18n.fields(english), code
            continue
        assert code in i18n.ERRORS, f"no Vietnamese for lab sentence {code!r}: {english!r}"
        assert i18n.fields(i18n.ERRORS[code]) == i18n.fields(english), code


def test_every_field_name_given_to_the_checks_is_translated():
    codes = {checks.field(name).code for name in _field_names(LAB_FILES + UI_FILES)}
    assert len(codes) > 10
    missing = sorted(c for c in codes if c not in i18n.ERRORS and c not in i18n.STRINGS)
    assert not missing, f"field names without Vietnamese: {missing}"


def test_no_translation_is_left_without_a_sentence():
    coded = _coded(LAB_FILES + UI_FILES)
    fields = {checks.field(name).code for name in _field_names(LAB_FILES + UI_FILES)}
    stale = sorted(c for c in i18n.ERRORS if c not in coded and c not in fields)
    assert not stale, f"ERRORS entries no code raises: {stale}"


def test_a_coded_error_is_said_in_the_users_language():
    with pytest.raises(LabError) as e:
        checks.whole_number("The block size", 2.5, 32, 4096)
    assert str(e.value) == "The block size must be a whole number from 32 to 4,096, not 2.5."
    assert i18n.error_text(e.value, "en") == str(e.value)
    assert i18n.error_text(e.value, "vi") == "Kích thước khối phải là số nguyên từ 32 đến 4,096, không phải 2.5."
    assert i18n.error_text(ValueError("plain"), "vi") == "plain"  # an uncoded sentence stays as it is
    nested = Msg("nf4.loading", "Loading: {name}", name=Msg("nf4.model.fp32", "full precision (fp32)"))
    assert i18n.msg(nested, "vi") == "Đang nạp: độ chính xác đầy đủ (fp32)"


@pytest.mark.parametrize("query,stored,accept,expected", [
    ("vi", "en", "en-US", "vi"), ("en", "vi", "vi-VN", "en"), (None, "vi", "en", "vi"), ("", "", "vi-VN,vi;q=0.9", "vi"),
    (None, None, "en-GB,vi;q=0.5", "en"), ("xx", None, None, "en"), (None, "<b>", "fr", "en"),
])
def test_the_first_language_of_a_visit(query, stored, accept, expected):
    assert i18n.pick_lang(query, stored, accept) == expected


def test_vietnamese_letters_render_in_the_plots_font():
    """Every letter of the catalog's Vietnamese is in the font matplotlib uses (no tofu boxes in plots)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    font = FT2Font(font_manager.findfont(font_manager.FontProperties()))
    letters = {c for _, vi in i18n.STRINGS.values() for c in vi if c.isalpha() and ord(c) > 127} | set("ươạếỗ")
    missing = sorted(c for c in letters if font.get_char_index(ord(c)) == 0)
    assert not missing, f"the plot font lacks {missing}"


# ---- the switch in the page: the tab in view first, the rest and the figures second -----------------------

def _switch_of_the_app():
    import app

    demo = app.build_app()
    fns = {getattr(d.fn, "__name__", ""): d for d in demo.fns.values()}
    switch = next(c.cell_contents for c in fns["first"].fn.__closure__ if isinstance(c.cell_contents, i18n.Switch))
    return switch, fns["first"], fns["second"], fns["third"]


class _Request:
    def __init__(self, session_hash):
        self.session_hash = session_hash


def _is_skip(update) -> bool:
    return update == {"__type__": "update"}


def test_a_switch_renders_the_tab_in_view_first_the_other_tabs_second_the_figures_third():
    import gradio as gr

    from lab.ui import session

    switch, first_event, second_event, third_event = _switch_of_the_app()
    values = [getattr(c, "value", None) for c in switch.inputs]
    request = _Request("switch-test")
    assert "dataset.tabId" in first_event.js and '"nf4"' in first_event.js  # the page says which tab is in view
    out = first_event.fn("vi", "nf4", *values, request=request)
    assert len(out) == len(switch.outputs) and out[0] == "vi"  # the browser remembers the choice
    assert session.lang(request.session_hash, "en") == "vi"
    owner = dict(zip(map(id, switch.outputs), switch.owner + [None]))
    by_component = dict(zip(map(id, switch.outputs), out))
    tabs = [c for c in switch.outputs if isinstance(c, gr.Tab) and owner[id(c)] is None]  # the lab's six tabs
    assert [by_component[id(c)]["label"] for c in tabs][3] == i18n.t("tab.nf4", "vi")  # the tab names now
    texted = lambda tab: [c for c in switch.outputs[:switch.n_texted]  # noqa: E731
                          if owner[id(c)] == tab and not isinstance(c, gr.Plot)]
    assert texted("nf4") and texted("lora")
    assert all(not _is_skip(by_component[id(c)]) for c in texted("nf4"))  # the tab in view, re-texted
    assert all(_is_skip(by_component[id(c)]) for c in texted("lora"))  # another tab: the second event's
    assert all("value" not in out[pos] for pos in switch.plot_slots)  # no figure drawn yet
    pending = out[-1]
    assert pending["lang"] == "vi" and pending["tab"] == "nf4" and pending["figures"]  # the levels figure, held

    # the second event: the other tabs, figures still held
    rest = second_event.fn(*values, pending, request=request)
    assert len(rest) == len(switch.outputs)
    by_component = dict(zip(map(id, switch.outputs), rest))
    assert all(not _is_skip(by_component[id(c)]) for c in texted("lora"))
    assert all(_is_skip(by_component[id(c)]) for c in texted("nf4"))  # done in the first event
    assert all("value" not in rest[pos] for pos in switch.plot_slots)
    pending = rest[-1]
    assert len(pending["figures"]) >= 4  # the levels, and other tabs' figures (LoRA, training, ...)

    # the third: every held figure drawn (as the Plot would), the pending state emptied
    drawn = third_event.fn(pending, request=request)
    assert len(drawn) == len(switch.plots) + 1 and drawn[-1] is None
    images = [d for d in drawn[:-1] if not _is_skip(d)]
    assert len(images) == len(pending["figures"])
    assert all(d.type == "matplotlib" and d.plot.startswith("data:image/") for d in images)

    # switched again before the later events ran: they do nothing (the newer switch's own events will)
    session.set_lang(request.session_hash, "en")
    assert all(_is_skip(u) for u in second_event.fn(*values, pending, request=request))
    assert all(_is_skip(u) for u in third_event.fn(pending, request=request)[:-1])


def test_merged_keeps_the_texts_and_takes_the_rendered_value():
    import gradio as gr

    texts = gr.update(label="Nhãn")
    assert i18n.merged(texts, gr.skip()) == {"__type__": "update", "label": "Nhãn"}
    assert i18n.merged(texts, 3) == {"__type__": "update", "label": "Nhãn", "value": 3}
    assert i18n.merged(texts, gr.update(value=5, maximum=9)) == {"__type__": "update", "label": "Nhãn", "value": 5,
                                                                 "maximum": 9}
