"""Shared machinery of the exercise checks: instant feedback in one or two lines, and a failed cell (0 points) when the answer is wrong.

Each ``check_*`` receives the student's function (never reads notebook globals), tests type, then shape, then
values against the ``dlhelpers`` reference on cases chosen to catch the classic mistakes, and either prints one
success line or raises ``ExerciseError``. IPython shows only our short message (``_render_traceback_``), not a
page of traceback; nbgrader still sees an error, so the cell scores 0.
"""
from __future__ import annotations

import torch

from dlhelpers.schedules import NoiseSchedule


class ExerciseError(AssertionError):
    """A wrong answer: the message is the whole feedback."""

    def _render_traceback_(self):  # IPython calls this instead of printing the traceback
        return [f"\033[31m✗ {self}\033[0m"]


def _fail(name: str, message: str):
    raise ExerciseError(f"{name}: {message}")


def _call(name, fn, *args):
    if not callable(fn):
        _fail(name, f"expected a function, got {type(fn).__name__}")
    try:
        return fn(*args)
    except NotImplementedError:
        _fail(name, "not implemented yet — replace `raise NotImplementedError()` with your code in the cell above")
    except ExerciseError:
        raise
    except Exception as exc:  # the student's own bug: report it briefly
        _fail(name, f"your function raised {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def _expect_tensor(name, out, shape):
    if not isinstance(out, torch.Tensor):
        _fail(name, f"expected a torch.Tensor, got {type(out).__name__} (did you forget `return`?)")
    if tuple(out.shape) != tuple(shape):
        _fail(name, f"expected shape {tuple(shape)}, got {tuple(out.shape)}")
    if not torch.isfinite(out).all():
        _fail(name, "the result contains NaN or inf")


def _close(a, b, tol=1e-4):
    return torch.allclose(a.float(), b.float(), rtol=tol, atol=tol)


def _ok(name, detail):
    print(f"✓ {name}: {detail}")


_SCHEDULE = NoiseSchedule.linear(500)


def _cases(seed=0, B=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, 3, 16, 16, generator=g), torch.randn(B, 3, 16, 16, generator=g), torch.randn(
        B, 3, 16, 16, generator=g)
