"""A whole Llama decoder layer as one autograd node in training: its forward and backward written out.

Through transformers, peft and autograd, one layer of the bundled model is ~100 small ops forward and as
many backward, each with its Python, dispatch and saved-tensor bookkeeping; at ~400 tokens a step on a
2-core CPU spent about as long on them as on the matmuls. :func:`fused_layers` replaces, for the
duration of a training run, each layer's forward by :class:`DecoderLayer`, which does the same
arithmetic (T packed tokens, d = hidden size, H query heads sharing H_kv key/value heads, head size D)::

    h1  = w1 * rmsnorm(x)                        rmsnorm(x) = x / sqrt(mean(x^2) + eps), in fp32
    q, k, v = LoRA(h1)                           one group, as lab.fused.LoRALinear
    q, k = rope(q), rope(k)                      q cos + rotate_half(q) sin
    a   = softmax(q k^T / sqrt(D) + causal) v    per packed example, softmax in fp32
    x2  = x + LoRA_o(a)
    h2  = w2 * rmsnorm(x2)
    x3  = x2 + LoRA_down(silu(LoRA_gate(h2)) * LoRA_up(h2))

and its backward pass by hand, in reverse. The gradients reach x and the 14 LoRA weights (A and B of
q, k, v, o, gate, up and down); the base weights and norms are frozen. A test checks loss and every
gradient against transformers' own layer.

It applies to a layer of the Llama family (SmolLM2) whose seven projections are plain LoRA layers that
:mod:`lab.fused` can stand in for, without biases, SiLU MLP, no gradient checkpointing, computing in
the weights' own dtype, on packed batches (``lab_cu_seqlens``) whose examples are all short enough for
the plain-matmul attention of :func:`lab.packing.packed_attention`. Any other call runs the layer's own
forward (with :func:`lab.fused.fused_lora`'s nodes where those apply).
"""

from __future__ import annotations

import contextlib

import torch

from lab import fused
from lab.packing import FUSED_ATTENTION_FROM, _causal_bias

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _norm(x, w, eps):
    """HF LlamaRMSNorm: w * (x_f32 * rsqrt(mean(x_f32^2) + eps)).to(x.dtype); returns (out, rstd (T, 1))."""
    xf = x.float()
    rstd = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return w * (xf * rstd).to(x.dtype), rstd


def _norm_backward(g, x, rstd, w):
    """d/dx of _norm given the output's gradient g: rstd (gn - n mean(gn n)) with n = x rstd, gn = g w."""
    gn = (g * w).float()
    n = x.float() * rstd
    return (rstd * (gn - n * (gn * n).mean(-1, keepdim=True))).to(x.dtype)


