"""Paged optimizers made visible: a measured memory timeline of training, replayed on a GPU budget.

QLoRA's last idea (Dettmers et al. 2023, §3): *"we allocate paged memory for the optimizer states which
are then automatically evicted to CPU RAM when the GPU runs out of memory and paged back into GPU memory
when the memory is needed in the optimizer update step."* On this CPU there is nothing to page to, so
the lab measures what training holds in memory, step by step, and replays that on a GPU of a chosen size.

**1. The ledger** (:func:`measure_ledger`): a few real training steps of the bundled model (full
fine-tuning, LoRA or QLoRA), one of them on a batch of much longer sequences (an activation spike).
Memory is the lab's own accounting from tensor hooks, not the profiler, sampled after every decoder
layer's forward pass and after every gradient lands::

    weights      every parameter and buffer (4-bit codes and their quantization constants included),
                 each storage once                                               constant
    gradients    p.grad, added by a post-accumulate-grad hook as backward makes it; 0 after zero_grad
    optimizer    AdamW's state tensors (exp_avg m and exp_avg_sq v: fp32, numel each), made by the
                 first optimizer step and kept
    activations  what autograd saves for backward: ``torch.autograd.graph.saved_tensors_hooks`` sees
                 each saved tensor; its storage counts once while any saved reference to it lives
                 (parameters excluded). The bf16 copies autocast makes of fp32 weights for the matmuls
                 are saved for backward too, so they count here.

Not in the ledger: temporaries that live only inside one op or between two ops (the gradient flowing
back through a layer, the logits' fp32 copy while the loss is computed). Each event also records the
process memory above where it was before the model was loaded (RSS on CPU, ``memory_allocated`` on
CUDA): the gap between the two is those temporaries plus the allocator's slack.

**2. The replay** (:func:`replay`): the ledger's events on a GPU of ``capacity`` bytes, with PCIe at
``bandwidth`` bytes/s (25 GB/s: PCIe 4.0 x16 in practice). Without paging, the first event whose total
exceeds the capacity is where the run stops with out-of-memory. With a paged optimizer it follows
bitsandbytes 0.50 (``bitsandbytes/optim/optimizer.py``) as its source does:

* ``Optimizer8bit.get_state_buffer``: ``if not self.is_paged or p.numel() < 1e5: torch.zeros_like(p)``
  else ``F.get_paged(...)`` — only the states of parameters with **at least 100,000 elements** go into
  CUDA unified memory (``functional.get_paged`` -> the C library's ``cget_managed_ptr``:
  ``cudaMallocManaged(&ptr, bytes, cudaMemAttachHost)``), then ``F.fill(buff, 0)`` writes them on the
  GPU; smaller ones, the 8-bit quantization constants (``absmax1/2``, ``qmap``) and everything else
  stay ordinary device memory;
* ``Optimizer8bit.step``: for each parameter in order, ``self.prefetch_state(p)`` — which calls
  ``F.prefetch_tensor(state["state1"])`` and ``(state["state2"])``, i.e. ``cprefetch`` ->
  ``cudaMemPrefetchAsync`` to the GPU (where the device supports concurrent managed access; elsewhere
  the pages come back on first touch) — and then ``self.update_step(...)``: states that were evicted
  come back right before they are used;
* eviction itself is the CUDA driver's: unified-memory pages move to CPU RAM when the device is full.
  The replay evicts whole state tensors, least recently used first (the optimizer touches them in
  parameter order), until the event fits — the driver moves 2 MB pages, so this is a simulation at
  tensor granularity built from measured memory, not a measurement of a GPU.

Every move costs ``bytes / bandwidth`` seconds. On CUDA, :func:`measure_ledger` itself runs there and
``paged=True`` uses the real ``bitsandbytes.optim.PagedAdamW`` (32-bit states, the sizes of the replay).

**3. Estimated ledgers** (:func:`estimate_ledger`): the same events built from the calculator's terms
(:mod:`lab.lora.memory`) for a model too big to run here — LLaMA-65B with QLoRA on a 48 GB GPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from dataclasses import dataclass, field

import torch

from lab import memory
from lab.errors import LabError, LabRuntimeError, Msg

PAGE_MIN_NUMEL = 100_000
"""bitsandbytes pages a state tensor only if its parameter has ``numel() >= 1e5`` (``get_state_buffer``)."""
MIN_8BIT_SIZE = 4096
"""bitsandbytes' 8-bit optimizers keep 32-bit states for parameters under 4,096 elements (``init_state``)."""
PCIE_BYTES_PER_S = 25e9
"""Default host <-> GPU bandwidth: PCIe 4.0 x16 is 32 GB/s on paper, about 25 GB/s in practice."""
METHODS = ("full", "lora", "qlora")
CATEGORIES = ("weights", "gradients", "optimizer", "activations", "overhead")
PHASES = ("forward", "backward", "optimizer")
MB = 1e6
GB = 1e9


# --- the ledger -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateTensor:
    """One optimizer-state tensor, as a paged optimizer would allocate it."""

    name: str  # "<parameter>.exp_avg" (bitsandbytes' state1, Adam's m) or ".exp_avg_sq" (state2, v)
    numel: int  # elements of its parameter (a state has the parameter's shape)
    bytes: int
    paged: bool  # in unified memory: numel >= PAGE_MIN_NUMEL (and a paged optimizer)
    order: int  # the optimizer updates its parameters in this order (and prefetches their states)


