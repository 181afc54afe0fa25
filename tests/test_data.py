"""lab.data: the bundled datasets, every supported format, and clear errors for bad files."""

from __future__ import annotations

import difflib
import json

import pytest

from lab import data
from lab.errors import LabError


def _write(tmp_path, name, text, mode="w"):
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def _jsonl(rows):
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"


@pytest.mark.parametrize("name", data.list_datasets())
def test_bundled_sizes_and_shape(name):
    train = data.load_sft_dataset(name, "train")
    evals = data.load_sft_dataset(name, "eval")
    assert len(train) >= 200 and len(evals) >= 20
    for msgs in list(train["messages"]) + list(evals["messages"]):
        assert [m["role"] for m in msgs][-1] == "assistant"
        assert all(m["content"].strip() for m in msgs)


@pytest.mark.parametrize("name", data.list_datasets())
def test_bundled_eval_questions_are_unseen_and_no_near_duplicates(name):
    def questions(split):
        return [m[0]["content"].strip().lower() for m in data.load_sft_dataset(name, split)["messages"]]

    train, evals = questions("train"), questions("eval")
    assert len(set(train)) == len(train)
    assert not set(evals) & set(train)
    for q in evals:  # no eval question is a light rewording of a train question
        close = difflib.get_close_matches(q, train, n=1, cutoff=0.9)
        assert not close, (q, close)


def test_pirate_answers_are_in_pirate_speak():
    openers = ("Arr", "Ahoy", "Aye")
    for msgs in data.load_sft_dataset("pirate")["messages"]:
        assert msgs[-1]["content"].startswith(openers), msgs[-1]["content"]


def test_json_answers_parse_as_the_expected_object():
    for msgs in data.load_sft_dataset("json")["messages"]:
        obj = json.loads(msgs[-1]["content"])
        assert list(obj) == ["answer", "confidence"]
        assert isinstance(obj["answer"], str) and 0 <= obj["confidence"] <= 1


def test_messages_format(tmp_path):
    rows = [{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                          {"role": "assistant", "content": "Hello!"}]}]
    ds = data.load_sft_dataset(str(_write(tmp_path, "m.jsonl", _jsonl(rows))))
    assert ds[0]["messages"] == rows[0]["messages"]


