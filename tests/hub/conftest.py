"""The class hub's end-to-end test (marker ``hub``): JupyterHub + configurable-http-proxy + Chromium, minutes long.

Run it alone: ``OMP_NUM_THREADS=1 .venv/bin/python -m pytest tests/hub -q -p no:cacheprovider``; deselect it with
``-m "not hub"``. It skips, saying why, when chromium, node, configurable-http-proxy, jupyterhub or nbgrader is
missing.
"""
import sys
from pathlib import Path

HUB_DIR = Path(__file__).resolve().parents[2] / "hub"
TESTS_DIR = Path(__file__).resolve().parents[1]
for folder in (HUB_DIR, TESTS_DIR):   # hub/local_hub.py: the local hub launcher; tests/support.py: the exercise cut
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "hub: end to end through JupyterHub and nbgrader's exchange in Chromium (minutes; needs node, "
        "configurable-http-proxy, chromium)")
