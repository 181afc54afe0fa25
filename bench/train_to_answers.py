"""A default training run in the browser, from pressing Train to the answers table, as a learner sees it.

Starts ``app.py`` in a child process on a free local port (a fresh server: its first run computes the
base model's answers too, unless they are already in the on-disk cache), opens it in Debian's Chromium
at 1366 x 900, and presses Train ``--runs`` times with the default settings (30 steps, batch 4, max
length 256, NF4, every linear layer). For each run it prints the seconds from the click to the first
step, to the start of the evaluation, and to the answers table; then the median of each.

Target (issue "Training you can trust"): Train to answers within 90 s on an otherwise idle 2-core machine.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/train_to_answers.py [--runs 3] [--root CHECKOUT]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = "import app; app.demo.queue(default_concurrency_limit=4).launch(**app.launch_kwargs())"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc, timeout: float = 300) -> None:
    import urllib.request

    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--root", type=Path, default=ROOT,
                    help="the checkout whose app.py is served (e.g. a worktree of an older commit, to compare)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "-c", SERVER], cwd=args.root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_up(url, proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.set_default_timeout(600_000)
            page.goto(url)
            page.get_by_role("tab", name="QLoRA training").click()
            status, summary = page.locator("#train-status"), page.locator("#train-summary")
            for i in range(1, args.runs + 1):
                page.locator("#train-start").click()
                t0 = time.perf_counter()
                status.get_by_text("1 / 30").wait_for()
                first = time.perf_counter() - t0
                status.get_by_text("Evaluating").wait_for()
                evaluating = time.perf_counter() - t0
                summary.get_by_role("cell", name=re.compile(rf"^run {i}:")).wait_for()
                total = time.perf_counter() - t0
                rows.append((first, evaluating, total))
                print(f"run {i}: first step {first:5.1f} s · evaluation starts {evaluating:5.1f} s · "
                      f"answers table {total:5.1f} s (evaluation {total - evaluating:4.1f} s)", flush=True)
                page.locator("#train-start:not([disabled])").wait_for()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    med = [statistics.median(c) for c in zip(*rows)]
    print(f"median of {len(rows)}: first step {med[0]:.1f} s · evaluation starts {med[1]:.1f} s · "
          f"answers table {med[2]:.1f} s (evaluation {med[2] - med[1]:.1f} s) · target ≤ 90 s")


if __name__ == "__main__":
    main()
