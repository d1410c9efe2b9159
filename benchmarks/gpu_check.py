"""Every dashboard's engine work on two devices (CUDA and CPU by default): do they agree, and how fast?

    python benchmarks/gpu_check.py                    # cuda vs cpu; without CUDA: says so, exits 0
    python benchmarks/gpu_check.py --devices cpu,cpu  # the comparison logic itself, on any machine
    python benchmarks/gpu_check.py --lessons          # also every lesson headless with SEQVIZ_DEVICE=cuda

For each check the same seeded models (initialised on the CPU, then moved) see the same seeded
batches (drawn on the CPU, then moved) on both devices. Compared: forward outputs and losses at
initialisation, the per-step gradient probe (float64), gate traces and attention weights at
initialisation, then loss and global gradient norm of each of the first STEPS updates. It prints
the largest error of each comparison in units of its tolerance (<= 1 passes), a table of steps
per second on each device, and with CUDA each GPU preset's steps per second and peak GPU memory.
Exit status 1 on any disagreement or error, 0 otherwise.

Tolerances (float32 models): TF32 is switched off for the check (cuDNN uses it for convolutions
and RNNs by default, a 10-bit mantissa), so what is left is float32 rounding in other summation
orders and fused kernels: ~6e-8 relative per operation, accumulated over up to 100 recurrent steps.
- INIT (rtol 1e-4, atol 1e-5): one forward pass from identical weights;
- PROBE (rtol 1e-6, atol 1e-12): the gradient probe unrolls in float64;
- TRAJECTORY (rtol 5e-3, atol 1e-5): losses and gradient norms over STEPS Adam updates; Adam's first
  steps divide by |g|, so gradient components near zero amplify rounding into the weights.
These are stated, not yet measured on a GPU: the printed errors are what to set them from.

Imports torch, numpy and seqviz's engine only (no plotly, ipywidgets or Voila): it runs on a bare
GPU machine. Counting (the Markov lesson) runs on the CPU only, and is timed once.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

STEPS = 5  # updates compared
TIME_S = 2.0  # seconds of further steps timed per check and device (at most TIME_STEPS)
TIME_STEPS = 200
TF32_DEFAULTS = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
INIT = (1e-4, 1e-5)
PROBE = (1e-6, 1e-12)
TRAJECTORY = (5e-3, 1e-5)


@dataclass
class Outcome:
    """What one check computed on one device: named arrays with their tolerance, and a speed."""
    arrays: dict[str, tuple[np.ndarray, tuple[float, float]]] = field(default_factory=dict)
    steps_per_s: float | None = None
    note: str = ""

    def add(self, name: str, value, tol: tuple[float, float]) -> None:
        if isinstance(value, torch.Tensor):
            value = value.detach().double().cpu().numpy()
        self.arrays[name] = (np.asarray(value, dtype=np.float64), tol)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def worst(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> float:
    """The largest |a - b| / (atol + rtol |b|): <= 1 means every element agrees. Shapes must match;
    NaN agrees with NaN only (and inf with the same inf)."""
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.where(same, 0.0, np.abs(a - b) / (atol + rtol * np.abs(b)))
    err = np.where(np.isnan(err), np.inf, err)
    return float(err.max())


def compare(x: Outcome, y: Outcome) -> list[tuple[str, float]]:
    """(name, worst error in tolerance units) for every array of ``x``; one missing in ``y`` is inf."""
    out = []
    for name, (a, (rtol, atol)) in x.arrays.items():
        b = y.arrays.get(name, (None, None))[0]
        out.append((name, float("inf") if b is None else worst(a, b, rtol, atol)))
    return out


def timed(device: torch.device, step, seconds: float = TIME_S, most: int = TIME_STEPS) -> float:
    """Steps per second of ``step()`` over about ``seconds`` (after the compared steps: warm)."""
    sync(device)
    t0, n = time.perf_counter(), 0
    while n < most and time.perf_counter() - t0 < seconds:
        step()
        n += 1
    sync(device)
    return n / (time.perf_counter() - t0)


def record_run(out: Outcome, run, prefix: str = "") -> None:
    """The first STEPS updates' losses and gradient norms of every model of a ``Run``."""
    for k, h in run.history.items():
        out.add(f"{prefix}{k}: losses", h.loss[:STEPS], TRAJECTORY)
        out.add(f"{prefix}{k}: gradient norms", h.metrics["grad_norm"][:STEPS], TRAJECTORY)


