"""lab.paging: bitsandbytes' paging rule, the replay on hand-made ledgers, ledgers from the calculator,
and the measured ledger (tiny model; the real model in a fresh process, slow)."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lab import paging as P
from lab.errors import LabError
from lab.training import ALL_LINEAR

ROOT = Path(__file__).resolve().parents[1]


# --- bitsandbytes' rule -------------------------------------------------------------------------------


def test_threshold_is_the_one_in_the_installed_bitsandbytes_source():
    """The oracle is the source itself: get_state_buffer keeps ``p.numel() < 1e5`` out of paged memory,
    and step() prefetches each parameter's states right before updating it."""
    from bitsandbytes.optim.optimizer import Optimizer2State, Optimizer8bit

    buffer_src = inspect.getsource(Optimizer8bit.get_state_buffer)
    assert "if not self.is_paged or p.numel() < 1e5:" in buffer_src
    assert "F.get_paged(" in buffer_src
    step_src = inspect.getsource(Optimizer8bit.step)
    assert step_src.index("self.prefetch_state(p)") < step_src.index("self.update_step(group, p, gindex, pindex)")
    assert inspect.signature(Optimizer2State.__init__).parameters["min_8bit_size"].default == P.MIN_8BIT_SIZE
    assert P.is_paged(100_000) and not P.is_paged(99_999)


@pytest.mark.parametrize("bits", [8, 32])
def test_state_tensors_match_what_bitsandbytes_allocates(bits):
    """bitsandbytes' Adam runs on this CPU (unpaged there): the state tensors it makes have our sizes."""
    import bitsandbytes as bnb

    sizes = (1000, 5000, 120_000)
    params = [torch.nn.Parameter(torch.randn(n)) for n in sizes]
    for p in params:
        p.grad = torch.randn_like(p)
    opt = (bnb.optim.AdamW8bit if bits == 8 else bnb.optim.AdamW32bit)(params, lr=1e-3)
    opt.step()
    ours = {s.name: s for s in P.state_tensors([(f"p{i}", n) for i, n in enumerate(sizes)], bits)}
    for i, p in enumerate(params):
        st = opt.state[p]
        names = {"state1": "exp_avg", "state2": "exp_avg_sq", "absmax1": "absmax1", "absmax2": "absmax2"}
        real = {names[k]: v.nbytes for k, v in st.items() if k in names}
        assert real == {k.split(".", 1)[1]: s.bytes for k, s in ours.items() if k.startswith(f"p{i}.")}
    paged = {n: s.paged for n, s in ours.items()}
    assert paged == {"p0.exp_avg": False, "p0.exp_avg_sq": False, "p1.exp_avg": False, "p1.exp_avg_sq": False,
                     "p2.exp_avg": True, "p2.exp_avg_sq": True} | (
        {"p1.absmax1": False, "p1.absmax2": False, "p2.absmax1": False, "p2.absmax2": False} if bits == 8 else {})


def test_largest_unpaged_rank_of_the_bundled_architecture():
    """SmolLM2-135M's widest linear layer is 1,536 (the MLP): r x 1,536 < 100,000 up to r = 65."""
    from lab.lora import architecture

    model = architecture("smollm2-135m").model  # the bundled config, on the meta device
    assert P.largest_unpaged_rank(model, ALL_LINEAR) == 65
    assert P.largest_unpaged_rank(model, ("q_proj", "v_proj")) == 173  # d_max = 576: ceil(1e5 / 576) - 1
    with pytest.raises(LabError):
        P.largest_unpaged_rank(model, ("nope",))


def test_lora_pages_nothing_up_to_r65_and_full_pages_every_matrix():
    """From the calculator's per-tensor counts (= peft's): LoRA r=65 has no state tensor at 100,000 elements,
    r=66 has (A of down_proj: 66 x 1,536 = 101,376); full fine-tuning pages every matrix, not the norms."""
    from lab.lora import architecture

    at65 = P.estimate_ledger("smollm2-135m", "lora", r=65, points=1).states
    at66 = P.estimate_ledger("smollm2-135m", "lora", r=66, points=1).states
    assert not any(s.paged for s in at65) and max(s.numel for s in at65) == 65 * 1536
    assert {s.numel for s in at66 if s.paged} == {66 * 1536}
    full = P.estimate_ledger("smollm2-135m", "full", points=1).states
    arch = architecture("smollm2-135m")
    matrices = sum(1 for shape in arch.params.values() if len(shape) == 2)
    assert sum(s.paged for s in full) == 2 * matrices
    assert all(s.numel == 576 for s in full if not s.paged)  # the RMSNorm weights


