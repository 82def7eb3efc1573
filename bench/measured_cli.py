"""Run ``oracle-meili`` and report the process's own peak RSS.

    python -m bench.measured_cli PEAK_FILE -- sync --config ...

Writes VmHWM (the high-water mark of this process's memory since it started, in kB) to
PEAK_FILE on exit. NOTE: the parent cannot use ``wait4``'s ``ru_maxrss`` for this: Linux
carries the high-water mark across fork and exec, so a child started by a large parent
reports at least the parent's size.
"""

from __future__ import annotations

import sys
from pathlib import Path

from oracle_meili.cli import main


def peak_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    peak_file, separator, *argv = sys.argv[1:]
    assert separator == "--", "usage: python -m bench.measured_cli PEAK_FILE -- ARGS"
    code = main(argv)
    Path(peak_file).write_text(str(peak_rss_kb()))
    sys.exit(code)