def init_losses(out: Outcome, run, prefix: str = "") -> None:
    """Every model's loss on one seeded batch before training (a forward pass)."""
    batch = run.batch_fn(torch.Generator().manual_seed(1234))
    with torch.no_grad():
        for k, m in run.models.items():
            out.add(f"{prefix}{k}: loss at init", run.loss_fn(m, batch)[0], INIT)


def train_and_time(out: Outcome, run, device: torch.device, prefix: str = "") -> None:
    init_losses(out, run, prefix)
    for _ in range(STEPS):
        run.step()
    record_run(out, run, prefix)
    out.steps_per_s = timed(device, run.step)


# -- the checks: one per dashboard's engine work ----------------------------------------------------
def check_gradient_flow(device: torch.device) -> Outcome:
    from seqviz.experiments import GradFlowConfig, build_gradflow_run
    from seqviz.probes.gates import gate_traces

    out = Outcome()
    run = build_gradflow_run(GradFlowConfig(T=50, probe_every=2), device, n_probe=8)
    pb = run.setup.probe_batch
    with torch.no_grad():
        for k, m in run.models.items():
            out.add(f"{k}: outputs at init", m(pb.x), INIT)
            tr = gate_traces(m, pb.x, [0] * len(pb.x))[0]
            out.add(f"{k}: gate trace h_t", tr.h, INIT)
            for g, v in tr.gates.items():
                out.add(f"{k}: gate {g}", v, INIT)
    init_losses(out, run)
    for _ in range(STEPS):
        run.step()
    record_run(out, run)
    for k, h in run.history.items():  # the per-step gradient probe, every 2nd step, before the update
        out.add(f"{k}: probe ||dL/dh_t|| at init", h.probes[0].h_norms, PROBE)
        out.add(f"{k}: probe ||dL/dh_t|| later", np.stack([p.h_norms for p in h.probes[1:]]), TRAJECTORY)
        if h.probes[0].c_norms is not None:
            out.add(f"{k}: probe ||dL/dc_t|| at init", h.probes[0].c_norms, PROBE)
    out.steps_per_s = timed(device, run.step)
    return out


def check_tcn_race(device: torch.device) -> Outcome:
    from seqviz.experiments.race import DEFAULT_RACE, RACE_PRESETS, Race
    from seqviz.models.tcn import TCNConfig

    out = Outcome()
    race = Race(RACE_PRESETS[DEFAULT_RACE], TCNConfig(), device)
    for k, run in race.runs.items():  # each model's own run: the race's scheduler follows the clock
        init_losses(out, run)
        for _ in range(STEPS):
            run.step()
        record_run(out, run)
    out.steps_per_s = timed(device, race.step)
    out.note = "race steps (one model each)"
    return out


def check_attention_seq2seq(device: torch.device) -> Outcome:
    from seqviz.experiments.attention import PRESETS, build_s2s

    out = Outcome()
    task, run = build_s2s(PRESETS["default"], device=device)
    pairs = task.sample(16, torch.Generator().manual_seed(99))
    with torch.no_grad():
        for k, m in run.models.items():
            logits, w = m(pairs.src.to(device), pairs.tgt.to(device))
            out.add(f"{k}: logits at init", logits, INIT)
            if w is not None:
                out.add(f"{k}: attention weights at init", w, INIT)
    train_and_time(out, run, device)
    return out