# --- the replay on hand-made ledgers --------------------------------------------------------------------

BIG, SMALL = 200_000, 1_000  # elements: two parameters above bitsandbytes' threshold, one below


def _ledger(spike: int = 3000) -> P.Ledger:
    """Weights 1,000 kB; states of 2 x 200,000 + 1,000 elements (fp32 m and v: 3,208,000 bytes); an
    ordinary step holds 1,000,000 bytes of activations at the end of its forward pass, step 2 ``spike`` kB."""
    states = P.state_tensors([("a", BIG), ("b", BIG), ("c", SMALL)], 32)
    opt = sum(s.bytes for s in states)
    grads = 4 * (2 * BIG + SMALL)
    events = []
    for step, act in ((1, 1_000_000), (2, spike * 1000), (3, 1_000_000)):
        made = opt if step > 1 else 0
        events += [
            P.Event(step - 1.0, step, "forward", "start", 1_000_000, 0, made, 0),
            P.Event(step - 0.7, step, "forward", "loss", 1_000_000, 0, made, act),
            P.Event(step - 0.3, step, "backward", "done", 1_000_000, grads, made, 0),
            P.Event(step - 0.2, step, "optimizer", "step", 1_000_000, grads, opt, 0, update=True),
            P.Event(step - 0.1, step, "optimizer", "zero_grad", 1_000_000, 0, opt, 0),
        ]
    steps = [P.StepInfo(s, 100, 50, s == 2, 1.0, 1.0) for s in (1, 2, 3)]
    return P.Ledger("lora", "hand-made", "estimate", events, states, steps, "s")


def test_no_paging_needed_below_capacity():
    ledger = _ledger()
    peak = ledger.peak().total
    assert peak == 1_000_000 + 3_000_000 + 3_208_000  # weights + spike activations + states
    for paged in (False, True):
        r = P.replay(ledger, peak, paged)
        assert r.finished and r.moves == [] and r.peak_used() == peak
    assert P.min_capacity(ledger, False) == peak


def test_out_of_memory_at_the_spike_without_paging():
    ledger = _ledger()
    r = P.replay(ledger, 6_000_000, paged=False)
    spike_loss = 6  # event index: step 2, end of its forward pass
    assert r.oom_event == spike_loss and ledger.events[r.oom_event].step == 2
    assert r.oom_needed == 7_208_000 and len(r.points) == spike_loss + 1
    assert "Out of memory at step 2 (forward, loss)" in str(P.summary(ledger, r))


def test_paging_evicts_least_recently_used_states_and_fetches_them_back_before_the_update():
    ledger = _ledger()
    r = P.replay(ledger, 6_000_000, paged=True, bandwidth=1e6)
    assert r.finished
    # at the spike 4,000,000 bytes must stay plus 8,000 of c's states: 1,992,000 bytes of paged states fit,
    # so 1,600,000 must go: a's m and v (800,000 each), the least recently used
    assert [(m.tensor, m.to, m.event) for m in r.moves] == [
        ("a.exp_avg", "cpu", 6), ("a.exp_avg_sq", "cpu", 6),  # step 2, end of the forward pass
        ("a.exp_avg", "gpu", 8), ("a.exp_avg_sq", "gpu", 8),  # step 2's optimizer update prefetches them
    ]
    assert r.bytes_to_cpu == r.bytes_to_gpu == 2 * 4 * BIG == sum(
        s.bytes for s in ledger.states if s.name in r.moved_tensors())
    assert r.seconds == pytest.approx(2 * 1.6)  # 3.2 MB at 1 MB/s
    assert str(r.note) == ("A simulation built from the calculator's estimate, replayed on a 0.01 GB GPU with 0.001 GB/s "
                           "to CPU RAM; paging follows bitsandbytes' rule, whole state tensors, least recently used first.")
    assert r.points[6].used <= 6_000_000 and r.points[6].paged_cpu == 1_600_000
    assert "2 optimizer-state tensors (0.002 GB) moved to CPU RAM in step 2 (forward)" in str(P.summary(ledger, r))


