"""The lab's command line: ``python -m lab <command>``.

    python -m lab train --dataset pirate --steps 30 --out runs/demo
    python -m lab export --steps 200 --out qlora-export    # a TRL SFTTrainer script + its data

``train`` prints one JSON object per optimizer step on stdout (progress notes go to stderr) and
writes the adapter to ``--out`` (peft format). Ctrl-C stops after the current step and keeps the
adapter. The options are generated from :class:`lab.training.TrainConfig`: its defaults and help
texts are the CLI's.
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
            shown = ",".join(f.default)
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
    ns = parser.parse_args(argv)
    try:
        return ns.func(ns)
    except (ValueError, RuntimeError, OSError) as e:  # lab's plain-sentence errors
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
