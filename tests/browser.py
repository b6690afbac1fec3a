"""JupyterLab in headless Chromium, for the browser tests (tests/test_browser.py).

- `Lab`: a JupyterLab server on 127.0.0.1 (random free port, a token) serving a scratch copy of
  the course, with the test profile of tests/jupyter_test_config/ (no cell windowing, no news
  fetched from the web); stopped by its own process id.
- `launch()`: Debian's Chromium driven by Playwright (the browser is the system's; Playwright's
  own browser downloads are not used).
- `Notebook`: what a user does with an open notebook (run all, type into a cell, run a cell,
  save), each step waiting until the kernel is idle again rather than for a fixed time.

Screenshots go to artifacts/screenshots/ (not committed).
"""
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PROFILE = ROOT / "tests" / "jupyter_test_config"   # overrides.json of the test profile
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 860}
TIMEOUT = 60  # seconds for any one step (a kernel start, a run of all cells)


def require_browser():
    """Skip the calling test when Chromium or Playwright is missing, except in CI (env var CI
    set), where a missing browser is a failure."""
    missing = []
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium at {CHROMIUM} (bash tools/install_browser.sh)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package playwright (pip install -e '.[test]')")
    if missing:
        message = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + "; CI is set, so this is not skipped", pytrace=False)
        pytest.skip(message)


