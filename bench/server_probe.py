"""What the live-page benches read of a running server and the machine: its CPU and RSS from /proc, percentiles,
and the machine line each result carries (shared by bench/public_pages.py and bench/twin_clients.py: the figures
must be taken the same way for every live page to compare them)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def proc_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds the process has used so far."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def proc_rss_mb(pid: int) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    return float('nan')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def machine() -> dict[str, Any]:
    revision = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True, cwd=ROOT)
    return {
        'cpus': os.cpu_count(),
        'load_average': [round(v, 2) for v in os.getloadavg()],
        'python': platform.python_version(),
        'platform': platform.platform(),
        'git': revision.stdout.strip(),
    }
