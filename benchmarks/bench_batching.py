"""Padded vs packed vs sorted LSTM forward+backward on a heavy-tailed data set, why packing
is slower on a CPU (op-level profile, growth with T), and the dashboard's browser timings.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_batching.py [--quick] [--no-browser]

Prints tables; finishes in about 2-3 minutes on 2 shared cores. Timings are the fastest
of the repeats (least disturbed by other processes on the machine).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from seqviz.data.batching import LengthConfig, bucket_by_length, pack, padding_waste, random_batches, sample_lengths  # noqa: E402
from seqviz.devices import configure_threads, pick_device  # noqa: E402
from seqviz.probes.packing import TimingConfig, packed_cpu_backward_bytes, time_lstm  # noqa: E402


def header(title: str) -> None:
    print(f"\n== {title}", flush=True)


def lstm_table(n: int, max_len: int, hidden: int, batch: int, reps: int) -> None:
    info = pick_device()
    g = torch.Generator().manual_seed(0)
    lengths = sample_lengths(LengthConfig(kind="heavy", n=n, min_len=3, max_len=max_len), g)
    rnd, srt = random_batches(n, batch, g), bucket_by_length(lengths, batch)
    header(f"LSTM forward+backward, H={hidden}, D=32, N={n} heavy-tailed lengths (median "
           f"{int(lengths.median())}, max {int(lengths.max())}), batches of {batch}, on {info.label}, "
           f"torch {torch.__version__}")
    for name, b in (("shuffled", rnd), ("sorted", srt)):
        w = padding_waste(lengths, b, dim=32)
        print(f"  {name:8s} batches: {len(b)}, padded cells {w.padded_cells:,}, real {w.real_cells:,}, "
              f"padding {100 * w.share:.1f}% ({w.pad_bytes / 2**20:.1f} MiB of float32 inputs)")
    variants = {"padded, shuffled": (rnd, False), "packed, shuffled": (rnd, True),
                "padded, sorted": (srt, False), "packed, sorted": (srt, True)}
    res = time_lstm(lengths, variants, TimingConfig(hidden=hidden, dim=32, reps=reps), g, info.device, info.label)
    print(f"  {'variant':18s} {'ms':>9s} {'cells':>10s} {'us/cell':>8s}")
    for r in res:
        print(f"  {r.name:18s} {r.ms:9.0f} {r.cells:10,} {1000 * r.ms / r.cells:8.2f}")
    t = {r.name: r.ms for r in res}
    print(f"  packed/padded: shuffled {t['packed, shuffled'] / t['padded, shuffled']:.1f}x, "
          f"sorted {t['packed, sorted'] / t['padded, sorted']:.1f}x; sorted padded vs shuffled padded "
          f"{t['padded, shuffled'] / t['padded, sorted']:.1f}x faster")
    for name, b in (("shuffled", rnd), ("sorted", srt)):
        print(f"  zero-filled by the packed backward's slices ({name}): "
              f"{packed_cpu_backward_bytes(lengths, b, hidden) / 2**30:.2f} GiB")


def one_batch(lengths, hidden, packed, backward=True, mkldnn=True):
    torch.manual_seed(0)
    lstm = nn.LSTM(32, hidden, batch_first=True)
    x = torch.randn(len(lengths), int(lengths.max()), 32)
    with torch.backends.mkldnn.flags(enabled=mkldnn):
        t0 = time.perf_counter()
        if packed:
            out = lstm(pack(x, lengths))[0].data
        else:
            mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]
            out = lstm(x)[0][mask]
        if backward:
            out.sum().backward()
        return 1000 * (time.perf_counter() - t0)


def growth_table(hidden: int, Ts) -> None:
    header(f"Why: one batch of 64 with lengths uniform in [1, T] (one sequence of length T), H={hidden}; "
           "fastest of 2, ms")
    print(f"  {'T':>4s} {'padded':>8s} {'padded no-oneDNN':>17s} {'packed':>8s} {'packed fwd only':>16s} "
          f"{'padded fwd only':>16s} {'packed/padded':>14s} {'slice-grad GiB':>15s}")
    g = torch.Generator().manual_seed(1)
    for T in Ts:
        L = torch.randint(1, T + 1, (64,), generator=g)
        L[0] = T
        reps = 1 if T >= 400 else 2  # one run at the largest T keeps the bench under ~3 minutes
        best = lambda **k: min(one_batch(L, hidden, **k) for _ in range(reps))  # noqa: E731
        pad_ms, pad_native = best(packed=False), best(packed=False, mkldnn=False)
        pk_ms, pk_f, pad_f = best(packed=True), best(packed=True, backward=False), best(packed=False, backward=False)
        gib = packed_cpu_backward_bytes(L, [torch.arange(64)], hidden) / 2**30
        print(f"  {T:4d} {pad_ms:8.0f} {pad_native:17.0f} {pk_ms:8.0f} {pk_f:16.0f} {pad_f:16.0f} "
              f"{pk_ms / pad_ms:14.1f} {gib:15.2f}", flush=True)
    L = torch.full((64,), Ts[-1])
    pad_ms, pk_ms = (min(one_batch(L, hidden, p) for _ in range(2)) for p in (False, True))
    print(f"  equal lengths T={Ts[-1]}: padded {pad_ms:.0f} ms, packed {pk_ms:.0f} ms "
          "(a packed batch of equal lengths runs the oneDNN kernel too)")


def profile_table(hidden: int, T: int) -> None:
    from torch.profiler import ProfilerActivity, profile

    header(f"Where the time goes (torch.profiler, one batch of 64, lengths uniform in [1, {T}], H={hidden})")
    g = torch.Generator().manual_seed(2)
    L = torch.randint(1, T + 1, (64,), generator=g)
    L[0] = T
    for packed in (False, True):
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            one_batch(L, hidden, packed)
        ev = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: -e.self_cpu_time_total)
        total = sum(e.self_cpu_time_total for e in ev)
        print(f"  {'packed' if packed else 'padded'}: total self CPU {total / 1000:.0f} ms (with profiler overhead)")
        big = sum(e.self_cpu_time_total for e in ev if e.input_shapes and e.input_shapes[0][:1] == [int(L.sum())])
        if packed:
            print(f"    ops on whole-batch (N, 4H) tensors: {100 * big / total:.0f}% of the time; "
                  f"{sum(e.count for e in ev):,} op calls in all (padded: a handful)")
        for e in ev[:4]:
            print(f"    {e.key:34s} {100 * e.self_cpu_time_total / total:5.1f}%  calls {e.count:5d}  "
                  f"shapes {str(e.input_shapes)[:60]}")
    print(f"  sum of lengths N={int(L.sum())}, 4H={4 * hidden}: the fill_ calls are zero (N, 4H) gradients, one "
          "per step")


def browser_table(repeats: int) -> None:
    header("Browser: first render and control-to-plot latency (Voila + headless Chromium, 1400x1000)")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from browser_timing import browser, first_render, kernel_rss_mb, open_page, serve, slider_handle, summary
    from browser_timing import control_latency as latency

    nb = "01_sequences_as_tensors.ipynb"
    with serve() as base, browser() as b:
        fr = first_render(b, base, nb, repeats=repeats, n_plots=3)
        print(f"  first render, cold kernel ({repeats} runs): median {statistics.median(fr):.2f} s, "
              f"all {', '.join(f'{x:.2f}' for x in fr)} s")
        page = open_page(b, base, nb, n_plots=3)
        handle = slider_handle(page, "Packed step t")
        step = lambda i: handle.press("ArrowRight" if i % 10 < 5 else "ArrowLeft")  # noqa: E731
        print(f"  step slider -> packed grid, idle: {summary(latency(page, step, 'packed', 'z'))} ms")
        side = lambda i: page.get_by_role("button", name="left" if i % 2 == 0 else "right", exact=True).click()  # noqa: E731
        print(f"  pad side -> whole batch rebuilt (8 sentences), idle: "
              f"{summary(latency(page, side, 'grid', 'z', n=12))} ms")
        page.get_by_role("button", name="random lengths").click()
        page.wait_for_timeout(1500)
        print(f"  pad side -> whole batch rebuilt (random lengths, N=256, max 120), idle: "
              f"{summary(latency(page, side, 'grid', 'z', n=12))} ms")
        page.get_by_role("button", name="Measure").click()
        page.wait_for_timeout(300)
        busy = latency(page, step, "packed", "z", n=15)
        print(f"  step slider -> packed grid while Measure runs in its thread: {summary(busy)} ms")
        page.wait_for_function("() => document.body.innerText.includes('Measured on')", timeout=120_000)
        rss = kernel_rss_mb(base.pid)
        print(f"  kernel memory (RSS) after measuring: {', '.join(f'{x:.0f}' for x in rss) or 'not found'} MB")
        page.close()


_PEAK = "int([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]) / 1024"  # MB; resets on exec

_ONE_BATCH = """
import sys, torch
from torch import nn
from seqviz.data.batching import pack
mode, T = sys.argv[1], int(sys.argv[2])
g = torch.Generator().manual_seed(2)
L = torch.randint(1, T + 1, (64,), generator=g); L[0] = T
lstm = nn.LSTM(32, 256, batch_first=True)
x = torch.randn(64, T, 32)
out = lstm(pack(x, L))[0].data if mode == 'packed' else lstm(x)[0][torch.arange(T)[None, :] < L[:, None]]
fwd = PEAK
out.sum().backward()
print(fwd, PEAK)
""".replace("PEAK", _PEAK)


def _python(code: str, *args: str) -> str:
    import subprocess

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=root, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"})
    return out.stdout.strip().splitlines()[-1] if out.returncode == 0 else f"failed: {out.stderr[-300:]}"


def memory_table() -> None:
    """Peak RSS (VmHWM) of fresh processes: a kernel-like one, and one LSTM batch padded vs packed."""
    header("Memory (peak RSS of a fresh process, VmHWM)")
    code = ("import torch; from widgets.batching import dashboard; d = dashboard(); "
            f"d.c['measure'].click(); d.worker._thread.join(120); print({_PEAK})")
    print(f"  kernel-like process (imports, dashboard(), Measure): {float(_python(code)):.0f} MB")
    for T in (200, 400):
        (pf, pb), (kf, kb) = (map(float, _python(_ONE_BATCH, m, str(T)).split()) for m in ("padded", "packed"))
        print(f"  one batch of 64, lengths uniform in [1, {T}], H=256: after forward padded {pf:.0f} / packed "
              f"{kf:.0f} MB; after backward padded {pb:.0f} / packed {kb:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes (about 30 s)")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--only", choices=("lstm", "growth", "profile", "memory", "browser"), help="run one part")
    a = ap.parse_args()
    configure_threads()
    print(f"bench_batching: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}; the machine may be shared")
    run = lambda part: a.only in (None, part)  # noqa: E731
    if run("lstm"):
        lstm_table(**(dict(n=128, max_len=200, hidden=128, batch=32, reps=1) if a.quick else
                      dict(n=512, max_len=400, hidden=256, batch=64, reps=2)))
    if run("growth"):
        growth_table(128, (25, 50, 100)) if a.quick else growth_table(256, (25, 50, 100, 200, 400))
    if run("profile"):
        profile_table(128, 100) if a.quick else profile_table(256, 200)
    if run("memory"):
        memory_table()
    if run("browser") and not a.no_browser:
        browser_table(repeats=3)


if __name__ == "__main__":
    main()
