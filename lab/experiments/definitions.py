"""The experiments: which runs each one makes, with which settings, to test which claim.

An experiment is a list of **conditions**, each a :class:`lab.training.TrainConfig` that differs from
the others in one thing only (the method, the rank, the masking), everything else shared
(:class:`ExperimentSettings`): the same data, steps, batch, sequence length, seed and evaluation.

    peft     full fine-tuning  vs  LoRA (r = 16, 16/32-bit base)  vs  QLoRA (r = 16, NF4 base)
    rank     LoRA at r = 1, 4, 16, 64 with alpha = 2r (or one fixed alpha)
    masking  completion-only loss  vs  loss on every token (``none``)

and the SFT-data experiments (:mod:`lab.experiments.sftdata`), which vary the *data* instead:

    data-quality  curated (40 rows)  vs  noisy (200)  vs  the noisy set cleaned by the lab's filters
    synthetic     pairs the model writes itself, judged by the filters (training on them optional)
    zero-shot     one behaviour on eight task types, scored on those and on two never trained

Each experiment's default number of steps is sized so that the whole experiment, evaluation
included, fits its time limit on a 2-core CPU (``bench/experiments_record.py`` records the times).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lab import checks
from lab.errors import LabError, Msg
from lab.experiments import sftdata
from lab.train_config import TrainConfig


def _help(text: str, **kw):
    return field(metadata={"help": text}, **kw)


def _whole(name: str, value, lo: int, hi: int) -> int:
    try:
        return checks.whole_number(name, value, lo, hi)
    except ValueError:
        raise LabError("experiment.whole_number", "{name} must be a whole number from {lo:,} to {hi:,}, not {value!r}.",
                       name=name, lo=lo, hi=hi, value=value) from None


def _number(name: str, value, lo: float, hi: float) -> float:
    try:
        return checks.number(name, value, lo, hi)
    except ValueError:
        raise LabError("experiment.number", "{name} must be a number from {lo:g} to {hi:g}, not {value!r}.",
                       name=name, lo=lo, hi=hi, value=value) from None


#: Methods the rank and masking experiments may train with (full fine-tuning has no rank).
ADAPTER_METHODS = ("lora", "qlora")
MAX_RANKS = 8


@dataclass
class ExperimentSettings:
    """What every condition of an experiment shares. The defaults fit each experiment's time limit."""

    steps: int | None = _help("Optimizer steps per condition (None: the experiment's default, sized to its time limit).", default=None)
    batch_size: int = _help("Examples per step.", default=4)
    max_seq_len: int = _help("Tokens kept per example.", default=256)
    dataset: str = _help("A bundled dataset with a behaviour score: pirate or json.", default="pirate")
    eval_prompts: int = _help("Held-out prompts answered for the behaviour score (the 48 forgetting probes are always all asked).", default=16)
    learning_rate: float = _help("Peak learning rate of LoRA and QLoRA.", default=1e-3)
    full_learning_rate: float = _help("Peak learning rate of full fine-tuning (every weight moves: far smaller than LoRA's).", default=1e-4)
    r: int = _help("LoRA rank of the peft and masking experiments.", default=16)
    ranks: tuple[int, ...] = _help("Ranks the rank experiment compares.", default=(1, 4, 16, 64))
    alpha: float | None = _help("LoRA alpha (the update is scaled by alpha / r); None: alpha = 2r for every rank.", default=None)
    method: str = _help("What the rank and masking experiments train: lora (16/32-bit base) or qlora (NF4 base).", default="lora")
    svd_module: str = _help("The linear layer whose learned update dW = (alpha/r) B A the rank experiment decomposes.", default="q_proj")
    svd_layer: int | None = _help("Its decoder layer (None: the middle one).", default=None)
    sample_tokens: int = _help("Tokens generated for each masking condition's sample (special tokens shown, not stopped at the end of the turn).", default=128)
    per_task: int = _help("Held-out prompts per task type that the zero-shot experiment answers, before and after (the set has 5 of each).", default=5)
    candidates: int = _help("Instruction / response pairs the synthetic experiment generates.", default=16)
    train_synthetic: bool = _help("The synthetic experiment also trains on the pairs that pass the filters (a 135M model's own data teaches it little).", default=False)
    model: str | None = _help("Base model: None for the bundled SmolLM2-135M-Instruct, or a local directory.", default=None)
    seed: int = _help("Seed of the data order and the LoRA initialisation, the same for every condition.", default=0)

    def __post_init__(self):
        from lab import evaluation

        if self.dataset not in evaluation.SCORERS:
            raise LabError("experiment.dataset", "The experiments need a dataset with a behaviour score: {choices}, not {value!r}.",
                           choices=", ".join(evaluation.SCORERS), value=self.dataset)
        if self.steps is not None:
            self.steps = _whole("steps", self.steps, 1, 5000)
        self.eval_prompts = _whole("eval prompts", self.eval_prompts, 1, 256)
        self.sample_tokens = _whole("sample tokens", self.sample_tokens, 1, 512)
        self.per_task = _whole("prompts per task type", self.per_task, 1, 5)
        self.candidates = _whole("candidates", self.candidates, 1, 200)
        if self.train_synthetic not in (True, False):
            raise LabError("experiment.flag", "{name} must be true or false, not {value!r}.",
                           name="train synthetic", value=self.train_synthetic)
        self.train_synthetic = bool(self.train_synthetic)
        self.full_learning_rate = _number("full fine-tuning learning rate", self.full_learning_rate, 1e-7, 0.1)
        if isinstance(self.ranks, (str, int)):
            self.ranks = tuple(str(self.ranks).split(","))
        self.ranks = tuple(_whole("rank", str(r).strip() if isinstance(r, str) else r, 1, 256) for r in self.ranks)
        if not 1 <= len(self.ranks) <= MAX_RANKS or len(set(self.ranks)) != len(self.ranks):
            raise LabError("experiment.ranks", "Give 1 to {most} different ranks, not {ranks}.",
                           most=MAX_RANKS, ranks=", ".join(map(str, self.ranks)) or "none")
        if self.alpha is not None:
            self.alpha = _number("alpha", self.alpha, 0.01, 4096)
        if self.method not in ADAPTER_METHODS:
            raise LabError("experiment.method", "The rank and masking experiments train lora or qlora, not {value!r}.",
                           value=self.method)
        if self.svd_layer is not None:
            self.svd_layer = _whole("SVD layer", self.svd_layer, 0, 1000)
        if not self.svd_module.replace("_", "").isalnum():
            raise LabError("experiment.svd_module", "{value!r} is not a module name (letters, digits and _ only).",
                           value=self.svd_module)
        self.train_config(5)  # every other value is checked by TrainConfig, with its own sentences

    def alpha_for(self, r: int) -> float:
        """alpha = 2r (the update's scale alpha / r = 2 at every rank), or the fixed alpha."""
        return float(2 * r) if self.alpha is None else self.alpha

    def train_config(self, steps: int, **changes) -> TrainConfig:
        """The shared part of every condition's config, with ``changes`` (method, r, masking, ...)."""
        base = dict(model=self.model, dataset=self.dataset, method="lora", r=self.r, alpha=self.alpha_for(self.r),
                    learning_rate=self.learning_rate, steps=steps, batch_size=self.batch_size,
                    max_seq_len=self.max_seq_len, seed=self.seed, max_seconds=3600.0)
        return TrainConfig(**{**base, **changes})


