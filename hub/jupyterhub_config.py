# JupyterHub for a class of "How Diffusion Models Work" (JupyterHub 5/6, nbgrader 0.9). See docs/DEPLOYING.md.
#
# Two parts:
#   1. the course (any deployment): every user gets JupyterLab in the course's Python environment with nbgrader's
#      student extension (Assignments); instructors also get Formgrader, Create Assignment and Courses; every
#      server knows the exchange folder; per-user limits; OMP_NUM_THREADS=1 so that one student's PyTorch does not
#      take every core of a shared machine.
#   2. the local, single-machine hub of the end-to-end test (DLHELPERS_HUB_LOCAL=1): DummyAuthenticator and
#      SimpleLocalProcessSpawner (no system accounts, NO isolation between users), everything on 127.0.0.1.
#      A real deployment replaces part 2 (docs/DEPLOYING.md): The Littlest JupyterHub (systemd spawner, real
#      Unix users, enforced limits) on one server, Zero to JupyterHub (KubeSpawner) beyond it, with a real
#      authenticator (OAuth / LTI).
#
# Settings come from the environment, so that one file serves the test, the load measurement and a real hub:
#   DLHELPERS_HUB_STATE       folder for the hub's database, cookie secret and proxy pid (default: ./hub-state)
#   DLHELPERS_HUB_INSTRUCTORS comma-separated instructor user names (default: instructor)
#   DLHELPERS_HUB_STUDENTS    comma-separated student user names (the allow list; empty: anyone who can log in)
#   DLHELPERS_COURSE_ID       nbgrader course id (default: diffusion-models, as in nbgrader_config.py)
#   NBGRADER_EXCHANGE         nbgrader's exchange folder (default: /srv/nbgrader/exchange)
#   DLHELPERS_MEM_LIMIT       per-user memory limit, e.g. 2G (default: 2G)
#   DLHELPERS_CPU_LIMIT       per-user CPU limit in cores, e.g. 1 (default: 1)
#   DLHELPERS_SINGLEUSER      the users' jupyterhub-singleuser (default: the one beside the hub's Python)
#   DLHELPERS_HUB_LOCAL=1     part 2; then also DLHELPERS_HUB_PORT, DLHELPERS_HUB_API_PORT, DLHELPERS_PROXY_API_PORT
#                             (loopback ports), DLHELPERS_HUB_PASSWORD (the DummyAuthenticator's shared password),
#                             DLHELPERS_HUB_HOMES (users' home folders), DLHELPERS_CHP (configurable-http-proxy),
#                             DLHELPERS_HUB_ADMIN_TOKEN (a service token with admin scopes, for scripts)
import os
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - get_config() is provided by traitlets when it loads this file

HERE = Path(__file__).resolve().parent
ROLES = HERE / "roles"  # per-role Jupyter config folders: labconfig, server extensions, nbgrader_config.py
STATE = Path(os.environ.get("DLHELPERS_HUB_STATE", "hub-state")).resolve()
STATE.mkdir(parents=True, exist_ok=True)


def _names(var: str, default: str = "") -> set:
    return {n.strip() for n in os.environ.get(var, default).split(",") if n.strip()}


INSTRUCTORS = _names("DLHELPERS_HUB_INSTRUCTORS", "instructor")
STUDENTS = _names("DLHELPERS_HUB_STUDENTS")
COURSE_ID = os.environ.get("DLHELPERS_COURSE_ID", "diffusion-models")
EXCHANGE = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")

# ------------------------------------------------------------------------------------------- 1. the course
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")

