"""Triton Python backend for `cosyvoice3`: the whole waveform per request (inference/triton_model.py)."""

from __future__ import annotations

import os
import site

# The backend stub embeds its interpreter without honouring PYTHONPATH; the launcher points it at the
# repository root and the virtual environment, so add those (with their .pth files) explicitly.
for _path in filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)):
    site.addsitedir(_path)

from inference.triton_model import OfflineModel as TritonPythonModel  # noqa: E402

__all__ = ["TritonPythonModel"]
