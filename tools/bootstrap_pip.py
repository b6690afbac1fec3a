"""Install pip into a virtual environment made with `--without-pip`.

Debian's python3 ships without ensurepip unless the python3-venv package is installed; `./run`
then makes the environment without pip and runs this: it downloads the pinned pip wheel from
PyPI, checks its SHA-256, and lets the wheel install itself (a wheel of pip runs as pip).
Standard library only.
"""
import hashlib
import json
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

PIP_VERSION = "26.3"
PIP_WHEEL_SHA256 = "f3b60b20ffaadd4415ed7957212a38ac63fa4c5fa375bd0f4a797777940fad13"


def main():
    index = "https://pypi.org/pypi/pip/json"
    with urllib.request.urlopen(index, timeout=60) as r:
        project = json.load(r)
    files = project.get("releases", {}).get(PIP_VERSION) or (
        project["urls"] if project["info"]["version"] == PIP_VERSION else [])
    wheel = next(f for f in files if f["filename"].endswith("-py3-none-any.whl"))
    with urllib.request.urlopen(urllib.parse.urljoin(index, wheel["url"]), timeout=120) as r:
        data = r.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != PIP_WHEEL_SHA256:
        sys.exit(f"pip wheel checksum mismatch: got {digest}, expected {PIP_WHEEL_SHA256}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / wheel["filename"]
        path.write_bytes(data)
        subprocess.run([sys.executable, f"{path}/pip", "install", "--no-index", "--quiet", str(path)],
                       check=True)


if __name__ == "__main__":
    main()
