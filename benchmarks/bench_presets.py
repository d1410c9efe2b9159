"""How the gradient-flow presets behave on this machine (the stories the lessons tell).

For each preset: wall time until the gated model's loss (mean of the last 20 steps) falls
below the threshold, whether the RNN ever does, and how the run ended.
Run: make bench   (or .venv/bin/python benchmarks/bench_presets.py [seconds_per_run])
"""

from __future__ import annotations

import os
import sys
import threading
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from seqviz.devices import configure_threads, pick_device  # noqa: E402
from seqviz.experiments import PRESETS, GradFlowConfig, build_gradflow_run  # noqa: E402

BUDGET = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0


def race(cfg: GradFlowConfig, threshold: float, budget: float):
    run = build_gradflow_run(cfg, device=pick_device().device)
    t0 = time.perf_counter()
    solved: dict[str, float] = {}
    solved_step: dict[str, int] = {}

    def on_step(_):
        for k, h in run.history.items():
            if k not in solved and len(h.loss) >= 20 and sum(h.loss[-20:]) / 20 < threshold:
                solved[k] = time.perf_counter() - t0
                solved_step[k] = run.steps
        if len(solved) == len(run.models):
            stop.set()

    stop = threading.Event()
    why = run.train(stop, on_step, max_seconds=budget)
    final = {k: sum(h.loss[-20:]) / max(1, len(h.loss[-20:])) for k, h in run.history.items()}
    return why, run.steps, solved, final, solved_step


def main():
    configure_threads()
    print(f"presets on {pick_device().label} ({os.cpu_count()} cores), up to {BUDGET:.0f} s each; "
          "'solved' = mean loss of the last 20 steps below the threshold, wall time from pressing Train")
    default = PRESETS["Vanishing: the RNN forgets, the LSTM remembers"]
    for seed in (0, 1, 2):
        why, steps, solved, final, at = race(GradFlowConfig(**{**default.__dict__, "seed": seed}), 0.01, BUDGET)
        print(f"  default preset, seed {seed}: LSTM solved (MSE<0.01) at "
              f"{solved.get('lstm', float('nan')):.1f} s (step {at.get('lstm', '-')}), RNN {'at %.1f s' % solved['rnn'] if 'rnn' in solved else 'never'}"
              f" ({steps} steps; final MSE RNN {final['rnn']:.3f}, LSTM {final['lstm']:.4f}; baseline 0.167)")
    for name, thr in (("Exploding: ρ = 2.5, plain SGD, no clipping", 0.01),
                      ("Exploding, tamed by gradient clipping", 0.01),
                      ("Exploding, but no gradient through time (truncated BPTT, k = 1)", 0.01),
                      ("Truncated BPTT (k = 20): the first token is out of reach", 0.05),
                      ("LSTM with forget bias 0 (belt half shut)", 0.01),
                      ("Recall the first token: where the textbook story fails", 0.05)):
        why, steps, solved, final, at = race(PRESETS[name], thr, min(BUDGET, 40.0))
        got = ", ".join(f"{k.upper()} at {v:.1f} s (step {at[k]})" for k, v in solved.items()) or "nobody"
        print(f"  {name}: ended '{why}' after {steps} steps; solved (<{thr}): {got}; "
              f"final loss {', '.join(f'{k.upper()} {v:.3g}' for k, v in final.items())}")


if __name__ == "__main__":
    main()
