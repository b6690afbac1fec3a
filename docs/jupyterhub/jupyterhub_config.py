# JupyterHub for the Batch Normalization course on one server: the students' and the teaching
# team's single-user servers run as their own system users (LocalProcessSpawner, JupyterHub's
# default), nbgrader's exchange is a shared folder (/srv/nbgrader/exchange, nbgrader_config.py next
# to this file goes to /etc/jupyter/), and formgrader runs as a hub service under a grader account
# that owns the course folder, open to the instructors group. tests/test_hub.py starts a hub with
# this file (it only adds a test authenticator, loopback ports and its own paths).
import os

c = get_config()  # noqa: F821 (injected by JupyterHub)

COURSE = "batchnorm-tutorial10"
GRADER = os.environ.get("COURSE_GRADER", "grader-batchnorm")            # owns the course folder
COURSE_DIR = os.environ.get("COURSE_DIR", f"/home/{GRADER}/batchnorm-course")  # a clone of the course
FORMGRADER_PORT = int(os.environ.get("COURSE_FORMGRADER_PORT", "9999"))
INSTRUCTORS = os.environ.get("COURSE_INSTRUCTORS", "").split()           # hub user names

# Everyone works in JupyterLab; nbgrader's extensions add Assignments (students) and Formgrader.
c.Spawner.default_url = "/lab"
c.JupyterHub.services = [
    {
        # formgrader for the teaching team: one Jupyter server as the grader account in the course
        # folder, at /services/batchnorm-tutorial10/ (nbgrader's "one class, several graders")
        "name": COURSE,
        "url": f"http://127.0.0.1:{FORMGRADER_PORT}",
        "user": GRADER,
        "cwd": COURSE_DIR,
        "command": ["jupyterhub-singleuser", f"--ServerApp.root_dir={COURSE_DIR}"],
        # the gradebook: the course's SQLite file, or PostgreSQL when COURSE_DB_URL names it
        # (then `course grade` in the grader account's shell uses the same URL)
        "environment": {"JUPYTERHUB_DEFAULT_URL": "/lab",
                        **{k: v for k, v in os.environ.items() if k == "COURSE_DB_URL"}},
        "oauth_no_confirm": True,
    },
]
c.JupyterHub.load_groups = {"instructors": {"users": INSTRUCTORS}}
c.JupyterHub.load_roles = [
    {
        "name": "formgrader",
        "groups": ["instructors"],
        "scopes": [f"access:services!service={COURSE}"],
    },
    {
        "name": "user",  # every user keeps the default: their own server, and nothing of others'
        "scopes": ["self"],
    },
]
