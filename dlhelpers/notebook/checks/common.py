"""Shared machinery of the exercise checks: instant feedback in one or two lines, and a failed cell (0 points)
when the answer is wrong.

Each ``check_*`` receives the student's function (never reads notebook globals), tests type, then shape, then
values against the ``dlhelpers`` reference on cases chosen to catch the classic mistakes, and either prints one
success line or raises ``ExerciseError``. IPython shows only our short message (``_render_traceback_``), not a
page of traceback; nbgrader still sees an error, so the cell scores 0.
"""
from __future__ import annotations

import torch

from dlhelpers.notebook.i18n import fmt, tr
from dlhelpers.schedules import NoiseSchedule


class ExerciseError(AssertionError):
    """A wrong answer: the message is the whole feedback."""

    def _render_traceback_(self):  # IPython calls this instead of printing the traceback
        return [f"\033[31m✗ {self}\033[0m"]


def _fail(name: str, message: str, *args):
    """Raise the verdict ``name: message``; ``message`` is an English template, translated by
    ``dlhelpers.notebook.i18n`` and then formatted with ``args`` (string arguments, such as a hint picked from a
    table, are looked up too)."""
    raise ExerciseError(f"{name}: {fmt(message, *(tr(a) if isinstance(a, str) else a for a in args))}")


def _call(name, fn, *args):
    if not callable(fn):
        _fail(name, "expected a function, got {0}", type(fn).__name__)
    try:
        return fn(*args)
    except NotImplementedError:
        _fail(name, "not implemented yet — replace `raise NotImplementedError()` with your code in the cell above")
    except ExerciseError:
        raise
    except Exception as exc:  # noqa: BLE001 - the student's own bug, whatever its type: report it briefly
        _fail(name, "your function raised {0}: {1}", type(exc).__name__, str(exc).splitlines()[0] if str(exc) else '')


def _expect_tensor(name, out, shape):
    if not isinstance(out, torch.Tensor):
        _fail(name, "expected a torch.Tensor, got {0} (did you forget `return`?)", type(out).__name__)
    if tuple(out.shape) != tuple(shape):
        _fail(name, "expected shape {0}, got {1}", tuple(shape), tuple(out.shape))
    if not torch.isfinite(out).all():
        _fail(name, "the result contains NaN or inf")


def _close(a, b, tol=1e-4):
    return torch.allclose(a.float(), b.float(), rtol=tol, atol=tol)


def _ok(name, detail, *args):
    print(f"✓ {name}: {fmt(detail, *args)}")


_SCHEDULE = NoiseSchedule.linear(500)


def _cases(seed=0, B=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, 3, 16, 16, generator=g), torch.randn(B, 3, 16, 16, generator=g), torch.randn(
        B, 3, 16, 16, generator=g)
