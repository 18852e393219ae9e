#!/usr/bin/env bash
# Issue 7 on a lent GPU, as few device calls as possible. Two halves, each under the tool's
# 10-minute command limit; run the second right after the first, while the machine is warm:
#
#   bash benchmarks/gpu_session.sh fetch                  # HERE first: wheels the image lacks, into .whl/
#   run(command="bash benchmarks/gpu_session.sh kernels", carry=[".whl"], timeout_s=600)
#   run(command="bash benchmarks/gpu_session.sh models",  carry=[".whl"], timeout_s=600)
#
# or, when the lease is the usual 15 minutes, everything that matters in ONE call of under 10 minutes
# (a second call would cost another start and the idle gap between them):
#
#   run(command="bash benchmarks/gpu_session.sh all", carry=[".whl"], timeout_s=595)
#
# kernels: the scan at real shapes against float64 and the roofline (tools/roofline.py), the models
#          on the GPU against the CPU plus 200 bf16 training steps (tools/check_models.py), and the
#          kernel test suite compiled (no interpreter).
# models:  tools/benchmark.py against timm's baselines at 224 (both scan kernels), and Vim-Ti vs
#          DeiT-Ti against resolution up to 1248.
# Every step has its own time limit, so one that hangs costs only its share. Results land in $OUT
# (at most 8 files come back): report.md gathers every table; copy them into benchmarks/ with the
# device and date (METHOD.md: record every GPU figure with its command).
set -u -o pipefail
cd "$(dirname "$0")/.."
part=${1:?usage: gpu_session.sh fetch|kernels|models|all}

if [ "$part" = fetch ]; then
    mkdir -p .git/info .whl && grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    # pure-Python wheels: mmengine (vimvision.dense registers with it) and what it needs, timm as pinned,
    # pytest-xdist for the compiled kernel tests' -n 8
    exec python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 -d .whl mmengine==0.10.7 addict==2.4.0 termcolor==3.3.0 yapf==0.43.0 \
        platformdirs==4.14.7 pytest-xdist==3.8.0 execnet==2.1.2 "timm==$(sed -n 's/^timm==//p' constraints.txt)"
fi

OUT=${OUT:-output/gpu_session}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
if [ ! -e vimvision/kernels ]; then  # what the editable install maps, without pip; gone again at exit
    ln -s ../kernels vimvision/kernels && trap 'rm -f vimvision/kernels' EXIT
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
report=$OUT/report.md

step() {  # step NAME SECONDS COMMAND...: run with a time limit, output into report.md
    local name=$1 limit=$2 start=$SECONDS rc
    shift 2
    printf '\n## %s\n\n`%s`\n\n' "$name" "$*" >> "$report"
    timeout -k 10 "$limit" "$@" >> "$report" 2>&1
    rc=$?
    printf '\n%s: exit %s after %ss (limit %ss)\n' "$name" "$rc" "$((SECONDS - start))" "$limit" | tee -a "$report"
}

{
    echo "# GPU session: $part, $(date -u +%F\ %TZ)"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv
    python3 -c 'import torch, triton, timm; print("torch", torch.__version__, "triton", triton.__version__, "timm", timm.__version__)'
    git log -1 --format='commit %H %s' 2>/dev/null
} >> "$report" 2>&1

case "$part" in
kernels)
    step roofline 170 python3 tools/roofline.py
    step check_models 130 python3 tools/check_models.py --models vim_small vmamba_tiny --steps 200
    step kernel_tests 260 bash -c "python3 -m pytest -q -x -n 8 -p no:cacheprovider tests/kernels/test_selective_scan.py \
        tests/kernels/test_scan_op.py tests/kernels/test_causal_conv1d.py tests/kernels/test_cross_scan.py \
        tests/kernels/test_add_norm.py tests/kernels/test_forgetting_attention.py tests/kernels/test_backend.py \
        2>&1 | tail -n 60"
    ;;
models)
    step models_224 300 python3 tools/benchmark.py --models vim_tiny vim_small vmamba_tiny --img-size 224 \
        --batch-size 128 --dtype float32 bfloat16 --warmup 2 --repeats 5 --csv "$OUT/models.csv" --plot "$OUT/models.png"
    step models_224_tiled 100 env VIMVISION_SCAN_KERNEL=tiled python3 tools/benchmark.py --models vim_tiny vim_small \
        vmamba_tiny --baselines --img-size 224 --batch-size 128 --dtype float32 bfloat16 --warmup 2 --repeats 5 \
        --csv "$OUT/models_tiled.csv" --plot "$OUT/models_tiled.png"
    step resolution 150 python3 tools/benchmark.py --models vim_tiny --baselines deit_tiny_patch16_224 \
        --img-size 224 512 640 1024 1248 --batch-size 16 --mode infer --dtype float32 --warmup 2 --repeats 5 \
        --csv "$OUT/resolution.csv" --plot "$OUT/resolution.png"
    ;;
all)  # 570 s of step limits: the scan, the models, the compiled kernel tests, then throughput
    step roofline 130 python3 tools/roofline.py
    step check_models 70 python3 tools/check_models.py --models vim_small vmamba_tiny --steps 200
    # -v: one line per finished test, so a step cut at its limit still says what passed and what failed
    step kernel_tests 150 bash -c "python3 -m pytest -o addopts= -v --tb=short -n 12 --dist worksteal \
        -p no:cacheprovider tests/kernels > $OUT/kernel_tests.log 2>&1; rc=\$?; \
        grep -E 'FAILED|ERROR|passed|failed' $OUT/kernel_tests.log | tail -n 40; exit \$rc"
    for dtype in bfloat16 float32; do
        step "models_224_$dtype" 80 python3 tools/benchmark.py --models vim_tiny vim_small vmamba_tiny \
            --baselines deit_tiny_patch16_224 deit_small_patch16_224 swin_tiny_patch4_window7_224 convnext_tiny \
            --img-size 224 --batch-size 128 --dtype "$dtype" --warmup 2 --repeats 5 \
            --csv "$OUT/models_$dtype.csv" --plot "$OUT/models_$dtype.png"
    done
    step resolution 60 python3 tools/benchmark.py --models vim_tiny --baselines deit_tiny_patch16_224 \
        --img-size 224 512 1024 1248 --batch-size 16 --mode infer --dtype float32 --warmup 2 --repeats 5 \
        --csv "$OUT/resolution.csv" --plot "$OUT/resolution.png"
    ;;
*)
    echo "unknown part $part: fetch, kernels, models or all" >&2
    exit 2
    ;;
esac
