"""The course in a real browser, as a newcomer meets it: the student copies that ``bash run.sh lab`` opens
(``my-work/``: no solutions, no hidden tests), each run with Run → Run All Cells in JupyterLab (headless Chromium
driven by Playwright). With every exercise unsolved, Run All must go past the failing check cells (tagged
``raises-exception``) and finish with no other error output — later cells fall back to the reference — render its
progress bars, widgets and animations, and its widgets must react: the timestep scrubber's slider (01) and the
context mixer's "Sample" button (04) change the picture. One screenshot per notebook goes to
``tests/browser/screenshots/NN.png``. Notebook 01 also measures the time from opening it to the first sprite on
screen (kernel start, model load and the first sampling cell; target ≤ 30 s on the 2-core machine, 45 s with the
suite's one torch thread per kernel: FIRST_SPRITE_LIMIT_S). Notebook 03's
live training run is interrupted from the toolbar once it has shown a few steps and two pictures: the view must say
so and every later cell run on the weights so far (its normal end, "done", is tests/test_live_training.py's). Each
unsolved exercise's check must fail with the check's own hint (what autograding an untouched copy checked).

This Run All is the one run of each student copy in a full test run (tests/conftest.py skips the nbclient run of
the same copy where this test is collected); the Korean edition runs notebook 02 here, in Korean JupyterLab.

The lab server runs on the student copies with ``CI=true`` in its kernels' environment (the notebooks shrink their
work) and news/update toasts turned off; notebooks run one after another in one browser, and each notebook's kernel
is shut down before the next one starts. (The solved source notebooks run under nbval.)
Environment: ``DLHELPERS_BROWSER_TIMEOUT`` (seconds per notebook, default 420); ``DLHELPERS_BROWSER_NOTEBOOKS``
(another folder of notebooks, for developing this test).
"""
from __future__ import annotations

