# nbgrader settings of an instructor's server (hub/jupyterhub_config.py puts this folder on JUPYTER_CONFIG_PATH).
# The course lives in ~/course, made by `python -m dlhelpers course --course-dir ~/course --release`; its own
# nbgrader_config.py (written by that command) loads the repository's settings (solution stubs, autograding
# limits) and is loaded here, so Formgrader and the nbgrader command line agree.
import os

c = get_config()  # noqa: F821 - get_config() is provided by traitlets when it loads this file
_course = os.path.join(os.path.expanduser("~"), "course")
_course_config = os.path.join(_course, "nbgrader_config.py")
if os.path.exists(_course_config):
    load_subconfig(_course_config)  # noqa: F821 - provided by traitlets, like get_config()
c.CourseDirectory.course_id = os.environ.get("DLHELPERS_COURSE_ID", "diffusion-models")
c.CourseDirectory.root = _course
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")
