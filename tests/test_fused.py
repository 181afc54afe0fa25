"""lab.fused: one autograd node per LoRA layer computes what peft + bitsandbytes compute."""

from __future__ import annotations

import pytest
import torch

from conftest import lora_with_b

from lab import evaluation, fused, models, packing, training


def _loss_and_grads(model, batch, fast: bool, autocast=None):
    for p in model.parameters():
        p.grad = None
    with packing.packed_attention_mode(model), (fused.fused_lora(model) if fast else _nothing()), \
            (torch.autocast("cpu", dtype=autocast) if autocast else _nothing()):
        loss = packing.gathered_loss(model.get_base_model(), batch)
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_fused_layers_give_peft_s_loss_and_gradients_in_fp32(tokenizer, pirate_batch):
    model = lora_with_b(models.tiny_model(tokenizer))
    slow_loss, slow = _loss_and_grads(model, pirate_batch, fast=False)
    fast_loss, fast = _loss_and_grads(model, pirate_batch, fast=True)
    assert fast_loss == pytest.approx(slow_loss, rel=1e-6)
    assert slow.keys() == fast.keys() and len(fast) == 2 * 7 * 2  # A and B of 7 layers x 2 blocks
    for name in slow:
        torch.testing.assert_close(fast[name], slow[name], rtol=1e-4, atol=1e-6, msg=name)
        assert fast[name].dtype == torch.float32


def test_the_context_routes_each_block_through_four_nodes_and_gives_peft_its_forward_back(tokenizer, pirate_batch):
    model = lora_with_b(models.tiny_model(tokenizer))
    layers = fused.lora_layers(model)
    assert len(layers) == 14
    with packing.packed_attention_mode(model), fused.fused_lora(model):
        assert all("forward" in layer.__dict__ for layer in layers)
        loss = packing.gathered_loss(model.get_base_model(), pirate_batch)
    nodes, seen, todo = [], set(), [loss.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        nodes.append(type(fn).__name__)
        todo += [f for f, _ in fn.next_functions]
    # per block: q/k/v as one node, gate/up as one, o and down alone
    assert nodes.count("LoRALinearBackward") == 2 * 4
    assert sorted(len(g.layers) for g in fused.groups(model)) == [1, 1, 1, 1, 2, 2, 3, 3]
    assert not any("forward" in layer.__dict__ for layer in layers)


def test_a_disabled_adapter_falls_back_to_the_base_model(tokenizer, pirate_batch):
    model = lora_with_b(models.tiny_model(tokenizer))
    with torch.no_grad(), packing.packed_attention_mode(model):
        with model.disable_adapter():
            base = packing.gathered_loss(model.get_base_model(), pirate_batch).item()
        with fused.fused_lora(model):
            with model.disable_adapter():
                fast_base = packing.gathered_loss(model.get_base_model(), pirate_batch).item()
            adapted = packing.gathered_loss(model.get_base_model(), pirate_batch).item()
    assert fast_base == base
    assert abs(adapted - base) > 1e-3  # the adapter is on again once the block ends


def test_dropout_layers_keep_peft_s_forward(tokenizer):
    model = lora_with_b(models.tiny_model(tokenizer), dropout=0.1)
    layer = fused.lora_layers(model)[0]
    assert not fused._fusable(layer)


@pytest.fixture(scope="module")
def nf4_layer():
    """The real model's first q_proj in NF4 (double quantization), with a LoRA adapter whose B is not zero."""
    model = lora_with_b(models.load_model(quantization="nf4"), seed=1)
    return model, fused.lora_layers(model)[0]


def test_the_dequantized_base_is_bitsandbytes_own(nf4_layer):
    import bitsandbytes.functional as bnbf

    _, layer = nf4_layer
    w = layer.base_layer.weight
    ref = bnbf.dequantize_4bit(w.data, w.quant_state)
    assert torch.equal(fused.base_weight(layer.base_layer, ref.dtype), ref)
    assert torch.equal(fused.base_weight(layer.base_layer, torch.float32).to(ref.dtype), ref)


def test_a_real_nf4_layer_in_bf16_is_as_close_to_exact_arithmetic_as_peft_s(nf4_layer):
    """bf16 rounds in other places than peft + bitsandbytes under autocast; measured against the same
    layer computed in float64, the fused node's error is no larger than theirs."""
    model, layer = nf4_layer
    name = layer.active_adapters[0]
    a, b = layer.lora_A[name].weight, layer.lora_B[name].weight
    torch.manual_seed(0)
    x = torch.randn(1, 97, a.shape[1], dtype=torch.bfloat16)
    gy = torch.randn(1, 97, b.shape[0], dtype=torch.bfloat16)

    def run(fast):
        xi = x.clone().requires_grad_(True)
        a.grad = b.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16), (fused.fused_lora(model) if fast else _nothing()):
            y = layer(xi)
        y.backward(gy)
        return y.double(), xi.grad.double(), a.grad.double(), b.grad.double()

    s = layer.scaling[name]
    w = fused.base_weight(layer.base_layer, torch.float32).double()
    xd, gd, ad, bd = x.double()[0], gy.double()[0], a.double(), b.double()
    exact = (xd @ w.T + s * (xd @ ad.T) @ bd.T, gd @ w + s * (gd @ bd) @ ad, s * (gd @ bd).T @ xd, s * gd.T @ (xd @ ad.T))
    slow, fast = run(False), run(True)
    for what, e, p, f in zip(("y", "dx", "dA", "dB"), exact, slow, fast):
        err_p, err_f = ((p[0] if p.dim() == 3 else p) - e).norm() / e.norm(), ((f[0] if f.dim() == 3 else f) - e).norm() / e.norm()
        assert err_f < 1.5 * err_p + 1e-3, (what, err_f.item(), err_p.item())
        assert err_f < 0.02, what


