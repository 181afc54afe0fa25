"""The QLoRA training tab: wiring, upload checks, and a real run in Chromium (Train, curve, Stop)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import screenshot

from lab.ui import training as ui


def _bad_files(tmp_path):
    wrong = tmp_path / "wrong_columns.csv"
    wrong.write_text("question,answer\nWhat is 2+2?,4\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    big = tmp_path / "big.jsonl"
    row = json.dumps({"prompt": "x" * 900, "completion": "y" * 90}) + "\n"
    big.write_text(row * (6 * 2**20 // len(row) + 1))
    latin = tmp_path / "latin1.jsonl"
    latin.write_bytes('{"prompt": "Un café ?", "completion": "Oui."}\n'.encode("latin-1"))
    return {
        wrong: "match no SFT format",
        empty: "is empty",
        big: "the limit is 5 MB",
        latin: "is not UTF-8",
    }


def test_check_upload_names_each_problem_and_falls_back_to_pirate(tmp_path):
    for path, words in _bad_files(tmp_path).items():
        message, dataset = ui.check_upload(str(path))
        assert message.startswith(f"⚠️ **{path.name} cannot be used:**") and words in message, message
        assert dataset["value"] == "pirate"
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps({"instruction": f"Say {i}", "output": f"{i}!"}) + "\n" for i in range(40)))
    message, dataset = ui.check_upload(str(good))
    assert "40 rows — 36 to train on, 4 held out" in message and dataset["value"] == ui.UPLOAD


def test_a_small_upload_says_it_has_too_few_rows_for_an_eval_split(tmp_path):
    small = tmp_path / "three.jsonl"
    small.write_text("".join(json.dumps({"prompt": f"Say {i}", "completion": f"{i}!"}) + "\n" for i in range(3)))
    message, dataset = ui.check_upload(str(small))
    assert "3 rows, all to train on" in message and "Too few rows for an eval split" in message
    assert "at least 10 rows" in message and dataset["value"] == ui.UPLOAD


def test_sizes_name_the_files_on_disk_and_the_zip_in_the_download_box_units():
    sz = ui.training.Sizes(adapter=19_555_248, base_disk=538_090_408, base_memory=115_343_360)
    text = ui.sizes_text(sz, ui.training.TrainConfig(), files_bytes=19_556_100, zip_bytes=18_140_000)
    assert "Adapter files: 18.7 MB on disk" in text and "zip download: 17.3 MB" in text  # 2^20-byte MB, as Gradio shows


def test_train_event_runs_one_at_a_time_and_stop_is_never_queued_behind_it():
    import app

    demo = app.build_app()
    fns = {f.name: f for f in (demo.fns.values() if isinstance(demo.fns, dict) else demo.fns)}
    assert fns["train_run"].api_name == "train"
    assert fns["train_run"].concurrency_limit == 1 and fns["train_run"].concurrency_id == "qlora-train"
    assert fns["request_stop"].concurrency_limit is None  # Stop runs at once, even while a run holds the slot
    assert fns["arm"].concurrency_limit is None
    tabs = [c["props"].get("label") for c in demo.config["components"] if c.get("type") == "tabitem"]
    assert tabs[-1] == "QLoRA training"


def test_bad_settings_are_a_sentence_before_anything_loads():
    import gradio as gr

    with pytest.raises(gr.Error, match="Learning rate must be a number from 1e-06 to 0.1, not -1"):
        next(ui.train_run({}, next(iter(ui.QUANT)), "pirate", None, 16, 32, 0, ["q_proj"], -1, 30, 8, 256, "completion", 0))


DEFAULTS = dict(quant=next(iter(ui.QUANT)), dataset_choice="pirate", upload=None, r=16, alpha=32, dropout=0.0,
                targets=["q_proj", "v_proj"], lr=1e-3, steps=30, batch=8, max_len=256, mask_mode="completion", seed=0)


@pytest.mark.parametrize("field, value, words", [
    ("steps", 2.5, "Steps must be a whole number from 1 to 300, not 2.5"),
    ("steps", float("nan"), "Steps must be a whole number from 1 to 300, not nan"),
    ("steps", float("inf"), "Steps must be a whole number from 1 to 300, not inf"),
    ("steps", "abc", "Steps must be a whole number from 1 to 300, not 'abc'"),
    ("steps", 1e30, "Steps must be a whole number from 1 to 300, not 1e+30"),
    ("steps", 301, "Steps must be a whole number from 1 to 300, not 301"),
    ("batch", -4, "Batch size must be a whole number from 1 to 32, not -4"),
    ("r", True, "LoRA rank r must be a whole number from 1 to 128, not True"),
    ("seed", 2**80, "Seed must be a whole number from 0 to 2,147,483,647"),
    ("alpha", float("nan"), "LoRA alpha must be a number from 1 to 256, not nan"),
    ("dropout", "0.9", "LoRA dropout must be a number from 0 to 0.5, not '0.9'"),
    ("lr", float("-inf"), "Learning rate must be a number from 1e-06 to 0.1, not -inf"),
    ("quant", "<b>nf4</b>", "Base model storage must be one of"),
    ("mask_mode", "prompt", "Loss masking must be one of completion, assistant, none, not 'prompt'"),
    ("targets", ["lm_head"], "Each target module must be one of q_proj"),
    ("targets", "q_proj", "Target modules must be a list"),
    ("dataset_choice", "/etc/passwd", "Dataset must be one of"),
    ("batch", 4, None),
])
def test_every_setting_out_of_range_through_the_api_is_a_sentence_naming_it(field, value, words):
    """The API can send what no widget would; each value is refused by name and range, before anything loads."""
    import gradio as gr

    settings = dict(DEFAULTS, **{field: value})
    if words is None:  # within every limit: 4 x 1,024 is as large a step as is allowed
        assert ui.settings_config(*dict(settings, max_len=1024).values()).max_seq_len == 1024
        return
    with pytest.raises(gr.Error) as err:
        next(ui.train_run({}, *settings.values()))
    assert words in err.value.message, err.value.message
    assert "<b>" not in err.value.message  # user text is escaped inside the toast


def test_tokens_per_step_are_capped_with_a_sentence():
    import gradio as gr

    with pytest.raises(gr.Error, match=r"32 x 1,024 = 32,768 tokens per step; the limit is 4,096"):
        next(ui.train_run({}, *dict(DEFAULTS, batch=32, max_len=1024).values()))


def test_stop_with_nothing_running_says_so_and_leaves_no_flag_for_the_next_run(tmp_path, monkeypatch):
    """Stop after a run (or before any) answers "Nothing is training", and the next run trains."""
    class Req:
        session_hash = "stop-after-finish"

    assert ui.request_stop(Req()) == ui.NOTHING_RUNNING
    stop = ui._begin(Req())  # a run through the API, without Train's arm()
    assert not stop.is_set()
    assert ui.request_stop(Req()).startswith("**Stopping**") and stop.is_set()
    ui._end(Req())
    assert ui.request_stop(Req()) == ui.NOTHING_RUNNING  # finished: nothing to stop
    assert not ui._begin(Req()).is_set()  # the next run starts with a fresh flag
    ui._end(Req())
    ui.arm(Req())  # Train pressed: the run is queued, Stop now applies to it
    assert ui.request_stop(Req()).startswith("**Stopping**")
    assert ui._begin(Req()).is_set()  # the queued run sees the stop and trains nothing
    ui._end(Req())


def test_empty_targets_and_missing_upload_are_sentences():
    import gradio as gr

    with pytest.raises(gr.Error, match="Choose at least one target module"):
        next(ui.train_run({}, next(iter(ui.QUANT)), "pirate", None, 16, 32, 0, [], 1e-3, 30, 8, 256, "completion", 0))
    with pytest.raises(gr.Error, match="Upload a dataset file first"):
        next(ui.train_run({}, next(iter(ui.QUANT)), ui.UPLOAD, None, 16, 32, 0, ["q_proj"], 1e-3, 30, 8, 256, "completion", 0))


def test_old_runs_are_pruned(tmp_path, monkeypatch):
    import os
    import time

    monkeypatch.setattr(ui, "RUNS_DIR", tmp_path)
    for i in range(5):
        (tmp_path / f"run-{i}").mkdir()
        (tmp_path / f"run-{i}-adapter.zip").write_bytes(b"x")
        os.utime(tmp_path / f"run-{i}", (time.time() + i, time.time() + i))
    ui.prune_runs(keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-3", "run-3-adapter.zip", "run-4", "run-4-adapter.zip"]


def test_export_button_gives_the_script_and_a_zip_with_the_data():
    import zipfile

    script, archive = ui.export_run(next(iter(ui.QUANT)), "json", None, 8, 16, 0.0, ["q_proj", "v_proj"], 5e-4,
                                    50, 4, 128, "completion", 1)
    assert "r=8" in script and "max_steps=50" in script
    with zipfile.ZipFile(archive) as z:
        assert sorted(z.namelist()) == ["train.jsonl", "train_qlora.py"]
        assert z.read("train_qlora.py").decode() == script


def test_summary_and_answers_tables_compare_with_the_previous_run():
    def run(label, after, hits):
        return dict(label=label, prompts=["p1", "p2"], before=["b1", "b2"], after=after, before_hits=[False, False],
                    after_hits=hits, score_before=0.0, score_after=sum(hits) / 2, behaviour="answers in pirate speak",
                    retained_before="6 / 6", retained_after="5 / 6", final_loss=1.234, steps_done=20, train_s=40.0,
                    tokens_per_s=410.0, adapter_mb=19.6)
    prev, cur = run("run 1", ["x1", "x2"], [True, False]), run("run 2", ["y1", "y2"], [True, True])
    frame = ui.answers_frame(cur, prev)
    assert list(frame.columns) == ["held-out prompt", "base model (before)", "after — run 2", "after — run 1"]
    assert frame.iloc[1].tolist() == ["p2", "b2 ✗", "y2 ✓", "x2 ✗"]
    other = {**prev, "prompts": ["q1", "q2"]}
    assert ui.answers_frame(cur, other).iloc[0].tolist()[-1] == ""  # different prompts: nothing to line up
    table = ui.summary_table([prev, cur])
    assert "| base model (no adapter) | 0 % | 6 / 6 |" in table
    assert table.index("run 2") < table.index("run 1")  # newest first


def _in_viewport(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    view = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= view["height"] and box["x"] + box["width"] <= view["width"]


def _plot_image(page) -> str:
    img = page.locator("#train-plot img")
    img.wait_for()
    return img.get_attribute("src") or ""


@pytest.mark.browser
def test_train_shows_a_growing_curve_and_stop_keeps_the_adapter(page):
    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_role("tab", name="QLoRA training").click()
    steps = page.locator("#train-steps input[type=number]")
    steps.fill("40")
    steps.press("Enter")
    page.locator("#train-start").click()
    status = page.locator("#train-status")
    status.get_by_text("1 / 40").wait_for(timeout=120_000)
    first = _plot_image(page)
    # at 1366 x 900, once Train is pressed: the curve, the status line, Train and Stop are all in view
    for part in ("#train-plot", "#train-status", "#train-start", "#train-stop"):
        assert _in_viewport(page, part), part
    screenshot(page, "training_live")
    status.get_by_text("3 / 40").wait_for(timeout=120_000)
    page.wait_for_function("src => document.querySelector('#train-plot img').src !== src", arg=first)
    assert "incl. evaluation" in status.inner_text()  # the run's ETA counts the evaluation too
    page.locator("#train-stop").click()
    status.get_by_text("Stopped by the user after").wait_for(timeout=120_000)
    summary = page.locator("#train-summary")
    summary.get_by_text("base model (no adapter)").wait_for(timeout=180_000)
    assert page.locator("#train-adapter").get_by_text(".zip").first.is_visible()
    assert "Paged optimizers do not apply" in page.locator("#train-notes").inner_text()
    answers = page.locator("#train-answers")
    assert "Why do we see lightning before we hear thunder?" in answers.inner_text()

    # a second run (rank 4, 3 steps) is drawn beside the first and compared with it
    rank = page.locator("#train-rank input[type=number]")
    rank.fill("4")
    rank.press("Enter")
    steps.fill("3")
    steps.press("Enter")
    page.locator("#train-start").click()
    status.get_by_text("Finished 3 steps.").wait_for(timeout=180_000)
    # the labels name what differs between the two runs (the plot's legend uses the same ones)
    summary.get_by_role("cell", name="run 2: r=4, 3 steps").wait_for(timeout=180_000)
    assert "run 1: r=16, 40 steps" in summary.inner_text()
    header = answers.locator("thead").inner_text()
    assert "after — run 2: r=4, 3 steps" in header and "after — run 1: r=16, 40 steps" in header
    screenshot(page, "training")


@pytest.mark.browser
def test_a_second_user_waits_in_the_queue_and_keeps_their_own_results(browser, app_url):
    pages = []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        pg.set_default_timeout(120_000)
        pg.goto(app_url)
        pg.get_by_role("tab", name="QLoRA training").click()
        pages.append(pg)
    first, second = pages
    first.locator("#train-start").click()
    first.locator("#train-status").get_by_text("1 / 30").wait_for()
    second.locator("#train-start").click()
    # Gradio's status tracker on the second user's outputs shows their place in the queue
    second.locator("#train-status").get_by_text(re.compile(r"queue: \d+/\d+")).wait_for(timeout=30_000)
    second.locator("#train-stop").click()  # leave the queue: their run ends before it starts
    first.locator("#train-stop").click()
    first.locator("#train-summary").get_by_role("cell", name=re.compile(r"^run 1: pirate")).wait_for(timeout=180_000)
    second.locator("#train-status").get_by_text("Stopped before training began.").wait_for(timeout=180_000)
    assert "run 1" not in second.locator("#train-summary").inner_text()  # the first user's results stay theirs
    screenshot(second, "training_queue")
    for pg in pages:
        pg.context.close()


@pytest.mark.browser
def test_bad_uploads_show_a_message_and_the_tab_stays_usable(page, tmp_path):
    page.get_by_role("tab", name="QLoRA training").click()
    box = page.locator("#train-upload-status")
    for path, words in _bad_files(tmp_path).items():
        page.locator("#train-upload input[type=file]").set_input_files(str(path))
        if path.name == "big.jsonl":
            # over launch(max_file_size): the browser refuses it before sending, in Gradio's own toast,
            # which counts in MiB like the lab's limit
            page.locator(".toast-body").get_by_text("exceed the maximum allowed size of 5").wait_for(timeout=60_000)
            assert "big.jsonl" in page.locator(".toast-body").first.inner_text()
            continue  # nothing was uploaded: the box is empty again
        box.get_by_text(f"{path.name} cannot be used").wait_for(timeout=60_000)
        assert words in box.inner_text()
        page.locator("#train-upload button[aria-label='Clear']").first.click()
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps({"prompt": f"Say {i}", "completion": f"{i}!"}) + "\n" for i in range(30)))
    page.locator("#train-upload input[type=file]").set_input_files(str(good))
    box.get_by_text("27 to train on").wait_for(timeout=60_000)
    screenshot(page, "training_upload")


def test_tables_show_the_judges_reasons_probe_accuracy_and_general_loss():
    from lab import evaluation

    probes = evaluation.PROBES[:2]
    prompt = "Why is the sky blue?"
    loop = "Ahoy, matey! Ahoy, matey! Ahoy, matey! Ahoy, matey! Ahoy, matey! Ahoy, matey!"
    before = evaluation.score("pirate", [prompt], [""], ["Sunlight scatters off the air."],
                              ["The capital of France is Paris.", "Berlin."], 2.25, probes)
    after = evaluation.score("pirate", [prompt], [""], [loop], ["Paris, or Lyon.", "Berlin."], 2.75, probes)
    cur = dict(label="run 1", prompts=after.prompts, before=before.answers, after=after.answers,
               before_hits=before.hits, after_hits=after.hits, score_before=before.score, score_after=after.score,
               behaviour=after.behaviour, questions=after.questions, q_before=before.question_answers,
               q_after=after.question_answers, correct_before=before.correct, correct_after=after.correct,
               retained_before="2 / 2", retained_after="1 / 2",
               before_reasons=["; ".join(v.reasons) for v in before.verdicts],
               after_reasons=["; ".join(v.reasons) for v in after.verdicts],
               q_before_reasons=["; ".join(v.reasons) for v in before.probe_verdicts],
               q_after_reasons=["; ".join(v.reasons) for v in after.probe_verdicts],
               probe_accuracy_before=before.probe_accuracy, probe_accuracy_after=after.probe_accuracy,
               general_loss_before=before.general_loss, general_loss_after=after.general_loss,
               final_loss=1.5, steps_done=6, train_s=12.0, tokens_per_s=300.0, adapter_mb=4.5)
    row = ui.answers_frame(cur, None).iloc[0].tolist()
    assert row[1] == "Sunlight scatters off the air. ✗ no pirate markers; does not address the prompt"
    assert row[2] == loop + " ✗ pirate markers: ahoy, matey; repetition: 'ahoy matey' ×6; does not address the prompt"
    frame = ui.forgetting_frame(cur)
    assert frame.iloc[0].tolist() == ["What is the capital of France?", "The capital of France is Paris. ✓",
                                      "Paris, or Lyon. ✗ 'paris' but also lyon", "forgotten"]
    assert frame.iloc[1].tolist()[-1] == ""
    table = ui.summary_table([cur])
    assert "probe accuracy 100 % → 50 % (2 / 2 → 1 / 2) · general-text loss 2.250 → 2.750 nats / token" in table
    assert "| base model (no adapter) | 0 % | 2 / 2 | 2.250 |" in table and "| run 1 | 0 % | 1 / 2 | 2.750 |" in table
