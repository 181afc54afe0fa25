"""What the numbers of an experiment show, in two to four sentences computed from them.

Each sentence is a :class:`lab.errors.Msg` (a stable code, English, the numbers as params), so the app
can say it in the learner's language. When a run does not show what the lecture claims, the sentence
says so, and why that is likely here: a 135M-parameter model, a few dozen steps, one small dataset.
"""

from __future__ import annotations

from lab.errors import Msg

#: Behaviour scores closer than this (on 16 prompts: two answers) count as comparable.
CLOSE_SCORE = 0.15
#: A general-text loss rise this much larger (nats/token) counts as more forgetting.
CLOSE_LOSS = 0.02


def conclude(name: str, rows: list[dict], settings, results: dict | None = None) -> list[Msg]:
    """The conclusions of experiment ``name`` from its condition rows (all of them finished) and, for the
    SFT-data experiments, what their prepare step found (``results``)."""
    from lab.experiments import conclusions_data

    if name in conclusions_data.CONCLUDE:
        return conclusions_data.CONCLUDE[name](rows, settings, results or {})
    if not rows:
        return []
    return {"peft": _peft, "rank": _rank, "masking": _masking}[name](rows, settings)


def _by(rows, key="name") -> dict:
    return {r[key]: r for r in rows}


def _score(row) -> float:
    return row["behaviour_score"] if row.get("behaviour_score") is not None else float("nan")


def _peft(rows, settings) -> list[Msg]:
    c = _by(rows)
    if not {"full", "lora", "qlora"} <= c.keys():
        return []
    full, lora, qlora = c["full"], c["lora"], c["qlora"]
    return [_memory(full, lora, qlora), _quality(full, lora, qlora), _forgetting(full, lora, qlora)]


def _memory(full, lora, qlora) -> Msg:
    """Compared on training memory (the peak above the process before the model was loaded): the process
    itself keeps a few hundred MB more after the first condition (library caches, the allocator), which
    would count against the conditions that run later."""
    used = dict(full=full["training_memory_mb"], lora=lora["training_memory_mb"], qlora=qlora["training_memory_mb"])
    params = dict(**used, states=full["memory"]["gradients_mb"] + full["memory"]["optimizer_mb"],
                  n=full["total_params"], share=lora["trainable_share"],
                  qw=qlora["memory"]["weights_mb"], lw=lora["memory"]["weights_mb"])
    if used["full"] > used["lora"] > used["qlora"]:
        return Msg(
            "experiment.peft.memory",
            "Training took {full:,.0f} MB with full fine-tuning, {lora:,.0f} MB with LoRA and {qlora:,.0f} MB with "
            "QLoRA (peak above the process before the model was loaded), as the lecture says: full fine-tuning "
            "also held {states:,.0f} MB of gradients and AdamW states for all {n:,} parameters, LoRA only for "
            "{share:.1%} of them, and QLoRA kept the frozen weights in 4 bits ({qw:,.0f} MB instead of {lw:,.0f} MB).",
            **params)
    return Msg(
        "experiment.peft.memory_unordered",
        "Training memory did not fall in the lecture's order (full fine-tuning {full:,.0f} MB, LoRA {lora:,.0f} MB, "
        "QLoRA {qlora:,.0f} MB): in a 135M model the frozen weights are small ({lw:,.0f} MB for LoRA's base, "
        "{qw:,.0f} MB in 4 bits) beside the activations of a step, so the temporaries of a step (QLoRA "
        "dequantizes each weight as it multiplies) can outweigh the difference.", **params)


def _quality(full, lora, qlora) -> Msg:
    names = ("full fine-tuning", "LoRA", "QLoRA")
    scores = [_score(full), _score(lora), _score(qlora)]
    params = dict(full=scores[0], lora=scores[1], qlora=scores[2], prompts=lora.get("eval_prompts", 0),
                  steps=lora["steps"], share=lora["trainable_share"])
    if max(scores) - min(scores) <= CLOSE_SCORE:
        return Msg(
            "experiment.peft.quality_close",
            "The behaviour scores are close (full {full:.0%}, LoRA {lora:.0%}, QLoRA {qlora:.0%} of {prompts} "
            "held-out prompts): training {share:.2%} of the parameters taught the behaviour about as well as "
            "training all of them.", **params)
    best = " and ".join(n for n, x in zip(names, scores) if x == max(scores))
    worst = " and ".join(n for n, x in zip(names, scores) if x == min(scores))
    return Msg(
        "experiment.peft.quality_apart",
        "The behaviour scores differ (full {full:.0%}, LoRA {lora:.0%}, QLoRA {qlora:.0%}; lowest: {worst}): "
        "after {steps} steps on one small dataset, with one learning rate per method, this says more about "
        "those settings than about the methods — the lecture's 'comparable quality' is for tuned runs.",
        **params, best=best, worst=worst)