def _rope(t, cos, sin_signed):
    """q cos + rotate_half(q) sin for t (T, heads, D), with sin_signed = [-sin_1, sin_2] so that
    rotate_half(t) sin = roll(t, D/2) sin_signed — each product rounded as transformers rounds it."""
    return (t * cos).add_(t.roll(t.shape[-1] // 2, -1).mul_(sin_signed))


def _rope_backward(g, cos, sin_signed):
    """The transpose of _rope: g cos + roll(g sin_signed, D/2) (rolling by half the size is its own inverse)."""
    return torch.addcmul((g * sin_signed).roll(g.shape[-1] // 2, -1), g, cos)


def _range(name):
    """A named range for torch.profiler (bench/train_vs_trl.py charges the time inside it to ``name``)."""
    return torch.autograd.profiler.record_function(f"lab::{name}")


class _Layer:
    """What a layer's fused forward reads besides tensors: its modules, names and sizes."""

    def __init__(self, layer):
        attn, mlp = layer.self_attn, layer.mlp
        self.mods = [getattr(attn, n) for n in PROJECTIONS[:4]] + [getattr(mlp, n) for n in PROJECTIONS[4:]]
        self.norm1, self.norm2 = layer.input_layernorm, layer.post_attention_layernorm
        self.heads = attn.config.num_attention_heads
        self.kv_heads = attn.config.num_key_value_heads
        self.head_dim = attn.head_dim
        self.scale = attn.scaling

    def usable(self) -> bool:
        if not all(fused._fusable(m) for m in self.mods):
            return False
        ranks = [m.lora_A[m.active_adapters[0]].weight.shape[0] for m in self.mods]
        return len(set(ranks[:3])) == 1 and ranks[4] == ranks[5]

    def params(self):
        out = []
        for m in self.mods:
            n = m.active_adapters[0]
            out += [m.lora_A[n].weight, m.lora_B[n].weight]
        return out

    def scalings(self):
        return [float(m.scaling[m.active_adapters[0]]) for m in self.mods]


class DecoderLayer(torch.autograd.Function):
    """x (T, d) -> the layer's output (T, d); gradients to x and the 14 LoRA weights (see the module docstring).
    Each group of projections (q/k/v, o, gate/up, down) computes as :class:`lab.fused.LoRALinear` does, through
    its :func:`lab.fused.lora_forward` and :func:`lab.fused.lora_backward`."""

    @staticmethod
    def forward(ctx, x, spec: _Layer, sizes, cos, sin_signed, *ab):
        dtype = x.dtype
        s = spec.scalings()
        bases = [m.base_layer for m in spec.mods]
        h, hk, dh = spec.heads, spec.kv_heads, spec.head_dim
        g = h // hk
        t = x.shape[0]
        with _range("norms"):
            h1, rstd1 = _norm(x, spec.norm1.weight, spec.norm1.variance_epsilon)
        attention = _range("attention").__enter__()
        (q, k, v), g1 = fused.lora_forward(h1, bases[:3], s[:3], dtype, ab[:6])
        q = _rope(q.view(t, h, dh), cos, sin_signed)
        k = _rope(k.view(t, hk, dh), cos, sin_signed)
        qh, kh, vh = q.transpose(0, 1), k.transpose(0, 1), v.view(t, hk, dh).transpose(0, 1)  # (heads, T, D)
        attn = torch.empty(t, h, dh, dtype=dtype, device=x.device)
        probs, start = [], 0
        for n, qe, ke, ve in zip(sizes, qh.split(sizes, 1), kh.split(sizes, 1), vh.split(sizes, 1)):
            qe = qe.reshape(hk, g * n, dh)  # the g query heads of a key/value head as one matrix
            scores = torch.baddbmm(_causal_bias(n, g, dtype, x.device), qe, ke.transpose(1, 2), alpha=spec.scale)
            p = torch.softmax(scores, dim=-1, dtype=torch.float32)  # (H_kv, g n, n)
            probs.append(p)
            attn[start : start + n] = torch.bmm(p.to(dtype), ve).view(h, n, dh).transpose(0, 1)
            start += n
        a = attn.view(t, h * dh)
        (o,), go = fused.lora_forward(a, bases[3:4], s[3:4], dtype, ab[6:8])
        x2 = x + o
        attention.__exit__(None, None, None)
        with _range("norms"):
            h2, rstd2 = _norm(x2, spec.norm2.weight, spec.norm2.variance_epsilon)
        mlp = _range("MLP").__enter__()
        (gate, up), gm = fused.lora_forward(h2, bases[4:6], s[4:6], dtype, ab[8:12])
        silu = torch.nn.functional.silu(gate)
        act = silu * up
        (down,), gd = fused.lora_forward(act, bases[6:], s[6:], dtype, ab[12:])
        mlp.__exit__(None, None, None)
        groups = (g1, go, gm, gd)  # each (u, stacked A, [B_i], block scales)
        ctx.save_for_backward(x, rstd1, h1, q, k, v, a, x2, rstd2, h2, gate, up, silu, act, *probs,
                              *(w for u, a16, b16, _ in groups for w in (u, a16, *b16)))
        ctx.spec, ctx.sizes, ctx.s, ctx.rope = spec, sizes, s, (cos, sin_signed)
        ctx.scales = [sc for *_, sc in groups]
        ctx.param_dtype = ab[0].dtype
        return x2 + down

    @staticmethod
    def backward(ctx, gy):
        spec, sizes, s, (cos, sin_signed) = ctx.spec, ctx.sizes, ctx.s, ctx.rope
        saved = ctx.saved_tensors
        x, rstd1, h1, q, k, v, a, x2, rstd2, h2, gate, up, silu, act = saved[:14]
        probs = saved[14 : 14 + len(sizes)]
        rest = list(saved[14 + len(sizes) :])
        bases = [m.base_layer for m in spec.mods]
        groups = []  # (u, stacked A, [B_i]) of q/k/v, o, gate/up, down
        for members in (3, 1, 2, 1):
            groups.append((rest[0], rest[1], rest[2 : 2 + members]))
            rest = rest[2 + members :]
        (u1, a1, b1), (uo, ao, bo), (u2, a2, b2), (ud, ad, bd) = groups
        sc1, sco, sc2, scd = ctx.scales
        pd = ctx.param_dtype
        dtype = x.dtype
        h, hk, dh = spec.heads, spec.kv_heads, spec.head_dim
        g = h // hk
        t = x.shape[0]
        gy = gy.to(dtype)
        mlp = _range("MLP backward").__enter__()
        g_act, gd = fused.lora_backward(act, ud, ad, bd, bases[6:], scd, s[6:], [gy], pd)
        g_up = g_act * silu
        g_gate = torch.ops.aten.silu_backward(g_act * up, gate)
        g_h2, gm = fused.lora_backward(h2, u2, a2, b2, bases[4:6], sc2, s[4:6], [g_gate, g_up], pd)
        mlp.__exit__(None, None, None)
        with _range("norms backward"):
            g_x2 = gy + _norm_backward(g_h2, x2, rstd2, spec.norm2.weight)
        attention = _range("attention backward").__enter__()
        g_a, go = fused.lora_backward(a, uo, ao, bo, bases[3:4], sco, s[3:4], [g_x2], pd)
        g_attn = g_a.view(t, h, dh)
        gq = torch.empty(h, t, dh, dtype=dtype, device=x.device)
        gk = torch.empty(hk, t, dh, dtype=dtype, device=x.device)
        gv = torch.empty(hk, t, dh, dtype=dtype, device=x.device)
        qh, kh, vh = q.transpose(0, 1), k.transpose(0, 1), v.view(t, hk, dh).transpose(0, 1)
        start = 0
        for n, p, qe, ke, ve in zip(sizes, probs, qh.split(sizes, 1), kh.split(sizes, 1), vh.split(sizes, 1)):
            ge = g_attn[start : start + n].transpose(0, 1).reshape(hk, g * n, dh)  # (H_kv, g n, D)
            gv[:, start : start + n] = torch.bmm(p.to(dtype).transpose(1, 2), ge)  # (H_kv, n, D)
            gp = torch.bmm(ge, ve.transpose(1, 2))  # (H_kv, g n, n)
            gs = torch.ops.aten._softmax_backward_data(gp.float(), p, -1, torch.float32).to(dtype)
            gq[:, start : start + n] = torch.bmm(gs, ke).view(h, n, dh)
            gk[:, start : start + n] = torch.bmm(gs.transpose(1, 2), qe.reshape(hk, g * n, dh))
            start += n
        gq = _rope_backward(gq.transpose(0, 1).mul_(spec.scale), cos, sin_signed).reshape(t, h * dh)
        gk = _rope_backward(gk.transpose(0, 1).mul_(spec.scale), cos, sin_signed).reshape(t, hk * dh)
        need_x = ctx.needs_input_grad[0]
        g_h1, ga = fused.lora_backward(h1, u1, a1, b1, bases[:3], sc1, s[:3],
                                       [gq, gk, gv.transpose(0, 1).reshape(t, hk * dh)], pd, need_x=need_x)
        attention.__exit__(None, None, None)
        with _range("norms backward"):
            gx = g_x2 + _norm_backward(g_h1, x, rstd1, spec.norm1.weight) if need_x else None
        return (gx, None, None, None, None, *ga, *go, *gm, *gd)


class _Patched:
    """The forward set on one decoder layer for the duration of :func:`fused_layers`."""

    def __init__(self, layer, own_forward):
        self.layer, self.own, self.spec = layer, own_forward, _Layer(layer)
        self.rope = (None, None)

    def __call__(self, hidden_states, *args, **kwargs):
        cu = kwargs.get("lab_cu_seqlens")
        cos_sin = kwargs.get("position_embeddings")
        spec = self.spec
        if (args or cu is None or cos_sin is None or kwargs.get("cache") is not None or kwargs.get("use_cache")
                or self.layer.gradient_checkpointing or hidden_states.shape[0] != 1 or not spec.usable()
                or spec.norm1.weight.dtype != hidden_states.dtype or spec.norm1.weight.requires_grad
                or spec.norm2.weight.requires_grad
                or (torch.is_autocast_enabled(hidden_states.device.type)
                    and torch.get_autocast_dtype(hidden_states.device.type) != hidden_states.dtype)):
            return self.own(hidden_states, *args, **kwargs)
        bounds = cu.tolist()
        sizes = [e - b for b, e in zip(bounds[:-1], bounds[1:])]
        if max(sizes) > FUSED_ATTENTION_FROM:
            return self.own(hidden_states, *args, **kwargs)
        cos, sin = cos_sin
        if self.rope[0] is not sin:  # the same tensors for every layer of a forward: made once
            half = sin.shape[-1] // 2
            signed = torch.cat([-sin[..., :half], sin[..., half:]], dim=-1)
            self.rope = (sin, (cos[0].unsqueeze(1), signed[0].unsqueeze(1)))  # (T, 1, D)
        c, sn = self.rope[1]
        y = DecoderLayer.apply(hidden_states[0], spec, sizes, c, sn, *spec.params())
        return y.unsqueeze(0)


def decoder_layers(model):
    """The Llama-family decoder layers of ``model`` (a peft model or a causal LM)."""
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer

    out = []
    for m in model.modules():
        if isinstance(m, LlamaDecoderLayer):
            cfg = m.self_attn.config
            if (getattr(cfg, "hidden_act", None) == "silu" and not getattr(cfg, "attention_bias", False)
                    and not getattr(cfg, "mlp_bias", False)
                    and all(hasattr(p, "base_layer") for p in _Layer(m).mods)):
                out.append(m)
    return out


@contextlib.contextmanager
def fused_layers(model):
    """For the duration, each fitting decoder layer of ``model`` computes as one :class:`DecoderLayer` node
    when a call allows it (see the module docstring), and as before otherwise."""
    patched = []
    try:
        for layer in decoder_layers(model):
            own = layer.__dict__.get("forward")
            layer.forward = _Patched(layer, layer.forward)
            patched.append((layer, own))
        yield model
    finally:
        for layer, own in patched:
            if own is None:
                del layer.forward
            else:
                layer.forward = own