def test_a_real_nf4_training_run_trains_through_the_fused_layers(tokenizer, tmp_path):
    """A run trains through the fused layers; its step 1 (B = 0: the base alone) gives exactly the loss
    peft + bitsandbytes give on the same batch."""
    cfg = training.TrainConfig(steps=3, batch_size=2, max_seq_len=96, out_dir=str(tmp_path))
    run = training.TrainingRun(cfg)
    gen = run.steps()
    first = next(gen)
    logs = [first, *gen]
    assert [x.step for x in logs] == [1, 2, 3]
    fresh = training.TrainingRun(cfg)
    fresh.setup()
    order = packing.batches(len(fresh.examples), cfg.batch_size, cfg.seed)
    batch = training.pack([fresh.examples[i] for i in next(order)])
    with packing.packed_attention_mode(fresh.model), fresh.autocast(), torch.no_grad():
        peft_loss = packing.gathered_loss(fresh.causal_lm, batch).item()
    assert first.loss == peft_loss, (first.loss, peft_loss)


def test_a_group_whose_second_output_is_unused_gets_the_gradients_of_the_first_alone():
    torch.manual_seed(0)
    bases = [torch.nn.Linear(8, 6, bias=False).double(), torch.nn.Linear(8, 4, bias=False).double()]
    ab = [torch.randn(3, 8, dtype=torch.float64, requires_grad=True), torch.randn(6, 3, dtype=torch.float64, requires_grad=True),
          torch.randn(3, 8, dtype=torch.float64, requires_grad=True), torch.randn(4, 3, dtype=torch.float64, requires_grad=True)]
    x = torch.randn(5, 8, dtype=torch.float64, requires_grad=True)
    y1, _ = fused.LoRALinear.apply(x, bases, [2.0, 0.5], torch.float64, *ab)
    y1.sum().backward()
    a1, b1 = ab[0].detach().requires_grad_(True), ab[1].detach().requires_grad_(True)
    x_ref = x.detach().requires_grad_(True)
    (x_ref @ bases[0].weight.T + 2.0 * (x_ref @ a1.T) @ b1.T).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
    torch.testing.assert_close(ab[0].grad, a1.grad)
    torch.testing.assert_close(ab[1].grad, b1.grad)
    assert not ab[2].grad.any() and not ab[3].grad.any()  # the unused member: zero gradients


def test_a_merged_adapter_answers_as_peft_s_layers_and_leaves_the_weights_as_they_were(tokenizer, monkeypatch):
    """Generation folds the adapter into the dequantized fp32 weights (W + s B A): the logits agree with
    peft's unmerged layers to fp32 rounding, the greedy answers are the same, the base comes back bit for
    bit, and a switched-off adapter is not folded in."""
    import contextlib

    model = training.wrap_lora(models.load_model(quantization="nf4"), training.TrainConfig())
    torch.manual_seed(0)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.02)
    model.eval()
    ids = tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    causal = model.get_base_model()
    with evaluation.float32_arithmetic(model), torch.no_grad():
        with model.disable_adapter():
            base = causal(ids).logits
        unmerged = causal(ids).logits
        with fused.merged_adapter(model):
            assert all("forward" in vars(layer) for layer in fused.lora_layers(model))
            merged = causal(ids).logits
        assert not any("forward" in vars(layer) for layer in fused.lora_layers(model))
        with model.disable_adapter():
            assert torch.equal(causal(ids).logits, base)  # the dequantized copies restored exactly
            with fused.merged_adapter(model):
                assert not any("forward" in vars(layer) for layer in fused.lora_layers(model))
                assert torch.equal(causal(ids).logits, base)
    assert (unmerged - base).abs().max() > 0.1  # the adapter matters
    torch.testing.assert_close(merged, unmerged, rtol=0, atol=1e-4)
    prompts = ["Hi!", "What is the capital of Italy?", "Name a colour.", "How many legs does a spider have?"]
    fast = evaluation.generate(model, tokenizer, prompts, max_new_tokens=16)
    monkeypatch.setattr(fused, "merged_adapter", lambda m: contextlib.nullcontext(m))
    assert evaluation.generate(model, tokenizer, prompts, max_new_tokens=16) == fast
