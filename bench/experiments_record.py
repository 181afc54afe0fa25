"""Record each experiment at its default settings: the result the Experiments tab shows at once, and its time.

Runs every experiment (``peft``, ``rank``, ``masking``, ``data-quality``, ``synthetic``, ``zero-shot``;
or those named), each in a fresh process, exactly as ``python -m lab experiment NAME`` does, and writes ``lab/experiments/recorded/NAME.json``: the
experiment's ``results.json`` plus a ``"recorded"`` block (date, wall time, the time limit, whether
the base model's evaluations had to be computed, the machine's load before and after). By default the
evaluation cache starts empty (``--warm`` keeps the shared one), so the time is a learner's first run.

Targets (issue 13): on an otherwise idle 2-core machine, ``peft`` within 6 minutes, ``rank`` and
``masking`` within 4 each; (issue 14) ``data-quality``, ``synthetic`` and ``zero-shot`` within 5 each.
The script says when the machine was busy (1-minute load above the core
count at the start or the end): such a record is labelled ``"busy_machine": true`` and is not final.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/experiments_record.py [peft rank masking data-quality ...] [--warm] [--dry-run]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMITS_S = {"peft": 360, "rank": 240, "masking": 240, "data-quality": 300, "synthetic": 300, "zero-shot": 300}

ONE = """
import sys
from lab import evaluation, experiments
if sys.argv[3] != "-":
    evaluation.CACHE_DIR = sys.argv[3]
for event in experiments.run_experiment(sys.argv[1], out_dir=sys.argv[2]):
    if event.kind in ("condition_started", "condition_done", "finished"):
        print(event.kind, getattr(event, "name", "") or getattr(event, "row", {}).get("name", ""), flush=True)
"""


def record(name: str, warm: bool, dry_run: bool) -> dict:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory(prefix=f"record-{name}-") as tmp:
        out, cache = Path(tmp) / "out", ("-" if warm else str(Path(tmp) / "eval-cache"))
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", ONE, name, str(out), cache], cwd=ROOT, check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        wall = time.perf_counter() - t0
        load_after = os.getloadavg()[0]
        results = json.loads((out / "results.json").read_text())
    for row in results["conditions"]:  # folders of a temporary directory: name them relative to the output
        for key in ("adapter_dir", "model_dir"):
            if row.get(key):
                row[key] = Path(row[key]).name
    busy = max(load_before, load_after) > cores
    results["recorded"] = {
        "date": time.strftime("%Y-%m-%d"), "wall_s": round(wall, 1), "limit_s": LIMITS_S[name],
        "within_limit": wall <= LIMITS_S[name], "cold_cache": not warm,
        "load_average_before": round(load_before, 2), "load_average_after": round(load_after, 2),
        "busy_machine": busy, "command": f"bench/experiments_record.py {name}" + (" --warm" if warm else ""),
    }
    verdict = "within" if wall <= LIMITS_S[name] else "OVER"
    print(f"{name}: {wall:.0f} s ({verdict} the {LIMITS_S[name]} s limit), load {load_before:.1f} -> {load_after:.1f}"
          + ("  BUSY MACHINE: not a final number" if busy else ""))
    for line in results.get("conclusions", []):
        print("   ", line["text"])
    if not dry_run:
        dest = ROOT / "lab" / "experiments" / "recorded" / f"{name}.json"
        dest.write_text(json.dumps(results, indent=1) + "\n")
        print(f"    written: {dest.relative_to(ROOT)}")
    return results


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("names", nargs="*", help=f"experiments to record (default: all): {', '.join(LIMITS_S)}")
    p.add_argument("--warm", action="store_true", help="use the shared evaluation cache (base answers known)")
    p.add_argument("--dry-run", action="store_true", help="print, do not write lab/experiments/recorded/")
    ns = p.parse_args()
    if unknown := [n for n in ns.names if n not in LIMITS_S]:
        p.error(f"unknown experiment(s) {', '.join(unknown)}; choose from {', '.join(LIMITS_S)}")
    for name in ns.names or list(LIMITS_S):
        record(name, ns.warm, ns.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
