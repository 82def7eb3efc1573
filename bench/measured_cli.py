"""Run ``oracle-meili`` and report the process's own peak RSS and the SQL statements it
sent to its source.

    python -m bench.measured_cli PEAK_FILE -- sync --config ...

Writes VmHWM (the high-water mark of this process's memory since it started, in kB) to
PEAK_FILE on exit, and the number of statements any SQLAlchemy engine executed to
PEAK_FILE.statements. NOTE: the parent cannot use ``wait4``'s ``ru_maxrss`` for this: Linux
carries the high-water mark across fork and exec, so a child started by a large parent
reports at least the parent's size.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from oracle_meili.cli import main

statements = 0


@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def _count(*_: Any) -> None:
    global statements
    statements += 1


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
    Path(f"{peak_file}.statements").write_text(str(statements))
    sys.exit(code)