def test_states_under_the_threshold_never_move():
    """A capacity where only evicting c's (small, unpaged) states could help: the run stops instead."""
    ledger = _ledger(spike=4_000)
    fixed_at_spike = 1_000_000 + 4_000_000 + 8 * SMALL
    r = P.replay(ledger, fixed_at_spike - 1, paged=True)
    assert not r.finished and r.oom_needed == fixed_at_spike
    assert all(not m.tensor.startswith("c.") for m in r.moves)
    assert {m.tensor for m in r.moves} == {"a.exp_avg", "a.exp_avg_sq", "b.exp_avg", "b.exp_avg_sq"}
    assert "even with the optimizer states paged out" in str(P.summary(ledger, r))


def test_min_capacity_is_exact_both_ways():
    ledger = _ledger()
    for paged in (False, True):
        cap = P.min_capacity(ledger, paged)
        assert P.replay(ledger, cap, paged).finished
        assert not P.replay(ledger, cap - 1, paged).finished
    # the spike must keep weights + activations + c's states (4,008,000), but the optimizer update is larger:
    # weights + gradients (4 B x 401,000) + c's states + one big parameter's m and v (1,600,000)
    assert P.min_capacity(ledger, True) == 1_000_000 + 4 * (2 * BIG + SMALL) + 8 * SMALL + 8 * BIG


def test_a_ledger_without_paged_states_pages_nothing():
    ledger = _ledger()
    ledger.states = P.state_tensors([("a", 99_999), ("b", 99_999), ("c", SMALL)], 32)
    r = P.replay(ledger, P.min_capacity(ledger, False), paged=True)
    assert r.finished and r.moves == []
    assert str(P.summary(ledger, r)).startswith("Nothing is paged: none of the 6 optimizer-state tensors reaches 100,000")


def test_facts_of_a_hand_made_ledger():
    ledger = _ledger()
    ledger.widest_linear = 1536
    assert [str(m) for m in P.facts(ledger)] == [
        "4 of 6 optimizer-state tensors reach 100,000 elements: a paged optimizer puts them (0.003 GB) in unified "
        "memory; the other 2 (0.0000 GB) stay in GPU memory.",
        "With LoRA on every linear layer of this model nothing is paged up to r = 65: the widest layer has 1,536 "
        "inputs or outputs, and 65 x 1,536 = 99,840 < 100,000.",
        "The smallest GPU these steps finish on: 0.007 GB without paging, 0.004 GB with a paged optimizer.",
    ]


def test_replay_rejects_bad_budgets():
    with pytest.raises(LabError):
        P.replay(_ledger(), 0, paged=True)
    with pytest.raises(LabError):
        P.replay(_ledger(), 1e9, paged=True, bandwidth=float("nan"))


# --- ledgers from the calculator ------------------------------------------------------------------------


def test_llama65b_qlora_spike_on_48gb_is_absorbed_by_paging():
    """The calculator's LLaMA-65B QLoRA (r=64, all linear layers, batch 1, gradient checkpointing):
    optimizer states are 8 B x trainable, every one of them paged (A: 64 x 8,192 = 524,288 elements)."""
    from lab.lora import estimate_memory

    ledger = P.estimate_ledger("llama-65b", "qlora", r=64, seq_len=512, spike_seq_len=4096)
    est = estimate_memory("llama-65b", "qlora", r=64, seq_len=4096, batch_size=1)
    assert sum(s.bytes for s in ledger.states) == est.term("optimizer").bytes == 8 * est.trainable
    assert all(s.paged for s in ledger.states)
    w, o, a, ov = (est.term(t).bytes for t in ("weights", "optimizer", "activations", "overhead"))
    assert ledger.peak().total == pytest.approx(w + o + a + ov, abs=4)
    no = P.replay(ledger, 48e9, paged=False)
    yes = P.replay(ledger, 48e9, paged=True)
    assert ledger.events[no.oom_event].step == 2 and yes.finished
    assert 0 < yes.bytes_to_cpu == yes.bytes_to_gpu < o