@dataclass(frozen=True)
class Condition:
    """One run of an experiment: its name (also its folder in the output) and its config (whose dataset a
    prepare step may replace with rows of its own, :mod:`lab.experiments.sftdata`)."""

    name: str
    config: TrainConfig


@dataclass(frozen=True)
class Experiment:
    name: str
    title: Msg
    claim: Msg  # what the lecture says, which the numbers then show or do not
    default_steps: int
    forgetting: bool  # evaluate before and after, with the forgetting probes and the general-text loss
    build: Callable[[ExperimentSettings, int], list[tuple[str, dict]]]  # (name, TrainConfig changes) per condition
    # before the conditions: a generator that yields its own events and returns {condition: (train, eval)}
    prepare: Callable | None = None
    # instead of the runner's behaviour score: (settings, name, run, progress, deadline, results) -> columns
    evaluate: Callable | None = None

    def conditions(self, settings: ExperimentSettings, out_dir: str | Path | None = None) -> list[Condition]:
        steps = settings.steps or self.default_steps
        out = []
        for name, changes in self.build(settings, steps):
            where = str(Path(out_dir) / name) if out_dir is not None else None
            if changes.get("dataset", "").endswith(".jsonl"):  # rows the prepare step writes into the output
                changes = {**changes, "dataset": str(Path(out_dir or ".") / changes["dataset"])}
            out.append(Condition(name, settings.train_config(steps, out_dir=where, **changes)))
        return out


