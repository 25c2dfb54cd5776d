#!/usr/bin/env bash
# Installs everything the tracker, the demo and the tests need into the current Python environment.
#   bash install.sh            # runtime + test dependencies
# Use a virtualenv if you prefer: python -m venv .venv && . .venv/bin/activate && bash install.sh
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python}
"$PYTHON" -m pip install --upgrade pip >/dev/null
"$PYTHON" -m pip install -r requirements.txt -r requirements-test.txt
"$PYTHON" - <<'PY'
import torch, torchvision, timm, cv2
print(f"installed: torch {torch.__version__} (CUDA available: {torch.cuda.is_available()}), "
      f"torchvision {torchvision.__version__}, timm {timm.__version__}, opencv {cv2.__version__}")
PY
