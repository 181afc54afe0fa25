"""SFT datasets: the bundled ones and the common formats, all turned into chat ``messages``.

Every loader returns a ``datasets.Dataset`` with one column, ``messages``: a list of
``{"role": "system" | "user" | "assistant", "content": str}``. The formats read:

==================  ===============================================================
messages            ``messages: [{role, content}, ...]``  (TRL's "conversational")
prompt/completion   ``prompt: str, completion: str`` or both as lists of messages
Alpaca              ``instruction, input (optional), output`` — user = instruction
                    (+ blank line + input), assistant = output
ShareGPT            ``conversations: [{from, value}, ...]`` (human/gpt/system)
==================  ===============================================================

Bundled (written for the lab, reviewed by hand, each with ``train`` and ``eval`` splits whose
questions do not overlap):

- ``pirate``: helpful, correct answers to everyday questions, all in pirate speak — a behaviour
  a small model visibly learns in minutes (the default of the QLoRA run);
- ``json``: every answer is only a JSON object ``{"answer": ..., "confidence": ...}``.

Bundled for the experiments of lecture §2-3 (``experiment`` set; not in :func:`list_datasets` unless
asked for, so the training tab offers the two sets above):

- ``pirate_curated`` / ``pirate_noisy``: quality vs quantity — 40 curated pirate rows, and 200 rows
  that hold the same 40 plus the kinds of bad rows collected data has (:mod:`lab.data_quality`);
- ``multitask``: one output behaviour across ten task types, two of them never trained on
  (zero-shot generalisation, :mod:`lab.multitask`).

A row may carry a ``meta`` object beside ``messages`` (a noisy row's kind, an eval row's checkable
answer, a task type): the loaders ignore it; :func:`bundled_meta` reads it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import datasets

from lab.errors import LabError, Msg

DATA_DIR = Path(__file__).resolve().parent / "datasets"
SPLITS = ("train", "eval")
MAX_UPLOAD_BYTES = 5 * 2**20  # uploads in the app: 5 MB (MiB, as Gradio's own refusal counts them)
MAX_JSON_DEPTH = 32
"""A chat row is nested 4 or 5 levels deep (list, row, messages, message); a config.json 3 or 4.
Deeper JSON is refused before any parser, which would otherwise recurse until Python gives up."""
ROLES = ("system", "user", "assistant")
FILE_TYPES = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "system": "system",
}

datasets.disable_progress_bars()


@dataclass(frozen=True)
class BundledDataset:
    name: str
    #: Shown to users: phrases with codes (``str()`` gives the English), translated by the app.
    title: Msg
    description: Msg
    experiment: str | None = None
    """The lecture experiment a set is made for ("quality", "generalisation"), None for the sets the
    training tab offers: a set built to be small, or noisy on purpose, is not a default choice."""


BUNDLED = {
    "pirate": BundledDataset(
        "pirate",
        Msg("data.pirate.title", "Pirate assistant"),
        Msg("data.pirate.description",
            "Helpful, correct answers to everyday questions (science, cooking, travel, coding, maths, "
            "advice) — every answer in unmistakable pirate speak."),
    ),
    "json": BundledDataset(
        "json",
        Msg("data.json.title", "JSON answers"),
        Msg("data.json.description",  # braces doubled: a template, rendered with single ones
            'Every answer is only a JSON object {{"answer": ..., "confidence": ...}}: a strict output format.'),
    ),
    "pirate_curated": BundledDataset(
        "pirate_curated",
        Msg("data.pirate_curated.title", "Pirate assistant, curated (40 rows)"),
        Msg("data.pirate_curated.description",
            "40 hand-checked pirate rows: every reply correct, complete, on topic and in style."),
        experiment="quality",
    ),
    "pirate_noisy": BundledDataset(
        "pirate_noisy",
        Msg("data.pirate_noisy.title", "Pirate assistant, noisy (200 rows)"),
        Msg("data.pirate_noisy.description",
            "The 40 curated rows plus 160 of the kinds collected data holds: duplicates, near-duplicates, "
            "plain-English replies, truncated, too short, too long, looping, off-topic and wrong answers."),
        experiment="quality",
    ),
    "multitask": BundledDataset(
        "multitask",
        Msg("data.multitask.title", "Multi-task instructions, one format"),
        Msg("data.multitask.description",
            'Ten task types (summarise, translate, code, maths, ...); every reply opens with "[OK]". '
            "Two task types (classify, poem) are only in the eval split."),
        experiment="generalisation",
    ),
}


class DatasetFormatError(LabError):
    """A dataset file or row that the lab cannot read; the message names file, row and field.

    Raised with the :class:`~lab.errors.Msg` it says: ``DatasetFormatError(Msg(code, english, **params))``.
    """

    def __init__(self, message: Msg):
        super().__init__(message.code, message.english, **message.params)


def list_datasets(experiments: bool = False) -> list[str]:
    """The names of the bundled SFT datasets the training tab offers; with ``experiments``, also the
    sets made for one experiment (:attr:`BundledDataset.experiment`)."""
    return [name for name, d in BUNDLED.items() if experiments or d.experiment is None]


def bundled_meta(name: str, split: str = "train") -> list[dict]:
    """The ``meta`` object of each row of a bundled split, in row order (``{}`` for a row without one)."""
    if name not in BUNDLED or split not in SPLITS:
        raise ValueError(f"{name!r} / {split!r} is not a bundled dataset split.")
    lines = (DATA_DIR / name / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line).get("meta") or {} for line in lines if line.strip()]


def detect_format(columns) -> str:
    """Which SFT format a table with these ``columns`` is in."""
    cols = set(columns)
    if "messages" in cols:
        return "messages"
    if "conversations" in cols:
        return "sharegpt"
    if {"prompt", "completion"} <= cols:
        return "prompt-completion"
    if {"instruction", "output"} <= cols:
        return "alpaca"
    raise DatasetFormatError(Msg(
        "data.no_format", "columns {columns} match no SFT format; expected one of: 'messages'; "
        "'conversations' (ShareGPT); 'prompt' + 'completion'; 'instruction' + 'output' (Alpaca).",
        columns=str(sorted(cols))))


def _where(source: str, index: int) -> Msg:
    return Msg("data.where_row", "{source}, row {row}", source=source, row=index + 1)


def _text(value, source: str, index: int, field: str) -> str:
    """A text field as text: numbers and booleans (a CSV cell ``4``, a Parquet int column) become their
    text; anything else that is not a string is refused with the row and field."""
    if isinstance(value, bool):
        return "true" if value else "false"  # as JSON writes it
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        got = Msg("data.got_missing", "missing") if value is None else Msg("data.got_a", "a {kind}",
                                                                            kind=type(value).__name__)
        raise DatasetFormatError(Msg("data.not_text", "{where}: field '{field}' must be text, got {got}.",
                                     where=_where(source, index), field=field, got=got))
    return value


def _check_messages(msgs, source: str, index: int, field: str) -> list[dict]:
    if not isinstance(msgs, list) or not msgs:
        raise DatasetFormatError(Msg("data.no_messages",
                                     "{where}: field '{field}' must be a non-empty list of messages.",
                                     where=_where(source, index), field=field))
    out = []
    for k, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise DatasetFormatError(Msg("data.message_not_object",
                                         "{where}: field '{field}' must be an object with role and content.",
                                         where=_where(source, index), field=f"{field}[{k}]"))
        role = m.get("role")
        if role not in ROLES:
            raise DatasetFormatError(Msg("data.bad_role",
                                         "{where}: field '{field}' is {value}; expected one of {roles}.",
                                         where=_where(source, index), field=f"{field}[{k}].role", value=repr(role),
                                         roles=", ".join(ROLES)))
        out.append({"role": role, "content": _text(m.get("content"), source, index, f"{field}[{k}].content")})
    return out


def to_messages(row: dict, fmt: str, source: str = "dataset", index: int = 0) -> list[dict]:
    """Convert one row in format ``fmt`` (see :func:`detect_format`) to chat messages."""
    if fmt == "messages":
        return _check_messages(row.get("messages"), source, index, "messages")
    if fmt == "prompt-completion":
        prompt, completion = row.get("prompt"), row.get("completion")
        if isinstance(prompt, list) or isinstance(completion, list):  # conversational
            return _check_messages(prompt, source, index, "prompt") + _check_messages(
                completion, source, index, "completion"
            )
        return [
            {"role": "user", "content": _text(prompt, source, index, "prompt")},
            {"role": "assistant", "content": _text(completion, source, index, "completion")},
        ]
    if fmt == "alpaca":
        instruction = _text(row.get("instruction"), source, index, "instruction")
        extra = row.get("input")
        if extra is not None:
            extra = _text(extra, source, index, "input")
        user = f"{instruction}\n\n{extra}" if extra else instruction
        return [
            {"role": "user", "content": user},
            {"role": "assistant", "content": _text(row.get("output"), source, index, "output")},
        ]
    if fmt == "sharegpt":
        conv = row.get("conversations")
        if not isinstance(conv, list) or not conv:
            raise DatasetFormatError(Msg("data.no_conversations",
                                         "{where}: field 'conversations' must be a non-empty list.",
                                         where=_where(source, index)))
        out = []
        for k, turn in enumerate(conv):
            if not isinstance(turn, dict):
                raise DatasetFormatError(Msg("data.turn_not_object", "{where}: field '{field}' must be an object.",
                                             where=_where(source, index), field=f"conversations[{k}]"))
            speaker = turn.get("from", turn.get("role"))
            role = SHAREGPT_ROLES.get(str(speaker).lower()) if speaker is not None else None
            if role is None:
                raise DatasetFormatError(Msg("data.bad_speaker",
                                             "{where}: field '{field}' is {value}; expected one of {speakers}.",
                                             where=_where(source, index), field=f"conversations[{k}].from",
                                             value=repr(speaker), speakers=", ".join(SHAREGPT_ROLES)))
            value = turn.get("value", turn.get("content"))
            out.append({"role": role, "content": _text(value, source, index, f"conversations[{k}].value")})
        return out
    raise DatasetFormatError(Msg("data.unknown_format", "unknown format {fmt}.", fmt=repr(fmt)))


def convert(ds: datasets.Dataset, source: str = "dataset") -> datasets.Dataset:
    """Any supported format -> a Dataset with just the ``messages`` column."""
    if len(ds) == 0:
        raise DatasetFormatError(Msg("data.no_rows", "{source} has no rows.", source=source))
    fmt = detect_format(ds.column_names)
    rows = [to_messages(row, fmt, source, i) for i, row in enumerate(ds)]
    if not any(m["role"] == "assistant" for msgs in rows for m in msgs):
        raise DatasetFormatError(Msg("data.no_assistant",
                                     "{source} has no assistant messages: there is nothing to train on.",
                                     source=source))
    return datasets.Dataset.from_dict({"messages": rows})


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?')  # a JSON string (or an unterminated one): never fails
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_PAIR = re.compile(r"\[\]|\{\}")


def nested_deeper_than(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON in ``text`` nests lists / objects more than ``limit`` levels deep.

    No parser and no recursion: strings are cut out, then the innermost ``[]`` / ``{}`` pairs are
    removed ``limit`` times (each pass is one regular-expression substitution over the brackets).
    Malformed bracketing is left for the JSON parser to report.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(limit):
        reduced = _PAIR.sub("", brackets)
        if reduced == brackets:
            return False
        brackets = reduced
    return _PAIR.search(brackets) is not None


def _too_deep(where: str | Msg) -> DatasetFormatError:
    return DatasetFormatError(Msg(
        "data.too_deep", "{where}: the JSON is nested more than {limit} levels deep; a chat row needs about 5.",
        where=where, limit=MAX_JSON_DEPTH))


def _no_true_false(pairs) -> dict:
    """JSON object hook: ``true`` / ``false`` values kept as the text written in the file."""
    return {k: ("true" if v is True else "false" if v is False else v) for k, v in pairs}


def _loads(text: str):
    """Numbers keep the exact text of the file (``4`` stays "4", never 4.0), so text fields stay text."""
    return json.loads(text, parse_int=str, parse_float=str, parse_constant=str, object_pairs_hook=_no_true_false)


def _read_text(path: Path) -> str:
    """The file as UTF-8 text; the most common upload errors name the file and the line."""
    raw = path.read_bytes()
    if not raw.strip():
        raise DatasetFormatError(Msg("data.empty", "{file} is empty.", file=path.name))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DatasetFormatError(Msg("data.not_utf8", "{file} is not UTF-8 text (first bad byte on line {line}).",
                                     file=path.name, line=line)) from None


def _json_rows(path: Path, text: str) -> list[dict]:
    """The rows of a .jsonl (one object a line) or .json (a list of objects) file."""
    if path.suffix.lower() == ".jsonl":
        rows = []
        for i, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            if nested_deeper_than(line):
                raise _too_deep(_where(path.name, i))
            try:
                obj = _loads(line)
            except json.JSONDecodeError as e:
                raise DatasetFormatError(Msg("data.bad_json_line", "{where}: not valid JSON ({reason}).",
                                             where=_where(path.name, i), reason=e.msg)) from None
            if not isinstance(obj, dict):
                raise DatasetFormatError(Msg("data.line_not_object", "{where}: each line must be a JSON object.",
                                             where=_where(path.name, i)))
            rows.append(obj)
        if not rows:
            raise DatasetFormatError(Msg("data.empty", "{file} is empty.", file=path.name))
        return rows
    if nested_deeper_than(text):
        raise _too_deep(path.name)
    try:
        obj = _loads(text)
    except json.JSONDecodeError as e:
        raise DatasetFormatError(Msg("data.bad_json", "{file}: not valid JSON ({reason} at line {line}).",
                                     file=path.name, reason=e.msg, line=e.lineno)) from None
    if not isinstance(obj, list) or not all(isinstance(o, dict) for o in obj):
        raise DatasetFormatError(Msg("data.json_not_list",
                                     "{file}: a .json file must hold a list of objects, one per row.",
                                     file=path.name))
    return obj


def _json_table(path: Path, text: str) -> datasets.Dataset:
    rows = _json_rows(path, text)
    columns = list(dict.fromkeys(k for row in rows for k in row))  # every key, in order of first use
    try:
        return datasets.Dataset.from_dict({c: [row.get(c) for row in rows] for c in columns})
    except Exception:  # a column mixing text with lists or objects: datasets' JSON reader keeps those as JSON
        return datasets.load_dataset("json", data_files=str(path), split="train")


def _csv_table(path: Path) -> datasets.Dataset:
    """Every CSV cell as text (``2+2=,4`` gives "4", not the int 4); only an empty cell is missing."""
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return datasets.Dataset.from_pandas(frame, preserve_index=False)


def read_table(path: str | os.PathLike, max_bytes: int | None = None) -> datasets.Dataset:
    """A local JSONL / JSON / CSV / Parquet file as stored (before conversion).

    Text stays text: CSV cells are read as strings and JSON numbers keep their written form, so a
    ``completion`` of ``4`` is the text "4" whatever type a reader would have guessed for the column.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(Msg("data.no_file", "{file}: no such file.", file=path.name))
    builder = FILE_TYPES.get(path.suffix.lower())
    if builder is None:
        raise DatasetFormatError(Msg("data.bad_type",
                                     "{file}: unsupported file type; use .jsonl, .json, .csv or .parquet.",
                                     file=path.name))
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise DatasetFormatError(Msg("data.too_big", "{file} is {mb:.1f} MB; the limit is {limit:.0f} MB.",
                                     file=path.name, mb=size / 2**20, limit=max_bytes / 2**20))
    text = _read_text(path) if builder != "parquet" else ""
    try:
        if builder == "json":
            return _json_table(path, text)
        if builder == "csv":
            return _csv_table(path)
        return datasets.load_dataset(builder, data_files=str(path), split="train")
    except DatasetFormatError:
        raise
    except Exception as e:  # pandas, pyarrow and datasets raise parse errors of many types
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DatasetFormatError(Msg("data.unreadable", "{file} could not be read as {kind}: {reason}",
                                     file=path.name, kind=builder, reason=reason)) from None


