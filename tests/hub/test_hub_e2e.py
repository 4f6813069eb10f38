"""A class on JupyterHub with nbgrader's exchange, end to end (docs/DEPLOYING.md walks through the same steps).

One hub (hub/jupyterhub_config.py, local mode: shared-password logins, SimpleLocalProcessSpawner, loopback ports,
configurable-http-proxy from npm). The instructor builds the course (``python -m dlhelpers course``), adds an
assignment of notebook 02's exercises to its source, logs in through Chromium and, with Formgrader's REST API in
that browser session, adds the roster, generates and releases it (docs/DEPLOYING.md uses 01; the steps are the
same). Students:

- alice logs in through Chromium, fetches and submits her untouched copy in the Assignments tab, then the solved
  one (the course source's solutions; the resubmission must replace the first);
- with API tokens: bob submits a planted wrong answer in the last exercise; carol the notebook untouched, twice;
  dave a submission that is not notebook JSON; erin the solved notebook, renamed; frank never fetches and tries
  to submit.

The instructor collects, autogrades each submission, generates and releases feedback; students fetch it. The
scores in nbgrader's gradebook (Formgrader's submissions table) must match what each student did, computed from
the notebook's own nbgrader metadata. The hub starts with its API port taken by another socket (it must retry on
fresh ports once); the hub, the proxy and every server must be gone at the end.
Environment: ``DLHELPERS_HUB_TEST_ROOT`` keeps the hub's folders there (for debugging) instead of a temp dir.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.hub

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright for Python is not installed")
pytest.importorskip("nbgrader", reason="nbgrader is not installed (pip install -e '.[instructor]')")
from local_hub import LocalHub, missing_requirements  # noqa: E402  (hub/, put on sys.path by conftest.py)

if missing_requirements():
    pytest.skip("the hub needs " + ", ".join(missing_requirements()), allow_module_level=True)

from browser_steps import fetch_and_submit_in_assignments_tab, login, nbgrader_menu  # noqa: E402 - after the skips
from nbgrader_helpers import (BrowserClient, TokenClient, contents_path,  # noqa: E402 - after the skips above
                              feedback_files, gradebook_grades, graded_cells, inbound_latest, plant_wrong_answer,
                              solved)
from support import exercise_notebook  # noqa: E402 - tests/ is put on sys.path by tests/hub/conftest.py

REPO = Path(__file__).resolve().parents[2]
# The assignment: notebook 02's exercises cut out of the course's own source (tests/support.py exercise_notebook:
# its setup cell and graded cells, checks and hidden tests as they are), so that autograde, which runs it once per
# submission, takes seconds; the whole notebook runs under nbval and in the browser test. Nothing here depends on
# which notebook it is (graded cells, points and functions come from its metadata).
COURSE, ASSIGNMENT, CUT_FROM = "diffusion-models", "02_exercises", "02_unet_embeddings"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
# alice logs in and submits through Chromium (a login costs ~12 s of the run); the others use API tokens, which
# reach the same REST endpoints the Assignments tab calls.
BROWSER_STUDENTS = ("alice",)
TOKEN_STUDENTS = ("bob", "carol", "dave", "erin", "frank")
STUDENTS = BROWSER_STUDENTS + TOKEN_STUDENTS
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
STUDENT_OFF = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:course-list"}
IDS = {"course_id": COURSE, "assignment_id": ASSIGNMENT}


def build_course(home: Path) -> Path:
    """``python -m dlhelpers course --course-dir ~/course`` as the instructor would type it."""
    course = home / "course"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run([sys.executable, "-m", "dlhelpers", "course", "--course-dir", str(course)], cwd=home,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"python -m dlhelpers course failed:\n{proc.stdout}{proc.stderr}"
    whole = course / "source" / CUT_FROM / f"{CUT_FROM}.ipynb"
    assert whole.exists(), proc.stdout
    (course / "source" / ASSIGNMENT).mkdir()     # an assignment of the instructor's own, beside the course's
    cut = exercise_notebook(nbformat.read(str(whole), as_version=4))
    nbformat.write(cut, str(course / "source" / ASSIGNMENT / NOTEBOOK))
    return course


def ok(reply, what: str):
    assert reply.status == 200, f"{what}: HTTP {reply}"
    data = reply.json()
    if isinstance(data, dict) and "success" in data:
        assert data["success"], f"{what}: {data}"
    return data


def listing(client) -> list:
    return ok(client.call("GET", f"/assignments?course_id={COURSE}"), "list assignments")["value"]


def statuses(client) -> list:
    return [a["status"] for a in listing(client) if a["assignment_id"] == ASSIGNMENT]


def save_notebook(client, nb, name=NOTEBOOK):
    ok(client.call("PUT", contents_path(ASSIGNMENT, name), {"type": "notebook", "format": "json", "content": nb}),
       "save notebook")


def run_class(root: Path) -> dict:
    """The whole class, recorded; the hub is stopped before this returns."""
    R: dict = {"timings": {}, "disabled": {}, "submit": {}, "autograde": {}, "collect": [], "root": root}
    t_start = time.monotonic()
    hub = LocalHub(root, instructors=["instructor"], students=STUDENTS, env={"CI": "true"})
    R["hub"] = hub
    hub.homes.mkdir(parents=True, exist_ok=True)
    course = build_course(hub.home("instructor"))
    R["course"] = course
    source_nb = json.loads((course / "source" / ASSIGNMENT / NOTEBOOK).read_text())
    R["graded"] = graded_cells(source_nb)
    try:
        # another process took the hub's API port between picking it and the hub binding it (seen with two test
        # workers starting kernels): the start is retried on fresh ports, once, and costs a retry, not the run
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", hub.api_port))
            squatter.listen()
            R["taken_port"] = hub.api_port
            hub.start()
        R["api_port"] = hub.api_port
        R["timings"]["hub up"] = round(time.monotonic() - t_start, 1)
        for user in TOKEN_STUDENTS:  # their servers start while the browser logs the others in
            hub.api("POST", f"/users/{user}/server")
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                ctx, config, page = login(browser, hub, "instructor", R["timings"], keep_page=True)
                R["menu"] = {"instructor": nbgrader_menu(page)}
                page.close()
                R["disabled"]["instructor"] = set(config.get("disabledExtensions") or [])
                teacher = BrowserClient(hub.url, "instructor", ctx)
                fg = "/formgrader/api"
                ok(teacher.call("GET", f"{fg}/status"), "formgrader status")
                for s in STUDENTS:  # the roster: students who never submit are in the score table too
                    ok(teacher.call("PUT", f"{fg}/student/{s}", {"first_name": s.title(), "last_name": "Student",
                                                                 "email": None}), f"add student {s}")
                ok(teacher.call("POST", f"{fg}/assignment/{ASSIGNMENT}/assign"), "generate assignment")
                ok(teacher.call("POST", f"{fg}/assignment/{ASSIGNMENT}/release"), "release")
                released = json.loads((course / "release" / ASSIGNMENT / NOTEBOOK).read_text())
                R["released"] = released
                clients = {}
                pages = {}
                for s in BROWSER_STUDENTS:
                    sctx, sconfig, pages[s] = login(browser, hub, s, R["timings"], keep_page=s == "alice")
                    R["disabled"][s] = set(sconfig.get("disabledExtensions") or [])
                    clients[s] = BrowserClient(hub.url, s, sctx)
                for s in TOKEN_STUDENTS:
                    clients[s] = TokenClient(hub.url, s, hub.start_server(s))
                R["formgrader_for_student"] = clients["alice"].call("GET", "/formgrader").status
                R["released_list"] = statuses(clients["alice"])

                t0 = time.monotonic()
                # alice by hand: Nbgrader menu → Assignment List → Fetch, then Submit (her untouched copy)
                R["menu"]["alice"] = fetch_and_submit_in_assignments_tab(pages["alice"], ASSIGNMENT)
                pages["alice"].close()
                R["timings"]["alice's clicks"] = round(time.monotonic() - t0, 1)
                for s in STUDENTS[1:-1]:  # the others through the same REST endpoints; frank never fetches
                    ok(clients[s].call("POST", "/assignments/fetch", IDS), f"{s} fetch")
                    assert (hub.home(s) / ASSIGNMENT / NOTEBOOK).exists(), f"{s}: fetch wrote nothing"
                fetched = json.loads((hub.home("alice") / ASSIGNMENT / NOTEBOOK).read_text())
                right = solved(fetched, source_nb)
                wrong, R["wrong_check"] = plant_wrong_answer(right)

                def submit(s):
                    R["submit"].setdefault(s, []).append(clients[s].call("POST", "/assignments/submit", IDS).json())

                R["submit"]["alice"] = [{"success": True}]  # submitted in the Assignments tab (above)
                save_notebook(clients["bob"], wrong)
                submit("bob")
                submit("carol")
                submit("carol")  # twice before a collect: only the later one counts
                ok(clients["dave"].call("PUT", contents_path(ASSIGNMENT, NOTEBOOK),
                                        {"type": "file", "format": "text", "content": "{ this is not JSON"}), "dave")
                submit("dave")
                save_notebook(clients["erin"], right)
                ok(clients["erin"].call("PATCH", contents_path(ASSIGNMENT, NOTEBOOK),
                                        {"path": f"{ASSIGNMENT}/my_answers.ipynb"}), "erin renames")
                submit("erin")
                submit("frank")
                R["timings"]["fetch + submit"] = round(time.monotonic() - t0, 1)

                t0 = time.monotonic()
                R["collect"].append(ok(teacher.call("POST", f"{fg}/assignment/{ASSIGNMENT}/collect"), "collect"))
                R["alice_first"] = (course / "submitted" / "alice" / ASSIGNMENT / "timestamp.txt").read_text().strip()
                save_notebook(clients["alice"], right)  # a resubmission after the collect (the deadline not set)
                submit("alice")
                R["collect"].append(ok(teacher.call("POST", f"{fg}/assignment/{ASSIGNMENT}/collect"), "collect 2"))
                R["inbound"] = sorted(p.name for p in (hub.exchange / COURSE / "inbound").iterdir())
                R["collected"] = sorted(p.name for p in (course / "submitted").iterdir())
                for s in R["collected"]:
                    t1 = time.monotonic()
                    R["autograde"][s] = teacher.call("POST", f"{fg}/submission/{ASSIGNMENT}/{s}/autograde").json()
                    R["timings"][f"autograde {s}"] = round(time.monotonic() - t1, 1)
                R["generate_feedback"] = teacher.call("POST", f"{fg}/assignment/{ASSIGNMENT}/generate_feedback").json()
                R["release_feedback"] = teacher.call("POST", f"{fg}/assignment/{ASSIGNMENT}/release_feedback").json()
                R["timings"]["collect + grade + feedback"] = round(time.monotonic() - t0, 1)
                for s in STUDENTS:
                    clients[s].call("POST", "/assignments/fetch_feedback", IDS)
                R["feedback"] = {s: feedback_files(hub.home(s), ASSIGNMENT) for s in STUDENTS}
                R["table"] = {row["student"]: row for row in
                              ok(teacher.call("GET", f"{fg}/submissions/{ASSIGNMENT}"), "score table")}
                R["students"] = {row["id"]: row for row in
                                 ok(teacher.call("GET", f"{fg}/students"), "students")}
                R["grades"] = gradebook_grades(course, COURSE, ASSIGNMENT, STUDENTS)
                R["collected_ts"] = {s: (course / "submitted" / s / ASSIGNMENT / "timestamp.txt").read_text().strip()
                                     for s in R["collected"]}
                R["alice_collected"] = json.loads((course / "submitted" / "alice" / ASSIGNMENT / NOTEBOOK).read_text())
            finally:
                browser.close()
    finally:
        R["proxy_pid"] = hub.proxy_pid()
        hub.stop()
        R["leftover"] = hub.leftover_pids()
        R["timings"]["total"] = round(time.monotonic() - t_start, 1)
    return R


@pytest.fixture(scope="module")
def cls(tmp_path_factory):
    keep = os.environ.get("DLHELPERS_HUB_TEST_ROOT")
    root = Path(keep) if keep else tmp_path_factory.mktemp("hub")
    if keep and root.exists():
        shutil.rmtree(root)
    R = run_class(root)
    print("\nhub e2e timings (s):", json.dumps(R["timings"]))
    return R


def expected_grades(R, solved_ok: bool, wrong_check=None) -> dict:
    """{grade_id: (score, max)} for a submission: code checks earn their points when solved (0 for the planted
    wrong answer's check); written answers left as "YOUR ANSWER HERE" score 0 (nbgrader grades them itself)."""
    return {g["grade_id"]: ((g["points"] if solved_ok and g["cell_type"] == "code" and g["grade_id"] != wrong_check
                             else 0.0), g["points"]) for g in R["graded"]}


def test_instructor_tools_only_for_the_instructor(cls):
    for s in BROWSER_STUDENTS:
        assert STUDENT_OFF <= cls["disabled"][s], f"{s} sees instructor tools: {cls['disabled'][s]}"
        assert "@jupyter/nbgrader:assignment-list" not in cls["disabled"][s]
    assert not STUDENT_OFF & cls["disabled"]["instructor"]
    for tool in ("Formgrader", "Create assignment", "Course List"):  # the Nbgrader menu, as each one sees it
        assert tool in cls["menu"]["instructor"] and tool not in cls["menu"]["alice"], cls["menu"]
    assert "Assignment List" in cls["menu"]["alice"]
    assert cls["formgrader_for_student"] == 404  # the formgrader server extension is off for students
    assert cls["released_list"] == ["released"]  # the release reached the students' Assignments list


def test_scores_match_what_each_student_did(cls):
    graded = cls["graded"]
    assert any(g["cell_type"] == "code" for g in graded), f"{NOTEBOOK} has no graded check cell"
    code_points = sum(g["points"] for g in graded if g["cell_type"] == "code")
    total = sum(g["points"] for g in graded)
    wrong = cls["wrong_check"]
    assert cls["grades"]["alice"] == expected_grades(cls, True)
    assert cls["grades"]["bob"] == expected_grades(cls, True, wrong)
    assert cls["grades"]["carol"] == expected_grades(cls, False)
    wrong_points = next(g["points"] for g in graded if g["grade_id"] == wrong)
    for s, score in {"alice": code_points, "bob": code_points - wrong_points, "carol": 0.0}.items():
        row = cls["table"][s]
        assert cls["autograde"][s]["success"], cls["autograde"][s]
        assert (row["autograded"], row["score"], row["max_score"]) == (True, score, total), row


def test_nothing_lost_and_the_latest_submission_counts(cls):
    latest = inbound_latest(cls["inbound"], ASSIGNMENT)
    assert set(latest) == {"alice", "bob", "carol", "dave", "erin"}
    assert sorted(cls["collected"]) == sorted(latest)  # every submission collected, nothing else
    assert cls["collected_ts"] == latest  # each student's latest submission (carol submitted twice)
    assert cls["alice_first"] != latest["alice"]  # alice's resubmission after the first collect replaced it
    assert "Updating submission: alice" in cls["collect"][1]["log"]
    alice = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in cls["alice_collected"]["cells"]
             if c.get("metadata", {}).get("nbgrader", {}).get("solution") and c["cell_type"] == "code"}
    assert alice and not any("NotImplementedError" in src for src in alice.values())


def test_bad_input_is_visible_in_the_score_table(cls):
    table, ag = cls["table"], cls["autograde"]
    # not notebook JSON: collected, autograde fails on it (nbgrader's NotJSONError), 0 points, not autograded
    assert not ag["dave"]["success"] and "NotJSONError" in ag["dave"]["log"]
    # renamed: nbgrader skips the unknown notebook and finds none to grade
    assert not ag["erin"]["success"] and "Skipping unknown notebook" in ag["erin"]["log"]
    for s in ("dave", "erin"):
        assert (table[s]["submitted"], table[s]["autograded"], table[s]["score"]) == (True, False, 0.0), table[s]
    # never fetched: the submit is refused, nothing reaches the exchange, the roster shows 0 points
    assert not cls["submit"]["frank"][0]["success"] and "Assignment not found" in cls["submit"]["frank"][0]["value"]
    assert "frank" not in inbound_latest(cls["inbound"], ASSIGNMENT) and "frank" not in table
    assert cls["students"]["frank"]["score"] == 0.0
    # a second submission is accepted (and replaces the first: test_nothing_lost...)
    assert all(r["success"] for r in cls["submit"]["alice"] + cls["submit"]["carol"])


def test_each_graded_student_gets_feedback(cls):
    total = sum(g["points"] for g in cls["graded"])
    for s in ("alice", "bob", "carol"):
        files = cls["feedback"][s]
        assert len(files) == 1, f"{s}: {files}"
        score = cls["table"][s]["score"]
        assert f"Score: {score:.1f} / {total:.1f}" in files[0].read_text(errors="replace")
    assert not any(cls["feedback"][s] for s in ("dave", "erin", "frank"))  # no grade, no feedback


def test_a_taken_port_costs_one_retry_on_fresh_ports(cls):
    assert cls["api_port"] != cls["taken_port"]
    assert cls["hub"].log_path.read_text().count("Failed to bind") == 1


def test_hub_proxy_and_servers_are_stopped(cls):
    assert cls["proxy_pid"], "the proxy's pid file was never written"
    assert cls["leftover"] == [], f"still running after stop(): {cls['leftover']}"
    with pytest.raises(OSError):
        os.kill(cls["proxy_pid"], 0)
