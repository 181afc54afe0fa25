"""The QLoRA training tab: wiring, settings, upload checks, the tables in both languages, a run (stand-ins for
the model) that follows a language switch, and a real run in Chromium (Train, curve, Stop)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gradio as gr
import pytest
from conftest import screenshot

from lab.ui import session
from lab.ui import training as ui
from lab.ui import training_view as view
from lab.ui.i18n import t


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
        message, dataset, check = ui.check_upload(str(path))
        assert message.startswith(f"⚠️ **{path.name} cannot be used:**") and words in message, message
        assert dataset["value"] == "pirate" and check["name"] == path.name
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps({"instruction": f"Say {i}", "output": f"{i}!"}) + "\n" for i in range(40)))
    message, dataset, check = ui.check_upload(str(good))
    assert "40 rows — 36 to train on, 4 held out" in message and dataset["value"] == ui.UPLOAD == "upload"
    assert check == {"name": "good.jsonl", "train": 36, "held_out": 4}


def test_a_small_upload_says_it_has_too_few_rows_for_an_eval_split(tmp_path):
    small = tmp_path / "three.jsonl"
    small.write_text("".join(json.dumps({"prompt": f"Say {i}", "completion": f"{i}!"}) + "\n" for i in range(3)))
    message, dataset, _ = ui.check_upload(str(small))
    assert "3 rows, all to train on" in message and "Too few rows for an eval split" in message
    assert "at least 10 rows" in message and dataset["value"] == ui.UPLOAD


def test_sizes_name_the_files_on_disk_and_the_zip_in_the_download_box_units():
    sz = ui.training.Sizes(adapter=19_555_248, base_disk=538_090_408, base_memory=115_343_360)
    text = view.sizes_text(sz, "nf4", files_bytes=19_556_100, zip_bytes=18_140_000, lang="en")
    assert "Adapter files: 18.7 MB on disk" in text and "zip download: 17.3 MB" in text  # 2^20-byte MB, as Gradio shows
    assert "513 MB on disk (fp32 safetensors)" in text and "(NF4)" in text and "3.6 % of the base's size" in text


def test_train_event_runs_one_at_a_time_and_stop_is_never_queued_behind_it():
    import app

    demo = app.build_app()
    fns = {f.name: f for f in (demo.fns.values() if isinstance(demo.fns, dict) else demo.fns)}
    assert fns["train_run"].api_name == "train"
    assert fns["train_run"].concurrency_limit == 1 and fns["train_run"].concurrency_id == "qlora-train"
    assert fns["request_stop"].concurrency_limit is None  # Stop runs at once, even while a run holds the slot
    assert fns["arm"].concurrency_limit is None
    tabs = [c["props"].get("label") for c in demo.config["components"] if c.get("type") == "tabitem"]
    assert "QLoRA training" in tabs and tabs.index("QLoRA training") == 4  # after the four lessons it builds on


DEFAULTS = dict(quant="nf4", dataset_choice="pirate", upload=None, r=16, alpha=32, dropout=0.0,
                targets=["q_proj", "v_proj"], lr=1e-3, steps=30, batch=4, max_len=256, mask_mode="completion", seed=0)


def test_the_settings_are_one_value_whose_fields_are_the_apis_parameters():
    import app

    api = app.demo.get_api_info()["named_endpoints"]
    for name in ("/train", "/export_script"):
        assert [p["parameter_name"] for p in api[name]["parameters"]] == ui.SETTINGS + ["lang"]
    assert list(DEFAULTS) == ui.SETTINGS
    cfg = ui.Settings(**dict(DEFAULTS, quant="none")).config()
    assert cfg.quantization is None and cfg.target_modules == ("q_proj", "v_proj") and cfg.batch_size == 4
    assert ui.Settings().config() == ui.training.TrainConfig()  # the widgets start at the lab's defaults


def test_bad_settings_are_a_sentence_before_anything_loads():
    with pytest.raises(gr.Error, match="Learning rate must be a number from 1e-06 to 0.1, not -1"):
        next(ui.train_run({}, **dict(DEFAULTS, lr=-1)))


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
    ("quant", "<b>nf4</b>", "Base model storage must be one of nf4, none, not"),
    ("quant", "NF4 + double quantization (QLoRA)", "Base model storage must be one of nf4, none"),  # labels are not values
    ("mask_mode", "prompt", "Loss masking must be one of completion, assistant, none, not 'prompt'"),
    ("targets", ["lm_head"], "Each target module must be one of q_proj"),
    ("targets", "q_proj", "Target modules must be a list"),
    ("dataset_choice", "/etc/passwd", "Dataset must be one of"),
    ("batch", 4, None),
])
def test_every_setting_out_of_range_through_the_api_is_a_sentence_naming_it(field, value, words):
    """The API can send what no widget would; each value is refused by name and range, before anything loads."""
    settings = dict(DEFAULTS, **{field: value})
    if words is None:  # within every limit: 4 x 1,024 is as large a step as is allowed
        assert ui.Settings(**dict(settings, max_len=1024)).config().max_seq_len == 1024
        return
    with pytest.raises(gr.Error) as err:
        next(ui.train_run({}, **settings))
    assert words in err.value.message, err.value.message
    assert "<b>" not in err.value.message  # user text is escaped inside the toast


def test_tokens_per_step_are_capped_with_a_sentence():
    with pytest.raises(gr.Error, match=r"32 x 1,024 = 32,768 tokens per step; the limit is 4,096"):
        next(ui.train_run({}, **dict(DEFAULTS, batch=32, max_len=1024)))


def test_stop_with_nothing_running_says_so_and_leaves_no_flag_for_the_next_run(tmp_path, monkeypatch):
    """Stop after a run (or before any) answers "Nothing is training", and the next run trains."""
    class Req:
        session_hash = "stop-after-finish"

    nothing = t("train.status.nothing_running")
    assert ui.request_stop(request=Req()) == nothing == "Nothing is training: press **Train** to start a run."
    stop = ui._begin(Req())  # a run through the API, without Train's arm()
    assert not stop.is_set()
    assert ui.request_stop(request=Req()).startswith("**Stopping**") and stop.is_set()
    ui._end(Req())
    assert ui.request_stop(request=Req()) == nothing  # finished: nothing to stop
    assert not ui._begin(Req()).is_set()  # the next run starts with a fresh flag
    ui._end(Req())
    ui.arm(Req())  # Train pressed: the run is queued, Stop now applies to it
    assert ui.request_stop("vi", Req()).startswith("**Đang dừng**")
    assert ui._begin(Req()).is_set()  # the queued run sees the stop and trains nothing
    ui._end(Req())


def test_empty_targets_and_missing_upload_are_sentences():
    with pytest.raises(gr.Error, match="Choose at least one target module"):
        next(ui.train_run({}, **dict(DEFAULTS, targets=[])))
    with pytest.raises(gr.Error, match="Upload a dataset file first"):
        next(ui.train_run({}, **dict(DEFAULTS, dataset_choice=ui.UPLOAD)))


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

    script, archive = ui.export_run(**dict(DEFAULTS, dataset_choice="json", r=8, alpha=16, lr=5e-4, steps=50,
                                           max_len=128, seed=1))
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
    frame = view.answers_frame(cur, prev, "en")
    assert list(frame.columns) == ["held-out prompt", "base model (before)", "after — run 2", "after — run 1"]
    assert frame.iloc[1].tolist() == ["p2", "b2 ✗", "y2 ✓", "x2 ✗"]
    other = {**prev, "prompts": ["q1", "q2"]}
    assert view.answers_frame(cur, other, "en").iloc[0].tolist()[-1] == ""  # different prompts: nothing to line up
    assert list(view.answers_frame(cur, other, "en").columns)[-1] == "after — run 1 (other prompts)"
    table = view.summary_table([prev, cur], "en")
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
    # in Vietnamese: the check is said again from what it found (the file is not read again), the choice kept
    page.locator("#lab-lang").get_by_text("Tiếng Việt").click()
    box.get_by_text("27 dòng để huấn luyện").wait_for(timeout=60_000)
    assert page.locator("#train-dataset input").input_value() == "tệp đã tải lên"
    page.locator("#train-status").get_by_text("Bấm Huấn luyện để bắt đầu.").wait_for()


LOOP = "Ahoy, matey! Ahoy, matey! Ahoy, matey! Ahoy, matey! Ahoy, matey! Ahoy, matey!"


def _evaluations():
    """A base model's and an adapted model's evaluations of one prompt and two probes (lab.evaluation.score)."""
    from lab import evaluation

    probes = evaluation.PROBES[:2]
    prompt = "Why is the sky blue?"
    before = evaluation.score("pirate", [prompt], [""], ["Sunlight scatters off the air."],
                              ["The capital of France is Paris.", "Berlin."], 2.25, probes)
    after = evaluation.score("pirate", [prompt], [""], [LOOP], ["Paris, or Lyon.", "Berlin."], 2.75, probes)
    return before, after


def test_tables_show_the_judges_reasons_probe_accuracy_and_general_loss():
    before, after = _evaluations()
    last = ui.training.StepLog(step=6, steps=6, loss=1.5, lr=1e-4, grad_norm=1.0, tokens=100, trained_tokens=50,
                               tokens_seen=600, tokens_per_s=300.0, step_s=2.0, elapsed_s=14.0, eta_s=0.0,
                               memory_mb=2000.0)
    cur = dict(label="run 1", **view.run_results(before, after, [last] * 6, "/tmp/x",
                                                 ui.training.Sizes(int(4.5 * 2**20), None, 1)))
    row = view.answers_frame(cur, None, "en").iloc[0].tolist()
    assert row[1] == "Sunlight scatters off the air. ✗ no pirate markers; does not address the prompt"
    assert row[2] == LOOP + " ✗ pirate markers: ahoy, matey; repetition: 'ahoy matey' ×6; does not address the prompt"
    frame = view.forgetting_frame(cur, "en")
    assert frame.iloc[0].tolist() == ["What is the capital of France?", "The capital of France is Paris. ✓",
                                      "Paris, or Lyon. ✗ 'paris' but also lyon", "forgotten"]
    assert frame.iloc[1].tolist()[-1] == ""
    table = view.summary_table([cur], "en")
    assert "probe accuracy 100 % → 50 % (2 / 2 → 1 / 2) · general-text loss 2.250 → 2.750 nats / token" in table
    assert "| base model (no adapter) | 0 % | 2 / 2 | 2.250 |" in table and "| run 1 | 0 % | 1 / 2 | 2.750 |" in table


# --- Vietnamese, a language switch during a run, and the re-render from the state ------------------


def test_errors_the_upload_check_and_stop_speak_vietnamese(tmp_path):
    with pytest.raises(gr.Error) as err:
        next(ui.train_run({}, lang="vi", **dict(DEFAULTS, steps=2.5)))
    assert err.value.message == "Số bước phải là số nguyên từ 1 đến 300, không phải 2.5."
    with pytest.raises(gr.Error, match="Hãy tải lên một tệp dữ liệu trước"):
        next(ui.train_run({}, lang="vi", **dict(DEFAULTS, dataset_choice=ui.UPLOAD)))
    with pytest.raises(gr.Error, match="Cách lưu mô hình gốc phải là một trong: nf4, none"):
        ui.export_run(lang="vi", **dict(DEFAULTS, quant="nf5"))
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps({"prompt": f"Say {i}", "completion": f"{i}!"}) + "\n" for i in range(40)))
    message, _, check = ui.check_upload(str(good), "vi")
    assert message == "✓ **good.jsonl**: 40 dòng — 36 dòng để huấn luyện, 4 dòng giữ lại làm tập đánh giá."
    assert view.upload_message(check, "en") == ui.check_upload(str(good))[0]  # the switch says it again

    class Req:
        session_hash = "vi-stop"

    assert ui.request_stop("vi", Req()) == "Không có lượt nào đang huấn luyện: bấm **Huấn luyện** để bắt đầu."


@pytest.fixture
def stand_ins(monkeypatch, tmp_path):
    """The model's work replaced: a run whose steps come at once, and a before / after evaluation that judges
    fixed answers (lab.evaluation.score). The handler, its state and its text are the real ones."""
    from lab import evaluation, training

    class Run:
        def __init__(self, cfg):
            self.config, self.logs, self.stop_reason, self.adapter_dir = cfg, [], "", None
            self.notes, self.eval_chats = ["Optimizer: AdamW (fp32 states)."], []  # lab.training's words

        def steps(self, stop):
            for step in range(1, self.config.steps + 1):
                log = training.StepLog(step=step, steps=self.config.steps, loss=2.0 / step, lr=1e-3, grad_norm=1.0,
                                       tokens=500, trained_tokens=100, tokens_seen=500 * step, tokens_per_s=1234.5,
                                       step_s=2.0, elapsed_s=3.0 * step, eta_s=2.0 * (self.config.steps - step),
                                       memory_mb=2345.0)
                self.logs.append(log)
                yield log
            self.stop_reason = f"Finished {self.config.steps} steps."
            self.adapter_dir = Path(self.config.out_dir)
            (self.adapter_dir / "adapter_model.safetensors").write_bytes(b"\0" * 300_000)

    monkeypatch.setattr(training, "TrainingRun", Run)
    monkeypatch.setattr(training, "sizes", lambda run: training.Sizes(300_000, 538_090_408, 115_343_360))
    monkeypatch.setattr(evaluation, "before_after", lambda run, n, on_progress=None: _evaluations())
    monkeypatch.setattr(evaluation, "base_cached", lambda run, n: True)
    monkeypatch.setattr(ui, "RUNS_DIR", tmp_path)


def _numbers(text) -> list[str]:
    return re.findall(r"\d[\d,.]*", str(text))


def test_a_switch_during_a_run_changes_its_updates_and_the_rerender_says_the_same_numbers(stand_ins):
    class Req:
        session_hash = "switch-during-a-run"

    out = {name: i for i, name in enumerate(ui.OUTPUTS)}
    session.set_lang(Req.session_hash, "en")
    updates = ui.train_run({"runs": [], "count": 0}, lang="en", request=Req(), **dict(DEFAULTS, steps=3))
    assert next(updates)[out["status"]] == "**Loading** the model and the data…"
    assert "| step | loss |" in next(updates)[out["status"]]
    session.set_lang(Req.session_hash, "vi")  # the page switched: the run's next update is in Vietnamese
    rest = list(updates)
    assert "| bước | loss |" in rest[0][out["status"]]
    final = rest[-1]
    state = final[out["state"]]
    assert final[out["status"]].startswith("**Finished 3 steps.**") and "| 3 / 3 | 0.667 |" in final[out["status"]]
    assert "mô hình gốc (không adapter)" in final[out["summary"]]
    assert list(final[out["answers"]].columns)[0] == "prompt được giữ lại"
    assert state["count"] == 1 and [r["label"] for r in state["runs"]] == ["run 1: pirate, NF4, r=16"]
    assert session.last_adapter(Req.session_hash)["label"] == "run 1: pirate, NF4, r=16"
    session.forget(Req.session_hash)

    check = {"name": "mine.jsonl", "train": 27, "held_out": 3}
    en, vi = ui.rerender("en", state, check), ui.rerender("vi", state, check)
    assert en[0]["choices"][-1] == ("uploaded file", "upload") and vi[0]["choices"][-1] == ("tệp đã tải lên", "upload")
    assert vi[4].startswith("Optimizer: AdamW (fp32 states).  \nBộ dữ liệu này không có tập đánh giá")
    for i in (1, 3, 4, 5, 8):  # upload check, status, notes, summary, adapter sizes: same numbers, other words
        assert _numbers(en[i]) == _numbers(vi[i]) and en[i] != vi[i], (i, en[i], vi[i])
    assert "| step | loss |" in en[3] and "| bước | loss |" in vi[3]
    def answer_only(cell):  # the model's answer, without the judge's ✓ / ✗ and reasons (translated)
        return re.split(" [✓✗]", cell)[0] if isinstance(cell, str) else cell

    for i in (6, 7):  # the answers and the forgetting check: the model's answers, under translated headers
        assert [[answer_only(c) for c in row] for row in en[i].iloc[:, :3].values.tolist()] == \
            [[answer_only(c) for c in row] for row in vi[i].iloc[:, :3].values.tolist()]
        assert list(en[i].columns) != list(vi[i].columns)
    assert "does not address the prompt" in en[6].iloc[0, 1] and "không trả lời đúng câu hỏi" in vi[6].iloc[0, 1]
    assert en[7].iloc[0].tolist()[-1] == "forgotten" and vi[7].iloc[0].tolist()[-1] == "đã quên"
    assert [t.get_text() for t in en[2].legends[0].get_texts()] == ["run 1: pirate, NF4, r=16"]
    assert [t.get_text() for t in vi[2].legends[0].get_texts()] == ["lượt 1: pirate, NF4, r=16"]
    assert en[2].axes[0].get_xlabel() == "optimizer step" and vi[2].axes[0].get_xlabel() == "bước tối ưu (optimizer step)"


def test_the_rerender_leaves_a_running_run_its_own_updates_and_fills_an_empty_tab():
    class Req:
        session_hash = "rerender-while-running"

    empty = ui.rerender("vi", {"runs": [], "count": 0}, None, Req())
    assert empty[3] == "Bấm **Huấn luyện** để bắt đầu." and empty[8] == "Hãy huấn luyện một lượt để có adapter của nó."
    assert list(empty[6].columns)[0] == "prompt được giữ lại" and empty[5] == ""
    ui.arm(Req())  # queued: the run's own updates follow the switch
    try:
        running = ui.rerender("vi", {"runs": [], "count": 0}, None, Req())
        assert all(running[i] == gr.skip() for i in (2, 3, 4, 8))
    finally:
        ui._end(Req())


def test_the_live_curve_is_redrawn_at_most_every_few_seconds_and_shows_every_step_when_the_run_stops(
        stand_ins, monkeypatch):
    from lab import training

    steps_of = lambda fig: [round(x) for line in fig.axes[0].get_lines() for x in line.get_xdata()]  # noqa: E731
    monkeypatch.setattr(ui, "REDRAW_S", 3600.0)  # no second drawing while the run goes on
    out = {name: i for i, name in enumerate(ui.OUTPUTS)}
    updates = list(ui.train_run({"runs": [], "count": 0}, lang="en", **dict(DEFAULTS, steps=4)))
    plots = [u[out["plot"]] for u in updates if not isinstance(u[out["plot"]], dict)]
    statuses = [u[out["status"]] for u in updates if "| step | loss |" in str(u[out["status"]])]
    assert all(any(f"| {k} / 4 |" in st for st in statuses) for k in range(1, 5))  # the numbers at every step
    # the empty axes, step 1 at once, then the last step (always drawn), then the final figure after evaluation
    assert [steps_of(p) for p in plots[:3]] == [[], [1], [1, 2, 3, 4]]

    stopped = training.TrainingRun.steps

    def two_of_four(self, stop):  # the run ends after 2 of its 4 steps (Stop, or the wall-clock cap)
        yield from list(stopped(self, stop))[:2]

    def skipped(run, n, on_progress=None):  # Stop pressed again: no evaluation, so no final figure after it
        raise training.Stopped("Stopped by the user while evaluating.")

    from lab import evaluation

    monkeypatch.setattr(training.TrainingRun, "steps", two_of_four)
    monkeypatch.setattr(evaluation, "before_after", skipped)
    updates = list(ui.train_run({"runs": [], "count": 0}, lang="en", **dict(DEFAULTS, steps=4)))
    plots = [u[out["plot"]] for u in updates if not isinstance(u[out["plot"]], dict)]
    assert steps_of(plots[-1])[-2:] == [1, 2]  # step 2 came between two drawings, and is drawn
