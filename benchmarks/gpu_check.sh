#!/usr/bin/env bash
# GPU check for a machine with one CUDA device and no internet access; installs nothing.
#
#   bash benchmarks/gpu_check.sh [gpu_check.py options]
#
# 1. python benchmarks/gpu_check.py: CPU-vs-CUDA agreement of every family, encode throughput in
#    fp32/bf16 with and without torch.compile, peak GPU memory; Markdown table on stdout and in
#    $OUT/gpu_check.md when OUT is set (plus gpu_check.json).
# 2. python benchmarks/compare_references.py --only csp --device cuda: the CSP grid model against
#    the authors' approach (numpy float64 encoding on the CPU, FFN on the GPU), outputs checked
#    first; table also in $OUT/compare_csp_cuda.md.
# 3. python benchmarks/train_throughput.py --device cuda: our trainer's pre-training and fine-tuning
#    steps (float32 and bf16 autocast) against the authors'-style loop (per-item loader, CPU numpy
#    encoding, then the device) on the GPU, losses checked first; table also in $OUT/train_cuda.md.
#    Without a CUDA device it runs in --dry-run mode on the CPU (tiny sizes: checks the code path).
# 4. if pytest is importable: the repository's CUDA/GPU tests (python -m pytest -q -m "not slow"
#    tests -k "cuda or gpu"), output also in $OUT/gpu_pytest.txt. "No tests collected" counts as a pass.
# Sized to finish well inside 5 minutes on one GPU: gpu_check.py gets a 120 s time budget
# (GPU_CHECK_BUDGET_S; a --budget-s argument wins), the trainer comparison at most 90 s.
# Exit status: non-zero when any step failed.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1

status=0
started=$SECONDS
python benchmarks/gpu_check.py --budget-s "${GPU_CHECK_BUDGET_S:-120}" "$@" || status=$?
echo "gpu_check.py done at $((SECONDS - started)) s"

if python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    cuda=1
else
    cuda=0
fi

if [ "$cuda" -eq 1 ]; then
    table="${OUT:-/tmp}/compare_csp_cuda.md"
    mkdir -p "$(dirname "$table")"
    python benchmarks/compare_references.py --only csp --device cuda --device-points 262144 --repeats 3 \
        2>&1 | tee "$table"
    rc=${PIPESTATUS[0]}
    [ "$rc" -ne 0 ] && status=$rc
    echo "CSP comparison done at $((SECONDS - started)) s"
else
    echo "no CUDA device: skipping the CSP comparison on the GPU"
fi

table="${OUT:-/tmp}/train_cuda.md"
mkdir -p "$(dirname "$table")"
if [ "$cuda" -eq 1 ]; then
    timeout 90 python benchmarks/train_throughput.py --device cuda --steps 10 --rounds 2 --out "$table"
    rc=$?
else
    echo "no CUDA device: trainer vs authors' loop in --dry-run mode on the CPU (code path only, no figures)"
    timeout 90 python benchmarks/train_throughput.py --dry-run --out "$table"
    rc=$?
fi
[ "$rc" -ne 0 ] && status=$rc
echo "trainer comparison done at $((SECONDS - started)) s (exit $rc)"

if python -c "import pytest" 2>/dev/null; then
    log="${OUT:-/tmp}/gpu_pytest.txt"
    mkdir -p "$(dirname "$log")"
    # "not network" as well: the pyproject default (-m "not slow and not network") is overridden by -m.
    python -m pytest -q -p no:cacheprovider -m "not slow and not network" tests -k "cuda or gpu" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then  # 5 = no tests collected
        status=$rc
    fi
else
    echo "pytest not installed: skipping the CUDA tests"
fi
exit "$status"
