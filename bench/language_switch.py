"""Seconds a language switch takes in the browser with results on screen (median of N each way).

Serves the app, opens it in Chromium (1366x900), answers the NF4 explorer (the default weight quantized,
its table and figures) and the LoRA calculator, then clicks English / Tiếng Việt in the header N times
each way and times each switch from the click until the NF4 summary and the tab names are in the other
language (the tab in view), then waits for the switch's second request (the other tabs and the figures)
and reports when it was received. Peer: the same page's own NF4 answer to a block change, timed the same way.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/language_switch.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import app
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.build_app()
    demo.queue(default_concurrency_limit=4)
    kw = app.launch_kwargs()
    kw.update(server_name="127.0.0.1", server_port=port)
    demo.launch(prevent_thread_lock=True, quiet=True, **kw)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(180_000)
        page.goto(demo.local_url + "?lang=en")
        page.get_by_role("tab").nth(2).click()
        page.wait_for_function("() => /\\d{1,3}(,\\d{3})+/.test(document.querySelector('#lora-summary').innerText)")
        page.get_by_role("tab").nth(3).click()
        page.wait_for_function("() => document.querySelector('#nf4-sweep-table').innerText.includes('INT4')")
        times, settled = {"vi": [], "en": []}, []
        words = {"vi": ("giá trị", "Khám phá NF4"), "en": ("values", "NF4 explorer")}
        page.evaluate("() => { window.__clicks = []; document.querySelector('#lab-lang')"
                      ".addEventListener('click', () => window.__clicks.push(performance.now()), true); }")
        for _ in range(args.repeat):
            for lang, label in (("vi", "Tiếng Việt"), ("en", "English")):
                summary_word, tab = words[lang]
                t0 = time.perf_counter()
                page.locator("#lab-lang").get_by_text(label).click()
                page.wait_for_function(
                    "([w, tab]) => document.querySelector('#nf4-summary').innerText.includes(w) && "
                    "[...document.querySelectorAll('[role=tab]')].some(b => b.innerText.includes(tab))",
                    arg=[summary_word, tab], polling=10)
                times[lang].append(time.perf_counter() - t0)
                # the rest of the page (the other tabs, the figures) comes in the switch's second request;
                # the next click waits for it, as a reader would
                ends = page.wait_for_function(
                    "() => { const c = window.__clicks[window.__clicks.length - 1]; const r = performance"
                    ".getEntriesByType('resource').filter(e => e.name.includes('predict') && e.startTime >= c);"
                    " return r.length >= 2 && r.every(e => e.responseEnd > 0) && Math.max(...r.map(e => e.responseEnd)) - c; }"
                ).json_value()
                settled.append(ends / 1000)
                page.wait_for_timeout(300)
        peer = []
        box = page.locator("#nf4-block input[type='number']")
        for k in range(args.repeat):
            t0 = time.perf_counter()
            box.fill(str(20 + k))
            box.press("Enter")
            page.locator("#nf4-block-header").get_by_text(f"Block {20 + k} of").wait_for()
            peer.append(time.perf_counter() - t0)
        browser.close()
    demo.close()
    print(f"language switch with results on screen, median of {args.repeat} (s): "
          f"to Vietnamese {statistics.median(times['vi']):.2f}, to English {statistics.median(times['en']):.2f}; "
          f"all: {', '.join(f'{t:.2f}' for t in times['vi'] + times['en'])}")
    print(f"the whole page (other tabs, figures) received, median (s): {statistics.median(settled):.2f}; "
          f"all: {', '.join(f'{t:.2f}' for t in settled)}")
    print(f"peer: the NF4 tab answering a new block, median (s): {statistics.median(peer):.2f}")
    print(f"ratio switch / block answer: {statistics.median(times['vi'] + times['en']) / statistics.median(peer):.2f}x")


if __name__ == "__main__":
    main()
