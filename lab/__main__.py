"""The lab's command line: ``python -m lab <command>``.

    python -m lab train --dataset pirate --steps 30 --out runs/demo
    python -m lab export --steps 200 --out qlora-export    # a TRL SFTTrainer script + its data
    python -m lab experiment peft --out runs/peft          # full vs LoRA vs QLoRA (also: rank, masking)
    python -m lab experiment data-quality --steps 24       # also: synthetic, zero-shot

``train`` prints one JSON object per optimizer step on stdout (progress notes go to stderr) and
writes the adapter to ``--out`` (peft format). Ctrl-C stops after the current step and keeps the
adapter. The options are generated from :class:`lab.training.TrainConfig`: its defaults and help
texts are the CLI's. ``experiment`` prints its progress on stderr and writes ``--out``/results.json
(options from :class:`lab.experiments.ExperimentSettings`); Ctrl-C ends the whole experiment cleanly.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
import typing

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ALIASES = {"out_dir": ["--out"]}


def _none_or(kind):
    def parse(text: str):
        return None if text.strip().lower() in ("none", "") else kind(text)

    parse.__name__ = kind.__name__
    return parse


def _flag(text: str) -> bool:
    """true / false (also yes / no, 1 / 0, on / off) as an option's value."""
    value = text.strip().lower()
    if value in ("true", "yes", "1", "on"):
        return True
    if value in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls) -> None:
    """One ``--option`` per dataclass field, with the field's default and ``metadata["help"]``."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = typing.get_args(hint) if typing.get_origin(hint) is not tuple else ()
        optional = type(None) in args
        base = next((a for a in args if a is not type(None)), hint) if optional else hint
        if typing.get_origin(base) is tuple:
            parse = lambda s: tuple(x.strip() for x in s.split(",") if x.strip())  # noqa: E731
            shown = ",".join(map(str, f.default))
        elif base is bool:
            parse, shown = _flag, f.default
        else:
            parse = base if base in (int, float, str) else str
            shown = f.default
        if optional:
            parse = _none_or(parse)
        flags = [f"--{f.name.replace('_', '-')}"] + ALIASES.get(f.name, [])
        parser.add_argument(*flags, dest=f.name, type=parse, default=f.default,
                            help=f"{f.metadata.get('help', '')} (default: {shown})")


def config_from_args(cls, ns: argparse.Namespace):
    return cls(**{f.name: getattr(ns, f.name) for f in dataclasses.fields(cls)})


def cmd_train(ns) -> int:
    from lab import training

    cfg = config_from_args(training.TrainConfig, ns)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run = training.TrainingRun(cfg)
    for log in run.steps(stop):
        print(log.to_json(), flush=True)
    for note in run.notes:
        print(note, file=sys.stderr)
    size = training.dir_size(run.adapter_dir) if run.adapter_dir else 0
    print(f"{run.stop_reason} Adapter ({size / 1e6:.1f} MB) written to {run.adapter_dir}", file=sys.stderr)
    return 0


def cmd_export(ns) -> int:
    from lab import export, training

    out = ns.out_dir or "qlora-export"
    ns.out_dir = None
    cfg = config_from_args(training.TrainConfig, ns)
    dest = export.export_bundle(cfg, out)
    print(f"Wrote {dest}/train_qlora.py and {dest}/train.jsonl; run: "
          f"cd {dest} && accelerate launch train_qlora.py --data train.jsonl", file=sys.stderr)
    return 0


def _progress(event) -> str | None:
    """One line of progress for an experiment event (None: nothing to say)."""
    kind = event.kind
    if kind == "started":
        return f"Experiment {event.experiment}: {', '.join(event.conditions)} ({event.settings['steps']} steps each) -> {event.out_dir}"
    if kind == "condition_started":
        return f"[{event.index + 1}/{event.total}] {event.name}: {event.method}" + (f", r={event.r}" if event.r else "")
    if kind == "step":
        log = event.log
        return (f"  {event.condition} step {log.step}/{log.steps}  loss {log.loss:.3f}  {log.step_s:.1f} s  "
                f"{log.tokens_per_s:,.0f} tok/s  {log.memory_mb:,.0f} MB")
    if kind == "evaluating":
        return f"  {event.condition} evaluating {event.done}/{event.total}"
    if kind == "condition_done":
        r = event.row
        parts = [f"{r['examples']:,} rows", f"{r['trainable_params']:,} trainable ({r['trainable_share']:.2%})", f"peak {r['peak_memory_mb']:,.0f} MB",
                 f"{r['tokens_per_s']:,.0f} tok/s", f"final loss {r['final_loss']:.3f}"]
        if r.get("behaviour_score") is not None:
            parts.append(f"behaviour {r['behaviour_score']:.2f}")
        if r.get("correctness") is not None:
            parts.append(f"correct {r['correctness']:.2f}")
        if r.get("unseen_after") is not None:
            parts.append(f"seen tasks {r['seen_before']:.2f} -> {r['seen_after']:.2f}, "
                         f"unseen {r['unseen_before']:.2f} -> {r['unseen_after']:.2f}")
        if r.get("forgetting_score") is not None:
            parts.append(f"forgetting {r['forgetting_score']:.2f}")
        parts.append(f"saved {r['saved_mb']:,.1f} MB")
        return f"  {r['name']}: " + ", ".join(parts)
    if kind == "cleaned":
        c = event.cleaning
        reasons = ", ".join(f"{k} {n}" for k, n in c["counts"].items() if n)
        return f"Clean step: kept {c['kept']} of {c['rows']} noisy rows (removed: {reasons})"
    if kind == "candidate":
        r = event.row
        verdict = "kept" if r["kept"] else r["reason"]["text"]
        return f"  candidate {event.index + 1}/{event.total}: {verdict}: {(r['prompt'] or r['text'])[:80]!r}"
    if kind == "finished":
        lines = [str(m) for m in event.conclusions]
        if event.stopped:
            lines.append(event.results["stop_reason"])
        lines.append(f"Results: {event.path} ({event.results['seconds']:.0f} s)")
        return "\n".join(lines)
    return None


def cmd_experiment(ns) -> int:
    from lab import experiments

    settings = config_from_args(experiments.ExperimentSettings, ns)
    stop = threading.Event()
    old = signal.signal(signal.SIGINT, lambda *_: stop.set())  # Ctrl-C: the whole experiment ends cleanly
    try:
        for event in experiments.run_experiment(ns.name, settings, out_dir=ns.out or f"experiment-{ns.name}", stop=stop):
            line = _progress(event)
            if line:
                print(line, file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGINT, old)
    return 0


def main(argv: list[str] | None = None) -> int:
    from lab import training

    parser = argparse.ArgumentParser(prog="python -m lab", description="Tuning Lab from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="QLoRA-train an adapter; one JSON object per step on stdout.")
    add_dataclass_arguments(p, training.TrainConfig)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("export", help="Write the run as a standalone TRL SFTTrainer script and its data into --out.")
    add_dataclass_arguments(p, training.TrainConfig)
    p.set_defaults(func=cmd_export)
    from lab import experiments

    p = sub.add_parser("experiment", help="Run one of the lecture's experiments; writes --out/results.json.")
    p.add_argument("name", choices=list(experiments.EXPERIMENTS), help="Which experiment.")
    p.add_argument("--out", default=None, help="Output folder (default: ./experiment-NAME).")
    add_dataclass_arguments(p, experiments.ExperimentSettings)
    p.set_defaults(func=cmd_experiment)
    ns = parser.parse_args(argv)
    try:
        return ns.func(ns)
    except (ValueError, RuntimeError, OSError) as e:  # lab's plain-sentence errors
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
