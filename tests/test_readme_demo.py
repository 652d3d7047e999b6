"""The README's front door: its two commands exist, and the demo does what the README promises -
a fleet with virtual call buttons where a new user presses one, watches the alarm arrive,
acknowledges it and sees the button answer."""

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from fleet.demo import DEMO_BOARDS
from hil_tests.polling import wait_until

ROOT = Path(__file__).resolve().parent.parent
FLEET = [sys.executable, "-m", "fleet.cli"]
VBOARD = [sys.executable, "-c", "from boards.virtual.cli import main; main()"]


def test_readme_has_exactly_the_two_make_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Two commands.*?```sh\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    ci = (ROOT / ".ci" / "run").read_text()
    # CI runs it as a new user would: a fresh login's PATH, nothing of ours on it, no venv active.
    assert [line for line in ci.splitlines() if line and not line.startswith("#")][-1] == (
        "env -i HOME=$HOME PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin make test")
    assert "set -euo pipefail" in ci
    # The test recipe passes pytest's status on: no `-` prefix, no `|| true`.
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert recipe.strip() == "$(PY) -m pytest"


def test_a_run_that_collects_no_test_fails(tmp_path):
    # With the project's pytest configuration, selecting nothing is exit status 5 (so CI fails).
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-k", "no_test_has_this_name",
                        "--junitxml", str(tmp_path / "junit.xml"), "tests/boards/test_tools.py"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 5, r.stdout + r.stderr


def vboard(env, *args):
    r = subprocess.run(VBOARD + list(args), env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def wait(fn, what):
    return wait_until(fn, what, timeout=60.0, interval=0.3)


def test_demo_press_alarm_acknowledge_answer(tmp_path):
    env = dict(os.environ, FLEET_LOG_LEVEL="warning", VBOARD_HOME=str(tmp_path / "vboards"))
    proc = subprocess.Popen(FLEET + ["demo", "--port", "0", "--db", str(tmp_path / "demo.db")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "vboard list" in line:
                break
        text = "".join(lines)
        assert "Virtual fleet: button-1, button-2, button-3" in text, text
        url = re.search(r"Open\s+(http://\S+)/", text).group(1)
        user, password = re.search(r"Log in\s+(\S+) / (\S+)", text).groups()
        # Logged in like the web pages: every request says it comes from the fleet's own origin.
        with httpx.Client(base_url=url, timeout=10, headers={"Origin": url}) as http:
            assert http.post("/api/v1/auth/login", json={"username": user, "password": password}).status_code == 200
            wait(lambda: len([d for d in http.get("/api/v1/devices").json() if d["status"] == "online"]) == len(DEMO_BOARDS),
                 "every demo board online")
            assert "button-1" in vboard(env, "list")

            vboard(env, "press", "button-1")                 # what the README tells a new user to do
            alarm = wait(lambda: http.get("/api/v1/alarms", params={"kind": "call"}).json(), "the alarm")[0]
            assert alarm["state"] == "received"
            assert http.post("/api/v1/alarms/%d/acknowledge" % alarm["id"]).status_code == 200
            wait(lambda: "answered ref=%s" % alarm["ref"] in vboard(env, "log", "button-1"), "button answered")
    finally:
        proc.terminate()
        proc.wait(20)
    # The demo's boards stop with it.
    assert "running" not in vboard(env, "list")