def _peft(s: ExperimentSettings, steps: int):
    return [("full", dict(method="full", learning_rate=s.full_learning_rate)),
            ("lora", dict(method="lora")),
            ("qlora", dict(method="qlora"))]


def _rank(s: ExperimentSettings, steps: int):
    return [(f"r{r}", dict(method=s.method, r=r, alpha=s.alpha_for(r))) for r in s.ranks]


def _masking(s: ExperimentSettings, steps: int):
    return [(mode, dict(method=s.method, masking=mode)) for mode in ("completion", "none")]


def _quality(s: ExperimentSettings, steps: int):
    return [("curated", dict(dataset="pirate_curated")), ("noisy", dict(dataset="pirate_noisy")),
            ("cleaned", dict(dataset=sftdata.CLEANED_FILE))]


def _synthetic(s: ExperimentSettings, steps: int):
    return [("synthetic", dict(dataset="synthetic.jsonl"))] if s.train_synthetic else []


def _zero_shot(s: ExperimentSettings, steps: int):
    return [("multitask", dict(dataset="multitask"))]


EXPERIMENTS = {
    e.name: e
    for e in (
        Experiment(
            "peft", Msg("experiment.peft.title", "Full fine-tuning vs LoRA vs QLoRA"),
            Msg("experiment.peft.claim",
                "Full fine-tuning must hold weights, gradients and two AdamW states for every parameter; LoRA "
                "trains a small fraction of them and QLoRA also stores the frozen base in 4 bits, so they need "
                "far less memory, forget less, and share an adapter of a few MB instead of the whole model, "
                "with comparable quality."),
            default_steps=20, forgetting=True, build=_peft),
        Experiment(
            "rank", Msg("experiment.rank.title", "LoRA rank"),
            Msg("experiment.rank.claim",
                "The update a fine-tune needs has a low rank: ΔW = (alpha/r)·B·A with a small r learns about "
                "as well as a large one, with r times fewer trainable parameters per layer than d."),
            default_steps=16, forgetting=False, build=_rank),
        Experiment(
            "masking", Msg("experiment.masking.title", "Loss masking"),
            Msg("experiment.masking.claim",
                "SFT computes the loss on the response only: training on the prompt too spends the loss on "
                "text the model never has to write, and teaches it to write prompts."),
            default_steps=30, forgetting=False, build=_masking),
        Experiment(
            "data-quality", Msg("experiment.data_quality.title", "Data quality vs quantity"),
            Msg("experiment.data_quality.claim",
                "A few good examples beat many mediocre ones (LIMA: 1,000 curated examples): a small set whose "
                "every reply is correct and in style teaches the behaviour better than five times as many rows "
                "with duplicates, wrong answers and replies out of style, and cleaning the large set recovers "
                "much of the difference."),
            default_steps=40, forgetting=False, build=_quality, prepare=sftdata.prepare_quality,
            evaluate=sftdata.evaluate_quality),
        Experiment(
            "synthetic", Msg("experiment.synthetic.title", "Synthetic data and its quality control"),
            Msg("experiment.synthetic.claim",
                "A model can write its own training data (Self-Instruct, Alpaca): cheap, but every pair must be "
                "checked, since the generator makes malformed, repeated and wrong rows."),
            default_steps=16, forgetting=False, build=_synthetic, prepare=sftdata.prepare_synthetic,
            evaluate=sftdata.evaluate_synthetic),
        Experiment(
            "zero-shot", Msg("experiment.zero_shot.title", "Zero-shot generalisation"),
            Msg("experiment.zero_shot.claim",
                "A model instruction-tuned on many tasks carries what it learned to tasks it never saw: the "
                "behaviour taught on eight task types shows on two task types held out of training."),
            default_steps=20, forgetting=False, build=_zero_shot, evaluate=sftdata.evaluate_zero_shot),
    )
}


def experiment(name: str) -> Experiment:
    """The experiment called ``name`` (a key of :data:`EXPERIMENTS`)."""
    if name not in EXPERIMENTS:
        raise LabError("experiment.unknown", "There is no experiment {name!r}; choose {choices}.",
                       name=name, choices=", ".join(EXPERIMENTS))
    return EXPERIMENTS[name]


def settings_dict(settings: ExperimentSettings) -> dict:
    d = dataclasses.asdict(settings)
    d["ranks"] = list(d["ranks"])
    return d
