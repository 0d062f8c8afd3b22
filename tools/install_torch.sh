#!/usr/bin/env bash
# Install the pinned torch into the given Python without pulling a multi-GB CUDA build onto a
# machine that has no NVIDIA GPU: CPU wheel unless nvidia-smi answers.
set -euo pipefail
PY=${1:-python3}
VERSION=$(grep -E '^torch==' "$(dirname "$0")/../requirements.txt" | cut -d= -f3)
if "$PY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$VERSION')" 2>/dev/null; then
  exit 0
fi
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
  "$PY" -m pip install "torch==$VERSION"
elif ! "$PY" -m pip install "torch==$VERSION+cpu" 2>/dev/null; then
  "$PY" -m pip install "torch==$VERSION" --index-url https://download.pytorch.org/whl/cpu \
    --extra-index-url https://pypi.org/simple
fi
