"""The app server's memory (RSS) before, at peak and after each kind of request, through its HTTP API.

Starts ``app.py`` in a child process on a free local port, samples the child's resident memory every
20 ms, and drives it with ``gradio_client`` as users would:

* ``train default``: the training tab's default run (30 steps, batch 4, max length 256), evaluation included;
* ``train maxima``: the largest allowed step (steps 300, batch 4, max length 1,024 = 4,096 tokens per step),
  masking ``none``, on an uploaded file whose rows are all longer than 1,024 tokens (every token trained),
  the client going away after 2 steps (the run saves its adapter and ends);
* ``train default (again)``: the default run once more (does memory come back each time?);
* every other endpoint ``--repeat`` times (20) with its default inputs.

Targets (issue "Nothing breaks a lesson"): after a run RSS is within 300 MB of before; a default run peaks
under 3 GB; nothing goes past 8 GB.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/server_memory.py [--repeat 20] [--skip-tabs]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = "import app; app.demo.queue(default_concurrency_limit=4).launch(**app.launch_kwargs())"
# name, api_name, positional inputs (None: the endpoint's defaults)
TABS = [
    ("chat", "/chat", ["What is the capital of France?", [], "greedy", 0.7, 0.9, 24]),
    ("dataset row", "/dataset_row", None),
    ("masking", "/masking", None),
    ("LoRA count", "/lora_count", None),
    ("LoRA check with peft", "/lora_check_with_peft", None),
    ("NF4 quantize", "/nf4_quantize", None),
    ("NF4 compare", "/nf4_compare", None),
    ("NF4 memory", "/nf4_memory", None),
    ("NF4 loss", "/nf4_loss", None),
    ("export script", "/export_script", None),
]
#             storage, dataset, upload, r, alpha, dropout, targets, lr, steps, batch, max_len, masking, seed
TRAIN_DEFAULT = ["nf4", "pirate", None, 16, 32, 0.0,
                 ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                 1e-3, 30, 4, 256, "completion", 0]
TRAIN_MAXIMA = [TRAIN_DEFAULT[0], "upload", "LONG_ROWS"] + TRAIN_DEFAULT[3:8] + [300, 4, 1024, "none", 0]


def long_rows_file() -> str:
    """A JSONL upload of 40 rows of ~2,000 tokens each: every example is cut at max length."""
    import json
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="server-memory-")) / "long_rows.jsonl"
    with open(path, "w") as f:
        for i in range(40):
            f.write(json.dumps({"prompt": f"Tell story {i}.", "completion": " ".join(f"w{i}x{j}" for j in range(700))}) + "\n")
    return str(path)


class Sampler:
    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def rss(self) -> float:
        with open(f"/proc/{self.pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.rss())
            except OSError:
                return
            time.sleep(0.02)

    def reset(self) -> float:
        now = self.rss()
        self.peak = now
        return now


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(sampler: Sampler, name: str, fn, rows: list) -> None:
    time.sleep(1.0)  # let the previous request's memory settle
    before = sampler.reset()
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    time.sleep(1.0)
    after = sampler.rss()
    rows.append((name, before, sampler.peak, after, seconds))
    print(f"{name:<26} before {before:7,.0f} MB   peak {sampler.peak:7,.0f} MB   after {after:7,.0f} MB   "
          f"(after - before {after - before:+6,.0f} MB, {seconds:5.1f} s)", flush=True)


def train(client, args, stop_after: int | None = None):
    job = client.submit(*args, api_name="/train")
    steps_seen = 0
    for out in job:
        status = out[2] if isinstance(out, (list, tuple)) and len(out) > 2 else ""
        if isinstance(status, str) and "| loss |" in status:
            steps_seen += 1
        if stop_after is not None and steps_seen >= stop_after:
            job.cancel()
            break
    if stop_after is None:
        job.result()
    else:  # the server notices the client left, closes the run (it saves its adapter), frees its memory
        time.sleep(15)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=20, help="requests to each other endpoint")
    ap.add_argument("--skip-tabs", action="store_true", help="only the training runs")
    args = ap.parse_args()

    from gradio_client import Client

    port = free_port()
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    server = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(600):
            try:
                client = Client(url, verbose=False)
                break
            except Exception:
                time.sleep(0.5)
        else:
            raise SystemExit("the app did not start")
        sampler = Sampler(server.pid)
        print(f"server started: RSS {sampler.rss():,.0f} MB", flush=True)
        rows: list = []
        measure(sampler, "train default", lambda: train(client, TRAIN_DEFAULT), rows)
        from gradio_client import handle_file

        maxima = [handle_file(long_rows_file()) if a == "LONG_ROWS" else a for a in TRAIN_MAXIMA]
        measure(sampler, "train maxima (2 steps)", lambda: train(client, maxima, stop_after=2), rows)
        measure(sampler, "train default (again)", lambda: train(client, TRAIN_DEFAULT), rows)
        if not args.skip_tabs:
            for name, api, inputs in TABS:
                needed = {p["parameter_name"]: None for p in client.view_api(print_info=False, return_format="dict")
                          ["named_endpoints"][api]["parameters"] if not p.get("parameter_has_default")}

                def calls(api=api, inputs=inputs, needed=needed):
                    for _ in range(args.repeat):
                        if inputs:
                            client.predict(*inputs, api_name=api)
                        else:  # the defaults, and None where an input has none (a file not uploaded)
                            client.predict(api_name=api, **needed)
                measure(sampler, f"{name} x{args.repeat}", calls, rows)
        print("\n| request | RSS before | peak | after | after - before | seconds |\n|---|---:|---:|---:|---:|---:|")
        for name, before, peak, after, seconds in rows:
            print(f"| {name} | {before:,.0f} MB | {peak:,.0f} MB | {after:,.0f} MB | {after - before:+,.0f} MB | {seconds:.1f} |")
        worst = max(r[2] for r in rows)
        print(f"\nhighest peak {worst:,.0f} MB (target < 8,192); default run peak {rows[0][2]:,.0f} MB (target < 3,072)")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
