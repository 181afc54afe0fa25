"""lab.training: the config's checks, the exactness of the fast loss, and real training runs."""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time

import pytest
import torch

from lab import models, packing, training

SMALL = dict(dataset="pirate", batch_size=4, max_seq_len=128, learning_rate=1e-3, warmup_steps=0)


def fresh_tiny(tokenizer):
    """A new random 2-layer Llama (peft mutates the model it wraps, so never the shared fixture)."""
    return models.tiny_model(tokenizer)


# --- config ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(r=0), "r must be a whole number from 1"),
        (dict(r=2.5), "r must be a whole number"),
        (dict(steps=0), "steps must be"),
        (dict(learning_rate=-1.0), "learning rate must be a number"),
        (dict(learning_rate=float("nan")), "learning rate"),
        (dict(dropout=0.9), "dropout must be a number from 0 to 0.5"),
        (dict(batch_size=1000), "batch size"),
        (dict(max_seq_len=4), "max sequence length"),
        (dict(masking="prompt"), "masking must be one of completion, assistant, none"),
        (dict(quantization="int8"), "quantization must be nf4, fp4 or none"),
        (dict(target_modules=()), "at least one target module"),
        (dict(target_modules=("q_proj", "../x")), "is not a module name"),
        (dict(max_seconds=0), "wall-clock cap"),
        (dict(dataset="  "), "Choose a dataset"),
    ],
)
def test_config_rejects_out_of_range_values_with_a_sentence(kwargs, words):
    with pytest.raises(ValueError, match=words):
        training.TrainConfig(**kwargs)


def test_config_accepts_strings_for_lists_and_none():
    cfg = training.TrainConfig(target_modules="q_proj, v_proj", quantization="none")
    assert cfg.target_modules == ("q_proj", "v_proj")
    assert cfg.quantization is None


def test_unknown_target_module_is_named_with_the_choices(tokenizer):
    cfg = training.TrainConfig(target_modules=("q_proj", "qkv"), steps=1)
    with pytest.raises(ValueError, match=r"no linear layer named qkv; choose among .*down_proj"):
        training.wrap_lora(fresh_tiny(tokenizer), cfg)


def test_lr_schedule_matches_transformers_cosine_with_min_lr():
    """Oracle: transformers' own scheduler, stepped the way Trainer steps it."""
    from transformers import get_scheduler

    cfg = training.TrainConfig(steps=17, warmup_steps=3, learning_rate=2e-4)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.learning_rate)
    sched = get_scheduler("cosine_with_min_lr", opt, num_warmup_steps=3, num_training_steps=17,
                          scheduler_specific_kwargs={"min_lr_rate": 0.1})
    for step in range(1, 18):
        assert training.lr_at(step, cfg) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9, abs=1e-15)
        opt.step()
        sched.step()


# --- training runs ----------------------------------------------------------------------------------


def test_tiny_model_smoke_first_loss_is_ln_vocab_then_falls(tokenizer, tmp_path):
    """A random model predicts uniformly: its first loss is ~ ln V; a few steps bring it down.

    (Its tied output embedding is tiny and frozen, so LoRA can only move the logits a little: the loss
    of every batch stays within ~0.01 of ln V untrained, and the drop below is well above that.)"""
    cfg = training.TrainConfig(**{**SMALL, "steps": 8, "learning_rate": 2e-2, "r": 8}, out_dir=str(tmp_path))
    logs = list(training.train(cfg, base_model=fresh_tiny(tokenizer), tokenizer=tokenizer))
    assert [log.step for log in logs] == list(range(1, 9))
    ln_v = math.log(len(tokenizer))
    assert logs[0].loss == pytest.approx(ln_v, rel=0.05)
    assert sum(log.loss for log in logs[-3:]) / 3 < logs[0].loss - 0.05
    for log in logs:
        assert log.tokens > log.trained_tokens > 0 and log.tokens_per_s > 0 and log.memory_mb > 0
        json.loads(log.to_json())
    assert logs[-1].tokens_seen == sum(log.tokens for log in logs) and logs[-1].eta_s == 0
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in tmp_path.iterdir()}


def test_stop_event_ends_the_run_and_keeps_the_adapter(tokenizer, tmp_path):
    stop = threading.Event()
    cfg = training.TrainConfig(**{**SMALL, "steps": 50}, out_dir=str(tmp_path))
    run = training.TrainingRun(cfg, fresh_tiny(tokenizer), tokenizer)
    seen = []
    for log in run.steps(stop):
        seen.append(log.step)
        if log.step == 2:
            stop.set()
    assert seen == [1, 2]
    assert run.stop_reason == "Stopped by the user after 2 of 50 steps."
    assert run.adapter_dir == tmp_path and (tmp_path / "adapter_model.safetensors").is_file()
    saved = json.loads((tmp_path / "train_config.json").read_text())
    assert saved["steps"] == 50 and saved["target_modules"] == list(training.ALL_LINEAR)


