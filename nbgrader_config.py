# nbgrader configuration for "How Diffusion Models Work" (instructors only: pip install -e ".[instructor]").
# Students never need it: their copies (my-work/) come from `python -m dlhelpers student-copies`, without nbgrader.
# nbgrader reads this file when run from the repository root. The course directory it points at, course/, is
# git-ignored and GENERATED from notebooks/ by `python -m dlhelpers course` (the class version of each notebook:
# the self-study model answers dropped); `python -m dlhelpers grade DIR` autogrades. See INSTRUCTORS.md.
import os

c = get_config()  # noqa: F821 - get_config() is provided by traitlets when it loads this file

_here = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "diffusion-models"
# course/source/<NN_name>/<NN_name>.ipynb (generated), course/release/, course/submitted/<student>/<NN_name>/,
# course/autograded/, course/feedback/, course/gradebook.db
c.CourseDirectory.root = os.path.join(_here, "course")

# Only needed for nbgrader release_assignment / fetch_assignment / submit / collect on a shared machine.
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")

# Stub left in place of each solution (the notebooks' checks recognise NotImplementedError and say so).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Written answers (markdown cells with solution + grade) get "YOUR ANSWER HERE" (ClearSolutions.text_stub, default);
# autograde leaves them for manual grading in formgrader (an unchanged answer scores 0 by itself).

# Per-cell limit when autograding: ends a submission's infinite loop (the cell scores 0, later cells still run).
# Set on ExecutePreprocessor (not Execute) so that `--ExecutePreprocessor.timeout=N` on the command line wins.
c.ExecutePreprocessor.timeout = 300