def test_longest_spike_is_where_the_replay_stops_finishing():
    kw = dict(r=64, seq_len=512)
    for paged in (False, True):
        n = P.longest_spike("llama-65b", 48, paged=paged, **kw)
        at = P.estimate_ledger("llama-65b", "qlora", spike_seq_len=n, **kw)
        over = P.estimate_ledger("llama-65b", "qlora", spike_seq_len=n + 1, **kw)
        assert P.replay(at, 48e9, paged).finished and not P.replay(over, 48e9, paged).finished
    assert P.longest_spike("llama-65b", 48, paged=True, **kw) > 2 * P.longest_spike("llama-65b", 48, paged=False, **kw)


# --- measured ledgers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["full", "lora"])
def test_measured_ledger_on_a_tiny_model_accounts_every_category(tokenizer, method):
    from lab import models

    tiny = models.tiny_model(tokenizer)  # a fresh one: training changes it in place
    cfg = P.TimelineConfig(method=method, r=4, steps=2, spike_step=2, batch_size=2, max_seq_len=64,
                           spike_seq_len=512)
    ledger = P.measure_ledger(cfg, tokenizer=tokenizer, base_model=tiny)
    trainable = [p for p in tiny.parameters() if p.requires_grad]
    n = sum(p.numel() for p in trainable)
    assert ledger.events[0].weights == sum(p.nbytes for p in tiny.parameters()) + sum(b.nbytes for b in tiny.buffers())
    done = [e for e in ledger.events if e.label == "backward done"]
    assert [e.gradients for e in done] == [4 * n, 4 * n] and all(e.activations == 0 for e in done)
    assert [e.optimizer for e in ledger.events if e.update] == [8 * n + 4 * len(trainable)] * 2  # m, v, step
    assert sum(s.bytes for s in ledger.states) == 8 * n
    loss = [e.activations for e in ledger.events if e.label == "loss"]
    assert 0 < loss[0] < loss[1]  # the long batch saves more for backward
    assert [s.spike for s in ledger.steps] == [False, True] and ledger.steps[1].tokens == 512
    assert ledger.peak().step == 2 and ledger.spike_step() == 2
    assert all(e.process is not None for e in ledger.events)


def test_timeline_config_checks():
    with pytest.raises(LabError):
        P.TimelineConfig(method="qlora4")
    with pytest.raises(LabError):
        P.TimelineConfig(steps=2, spike_step=3)
    with pytest.raises(LabError):
        P.TimelineConfig(spike_batch_size=4, spike_seq_len=2048)


_REAL_PROBE = """
import json, torch
from lab import paging
out = {}
for method in %r:
    ledger = paging.measure_ledger(paging.TimelineConfig(method=method, steps=2, spike_step=2))
    peak = ledger.peak()
    out[method] = {"peak": peak.total, "process": peak.process, "paged": sum(s.paged for s in ledger.states),
                   "states": len(ledger.states), "step": peak.step, "max_rank": ledger.max_unpaged_rank, "update_opt": [e.optimizer for e in ledger.events if e.update]}
print(json.dumps(out))
"""


@pytest.mark.slow
def test_real_model_ledger_matches_process_memory():
    """The bundled model, QLoRA and full fine-tuning, in a fresh process (so that freed memory cannot hide
    growth): at the ledger's peak (the long batch, end of its forward pass) the ledger is within 10 % of the
    process's memory above its baseline."""
    code = _REAL_PROBE % (("qlora", "full"),)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800, cwd=ROOT,
                         check=True)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    for method, m in out.items():
        assert m["step"] == 2, (method, m)
        assert abs(m["peak"] - m["process"]) <= 0.10 * m["process"], (method, m)
    assert out["qlora"]["paged"] == 0 and out["qlora"]["states"] == 2 * 420  # r=16 on 210 linear layers: A and B
    assert out["full"]["paged"] == 2 * 211  # every matrix (embedding tied to the head: once), not the 61 norms
    assert out["qlora"]["max_rank"] == out["full"]["max_rank"] == 65  # from the loaded model's linear layers
