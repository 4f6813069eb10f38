#!/usr/bin/env bash
# The course's two entry points, each one command on a fresh machine with Python >= 3.10:
#   bash run.sh lab    set up .venv, write your own copies of the notebooks into my-work/ (only the missing ones:
#                      never your work) and open my-work/01_sampling.ipynb in JupyterLab (Korean edition:
#                      COURSE_LANG=ko or a Korean locale, my-work/ko/)
#   bash run.sh test   set up .venv and run every test (unit tests, notebooks, grading, browser)
# A thin wrapper: run.py does the work (the same two commands as `python run.py lab|test`, without bash on Windows).
# PYTHON picks the interpreter that runs run.py and creates .venv (default python3); TORCH_SPEC the PyTorch build
# to install (default torch==2.13.0; see README for CPU-only wheels); TEST_WORKERS the test processes (default 2).
set -eu
cd "$(dirname "$0")"
exec "${PYTHON:-python3}" run.py "$@"
