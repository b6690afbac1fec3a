"""A real JupyterHub on 127.0.0.1 for tests/test_hub.py, and commands run as the hub's users.

- `require_hub()`: skip without what the hub test needs on the machine (root, the jupyterhub
  package, configurable-http-proxy, the class's system users, nbgrader's exchange folder), except
  in CI (env var CI set), where that fails. All of it: `bash tools/install_hub.sh`.
- `Hub`: JupyterHub started with docs/jupyterhub/jupyterhub_config.py, to which a test
  configuration adds only a test authenticator (DummyAuthenticator, one password), loopback ports,
  its own state folder and an API token for the test; stopped by its own process id.
- `as_user()`: a command as one of the class's system users, with that user's home and the
  hub's nbgrader configuration (docs/jupyterhub/nbgrader_config.py, as /etc/jupyter would give it).
"""
import json
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from browser import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "jupyterhub"             # the deployment's configuration, as documented
HUB_CONFIG = DOCS / "jupyterhub_config.py"
PROFILE = ROOT / "tests" / "jupyter_test_config"  # JupyterLab settings without news pop-ups
SCRIPTS = Path(sys.executable).parent
EXCHANGE = Path("/srv/nbgrader/exchange")        # c.Exchange.root of docs/jupyterhub/nbgrader_config.py
COURSE_ID = "batchnorm-tutorial10"
INSTRUCTOR = "bn-instructor"                     # also the grader account of the formgrader service
STUDENTS = ("bn-perfect", "bn-partly", "bn-twice", "bn-late")   # tools/install_hub.sh creates them
TIMEOUT = 90  # seconds for one command or one server start


def proxy_command():
    return shutil.which("configurable-http-proxy")


def require_hub():
    """Skip the calling test when the machine lacks what the hub needs, except in CI (env var CI
    set), where that is a failure."""
    missing = []
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        missing.append("root (the hub runs each user's server as that system user)")
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        missing.append("the Python package jupyterhub (pip install -e '.[test]')")
    if not proxy_command():
        missing.append("configurable-http-proxy on PATH (bash tools/install_hub.sh)")
    for user in (INSTRUCTOR, *STUDENTS):
        try:
            pwd.getpwnam(user)
        except KeyError:
            missing.append(f"the system user {user} (bash tools/install_hub.sh)")
            break
    if not EXCHANGE.is_dir() or stat.S_IMODE(EXCHANGE.stat().st_mode) != 0o777:
        missing.append(f"nbgrader's exchange {EXCHANGE}, mode 777 (bash tools/install_hub.sh)")
    if not missing:
        probe = as_user(STUDENTS[0], [sys.executable, "-c", "import nbgrader, course"], check=False)
        if probe.returncode != 0:
            missing.append(f"{sys.executable} runnable by the hub users (bash tools/install_hub.sh; "
                           f"{probe.stderr.strip()[-200:]})")
    if missing:
        message = "the hub test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + "; CI is set, so this is not skipped", pytrace=False)
        pytest.skip(message)


def home(user):
    return Path(pwd.getpwnam(user).pw_dir)


