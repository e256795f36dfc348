#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_check.py): on a machine with a CUDA GPU, training throughput and
# MFU for vitpose-b in bf16, the loader against the GPU's appetite, one-process DDP (NCCL),
# inference clips/s and ONNX Runtime parity, within 8 minutes. Without CUDA it runs the reduced
# CPU rehearsal. Results: benchmarks/results/gpu_check.json (gpu_check_cpu.json when reduced).
#   bash benchmarks/gpu_check.sh [--reduced] [--peak-tflops N] [--only train loader ...]
set -euo pipefail
cd "$(dirname "$0")/.."
exec timeout 480 python benchmarks/gpu_check.py "$@"
