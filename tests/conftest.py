import pytest
import torch

from dlhelpers.schedules import NoiseSchedule
from dlhelpers.unet import ContextUnet


@pytest.fixture
def schedule():
    return NoiseSchedule.linear(500, 1e-4, 0.02)


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return ContextUnet(in_channels=3, n_feat=16, n_cfeat=5, height=16).eval()


# A student copy runs top to bottom once per test run. The browser test (tests/browser) runs it with JupyterLab's
# Run All and checks what the nbclient run checks (errors only in cells tagged raises-exception, every cell ran,
# the time limit) and more, so where a browser test of that copy is collected — Chromium and Playwright present,
# not deselected — the nbclient run of the same copy is skipped; elsewhere (no browser, or the quick tier) the
# nbclient run is the check. Browser test → the nbclient test it replaces, matched by the notebook each runs.
STUDENT_COPY_RUNS = {
    "test_notebook_runs_in_jupyterlab": "test_c_every_student_copy_runs_top_to_bottom",
    "test_a_korean_notebook_runs_in_korean_jupyterlab": "test_c_a_korean_copy_runs_top_to_bottom_in_korean",
}


def _copy_name(item):
    """The notebook file a student-copy run executes (its parameter), or the Korean browser test's notebook."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    path = params.get("notebook") or params.get("path") or getattr(item.module, "KO_NOTEBOOK", None)
    return getattr(path, "name", None)


@pytest.hookimpl(trylast=True)   # after -k / -m deselection: a deselected browser test covers nothing
def pytest_collection_modifyitems(config, items):
    in_browser = {(STUDENT_COPY_RUNS[item.originalname], _copy_name(item)) for item in items
                  if getattr(item, "originalname", None) in STUDENT_COPY_RUNS}
    for item in items:
        if getattr(item, "originalname", None) in STUDENT_COPY_RUNS.values() \
                and (item.originalname, _copy_name(item)) in in_browser:
            item.add_marker(pytest.mark.skip(reason="the browser test runs this student copy (tests/browser)"))


# ------------------------------------------------------------------------------------ two workers (pytest-xdist)
# run.sh runs the suite on two worker processes (``-n 2 --dist loadfile``, one torch thread each): much of it waits on
# kernels, servers and browsers, so two workers fill the two cores. ``loadfile`` keeps each file on one worker: a
# notebook's nbval cells share one kernel and run in order, the browser test one JupyterLab, the hub test one hub
# (``loadgroup`` would be finer, but it cannot rename node ids under pytest 9). Files are handed out in the order
# below, longest first (seconds on the 2-core machine, one process), so that both workers end together.
LONGEST_FIRST = ("tests/browser/test_jupyterlab.py",      # ~330 s: six Run Alls and the Korean one
                 "tests/test_grading.py",                 # ~90 s (beside notebook 01's first-sprite timing: one kernel)
                 "tests/hub/test_hub_e2e.py",             # ~110 s
                 "notebooks/03_training.ipynb",           # ~55 s
                 "notebooks/01_sampling.ipynb",           # ~55 s
                 "tests/test_packaging.py",               # ~50 s, the gpu-check machinery among it
                 "notebooks/04_context_control.ipynb",    # ~45 s
                 "tests/test_bench.py",                   # ~40 s
                 "notebooks/06_flow_matching.ipynb", "notebooks/05_ddim_speedup.ipynb",
                 "notebooks/02_unet_embeddings.ipynb")


class _TwoWorkers:
    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, config, items):
        if not hasattr(config, "workerinput"):
            return                    # one process: collection order

        def rank(item):
            path = item.path.relative_to(config.rootpath).as_posix()
            return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)
        items.sort(key=rank)          # stable: within a file (a notebook's cells too) collection order is kept


def pytest_configure(config):
    config.pluginmanager.register(_TwoWorkers(), "dlhelpers-two-workers")
