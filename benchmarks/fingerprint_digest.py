"""What a run's fingerprint costs: the sha256 of the raw data arrays, taken each time a search
loads its data (a new run, and every resume). Arrays of the sizes of Fashion-MNIST (70,000
28x28 bytes) and CIFAR-10 (60,000 32x32x3 bytes); prints the median of ``--repeats`` timings.

    python benchmarks/fingerprint_digest.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from hybridnas.data.raw import RawData  # noqa: E402

SIZES = {"fashion_mnist": (70000, 28, 28), "cifar10": (60000, 32, 32, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    for name, shape in SIZES.items():
        x = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        raw = RawData(name, x, np.zeros(shape[0], np.int64))
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            raw.digest()
            times.append(time.perf_counter() - t)
        print(f"{name}-sized arrays ({x.nbytes / 1e6:.0f} MB): digest {sorted(times)[len(times) // 2]:.2f} s "
              f"(median of {args.repeats})")


if __name__ == "__main__":
    main()
