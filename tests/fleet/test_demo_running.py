"""`fleet demo` as a person meets it, with real processes: a second demo while one runs, the
command line during the demo, a port taken by another program, and Ctrl-C."""

import json
import os
import re
import signal
import socket
import subprocess

import httpx
import pytest

from boards.tools import tool_path
from hil_tests.polling import wait_until

FLEET = tool_path("fleet")


def fleet(*args, cwd, env=None, timeout=60):
    return subprocess.run([FLEET, *args], cwd=cwd, env=env or os.environ.copy(), capture_output=True, text=True,
                          timeout=timeout)


def read_until(proc, marker, timeout=90):
    lines = []

    def got_marker():
        line = proc.stdout.readline()
        if not line:
            raise AssertionError("the demo ended early:\n" + "".join(lines))
        lines.append(line)
        return marker in line
    wait_until(got_marker, "the demo to print %r" % marker, timeout=timeout, interval=0)
    return "".join(lines)


@pytest.fixture
def running_demo(tmp_path):
    """`fleet demo` in tmp_path with its defaults (var/demo.db, var/vboards), as after `make demo`."""
    env = dict(os.environ, FLEET_LOG_LEVEL="warning")
    env.pop("VBOARD_HOME", None)
    env.pop("FLEET_DB", None)
    proc = subprocess.Popen([FLEET, "demo", "--port", "0"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        text = read_until(proc, "vboard list")
        proc.banner = text
        proc.url = re.search(r"Open\s+(http://\S+)/", text).group(1)
        proc.login = re.search(r"Log in\s+(\S+) / (\S+)", text).groups()
        proc.env = env
        yield proc
    finally:
        # Stop it as a person does (its boards stop with it); the board host is asked to stop
        # too, in case the demo could not do it.
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        subprocess.run([tool_path("vboard"), "stop", "--all"], env=dict(env, VBOARD_HOME=str(tmp_path / "var" / "vboards")),
                       cwd=tmp_path, capture_output=True, timeout=60)


def logs_in(url, login):
    r = httpx.post(url + "/api/v1/auth/login", json={"username": login[0], "password": login[1]},
                   headers={"Origin": url}, timeout=10)         # as the login page sends
    return r.status_code == 200


def test_a_second_demo_changes_nothing_and_says_where_the_first_is(running_demo, tmp_path):
    demo_db = tmp_path / "var" / "demo.db"
    before = demo_db.stat().st_mtime_ns, sorted(p.name for p in (tmp_path / "var").iterdir())

    second = fleet("demo", "--port", "0", cwd=tmp_path, env=running_demo.env, timeout=60)

    assert second.returncode == 1
    message = second.stderr
    assert "a demo is already running" in message and running_demo.url in message, message
    assert "kill %d" % running_demo.pid in message and "Ctrl-C" in message
    assert "--port" in message and "nothing was changed" in message
    assert "did not stop cleanly" not in second.stdout + second.stderr
    assert "Traceback" not in message and "address already in use" not in message
    # The first demo is untouched: same password, still serving, same files.
    assert logs_in(running_demo.url, running_demo.login)
    assert (demo_db.stat().st_mtime_ns, sorted(p.name for p in (tmp_path / "var").iterdir())) == before


def test_the_command_line_during_the_demo_points_at_the_demo_database(running_demo, tmp_path):
    # The README user's first try: the default database is not the demo's. Nothing is created.
    first_try = fleet("alarm", "list", cwd=tmp_path, env=running_demo.env)
    assert first_try.returncode == 1 and first_try.stdout == ""
    assert "no fleet database at %s" % (tmp_path / "var" / "fleet.db") in first_try.stderr
    assert "--db" in first_try.stderr and "FLEET_DB" in first_try.stderr
    assert "export FLEET_DB=%s" % (tmp_path / "var" / "demo.db") in first_try.stderr
    assert not (tmp_path / "var" / "fleet.db").exists()

    # What the banner says works: FLEET_DB, or --db.
    export = re.search(r"export FLEET_DB=(\S+)", running_demo.banner).group(1)
    env = dict(running_demo.env, FLEET_DB=export)

    def all_online():
        listed = fleet("device", "list", cwd=tmp_path, env=env).stdout
        return listed if listed.count("online") == 6 else None
    devices = wait_until(all_online, "six demo devices online", timeout=90, interval=1)
    assert devices.count("call_button") == 3 and devices.count("smart_bin") == 3
    by_flag = re.search(r"(\S+) alarm list --db (\S+)", running_demo.banner).groups()
    listed = subprocess.run([by_flag[0], "alarm", "list", "--db", by_flag[1]], cwd=tmp_path, env=running_demo.env,
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and listed.stdout.strip() == "(none)"
    assert "database %s" % (tmp_path / "var" / "demo.db") in listed.stderr


@pytest.mark.long
def test_the_demo_bins_fill_over_accelerated_time(running_demo, tmp_path):
    env = dict(running_demo.env, FLEET_DB=str(tmp_path / "var" / "demo.db"))

    def fills():
        rows = fleet("bins", "list", "--json", cwd=tmp_path, env=env).stdout
        got = {b["id"]: b["pct"] for b in json.loads(rows or "[]")}
        return got if sorted(got) == ["BIN-1", "BIN-2", "BIN-3"] and None not in got.values() else None
    first = wait_until(fills, "the three demo bins registered with a fill", timeout=120, interval=2)
    # a simulated day every four minutes: within a few real minutes one of them has filled more
    wait_until(lambda: any(pct > first[b] for b, pct in (fills() or first).items()), "a demo bin filling",
               timeout=240, interval=5)


def test_ctrl_c_ends_the_demo_cleanly(running_demo):
    running_demo.send_signal(signal.SIGINT)
    rest, _ = running_demo.communicate(timeout=60)
    assert running_demo.returncode == 0, rest     # make prints no error for a status of 0
    assert "Demo stopped." in rest
    assert "Traceback" not in rest and "Aborted!" not in rest, rest


def test_a_port_taken_by_another_program_is_named_and_nothing_is_created(tmp_path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        r = fleet("demo", "--port", str(port), "--db", str(tmp_path / "d" / "demo.db"), cwd=tmp_path)
    assert r.returncode == 1
    assert "port %d on 127.0.0.1 is already in use by another program" % port in r.stderr
    assert "--port" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "d" / "demo.db").exists()


def test_fleet_serve_names_the_port_too(tmp_path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        r = fleet("serve", "--port", str(port), "--db", str(tmp_path / "fleet.db"), cwd=tmp_path)
    assert r.returncode == 1 and "already in use by another program: choose another with --port" in r.stderr


def test_a_release_rolls_out_to_the_demo_boards_from_the_command_line(running_demo, tmp_path):
    """docs/ota.md "Try it": build, sign (the demo's key), upload, roll out; the mains boards update."""
    env = dict(running_demo.env, FLEET_DB="var/demo.db")
    keys = sorted((tmp_path / "var" / "release-keys").glob("*.pem"))
    private = [k for k in keys if not k.name.endswith(".pub.pem")][0]

    def run(*args):
        r = fleet(*args, cwd=tmp_path, env=env, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    run("release", "build", "--out", "var/rel-0.2.0", "--version", "0.2.0")
    run("release", "sign", "var/rel-0.2.0", "--key", str(private))
    assert "uploaded release app-0.2.0" in run("release", "upload", "var/rel-0.2.0")
    assert "rollout 1 of app-0.2.0 started" in run("rollout", "start", "app-0.2.0", "--role", "smart_bin",
                                                    "--phases", "100", "--gate", "30s")

    def bins_updated():
        import json
        found = json.loads(run("device", "list", "--role", "smart_bin", "--json"))
        return len(found) == 3 and all(d["app"] == "0.2.0" for d in found)
    wait_until(bins_updated, "the three demo bins on app 0.2.0", timeout=150, interval=1)
    assert "completed" in run("rollout", "list")
