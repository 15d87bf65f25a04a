#!/usr/bin/env bash
# One prepared GPU check, nothing to install beyond the project's setup (make install).
#
#   bash benchmarks/gpu_check.sh                      # the card, under 8 minutes on one GPU
#   bash benchmarks/gpu_check.sh --device cpu --small # the same steps, CI-sized, on CPU
#
# Prints:
#   1. the card (nvidia-smi, torch's view of it);
#   2. encoding throughput of both bundled models against sentence-transformers
#      (benchmarks/bench_encode.py on the device: texts/s, ratios, max differences);
#   3. all-pairs exact SOCM of the paper's setup -- 1,000 texts of 64-128 tokens, d = 768
#      (all-mpnet-base-v2 tokens, max_length 128) -- with device=<device> against the CPU
#      engine (NumPy) on a sample of the texts: time, pairs/s, the largest difference.
# Each step has its own time limit, so one slow step cannot eat the others' time.
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICE=cuda
SMALL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --device=*) DEVICE="${1#--device=}"; shift ;;
    --small) SMALL=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1 (expected --device DEV, --small)" >&2; exit 2 ;;
  esac
done

PY="${PYTHON:-.venv/bin/python}"
FAILED=""
[ -x "$PY" ] || PY=python3
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
START=$(date +%s)

echo "== 1. the card"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader || true
else
  echo "no nvidia-smi on this machine"
fi
"$PY" - "$DEVICE" <<'EOF'
import sys
import torch
device = sys.argv[1]
print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}, "
      f"device asked: {device}")
if device.startswith("cuda"):
    if not torch.cuda.is_available():
        sys.exit("gpu_check.sh: --device %s asked, but torch sees no CUDA device "
                 "(use --device cpu for the CPU form)" % device)
    props = torch.cuda.get_device_properties(device)
    print(f"{props.name}: {props.total_memory / 2**30:.0f} GiB, "
          f"{props.multi_processor_count} SMs, compute capability {props.major}.{props.minor}")
EOF

echo
echo "== 2. encoding: skpool against sentence-transformers on $DEVICE"
if [ "$SMALL" = 1 ]; then
  ENCODE_ARGS="--n-films 4 --n-bbc 2 --repeats 1 --batch-size 4"; LIMIT=300
else
  ENCODE_ARGS="--n-films 940 --n-bbc 512 --repeats 2 --batch-size 128"; LIMIT=180
fi
# A step that fails or runs out of time is reported; the next step still runs.
# shellcheck disable=SC2086
timeout "$LIMIT" "$PY" benchmarks/bench_encode.py --device "$DEVICE" $ENCODE_ARGS \
  || { echo "gpu_check.sh: step 2 failed or ran past ${LIMIT} s (exit $?)"; FAILED="$FAILED 2"; }

echo
echo "== 3. all-pairs exact SOCM on $DEVICE against the CPU engine"
if [ "$SMALL" = 1 ]; then LIMIT=300; else LIMIT=270; fi
timeout "$LIMIT" "$PY" - "$DEVICE" "$SMALL" <<'EOF' \
  || { echo "gpu_check.sh: step 3 failed or ran past ${LIMIT} s (exit $?)"; FAILED="$FAILED 3"; }
import sys
import time
import warnings

import numpy as np
import torch

from skpool import TokenEncoder, pairwise_socm
from skpool.datasets import load_bbc_news, load_wiki_films

device, small = sys.argv[1], sys.argv[2] == "1"
n_texts, n_sample = (12, 6) if small else (1000, 120)

texts = load_wiki_films().texts + load_bbc_news(random_state=0).texts
texts = texts[:n_texts + n_texts // 2]  # a margin for texts under 64 tokens
encoder = TokenEncoder("all-mpnet-base-v2", max_length=128, batch_size=64, device=device)
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # most texts are cut at 128 tokens, by design
    tokens = encoder.fit_transform(texts)
keep = np.flatnonzero(tokens.lengths >= 64)[:n_texts]
tokens = tokens[keep]
print(f"{len(tokens)} texts of {tokens.lengths.min()}-{tokens.lengths.max()} tokens, "
      f"d = {tokens.dim} (all-mpnet-base-v2, encoded on {device} in "
      f"{time.perf_counter() - start:.1f} s)")


def sync():
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


n_pairs = len(tokens) * (len(tokens) - 1) // 2
pairwise_socm(tokens[:4], device=device)  # warm-up: kernels, allocator
sync()
start = time.perf_counter()
on_device = pairwise_socm(tokens, device=device)
sync()
device_s = time.perf_counter() - start
print(f"device={device!r}: all {n_pairs:,} pairs in {device_s:.2f} s "
      f"({n_pairs / device_s:,.0f} pairs/s)")

sample = tokens[:n_sample]
start = time.perf_counter()
on_cpu = pairwise_socm(sample)
cpu_s = time.perf_counter() - start
sample_pairs = n_sample * (n_sample - 1) // 2
cpu_all = cpu_s * n_pairs / sample_pairs
diff = float(np.abs(on_device[:n_sample, :n_sample] - on_cpu).max())
print(f"CPU engine (NumPy): {sample_pairs:,} pairs of the first {n_sample} texts in "
      f"{cpu_s:.2f} s ({sample_pairs / cpu_s:,.0f} pairs/s; all pairs would take about "
      f"{cpu_all:.1f} s, {cpu_all / device_s:.1f}x the device's time)")
print(f"largest |SOCM(device) - SOCM(CPU)| on the sample: {diff:.1e} "
      f"(SOCM values {on_cpu[np.triu_indices(n_sample, 1)].min():.3f}.."
      f"{on_cpu.max():.3f})")
if not np.isfinite(on_device).all() or diff > 1e-4:
    sys.exit("gpu_check.sh: the device result differs from the CPU engine by more than 1e-4")
EOF

echo
echo "gpu_check.sh: done in $(( $(date +%s) - START )) s"
if [ -n "$FAILED" ]; then
  echo "gpu_check.sh: failed steps:$FAILED" >&2
  exit 1
fi
