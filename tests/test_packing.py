"""lab.packing: padding-free batches give the same loss as the examples run one by one."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lab import data, masking, models, packing


def fresh_tiny(tokenizer):
    return models.tiny_model(tokenizer)


def test_pack_restarts_positions_and_pairs_each_label_with_its_own_example(tokenizer):
    chats = data.load_sft_dataset("json")["messages"][:3]
    examples = [masking.build_labels(tokenizer, c, "completion") for c in chats]
    b = packing.pack(examples)
    lengths = [e.n_tokens for e in examples]
    assert b.cu_seqlens.tolist() == [0, lengths[0], lengths[0] + lengths[1], sum(lengths)]
    assert b.position_ids[0].tolist() == [i for n in lengths for i in range(n)]
    assert b.targets.numel() == sum(e.n_trained for e in examples)
    ids = b.input_ids[0]
    assert torch.equal(ids[b.source + 1], b.targets)  # each source predicts the next token...
    ends = b.cu_seqlens[1:] - 1
    assert not any(int(s) in ends.tolist() for s in b.source)  # ...never across an example boundary


def test_batches_cover_every_example_once_per_epoch_in_a_seeded_order():
    gen = packing.batches(10, 4, seed=3)
    first = [i for _ in range(5) for i in next(gen)]  # 20 indices = 2 epochs
    assert sorted(first[:10]) == list(range(10)) and sorted(first[10:]) == list(range(10))
    assert first[:10] != first[10:]  # reshuffled
    again = packing.batches(10, 4, seed=3)
    assert [i for _ in range(5) for i in next(again)] == first


def test_packed_attention_equals_causal_attention_per_example():
    torch.manual_seed(0)
    lengths = [5, 9, 3]
    cu = torch.tensor([0, 5, 14, 17])
    q, k, v = torch.randn(1, 6, 17, 8), torch.randn(1, 2, 17, 8), torch.randn(1, 2, 17, 8)
    out, _ = packing.packed_attention(None, q, k, v, None, scaling=8**-0.5, lab_cu_seqlens=cu)  # (1, T, H, D)
    for (s, e) in zip(cu[:-1].tolist(), cu[1:].tolist()):
        ref = F.scaled_dot_product_attention(q[:, :, s:e], k[:, :, s:e], v[:, :, s:e], is_causal=True, enable_gqa=True)
        torch.testing.assert_close(out[:, s:e].transpose(1, 2), ref, rtol=1e-5, atol=1e-5)
    assert out.shape == (1, sum(lengths), 6, 8)


def test_packed_gathered_loss_equals_transformers_loss_per_example(tokenizer):
    """Packing + per-example attention + LM head on trained positions only gives the same number as
    running each example alone through ``model(labels=...)`` and averaging over trained tokens."""
    model = fresh_tiny(tokenizer)
    chats = data.load_sft_dataset("pirate")["messages"][:5]
    examples = [masking.build_labels(tokenizer, c, "completion") for c in chats]
    batch = packing.pack(examples)
    assert batch.tokens == sum(e.n_tokens for e in examples)  # no padding
    with packing.packed_attention_mode(model), torch.no_grad():
        fast = packing.gathered_loss(model, batch).item()
    assert model.config._attn_implementation == "sdpa"
    total, count = 0.0, 0
    with torch.no_grad():
        for ex in examples:
            out = model(input_ids=torch.tensor([ex.input_ids]), labels=torch.tensor([ex.labels]))
            total += out.loss.item() * ex.n_trained
            count += ex.n_trained
    assert batch.targets.numel() == count
    assert fast == pytest.approx(total / count, rel=1e-5)


def test_long_examples_use_the_fused_kernel_and_give_the_same_attention(monkeypatch):
    """Above FUSED_ATTENTION_FROM tokens an example goes through scaled_dot_product_attention (memory O(L));
    the packed row still equals causal attention per example, short and long examples mixed."""
    monkeypatch.setattr(packing, "FUSED_ATTENTION_FROM", 8)
    torch.manual_seed(0)
    cu = torch.tensor([0, 5, 25, 28])  # 5 (matmuls), 20 (fused), 3 (matmuls)
    q, k, v = torch.randn(1, 6, 28, 8), torch.randn(1, 2, 28, 8), torch.randn(1, 2, 28, 8)
    out, _ = packing.packed_attention(None, q, k, v, None, scaling=8**-0.5, lab_cu_seqlens=cu)
    for (s, e) in zip(cu[:-1].tolist(), cu[1:].tolist()):
        ref = F.scaled_dot_product_attention(q[:, :, s:e], k[:, :, s:e], v[:, :, s:e], is_causal=True, enable_gqa=True)
        torch.testing.assert_close(out[:, s:e].transpose(1, 2), ref, rtol=1e-5, atol=1e-5)


def test_chunked_logits_give_the_same_loss_and_gradients(tokenizer, monkeypatch):
    """Past LOGIT_CHUNK trained tokens the LM head runs chunk by chunk (recomputed in backward): same loss, same grads."""
    chats = data.load_sft_dataset("pirate")["messages"][:6]
    batch = packing.pack([masking.build_labels(tokenizer, c, "none") for c in chats])
    n = batch.targets.numel()
    results = []
    for chunk in (n + 1, 37):  # all at once; then in chunks of 37 positions (the last one shorter)
        model = fresh_tiny(tokenizer)
        monkeypatch.setattr(packing, "LOGIT_CHUNK", chunk)
        with packing.packed_attention_mode(model):
            loss = packing.gathered_loss(model, batch)
        loss.backward()
        results.append((loss.item(), model.get_output_embeddings().weight.grad.clone()))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-5)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=1e-4, atol=1e-6)


def test_a_causal_bias_first_made_during_inference_serves_training_later():
    packing._causal_bias.cache_clear()
    q, k, v = torch.randn(1, 6, 9, 8), torch.randn(1, 2, 9, 8), torch.randn(1, 2, 9, 8)
    cu = torch.tensor([0, 4, 9])
    with torch.inference_mode():
        packing.packed_attention(None, q, k, v, None, lab_cu_seqlens=cu)
    q.requires_grad_(True)
    out, _ = packing.packed_attention(None, q, k, v, None, lab_cu_seqlens=cu)
    out.sum().backward()
    assert packing._causal_bias.cache_info().hits >= 2 and q.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_head_loss_node_gives_cross_entropy_s_loss_and_gradients(dtype):
    """HeadLoss (logits and their gradient made a block of rows at a time, in the forward pass) against
    F.cross_entropy on the logits in fp32, with an upstream gradient other than 1 and a trained head
    (full fine-tuning): the loss, dL/dh and dL/dW."""
    torch.manual_seed(0)
    n, d, v = 37, 24, 301  # 37 rows: blocks of 16, 16 and 5
    h = (torch.randn(n, d) * 2).to(dtype).requires_grad_(True)
    w = (torch.randn(v, d) * 0.5).to(dtype).requires_grad_(True)
    t = torch.randint(0, v, (n,))
    ref = F.cross_entropy((h @ w.t()).float(), t)
    (ref * 3).backward()
    gh, gw = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None
    loss = packing.HeadLoss.apply(h, w, t, n)
    (loss * 3).backward()
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=2e-2, atol=2e-3)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
    torch.testing.assert_close(h.grad.float(), gh.float(), **tol)
    torch.testing.assert_close(w.grad.float(), gw.float(), **tol)
