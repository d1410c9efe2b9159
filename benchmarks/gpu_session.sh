#!/usr/bin/env bash
# One GPU session in one go (about 5 minutes on a bare CUDA machine: torch + numpy, no widget stack):
#   bash benchmarks/gpu_session.sh            # writes under $OUT (default: artifacts/gpu)
# 1. the machine (nvidia-smi, torch, CUDA); 2. benchmarks/gpu_check.py (CPU/GPU agreement, steps/s,
# GPU presets' speed and peak memory; lessons headless only where nbclient and the widget stack are
# importable); 3. the GPU tests with pytest -ra, so skips and their reasons are listed; 4. the time
# to each GPU preset's story (gpu_check.py --stories --only none: up to 60 s a preset, 3 presets).
# Worst case (every stage up to its timeout) 9.5 minutes: run it with a 600 s limit.
# Exit status: non-zero if the check or the tests failed. Put the numbers in README "Training on a GPU".
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-artifacts/gpu}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
{
  date -u
  nvidia-smi || echo "nvidia-smi: not found"
  "$PY" -c "import sys, torch; print('Python', sys.version.split()[0], '| torch', torch.__version__, '| CUDA', torch.version.cuda, '| available', torch.cuda.is_available())"
} 2>&1 | tee "$OUT/machine.txt"
timeout 240 "$PY" benchmarks/gpu_check.py --lessons 2>&1 | tee "$OUT/gpu_check.txt"
check=${PIPESTATUS[0]}
timeout 150 "$PY" -m pytest -q -ra -p no:cacheprovider tests/test_gpu.py tests/test_gpu_check.py tests/test_gpu_presets.py \
  2>&1 | tee "$OUT/pytest_gpu.txt"
tests=${PIPESTATUS[0]}
timeout 180 "$PY" benchmarks/gpu_check.py --stories --only none --no-presets 2>&1 | tee "$OUT/stories.txt"
stories=${PIPESTATUS[0]}
echo "gpu_check exit $check, pytest exit $tests, stories exit $stories (124: ran out of time)" | tee -a "$OUT/machine.txt"
[ "$check" = 0 ] && [ "$tests" = 0 ] && [ "$stories" = 0 ]
