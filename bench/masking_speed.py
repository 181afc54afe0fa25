"""How fast the SFT masking tab answers on a 512-token example, against a plain model forward.

Run: HF_HUB_OFFLINE=1 .venv/bin/python bench/masking_speed.py [--tokens 512] [--repeat 5]

Prints median wall times, measured in one process on the real bundled model:
- the peer: a plain ``model(input_ids)`` forward over the same 512 tokens (fp32);
- ``build_labels`` alone (it runs once per training row in the QLoRA tab);
- ``token_losses`` in fp32 and under bf16 autocast (the tab uses ``models.compute_dtype()``: bf16
  where the CPU has native bf16), and how far apart their losses are;
- the tab's handler: its first answer (labels, strip, counts, drill, no model) and the whole answer
  with losses (cold cache), and a masking-mode switch (losses cached: no model run).
The target is the whole answer under 1 s. The machine's load average is printed: the CPU is shared.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from _timing import median_s  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=512, help="tokens in the example")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (median)")
    args = ap.parse_args()

    from lab import masking, models
    from lab.ui import masking as ui

    tok, model = models.shared_tokenizer(), models.shared_model()
    # A two-turn chat long enough to be cut at exactly --tokens tokens by the tab's truncation.
    reply = " ".join(f"Step {i}: keep the loss on the reply and mask the prompt." for i in range(200))
    prompt = "Explain loss masking in supervised fine-tuning, step by step."
    ex = masking.build_labels(tok, masking.prompt_response_messages(prompt, reply), max_length=args.tokens)
    assert ex.n_tokens == args.tokens, ex.n_tokens
    ids = torch.tensor([ex.input_ids])
    msgs = masking.prompt_response_messages(prompt, reply)
    print(f"example: {ex.n_tokens} tokens ({ex.n_trained} trained); torch threads: {torch.get_num_threads()}; "
          f"cpus: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}")

    def forward():
        with torch.inference_mode():
            model(input_ids=ids)

    def handler(mode="completion"):
        return list(ui.show(ui.OWN, 1, prompt, reply, "", "", mode, "bundled", "<|im_start|>assistant\n"))

    def first_answer():
        return next(iter(ui.show(ui.OWN, 1, prompt, reply, "", "", "none", "bundled", "### Response:")))

    clear = ui._losses_cached.cache_clear
    peer = median_s(forward, args.repeat)
    rows = [
        ("build_labels (completion mode)", median_s(lambda: masking.build_labels(tok, msgs, max_length=args.tokens), args.repeat)),
        ("token_losses fp32", median_s(lambda: masking.token_losses(model, tok, ex), args.repeat)),
        ("token_losses bf16 autocast", median_s(lambda: masking.token_losses(model, tok, ex, torch.bfloat16), args.repeat)),
        ("tab: first answer (labels, strip, drill)", median_s(first_answer, args.repeat)),
        ("tab: whole answer, cold cache", median_s(handler, args.repeat, before=clear)),
        ("tab: switch masking mode (losses cached)", median_s(lambda: handler("assistant"), args.repeat)),
    ]
    print(f"{'what':<44}{'median s':>10}{'x forward':>11}")
    print(f"{'peer: model(input_ids) fp32 forward':<44}{peer:>10.3f}{1.0:>11.2f}")
    for name, s in rows:
        print(f"{name:<44}{s:>10.3f}{s / peer:>11.2f}")
    fp32 = masking.token_losses(model, tok, ex)
    bf16 = masking.token_losses(model, tok, ex, torch.bfloat16)
    diff = max(abs(a - b) for a, b in zip(fp32.losses[1:], bf16.losses[1:]))
    print(f"bf16 vs fp32: max per-token loss difference {diff:.4f} nats; masked mean "
          f"{bf16.masked_loss:.4f} vs {fp32.masked_loss:.4f}; the tab uses {ui.loss_dtype() or 'fp32'}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
