# nbgrader settings of every student's server (hub/jupyterhub_config.py puts this folder on JUPYTER_CONFIG_PATH).
# Students only fetch, submit and fetch feedback: they need the course id and the exchange, nothing else.
import os

c = get_config()  # noqa: F821 - get_config() is provided by traitlets when it loads this file
c.CourseDirectory.course_id = os.environ.get("DLHELPERS_COURSE_ID", "diffusion-models")
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")
# Who submits: nbgrader takes the Unix user name (every server of a SimpleLocalProcessSpawner or KubeSpawner hub
# runs as the same Unix user; TLJH's are "jupyter-<name>"), so name the student after their hub account instead.
if os.environ.get("JUPYTERHUB_USER"):
    c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