def load_file(path: str | os.PathLike, max_bytes: int | None = None) -> datasets.Dataset:
    """Read a local file in any supported format and convert it to ``messages``."""
    return convert(read_table(path, max_bytes=max_bytes), Path(path).name)


def load_sft_dataset(name_or_path: str | os.PathLike, split: str = "train", max_bytes: int | None = None) -> datasets.Dataset:
    """A bundled name, a local file, or (online) a Hub dataset id -> Dataset with ``messages``."""
    name = str(name_or_path)
    if name in BUNDLED:
        if split not in SPLITS:
            raise LabError("data.bad_split", "split must be one of {splits}, not {value}.",
                           splits=", ".join(SPLITS), value=repr(split))
        return load_file(DATA_DIR / name / f"{split}.jsonl")
    if Path(name).suffix.lower() in FILE_TYPES or Path(name).exists():
        return load_file(name, max_bytes=max_bytes)
    from lab.models import offline

    if offline():
        raise DatasetFormatError(Msg(
            "data.offline", "{name} is not a bundled dataset ({bundled}) nor a local file, and the Hub is offline.",
            name=repr(name), bundled=", ".join(BUNDLED)))
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as e:
        raise DatasetFormatError(Msg("data.hub_failed",
                                     "Could not load the Hub dataset {name} (split {split}): {error}",
                                     name=repr(name), split=repr(split), error=str(e))) from None
    return convert(ds, name)


