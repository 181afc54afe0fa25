"""A few autograd nodes per block in training: the same arithmetic as peft + bitsandbytes, fewer ops.

peft's LoRA layer on a 4-bit base runs, per forward, bitsandbytes' matmul (dequantize the NF4 weight,
multiply), a defensive copy of its output, autocast's bf16 copies of A and B, two matmuls, a scaling
multiply and an add — each its own autograd node, and the backward pass as many again. For a 135M
model that is ~5,600 small ops per step, about as long as the matmuls themselves on a 2-core CPU.
:func:`fused_lora` replaces that, for the duration of a training run, by one node per group of layers
that read the same input (q, k and v; gate and up; o and down alone)::

    forward:   A = [A_1; A_2; ...]
               u = x A^T                      (T, n r): every member's LoRA input in one matmul
               y_i = x dequant(W_i)^T + s_i * u_i B_i^T
                                              one addmm each: the LoRA term joins the base output in
                                              its accumulator, s_i = alpha / r folded into the call;
                                              W_i dequantized as bitsandbytes' own matmul does it
    backward:  g_u_i = s_i * g_y_i B_i        (T, r)
               dB_i = s_i * g_y_i^T u_i,  dA = g_u^T x   (in the compute dtype, returned in A's and B's)
               dx  = sum_i g_y_i W_i + g_u A  (W_i dequantized again, as bitsandbytes does: no bf16
                                              copy of the base is kept between the passes; only
                                              its fp32 block scales, 1/64 of its size in 4 bytes)

— what ``lora_B(lora_A(x)) * s + base(x)`` computes under autocast, with the bf16 roundings in
different places (tests: equal in fp32, bf16-noise close in bf16, same gradients). It applies to
a layer whose adapter is plain LoRA (no DoRA), dropout 0, active and unmerged; any other layer, and
any call where that stops being true (``disable_adapter()``), runs peft's own forward.
"""

from __future__ import annotations

import contextlib

import torch


def block_scales(base: torch.nn.Module) -> torch.Tensor | None:
    """A 4-bit weight's fp32 block scales (double quantization undone: its 8-bit scales times their own
    fp32 scales, plus the offset, as bitsandbytes computes them); None for a 16/32-bit weight."""
    qs = getattr(base.weight, "quant_state", None)
    if qs is None:
        return None
    if not qs.nested:
        return qs.absmax
    return torch.ops.bitsandbytes.dequantize_blockwise.default(
        qs.absmax, qs.state2.absmax, qs.state2.code, qs.state2.blocksize, torch.float32) + qs.offset


def base_weight(base: torch.nn.Module, dtype: torch.dtype, scales: torch.Tensor | None = None) -> torch.Tensor:
    """The base layer's weight (d_out, d_in) in ``dtype``: a 4-bit one dequantized with bitsandbytes' own
    kernels, the way its training matmul does (block scales first, then the 4-bit codes). ``scales``:
    its :func:`block_scales`, when already at hand."""
    w = base.weight
    qs = getattr(w, "quant_state", None)
    if qs is None:
        return w if w.dtype == dtype else w.to(dtype)
    if scales is None:
        scales = block_scales(base)
    return torch.ops.bitsandbytes.dequantize_4bit.default(w.view(-1, 1), scales, qs.blocksize, qs.quant_type,
                                                          qs.shape, dtype)


class LoRALinear(torch.autograd.Function):
    """Layers that read the same x (q, k, v; gate, up; or one alone), each y_i = x W_i^T + s_i (x A_i^T) B_i^T
    with W_i frozen (4-bit or 16/32-bit), A_i (r, d_in) and B_i (d_out_i, r) trained. The A matmul is one for
    the group, u = x [A_1; A_2; ...]^T; the base weights are multiplied one by one (stacking them would cost
    a copy of every dequantized weight, more than one bigger matmul saves: measured on the gate/up pair at
    400 tokens, 7.2 ms separate vs 7.6 ms stacked in bf16, 16.1 vs 18.6 ms in fp32, forward + backward)."""

    @staticmethod
    def forward(ctx, x, bases, scalings, dtype, *ab):
        shape = x.shape
        x2 = x.reshape(-1, shape[-1]).to(dtype)
        ys, (u, a16, b16, scales) = lora_forward(x2, bases, scalings, dtype, ab)
        ctx.save_for_backward(x2, u, a16, *b16)
        ctx.bases, ctx.scales, ctx.scalings, ctx.x_dtype, ctx.x_shape = bases, scales, scalings, x.dtype, shape
        ctx.param_dtype = ab[0].dtype  # (fp32: LoRA weights train in fp32)
        return tuple(y.view(*shape[:-1], y.shape[-1]) for y in ys)

    @staticmethod
    def backward(ctx, *gys):
        x2, u, a16, *b16 = ctx.saved_tensors
        gs = [None if gy is None else gy.reshape(-1, gy.shape[-1]).to(x2.dtype) for gy in gys]
        gx, grads = lora_backward(x2, u, a16, b16, ctx.bases, ctx.scales, ctx.scalings, gs, ctx.param_dtype,
                                  ctx.needs_input_grad[0], any(ctx.needs_input_grad[4:]))
        if gx is not None:
            gx = gx.view(ctx.x_shape).to(ctx.x_dtype)
        return (gx, None, None, None, *grads)


