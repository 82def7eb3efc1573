"""Processes this project starts die with the process that started them.

A process killed outright (kill -9, out of memory) runs no clean-up: whatever it started
would go on (a slice worker writing into a build index beside a rerun, a Meilisearch server
holding its port and data). On Linux the kernel ends such a child when its parent dies
(``PR_SET_PDEATHSIG``: the signal follows the *thread* that started the child, so it is
asked for only where that thread outlives the child: the main thread, or a thread that
waits for its children); elsewhere a thread in a Python child checks for its parent
instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading

# prctl(2): the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
# How often a Python child checks its parent where the kernel cannot do it for it.
ORPHAN_CHECK_SECONDS = 0.5


def kernel_ends_orphans() -> bool:
    """Whether the kernel can end a child when its parent dies (Linux)."""
    return sys.platform == "linux"


# Looked up once, before any fork: between fork and exec (``preexec_fn``) a child only
# calls it, loading nothing.
_prctl = (
    ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl
    if kernel_ends_orphans()
    else None
)


def end_with_parent() -> None:
    """In a child, first thing (``preexec_fn`` of a program, or a Python child's start):
    the kernel sends it SIGKILL when its parent dies. Linux only."""
    assert _prctl is not None, "PR_SET_PDEATHSIG is Linux's"
    if _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def die_with(parent: int) -> None:
    """In a Python child of ``parent``: end when it ends, by the kernel or by a thread."""
    if kernel_ends_orphans():
        end_with_parent()
    else:
        threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    if os.getppid() != parent:
        os._exit(1)  # the parent died before the kernel was told: nothing done yet


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        threading.Event().wait(ORPHAN_CHECK_SECONDS)
    os._exit(1)
