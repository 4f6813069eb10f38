"""``python -m dlhelpers bench``: speed and quality, measured in one process, as ratios against references.

Speed (``speed``): our UNet on the fast path and in fp32 against the course's architecture and training loop in
fp32 (``dlhelpers.tools.course_reference``); samplers; achieved GFLOP/s against the matmul peak. Quality
(``quality``): DDPM-500 (Ho et al., arXiv:2006.11239) against DDIM (Song et al., arXiv:2010.02502) and
DPM-Solver++(2M) (Lu et al., arXiv:2211.01095) from the same noise, scored by context accuracy per class and the
sprite Fréchet distance (Heusel et al., arXiv:1706.08500) of ``dlhelpers.evaluation.metrics``. The report goes to
``reports/benchmarks.md`` (``REPORT``) and links the trial tables measured separately, each in its own file in
``reports/``; ``update_readme`` (``python -m dlhelpers bench-readme``) writes its headline numbers, with a link to
it, into the README.

Imports only the library, never the CLI; nothing in the library imports this package.
"""
from dlhelpers.tools.bench.report import update_readme
from dlhelpers.tools.bench.run import REPORT, run_benchmark

__all__ = ["run_benchmark", "update_readme", "REPORT"]
