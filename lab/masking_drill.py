"""The failure drill: how string-searched response templates silently lose the response.

Older SFT recipes found where the response starts by tokenizing a *response template* alone and
searching its token ids in each tokenized example. This module reproduces that method next to
:func:`lab.masking.build_labels` (which renders chat-template prefixes instead), so the tab can
show the two label sets on the same example.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab import checks
from lab.errors import LabError, Msg
from lab.masking import IGNORE_INDEX, LabeledExample

#: Response templates people pass to string-searching collators, with where they come from (a phrase:
#: ``str()`` is the English, the app's catalog says it in another language).
DRILL_TEMPLATES = {
    "<|im_start|>assistant\n": Msg("masking_drill.source.chatml", "this model's own ChatML header"),
    "### Answer:": Msg("masking_drill.source.trl_docs", "TRL's old docs example (\"### Question: ... ### Answer: ...\")"),
    "### Response:": Msg("masking_drill.source.alpaca", "Alpaca-style tutorials"),
    "<|assistant|>\n": Msg("masking_drill.source.zephyr", "Zephyr / Phi-3 chat format"),
    "[/INST]": Msg("masking_drill.source.llama2", "Llama 2 / Mistral chat format"),
}
MAX_TEMPLATE_CHARS = 1_000
"""A response template is a few tokens; this bounds what a pasted one costs to tokenize and search."""


@dataclass
class DrillResult:
    """What a string-searching collator does with one sequence."""

    template: str
    template_ids: list[int]  # the template tokenized ALONE
    found_at: int | None  # start of the last match, None if not found
    labels: list[int]
    n_trained: int
    reply_ids: list[int]  # the tokens at the reply's start in context, for comparison


def string_search_labels(tokenizer, example: LabeledExample, response_template: str) -> DrillResult:
    """Labels the way older tools found the response: search the template's token ids in the sequence.

    This re-implements the logic of TRL's ``DataCollatorForCompletionOnlyLM`` (deprecated in TRL 0.19,
    removed in 0.20 by huggingface/trl#3704). Unsloth's ``train_on_responses_only`` also searches the
    token ids of template strings, and FastChat adds up lengths of separately tokenized parts (on a
    mismatch it masks the whole example):

        template_ids = tokenizer.encode(response_template, add_special_tokens=False)
        find the LAST i with input_ids[i : i + len(template_ids)] == template_ids
        found:     labels[: i + len(template_ids)] = -100, the rest = input_ids
        not found: a warning in the log, and EVERY label = -100 (the example trains nothing)

    The template tokenized alone need not match the same text tokenized in context: a byte-level
    BPE merges across the boundary (``"\\n" + "  code" -> "\\n " + " code"``; ``" ###"`` vs ``"###"``),
    and a template written for another model's format is simply absent.
    """
    checks.text("The response template", response_template, MAX_TEMPLATE_CHARS, required=False)
    if not response_template:
        raise LabError("masking_drill.no_template",
                       "Give a response template to search for (for example '<|im_start|>assistant\\n').")
    tids = tokenizer.encode(response_template, add_special_tokens=False)
    ids = example.input_ids
    m = len(tids)
    found = None
    for i in range(len(ids) - m + 1):
        if ids[i: i + m] == tids:
            found = i  # keep the last match, as the collator does
    if found is None:
        labels = [IGNORE_INDEX] * len(ids)
    else:
        cut = found + m
        labels = [IGNORE_INDEX] * cut + list(ids[cut:])
    n_trained = sum(1 for lab in labels[1:] if lab != IGNORE_INDEX)
    last = [s for s in example.spans if s.role == "assistant"][-1]
    reply_ids = list(ids[last.start: min(last.content_start + 2, len(ids))])
    return DrillResult(response_template, tids, found, labels, n_trained, reply_ids)
