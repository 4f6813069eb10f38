"""A course JupyterHub on this machine, on loopback ports: for the end-to-end test, the load measurement and for
trying the class setup on a laptop (``python hub/local_hub.py``; see hub/README.md).

Runs ``jupyterhub -f hub/jupyterhub_config.py`` with ``DLHELPERS_HUB_LOCAL=1``: DummyAuthenticator (one shared
password), SimpleLocalProcessSpawner (no Unix users, no isolation: never for a real class), configurable-http-proxy
from npm (``hub/node_modules``, see .ci/run) on random free ports of 127.0.0.1. A hub service token with the admin
role (``LocalHub.admin_token``) drives the hub's REST API. ``stop()`` ends the hub, which stops the proxy and every
user's server; anything left (found by process id: the proxy's pid file, the recorded descendants) is killed.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterable, Optional

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "jupyterhub_config.py"
CHP = HERE / "node_modules" / ".bin" / "configurable-http-proxy"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_chp() -> Optional[str]:
    """configurable-http-proxy: hub/node_modules first (where .ci/run installs it), then PATH; None if missing."""
    if CHP.exists():
        return str(CHP)
    return shutil.which("configurable-http-proxy")


def missing_requirements() -> list[str]:
    """What a local hub lacks on this machine (empty: it can start)."""
    missing = []
    if shutil.which("node") is None:
        missing.append("node (apt-get install nodejs npm)")
    if find_chp() is None:
        missing.append("configurable-http-proxy (npm install --prefix hub configurable-http-proxy@5)")
    try:
        import jupyterhub  # noqa: F401 - only whether it imports matters here
    except ImportError:
        missing.append("jupyterhub (pip install jupyterhub)")
    return missing


def _die_with_parent():
    """Linux: the hub gets SIGTERM if the Python process that started it dies without stopping it."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _PortTaken(Exception):
    """The hub (or its proxy) found one of its ports taken."""