def free_port():
    """A free TCP port on 127.0.0.1 below the kernel's ephemeral range: a port the kernel hands out
    (bind to port 0, as every Jupyter kernel's ZMQ sockets do) can be taken by another test suite's
    kernel between this choice and the server's own bind, and a ZMQ socket resets an HTTP client."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 0
    for port in random.sample(range(10000, low), min(200, max(low - 10000, 0))):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server for one test module: root_dir = `root`, state under `workdir`."""

    def __init__(self, root, workdir):
        self.root, self.workdir = Path(root), Path(workdir)
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.process = None
        self.log = self.workdir / "jupyterlab.log"

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def env(self):
        env = dict(os.environ)
        for name in ("COURSE_DB_URL", "NBGRADER_EXECUTION", "JUPYTER_CONFIG_PATH", "JUPYTER_PATH"):
            env.pop(name, None)
        scripts = str(Path(sys.executable).parent)
        env.update(
            PATH=scripts + os.pathsep + env.get("PATH", ""),
            # nothing of the user's own Jupyter configuration, settings or workspaces
            JUPYTER_CONFIG_DIR=str(self.workdir / "config"),
            JUPYTER_DATA_DIR=str(self.workdir / "data"),
            JUPYTER_RUNTIME_DIR=str(self.workdir / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(self.workdir / "user-settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(self.workdir / "workspaces"),
            MPLBACKEND="module://matplotlib_inline.backend_inline",
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self):
        for name in ("config", "data", "runtime", "user-settings", "workspaces", "exchange"):
            (self.workdir / name).mkdir(parents=True, exist_ok=True)
        # nbgrader's exchange (release/collect between users) in the scratch folder, not /usr/local
        (self.workdir / "config" / "nbgrader_config.py").write_text(
            f"c = get_config()  # noqa: F821\nc.Exchange.root = {str(self.workdir / 'exchange')!r}\n")
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            f"--LabApp.app_settings_dir={PROFILE}",
            f"--LabApp.user_settings_dir={self.workdir / 'user-settings'}",
            f"--LabApp.workspaces_dir={self.workdir / 'workspaces'}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # a CI container runs as root
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(command, cwd=self.root, env=self.env(), stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return wait_until_up(self, "JupyterLab", lambda: self.api("api/status"))

    def stop(self):
        """Stop the server by its own pid: SIGTERM (it shuts its kernels down), then SIGKILL."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_text(self):
        return self.log.read_text() if self.log.exists() else ""

    def api(self, path, method="GET", body=None):
        """The server's REST API: the decoded JSON answer of `method path`."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}/{path}", data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def url(self, path="", query=""):
        return f"{self.base}/{path}?{query + '&' if query else ''}token={self.token}"

    def kernels(self):
        return self.api("api/kernels")

    def wait_kernels_idle(self, timeout=TIMEOUT):
        """Wait until every kernel of the server reports execution_state "idle"."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            kernels = self.kernels()
            if kernels and all(k["execution_state"] == "idle" for k in kernels):
                return kernels
            time.sleep(0.1)
        raise TimeoutError(f"kernels not idle after {timeout} s: {self.kernels()}")


def wait_until_up(server, name, probe, timeout=TIMEOUT, interval=0.2):
    """Wait until `probe()` (a request to the server) answers, and return `server` (an object with
    .process, .log_text() and .stop()); RuntimeError with the server's log when its process exits
    first, or when it has not answered within `timeout` seconds (then it is stopped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{name} exited with {server.process.returncode}:\n{server.log_text()}")
        try:
            probe()
            return server
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(interval)
    server.stop()
    raise RuntimeError(f"{name} did not answer within {timeout} s:\n{server.log_text()}")


def launch(playwright):
    """Debian's Chromium, headless, with no network chatter of its own."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


class Console:
    """Collects a page's console errors, uncaught exceptions and failed requests."""

    def __init__(self, page):
        self.errors, self.failed = [], []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("requestfailed", lambda request: self.failed.append(request.url))

    def _console(self, message):
        if message.type == "error":
            where = (message.location or {}).get("url", "")
            self.errors.append(f"console: {message.text} ({where})")

    def unexpected(self, offline_cdn=()):
        """The errors, less those caused by a page loading a script from the web (offline here).

        offline_cdn: (host, error) pairs: a failed load from `host`, and the uncaught `error` it
        causes (e.g. formgrader's submission page loads MathJax from cdnjs.cloudflare.com).
        """
        errors = list(self.errors)
        for host, consequence in offline_cdn:
            if any(f"://{host}/" in url for url in self.failed):
                errors = [e for e in errors if not (
                    (e.startswith("console: Failed to load resource") and f"://{host}/" in e)
                    or consequence in e)]
        return errors


def screenshot(page_or_locator, name):
    """Save a PNG screenshot to artifacts/screenshots/<name>.png and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page_or_locator.screenshot(path=str(path))
    return path


class Notebook:
    """An open notebook in JupyterLab, driven as a user would."""

    IDLE = ".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status='idle']"

    def __init__(self, page, lab, path):
        self.page, self.lab, self.path = page, lab, path

    @property
    def panel(self):
        """The notebook's panel (the current tab of the main area)."""
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first

    def open(self):
        # ?reset: a fresh workspace, without the notebooks an earlier test left open
        self.page.goto(self.lab.url(f"lab/tree/{self.path}", query="reset"))
        self.panel.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=TIMEOUT * 1000)
        self.wait_kernel_ready()
        return self

    def wait_kernel_ready(self):
        """Wait for the notebook's kernel session to exist and report idle."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            sessions = [s for s in self.lab.api("api/sessions") if s["path"] == self.path]
            if sessions and sessions[0]["kernel"]["execution_state"] == "idle":
                break
            time.sleep(0.1)
        else:
            raise TimeoutError(f"no idle kernel for {self.path}")
        # the toolbar's kernel status indicator says idle too (the page is connected)
        self.panel.locator(self.IDLE).wait_for(timeout=TIMEOUT * 1000)

    def wait_idle(self, timeout=TIMEOUT):
        """Wait until no cell is running or queued (prompt [*]) and the kernel reports idle."""
        self.page.wait_for_function(
            "panel => ![...panel.querySelectorAll('.jp-InputPrompt')]"
            ".some(p => p.textContent.includes('*'))",
            arg=self.panel.element_handle(), timeout=timeout * 1000)
        self.lab.wait_kernels_idle(timeout)
        self.panel.locator(self.IDLE).wait_for(timeout=timeout * 1000)

    def menu(self, *names):
        """Click through the menu bar, e.g. menu("Run", "Run All Cells")."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=names[0]).first.click()
        for name in names[1:]:
            self.page.locator(".lm-Menu-itemLabel").get_by_text(name, exact=True).first.click()

    def run_all(self, timeout=TIMEOUT):
        self.menu("Run", "Run All Cells")
        self.wait_idle(timeout)

    def cell(self, index):
        """The cell at `index` (the same order as in the .ipynb file)."""
        return self.panel.locator(".jp-Notebook .jp-Cell").nth(index)

    def replace_source(self, cell, text):
        """Select everything in the cell's editor and type `text` in its place."""
        cell.locator(".cm-content").click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.press("Delete")
        # insert_text types the text as one input, without the editor's auto-indent or brackets
        self.page.keyboard.insert_text(text)

    def save(self):
        """Save (Ctrl+S) and wait until the file on the server has changed and the tab is clean."""
        before = self.lab.api(f"api/contents/{self.path}?content=0")["last_modified"]
        self.page.keyboard.press("Control+s")
        deadline = time.monotonic() + TIMEOUT
        while self.lab.api(f"api/contents/{self.path}?content=0")["last_modified"] == before:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.path} was not saved")
            time.sleep(0.1)
        self.page.locator(".lm-TabBar-tab.lm-mod-current.jp-mod-dirty").wait_for(
            state="detached", timeout=TIMEOUT * 1000)

    def outputs_text(self, cell):
        return cell.locator(".jp-OutputArea").inner_text()

    def errors(self):
        """[(cell index, text)] of every error or other stderr output shown in the notebook."""
        return self.panel.evaluate("""panel => [...panel.querySelectorAll('.jp-Notebook .jp-Cell')]
            .map((cell, i) => [i, [...cell.querySelectorAll(
                '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]')]
                .map(e => e.textContent).join('\\n')])
            .filter(([i, text]) => text)
            .map(([i, text]) => [i, text.slice(0, 400)])""")
