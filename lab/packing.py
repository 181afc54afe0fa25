"""Padding-free batches: examples laid end to end, attention kept inside each, logits only where trained.

A batch of examples with lengths L_1..L_B becomes one row of T = sum L_i tokens (no padding), with
position ids restarting at 0 for each example. Two things keep the row equivalent to B separate
sequences (a test checks it against ``transformers``' own loss, example by example):

* attention is causal **within** each example (:func:`packed_attention`: a block-diagonal mask,
  computed example by example so its cost is sum L_i^2, not T^2);
* the loss at position i predicts token i + 1 of the **same** example only (:func:`pack` lists those
  pairs), and the LM head runs on exactly those positions (:func:`gathered_loss`, through
  :class:`HeadLoss`).
"""

from __future__ import annotations

import contextlib
import functools
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lab import masking

PACKED_ATTENTION = "lab_packed"


@dataclass
class PackedBatch:
    """``batch_size`` examples end to end in one row (no padding).

    input_ids, position_ids: (1, T); positions restart at 0 for each example. ``cu_seqlens`` are the
    example boundaries [0, L1, L1+L2, ..., T]. ``targets`` (n,) are the tokens predicted at the
    ``n`` trained positions ``source`` (the position i - 1 of every label i that is not -100).
    """

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    cu_seqlens: torch.Tensor
    source: torch.Tensor
    targets: torch.Tensor

    @property
    def tokens(self) -> int:
        return int(self.input_ids.shape[1])


def pack(examples: list[masking.LabeledExample], device=None) -> PackedBatch:
    ids, pos, cu, src, tgt = [], [], [0], [], []
    for ex in examples:
        off = len(ids)
        ids += ex.input_ids
        pos += range(ex.n_tokens)
        cu.append(len(ids))
        for i in range(1, ex.n_tokens):  # label i is predicted from position i - 1 of the same example
            if ex.labels[i] != masking.IGNORE_INDEX:
                src.append(off + i - 1)
                tgt.append(ex.labels[i])
    t = lambda x: torch.tensor(x, dtype=torch.long, device=device)  # noqa: E731
    return PackedBatch(t([ids]), t([pos]), t(cu), t(src), t(tgt))


def batches(n: int, batch_size: int, seed: int):
    """Endless example indices, ``batch_size`` at a time: a fresh seeded shuffle every epoch."""
    rng = random.Random(seed)
    order: list[int] = []
    while True:
        while len(order) < batch_size:
            epoch = list(range(n))
            rng.shuffle(epoch)
            order += epoch
        yield order[:batch_size]
        order = order[batch_size:]