def lora_forward(x2, bases, scalings, dtype, ab):
    """The forward of :class:`LoRALinear` on x2 (T, d_in) already in ``dtype``: the outputs (T, d_out_i), and
    what the backward pass needs (u, the stacked A and each B in ``dtype``, each base's block scales)."""
    n = len(bases)
    a16 = (ab[0] if n == 1 else torch.cat(ab[0::2])).to(dtype)  # (n r, d_in)
    b16 = [b.to(dtype) for b in ab[1::2]]
    r = ab[0].shape[0]
    u = x2 @ a16.t()  # (T, n r)
    scales = [block_scales(b) for b in bases]  # kept for the backward pass (4 bytes per 64 weights)
    ys = [torch.addmm(x2 @ base_weight(base, dtype, sc).t(), u[:, i * r : (i + 1) * r], b.t(), alpha=s)
          for i, (base, sc, b, s) in enumerate(zip(bases, scales, b16, scalings))]
    return ys, (u, a16, b16, scales)


def lora_backward(x2, u, a16, b16, bases, scales, scalings, gs, param_dtype, need_x=True, need_params=True):
    """The backward of :class:`LoRALinear`: gs (T, d_out_i) per member (None: unused) -> (dx (T, d_in) in
    x2's dtype or None, [dA_1, dB_1, dA_2, ...] in ``param_dtype`` or Nones)."""
    n = len(b16)
    r = u.shape[1] // n
    us = [u[:, i * r : (i + 1) * r] for i in range(n)]
    gu = torch.zeros_like(u)  # (T, n r): s_i g_i B_i in member i's columns
    for i, (g, b, s) in enumerate(zip(gs, b16, scalings)):
        if g is not None:
            torch.addmm(us[i], g, b, beta=0, alpha=s, out=gu[:, i * r : (i + 1) * r])
    grads = [None] * (2 * n)
    if need_params:
        ga = (gu.t() @ x2).to(param_dtype)  # (n r, d_in): every member's dA in one matmul
        for i, (g, b, s) in enumerate(zip(gs, b16, scalings)):
            grads[2 * i] = ga[i * r : (i + 1) * r]
            grads[2 * i + 1] = (torch.zeros(b.shape, dtype=param_dtype, device=b.device) if g is None
                                else torch.addmm(b, g.t(), us[i], beta=0, alpha=s).to(param_dtype))  # s g^T u
    gx = None
    if need_x:
        gx = x2.new_zeros(x2.shape) if all(g is None for g in gs) else None
        for g, base, sc in zip(gs, bases, scales):
            if g is not None:
                w = base_weight(base, x2.dtype, sc)
                gx = g @ w if gx is None else gx.addmm_(g, w)
        gx = gx.addmm_(gu, a16)
    return gx, grads


def _plain_adapter(layer) -> bool:
    """One active, unmerged, plain LoRA adapter (no DoRA or other variant) on ``layer``, right now."""
    if layer.disable_adapters or layer.merged or len(layer.active_adapters) != 1:
        return False
    name = layer.active_adapters[0]
    return name in layer.lora_A and name not in getattr(layer, "lora_variant", {})


def _fusable(layer) -> bool:
    """A peft LoRA layer whose forward this module can stand in for, right now."""
    if not _plain_adapter(layer):
        return False
    if not isinstance(layer.lora_dropout[layer.active_adapters[0]], torch.nn.Identity):
        return False
    if getattr(getattr(layer.base_layer.weight, "quant_state", None), "packing_format_for_cpu", False):
        return False  # repacked for bitsandbytes' CPU inference kernel (an eval-mode forward did it)
    return getattr(layer.base_layer, "bias", None) is None


#: Sibling layers that read the same input in a Llama block: computed as one group.
GROUPS = (("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj"))