@dataclass
class Event:
    """Memory at one moment of training, in bytes per category."""

    t: float  # seconds since the first step began (estimated ledgers: steps, 1.0 per step)
    step: int  # 1-based optimizer step
    phase: str  # forward / backward / optimizer
    label: str  # where in the phase: "layer 12", "loss", "grad 57", "step", "zero_grad"
    weights: int = 0
    gradients: int = 0
    optimizer: int = 0
    activations: int = 0
    overhead: int = 0  # estimated ledgers: the CUDA context allowance
    process: int | None = None  # process memory above the baseline (RSS on CPU, allocated on CUDA)
    update: bool = False  # the optimizer's update: it reads (and a paged optimizer prefetches) every state

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations + self.overhead

    def category(self, name: str) -> int:
        return getattr(self, name)


@dataclass
class StepInfo:
    step: int
    tokens: int  # tokens the model read in this step
    trained_tokens: int
    spike: bool  # the batch of long sequences
    seconds: float
    loss: float


@dataclass
class Ledger:
    """A memory timeline of a few training steps, and the optimizer-state tensors a replay can page."""

    method: str  # full / lora / qlora
    model: str  # display name
    source: str  # "measured" (this machine, tensor hooks) or "estimate" (lab.lora.memory)
    events: list[Event]
    states: list[StateTensor]
    steps: list[StepInfo] = field(default_factory=list)
    time_unit: str = "s"  # "s" for measured ledgers, "step" for estimated ones
    device: str = "cpu"
    notes: list[Msg] = field(default_factory=list)
    settings: dict = field(default_factory=dict)  # what was trained (TimelineConfig / estimate_ledger's arguments)
    widest_linear: int | None = None  # max(d_in, d_out) over the model's linear layers (measured ledgers)

    def peak(self) -> Event:
        return max(self.events, key=lambda e: e.total)

    def peak_process(self) -> int | None:
        values = [e.process for e in self.events if e.process is not None]
        return max(values) if values else None

    @property
    def paged_bytes(self) -> int:
        return sum(s.bytes for s in self.states if s.paged)

    def spike_step(self) -> int | None:
        return next((s.step for s in self.steps if s.spike), None)

    @property
    def max_unpaged_rank(self) -> int | None:
        """The largest LoRA rank (every linear layer) at which nothing is paged: see :func:`largest_unpaged_rank`."""
        return None if self.widest_linear is None else _rank_below_threshold(self.widest_linear)


def is_paged(numel: int) -> bool:
    """bitsandbytes' rule (``get_state_buffer``): ``p.numel() < 1e5`` stays in device memory."""
    return not numel < 1e5