def packed_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Causal attention inside each packed example only.

    query: (1, H, T, D), key / value: (1, H_kv, T, D); each key/value head serves g = H / H_kv query
    heads (grouped-query attention). For the example at [s, e), with L = e - s::

        scores = scaling * q[s:e] k[s:e]^T + causal bias   (H_kv, g L, L): baddbmm, the g query heads of a
                                                           key/value head stacked as one matrix
        out[s:e] = softmax(scores) v[s:e]                  (softmax in fp32)

    — the block-diagonal attention of the packed row, at the cost of the examples alone (a dense
    T x T mask would cost (T / L)^2 more). Plain matmuls for short examples: at ~100 tokens they are
    ~2.5x faster, forward + backward, than PyTorch's fused CPU attention kernel. But they keep the
    (H, L, L) scores and probabilities of every layer for the backward pass — ~2 GB per 1,024-token
    example for the bundled model — so examples longer than ``FUSED_ATTENTION_FROM`` tokens go
    through the fused kernel (``scaled_dot_product_attention``), which keeps O(L) per layer.
    Returns (1, T, H, D) like transformers' attention functions.
    """
    cu = kwargs.get("lab_cu_seqlens")
    if cu is None:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)
    _, h, _, d = query.shape
    h_kv = key.shape[1]
    g = h // h_kv
    scale = scaling if scaling is not None else d**-0.5
    bounds = cu.tolist()
    sizes = [e - s for s, e in zip(bounds[:-1], bounds[1:])]
    # one split per tensor: its backward is one cat, where a slice per example would each make a zero
    # tensor of the whole row and add it to the gradient
    qs, ks, vs = (t[0].split(sizes, dim=1) for t in (query, key, value))  # (H or H_kv, L, D) each
    outs = []
    for n, q, k, v in zip(sizes, qs, ks, vs):
        if n > FUSED_ATTENTION_FROM:
            out = F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True, scale=scale,
                                                 enable_gqa=h != h_kv)
            outs.append(out[0])
            continue
        # the g query heads of a key/value head as one (g L, D) matrix: one bmm per key/value head, k and v
        # read once, not copied g times
        q = q.reshape(h_kv, g * n, d)
        scores = torch.baddbmm(_causal_bias(n, g, query.dtype, query.device), q, k.transpose(1, 2), alpha=scale)
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)  # (H_kv, g L, L)
        outs.append(torch.bmm(probs, v).view(h, n, d))
    return torch.cat(outs, dim=1).transpose(0, 1).unsqueeze(0).contiguous(), None


#: Examples longer than this use the fused attention kernel (memory O(L), see packed_attention).
FUSED_ATTENTION_FROM = 256
#: Trained positions whose logits are computed at once; more are done in chunks recomputed in the
#: backward pass, so a step never holds more than this many rows of V logits (4 bytes x 49,152 each).
LOGIT_CHUNK = 2048


@functools.lru_cache(maxsize=64)
def _causal_bias(n: int, g: int, dtype, device) -> torch.Tensor:
    """(g n, n): 0 where query position i may look at key j <= i, -inf above the diagonal; the n x n causal
    block repeated for the g query heads that share a key/value head. Added to the scores by the matmul
    itself (baddbmm), which does not keep it for the backward pass: one made under inference mode (an
    evaluation's loss) serves training too. Cached, since a step's examples reuse the same few lengths in
    every layer."""
    mask = torch.ones(n, n, dtype=torch.bool, device=device).triu(1)
    return torch.zeros(n, n, dtype=dtype, device=device).masked_fill(mask, float("-inf")).repeat(g, 1)


_registered = False


def register_packed_attention() -> None:
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(PACKED_ATTENTION, packed_attention)
    AttentionMaskInterface.register(PACKED_ATTENTION, lambda *args, **kwargs: None)  # attention builds its own blocks
    _registered = True


@contextlib.contextmanager
def packed_attention_mode(model):
    """Packed attention for the duration (training steps, or a loss on packed batches)."""
    register_packed_attention()
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    old = causal.config._attn_implementation
    causal.set_attn_implementation(PACKED_ATTENTION)
    try:
        yield model
    finally:
        causal.set_attn_implementation(old)


@contextlib.contextmanager
def standard_attention(model):
    """Ordinary (padded, masked) attention for the duration, e.g. to generate in the middle of a run."""
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    old = causal.config._attn_implementation
    if old == PACKED_ATTENTION:
        causal.set_attn_implementation("sdpa")
    try:
        yield model
    finally:
        if old == PACKED_ATTENTION:
            causal.set_attn_implementation(old)


class HeadLoss(torch.autograd.Function):
    """Summed next-token cross-entropy of rows h (n, d) against ``targets``, over ``total`` (the mean's
    divisor), through the LM head W (V, d) — its gradients made in the forward pass, rows at a time:

        Z = h W^T                      (n, V) in the compute dtype, one matmul
        per block of ROWS rows, in fp32:  lse = logsumexp(Z_block);  loss += sum(lse - Z[target])
                                          G_block = (softmax(Z_block) - onehot(target)) / total
                                          written over Z_block in the compute dtype
        dh = G W,  dW = G^T h (only when W trains)

    — what ``F.cross_entropy(F.linear(h, W).float(), targets)`` and its backward pass compute (logits
    rounded to the compute dtype, softmax in fp32, the gradient rounded back), without its five (n, V)
    fp32 tensors: a copy of the logits, their log-softmax, a zero-filled one-hot gradient, the softmax
    gradient and its cast, ~50 MB each at 250 positions, each written and read outside the CPU's caches.
    Only dh (n, d) (and dW) is kept for the backward pass."""

    ROWS = 16

    @staticmethod
    def forward(ctx, h, w, targets, total):
        with torch.autograd.profiler.record_function("lab::LM head"):  # (a range for bench/train_vs_trl.py)
            return HeadLoss._forward(ctx, h, w, targets, total)

    @staticmethod
    def _forward(ctx, h, w, targets, total):
        z = h @ w.t()  # (n, V)
        n = z.shape[0]
        loss = torch.zeros((), dtype=torch.float64, device=z.device)
        grad = any(ctx.needs_input_grad[:2])
        rows = torch.arange(min(HeadLoss.ROWS, n), device=z.device)
        for r0 in range(0, n, HeadLoss.ROWS):
            zb = z[r0 : r0 + HeadLoss.ROWS]
            t, r = targets[r0 : r0 + HeadLoss.ROWS], rows[: zb.shape[0]]
            zf = zb.float()
            lse = torch.logsumexp(zf, dim=1, keepdim=True)
            loss += (lse.squeeze(1) - zf[r, t]).sum()
            if grad:
                zf.sub_(lse).exp_()
                zf[r, t] -= 1.0
                zb.copy_(zf.div_(total))
        ctx.save_for_backward(z @ w if ctx.needs_input_grad[0] else None, z.t() @ h if ctx.needs_input_grad[1] else None)
        return (loss / total).to(torch.float32)

    @staticmethod
    def backward(ctx, go):
        dh, dw = ctx.saved_tensors
        return (None if dh is None else dh * go.to(dh.dtype), None if dw is None else dw * go.to(dw.dtype), None, None)


def gathered_loss(causal_lm, batch: PackedBatch) -> torch.Tensor:
    """Mean next-token cross-entropy over the trained positions, computing logits there only.

    h = decoder(input_ids) : (1, T, d);  logits = h[0, source] W_head^T : (n, V);
    loss = (1 / n) * sum_j -log softmax(logits_j)[targets_j]  — what ``model(labels=...).loss`` gives.
    The LM head and the loss are one :class:`HeadLoss` node per LOGIT_CHUNK positions.
    """
    hidden = causal_lm.get_decoder()(
        input_ids=batch.input_ids, position_ids=batch.position_ids, lab_cu_seqlens=batch.cu_seqlens, use_cache=False
    ).last_hidden_state  # (1, T, d)
    head = causal_lm.get_output_embeddings()
    h = hidden[0, batch.source]  # (n, d)
    n = h.shape[0]
    if type(head) is not torch.nn.Linear or head.bias is not None:
        return _module_loss(head, h, batch.targets)
    w = head.weight
    if torch.is_autocast_enabled(h.device.type):
        dtype = torch.get_autocast_dtype(h.device.type)
        h, w = h.to(dtype), w.to(dtype)
    elif w.dtype != h.dtype:
        return _module_loss(head, h, batch.targets)
    # Many trained tokens (long examples, masking "none"): the logits of 8,192 positions would take
    # 8,192 x 49,152 x 2 bytes = 800 MB; a chunk's logits are freed before the next chunk's are made.
    return sum(HeadLoss.apply(h[i : i + LOGIT_CHUNK], w, batch.targets[i : i + LOGIT_CHUNK], n)
               for i in range(0, n, LOGIT_CHUNK))


def _module_loss(head, h, targets) -> torch.Tensor:
    """The loss through any other head module, chunk by chunk (recomputed in the backward pass)."""
    if h.shape[0] <= LOGIT_CHUNK:
        return F.cross_entropy(head(h).float(), targets)  # logits (n, V)
    from torch.utils.checkpoint import checkpoint

    def chunk_loss(h_chunk, t):
        return F.cross_entropy(head(h_chunk).float(), t, reduction="sum")

    total = sum(checkpoint(chunk_loss, h[i : i + LOGIT_CHUNK], targets[i : i + LOGIT_CHUNK], use_reentrant=False)
                for i in range(0, h.shape[0], LOGIT_CHUNK))
    return total / h.shape[0]