def test_a_run_stopped_while_queued_loads_nothing(tmp_path):
    stop = threading.Event()
    stop.set()
    run = training.TrainingRun(training.TrainConfig(out_dir=str(tmp_path)))
    assert list(run.steps(stop)) == []
    assert run.stop_reason == "Stopped before training began." and run.model is None
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_generation_mid_run_uses_padded_attention_and_training_resumes(tokenizer, tmp_path):  # real 4-bit model
    """Left-padded batched generation between steps needs the ordinary attention mask back."""
    from lab import evaluation

    run = training.TrainingRun(training.TrainConfig(**{**SMALL, "steps": 3, "batch_size": 2, "max_seq_len": 96},
                                                    out_dir=str(tmp_path)))
    gen = run.steps()
    next(gen)
    causal = run.model.get_base_model()
    assert causal.config._attn_implementation == training.PACKED_ATTENTION
    prompts = ["Hi", "Tell me a long story about ships and the sea, please."]
    together = evaluation.generate(run.model, tokenizer, prompts, max_new_tokens=8)
    alone = [evaluation.generate(run.model, tokenizer, [p], max_new_tokens=8)[0] for p in prompts]
    assert together == alone  # padding did not leak into the short prompt's answer
    assert causal.config._attn_implementation == training.PACKED_ATTENTION and run.model.training
    assert [log.step for log in gen] == [2, 3]


def test_consumer_leaving_early_still_saves_the_adapter(tokenizer, tmp_path):
    gen = training.train(training.TrainConfig(**{**SMALL, "steps": 50}, out_dir=str(tmp_path)),
                         base_model=fresh_tiny(tokenizer), tokenizer=tokenizer)
    next(gen)
    gen.close()  # what Gradio does to a cancelled generator
    assert (tmp_path / "adapter_model.safetensors").is_file()


def test_wall_clock_cap_stops_with_a_message(tokenizer, tmp_path):
    cfg = training.TrainConfig(**{**SMALL, "steps": 1000}, max_seconds=1.0, out_dir=str(tmp_path))
    run = training.TrainingRun(cfg, fresh_tiny(tokenizer), tokenizer)
    logs = list(run.steps())
    assert len(logs) < 1000
    assert run.stop_reason.startswith("Stopped at the wall-clock cap of 1 s")
    assert (tmp_path / "adapter_model.safetensors").is_file()


@pytest.mark.slow
def test_real_4bit_run_learns_and_its_saved_adapter_loads_in_peft(tokenizer, tmp_path):
    """The bundled model in NF4: 4 steps lower the loss on the data, and the adapter on disk,
    loaded by peft onto a fresh 4-bit base, reproduces the trained model and differs from the base."""
    from peft import PeftModel

    cfg = training.TrainConfig(**{**SMALL, "steps": 4}, out_dir=str(tmp_path))
    run = training.TrainingRun(cfg)
    gen = run.steps()
    first = next(gen)
    assert first.step == 1 and 0.5 < first.loss < 6
    causal = run.model.get_base_model()
    probe = training.pack(run.examples[-6:])

    def probe_loss(model):
        # train mode: in eval mode bitsandbytes would repack the 4-bit weights in place for its CPU
        # inference kernel (block scales rounded to bf16), changing the base
        model.train()
        with packing.packed_attention_mode(model), torch.no_grad():
            return training.gathered_loss(model, probe).item()

    with run.model.disable_adapter():
        base_loss = probe_loss(causal)
    logs = [first, *gen]
    assert len(logs) == 4 and run.stop_reason == "Finished 4 steps."
    trained_loss = probe_loss(causal)
    assert trained_loss < base_loss - 0.2, (base_loss, trained_loss)
    assert any("4-bit" in n for n in run.notes) and any("Paged optimizers do not apply" in n for n in run.notes)

    cfg_json = json.loads((tmp_path / "adapter_config.json").read_text())
    assert cfg_json["r"] == cfg.r and cfg_json["lora_alpha"] == cfg.alpha
    assert set(cfg_json["target_modules"]) == set(training.ALL_LINEAR)
    ids = torch.tensor([run.examples[0].input_ids])
    base = models.load_model(quantization="nf4").train()  # train mode: bitsandbytes' training-path matmul
    with torch.no_grad():
        base_logits = base(ids).logits
    loaded = PeftModel.from_pretrained(base, str(tmp_path))
    loaded.train()
    run.model.train()
    with torch.no_grad():
        loaded_logits = loaded(ids).logits
        trained_logits = run.model(ids).logits
    assert (loaded_logits - base_logits).abs().max() > 0.5  # the adapter changes the output
    torch.testing.assert_close(loaded_logits, trained_logits, rtol=0, atol=1e-3)