#: Methods that each lost fewer probes than this share, and moved the general-text loss less than
#: FORGOT_LOSS nats/token, barely changed what the model knew.
FORGOT_PROBES = 0.1
FORGOT_LOSS = 0.05


def _forgetting(full, lora, qlora) -> Msg:
    f = {k: r["forgetting_score"] for k, r in (("full", full), ("lora", lora), ("qlora", qlora))}
    d = {k: r["general_loss_change"] for k, r in (("full", full), ("lora", lora), ("qlora", qlora))}
    params = dict(f_full=f["full"], f_lora=f["lora"], f_qlora=f["qlora"], d_full=d["full"], d_lora=d["lora"],
                  d_qlora=d["qlora"], probes=full.get("probes", 0), steps=lora["steps"],
                  ratio=lora["learning_rate"] / full["learning_rate"])
    if max(f.values()) < FORGOT_PROBES and max(abs(x) for x in d.values()) < FORGOT_LOSS:
        return Msg(
            "experiment.peft.forgetting_little",
            "No method forgot much here (probes lost: full {f_full:.0%}, LoRA {f_lora:.0%}, QLoRA {f_qlora:.0%}; "
            "general-text loss change: {d_full:+.2f}, {d_lora:+.2f}, {d_qlora:+.2f} nats/token): {steps} steps at "
            "these learning rates barely move the model; the lecture's claim is about long training, where every "
            "weight drifts.", **params)
    if f["full"] > max(f["lora"], f["qlora"]) and d["full"] >= max(d["lora"], d["qlora"]):
        return Msg(
            "experiment.peft.forgetting_more",
            "Full fine-tuning disturbed more of what the model knew: it lost {f_full:.0%} of the {probes} probes "
            "it answered right and its loss on general text changed by {d_full:+.2f} nats/token, against "
            "{f_lora:.0%} and {d_lora:+.2f} for LoRA and {f_qlora:.0%} and {d_qlora:+.2f} for QLoRA.", **params)
    return Msg(
        "experiment.peft.forgetting_adapters_too",
        "Here the adapters forgot as much as full fine-tuning or more (probes lost: full {f_full:.0%}, LoRA "
        "{f_lora:.0%}, QLoRA {f_qlora:.0%}; general-text loss change: {d_full:+.2f}, {d_lora:+.2f}, "
        "{d_qlora:+.2f} nats/token): at {ratio:g}x full fine-tuning's learning rate, on every linear layer, "
        "{steps} steps of LoRA changed the answers as much. LoRA forgets less at the same quality and "
        "learning budget; this run does not show it.", **params)


def _rank(rows, settings) -> list[Msg]:
    rows = sorted(rows, key=lambda r: r["r"])
    lo, hi = rows[0], rows[-1]
    out = [Msg(
        "experiment.rank.params",
        "Trainable parameters grow in proportion to r: {p_lo:,} at r = {r_lo} and {p_hi:,} at r = {r_hi} "
        "({share_hi:.2%} of the model).",
        p_lo=lo["trainable_params"], r_lo=lo["r"], p_hi=hi["trainable_params"], r_hi=hi["r"],
        share_hi=hi["trainable_share"])]
    best = max(rows, key=_score)
    params = dict(s_lo=_score(lo), r_lo=lo["r"], s_best=_score(best), r_best=best["r"], steps=lo["steps"])
    if _score(best) - _score(lo) <= CLOSE_SCORE:
        out.append(Msg(
            "experiment.rank.low_enough",
            "Rank {r_lo} already reached a behaviour score of {s_lo:.0%} (best: {s_best:.0%} at r = {r_best}): "
            "the change this behaviour needs is low-rank, as LoRA assumes.", **params))
    else:
        out.append(Msg(
            "experiment.rank.higher_helped",
            "Here a higher rank helped: {s_lo:.0%} at r = {r_lo} against {s_best:.0%} at r = {r_best}. With only "
            "{steps} steps a small rank has fewer parameters to move at each step; the lecture's claim is about "
            "what training reaches, not how fast.", **params))
    spec = hi.get("svd")
    if spec:
        used = spec["directions_90"]
        code, text = (("experiment.rank.directions_few",
                       "At r = {r}, the update ΔW of {module} has {nonzero} non-zero singular values (never more "
                       "than r), and {used} of them carry 90 % of it: it uses far fewer directions than it may.")
                      if used <= spec["r"] / 2 else
                      ("experiment.rank.directions_many",
                       "At r = {r}, the update ΔW of {module} has {nonzero} non-zero singular values (never more "
                       "than r), and {used} of them carry 90 % of it: in this short run it spread over most of "
                       "the directions it may use (random A at the start, few steps to concentrate)."))
        out.append(Msg(code, text, r=spec["r"], module=spec["module"], nonzero=spec["nonzero"], used=used))
    return out


