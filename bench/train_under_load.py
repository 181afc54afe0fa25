"""Training beside a neighbour: a QLoRA run's tokens/s alone and while another session chats or
quantizes, and the neighbour's latency alone and beside the run — in one process, as in the server.

Run: HF_HUB_OFFLINE=1 .venv/bin/python bench/train_under_load.py [--steps 8] [--compare]

One training run (the training tab's defaults: NF4, r=16, batch 4, max length 256) is driven step by
step in one thread, as the server drives it. Its steps are measured in three phases of ``--steps``
steps each, after 2 warm-up steps:
  idle      nothing else runs;
  chat      another thread streams 128-token chat replies (``lab.chat.stream_chat`` on the shared
            bf16/fp32 model, greedy, the model-and-data tab's path), back to back;
  quantize  another thread quantizes and dequantizes a 1,000,000-value tensor to NF4
            (``lab.nf4.quantize``/``dequantize``, the NF4 explorer's path), back to back.
  process   another process spins on one core (``python -c "while True: pass"``): a CLI run beside
            someone else's job, which the server cannot see as a lane (lab.cores reads /proc/stat).
Before the run, each neighbour request is timed alone (median of 3). Printed: tokens/s per phase and
its share of idle (target: at least 0.5, a fair half of 2 cores), and the neighbour's median latency
beside the run over its idle latency (target: at most 2x).

``--compare`` runs the same again in a child process with core sharing off (``LAB_SHARE_CORES=0``:
every thread computes with every core, torch's default) and prints both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import warnings  # noqa: E402

warnings.filterwarnings("ignore")

QUESTION = "Write a long story about a lighthouse keeper and a storm, with many details."


def neighbours():
    import torch

    from lab import chat, models, nf4

    model, tok = models.shared_model(), models.load_tokenizer()
    decoding = chat.Decoding(max_new_tokens=128)
    weights = torch.randn(1_000_000, generator=torch.Generator().manual_seed(0))

    def chat_request():
        text = ""
        for text in chat.stream_chat(model, tok, [{"role": "user", "content": QUESTION}], decoding):
            pass
        return len(tok(text)["input_ids"])

    def quantize_request():
        packed, state = nf4.quantize(weights, 64, "nf4", True)
        nf4.dequantize(packed, state)
        return weights.numel()

    return {"chat": chat_request, "quantize": quantize_request}


def idle_latency(request, repeat: int = 3) -> float:
    request()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        request()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(steps: int) -> dict:
    from lab import cores, training

    requests = neighbours()
    alone = {name: idle_latency(fn) for name, fn in requests.items()}
    phases = ["idle", *requests, "process"]
    cfg = training.TrainConfig(steps=2 + steps * len(phases), max_seconds=3600)
    run = training.TrainingRun(cfg)
    it = run.steps()
    for _ in range(2):  # warm-up
        next(it)
    result = {"alone_s": alone, "tokens_per_s": {}, "beside_s": {}, "beside_n": {}, "shared": cores.ENABLED,
              "load_before": os.getloadavg()[0]}
    for phase in phases:
        done = threading.Event()
        latencies: list[float] = []

        def neighbour(fn=requests.get(phase)):
            while not done.is_set():
                t0 = time.perf_counter()
                fn()
                if not done.is_set():
                    latencies.append(time.perf_counter() - t0)

        thread = threading.Thread(target=neighbour, daemon=True) if phase in requests else None
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if phase == "process" else None
        if thread:
            thread.start()
        if thread or spinner:
            time.sleep(1.0)  # the neighbour is under way
        tokens = seconds = 0.0
        for _ in range(steps):
            log = next(it)
            tokens += log.tokens
            seconds += log.step_s
        done.set()
        if spinner:
            spinner.kill()
            spinner.wait()
        if thread:
            thread.join()
            result["beside_s"][phase] = statistics.median(latencies) if latencies else float("nan")
            result["beside_n"][phase] = len(latencies)
        result["tokens_per_s"][phase] = tokens / seconds
    it.close()
    result["load_after"] = os.getloadavg()[0]
    return result


def report(r: dict) -> None:
    idle = r["tokens_per_s"]["idle"]
    print(f"core sharing {'on' if r['shared'] else 'off (LAB_SHARE_CORES=0)'}; load average {r['load_before']:.2f} "
          f"before, {r['load_after']:.2f} after")
    print(f"{'phase':<10} {'train tokens/s':>15} {'share of idle':>14} {'neighbour alone':>16} {'beside the run':>15} "
          f"{'ratio':>6} {'requests':>9}")
    for phase, tps in r["tokens_per_s"].items():
        if phase not in r["alone_s"]:
            print(f"{phase:<10} {tps:15.0f} {tps / idle:14.2f}")
            continue
        a, b = r["alone_s"][phase], r["beside_s"][phase]
        print(f"{phase:<10} {tps:15.0f} {tps / idle:14.2f} {a:15.2f}s {b:14.2f}s {b / a:6.2f} {r['beside_n'][phase]:9d}")
    print("targets: training keeps >= 0.50 of its idle tokens/s; the neighbour takes <= 2.00x its idle time")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=8, help="measured steps per phase")
    ap.add_argument("--compare", action="store_true", help="also run with core sharing off, in a child process")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.json:
        import json

        print("RESULT " + json.dumps(measure(ns.steps)))
        return
    report(measure(ns.steps))
    if ns.compare:
        import json

        env = {**os.environ, "LAB_SHARE_CORES": "0"}
        out = subprocess.run([sys.executable, __file__, "--steps", str(ns.steps), "--json"], env=env,
                             capture_output=True, text=True, check=True).stdout
        print()
        report(json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:]))


if __name__ == "__main__":
    main()