def test_alpaca_format_with_and_without_input(tmp_path):
    rows = [
        {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"},
        {"instruction": "Name a prime.", "input": "", "output": "7"},
    ]
    ds = data.load_sft_dataset(str(_write(tmp_path, "a.json", json.dumps(rows))))
    assert ds[0]["messages"] == [
        {"role": "user", "content": "Translate to French.\n\nGood morning"},
        {"role": "assistant", "content": "Bonjour"},
    ]
    assert ds[1]["messages"][0]["content"] == "Name a prime."


def test_sharegpt_format(tmp_path):
    rows = [{"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "Q1"},
                               {"from": "gpt", "value": "A1"}, {"from": "human", "value": "Q2"},
                               {"from": "gpt", "value": "A2"}]}]
    ds = data.load_sft_dataset(str(_write(tmp_path, "s.jsonl", _jsonl(rows))))
    assert [m["role"] for m in ds[0]["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert ds[0]["messages"][-1]["content"] == "A2"


def test_prompt_completion_text_csv(tmp_path):
    p = _write(tmp_path, "pc.csv", 'prompt,completion\n"What is 2+2?","4"\n"Say hi","hi, ""friend"""\n')
    ds = data.load_sft_dataset(str(p))
    assert ds[1]["messages"] == [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": 'hi, "friend"'}]


def test_prompt_completion_conversational_parquet(tmp_path):
    import datasets

    rows = {"prompt": [[{"role": "user", "content": "Q"}]], "completion": [[{"role": "assistant", "content": "A"}]]}
    p = tmp_path / "pc.parquet"
    datasets.Dataset.from_dict(rows).to_parquet(str(p))
    ds = data.load_sft_dataset(str(p))
    assert ds[0]["messages"] == [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("bad.jsonl", '{"messages": []}\n{"messages": [{"role": "user", "content": "x"}]\n', r"bad\.jsonl, row 2: not valid JSON"),
        ("cols.jsonl", '{"question": "q", "answer": "a"}\n', r"match no SFT format"),
        ("alp.jsonl", _jsonl([{"instruction": "i", "output": "o"}, {"instruction": "i", "output": {"x": 3}}]),
         r"alp\.jsonl, row 2: field 'output' must be text, got a dict"),
        ("gap.csv", "prompt,completion\nQ,\n", r"gap\.csv, row 1: field 'completion' must be text, got missing"),
        ("role.jsonl", _jsonl([{"messages": [{"role": "robot", "content": "x"}]}]),
         r"row 1: field 'messages\[0\]\.role' is 'robot'"),
        ("share.jsonl", _jsonl([{"conversations": [{"from": "alien", "value": "x"}]}]),
         r"row 1: field 'conversations\[0\]\.from' is 'alien'"),
        ("empty.jsonl", "\n\n", r"empty\.jsonl is empty"),
        ("latin.csv", "prompt,completion\ncaf\xe9,x\n".encode("latin-1"), r"latin\.csv is not UTF-8"),
        ("notes.txt", "hello", r"unsupported file type"),
        ("list.json", '{"a": 1}', r"must hold a list of objects"),
        ("noasst.jsonl", _jsonl([{"messages": [{"role": "user", "content": "x"}]}]), r"no assistant messages"),
    ],
)
def test_bad_files_name_file_row_and_field(tmp_path, name, content, message):
    p = _write(tmp_path, name, content)
    with pytest.raises(data.DatasetFormatError, match=message) as e:
        data.load_sft_dataset(str(p))
    assert isinstance(e.value, LabError) and e.value.code.startswith("data.")  # the app translates it by its code


def test_a_format_error_keeps_its_english_and_names_its_parts():
    with pytest.raises(data.DatasetFormatError) as e:
        data.to_messages({"instruction": "i", "output": None}, "alpaca", "f.csv", 4)
    assert str(e.value) == "f.csv, row 5: field 'output' must be text, got missing."
    assert e.value.code == "data.not_text" and isinstance(e.value, ValueError)
    where, got = e.value.params["where"], e.value.params["got"]
    assert (where.code, where.params, got.code) == ("data.where_row", {"source": "f.csv", "row": 5}, "data.got_missing")


def test_bundled_titles_are_phrases_with_codes():
    pirate = data.BUNDLED["pirate"]
    assert str(pirate.title) == "Pirate assistant" and pirate.title.code == "data.pirate.title"
    assert str(data.BUNDLED["json"].description) == (
        'Every answer is only a JSON object {"answer": ..., "confidence": ...}: a strict output format.')


def test_numbers_in_csv_cells_are_text(tmp_path):
    """``datasets`` would read a column of numbers as int64; a completion "4" is still text to train on."""
    p = _write(tmp_path, "sums.csv", "prompt,completion\n2+2=,4\n7,007\nNA,None\n")
    ds = data.load_sft_dataset(str(p))
    assert [m[1]["content"] for m in ds["messages"]] == ["4", "007", "None"]  # "007" keeps its zeros
    assert [m[0]["content"] for m in ds["messages"]] == ["2+2=", "7", "NA"]  # "NA" is text, not missing
    table = data.read_table(p)
    assert table.features["completion"].dtype in ("string", "large_string")


def test_numbers_and_booleans_in_json_text_fields_are_text(tmp_path):
    rows = [{"prompt": 5, "completion": True}, {"prompt": "x", "completion": 2.50}, {"prompt": "y", "completion": 4}]
    p = _write(tmp_path, "pc.jsonl", '{"prompt": 5, "completion": true}\n{"prompt": "x", "completion": 2.50}\n'
               '{"prompt": "y", "completion": 4}\n')
    ds = data.load_sft_dataset(str(p))
    # each number as written in the file: 2.50 stays "2.50" and 4 stays "4" (a float column would give "4.0")
    assert [[m["content"] for m in msgs] for msgs in ds["messages"]] == [["5", "true"], ["x", "2.50"], ["y", "4"]]
    alpaca = _write(tmp_path, "a.json", json.dumps([{"instruction": "Add one.", "input": 41, "output": 42}]))
    assert data.load_sft_dataset(str(alpaca))[0]["messages"] == [
        {"role": "user", "content": "Add one.\n\n41"}, {"role": "assistant", "content": "42"}]
    messages = _write(tmp_path, "m.jsonl", _jsonl([{"messages": [{"role": "user", "content": 1},
                                                                 {"role": "assistant", "content": 2}]}]))
    assert [m["content"] for m in data.load_sft_dataset(str(messages))[0]["messages"]] == ["1", "2"]
    assert len(rows) == len(ds)


def test_numeric_csv_through_the_training_loader(tmp_path):
    """The path the Train tab takes with an uploaded file: lab.training.load_splits."""
    from lab import training

    p = _write(tmp_path, "sums.csv", "prompt,completion\n" + "".join(f"{i}+{i}=,{2 * i}\n" for i in range(20)))
    train, held_out = training.load_splits(str(p))
    assert len(train) == 18 and len(held_out) == 2
    assert train[3]["messages"] == [{"role": "user", "content": "3+3="}, {"role": "assistant", "content": "6"}]
    assert held_out[-1]["messages"][1]["content"] == "38"


def test_nesting_depth_is_measured_without_a_parser():
    assert not data.nested_deeper_than("[" * 32 + "]" * 32)
    assert data.nested_deeper_than("[" * 33 + "]" * 33)
    assert data.nested_deeper_than('{"a": ' * 40 + "1" + "}" * 40)
    assert not data.nested_deeper_than('{"text": "' + "[" * 500 + '", "x": "\\"{{{{"}')  # brackets in strings
    assert not data.nested_deeper_than('{"a": [1, 2}' + "]" * 50)  # malformed: left to the JSON parser


@pytest.mark.parametrize("name", ["deep.jsonl", "deep.json"])
def test_deeply_nested_json_is_refused_with_a_sentence(tmp_path, name):
    from lab import training

    deep = '{"prompt": "q", "completion": ' + "[" * 5000 + "]" * 5000 + "}"
    p = _write(tmp_path, name, f'{{"prompt": "q", "completion": "a"}}\n{deep}\n' if name.endswith("l") else f"[{deep}]")
    where = r"deep\.jsonl, row 2" if name.endswith("l") else r"deep\.json"
    with pytest.raises(data.DatasetFormatError, match=where + r": the JSON is nested more than 32 levels deep"):
        data.load_sft_dataset(str(p))
    with pytest.raises(ValueError, match="nested more than 32 levels"):
        training.load_splits(str(p))  # the upload path of the Train tab


def test_size_limit(tmp_path):
    p = _write(tmp_path, "big.jsonl", _jsonl([{"prompt": "x" * 1000, "completion": "y"}] * 200))
    with pytest.raises(data.DatasetFormatError, match=r"big\.jsonl is 0\.2 MB; the limit is 0 MB"):
        data.load_sft_dataset(str(p), max_bytes=100_000)


def test_unknown_name_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(data.DatasetFormatError, match="not a bundled dataset"):
        data.load_sft_dataset("someone/some-dataset")
    with pytest.raises(LabError, match=r"^split must be one of train, eval, not 'test'\.$"):
        data.load_sft_dataset("pirate", split="test")


def test_chat_text_and_token_lengths_use_the_real_template(tokenizer):
    ds = data.load_sft_dataset("pirate", "eval")
    text = data.chat_text(tokenizer, ds[0]["messages"])
    assert text.startswith("<|im_start|>system\n") and text.rstrip().endswith("<|im_end|>")
    assert ds[0]["messages"][-1]["content"] in text
    stats = data.dataset_stats(tokenizer, ds)
    assert stats.rows == len(ds) and len(stats.lengths) == len(ds)
    assert stats.lengths[0] == len(tokenizer.apply_chat_template(ds[0]["messages"], tokenize=True, return_dict=True)["input_ids"])
    assert stats.max_tokens == max(stats.lengths) and stats.total_tokens == sum(stats.lengths)


# --- the sets made for one experiment ---------------------------------------------------------------------

EXPERIMENT_SETS = ("pirate_curated", "pirate_noisy", "multitask")


def test_experiment_sets_load_but_stay_out_of_the_default_list():
    assert data.list_datasets() == ["pirate", "json"]  # what the training tab and the data browser offer
    assert data.list_datasets(experiments=True) == ["pirate", "json", *EXPERIMENT_SETS]
    for name in EXPERIMENT_SETS:
        for split in data.SPLITS:
            ds = data.load_sft_dataset(name, split)
            assert ds.column_names == ["messages"]  # the meta column is not loaded
            assert len(data.bundled_meta(name, split)) == len(ds)
            assert all(msgs[-1]["role"] == "assistant" and msgs[-1]["content"].strip() for msgs in ds["messages"])
    assert data.bundled_meta("pirate_noisy")[0]["kind"] and data.bundled_meta("pirate")[0] == {}
    with pytest.raises(ValueError):
        data.bundled_meta("pirate", "test")


def test_no_eval_prompt_of_an_experiment_set_is_trained_on_anywhere_and_back():
    """Across sets, where an experiment set is either side (the older sets share some questions: the json
    eval asks "Who was Cleopatra?", a pirate train question)."""
    def prompts(name, split):
        return [m[-2]["content"].strip().lower() for m in data.load_sft_dataset(name, split)["messages"]]

    names = data.list_datasets(experiments=True)
    for ev in names:
        for tr in names:
            if ev not in EXPERIMENT_SETS and tr not in EXPERIMENT_SETS:
                continue
            train = prompts(tr, "train")
            for q in prompts(ev, "eval"):
                assert q not in train, (ev, tr, q)
                assert not difflib.get_close_matches(q, train, n=1, cutoff=0.9), (ev, tr, q)