def chat_text(tokenizer, messages: list[dict]) -> str:
    """The conversation exactly as the model sees it: its chat template, special tokens included."""
    return tokenizer.apply_chat_template(messages, tokenize=False)


def token_lengths(tokenizer, ds: datasets.Dataset) -> list[int]:
    """Tokens per example once the chat template is applied."""
    texts = [chat_text(tokenizer, m) for m in ds["messages"]]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


@dataclass(frozen=True)
class DatasetStats:
    rows: int
    messages: int
    assistant_messages: int
    total_tokens: int
    mean_tokens: float
    median_tokens: float
    max_tokens: int
    lengths: list[int]


def dataset_stats(tokenizer, ds: datasets.Dataset) -> DatasetStats:
    """Counts for the data browser: rows, messages, and token lengths under the chat template."""
    lengths = token_lengths(tokenizer, ds)
    msgs = ds["messages"]
    ordered = sorted(lengths)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return DatasetStats(
        rows=len(ds),
        messages=sum(len(m) for m in msgs),
        assistant_messages=sum(1 for m in msgs for x in m if x["role"] == "assistant"),
        total_tokens=sum(lengths),
        mean_tokens=sum(lengths) / len(lengths),
        median_tokens=float(median),
        max_tokens=max(lengths),
        lengths=lengths,
    )