class LocalHub:
    """One JupyterHub + configurable-http-proxy on 127.0.0.1, its state under ``root``."""

    def __init__(self, root, instructors: Iterable[str] = ("instructor",), students: Iterable[str] = (),
                 exchange=None, env: Optional[dict] = None, password: Optional[str] = None):
        self.root = Path(root).resolve()
        self.state, self.homes = self.root / "hub-state", self.root / "homes"
        self.exchange = Path(exchange).resolve() if exchange else self.root / "exchange"
        self.instructors, self.students = list(instructors), list(students)
        if not self.instructors:
            raise ValueError("instructors must name at least one user")
        self.password = password if password is not None else secrets.token_hex(8)
        self.admin_token = secrets.token_hex(24)
        self.port, self.api_port, self.proxy_api_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = dict(env or {})
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = self.root / "jupyterhub.log"
        self._pids: set = set()

    def home(self, user: str) -> Path:
        return self.homes / user

    # -------------------------------------------------------------------------------------------- start, stop
    def start(self, timeout: float = 120, attempts: int = 3) -> "LocalHub":
        """Start the hub and wait until its API answers. The three ports are free when picked but can be taken by
        another process before the hub binds them (seen with two test workers starting kernels): then the hub
        exits saying so, and it is started again on fresh ports, up to ``attempts`` times."""
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f"attempts must be an int ≥ 1, got {attempts!r}")
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once(timeout)
            except _PortTaken:
                self.stop(timeout=10, grace=1)
                if attempt == attempts:
                    raise RuntimeError(f"jupyterhub could not bind its ports in {attempts} attempts:\n"
                                       f"{self.log_tail()}") from None
                self.port, self.api_port, self.proxy_api_port = free_port(), free_port(), free_port()
                self.url = f"http://127.0.0.1:{self.port}"

    def _start_once(self, timeout: float) -> "LocalHub":
        chp = find_chp()
        if chp is None:
            raise RuntimeError("configurable-http-proxy is missing: " + ", ".join(missing_requirements()))
        for d in (self.state, self.homes):
            d.mkdir(parents=True, exist_ok=True)
        self.exchange.mkdir(parents=True, exist_ok=True)
        self.exchange.chmod(0o1777)  # nbgrader's exchange root: everyone writes, the sticky bit protects files
        env = dict(os.environ, **self.extra_env)
        env.update({
            "DLHELPERS_HUB_LOCAL": "1", "DLHELPERS_HUB_STATE": str(self.state), "DLHELPERS_HUB_HOMES": str(self.homes),
            "DLHELPERS_HUB_INSTRUCTORS": ",".join(self.instructors), "DLHELPERS_HUB_STUDENTS": ",".join(self.students),
            "DLHELPERS_HUB_PASSWORD": self.password, "DLHELPERS_HUB_PORT": str(self.port),
            "DLHELPERS_HUB_API_PORT": str(self.api_port), "DLHELPERS_PROXY_API_PORT": str(self.proxy_api_port),
            "DLHELPERS_CHP": chp, "DLHELPERS_HUB_ADMIN_TOKEN": self.admin_token,
            "NBGRADER_EXCHANGE": str(self.exchange),
            "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(24), "PYTHONUNBUFFERED": "1",
            # the venv's bin first: servers, kernels and nbgrader (which runs `alembic`) come from this Python
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        })
        log = open(self.log_path, "ab")
        log_start = log.tell()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)], cwd=self.state, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            this_attempt = self.log_path.read_bytes()[log_start:].decode(errors="replace")
            if any(m in this_attempt for m in ("Failed to bind", "EADDRINUSE", "Address already in use")):
                raise _PortTaken()        # at once: the hub takes a minute to exit after it
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyterhub exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/info", timeout=2)   # short: a squatter on its port may never answer
                break
            except (OSError, urllib.error.URLError) as exc:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"jupyterhub did not answer within {timeout} s:\n{self.log_tail()}") from exc
                time.sleep(0.5)
        self._remember_pids()
        return self

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    def _remember_pids(self) -> None:
        """Record the hub's descendants and the proxy (its own session), to kill whatever stop() leaves."""
        try:
            import psutil
            self._pids |= {p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)}
        except Exception:  # noqa: BLE001 - psutil missing or the hub already gone: stop() kills what it knows
            pass
        pid = self.proxy_pid()
        if pid:
            self._pids.add(pid)

    def proxy_pid(self) -> Optional[int]:
        try:
            return int((self.state / "proxy.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def leftover_pids(self) -> list[int]:
        """Recorded processes still alive (after stop(): empty when everything ended)."""
        alive = []
        for pid in sorted(self._pids):
            try:
                os.kill(pid, 0)
            except OSError:
                continue
            try:  # a zombie is gone for our purposes
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().split(") ", 1)[1].startswith("Z"):
                        continue
            except OSError:
                pass
            alive.append(pid)
        return alive

    def stop(self, timeout: float = 60, grace: float = 10) -> None:
        """SIGTERM the hub (it stops the user servers and the proxy), wait up to ``timeout`` s; then, after
        ``grace`` s for its children, SIGKILL whatever is left."""
        if self.proc is None:
            return
        self._remember_pids()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait(10)
        deadline = time.monotonic() + grace
        while self.leftover_pids() and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in self.leftover_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------------------------------------ REST API
    def api(self, method: str, path: str, body=None, token: Optional[str] = None, timeout: float = 60):
        """The hub's REST API (``/hub/api`` + path) with the admin service token; returns the decoded JSON."""
        return self.request(method, f"{self.url}/hub/api{path}", body, token or self.admin_token, timeout)

    @staticmethod
    def request(method: str, url: str, body=None, token: Optional[str] = None, timeout: float = 60):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        if token:
            req.add_header("Authorization", f"token {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def start_server(self, user: str, timeout: float = 240) -> str:
        """Create the user if needed, start their server and wait until it answers; returns a user API token."""
        try:
            self.api("POST", f"/users/{user}")
        except urllib.error.HTTPError as e:
            if e.code != 409:  # 409: exists already
                raise
        try:
            self.api("POST", f"/users/{user}/server")
        except urllib.error.HTTPError as e:
            if e.code != 400:  # 400: already running
                raise
        token = self.api("POST", f"/users/{user}/tokens", {"note": "course load measurement", "expires_in": 7200})
        token = token["token"]
        deadline = time.monotonic() + timeout
        while True:
            model = self.api("GET", f"/users/{user}")
            server = (model.get("servers") or {}).get("")
            if server and server.get("ready"):
                break
            if server is None:  # the spawn failed (the hub forgets a server that never came up)
                raise RuntimeError(f"{user}'s server failed to start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{user}'s server did not start within {timeout} s:\n{self.log_tail()}")
            time.sleep(1)
        self._remember_pids()
        return token


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description="Start the course hub on 127.0.0.1 until Ctrl-C (testing only: "
                                "DummyAuthenticator, no isolation between users).")
    p.add_argument("--root", default="hub-local", help="folder for state, homes and the exchange")
    p.add_argument("--instructors", default="instructor")
    p.add_argument("--students", default="", help="comma-separated; empty: any name can log in")
    p.add_argument("--password", default=None, help="the shared password (default: a random one, printed)")
    args = p.parse_args(argv)
    hub = LocalHub(args.root, args.instructors.split(","), [s for s in args.students.split(",") if s],
                   password=args.password)
    hub.start()
    print(f"hub: {hub.url}  password: {hub.password}  (Ctrl-C stops it; log: {hub.log_path})", flush=True)
    try:
        while hub.proc.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
