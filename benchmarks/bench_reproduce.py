"""Wall time of a quick reproduction: ``vtwin reproduce NAME --quick`` in a fresh folder.

Run by hand:  .venv/bin/python benchmarks/bench_reproduce.py [NAME] [WORKERS]
(default: ``paper-a``, all paper A figures, on 2 workers; target ≤ 10 minutes on 2 cores).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "paper-a"
    workers = sys.argv[2] if len(sys.argv) > 2 else "2"
    vtwin = Path(sys.executable).with_name("vtwin")
    with tempfile.TemporaryDirectory(prefix="vtwin-bench-") as out:
        cmd = [str(vtwin), "reproduce", name, "--quick", "--workers", workers, "--out", out]
        t0 = time.perf_counter()
        subprocess.run([*cmd, "--no-progress"], check=True, stdout=subprocess.DEVNULL)
        minutes = (time.perf_counter() - t0) / 60
    print(f"vtwin reproduce {name} --quick --workers {workers}: {minutes:.1f} min")


if __name__ == "__main__":
    main()
