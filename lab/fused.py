"""One autograd node per LoRA layer in training: the same arithmetic as peft + bitsandbytes, fewer ops.

peft's LoRA layer on a 4-bit base runs, per forward, bitsandbytes' matmul (dequantize the NF4 weight,
multiply), a defensive copy of its output, autocast's bf16 copies of A and B, two matmuls, a scaling
multiply and an add — each its own autograd node, and the backward pass as many again. For a 135M
model that is ~5,600 small ops per step, about as long as the matmuls themselves on a 2-core CPU.
:func:`fused_lora` replaces that, for the duration of a training run, by one node per layer::

    forward:   W = dequant(W_4bit)            (compute dtype, as bitsandbytes' own matmul makes it)
               u = x A^T                      (T, r)
               y = x W^T + s * u B^T          one addmm: the LoRA term joins the base output in its
                                              accumulator, s = alpha / r folded into the same call
    backward:  g_u = s * g_y B                (T, r)
               dB  = s * g_y^T u,   dA = g_u^T x        (in the compute dtype, returned as fp32)
               dx  = g_y W + g_u A             (W dequantized again, as bitsandbytes does: no bf16
                                              copy of the base is kept between the passes)

— what ``lora_B(lora_A(x)) * s + base(x)`` computes under autocast, with the bf16 roundings in
different places (tests: equal in fp32, bf16-noise close in bf16, same gradients). It applies to
a layer whose adapter is plain LoRA (no DoRA), dropout 0, active and unmerged; any other layer, and
any call where that stops being true (``disable_adapter()``), runs peft's own forward.
"""

from __future__ import annotations

import contextlib

import torch


def base_weight(base: torch.nn.Module, dtype: torch.dtype) -> torch.Tensor:
    """The base layer's weight (d_out, d_in) in ``dtype``: a 4-bit one dequantized with bitsandbytes' own
    kernels, the way its training matmul does (nested block scales first, then the 4-bit codes)."""
    w = base.weight
    qs = getattr(w, "quant_state", None)
    if qs is None:
        return w if w.dtype == dtype else w.to(dtype)
    absmax = qs.absmax
    if qs.nested:
        absmax = torch.ops.bitsandbytes.dequantize_blockwise.default(
            qs.absmax, qs.state2.absmax, qs.state2.code, qs.state2.blocksize, torch.float32) + qs.offset
    return torch.ops.bitsandbytes.dequantize_4bit.default(w.view(-1, 1), absmax, qs.blocksize, qs.quant_type,
                                                          qs.shape, dtype)


class LoRALinear(torch.autograd.Function):
    """y = x W^T + s (x A^T) B^T with W frozen (4-bit or 16/32-bit), A (r, d_in) and B (d_out, r) trained."""

    @staticmethod
    def forward(ctx, x, a, b, base, scaling: float, dtype: torch.dtype):
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        if x2.dtype != dtype:
            x2 = x2.to(dtype)
        a16, b16 = a.to(dtype), b.to(dtype)
        u = x2 @ a16.t()  # (T, r)
        y = torch.addmm(x2 @ base_weight(base, dtype).t(), u, b16.t(), alpha=scaling)
        ctx.save_for_backward(x2, u, a16, b16)
        ctx.base, ctx.scaling, ctx.x_dtype, ctx.x_shape = base, scaling, x.dtype, shape
        return y.view(*shape[:-1], y.shape[-1])

    @staticmethod
    def backward(ctx, gy):
        x2, u, a16, b16 = ctx.saved_tensors
        s = ctx.scaling
        g = gy.reshape(-1, gy.shape[-1])
        if g.dtype != x2.dtype:
            g = g.to(x2.dtype)
        gu = torch.addmm(u, g, b16, beta=0, alpha=s)  # s g B: (T, r)
        ga = gb = gx = None
        if ctx.needs_input_grad[2]:
            gb = torch.addmm(b16, g.t(), u, beta=0, alpha=s).float()  # s g^T u: (d_out, r)
        if ctx.needs_input_grad[1]:
            ga = (gu.t() @ x2).float()  # (r, d_in)
        if ctx.needs_input_grad[0]:
            gx = torch.addmm(g @ base_weight(ctx.base, x2.dtype), gu, a16)
            gx = gx.view(ctx.x_shape).to(ctx.x_dtype)
        return gx, ga, gb, None, None, None


def _fusable(layer) -> bool:
    """A peft LoRA layer whose forward this module can stand in for, right now."""
    if layer.disable_adapters or layer.merged or len(layer.active_adapters) != 1:
        return False
    name = layer.active_adapters[0]
    if name not in layer.lora_A or name in getattr(layer, "lora_variant", {}):
        return False
    if not isinstance(layer.lora_dropout[name], torch.nn.Identity):
        return False
    if getattr(getattr(layer.base_layer.weight, "quant_state", None), "packing_format_for_cpu", False):
        return False  # repacked for bitsandbytes' CPU inference kernel (an eval-mode forward did it)
    return getattr(layer.base_layer, "bias", None) is None


def _forward(layer, peft_forward, x, *args, **kwargs):
    if args or kwargs or not _fusable(layer):
        return peft_forward(x, *args, **kwargs)
    name = layer.active_adapters[0]
    a, b = layer.lora_A[name].weight, layer.lora_B[name].weight
    dtype = torch.get_autocast_dtype(x.device.type) if torch.is_autocast_enabled(x.device.type) else x.dtype
    return LoRALinear.apply(x, a, b, layer.base_layer, float(layer.scaling[name]), dtype)


def lora_layers(model):
    from peft.tuners.lora import LoraLayer

    return [m for m in model.modules() if isinstance(m, LoraLayer) and hasattr(m, "base_layer")
            and isinstance(getattr(m.base_layer, "weight", None), torch.Tensor)]


@contextlib.contextmanager
def fused_lora(model):
    """For the duration, every plain LoRA layer of ``model`` computes as one :class:`LoRALinear` node."""
    patched = []
    try:
        for layer in lora_layers(model):
            own = layer.__dict__.get("forward")  # a forward set on the instance (hooks), kept
            peft_forward = layer.forward
            layer.forward = lambda x, *a, _l=layer, _f=peft_forward, **k: _forward(_l, _f, x, *a, **k)
            patched.append((layer, own))
        yield model
    finally:
        for layer, own in patched:
            if own is None:
                del layer.forward  # back to the class's forward
            else:
                layer.forward = own
