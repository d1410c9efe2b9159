"""The attention probe on a student's model (``seqviz.yours.attention.capture_attention``): what one
capture costs next to a plain forward pass of the same model on the same inputs, and one training
step of the lesson's tiny transformer (``user_run``), on this machine's CPU, one thread.

Run:  .venv/bin/python benchmarks/bench_yours_attention.py
Prints median milliseconds over ``N`` repeats for: the lesson 06 model (embedding, one
nn.TransformerEncoderLayer d=32, 4 heads, T=8; 4 sequences shown) and a bigger one (2 layers, d=128,
8 heads, T=64, 8 sequences): plain eval forward (the fused fast path), the capture, one train step.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from seqviz.yours.attention import capture_attention  # noqa: E402
from seqviz.yours.training import user_run  # noqa: E402

N = 50


def median_ms(fn, n: int = N) -> float:
    fn()  # warm
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def case(name: str, d: int, heads: int, layers: int, T: int, shown: int) -> None:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d, heads, 2 * d, dropout=0.0, batch_first=True)
    model = nn.Sequential(nn.Embedding(6, d), nn.TransformerEncoder(layer, layers, enable_nested_tensor=False),
                          nn.Linear(d, T + 1))
    x = torch.randint(0, 6, (512, T))
    y = (x[:, :, None] == x[:, None, :]).sum(-1)
    view = x[:shown]
    model.eval()

    def plain():
        with torch.no_grad():
            model(view)

    t_plain = median_ms(plain)
    t_cap = median_ms(lambda: capture_attention(model, view))
    run = user_run(model, (x, y), lr=3e-3)
    t_step = median_ms(run.step, n=20)
    print(f"{name:<40} plain forward {t_plain:7.2f} ms | capture {t_cap:7.2f} ms | train step (32 rows) "
          f"{t_step:7.2f} ms")


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, median of {N} (train step: of 20)")
    case("lesson 06 (d=32, 4 heads, T=8)", 32, 4, 1, 8, 4)
    case("bigger (2 layers, d=128, 8 heads, T=64)", 128, 8, 2, 64, 8)
