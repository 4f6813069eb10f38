#!/usr/bin/env bash
# The course's two entry points, each one command on a fresh machine with Python >= 3.10:
#   bash run.sh lab    set up .venv, write your own copies of the notebooks into my-work/ (only the missing ones:
#                      never your work) and open my-work/01_sampling.ipynb in JupyterLab
#   bash run.sh test   set up .venv and run every test (unit tests, notebooks, grading, browser)
# TORCH_SPEC picks the PyTorch build to install (default torch==2.13.0; see README for CPU-only wheels).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

setup() {
  if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
  fi
  # torch first, pinned: an open range could pull a multi-GB CUDA build on a CPU-only machine.
  if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/pip install -q "$TORCH_SPEC"
  fi
  .venv/bin/pip install -q -e ".${1:+[$1]}"   # lab: no extras (no nbgrader); test: the test and instructor tools
}

case "${1:-}" in
  lab)
    setup ""
    .venv/bin/python -m dlhelpers student-copies --out my-work
    exec .venv/bin/python -m jupyter lab my-work/01_sampling.ipynb
    ;;
  test)
    setup "test,instructor"
    export PATH="$PWD/.venv/bin:$PATH"   # nbgrader runs alembic as a subprocess
    shift
    # TEST_WORKERS processes (pytest-xdist; default 2, 1 = no xdist), one torch thread each: much of the suite waits
    # on kernels, servers and browsers, so two workers fill two cores (tests/conftest.py keeps what belongs together).
    WORKERS=${TEST_WORKERS:-2}
    PARALLEL=()
    if [ "$WORKERS" -gt 1 ]; then
      PARALLEL=(-n "$WORKERS" --dist loadfile --no-loadscope-reorder)
      export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
    fi
    set +e
    .venv/bin/python -m pytest tests notebooks "${PARALLEL[@]}" \
      --nbval-lax --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg \
      --nbval-cell-timeout=170 -p no:cacheprovider -o console_output_style=classic --durations=25 "$@"
    rc=$?
    set -e
    [ "$rc" -eq 5 ] && { echo "pytest collected no tests" >&2; exit 1; }
    exit "$rc"
    ;;
  *)
    echo "usage: bash run.sh lab | test [pytest args]" >&2
    exit 2
    ;;
esac