def state_tensors(named_numels, optim_bits: int = 32, paged: bool = True) -> list[StateTensor]:
    """The state tensors of bitsandbytes' Adam for parameters ``[(name, numel), ...]``, in update order.

    ``Optimizer2State.init_state``: with ``optim_bits=32`` (``PagedAdamW``, ``PagedAdamW32bit``; the same
    two fp32 tensors as ``torch.optim.AdamW``) ``state1`` (m) and ``state2`` (v) are fp32, numel each. With
    ``optim_bits=8`` (``PagedAdamW8bit``) they are uint8 unless ``numel < min_8bit_size`` (4,096), plus
    ``absmax1`` / ``absmax2``: one fp32 per block of 256, always ordinary memory. Each state1/2 goes through
    ``get_state_buffer``: paged if ``numel >= 1e5``.
    """
    if optim_bits not in (8, 32):
        raise LabError("paging.optim_bits", "optim_bits must be 8 or 32, not {bits!r}.", bits=optim_bits)
    out = []
    for i, (name, n) in enumerate(named_numels):
        n = int(n)
        eight = optim_bits == 8 and n >= MIN_8BIT_SIZE
        for key in ("exp_avg", "exp_avg_sq"):
            out.append(StateTensor(f"{name}.{key}", n, n * (1 if eight else 4), paged and is_paged(n), i))
        if eight:
            blocks = -(-n // 256)
            for key in ("absmax1", "absmax2"):
                out.append(StateTensor(f"{name}.{key}", blocks, 4 * blocks, False, i))
    return out


def largest_unpaged_rank(model, target_modules) -> int:
    """The largest LoRA rank r at which no state tensor of ``model``'s adapters is paged.

    LoRA on a ``Linear`` (d_out x d_in) trains A (r x d_in) and B (d_out x r): both stay under
    bitsandbytes' 100,000 elements while ``r * max(d_in, d_out) < 1e5``, so
    ``r_max = ceil(1e5 / d_max) - 1`` over the targeted layers (SmolLM2-135M: d_max = 1,536, r_max = 65).
    """
    return _rank_below_threshold(widest_linear(model, target_modules))


def widest_linear(model, target_modules) -> int:
    """max(d_in, d_out) over the ``Linear`` layers named in ``target_modules`` (4-bit ones included)."""
    targets = set(target_modules)
    widths = [max(m.in_features, m.out_features) for name, m in model.named_modules()
              if isinstance(m, torch.nn.Linear) and name.rsplit(".", 1)[-1] in targets]
    if not widths:
        raise LabError("paging.no_targets", "The model has no linear layer named {names}.",
                       names=", ".join(sorted(targets)))
    return max(widths)


def _rank_below_threshold(d: int) -> int:
    return -(-PAGE_MIN_NUMEL // d) - 1


# --- measuring --------------------------------------------------------------------------------------


@dataclass
class TimelineConfig:
    """What :func:`measure_ledger` trains: a few steps, one of them on long sequences."""

    method: str = "qlora"  # full / lora / qlora
    r: int = 16  # LoRA rank (LoRA and QLoRA), on every linear layer
    steps: int = 3  # optimizer steps
    spike_step: int = 2  # the step that reads the long batch (0: none). After step 1 the optimizer states exist.
    batch_size: int = 2  # examples per ordinary step (short pirate chats)
    max_seq_len: int = 128
    spike_batch_size: int = 1  # examples in the long batch
    spike_seq_len: int = 1024  # tokens per long example: multi-turn pirate chats, every reply trained
    learning_rate: float = 1e-4
    seed: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise LabError("paging.method", "method must be one of {options}, not {value!r}.",
                           options=", ".join(METHODS), value=self.method)
        for name, lo, hi in (("r", 1, 256), ("steps", 1, 20), ("spike_step", 0, 20), ("batch_size", 1, 16),
                             ("max_seq_len", 16, 1024), ("spike_batch_size", 1, 8), ("spike_seq_len", 16, 2048),
                             ("seed", 0, 2**31 - 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise LabError("paging.range", "{name} must be a whole number from {lo:,} to {hi:,}, not {value!r}.",
                               name=name, lo=lo, hi=hi, value=v)
        if self.spike_step > self.steps:
            raise LabError("paging.spike_step", "The spike step ({spike}) must be one of the {steps} steps (or 0: none).",
                           spike=self.spike_step, steps=self.steps)
        if self.spike_batch_size * self.spike_seq_len > 4096:
            raise LabError("paging.spike_tokens", "The long batch may hold at most 4,096 tokens, not {tokens:,}.",
                           tokens=self.spike_batch_size * self.spike_seq_len)


class _Saved:
    """What the pack hook gives autograd instead of a tensor: freed when autograd drops the saved value."""

    __slots__ = ("tensor", "key", "recorder")

    def __init__(self, tensor, key, recorder):
        self.tensor, self.key, self.recorder = tensor, key, recorder

    def __del__(self):
        self.recorder._unsave(self.key)


def _storage_key(t: torch.Tensor):
    s = t.untyped_storage()
    return s.data_ptr(), s.nbytes()


def weight_storages(model) -> dict[int, int]:
    """data_ptr -> bytes of every parameter, buffer and 4-bit quantization constant (absmax, code...)."""
    out: dict[int, int] = {}

    def add(t):
        if isinstance(t, torch.Tensor) and t.device.type != "meta":
            ptr, n = _storage_key(t)
            if ptr:
                out[ptr] = n

    for t in list(model.parameters()) + list(model.buffers()):
        add(t)
        qs = getattr(t, "quant_state", None)
        while qs is not None:  # bitsandbytes QuantState; its state2 holds the double quantization's constants
            for name in ("absmax", "code", "offset"):
                add(getattr(qs, name, None))
            qs = getattr(qs, "state2", None)
    return out


MEASURE_MMAP_THRESHOLD = 64 * 1024
"""While measuring, every block of 64 kB and more gets its own mapping and goes back to the system when freed,
so that process memory follows the live tensors (see :mod:`lab.memory`; the lab's usual threshold is 4 MB)."""


@contextlib.contextmanager
def _freed_memory_returned():
    lib = memory._glibc()
    if lib:
        lib.mallopt(memory.M_MMAP_THRESHOLD, MEASURE_MMAP_THRESHOLD)
    try:
        yield
    finally:
        memory.configure()


def _process_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device)
    return int(memory.rss_mb() * 2**20)


class _Recorder:
    """The lab's accounting: counters kept up to date by hooks, sampled into :class:`Event` s."""

    def __init__(self, model, device):
        self.device = device
        self.weight_ptrs = weight_storages(model)
        self.weights = sum(self.weight_ptrs.values())
        self.saved: dict[int, list[int]] = {}  # storage ptr -> [references alive, bytes]
        self.activations = 0
        self.grads: set[int] = set()
        self.gradients = 0
        self.optimizer = 0
        self.events: list[Event] = []
        self.step, self.phase = 0, "forward"
        self.t0 = time.perf_counter()
        self.baseline = 0

    def pack(self, t):
        ptr, n = _storage_key(t)
        if ptr == 0 or ptr in self.weight_ptrs:
            return t
        entry = self.saved.get(ptr)
        if entry is None:
            self.saved[ptr] = [1, n]
            self.activations += n
        else:
            entry[0] += 1
        return _Saved(t, ptr, self)

    @staticmethod
    def unpack(x):
        return x.tensor if isinstance(x, _Saved) else x

    def _unsave(self, ptr):
        entry = self.saved.get(ptr)
        if entry is None:
            return
        entry[0] -= 1
        if entry[0] == 0:
            self.activations -= entry[1]
            del self.saved[ptr]

    def grad_ready(self, p):
        if id(p) not in self.grads and p.grad is not None:
            self.grads.add(id(p))
            self.gradients += _storage_key(p.grad)[1]
            self.sample(f"grad {len(self.grads)}")

    def clear_grads(self):
        self.grads.clear()
        self.gradients = 0

    def sample(self, label: str, update: bool = False):
        self.events.append(Event(
            t=time.perf_counter() - self.t0, step=self.step, phase=self.phase, label=label, weights=self.weights,
            gradients=self.gradients, optimizer=self.optimizer, activations=self.activations,
            process=_process_bytes(self.device) - self.baseline, update=update,
        ))


def _long_examples(tokenizer, chats, n: int, length: int, seed: int):
    """``n`` multi-turn chats of at least ``length`` tokens, made of consecutive pirate exchanges, cut at
    ``length``; every assistant reply is trained (masking "assistant")."""
    from lab import masking

    out, i = [], seed * 7
    while len(out) < n:
        messages: list[dict] = []
        while True:
            messages = messages + list(chats[i % len(chats)])
            i += 1
            ex = masking.build_labels(tokenizer, messages, "assistant", max_length=length)
            if ex.total_tokens >= length:
                break
        out.append(ex)
    return out


def _examples(config: TimelineConfig, tokenizer):
    """Per step, the examples it reads: ``batch_size`` short pirate chats, or the long batch at the spike."""
    from lab import training
    from lab.packing import batches

    train_ds, _ = training.load_splits("pirate")
    chats = train_ds["messages"]
    short, _ = training.label_examples(tokenizer, chats, "completion", config.max_seq_len)
    order = batches(len(short), config.batch_size, config.seed)
    long = _long_examples(tokenizer, chats, config.spike_batch_size, config.spike_seq_len, config.seed)
    return [long if step == config.spike_step else [short[i] for i in next(order)]
            for step in range(1, config.steps + 1)]


def _load(config: TimelineConfig, base_model=None):
    """(model, causal LM, trainable named params, compute dtype). Full fine-tuning: the fp32 model, every
    parameter trained (mixed precision: fp32 weights, gradients and AdamW states; matmuls in the compute dtype).
    LoRA / QLoRA: :func:`lab.training.wrap_lora` on a 16-bit or 4-bit base, as ``lab.training`` does."""
    from lab import models, training

    tcfg = training.TrainConfig(quantization="nf4" if config.method == "qlora" else None, r=config.r,
                                alpha=2.0 * config.r, seed=config.seed)
    if base_model is not None:
        base, dtype = base_model, base_model.dtype
    else:
        base = models.load_model(quantization=tcfg.quantization)
        dtype = models.compute_dtype()
    widest = widest_linear(base, training.ALL_LINEAR)
    if config.method == "full":
        model = base.float()
        model.requires_grad_(True)
        causal = model
    else:
        if config.method == "lora" and base.dtype != dtype:
            base.to(dtype)
        model = training.wrap_lora(base, tcfg)
        causal = model.get_base_model()
    model.train()
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return model, causal, named, dtype, widest


def _preload_modules(method: str) -> None:
    """Import what loading and wrapping will need before the baseline, so the libraries' own memory is
    not counted as the model's."""
    import transformers.models.llama.modeling_llama  # noqa: F401

    if method != "full":
        import peft  # noqa: F401
    if method == "qlora":
        import bitsandbytes  # noqa: F401


@torch.no_grad()
def _page_in(model) -> None:
    """Read one number per 4 kB page of every weight: weights loaded from a memory-mapped safetensors
    file only become resident (and count in RSS) when read, which training would do in its first step."""
    for t in list(model.parameters()) + list(model.buffers()):
        if t.numel() and t.device.type == "cpu":
            flat = t.view(-1)
            flat[:: max(1, 4096 // t.element_size())].float().sum()


def _optimizer(params, lr: float, paged: bool, device):
    if paged and device.type == "cuda":
        import bitsandbytes as bnb

        return bnb.optim.PagedAdamW(params, lr=lr, weight_decay=0.0)  # 32-bit states: the replay's sizes
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.0, foreach=False)


def _state_bytes(optimizer) -> int:
    seen: dict[int, int] = {}
    for state in optimizer.state.values():
        for v in state.values():
            if isinstance(v, torch.Tensor):
                ptr, n = _storage_key(v)
                seen[ptr or id(v)] = n
    return sum(seen.values())


def measure_ledger(config: TimelineConfig | None = None, tokenizer=None, base_model=None, paged: bool = False,
                   on_progress=None) -> Ledger:
    """Train ``config.steps`` steps of ``config.method`` on the bundled model and record its memory.

    ``base_model``: a model to train instead of loading the bundled one (tests use a tiny one; it is
    changed in place). ``on_progress(step, steps)`` is called after each step.

    On CUDA (untested here: no GPU) the same steps run on the GPU, ``Event.process`` is
    ``torch.cuda.memory_allocated()`` above the baseline, and ``paged=True`` trains with bitsandbytes' real
    ``PagedAdamW`` (32-bit states: the sizes the replay uses). Its paged states live in managed memory,
    outside PyTorch's allocator: they count in ``optimizer`` but not in ``process``. On a CPU ``paged``
    changes nothing (bitsandbytes itself falls back to ordinary buffers there).
    """
    from lab import models

    config = config or TimelineConfig()
    tokenizer = tokenizer or models.shared_tokenizer()
    batches = _examples(config, tokenizer)
    with _freed_memory_returned():
        return _measure(config, batches, base_model, paged, on_progress)


def _measure(config, batches, base_model, paged, on_progress) -> Ledger:
    from lab import models
    from lab.packing import gathered_loss, pack, packed_attention_mode

    _preload_modules(config.method)
    memory.release()
    device = models.device() if base_model is None else next(base_model.parameters()).device
    baseline = _process_bytes(device)
    model, causal, named, dtype, widest = _load(config, base_model)
    _page_in(model)
    memory.release()
    params = [p for _, p in named]
    device = params[0].device
    rec = _Recorder(model, device)
    rec.baseline = baseline
    optimizer = _optimizer(params, config.learning_rate, paged, device)
    hooks = [p.register_post_accumulate_grad_hook(rec.grad_ready) for p in params]
    layers = causal.get_decoder().layers
    hooks += [layer.register_forward_hook(lambda m, a, o, i=i: rec.sample(f"layer {i}")) for i, layer in enumerate(layers)]
    cast = torch.autocast(device.type, dtype=dtype) if dtype != torch.float32 else contextlib.nullcontext()
    steps: list[StepInfo] = []
    try:
        with packed_attention_mode(model):
            rec.t0 = time.perf_counter()
            for step, examples in enumerate(batches, 1):
                t0 = time.perf_counter()
                batch = pack(examples, device)
                rec.step, rec.phase = step, "forward"
                rec.sample("start")
                with torch.autograd.graph.saved_tensors_hooks(rec.pack, rec.unpack), cast:
                    loss = gathered_loss(causal, batch)
                rec.sample("loss")
                rec.phase = "backward"
                loss.backward()
                value = loss.item()
                del loss
                rec.sample("backward done")
                rec.phase = "optimizer"
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                rec.optimizer = _state_bytes(optimizer)
                rec.sample("step", update=True)
                optimizer.zero_grad(set_to_none=True)
                rec.clear_grads()
                rec.sample("zero_grad")
                steps.append(StepInfo(step, batch.tokens, int(batch.targets.numel()), step == config.spike_step,
                                      time.perf_counter() - t0, value))
                if on_progress is not None:
                    on_progress(step, config.steps)
    finally:
        for h in hooks:
            h.remove()
    states = state_tensors([(n, p.numel()) for n, p in named], 32)
    measured = sum(s.bytes for s in states)
    moments = sum(_storage_key(v)[1] for st in optimizer.state.values() for k, v in st.items()
                  if k in ("exp_avg", "exp_avg_sq", "state1", "state2"))
    if moments != measured:
        raise LabRuntimeError("paging.state_mismatch", "The optimizer holds {got:,} bytes of moments, not the "
                              "{want:,} the paged rule lists.", got=moments, want=measured)
    name = models.display_name(None) if base_model is None else type(base_model).__name__
    ledger = Ledger(config.method, name, "measured", rec.events, states, steps, "s", device.type,
                    settings=dataclasses.asdict(config), widest_linear=widest)
    ledger.notes.append(Msg("paging.measured", "Measured on this machine ({device}) with tensor hooks; process "
                            "memory is the {what} above the baseline before the model was loaded.",
                            device=device.type, what=Msg("paging.rss", "RSS") if device.type == "cpu"
                            else Msg("paging.cuda_allocated", "CUDA allocated memory")))
    del model, causal, params, named, optimizer, rec
    memory.release()
    return ledger


_CACHE: dict = {}
_MEASURING = threading.Lock()  # one measurement at a time: two at once would each count the other's memory


def timelines(config: TimelineConfig | None = None, methods=METHODS, on_progress=None,
              paged: bool = False) -> dict[str, Ledger]:
    """Measured ledgers of each method with the same settings, cached per settings for the process.
    ``on_progress(method, step, steps)`` after each step measured. ``paged``: train with bitsandbytes'
    real ``PagedAdamW`` where that means something (CUDA; see :func:`measure_ledger`)."""
    config = config or TimelineConfig()
    out = {}
    with _MEASURING:
        for m in methods:
            cfg = dataclasses.replace(config, method=m)
            key = (*dataclasses.astuple(cfg), bool(paged))
            if key not in _CACHE:
                progress = (lambda s, n, m=m: on_progress(m, s, n)) if on_progress else None
                _CACHE[key] = measure_ledger(cfg, on_progress=progress, paged=paged)
            out[m] = _CACHE[key]
    return out


# --- the replay -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """One state tensor crossing PCIe."""

    event: int  # index of the ledger event where it moved
    step: int
    phase: str
    t: float
    tensor: str
    bytes: int
    to: str  # "cpu": evicted (the GPU was full), "gpu": prefetched before the optimizer update uses it
    seconds: float  # bytes / bandwidth


@dataclass(frozen=True)
class ReplayPoint:
    """GPU memory at one ledger event, as replayed."""

    event: int
    fixed: int  # bytes that must be on the GPU: everything but the paged states
    paged_gpu: int  # paged states resident on the GPU
    paged_cpu: int  # paged states evicted to CPU RAM

    @property
    def used(self) -> int:
        return self.fixed + self.paged_gpu


@dataclass
class Replay:
    """A ledger replayed on a GPU of ``capacity`` bytes, with or without a paged optimizer."""

    capacity: int
    bandwidth: float  # bytes per second over PCIe
    paged: bool
    points: list[ReplayPoint]  # one per event up to (and including) the out-of-memory one
    moves: list[Move]
    oom_event: int | None = None  # where the run stops with out-of-memory (None: it finishes)
    oom_needed: int = 0  # bytes that event needed on the GPU (paged states excluded when paging)
    note: Msg | None = None  # what this is: a simulation, from measured or estimated memory

    @property
    def finished(self) -> bool:
        return self.oom_event is None

    @property
    def bytes_to_cpu(self) -> int:
        return sum(m.bytes for m in self.moves if m.to == "cpu")

    @property
    def bytes_to_gpu(self) -> int:
        return sum(m.bytes for m in self.moves if m.to == "gpu")

    @property
    def seconds(self) -> float:
        """Time spent moving pages: (bytes out + bytes back) / bandwidth."""
        return sum(m.seconds for m in self.moves)

    def moved_tensors(self) -> list[str]:
        """Names of the state tensors that were evicted at least once, in the order they first moved."""
        return list(dict.fromkeys(m.tensor for m in self.moves if m.to == "cpu"))

    def peak_used(self) -> int:
        return max((p.used for p in self.points), default=0)


def replay(ledger: Ledger, capacity: float, paged: bool, bandwidth: float = PCIE_BYTES_PER_S) -> Replay:
    """Replay ``ledger`` on a GPU of ``capacity`` bytes.

    Without paging every byte is device memory: the first event with ``total > capacity`` is where the run
    stops (out-of-memory). With a paged optimizer, the states with ``paged=True`` (numel >= 1e5, see
    :func:`is_paged`) live in unified memory, everything else (weights, gradients, activations, small states)
    stays put. At each event::

        fixed = total - paged states                     must fit: fixed > capacity is out-of-memory
        fixed + paged states on the GPU > capacity   ->  evict states to CPU, least recently used first
        optimizer update                             ->  for each parameter in order, fetch its states back
                                                         (evicting others if needed), then update it

    States come into existence at the first event with ``optimizer > 0`` (AdamW's first step makes them) on
    the GPU. Each move costs ``bytes / bandwidth`` seconds.
    """
    if not (isinstance(capacity, (int, float)) and capacity > 0):
        raise LabError("paging.capacity", "The GPU capacity must be a positive number of bytes, not {value!r}.",
                       value=capacity)
    if not (isinstance(bandwidth, (int, float)) and bandwidth > 0):
        raise LabError("paging.bandwidth", "The bandwidth must be a positive number of bytes per second, not {value!r}.",
                       value=bandwidth)
    capacity = int(capacity)
    states = [s for s in ledger.states if s.paged] if paged else []
    paged_bytes = sum(s.bytes for s in states)
    by_order: dict[int, list[StateTensor]] = {}
    for s in states:
        by_order.setdefault(s.order, []).append(s)
    where: dict[str, str] = {}  # name -> "gpu" / "cpu" (absent: not made yet)
    last_use: dict[str, int] = {}
    clock = 0
    source = (Msg("paging.from_measured", "memory measured on this machine ({device})", device=ledger.device)
              if ledger.source == "measured" else Msg("paging.from_estimate", "the calculator's estimate"))
    out = Replay(capacity, float(bandwidth), paged, [], [], note=Msg(
        "paging.simulation", "A simulation built from {source}, replayed on a {cap:.2f} GB GPU with {bw:g} GB/s to CPU "
        "RAM; paging follows bitsandbytes' rule, whole state tensors, least recently used first.",
        source=source, cap=capacity / GB, bw=bandwidth / GB))

    def on_gpu() -> int:
        return sum(s.bytes for s in states if where.get(s.name) == "gpu")

    def move(i, e, s, to):
        where[s.name] = to
        out.moves.append(Move(i, e.step, e.phase, e.t, s.name, s.bytes, to, s.bytes / bandwidth))

    def make_room(i, e, fixed, need, keep) -> bool:
        """Evict least recently used states until fixed + resident + need fits."""
        resident = on_gpu()
        for s in sorted((s for s in states if where.get(s.name) == "gpu" and s.name not in keep),
                        key=lambda s: last_use[s.name]):
            if fixed + resident + need <= capacity:
                break
            move(i, e, s, "cpu")
            resident -= s.bytes
        return fixed + resident + need <= capacity

    for i, e in enumerate(ledger.events):
        made = e.optimizer > 0 and paged_bytes > 0
        fixed = e.total - (paged_bytes if made else 0)
        if fixed > capacity:
            out.oom_event, out.oom_needed = i, fixed
            out.points.append(ReplayPoint(i, fixed, 0, 0))
            break
        ok = True
        if made and not where:  # the first optimizer step allocates the states on the GPU, in order
            for s in states:
                ok = make_room(i, e, fixed, s.bytes, {s.name})
                if not ok:
                    break
                where[s.name], last_use[s.name] = "gpu", clock
                clock += 1
        if ok and made and e.update:  # Optimizer8bit.step: prefetch_state(p), then update_step(p)
            for order in sorted(by_order):
                group = by_order[order]
                need = sum(s.bytes for s in group if where[s.name] == "cpu")
                if need and not make_room(i, e, fixed, need, {s.name for s in group}):
                    ok = False
                    break
                for s in group:
                    if where[s.name] == "cpu":
                        move(i, e, s, "gpu")
                    last_use[s.name] = clock
                    clock += 1
        if ok:
            ok = make_room(i, e, fixed, 0, set())
        resident = on_gpu()
        if not ok:
            out.oom_event, out.oom_needed = i, fixed + resident
            out.points.append(ReplayPoint(i, fixed, resident, paged_bytes - resident if made else 0))
            break
        out.points.append(ReplayPoint(i, fixed, resident, paged_bytes - resident if made else 0))
    return out


def min_capacity(ledger: Ledger, paged: bool) -> int:
    """The smallest GPU on which :func:`replay` finishes. Without paging: the peak total. With paging, the
    peak over events of what cannot move (``fixed``), where the optimizer update also needs the states of
    one parameter at a time on the GPU (the largest pair), and their allocation one state at a time."""
    if not paged:
        return max(e.total for e in ledger.events)
    states = [s for s in ledger.states if s.paged]
    paged_bytes = sum(s.bytes for s in states)
    per_param: dict[int, int] = {}
    for s in states:
        per_param[s.order] = per_param.get(s.order, 0) + s.bytes
    pair = max(per_param.values(), default=0)
    one = max((s.bytes for s in states), default=0)
    need, made_before = 0, False
    for e in ledger.events:
        made = e.optimizer > 0 and paged_bytes > 0
        fixed = e.total - (paged_bytes if made else 0)
        extra = (pair if made and e.update else 0)
        if made and not made_before:
            extra = max(extra, one)
        need = max(need, fixed + extra)
        made_before = made_before or made
    return need


def summary(ledger: Ledger, result: Replay) -> Msg:
    """One sentence on what the replay shows (translatable; sizes in GB = 10^9 bytes)."""
    cap = result.capacity / GB
    if not result.finished:
        e = ledger.events[result.oom_event]
        step_peak = max(x.total for x in ledger.events if x.step == e.step) / GB
        if result.paged:
            return Msg("paging.oom_paged", "Out of memory at step {step} ({phase}, {label}): {need:.2f} GB must stay on "
                       "the {cap:.2f} GB GPU even with the optimizer states paged out.", step=e.step, phase=e.phase,
                       label=e.label, need=result.oom_needed / GB, cap=cap)
        return Msg("paging.oom", "Out of memory at step {step} ({phase}, {label}): {need:.2f} GB needed there, "
                   "{peak:.2f} GB at the step's peak, on a {cap:.2f} GB GPU.", step=e.step, phase=e.phase,
                   label=e.label, need=result.oom_needed / GB, peak=step_peak, cap=cap)
    if not result.paged:
        return Msg("paging.fits", "The run fits: its peak is {peak:.2f} GB of a {cap:.2f} GB GPU.",
                   peak=result.peak_used() / GB, cap=cap)
    if not any(s.paged for s in ledger.states):
        return Msg("paging.nothing_paged", "Nothing is paged: none of the {n:,} optimizer-state tensors reaches "
                   "{threshold:,} elements (the largest has {largest:,}).", n=len(ledger.states),
                   threshold=PAGE_MIN_NUMEL, largest=max((s.numel for s in ledger.states), default=0))
    if not result.moves:
        return Msg("paging.no_moves", "The run fits without moving a page: {paged:.2f} GB of optimizer states are "
                   "paged but never evicted.", paged=ledger.paged_bytes / GB)
    first = next(m for m in result.moves if m.to == "cpu")
    return Msg("paging.moved", "The run finishes: {n:,} optimizer-state tensors ({out:.3f} GB) moved to CPU RAM in "
               "step {step} ({phase}) and {back:.3f} GB came back for the optimizer update: {seconds:.3f} s over "
               "PCIe at {bw:g} GB/s.", n=len(result.moved_tensors()), out=result.bytes_to_cpu / GB, step=first.step,
               phase=first.phase, back=result.bytes_to_gpu / GB, seconds=result.seconds, bw=result.bandwidth / GB)


def facts(ledger: Ledger) -> list[Msg]:
    """What bitsandbytes' rule means for this ledger, as sentences (translatable): which states a paged
    optimizer pages, up to which LoRA rank nothing is paged, and the smallest GPU with and without paging."""
    states = ledger.states
    paged = [s for s in states if s.paged]
    out = []
    if paged:
        out.append(Msg("paging.fact_paged", "{n:,} of {total:,} optimizer-state tensors reach {threshold:,} elements: a "
                       "paged optimizer puts them ({gb:.3f} GB) in unified memory; the other {rest:,} ({small:.4f} GB) "
                       "stay in GPU memory.", n=len(paged), total=len(states), threshold=PAGE_MIN_NUMEL,
                       gb=ledger.paged_bytes / GB, rest=len(states) - len(paged),
                       small=sum(s.bytes for s in states if not s.paged) / GB))
    else:
        out.append(Msg("paging.fact_none", "None of the {total:,} optimizer-state tensors reaches {threshold:,} "
                       "elements (the largest has {largest:,}): a paged optimizer pages nothing.", total=len(states),
                       threshold=PAGE_MIN_NUMEL, largest=max((s.numel for s in states), default=0)))
    if ledger.widest_linear:
        out.append(Msg("paging.fact_rank", "With LoRA on every linear layer of this model nothing is paged up to "
                       "r = {r}: the widest layer has {d:,} inputs or outputs, and {r} x {d:,} = {numel:,} < {threshold:,}.",
                       r=ledger.max_unpaged_rank, d=ledger.widest_linear,
                       numel=ledger.max_unpaged_rank * ledger.widest_linear, threshold=PAGE_MIN_NUMEL))
    out.append(Msg("paging.fact_capacity", "The smallest GPU these steps finish on: {no:.3f} GB without paging, "
                   "{yes:.3f} GB with a paged optimizer.", no=min_capacity(ledger, False) / GB,
                   yes=min_capacity(ledger, True) / GB))
    return out


# --- estimated ledgers (the calculator) -------------------------------------------------------------


def _estimate_states(arch, method: str, r: int, target_modules, optim_bits: int) -> list[StateTensor]:
    """Per-tensor state sizes behind the calculator's optimizer term: each trainable tensor's numel."""
    from lab.lora import count_lora_params

    if method == "full":
        return state_tensors(list((n, _prod(shape)) for n, shape in arch.params.items()), optim_bits)
    count = count_lora_params(arch, r, target_modules)
    named = []
    for row in count.rows:
        if row.lora:
            a = row.rank * row.d_in  # A: r x d_in
            named += [(f"{row.name}.lora_A", a), (f"{row.name}.lora_B", row.lora - a)]  # B: d_out x r
        for key in ("dora", "bias", "saved"):
            if getattr(row, key):
                named.append((f"{row.name}.{key}", getattr(row, key)))
    return state_tensors(named, optim_bits)


def _prod(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def estimate_ledger(config="llama-65b", method: str = "qlora", r: int = 64, target_modules="all-linear",
                    batch_size: int = 1, seq_len: int = 512, spike_seq_len: int = 4096, steps: int = 3,
                    spike_step: int = 2, gradient_checkpointing: bool = True, precision: int = 16,
                    overhead_gb: float = 0.5, points: int = 8) -> Ledger:
    """A ledger built from :func:`lab.lora.memory.estimate_memory`'s terms (for a model too big to run here).

    Per step (time in steps; forward the first third, backward the next, the optimizer at the end)::

        forward   activations rise 0 -> A(seq)          weights W, optimizer O once step 1 has made it
        backward  activations fall A -> 0, gradients rise 0 -> G
        optimizer the update (W + G + O), then zero_grad (G -> 0)

    so the peak is ``W + A + O + overhead`` at the end of the forward pass (gradients come as activations go).
    ``seq_len`` for ordinary steps, ``spike_seq_len`` at ``spike_step``. The states follow the calculator's
    trainable tensors (LoRA A: r x d_in and B: d_out x r per adapted layer; every parameter for full).
    """
    from lab.lora import architecture
    from lab.lora import estimate_memory

    arch = architecture(config) if isinstance(config, str) else config
    kw = dict(r=r, target_modules=target_modules, batch_size=batch_size, gradient_checkpointing=gradient_checkpointing,
              precision=precision, adapter_precision=None, overhead_gb=overhead_gb)
    estimates = {s: estimate_memory(arch, method, seq_len=s, **kw) for s in {seq_len, spike_seq_len}}
    states = _estimate_states(arch, method, r, target_modules, 32)
    events: list[Event] = []
    infos: list[StepInfo] = []
    made = False
    for step in range(1, steps + 1):
        spike = step == spike_step
        est = estimates[spike_seq_len if spike else seq_len]
        w, g, o, a, ov = (int(est.term(t).bytes) for t in ("weights", "gradients", "optimizer", "activations",
                                                           "overhead"))
        opt = o if made else 0
        base = step - 1
        for k in range(points + 1):
            events.append(Event(base + k / points / 3, step, "forward", f"{k}/{points}", w, 0, opt, a * k // points, ov))
        for k in range(1, points + 1):
            events.append(Event(base + (1 + k / points) / 3, step, "backward", f"{k}/{points}", w, g * k // points, opt,
                                a - a * k // points, ov))
        made = True
        events.append(Event(base + 0.9, step, "optimizer", "step", w, g, o, 0, ov, update=True))
        events.append(Event(base + 1.0, step, "optimizer", "zero_grad", w, 0, o, 0, ov))
        tokens = batch_size * (spike_seq_len if spike else seq_len)
        infos.append(StepInfo(step, tokens, tokens, spike, 1.0, float("nan")))
    settings = dict(config=arch.name, method=method, r=r, batch_size=batch_size, seq_len=seq_len,
                    spike_seq_len=spike_seq_len, steps=steps, spike_step=spike_step,
                    gradient_checkpointing=gradient_checkpointing, precision=precision, overhead_gb=overhead_gb)
    ledger = Ledger(method, arch.name, "estimate", events, states, infos, "step", "gpu", settings=settings)
    ledger.notes.append(Msg("paging.estimated", "Built from the calculator's estimate (lab.lora.memory), not measured: "
                            "{model}, {method}, r={r}, batch {batch} x {seq} tokens, one step of {spike} tokens.",
                            model=arch.name, method=method, r=r, batch=batch_size, seq=seq_len, spike=spike_seq_len))
    return ledger


def longest_spike(config="llama-65b", gpu_gb: float = 48.0, paged: bool = True, method: str = "qlora",
                  max_seq_len: int = 65_536, **kwargs) -> int:
    """The longest sequence one step may read and still finish on a ``gpu_gb`` GPU (0 if none fits),
    from :func:`estimate_ledger` with that spike and :func:`min_capacity` (the rest of ``kwargs`` as there)."""
    cap = gpu_gb * GB
    kwargs = {k: v for k, v in kwargs.items() if k not in ("spike_seq_len", "steps", "spike_step")}

    def fits(n: int) -> bool:
        ledger = estimate_ledger(config, method, spike_seq_len=n, steps=2, spike_step=2, points=1, **kwargs)
        return min_capacity(ledger, paged) <= cap

    lo, hi = 0, max_seq_len  # fits(lo) or lo == 0; find the largest n with fits(n)
    if not fits(1):
        return 0
    lo = 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo
