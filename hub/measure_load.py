"""How much machine a class needs: N students run notebook 01 at the same time through the course hub.

Not part of CI (it takes minutes and the whole machine). Starts the local hub (hub/local_hub.py: loopback ports,
no isolation), then for each of N students at once, through the hub's REST API with an admin service token: create
the user, start their server, upload notebook 01 (the solved version from notebooks/, i.e. a student who finished
the exercises), open a kernel and run every code cell over the kernel's websocket (Jupyter messaging protocol:
execute_request on the shell channel, outputs on iopub). Records per student:

- spawn_s: from "start my server" to the server answering;
- first_sprite_s: from the first cell to the first image output (the 8 DDPM samples of notebook 01);
- run_s: the whole notebook; errors: cells that raised;
- kernel_cpu_s: the kernel's CPU seconds (user + system, psutil); kernel_peak_mb: its peak resident memory
  (VmHWM) and kernel_end_mb (RSS at the end); server_mb: the user's jupyter server (RSS).

Usage: ``OMP_NUM_THREADS=1 .venv/bin/python hub/measure_load.py --students 10 [--ci] --out load.json``.
``--ci`` sets CI=true in the kernels (the notebook's smaller test workload). Figures land in docs/DEPLOYING.md.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

import psutil
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_hub import LocalHub

REPO = Path(__file__).resolve().parents[1]


def _msg(session: str, code: str) -> dict:
    mid = uuid.uuid4().hex
    return {"header": {"msg_id": mid, "msg_type": "execute_request", "username": "load", "session": session,
                       "date": datetime.datetime.now(datetime.timezone.utc).isoformat(), "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": False}}


def kernel_process(kernel_id: str):
    """The kernel's process: its command line names the connection file kernel-<id>.json."""
    for p in psutil.process_iter(["cmdline"]):
        if any(kernel_id in part for part in (p.info["cmdline"] or [])):
            return p
    return None


def peak_rss_mb(proc) -> float:
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return proc.memory_info().rss / 2**20


async def run_student(hub: LocalHub, user: str, nb: dict, t0: float) -> dict:
    rec: dict = {"user": user}
    t = time.monotonic()
    token = await asyncio.to_thread(hub.start_server, user, 900)
    rec["spawn_s"] = round(time.monotonic() - t, 1)
    base = f"{hub.url}/user/{user}"
    await asyncio.to_thread(hub.request, "PUT", f"{base}/api/contents/01_sampling.ipynb",
                            {"type": "notebook", "format": "json", "content": nb}, token)
    session = await asyncio.to_thread(hub.request, "POST", f"{base}/api/sessions",
                                      {"path": "01_sampling.ipynb", "type": "notebook", "name": "01_sampling.ipynb",
                                       "kernel": {"name": "python3"}}, token)
    kid = session["kernel"]["id"]
    ws_url = base.replace("http://", "ws://") + f"/api/kernels/{kid}/channels"
    ws = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}),
                                 max_message_size=256 * 2**20)
    sid, errors, first_sprite = uuid.uuid4().hex, [], None
    start = time.monotonic()
    rec["started_at_s"] = round(start - t0, 1)
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for i, cell in enumerate(cells):
        msg = _msg(sid, "".join(cell["source"]))
        await ws.write_message(json.dumps(msg))
        idle = replied = False
        while not (idle and replied):
            raw = await asyncio.wait_for(ws.read_message(), timeout=3600)
            if raw is None:
                raise RuntimeError(f"{user}: the kernel's websocket closed")
            if isinstance(raw, bytes):  # a message with binary buffers (widget state): not one we wait for
                continue
            m = json.loads(raw)
            if m.get("parent_header", {}).get("msg_id") != msg["header"]["msg_id"]:
                continue
            kind = m["msg_type"]
            if kind == "execute_reply":
                replied = True
            elif kind == "status" and m["content"].get("execution_state") == "idle":
                idle = True
            elif kind == "error":
                errors.append(f"cell {i}: {m['content'].get('ename')}")
            elif kind in ("display_data", "execute_result") and first_sprite is None \
                    and "image/png" in m["content"].get("data", {}):
                first_sprite = time.monotonic() - start
    rec["run_s"] = round(time.monotonic() - start, 1)
    rec["first_sprite_s"] = round(first_sprite, 1) if first_sprite is not None else None
    rec["errors"] = errors
    proc = kernel_process(kid)
    if proc is not None:
        ct = proc.cpu_times()
        rec["kernel_cpu_s"] = round(ct.user + ct.system, 1)
        rec["kernel_peak_mb"] = round(peak_rss_mb(proc))
        rec["kernel_end_mb"] = round(proc.memory_info().rss / 2**20)
        try:
            server = proc.parent()
            rec["server_mb"] = round(server.memory_info().rss / 2**20)
        except (psutil.Error, AttributeError):
            pass
    ws.close()
    await asyncio.to_thread(hub.request, "DELETE", f"{base}/api/sessions/{session['id']}", None, token)
    return rec


def summary(records: list, wall_s: float, machine_cpu_s: float) -> dict:
    def stats(key):
        vals = [r[key] for r in records if r.get(key) is not None]
        return {"median": round(statistics.median(vals), 1), "max": round(max(vals), 1)} if vals else None

    return {k: stats(k) for k in ("spawn_s", "first_sprite_s", "run_s", "kernel_cpu_s", "kernel_peak_mb",
                                  "kernel_end_mb", "server_mb")} | {
        "wall_s": round(wall_s, 1), "machine_cpu_s": round(machine_cpu_s, 1),
        "students_with_errors": sum(1 for r in records if r.get("errors"))}


async def main_async(args) -> dict:
    nb = json.loads(Path(args.notebook).read_text())
    students = [f"student{i:02d}" for i in range(1, args.students + 1)]
    env = {"CI": "true"} if args.ci else {}
    load_before = os.getloadavg()  # other work on the machine when the measurement starts
    root = Path(args.root)
    if root.exists():  # a fresh hub every time; only ever delete a folder an earlier run made
        if not (root / "hub-state").is_dir():
            raise ValueError(f"--root {root} exists and is not an earlier load run's folder")
        shutil.rmtree(root)
    hub = LocalHub(root, instructors=["instructor"], students=students, env=env)
    hub.start()
    try:
        hub_proc = psutil.Process(hub.proc.pid)
        cpu0, t0 = psutil.cpu_times(), time.monotonic()
        records = await asyncio.gather(*(run_student(hub, s, nb, t0) for s in students))
        wall = time.monotonic() - t0
        cpu1 = psutil.cpu_times()
        busy = (cpu1.user + cpu1.system + cpu1.nice) - (cpu0.user + cpu0.system + cpu0.nice)
        result = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                        "cpu": platform.processor() or platform.machine(), "load_avg_before": load_before},
            "students": args.students, "ci_workload": args.ci, "notebook": str(args.notebook),
            "hub_mb": round(hub_proc.memory_info().rss / 2**20),
            "summary": summary(records, wall, busy), "per_student": records,
        }
    finally:
        hub.stop()
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--students", type=int, default=10)
    p.add_argument("--ci", action="store_true", help="CI=true in the kernels (the notebook's smaller workload)")
    p.add_argument("--notebook", default=str(REPO / "notebooks" / "01_sampling.ipynb"))
    p.add_argument("--root", default="/tmp/dlhelpers-hub-load", help="the hub's folders (homes, state)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    if args.students < 1:
        raise ValueError(f"--students must be ≥ 1, got {args.students}")
    result = asyncio.run(main_async(args))
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