def _many_rows_csv(tmp_path, n=20_000):
    p = tmp_path / "many.csv"
    p.write_text("prompt,completion\n" + "".join(f"q{i},a{i}\n" for i in range(n)))
    return str(p)


def test_stop_takes_effect_while_the_data_is_tokenized(tokenizer, tmp_path, monkeypatch):
    """Stop pressed while a large upload is tokenized ends the run at the next check (every 64 examples),
    within a second, not after the data. The flag is set once tokenizing has begun (a timer would race
    with reading the file on a busy machine)."""
    stop = threading.Event()
    cfg = training.TrainConfig(dataset=_many_rows_csv(tmp_path), steps=5, batch_size=2, max_seq_len=64,
                               out_dir=str(tmp_path / "run"))
    run = training.TrainingRun(cfg, fresh_tiny(tokenizer), tokenizer)
    pressed: list[float] = []
    check = training.Deadline.check

    def press_stop_after_the_192nd_example_is_checked(self, while_doing):
        check(self, while_doing)
        if while_doing.startswith("tokenizing the data (192 of") and not pressed:
            pressed.append(time.perf_counter())
            stop.set()

    monkeypatch.setattr(training.Deadline, "check", press_stop_after_the_192nd_example_is_checked)
    assert list(run.steps(stop)) == []
    ended = time.perf_counter()
    assert pressed, "tokenizing never reached 192 examples"
    assert run.stop_reason.startswith("Stopped by the user while tokenizing the data (256 of "), run.stop_reason
    assert run.stop_reason.endswith("No step was trained.")
    assert ended - pressed[0] < 1.0, ended - pressed[0]  # 20,000 rows take ~10 s to tokenize on this machine
    assert run.model is None and not (tmp_path / "run").exists()


def test_wall_clock_cap_also_ends_tokenizing(tokenizer, tmp_path):
    cfg = training.TrainConfig(dataset=_many_rows_csv(tmp_path), steps=5, batch_size=2, max_seq_len=64,
                               max_seconds=1.0, out_dir=str(tmp_path / "run"))
    run = training.TrainingRun(cfg, fresh_tiny(tokenizer), tokenizer)
    assert list(run.steps()) == []
    assert run.stop_reason.startswith("Stopped at the wall-clock cap of 1 s while")


def test_evaluation_checks_the_deadline_between_batches(tokenizer):
    from lab import evaluation

    model = fresh_tiny(tokenizer)
    stop = threading.Event()
    done = []
    deadline = training.Deadline(stop)
    prompts = [f"Question {i}?" for i in range(3 * evaluation.EVAL_BATCH)]

    def after_batch(n, total):
        done.append(n)
        stop.set()  # Stop pressed while the first batch was answered

    with pytest.raises(training.Stopped, match=rf"Stopped by the user while evaluating \({evaluation.EVAL_BATCH} of {3 * evaluation.EVAL_BATCH} answers\)"):
        evaluation.generate(model, tokenizer, prompts, max_new_tokens=2, deadline=deadline, on_batch=after_batch)
    assert done == [evaluation.EVAL_BATCH]


def test_tokens_per_step_are_capped():
    with pytest.raises(ValueError, match=r"16 x 512 = 8,192 tokens per step; the limit is 4,096"):
        training.TrainConfig(batch_size=16, max_seq_len=512)
    assert training.TrainConfig(batch_size=16, max_seq_len=256).batch_size == 16


def test_run_labels_name_what_differs_between_runs():
    a = training.TrainConfig()
    assert training.run_labels([a], [1]) == ["run 1: pirate, NF4, r=16"]
    b = dataclasses.replace(a, r=64)
    assert training.run_labels([a, b], [1, 2]) == ["run 1: r=16", "run 2: r=64"]
    c = dataclasses.replace(a, quantization=None, learning_rate=5e-4, target_modules=("q_proj", "v_proj"))
    assert training.run_labels([a, c], [3, 4]) == [
        "run 3: NF4, targets=q+k+v+o+gate+up+down, lr=0.001",
        "run 4: unquantized, targets=q+v, lr=0.0005",
    ]
    assert training.run_labels([a, a], [1, 2]) == ["run 1: same settings", "run 2: same settings"]


