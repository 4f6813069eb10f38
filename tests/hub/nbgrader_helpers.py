"""Helpers of the hub's end-to-end test: nbgrader cells discovered from metadata, the students' versions of a
notebook (solved, planted wrong answer), and one HTTP client shape for a browser session and for a token.

Nothing about notebook 01 is hard-coded: graded cells, points and the functions students write are read from the
notebook's nbgrader metadata (``grade_id``, ``points``, ``solution``, ``grade``) at test time.
"""
from __future__ import annotations

import ast
import copy
import json
import urllib.error
import urllib.request
from typing import Optional

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def graded_cells(nb) -> list[dict]:
    """[{grade_id, points, cell_type}] of every graded cell (code checks and written answers), in order."""
    return [{"grade_id": m["grade_id"], "points": float(m.get("points", 0)), "cell_type": c["cell_type"]}
            for c in nb["cells"] for m in [nbgrader_meta(c)] if m.get("grade")]


def solutions_by_id(nb) -> dict:
    """{grade_id: source} of the code solution cells (the cells students fill in)."""
    return {m["grade_id"]: source(c) for c in nb["cells"] for m in [nbgrader_meta(c)]
            if m.get("solution") and not m.get("grade") and c["cell_type"] == "code"}


def strip_markers(src: str) -> str:
    """A solution as a student would type it: the nbgrader region markers removed."""
    return "\n".join(line for line in src.splitlines() if line.strip() not in (BEGIN, END)) + "\n"


def solved(released, source_nb) -> dict:
    """The released notebook with every code exercise solved as in the course source."""
    nb, answers = copy.deepcopy(released), solutions_by_id(source_nb)
    for cell in nb["cells"]:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in answers:
            cell["source"] = strip_markers(answers[gid])
    return nb


def check_after(nb, solution_id: str) -> Optional[str]:
    """grade_id of the first graded code cell after the solution cell ``solution_id`` (the check it feeds)."""
    seen = False
    for cell in nb["cells"]:
        m = nbgrader_meta(cell)
        if m.get("grade_id") == solution_id:
            seen = True
        elif seen and m.get("grade") and cell["cell_type"] == "code":
            return m["grade_id"]
    return None


def plant_wrong_answer(solved_nb) -> tuple[dict, str]:
    """A solved notebook whose LAST code exercise returns its first argument unchanged (a wrong answer that runs).

    The last exercise, so that no later check builds on it. Returns (notebook, grade_id of the check that must fail).
    """
    nb = copy.deepcopy(solved_nb)
    ids = [gid for gid in solutions_by_id(nb) if check_after(nb, gid)]
    if not ids:
        raise ValueError("solved_nb has no code exercise followed by a graded check")
    target = ids[-1]
    for cell in nb["cells"]:
        if nbgrader_meta(cell).get("grade_id") == target:
            funcs = [n.name for n in ast.parse(source(cell)).body if isinstance(n, ast.FunctionDef)]
            if not funcs:
                raise ValueError(f"solution cell {target} defines no function")
            cell["source"] = f"def {funcs[0]}(*args, **kwargs):\n    return args[0]   # planted wrong answer\n"
    return nb, check_after(nb, target)


# ------------------------------------------------------------------------------------------------ clients
class Reply:
    def __init__(self, status: int, text: str):
        self.status, self.text = status, text

    def json(self):
        return json.loads(self.text) if self.text else None

    def __repr__(self):
        return f"Reply({self.status}, {self.text[:300]!r})"


class BrowserClient:
    """Requests from a logged-in Chromium context: its cookies, and the ``_xsrf`` cookie sent back as
    ``X-XSRFToken`` (what JupyterLab's own requests do)."""

    def __init__(self, hub_url: str, user: str, context, timeout_s: float = 900):
        self.base, self.user, self.context, self.timeout_ms = f"{hub_url}/user/{user}", user, context, timeout_s * 1e3

    def xsrf(self) -> str:
        cookies = [c for c in self.context.cookies() if c["name"] == "_xsrf"]
        mine = [c for c in cookies if c.get("path", "/").startswith(f"/user/{self.user}")] or cookies
        if not mine:
            raise RuntimeError(f"no _xsrf cookie for {self.user}: the lab page did not load")
        return mine[0]["value"]

    def call(self, method: str, path: str, body=None) -> Reply:
        headers = {"X-XSRFToken": self.xsrf()}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        r = self.context.request.fetch(self.base + path, method=method, headers=headers, data=data,
                                       timeout=self.timeout_ms, max_redirects=0)
        return Reply(r.status, r.text())


class TokenClient:
    """Requests with a user's API token (students who never open the browser in this test)."""

    def __init__(self, hub_url: str, user: str, token: str, timeout_s: float = 900):
        self.base, self.user, self.token, self.timeout_s = f"{hub_url}/user/{user}", user, token, timeout_s

    def call(self, method: str, path: str, body=None) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"token {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
                return Reply(r.status, r.read().decode())
        except urllib.error.HTTPError as e:
            return Reply(e.code, e.read().decode(errors="replace"))


def contents_path(*parts: str) -> str:
    return "/api/contents/" + "/".join(urllib.request.quote(p) for p in parts)


def feedback_files(home, assignment: str) -> list:
    """The feedback HTML a student fetched: <home>/<assignment>/feedback/<timestamp>/*.html."""
    return sorted((home / assignment / "feedback").glob("*/*.html"))


def inbound_latest(names, assignment: str) -> dict:
    """{student: timestamp of their latest submission} from the exchange's inbound file names
    (``<student>+<assignment>+<timestamp>+<random>``)."""
    latest: dict = {}
    for name in names:
        student, aid, ts = name.split("+")[:3]
        if aid == assignment and ts > latest.get(student, ""):
            latest[student] = ts
    return latest


def gradebook_grades(course, course_id: str, assignment: str, students) -> dict:
    """{student: {grade_id: (score, max_score)}} from nbgrader's gradebook (students with a submission)."""
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id) as gb:
        for s in students:
            try:
                sub = gb.find_submission(assignment, s)
            except MissingEntry:
                continue
            out[s] = {g.name: (g.score, g.max_score) for nb in sub.notebooks for g in nb.grades}
    return out
