"""Use the student's function where it works, the library's reference where it does not yet.

Later cells of a notebook build on an exercise (nb01 samples with the student's reverse loop, nb03 trains with
the student's training step, nb05 samples with the student's DDIM and η steps). A student
who is stuck must still be able to run every later cell, so those cells ask for

    step = yours_or_reference(lambda: my_ddpm_step, ddpm_step_reference, check_ddpm_step)

and get the student's function when ``check`` accepts it, or the reference otherwise, with one visible line that
says which. ``lambda: my_ddpm_step`` (not ``my_ddpm_step``) lets a skipped cell, where the name is undefined,
fall back too: the library never reads notebook globals, it only calls what it is given.
"""
from __future__ import annotations

import contextlib
import io
import signal
import threading
from typing import Callable

from dlhelpers.notebook.checks.common import ExerciseError
from dlhelpers.notebook.i18n import fmt, say


class _CheckTimeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Interrupt the block after ``seconds`` (SIGALRM: Unix main thread only, where notebook cells run)."""
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        raise _CheckTimeout()

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def yours_or_reference(get_yours: Callable[[], Callable], reference: Callable, check: Callable[[Callable], None],
                       name: str | None = None, quiet: bool = False, timeout_s: float = 60.0) -> Callable:
    """The student's function if ``check`` passes it, else ``reference``; prints one line saying which.

    ``get_yours``: a zero-argument callable returning the student's function (usually ``lambda: my_fn``).
    ``check``: the exercise's check, which raises on a wrong answer. Its own success line is not repeated.
    ``timeout_s``: a check that takes longer (an answer that loops forever) counts as not working yet.
    """
    if not callable(get_yours):
        raise TypeError(f"get_yours must be a zero-argument callable such as `lambda: my_fn`, "
                        f"got {type(get_yours).__name__}")
    if not callable(reference):
        raise TypeError(f"reference must be a function, got {type(reference).__name__}")
    if not callable(check):
        raise TypeError(f"check must be a function, got {type(check).__name__}")
    label = name or getattr(reference, "__name__", "the function")
    try:
        yours = get_yours()
    except NameError as exc:
        return _fallback(reference, label, fmt("{0} (run its cell first)", exc), quiet)
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), _time_limit(timeout_s):
            check(yours)
    except _CheckTimeout:
        return _fallback(reference, label, fmt("its check did not finish in {0:g} s: a loop that never ends?",
                                               timeout_s), quiet)
    except ExerciseError as exc:
        return _fallback(reference, label, str(exc).split(": ", 1)[-1], quiet)
    except Exception as exc:  # noqa: BLE001 - a check raises nothing else for a wrong answer, but stay safe
        return _fallback(reference, label, f"{type(exc).__name__}: {exc}", quiet)
    if not quiet:
        say("✓ using your {0} below", getattr(yours, '__name__', label))
    return yours


def _fallback(reference, label, why, quiet):
    if not quiet:
        say("→ using the reference {0} below: yours is not working yet ({1})", label, why)
    return reference