# --- the method: QLoRA, LoRA, full fine-tuning --------------------------------------------------------


def test_method_and_quantization_agree_or_the_config_says_why():
    from lab.errors import LabError

    assert (training.TrainConfig().resolved_method, training.TrainConfig().quantization) == ("qlora", "nf4")
    assert training.TrainConfig(quantization=None).resolved_method == "lora"  # the old way to ask for plain LoRA
    assert dataclasses.replace(training.TrainConfig(), quantization=None).resolved_method == "lora"
    assert training.TrainConfig(method="full").quantization is None
    assert training.TrainConfig(method="lora").quantization is None
    assert training.TrainConfig(method="qlora", quantization="fp4").quantization == "fp4"
    for kwargs, code in [(dict(method="full", quantization="nf4"), "train.quantized_full"),
                         (dict(method="lora", quantization="nf4"), "train.quantized_lora"),
                         (dict(method="qlora", quantization=None), "train.qlora_unquantized"),
                         (dict(method="adam"), "train.method")]:
        with pytest.raises(LabError) as e:
            training.TrainConfig(**kwargs)
        assert e.value.code == code
    assert "Full fine-tuning keeps the base in 16/32 bits" in str(
        pytest.raises(LabError, training.TrainConfig, method="full", quantization="nf4").value)
    assert training.run_labels([training.TrainConfig(method="full")], [1]) == ["run 1: pirate, full fine-tuning, r=16"]


def test_full_fine_tuning_trains_every_parameter_and_saves_a_loadable_model(tokenizer, tmp_path):
    """The same loop with no adapter: every parameter gets a gradient and moves, the loss falls, and the saved
    directory is a transformers model (safetensors) equal to the trained one."""
    from transformers import AutoModelForCausalLM

    base = fresh_tiny(tokenizer)
    before = {n: p.detach().clone() for n, p in base.named_parameters()}
    cfg = training.TrainConfig(**{**SMALL, "steps": 8, "learning_rate": 3e-3}, method="full", out_dir=str(tmp_path))
    run = training.TrainingRun(cfg, base, tokenizer)
    logs = list(run.steps())
    n = sum(p.numel() for p in base.parameters())
    assert run.trainable_params == run.total_params == n
    assert all(not torch.equal(p, before[name]) for name, p in run.model.named_parameters()), "a parameter did not move"
    ln_v = math.log(len(tokenizer))
    assert logs[0].loss == pytest.approx(ln_v, rel=0.05)
    assert sum(log.loss for log in logs[-3:]) / 3 < logs[0].loss - 0.3  # far more than LoRA moves it (see the smoke test)
    mem = run.tensor_memory  # fp32 everywhere: gradients = weights, AdamW's m and v = 2 x weights (+ a step count each)
    assert mem.weights == 4 * n and mem.gradients == mem.weights
    assert 2 * mem.weights <= mem.optimizer <= 2 * mem.weights + 8 * len(list(base.parameters()))
    assert run.model_dir == tmp_path and run.adapter_dir is None
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "tokenizer.json").is_file()
    loaded = AutoModelForCausalLM.from_pretrained(str(tmp_path))
    for name, p in loaded.named_parameters():
        torch.testing.assert_close(p, dict(run.model.named_parameters())[name], rtol=0, atol=0)
    untrained = run.fresh_base()  # full fine-tuning's "before": the model as it was
    assert all(torch.equal(p, before[name]) for name, p in untrained.named_parameters())


def test_lora_counts_its_own_gradients_and_optimizer_states(tokenizer, tmp_path):
    cfg = training.TrainConfig(**{**SMALL, "steps": 1}, r=4, out_dir=str(tmp_path))
    run = training.TrainingRun(cfg, fresh_tiny(tokenizer), tokenizer)
    list(run.steps())
    lora = sum(p.numel() for name, p in run.model.named_parameters() if "lora_" in name)
    assert run.trainable_params == lora and run.tensor_memory.gradients == 4 * lora
    assert 8 * lora <= run.tensor_memory.optimizer <= 8 * lora + 8 * 2 * 7 * 2  # m, v (+ a step count) per A and B
    assert run.peak_memory_mb >= run.start_memory_mb > 0 and run.adapter_dir == tmp_path
    assert run.tensor_memory.activations > 0