def user_env(user, **extra):
    """The environment of `user`'s commands and server: their home, this Python's scripts first
    on PATH, and the hub's nbgrader configuration on JUPYTER_CONFIG_PATH."""
    env = {
        "HOME": str(home(user)), "USER": user, "LOGNAME": user, "LANG": "C.UTF-8",
        "PATH": f"{SCRIPTS}:/usr/local/bin:/usr/bin:/bin",
        "JUPYTER_CONFIG_PATH": str(DOCS),
        "OPENBLAS_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def as_user(user, args, cwd=None, check=True, timeout=TIMEOUT, **extra_env):
    """Run `args` as the system user `user` (no supplementary groups); a CompletedProcess."""
    entry = pwd.getpwnam(user)
    result = subprocess.run(
        [str(a) for a in args], cwd=str(cwd or entry.pw_dir), env=user_env(user, **extra_env),
        user=entry.pw_uid, group=entry.pw_gid, extra_groups=[], capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise AssertionError(
            f"`{' '.join(map(str, args))}` as {user} in {cwd or entry.pw_dir} exited with "
            f"{result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def chown_tree(path, user):
    entry = pwd.getpwnam(user)
    for folder, _, files in os.walk(path):
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid)


def reset_home(user):
    """Empty the test user's home folder (mode 700), as a new account's."""
    folder = home(user)
    folder.mkdir(parents=True, exist_ok=True)
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    chown_tree(folder, user)
    folder.chmod(0o700)


def kill_service_on(port):
    """SIGKILL the processes of a hub service at 127.0.0.1:`port` (found by the service URL in
    their environment), which a hub that exits during start-up can leave behind."""
    marker = f"JUPYTERHUB_SERVICE_URL=http://127.0.0.1:{port}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
        except OSError:
            continue


class Hub:
    """JupyterHub (with its proxy) on 127.0.0.1, configured by docs/jupyterhub/jupyterhub_config.py."""

    def __init__(self, workdir, course_dir, password):
        self.workdir = Path(workdir)
        self.course_dir = Path(course_dir)
        self.password = password
        self.port, self.hub_port, self.proxy_api_port, self.formgrader_port = (free_port() for _ in range(4))
        self.token = secrets.token_hex(32)
        self.process = None
        self.log = self.workdir / "jupyterhub.log"

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def config(self):
        """The test's configuration: the documented one, plus what only a test needs."""
        return textwrap.dedent(f"""\
            c = get_config()  # noqa: F821
            load_subconfig({str(HUB_CONFIG)!r})  # noqa: F821 (docs/jupyterhub/jupyterhub_config.py)

            # a test authenticator and the class's accounts
            c.JupyterHub.authenticator_class = "dummy"
            c.DummyAuthenticator.password = {self.password!r}
            c.Authenticator.allowed_users = {set((INSTRUCTOR, *STUDENTS))!r}
            # loopback only, random ports, state in the test's folder
            c.JupyterHub.bind_url = "http://127.0.0.1:{self.port}"
            c.JupyterHub.hub_ip = "127.0.0.1"
            c.JupyterHub.hub_port = {self.hub_port}
            c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.proxy_api_port}"
            c.ConfigurableHTTPProxy.command = [{proxy_command()!r}]
            c.JupyterHub.db_url = "sqlite:///{self.workdir / 'jupyterhub.sqlite'}"
            c.JupyterHub.cookie_secret_file = {str(self.workdir / 'jupyterhub_cookie_secret')!r}
            c.JupyterHub.pid_file = {str(self.workdir / 'jupyterhub.pid')!r}
            # the hub's nbgrader configuration (/etc/jupyter on a real hub), no JupyterLab news
            # pop-ups; servers are this Python's jupyterhub-singleuser, first on the hub's PATH
            c.Spawner.args = ["--LabApp.app_settings_dir={PROFILE}"]
            c.Spawner.environment = {{"JUPYTER_CONFIG_PATH": {str(DOCS)!r}, "OPENBLAS_NUM_THREADS": "1"}}
            c.Spawner.start_timeout = {TIMEOUT}
            c.Spawner.http_timeout = {TIMEOUT}
            for service in c.JupyterHub.services:
                service.setdefault("environment", {{}})["JUPYTER_CONFIG_PATH"] = {str(DOCS)!r}
            # JupyterHub waits 10 x 1 s for a managed service (formgrader's JupyterLab) and exits when
            # it has not answered; on a loaded two-core machine it can take longer: wait up to {TIMEOUT} s
            import jupyterhub.app as _app
            _start_service = _app.JupyterHub.start_service
            async def _patient_start_service(self, name, service, ssl_context=None):
                if await _start_service(self, name, service, ssl_context):
                    return True
                if not (service.managed and service.url) or await service.spawner.poll() is not None:
                    return False
                try:
                    await _app.Server.from_orm(service.orm.server).wait_up(
                        http=True, timeout={TIMEOUT}, ssl_context=ssl_context)
                except _app.AnyTimeoutError:
                    return False
                self.log.info("Service %s answered after JupyterHub's own wait", name)
                return True
            _app.JupyterHub.start_service = _patient_start_service
            # the test's own token: manage users and their servers
            c.JupyterHub.services.append({{"name": "test-driver", "api_token": {self.token!r}}})
            c.JupyterHub.load_roles.append({{
                "name": "test-driver", "services": ["test-driver"],
                "scopes": ["admin:users", "admin:servers", "admin:server_state", "tokens", "list:users",
                           "read:users", "read:servers"],
            }})
            """)

    def start(self, attempts=3):
        """Start the hub and wait until its API answers. The test configuration gives formgrader's
        server TIMEOUT seconds to answer; should the hub still exit or not answer (a port taken in
        the meantime, a service too slow), it is started again on new ports after stopping what it
        left behind, each attempt with a log of its own."""
        earlier = []
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once()
            except RuntimeError as error:
                if attempt == attempts:
                    raise RuntimeError("".join(earlier) + str(error)) from None
                earlier.append(f"attempt {attempt} ({self.log.name}): {str(error).splitlines()[0]}\n")
                self.stop()
                kill_service_on(self.formgrader_port)
                self.port, self.hub_port, self.proxy_api_port, self.formgrader_port = (
                    free_port() for _ in range(4))
                self.log = self.workdir / f"jupyterhub-{attempt + 1}.log"

    def _start_once(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "jupyterhub_test_config.py"
        config.write_text(self.config())
        env = dict(os.environ)
        for name in ("COURSE_DB_URL", "NBGRADER_EXECUTION", "JUPYTER_CONFIG_DIR", "JUPYTER_PATH"):
            env.pop(name, None)
        env.update(PATH=f"{SCRIPTS}:{env.get('PATH', '/usr/bin:/bin')}",
                   COURSE_GRADER=INSTRUCTOR, COURSE_DIR=str(self.course_dir),
                   COURSE_FORMGRADER_PORT=str(self.formgrader_port), COURSE_INSTRUCTORS=INSTRUCTOR,
                   JUPYTER_CONFIG_PATH=str(DOCS))
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [str(SCRIPTS / "jupyterhub"), "-f", str(config)], cwd=self.workdir, env=env,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        return wait_until_up(self, "JupyterHub", lambda: self.api(""), timeout=TIMEOUT, interval=0.3)

    def stop(self):
        """SIGTERM to the hub (it stops the proxy, the services and the users' servers), then
        SIGKILL to its process group if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_text(self):
        """The log's last 6000 characters (a process left from an earlier attempt may still write
        into an old log at its old offset: NUL bytes are dropped)."""
        if not self.log.exists():
            return ""
        return self.log.read_text(errors="replace").replace("\0", "")[-6000:]

    def api(self, path, method="GET", body=None, token=None):
        """The hub's REST API (/hub/api/<path>): the decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}/hub/api/{path}".rstrip("/"), data=data, method=method,
                                         headers={"Authorization": f"token {token or self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def user_token(self, user):
        """A new API token of `user`, with the user's own permissions."""
        return self.api(f"users/{user}/tokens", "POST", {"note": "test"})["token"]

    def get(self, path, token):
        """(HTTP status, body) of GET `path` through the proxy with `token`."""
        request = urllib.request.Request(f"{self.base}{path}", headers={"Authorization": f"token {token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def server_pid(self, user):
        """The process id of `user`'s single-user server (from the hub's state)."""
        model = self.api(f"users/{user}")
        return model["servers"][""]["state"]["pid"] if model.get("servers", {}).get("") else None
