"""How much memory is available now: free GPU memory, or the machine's ``MemAvailable``.

Used by the block stage to fit its batch (:mod:`hybridnas.block.memory`) and by the data loader to
refuse a resize that would not fit; torch is imported only to ask a GPU.
"""

from __future__ import annotations

from typing import Optional


def available_bytes(device, limit_gb: Optional[float] = None) -> Optional[float]:
    """Bytes available on ``device`` now (``limit_gb`` when given); None when unknown."""
    if limit_gb is not None:
        return limit_gb * 2**30
    if getattr(device, "type", str(device)) == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info(device)
        return float(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return None  # unknown: do not second-guess the user's batch size
