"""Cost of the gradient-flow probe on a student's own model (seqviz.yours.gradients) against one training
step of the same model (seqviz.yours.user_run): an nn.LSTM module, and a hand-written LSTM cell with mark().

    .venv/bin/python benchmarks/bench_yours_gradients.py [T] [H] [B]

Prints milliseconds per probe (float64 copy, unrolled recomputation, autograd on the probe tensors) and
per training step (fused kernel or the cell's own loop, Adam), one thread."""

import sys
import time

import torch
from torch import nn

from seqviz.data.tasks import get_task
from seqviz.yours.gradients import mark, probe_gradients
from seqviz.yours.training import user_run


class MyLSTM(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.lstm = nn.LSTM(2, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1]).squeeze(-1)


class MyLSTMCell(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.H = hidden
        self.gates = nn.Linear(2 + hidden, 4 * hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        h = c = x.new_zeros(x.shape[0], self.H)
        for t in range(x.shape[1]):
            f, i, g, o = self.gates(torch.cat([x[:, t], h], dim=1)).chunk(4, dim=1)
            c = mark(torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g), kind="c")
            h = mark(torch.sigmoid(o) * torch.tanh(c))
        return self.head(h).squeeze(-1)


def main(T=100, H=32, B=32, reps=5):
    torch.set_num_threads(1)
    data = get_task("adding").sample(16 * B, T, torch.Generator().manual_seed(0))
    x, y = data.x[:B], data.y[:B]
    for cls in (MyLSTM, MyLSTMCell):
        torch.manual_seed(0)
        m = cls(H)
        probe_gradients(m, x, y)  # warm-up
        t = time.perf_counter()
        for _ in range(reps):
            probe_gradients(m, x, y)
        tp = (time.perf_counter() - t) / reps
        run = user_run(m, (data.x, data.y), lr=3e-3, batch_size=B)
        run.step()
        t = time.perf_counter()
        for _ in range(2 * reps):
            run.step()
        ts = (time.perf_counter() - t) / (2 * reps)
        print(f"{cls.__name__:11s} T={T} H={H} B={B}: probe {tp * 1e3:6.1f} ms, training step {ts * 1e3:6.1f} ms")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