class _Group:
    """LoRA layers that read the same input. The first one called computes every member's output and
    keeps the others' until their own call with that same input; any other call computes alone."""

    def __init__(self, layers):
        self.layers = layers
        self.x = None
        self.outputs: dict[int, torch.Tensor] = {}

    def forward(self, layer, peft_forward, x, *args, **kwargs):
        if args or kwargs:
            return peft_forward(x, *args, **kwargs)
        if self.x is x and id(layer) in self.outputs:
            y = self.outputs.pop(id(layer))
            if not self.outputs:
                self.x = None
            return y
        if not _fusable(layer):
            return peft_forward(x, *args, **kwargs)
        together = len(self.layers) > 1 and all(_fusable(m) for m in self.layers) and len(
            {m.lora_A[m.active_adapters[0]].weight.shape[0] for m in self.layers}) == 1  # one rank (peft's rank_pattern)
        members = self.layers if together else [layer]
        names = [m.active_adapters[0] for m in members]
        ab = [w for m, n in zip(members, names) for w in (m.lora_A[n].weight, m.lora_B[n].weight)]
        dtype = torch.get_autocast_dtype(x.device.type) if torch.is_autocast_enabled(x.device.type) else x.dtype
        ys = LoRALinear.apply(x, [m.base_layer for m in members], [float(m.scaling[n]) for m, n in zip(members, names)],
                              dtype, *ab)
        self.outputs = {id(m): y for m, y in zip(members, ys) if m is not layer}
        self.x = x if self.outputs else None
        return ys[members.index(layer)]

    def clear(self):
        self.x, self.outputs = None, {}


def lora_layers(model):
    from peft.tuners.lora import LoraLayer

    return [m for m in model.modules() if isinstance(m, LoraLayer) and hasattr(m, "base_layer")
            and isinstance(getattr(m.base_layer, "weight", None), torch.Tensor)]


def groups(model) -> list[_Group]:
    """Every LoRA layer of ``model`` in a group: q/k/v and gate/up of the same block together, others alone."""
    layers = lora_layers(model)
    ids = {id(m) for m in layers}
    out, grouped = [], set()
    for parent in model.modules():
        for names in GROUPS:
            members = [getattr(parent, n, None) for n in names]
            if all(m is not None and id(m) in ids for m in members):
                out.append(_Group(members))
                grouped |= {id(m) for m in members}
    return out + [_Group([m]) for m in layers if id(m) not in grouped]


@contextlib.contextmanager
def fused_lora(model):
    """For the duration, the plain LoRA layers of ``model`` compute through :class:`LoRALinear` nodes: one
    per q/k/v group, one per gate/up pair, one per other layer."""
    patched, made = [], groups(model)
    try:
        for group in made:
            for layer in group.layers:
                own = layer.__dict__.get("forward")  # a forward set on the instance (hooks), kept
                peft_forward = layer.forward
                layer.forward = lambda x, *a, _g=group, _l=layer, _f=peft_forward, **k: _g.forward(_l, _f, x, *a, **k)
                patched.append((layer, own))
        yield model
    finally:
        for group in made:
            group.clear()
        for layer, own in patched:
            if own is None:
                del layer.forward  # back to the class's forward
            else:
                layer.forward = own


@contextlib.contextmanager
def merged_adapter(model):
    """Each active LoRA adapter folded into its layer's dequantized weight while the context lasts:
    W' = W + s B A, so a generated token costs one matmul per layer instead of peft's three and its adds.

    Used by :func:`lab.evaluation.generate`. Only where :func:`lab.evaluation.float32_arithmetic` (through :func:`lab.models.dequantized_base`) holds a private
    copy of the weight: the stored 4-bit weight is never touched, and the copy is dequantized afresh when
    the context ends (exact). In fp32 the two sums differ by rounding in the 7th digit, far below
    anything a greedy choice between distinct tokens depends on in practice; the answers' tests hold
    either way. Saves ~17 % of an evaluation (31 prompts x 48 tokens: 11.1 s -> 9.5 s with merging's
    cost ~ 0). Layers with the adapter off (``disable_adapter()``), merged, or not plain LoRA keep
    peft's forward.
    """
    done = []
    try:
        with torch.no_grad():
            for layer in lora_layers(model):
                base_forward = layer.base_layer.__dict__.get("forward")
                w = getattr(base_forward, "weight", None)
                if w is None or not _plain_adapter(layer):  # (dropout does not apply: generation runs in eval mode)
                    continue
                name = layer.active_adapters[0]
                a, b = layer.lora_A[name].weight, layer.lora_B[name].weight
                w.addmm_(b.to(w.dtype), a.to(w.dtype), alpha=float(layer.scaling[name]))
                own = layer.__dict__.get("forward")  # (lab.fused's, inside a training run)
                layer.forward = lambda x, *args, _base=layer.base_layer, **kwargs: _base(x, *args, **kwargs)
                done.append((layer, own, base_forward))
        yield model
    finally:
        for layer, own, base_forward in done:
            if own is None:
                del layer.forward
            else:
                layer.forward = own
            base_forward.restore()