import ast
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright for Python is not installed")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = Path(os.environ.get("DLHELPERS_BROWSER_NOTEBOOKS") or REPO / "notebooks")
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
# The course's target: the first sprite ≤ 30 s after opening notebook 01, on a 2-core machine whose kernel has both
# cores (measured 2026-12-07 on a 2-core AMD EPYC without AVX-512: 22.5 s alone, 2 threads). The suite's kernels get
# one torch thread each, beside another test worker (run.py sets OMP_NUM_THREADS=1): the same notebook then took
# 31.5 s alone and 32–38 s beside the other worker, so there the limit is a regression guard at 1.5× the target.
ONE_THREAD = os.environ.get("OMP_NUM_THREADS") == "1"
FIRST_SPRITE_LIMIT_S = float(os.environ.get("DLHELPERS_FIRST_SPRITE_LIMIT") or (45 if ONE_THREAD else 30))
# Run All of one student copy, CI size; the same limit as tests/test_student_copies.py's nbclient run, which this
# test replaces where it runs (tests/conftest.py).
RUN_ALL_LIMIT_S = 200
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
TIMEOUT_S = float(os.environ.get("DLHELPERS_BROWSER_TIMEOUT", "420"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Which notebook must show which widget (the numbers are the file-name prefixes).
MUST_HAVE = {"01": {"scrubber", "animation"}, "04": {"mixer"}}
LIVE_TRAINING = {"03"}   # notebooks with the live training view (dlhelpers.notebook.live_training): interrupted
UNSOLVED_HINT = "not implemented yet"   # what dlhelpers.notebook.checks says about an untouched stub
SCRUBBER, MIXER = ".dlhelpers-timestep-scrubber", ".dlhelpers-context-mixer"
PROGRESS_CALLS = {"sample_ddpm", "sample_ddim", "train"}  # dlhelpers functions with a tqdm bar
TEXT_TQDM = re.compile(r"\d+%\|")


# ------------------------------------------------------------------------------------------------ the server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def _request(url: str, method: str):
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


class Lab:
    def __init__(self, root: Path):
        self.root, self.port, self.token = root, _free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"

    def api(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}/api/{path}{sep}token={self.token}"

    def shutdown_kernels(self):
        for session in _get(self.api("sessions")) or []:
            _request(self.api(f"sessions/{session['id']}"), "DELETE")


def _die_with_parent():
    """Linux: the server gets SIGTERM if pytest dies without tearing down (killed by a timeout)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from _lab(tmp_path_factory, "en")


@pytest.fixture(scope="module")
def lab_ko(tmp_path_factory):
    yield from _lab(tmp_path_factory, "ko")


def _lab(tmp_path_factory, lang):
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "course"
    root.mkdir()
    from dlhelpers.tools.student_copies import write_student_copies
    work = root / "my-work" / ("" if lang == "en" else lang)        # what `python run.py lab` gives a newcomer
    write_student_copies(work, source=NOTEBOOK_DIR, lang=lang, verbose=False)
    settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    if lang == "ko":                                                 # as run.py writes it: JupyterLab in Korean
        locale = tmp / "settings" / "@jupyterlab" / "translation-extension"
        locale.mkdir(parents=True)
        (locale / "plugin.jupyterlab-settings").write_text(json.dumps({"locale": "ko_KR"}))
    server = Lab(work)
    env = {k: v for k, v in os.environ.items() if k != "COURSE_LANG"}     # the folder's .course-lang decides
    env = dict(env, CI="true", JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), IPYTHONDIR=str(tmp / "ipython"), PYTHONUNBUFFERED="1")
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={server.port}", "--ServerApp.port_retries=0", f"--ServerApp.token={server.token}",
         f"--ServerApp.root_dir={server.root}", f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.extension_manager=readonly"],
        cwd=server.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)  # so the teardown below runs on `timeout`
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{(tmp / 'server.log').read_text()[-3000:]}")
            try:
                _get(server.api("status"), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer in 90 s:\n{(tmp / 'server.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield server
    finally:
        try:
            server.shutdown_kernels()
        except OSError:
            pass
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()
        signal.signal(signal.SIGTERM, previous)


def _sigterm_as_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


# ------------------------------------------------------------------------------------------- notebook helpers
def _expects_progress(nb_path: Path) -> bool:
    """True when a code cell calls a sampler or ``train`` from dlhelpers without ``progress=False``."""
    trees = []
    for cell in json.loads(nb_path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            src = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                            for line in "".join(cell["source"]).splitlines())
            try:
                trees.append(ast.parse(src))
            except SyntaxError:
                continue
    imported = {alias.asname or alias.name for tree in trees for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dlhelpers")
                for alias in node.names if alias.name in PROGRESS_CALLS}
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if (isinstance(func, ast.Name) and func.id in imported) or \
                    (isinstance(func, ast.Attribute) and func.attr in PROGRESS_CALLS
                     and (func.attr != "train" or getattr(func.value, "id", "") == "training")):  # not model.train()
                kw = {k.arg: k.value for k in node.keywords}
                flag = kw.get("progress")
                if flag is None or not (isinstance(flag, ast.Constant) and not flag.value):
                    return True
    return False


STATUS_JS = """() => Array.from(document.querySelectorAll('.jp-StatusBar-TextItem'))
                  .map(e => e.textContent).join(' ')"""
WATCH_JS = """() => {
  window.__dl = {progress: 0};
  const sel = ['.widget-hprogress', '.widget-vprogress', '.widget-progress', 'progress']
    .map(s => '.jp-OutputArea ' + s).join(', ');
  const observer = new MutationObserver(() => {
    if (document.querySelector(sel)) { window.__dl.progress++; observer.disconnect(); }
  });
  observer.observe(document.body, {childList: true, subtree: true});
  window.__dl.live = [];       // notebook 3's live training view: each (step, state, picture) it showed, in order
  const live = new MutationObserver(() => {
    const el = document.querySelector('.dlhelpers-live-training');
    const img = el && el.querySelector('img');
    if (!el) return;
    const seen = [el.dataset.step, el.dataset.state, img ? img.src.length + img.src.slice(-24) : ''];
    const a = window.__dl.live, last = a[a.length - 1];
    if (!last || last.join('|') !== seen.join('|')) a.push(seen);
  });
  live.observe(document.body, {childList: true, subtree: true});
}"""
FIRST_IMAGE_JS = """() => {  // milliseconds from now until the first picture appears in an output
  const t0 = performance.now();
  window.__dl.firstImage = null;
  const observer = new MutationObserver(() => {
    if (document.querySelector('.jp-OutputArea-output img')) {
      window.__dl.firstImage = performance.now() - t0; observer.disconnect();
    }
  });
  observer.observe(document.body, {childList: true, subtree: true});
}"""
CELLS_JS = "() => window.jupyterapp.shell.currentWidget.context.model.toJSON().cells"
PROGRESS_JS = """() => {  // a small summary (the full model carries every picture): code cells not yet run, errors
  const cells = window.jupyterapp.shell.currentWidget.context.model.toJSON().cells;
  const code = cells.map((c, i) => [c, i])
    .filter(([c]) => c.cell_type === 'code' && [].concat(c.source).join('').trim());
  const prompts = Array.from(document.querySelectorAll('.jp-Notebook .jp-InputPrompt')).map(e => e.textContent);
  return {pending: code.filter(([c]) => !c.execution_count).map(([c, i]) => i),
          errors: cells.some(c => !((c.metadata || {}).tags || []).includes('raises-exception')
                                  && (c.outputs || []).some(o => o.output_type === 'error')),
          busy: prompts.some(p => p.includes('*'))};
}"""


# JupyterLab's own words, per UI language: the Run menu, its Run All item, the kernel's idle state in the status bar
LABELS = {"en": ("Run", "Run All Cells", "| Idle"), "ko": ("실행", "모든 셀 실행", "| 대기")}


def _wait_idle(page, timeout_s: float, lang: str = "en"):
    page.wait_for_function(f"() => ({STATUS_JS})().includes('{LABELS[lang][2]}')", timeout=timeout_s * 1000)


def _code_cells(cells):
    return [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def _errors(cells):
    """Error outputs, except in cells tagged raises-exception (the unsolved exercises' check cells)."""
    out = []
    for i, c in enumerate(cells):
        if "raises-exception" in c.get("metadata", {}).get("tags", []):
            continue
        for o in c.get("outputs", []):
            if o.get("output_type") == "error":
                out.append(f"cell {i}: {o.get('ename')}: {o.get('evalue')}")
    return out


def _open(page, server, name: str, lang: str = "en"):
    """Open notebook ``name`` in a fresh workspace (?reset: no earlier tab, no kernel for it); wait for the kernel."""
    page.goto(f"{server.base}/lab/tree/{name}?reset&token={server.token}", timeout=60000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60000)
    _wait_idle(page, 120, lang)


def _close(page, server):
    page.close()
    try:
        server.shutdown_kernels()
    except OSError:
        pass


def _click_run_all(page, lang: str = "en"):
    menu, item, _ = LABELS[lang]
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).click()


def _run_all(page, timeout_s: float, lang: str = "en"):
    _click_run_all(page, lang)
    return _run_all_wait(page, timeout_s, lang)


def _run_all_wait(page, timeout_s: float, lang: str = "en"):
    """Wait until Run All has run every code cell (or stopped at an error) and the kernel is idle; the cells."""
    idle = LABELS[lang][2]
    deadline = time.monotonic() + timeout_s
    time.sleep(1.0)
    while True:
        state = page.evaluate(PROGRESS_JS)
        status = page.evaluate(STATUS_JS)
        if not state["busy"] and idle in status and (not state["pending"] or state["errors"]):
            return page.evaluate(CELLS_JS)
        if time.monotonic() > deadline:
            pytest.fail(f"Run All did not finish in {timeout_s:.0f} s (status {status!r}; cells not yet run: "
                        f"{state['pending']})")
        time.sleep(1.0)


def _img_src(locator) -> str:
    return locator.evaluate("e => e.src")


def _exercise_scrubber(page):
    box = page.locator(SCRUBBER).first
    box.scroll_into_view_if_needed()
    img = box.locator("img").first
    before = _img_src(img)
    label = box.locator(".widget-readout").first.text_content()
    handle = box.locator(".noUi-handle").first
    handle.focus()
    for _ in range(3):
        handle.press("ArrowRight")
    page.wait_for_function("([img, src]) => img.src !== src", arg=[img.element_handle(), before], timeout=15000)
    label_after = box.locator(".widget-readout").first.text_content()
    assert label_after != label, "the scrubber's t readout did not move"
    # the kernel answers each key press; wait until the caption (sent after the images) shows the last one
    page.wait_for_function("([el, t]) => el.textContent.includes('t = ' + t)",
                           arg=[box.locator(".widget-html").first.element_handle(), label_after.strip()],
                           timeout=15000)
    return box


def _exercise_mixer(page):
    box = page.locator(MIXER).first
    box.scroll_into_view_if_needed()
    img = box.locator("img").first
    before = _img_src(img)
    status_before = box.locator(".widget-html").last.text_content()
    box.locator("button", has_text="Sample").click()
    page.wait_for_function("([img, src]) => img.src !== src", arg=[img.element_handle(), before], timeout=30000)
    page.wait_for_function("([el, s]) => el.textContent !== s",
                           arg=[box.locator(".widget-html").last.element_handle(), status_before], timeout=30000)
    return box


def _exercise_animation(page):
    anim = page.locator(".jp-OutputArea .animation").first
    anim.scroll_into_view_if_needed()
    assert anim.locator("input[type=range]").count() >= 1, "the jshtml animation has no frame slider"
    img = anim.locator("img").first
    before = _img_src(img)
    button = anim.locator("button[title='Last frame']")  # works only if the animation's script ran
    for attempt in range(3):  # a click can miss while the notebook's lazily sized cells still shift the layout
        button.evaluate("e => e.scrollIntoView({block: 'center'})")
        time.sleep(0.5)
        button.click()
        try:
            page.wait_for_function("([img, src]) => img.src !== src", arg=[img.element_handle(), before],
                                   timeout=5000)
            if attempt:
                print(f"(the animation reacted to click number {attempt + 1})")
            return anim
        except sync_api.TimeoutError:
            continue
    pytest.fail("the jshtml animation did not move to its last frame when 'Last frame' was clicked")


LIVE_RUNNING_JS = """() => {  // the live view has run 3 steps and drawn 2 different pictures (or has ended)
  const seen = window.__dl.live, el = document.querySelector('.dlhelpers-live-training');
  const running = seen.filter(s => s[1] === 'running');
  const ready = new Set(running.map(s => s[0])).size >= 3 && new Set(running.map(s => s[2])).size >= 2;
  return ready || (el && el.dataset.state !== 'running' && el.dataset.state !== undefined);
}"""


def _interrupt_the_live_run(page):
    """Wait until the live run has shown a few steps and a redrawn picture, then press the toolbar's interrupt."""
    page.wait_for_function(LIVE_RUNNING_JS, timeout=TIMEOUT_S * 1000)
    page.locator(".jp-NotebookPanel-toolbar [data-command='notebook:interrupt-kernel']").click()


def _check_interrupted_live_view(page, name):
    """The live view updated while it ran (the step grew, the picture was redrawn), then said it was interrupted at
    the step it reached and that the weights so far are kept (the later cells ran on them: no error, none unrun)."""
    seen = page.evaluate("() => window.__dl.live")
    assert seen, f"{name}: the live training view never appeared"
    running = [(int(step), picture) for step, state, picture in seen if state == "running"]
    assert len({step for step, _ in running}) >= 3, f"{name}: the live view showed too few steps while running: {seen}"
    assert len({picture for _, picture in running}) >= 2, f"{name}: the live view's picture was never redrawn"
    assert seen[-1][1] == "interrupted", f"{name}: the live view did not end as interrupted (last: {seen[-3:]})"
    live = page.locator(".dlhelpers-live-training").first.text_content()
    assert "weights so far are kept" in live, live
    print(f"{name}: the live view showed {len(seen)} states; interrupted at step {seen[-1][0]}")


def _unsolved_checks(cells):
    """Graded check cells (nbgrader grade, no solution) of an untouched copy: how many, and those whose first error
    is not the check's ExerciseError with its hint (an unsolved stub must be told it is not implemented yet)."""
    checks = [(i, c) for i, c in enumerate(cells) if c["cell_type"] == "code"
              and c.get("metadata", {}).get("nbgrader", {}).get("grade")
              and not c["metadata"]["nbgrader"].get("solution")]
    wrong = []
    for i, c in checks:
        errors = [o for o in c.get("outputs", []) if o.get("output_type") == "error"]
        if not errors or errors[0].get("ename") != "ExerciseError" or UNSOLVED_HINT not in errors[0].get("evalue", ""):
            wrong.append((i, [(o.get("ename"), o.get("evalue", "")[:120]) for o in errors]))
    return {"count": len(checks), "wrong": wrong}


# ------------------------------------------------------------------------------------------------------ the test
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_jupyterlab(notebook, lab, browser):
    number = notebook.name[:2]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    console_errors = []
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    try:
        # ?reset: a fresh workspace, so the previous notebook's tab (and a kernel for it) is not restored
        opened = time.monotonic()
        _open(page, lab, notebook.name)
        page.evaluate(WATCH_JS)
        page.evaluate(FIRST_IMAGE_JS)
        start = time.monotonic()
        _click_run_all(page)
        if number in LIVE_TRAINING:
            _interrupt_the_live_run(page)
        cells = _run_all_wait(page, TIMEOUT_S)
        seconds = time.monotonic() - start
        first_image = page.evaluate("() => window.__dl.firstImage")
        if first_image is not None:
            first_image_s = (start - opened) + first_image / 1000
            print(f"{notebook.name}: first sprite on screen {first_image_s:.1f} s after opening the notebook")
            if number == "01":
                assert first_image_s <= FIRST_SPRITE_LIMIT_S, \
                    f"{notebook.name}: the first sprite took {first_image_s:.1f} s (limit {FIRST_SPRITE_LIMIT_S:.0f} s)"
        elif number == "01":
            pytest.fail(f"{notebook.name}: no picture appeared")

        errors = _errors(cells)
        assert not errors, f"{notebook.name}: error outputs after Run All:\n" + "\n".join(errors)
        unsolved = _unsolved_checks(cells)
        assert unsolved["count"] >= 1 and not unsolved["wrong"], \
            f"{notebook.name}: unsolved exercises' checks that did not fail with the hint: {unsolved['wrong']}"
        unrun = [i for i, c in enumerate(cells) if c in _code_cells(cells) and not c.get("execution_count")]
        assert not unrun, f"{notebook.name}: cells {unrun} never ran"
        text_bars = [i for i, c in enumerate(cells) for o in c.get("outputs", [])
                     if o.get("output_type") == "stream" and TEXT_TQDM.search("".join(o.get("text", "")))]
        assert not text_bars, f"{notebook.name}: tqdm printed text bars (no widget frontend?) in cells {text_bars}"
        if _expects_progress(notebook):
            assert page.evaluate("() => window.__dl.progress") > 0, \
                f"{notebook.name}: a sampler runs with progress=True but no progress bar widget was rendered"
        assert seconds <= RUN_ALL_LIMIT_S, f"{notebook.name}: Run All took {seconds:.0f} s (limit {RUN_ALL_LIMIT_S} s)"
        broken = page.locator(".jp-OutputArea", has_text="Error displaying widget")
        assert broken.count() == 0, f"{notebook.name}: {broken.first.text_content()[:200]}"

        if number in LIVE_TRAINING:
            _check_interrupted_live_view(page, notebook.name)
        need = MUST_HAVE.get(number, set())
        shown = None
        if "animation" in need or page.locator(".jp-OutputArea .animation").count():
            assert page.locator(".jp-OutputArea .animation").count(), f"{notebook.name}: no jshtml animation"
            shown = _exercise_animation(page)
        if "scrubber" in need or page.locator(SCRUBBER).count():
            assert page.locator(SCRUBBER).count(), f"{notebook.name}: the timestep scrubber did not render"
            shown = _exercise_scrubber(page)
        if "mixer" in need or page.locator(MIXER).count():
            assert page.locator(MIXER).count(), f"{notebook.name}: the context mixer did not render"
            shown = _exercise_mixer(page)
        if shown is None and page.locator(".dlhelpers-live-training").count():
            shown = page.locator(".dlhelpers-live-training").first
        if shown is None and page.locator(".jp-OutputArea-output img").count():
            shown = page.locator(".jp-OutputArea-output img").last
        if shown is not None:
            shown.evaluate("e => e.scrollIntoView({block: 'center'})")
            time.sleep(0.3)
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{number}.png"))
        print(f"{notebook.name}: Run All took {seconds:.0f} s" +
              (f"; page errors: {console_errors[:3]}" if console_errors else ""))
    except BaseException:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{number}.png"))  # the state it failed in
        raise
    finally:
        _close(page, lab)


KO_NOTEBOOK = next((p for p in NOTEBOOKS if p.name.startswith("02")), None)   # the quickest to Run All


@pytest.mark.skipif(KO_NOTEBOOK is None, reason="no notebook 02 in the folder")
def test_a_korean_notebook_runs_in_korean_jupyterlab(lab_ko, browser):
    """The Korean edition as `COURSE_LANG=ko python run.py lab` opens it: Korean menus, Run All with errors only in
    the graded checks, the notebook's prose, checks and printed explanations in Korean, no glyph missing."""
    fonts = subprocess.run(["fc-list", ":lang=ko"], capture_output=True, text=True).stdout.strip()
    assert fonts, "Chromium has no Hangul font here (empty boxes): apt-get install fonts-nanum (.ci/run does)"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        _open(page, lab_ko, KO_NOTEBOOK.name, "ko")
        menus = page.locator(".lm-MenuBar-itemLabel").all_text_contents()
        assert "파일" in menus and "File" not in menus, f"JupyterLab's menus are not Korean: {menus}"
        cells = _run_all(page, TIMEOUT_S, "ko")
        errors = _errors(cells)
        assert not errors, f"{KO_NOTEBOOK.name} (ko): error outputs after Run All:\n" + "\n".join(errors)
        prose = " ".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                         for c in cells if c["cell_type"] == "markdown")
        outputs = json.dumps([c.get("outputs", []) for c in cells], ensure_ascii=False)
        assert re.search(r"[\uac00-\ud7a3]{2}", prose), "the notebook's prose is not Korean"
        assert re.search(r"[\uac00-\ud7a3]{2}", outputs), "nothing the cells printed is Korean"
        assert "Glyph" not in outputs, "a plot glyph is missing from the font"
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "02-ko.png"))
    except BaseException:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "02-ko.png"))
        raise
    finally:
        _close(page, lab_ko)
