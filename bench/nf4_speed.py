"""How fast the NF4 explorer answers on a 1-million-value tensor, against bitsandbytes.

Run: HF_HUB_OFFLINE=1 .venv/bin/python bench/nf4_speed.py [--n 1048576] [--repeat 7]

Prints the median wall time of lab.nf4's quantize / dequantize next to bitsandbytes'
quantize_4bit / dequantize_4bit on the same tensor in the same process (their ratio), then the
tab's whole answer: quantize + dequantize + errors + block zoom + histogram drawn to PNG (the
target is under 1 s), and the NF4/FP4/INT4 sweep over 8 block sizes that follows it.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from _timing import median_s  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_048_576, help="values in the tensor")
    ap.add_argument("--repeat", type=int, default=7, help="timed runs per measurement (median)")
    args = ap.parse_args()

    import bitsandbytes.functional as bnbf
    from matplotlib.figure import Figure

    from lab import nf4
    from lab.ui import nf4 as ui

    x = torch.randn(args.n, generator=torch.Generator().manual_seed(0)) * 0.02
    print(f"tensor: {args.n:,} fp32 values; torch threads: {torch.get_num_threads()}; "
          f"cpus: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}")
    print(f"{'what':<44}{'lab.nf4':>10}{'bnb':>10}{'lab/bnb':>9}")
    for qt in ("nf4", "fp4"):
        for dq in (False, True):
            packed, state = nf4.quantize(x, 64, qt, dq)
            bp, bs = bnbf.quantize_4bit(x, blocksize=64, quant_type=qt, compress_statistics=dq)
            assert torch.equal(packed, bp), "packed bytes differ from bitsandbytes"
            rows = [
                (f"quantize {qt}{' + DQ' if dq else ''}", lambda: nf4.quantize(x, 64, qt, dq),
                 lambda: bnbf.quantize_4bit(x, blocksize=64, quant_type=qt, compress_statistics=dq)),
                (f"dequantize {qt}{' + DQ' if dq else ''}", lambda: nf4.dequantize(packed, state),
                 lambda: bnbf.dequantize_4bit(bp, bs)),
            ]
            for name, ours, theirs in rows:
                a, b = median_s(ours, args.repeat), median_s(theirs, args.repeat)
                print(f"{name:<44}{1000 * a:>8.1f}ms{1000 * b:>8.1f}ms{a / b:>8.2f}x")

    def render(fig: Figure) -> None:
        fig.savefig(io.BytesIO(), format="png")  # what gr.Plot does with a matplotlib figure

    inputs = ("synthetic", 0, "q_proj", "normal", args.n, 0)

    def answer():
        out = ui.explore(*inputs, "64", "nf4", False, 3)
        render(out[1])

    def answer_dq():
        out = ui.explore(*inputs, "64", "nf4", True, 3)
        render(out[1])

    def compare():
        out = ui.sweep(*inputs, False, None)
        render(out[1])

    a, b = median_s(answer, args.repeat), median_s(lambda: bnbf.quantize_4bit(x, blocksize=64, quant_type="nf4"),
                                                     args.repeat)
    print(f"{'tab answer: quantize, errors, zoom, draw':<44}{1000 * a:>8.1f}ms{1000 * b:>8.1f}ms{a / b:>8.2f}x"
          f"   (bnb column: quantize_4bit alone)")
    print(f"{'tab answer with double quantization':<44}{1000 * median_s(answer_dq, args.repeat):>8.1f}ms")
    print(f"{'then: sweep 3 types x 8 block sizes, draw':<44}{1000 * median_s(compare, max(1, args.repeat // 3)):>8.1f}ms")
    print(f"target: tab answer under 1000 ms -> {'met' if a < 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
