#!/usr/bin/env bash
# The GPU checks in one call, for a machine with a CUDA GPU and no internet:
#   1. tests/integration/test_gpu.py (the CUDA paths: mixed precision, channels-last, a real
#      out-of-memory, the pool, deterministic mode; the Ray test only where ray is installed),
#   2. the GPU rows of benchmarks/evaluators.py (1, 2, 4, 8 candidates sharing one GPU),
#   3. a search on real images: benchmarks/fashion_mnist.py (search, pick, full training) with
#      the CPU-sized space spaces/fashion_mnist.yaml on the GPU, so its times sit beside the
#      2-core CPU's in docs/datasets.md.
#
#   bash benchmarks/gpu_check.sh [DATA_FOLDER] [LOG_FOLDER]
#
# DATA_FOLDER holds Fashion-MNIST's four official gzip files (default .gpudata/fashion; made
# offline by benchmarks/fashion_mnist_from_pngs.py). Where a folder .whl/ exists, its wheels are
# installed first into /tmp/site (pymoo, DEAP and their needs, for an image that lacks them).
# Each step has its own time limit (seconds: GPU_TEST_S, GPU_BENCH_S, GPU_SEARCH_S) so one that
# hangs does not take the others' time; every step's output goes to LOG_FOLDER (default $OUT or .).
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-.gpudata/fashion}
LOGS=${2:-${OUT:-.}}
mkdir -p "$LOGS"
export PYTHONUNBUFFERED=1 RAY_AUTH_MODE=disabled
if [ -d .whl ] && [ -z "${NO_WHEELS:-}" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "wheel install failed"; exit 1; }
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
PY=${PYTHON:-python3}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc;
  $PY -c "import torch, pymoo, deap; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())"; } \
    2>&1 | tee "$LOGS/gpu_env.log"

ray_mark="gpu"
$PY -c "import ray" 2>/dev/null || ray_mark="gpu and not ray"
echo "== 1. tests/integration/test_gpu.py (-m '$ray_mark')"
timeout "${GPU_TEST_S:-240}" $PY -m pytest tests/integration/test_gpu.py -m "$ray_mark" -q -p no:cacheprovider -rA \
    2>&1 | tee "$LOGS/gpu_tests.log" | tail -25

echo "== 2. benchmarks/evaluators.py, GPU rows"
timeout "${GPU_BENCH_S:-180}" $PY benchmarks/evaluators.py --skip-cpu --candidates "${GPU_CANDIDATES:-16}" --epochs 4 \
    --gpu-concurrency 1,2,4,8 --transfers 20 2>&1 | tee "$LOGS/gpu_evaluators.log" | grep -v "^  "

echo "== 3. benchmarks/fashion_mnist.py on the GPU"
if [ -f "$DATA/train-images-idx3-ubyte.gz" ]; then
    timeout "${GPU_SEARCH_S:-300}" $PY benchmarks/fashion_mnist.py --data "$DATA" --out "${TMPDIR:-/tmp}/hn-gpu-runs" \
        --train-threads 4 --set device=cuda ${GPU_SEARCH_SET:-} 2>&1 | tee "$LOGS/gpu_fashion.log" | tail -40
else
    echo "no Fashion-MNIST files in $DATA: step 3 not run"
fi
