"""The whole lab in Vietnamese, in a real Chromium: every tab's main action, no English left, then a
switch to English in the page keeps every result.

"English left" = an English word from :data:`ENGLISH` in the page's visible text, once the text that
is allowed to be English is taken out: the model's own answers and the dataset rows it shows
(:data:`NOT_THE_LABS`), and :data:`ALLOWED` (Gradio's own frontend strings — Gradio has no Vietnamese
locale —, model and library names, code identifiers). Units, special tokens and identifiers never
match :data:`ENGLISH` (it holds sentence words only).
"""

from __future__ import annotations

import re
import time

import pytest
from conftest import screenshot

from lab.ui.i18n import t

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Words that only an English sentence has (a Vietnamese page, model names and code never do; not "to",
#: a Vietnamese word too — "phóng to" —, nor "none", the masking mode's identifier).
ENGLISH = frozenset("""
the and of is are was were with for this that these those from your you press click choose pick which
when what how each every not only here there its be been by on at as an or it into than then after
before training trained model models answer answers step steps run runs stop show shows shown
loading waiting yet nothing other same more less most some
""".split())
#: Elements whose text is not the lab's: the model's answers, the text fed to it, dataset rows as stored,
#: the tokens of an example, Gradio's footer.
NOT_THE_LABS = ["#chatbot", "#chatbot-adapter", "#chat-fed", "footer", ".mk-strip", "#mk-table", "#md-raw",
                "#md-formatted", "#train-answers", "#train-forgetting", ".cm-editor", "#lora-paste", "#mk-json",
                "#lora-code", "#train-adapter"]
#: English that may stay: Gradio's own frontend strings, names.
ALLOWED = ["Drop File Here", "- or -", "Click to Upload", "Use via API", "Built with Gradio", "Settings",
           "Tuning Lab", "train", "eval", "SmolLM2-135M-Instruct", "Stanford CME 295", "Copy", "Clear", "Stop"]


def english_words(page) -> list[str]:
    """The English words of the page's visible text (with 40 characters around each), once the text that
    may be English is taken out: :data:`NOT_THE_LABS` elements, :data:`ALLOWED` phrases, code identifiers
    (words joined by ``_`` or ``.``) and an English term in brackets after its Vietnamese one, as the
    glossary asks ("tiền huấn luyện (pre-training)")."""
    text = page.evaluate(
        """(selectors) => {
            const hidden = [];
            for (const sel of selectors) for (const el of document.querySelectorAll(sel)) {
                hidden.push([el, el.style.display]); el.style.display = 'none';
            }
            const text = document.body.innerText;
            for (const [el, display] of hidden) el.style.display = display;
            return text;
        }""", NOT_THE_LABS)
    for phrase in ALLOWED:
        text = text.replace(phrase, " ")
    text = re.sub(r"In queue: \d+ of \d+", " ", text)  # Gradio's status tracker while an event waits its turn
    text = re.sub(r"\(([A-Za-z][A-Za-z0-9 ,;:'/+·-]*)\)", " ", text)  # (the English term), after the Vietnamese
    text = re.sub(r"[\w*]+(?:[._][\w*]+)+", " ", text)  # identifiers: model.layers.*.q_proj, lora_only
    found = []
    for m in re.finditer(r"[^\W\d_]+(?:'[a-z]+)?", text):  # whole words, Vietnamese letters included
        if m.group(0).lower() in ENGLISH:
            found.append(f"{m.group(0)}: …{' '.join(text[max(0, m.start() - 40):m.end() + 40].split())}…")
    return found


TAB_ORDER = ("model-data", "masking", "lora", "nf4", "training")


#: A label of each tab: a switch re-texts the tab in view first and the others a moment later,
#: so a tab is read once its own texts have arrived.
VI_MARK = {"model-data": "md.model", "masking": "masking.mode", "lora": "lora.source", "nf4": "nf4.run",
           "training": "train.quant"}


def open_tab(page, tab_id: str, lang: str = "vi"):
    """Select a tab by its place (its name depends on the language) and wait for its own texts in ``lang``."""
    page.get_by_role("tab").nth(TAB_ORDER.index(tab_id)).click()
    page.get_by_text(t(VI_MARK[tab_id], lang), exact=True).first.wait_for()


def test_the_whole_lab_in_vietnamese_then_english(browser, app_url):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(180_000)
    page.goto(app_url + "?lang=vi")
    page.get_by_role("tab", name="Mô hình & dữ liệu").wait_for()
    found = {}

    # Model & data: one chat message
    page.locator("#chat-input textarea").fill("What is the capital of France?")
    page.locator("#chat-send").click()
    page.wait_for_function("() => document.querySelector('#chatbot').innerText.includes('Paris')")
    page.wait_for_function("() => document.querySelector('#dataset-counts').innerText.includes('dòng')")
    screenshot(page, "vi_model_data")
    found["model_data"] = english_words(page)

    # SFT masking: the Vietnamese example on arrival, its numbers
    open_tab(page, "masking")
    page.wait_for_function("() => /\\d/.test(document.querySelector('#mk-numbers').innerText)")
    masking_numbers = page.locator("#mk-numbers").inner_text()
    screenshot(page, "vi_masking")
    found["masking"] = english_words(page)

    # LoRA calculator: the count of the default model
    open_tab(page, "lora")
    page.wait_for_function("() => /\\d{1,3}(,\\d{3})+/.test(document.querySelector('#lora-summary').innerText)")
    lora_summary = page.locator("#lora-summary").inner_text()
    screenshot(page, "vi_lora")
    found["lora"] = english_words(page)

    # NF4 explorer: the default weight quantized
    open_tab(page, "nf4")
    page.wait_for_function("() => document.querySelector('#nf4-summary').innerText.includes('331,776')")
    page.wait_for_function("() => document.querySelector('#nf4-sweep-table').innerText.includes('INT4')")
    nf4_summary = page.locator("#nf4-summary").inner_text()
    screenshot(page, "vi_nf4")
    found["nf4"] = english_words(page)

    # QLoRA training: a 2-step run
    open_tab(page, "training")
    steps = page.locator("#train-steps input[type='number']")
    steps.fill("2")
    steps.press("Enter")
    page.locator("#train-start").click()
    page.wait_for_function("() => document.querySelector('#train-summary').innerText.includes('2')",
                           timeout=600_000)
    page.wait_for_function("() => document.querySelector('#train-answers').innerText.length > 200", timeout=600_000)
    train_summary = page.locator("#train-summary").inner_text()
    screenshot(page, "vi_training")
    found["training"] = english_words(page)

    assert not any(found.values()), f"English words in the Vietnamese page, by tab: {found}"

    # Switch to English in the page: the same results, now in English, in well under a second of server work
    t0 = time.perf_counter()
    page.locator("#lab-lang").get_by_text("English").click()
    page.get_by_role("tab", name="QLoRA training").wait_for()
    page.wait_for_function("(old) => document.querySelector('#train-summary').innerText !== old", arg=train_summary)
    switch_s = time.perf_counter() - t0
    # every number on screen, not a full stop after one, nor a time (the NF4 answer is recomputed in the new
    # language, its quantize time measured again)
    numbers = lambda s: re.findall(r"\d+(?:[.,]\d+)*", re.sub(r"\d+ ms", "", s))  # noqa: E731
    assert set(numbers(train_summary)) <= set(numbers(page.locator("#train-summary").inner_text()))
    changed = "([sel, old]) => document.querySelector(sel).innerText !== old"  # each tab re-rendered in English
    open_tab(page, "nf4", "en")
    page.wait_for_function(changed, arg=["#nf4-summary", nf4_summary])
    assert numbers(page.locator("#nf4-summary").inner_text()) == numbers(nf4_summary)
    assert "values" in page.locator("#nf4-summary").inner_text()
    open_tab(page, "lora", "en")
    page.wait_for_function(changed, arg=["#lora-summary", lora_summary])
    assert numbers(page.locator("#lora-summary").inner_text()) == numbers(lora_summary)
    open_tab(page, "masking", "en")
    page.wait_for_function(changed, arg=["#mk-numbers", masking_numbers])
    assert numbers(page.locator("#mk-numbers").inner_text()) == numbers(masking_numbers)
    open_tab(page, "model-data", "en")
    assert "Paris" in page.locator("#chatbot").inner_text()  # the conversation is kept
    print(f"language switch with results on screen: {switch_s:.2f} s")
    context.close()