def _masking(rows, settings) -> list[Msg]:
    c = _by(rows)
    if not {"completion", "none"} <= c.keys():
        return []
    comp, none = c["completion"], c["none"]
    out = [Msg(
        "experiment.masking.share",
        "Completion-only training put the loss on {c:.0%} of the tokens it read; training on every token on "
        "{n:.0%}, the prompts too. Their training losses ({lc:.2f} and {ln:.2f}) are not comparable: each is "
        "an average over different tokens.",
        c=comp["trained_tokens_share"], n=none["trained_tokens_share"], lc=comp["final_loss"], ln=none["final_loss"])]
    pc, pn = comp.get("prompt_loss"), none.get("prompt_loss")
    if pc is not None and pn is not None:
        learned = pn < pc - CLOSE_LOSS
        out.append(Msg(
            "experiment.masking.prompts_learned" if learned else "experiment.masking.prompts_not_learned",
            ("On held-out chats the model trained on every token predicts the prompt tokens better ({pn:.2f} "
             "against {pc:.2f} nats/token): it learned to write prompts, not only replies. In the samples, "
             "{sample}.") if learned else
            ("On held-out chats both models predict the prompt tokens about as well ({pn:.2f} and {pc:.2f} "
             "nats/token): {steps} steps did not yet teach the prompts. In the samples, {sample}."),
            pn=pn, pc=pc, steps=none["steps"], sample=_sample_fact(comp, none, settings)))
    sc, sn = _score(comp), _score(none)
    out.append(Msg(
        "experiment.masking.behaviour_completion" if sc > sn + CLOSE_SCORE else "experiment.masking.behaviour_close",
        ("Behaviour: {c:.0%} with completion-only loss, {n:.0%} with loss on every token — the reply learns "
         "more when the loss is not spent on the prompt.") if sc > sn + CLOSE_SCORE else
        ("Behaviour: {c:.0%} with completion-only loss, {n:.0%} with loss on every token: close, since "
         "{share:.0%} of the tokens are reply here, so the reply gets most of the loss either way."),
        c=sc, n=sn, share=comp["trained_tokens_share"]))
    return out


def _sample_fact(comp, none, settings) -> Msg:
    """What the two samples show after the reply, as a phrase (a Msg inside the sentence)."""
    sc, sn = comp.get("sample", {}), none.get("sample", {})
    user_c, user_n = "user" in sc.get("turns_after_reply", []), "user" in sn.get("turns_after_reply", [])
    tokens = getattr(settings, "sample_tokens", 0)
    if user_n and not user_c:
        return Msg("experiment.masking.sample.none_turn", "only the model trained on every token went on after its "
                   "reply into a new user turn (<|im_start|>user)")
    if user_n and user_c:
        return Msg("experiment.masking.sample.both_turns", "both models went on after their reply into a new user "
                   "turn, as this chat model's base does when nothing stops it at <|im_end|>")
    if not sn.get("ended_reply", True):
        return Msg("experiment.masking.sample.none_no_end", "the model trained on every token did not end its reply "
                   "within {tokens} tokens", tokens=tokens)
    if user_c:
        return Msg("experiment.masking.sample.completion_turn", "the completion-only model went on after its reply "
                   "into a new user turn (as this chat model's base does), the other did not")
    return Msg("experiment.masking.sample.neither", "neither model went on past the end of its reply")