# The course's environment: by default the hub's own Python (the one with dlhelpers, torch, JupyterLab and nbgrader
# installed); DLHELPERS_SINGLEUSER names another one's jupyterhub-singleuser (TLJH: /opt/tljh/user/bin/...).
c.Spawner.cmd = [os.environ.get("DLHELPERS_SINGLEUSER") or str(Path(sys.executable).parent / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
# Servers and kernels start slowly on a loaded machine (imports of torch); the defaults (60 s, 30 s) are tight.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120

# Per-user limits. Only spawners with a resource manager ENFORCE them: SystemdSpawner (The Littlest JupyterHub;
# cgroups MemoryMax / CPUQuota), KubeSpawner (Zero to JupyterHub; pod limits) and DockerSpawner. LocalProcessSpawner
# and SimpleLocalProcessSpawner (part 2) only pass them on as MEM_LIMIT / CPU_LIMIT environment variables.
# Notebook 01 peaks at about 0.65 GB per kernel, its server 0.16 GB (docs/DEPLOYING.md, load figures); 2G leaves
# room for notebooks 03/04.
c.Spawner.mem_limit = os.environ.get("DLHELPERS_MEM_LIMIT", "2G")
c.Spawner.cpu_limit = float(os.environ.get("DLHELPERS_CPU_LIMIT", "1"))

# Every server: the exchange, the course id, one thread per kernel (a class shares the cores).
c.Spawner.environment = {
    "NBGRADER_EXCHANGE": EXCHANGE,
    "DLHELPERS_COURSE_ID": COURSE_ID,
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
# Passed through from the hub's own environment when set (CI=true shrinks the notebooks' work in tests).
c.Spawner.env_keep = ["PATH", "PYTHONPATH", "VIRTUAL_ENV", "LANG", "LC_ALL", "CI", "JUPYTERHUB_SINGLEUSER_APP"]

# Users: the allow list is the class roster. Instructors are not hub admins (nbgrader does not need it; make them
# admins with c.Authenticator.admin_users if they should see students' servers).
if STUDENTS:
    c.Authenticator.allowed_users = STUDENTS | INSTRUCTORS
else:
    c.Authenticator.allow_all = True
c.JupyterHub.load_groups = {"instructors": {"users": sorted(INSTRUCTORS)},
                            "students": {"users": sorted(STUDENTS)}}


def role_of(username: str) -> str:
    """'instructor' for the names in DLHELPERS_HUB_INSTRUCTORS, 'student' for everyone else."""
    return "instructor" if username in INSTRUCTORS else "student"


def course_pre_spawn_hook(spawner):
    """Per-role nbgrader extensions: JUPYTER_CONFIG_PATH points at hub/roles/<role>/ (nbgrader docs,
    "Installation": disable the formgrader server extension and the formgrader, course-list and create-assignment
    lab extensions for students). Exchange folders the students write to are created here if missing."""
    role = role_of(spawner.user.name)
    env = dict(spawner.environment)  # a copy: the configured dict is shared between spawners
    env["JUPYTER_CONFIG_PATH"] = str(ROLES / role)
    env["DLHELPERS_ROLE"] = role
    spawner.environment = env
    # nbgrader's filesystem exchange: <root>/<course>/{outbound,inbound,feedback}; release_assignment makes them
    # with the right modes, but the root itself must exist and be world-writable with the sticky bit.
    root = Path(EXCHANGE)
    if not root.exists():
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o1777)


c.Spawner.pre_spawn_hook = course_pre_spawn_hook

# ------------------------------------------------------------------------- 2. the local hub of the tests
if os.environ.get("DLHELPERS_HUB_LOCAL") == "1":
    ip = "127.0.0.1"
    c.JupyterHub.bind_url = f"http://{ip}:{int(os.environ.get('DLHELPERS_HUB_PORT', '8000'))}"
    c.JupyterHub.hub_ip = ip
    c.JupyterHub.hub_port = int(os.environ.get("DLHELPERS_HUB_API_PORT", "8081"))
    c.ConfigurableHTTPProxy.api_url = f"http://{ip}:{int(os.environ.get('DLHELPERS_PROXY_API_PORT', '8001'))}"
    chp = os.environ.get("DLHELPERS_CHP") or str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")
    if not Path(chp).exists():
        chp = shutil.which("configurable-http-proxy") or chp
    c.ConfigurableHTTPProxy.command = [chp]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        c.Spawner.args = ["--allow-root"]  # containers and CI machines run everything as root
    c.Spawner.ip = ip  # each user's server on a random free loopback port (Spawner.port = 0, the default)

    # Test logins: any user name of the allow list with one shared password. SharedPasswordAuthenticator is
    # DummyAuthenticator's successor in JupyterHub >= 5.3 (DummyAuthenticator.password is deprecated there); without
    # a password, DummyAuthenticator takes any password: tests only, never on a reachable port.
    if os.environ.get("DLHELPERS_HUB_PASSWORD"):
        c.JupyterHub.authenticator_class = "shared-password"
        c.SharedPasswordAuthenticator.user_password = os.environ["DLHELPERS_HUB_PASSWORD"]
    else:
        c.JupyterHub.authenticator_class = "dummy"
    c.JupyterHub.spawner_class = "simple"  # SimpleLocalProcessSpawner: no Unix users, no isolation: tests only
    c.SimpleLocalProcessSpawner.home_dir_template = str(
        Path(os.environ.get("DLHELPERS_HUB_HOMES", str(STATE / "homes"))).resolve() / "{username}")
    # A service whose token drives the hub's REST API (load measurement: create users, start servers, tokens).
    if os.environ.get("DLHELPERS_HUB_ADMIN_TOKEN"):
        c.JupyterHub.services = [{"name": "course-admin", "api_token": os.environ["DLHELPERS_HUB_ADMIN_TOKEN"]}]
        c.JupyterHub.load_roles = [{"name": "course-admin", "services": ["course-admin"],
                                    "scopes": ["admin:users", "admin:servers", "tokens", "access:servers",
                                               "read:hub"]}]
    # The servers of a test must not outlive it.
    c.JupyterHub.cleanup_servers = True
    c.JupyterHub.cleanup_proxy = True