def check_attention_transformer(device: torch.device) -> Outcome:
    from seqviz.data.translation import CharData, char_corpus
    from seqviz.experiments.attention import PRESETS, build_lm

    out = Outcome()
    run = build_lm(PRESETS["default"], CharData.from_text(char_corpus()), device)
    x, _ = run.batch_fn(torch.Generator().manual_seed(7))
    model = run.models["transformer"]
    trace: list = []
    with torch.no_grad():
        out.add("transformer: logits at init", model(x, trace=trace), INIT)
    for i, layer in enumerate(trace):
        out.add(f"transformer: layer {i} attention weights at init", layer["weights"], INIT)
    train_and_time(out, run, device)
    return out


def check_packing(device: torch.device) -> Outcome:
    """The packing lesson's LSTM: packed and padded outputs, gradients, and its timing job."""
    from torch.nn.utils.rnn import pack_padded_sequence

    from seqviz.experiments.batching import SceneConfig, TimingJob, make_scene

    out = Outcome()
    scene = make_scene(SceneConfig(source="random", n=64, max_len=40))
    lengths, g = scene.lengths.long(), torch.Generator().manual_seed(3)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        lstm = torch.nn.LSTM(32, 128, batch_first=True)  # initialised on the CPU
    lstm = lstm.to(device)
    x = torch.randn(len(lengths), int(lengths.max()), 32, generator=g).to(device)
    packed, _ = lstm(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    out.add("packed LSTM outputs", packed.data, INIT)
    packed.data.sum().backward()
    out.add("packed LSTM weight gradient", lstm.weight_hh_l0.grad, INIT)
    mask = (torch.arange(x.shape[1])[None, :] < lengths[:, None]).to(device)
    out.add("padded LSTM outputs at real positions", lstm(x)[0][mask], INIT)
    job = TimingJob(scene, 64, device, str(device), reps=1)
    t0, n = time.perf_counter(), 0
    while not job.done:
        job.step()
        n += 1
    out.steps_per_s = n / (time.perf_counter() - t0)
    out.note = "timed variants"
    return out


def check_forecasting(device: torch.device) -> Outcome:
    from seqviz.data.series import load
    from seqviz.experiments.forecasting import preset_config, Forecast

    out = Outcome()
    f = Forecast(load("sunspots"), preset_config("cpu"), device)
    train_and_time(out, f.fit, device)
    return out


def check_charlm(device: torch.device) -> Outcome:
    from seqviz.experiments.charlm import build_charlm_run, load_corpus

    out = Outcome()
    corpus = load_corpus("names")
    for kind in ("lstm", "transformer"):
        run = build_charlm_run(corpus, kind, "cpu", device, evaluate=False)
        train_and_time(out, run, device, prefix=f"{kind} ")
    out.note = "transformer steps"
    return out


def check_embeddings(device: torch.device) -> Outcome:
    from seqviz.experiments import embeddings as E

    out = Outcome()
    corpus = _brown()
    run = E.build_word2vec(corpus, E.PRESETS["cpu"], device)
    train_and_time(out, run, device, prefix="skip-gram ")
    speed = out.steps_per_s
    run = E.build_bilm(corpus, E.BILM_PRESETS["cpu"], device)
    train_and_time(out, run, device, prefix="BiLM ")
    out.note = f"BiLM steps (skip-gram: {speed:.1f}/s)"
    return out


_CACHE: dict = {}


def _brown():
    if "brown" not in _CACHE:
        from seqviz.experiments.embeddings import load_corpus

        _CACHE["brown"] = load_corpus("brown")
    return _CACHE["brown"]


def check_markov(device: torch.device) -> Outcome:
    """Counting: CPU only whatever the device (dictionaries, not tensors); both sides count alike."""
    from seqviz.experiments.markov import OrderStudy, make_corpus

    out = Outcome(note="CPU only (counting)")
    t0 = time.perf_counter()
    st = OrderStudy(make_corpus("names", "char"))
    m = st.model(2)
    secs = time.perf_counter() - t0
    out.add("order-2 log-probabilities of 'anna'", m.token_logprobs([list("anna")]), INIT)
    out.steps_per_s = 1 / secs
    return out


CHECKS = {
    "gradient flow (03/04)": check_gradient_flow,
    "TCN race (05)": check_tcn_race,
    "attention, seq2seq (06)": check_attention_seq2seq,
    "attention, transformer (06)": check_attention_transformer,
    "packing (01)": check_packing,
    "forecasting (00)": check_forecasting,
    "char-level LM (07)": check_charlm,
    "embeddings (08)": check_embeddings,
    "Markov counts (02)": check_markov,
}


# -- GPU presets: speed and memory (CUDA only) -------------------------------------------------------
def gpu_preset_runs(device: torch.device):
    """(name, step function) of every GPU preset, built on ``device``."""
    from seqviz.data.series import load
    from seqviz.data.translation import CharData, char_corpus
    from seqviz.experiments import GPU_PRESETS, build_gradflow_run
    from seqviz.experiments import attention as A
    from seqviz.experiments import charlm as C
    from seqviz.experiments import embeddings as E
    from seqviz.experiments.forecasting import Forecast, preset_config
    from seqviz.experiments.race import GPU_RACES, Race
    from seqviz.models.tcn import TCNConfig

    for name, cfg in GPU_PRESETS.items():
        yield f"gradient flow: {name}", lambda cfg=cfg: build_gradflow_run(cfg, device).step
    for name, p in GPU_RACES.items():
        tcn = TCNConfig(kernel_size=7, dilations=(1, 2, 4, 8, 16, 32, 64, 128))  # sees 1000 steps back
        yield f"TCN race: {name}", lambda p=p, tcn=tcn: Race(p, tcn, device).step
    p = A.GPU_PRESETS["gpu"]
    yield "attention gpu: seq2seq", lambda: A.build_s2s(p, device=device)[1].step
    yield "attention gpu: transformer", lambda: A.build_lm(p, CharData.from_text(char_corpus()), device).step
    for kind in ("lstm", "transformer"):
        yield f"char-level LM gpu: {kind}", lambda kind=kind: C.build_charlm_run(
            C.load_corpus("names"), kind, "gpu", device, evaluate=False).step
    yield "embeddings cuda: skip-gram", lambda: E.build_word2vec(_brown(), E.PRESETS["cuda"], device).step
    yield "embeddings cuda: BiLM", lambda: E.build_bilm(_brown(), E.BILM_PRESETS["cuda"], device).step
    yield "forecasting cuda: holdout fit", lambda: Forecast(load("sunspots"), preset_config("cuda"), device).fit.step


def measure_gpu_presets(device: torch.device) -> int:
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = TF32_DEFAULTS  # as the dashboards run
    print(f"\nGPU presets on {torch.cuda.get_device_name(device)} (steps/s over {TIME_S:.0f} s after 3 warm-up steps, "
          "TF32 as torch defaults; peak memory allocated by torch):")
    bad = 0
    for name, build in gpu_preset_runs(device):
        try:
            torch.cuda.reset_peak_memory_stats(device)
            step = build()
            for _ in range(3):
                step()
            rate = timed(device, step)
            mib = torch.cuda.max_memory_allocated(device) / 2**20
            print(f"  {name:<75} {rate:8.1f} steps/s  {mib:8.0f} MiB")
        except Exception:  # noqa: BLE001 - reported, and the exit status says so
            bad += 1
            print(f"  {name:<75} ERROR\n{traceback.format_exc()}")
        torch.cuda.empty_cache()
    return bad


STORY_S = 60.0  # the bound: a GPU preset must tell its story within this


def stories(device: torch.device) -> int:
    """Time to each GPU preset's story on ``device``, from pressing Train: the gradient-flow presets'
    gated model below bench_presets.py's thresholds (mean loss of the last 20 steps), the RNN not; the
    GPU race's finishers. Returns how many presets did not tell it within STORY_S."""
    import threading

    from seqviz.experiments import GPU_PRESETS, build_gradflow_run
    from seqviz.experiments.race import GPU_RACES, Race
    from seqviz.models.tcn import TCNConfig

    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = TF32_DEFAULTS
    print(f"\nTime to the story (up to {STORY_S:.0f} s each, wall time from Train, on {device}):")
    missed = 0
    for name, cfg in GPU_PRESETS.items():
        thr = 0.01 if cfg.task == "adding" else 0.05
        run, stop, solved, t0 = build_gradflow_run(cfg, device), threading.Event(), {}, time.perf_counter()

        def on_step(_, run=run, solved=solved, t0=t0, thr=thr, stop=stop):
            for k, h in run.history.items():
                if k not in solved and len(h.loss) >= 20 and h.loss[-20:].mean() < thr:
                    solved[k] = (time.perf_counter() - t0, run.steps)
            if cfg.other in solved:
                stop.set()

        run.train(stop, on_step, max_seconds=STORY_S)
        final = {k: float(h.loss[-20:].mean()) for k, h in run.history.items()}
        told = cfg.other in solved and "rnn" not in solved
        missed += not told
        got = ", ".join(f"{k.upper()} below {thr} at {t:.1f} s (step {n})" for k, (t, n) in solved.items()) or "nobody"
        print(f"  gradient flow: {name}\n    {got}; {run.steps} steps; final mean loss "
              + ", ".join(f"{k} {v:.4f}" for k, v in final.items()) + ("" if told else "  - STORY NOT TOLD"))
    for name, p in GPU_RACES.items():
        race = Race(p, TCNConfig(kernel_size=7, dilations=(1, 2, 4, 8, 16, 32, 64, 128)), device)
        why = race.train(threading.Event(), budget_s=STORY_S)
        told = "tcn" in race.finished
        missed += not told
        fin = ", ".join(f"{k} at {v:.1f} s own compute" for k, v in sorted(race.finished.items(), key=lambda kv: kv[1]))
        print(f"  TCN race: {name} (TCN k = 7, 8 blocks)\n    {why}; finished: {fin or 'nobody'}; "
              f"{race.steps} steps in {race.wall:.1f} s" + ("" if told else "  - STORY NOT TOLD"))
    return missed


# -- every lesson headless (optional: needs nbclient and the widget stack) ---------------------------
def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def run_lessons(device_name: str) -> int:
    missing = [m for m in ("nbclient", "nbformat", "ipykernel", "ipywidgets", "plotly") if not _importable(m)]
    if missing:
        print(f"\nLessons headless: skipped, not importable here: {', '.join(missing)} "
              "(run them where the dashboards' stack is installed).")
        return 0
    import nbformat
    from nbclient import NotebookClient

    os.environ.update(SEQVIZ_DEVICE=device_name, SEQVIZ_FAST="1",
                      PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    print(f"\nLessons headless with SEQVIZ_DEVICE={device_name}, SEQVIZ_FAST=1:")
    bad = 0
    for path in sorted((ROOT / "lessons").glob("*.ipynb")):
        t0 = time.perf_counter()
        try:
            nb = nbformat.read(path, as_version=4)
            NotebookClient(nb, timeout=600, kernel_name="python3",
                           resources={"metadata": {"path": str(ROOT / "lessons")}}).execute()
            print(f"  {path.name:<40} ok in {time.perf_counter() - t0:.1f} s")
        except Exception as e:  # noqa: BLE001
            bad += 1
            print(f"  {path.name:<40} FAILED: {str(e).splitlines()[-1] if str(e) else type(e).__name__}")
    return bad


# -- the whole check ----------------------------------------------------------------------------------
def check(devices: tuple[str, str], only: list[str] | None = None, perturb: float = 0.0) -> tuple[int, list]:
    """Run every check (or those whose name contains one of ``only``) on both devices.
    Returns (number of disagreements and errors, rows); ``perturb`` scales the second device's arrays
    by 1 + perturb (how the tests prove that a disagreement is caught)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    a, b = (torch.device(d) for d in devices)
    bad, rows = 0, []
    for name, fn in CHECKS.items():
        if only and not any(o.lower() in name.lower() for o in only):
            continue
        try:
            x, y = fn(a), fn(b)
        except Exception:  # noqa: BLE001
            bad += 1
            print(f"{name}: ERROR\n{traceback.format_exc()}")
            rows.append((name, None, None, "error"))
            continue
        if perturb:
            y.arrays = {k: (v * (1 + perturb) + perturb, tol) for k, (v, tol) in y.arrays.items()}
        errs = compare(x, y)
        failed = [(k, e) for k, e in errs if not e <= 1.0]
        bad += len(failed)
        top = max((e for _, e in errs), default=0.0)
        print(f"{name}: {len(errs)} comparisons, worst {top:.3g} of tolerance"
              + ("" if not failed else " - DISAGREE: " + "; ".join(f"{k} ({e:.3g})" for k, e in failed)))
        rows.append((name, x.steps_per_s, y.steps_per_s, x.note))
    return bad, rows


def table(devices, rows) -> str:
    lines = ["Steps per second (TF32 off, as compared; the GPU presets below run with torch's defaults):",f"{'dashboard engine':<30} {devices[0] + ' steps/s':>14} {devices[1] + ' steps/s':>14} {'ratio':>7}  note"]
    for name, sa, sb, note in rows:
        if sa is None:
            lines.append(f"{name:<30} {'error':>14}")
            continue
        lines.append(f"{name:<30} {sa:14.1f} {sb:14.1f} {sa / sb:7.2f}  {note}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", default="cuda,cpu", help="the two devices compared, e.g. cuda,cpu or cpu,cpu")
    ap.add_argument("--only", nargs="*", help="checks whose name contains one of these words")
    ap.add_argument("--lessons", action="store_true", help="also every lesson headless with SEQVIZ_DEVICE=cuda")
    ap.add_argument("--no-presets", action="store_true", help="skip the GPU presets' speed and memory")
    ap.add_argument("--stories", action="store_true", help=f"also time each GPU preset's story (up to {STORY_S:.0f} s each)")
    ap.add_argument("--perturb", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    devices = tuple(d.strip() for d in args.devices.split(","))
    if len(devices) != 2:
        ap.error("--devices takes two devices, e.g. cuda,cpu")
    if "cuda" in devices and not torch.cuda.is_available():
        print("No CUDA GPU here (torch.cuda.is_available() is False): nothing was run on a GPU and nothing was "
              "checked. Run this on a machine with a GPU and the CUDA build of torch (README 'Training on a GPU'), "
              "or use --devices cpu,cpu to exercise the comparison itself.")
        return 0
    print(f"torch {torch.__version__}, numpy {np.__version__}, Python {sys.version.split()[0]}")
    if torch.cuda.is_available():
        print(f"GPU: {torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}, "
              f"driver {_driver()}, TF32 off for the comparison")
    print(f"Comparing {devices[0]} with {devices[1]}: {STEPS} updates each; tolerances (rtol, atol): "
          f"init {INIT}, float64 probe {PROBE}, trajectories {TRAJECTORY}\n")
    bad, rows = check(devices, args.only, args.perturb)
    print("\n" + table(devices, rows))
    if "cuda" in devices and not args.no_presets:
        bad += measure_gpu_presets(torch.device("cuda"))
    if args.stories:
        bad += stories(torch.device(devices[0]))
    if args.lessons:
        bad += run_lessons("cuda" if "cuda" in devices else devices[0])
    print(f"\n{'OK: every comparison agreed' if not bad else f'FAILED: {bad} disagreement(s) or error(s)'}")
    return 1 if bad else 0


def _driver() -> str:
    try:
        import subprocess

        return subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
