"""`provision batch`: a plan of devices on several ports at once, resumable, with a results CSV;
bad rows refused with their line numbers before anything is flashed; a board seen twice refused."""

import csv

from provkit import WIFI, provision


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_bad_plan_rows_are_listed_by_line_and_nothing_is_flashed(blank, firmware, fleet, tmp_path):
    b = blank()
    plan = tmp_path / "plan.csv"
    plan.write_text("role,site,board\ncall_button,block-1,virtual\ndoorbell,block-2,virtual\n"
                    "smart_bin,block-3,esp32-wroom-99\ncall_button,%s,virtual\n" % ("x" * 70))
    r = provision("batch", str(plan), "--port", b.serial_url, "--firmware", str(firmware), "--fleet", fleet.url,
                  "--token", fleet.tech_token, "--wifi-ssid", WIFI["ssid"])
    assert r.returncode == 1
    err = r.stderr
    assert "3 bad row(s); nothing was flashed" in err
    assert "line 3: role 'doorbell' is not one of call_button, smart_bin, beacon" in err
    assert "line 4: board 'esp32-wroom-99' is unknown" in err
    assert "line 5: site is longer than 64 characters" in err
    assert not (tmp_path / "plan.results.csv").exists()
    b.mark()
    b.expect("flash read err, 1000", timeout=10)          # the board was not touched


def test_two_ports_in_parallel_then_the_same_board_twice_is_refused_and_the_plan_resumes(
        blank, firmware, fleet, tmp_path):
    b1, b2 = blank("-a"), blank("-b")
    plan = tmp_path / "plan.csv"
    plan.write_text("role,site,board\ncall_button,block-1,virtual\nsmart_bin,block-2,virtual\n"
                    "call_button,block-3,virtual\n")
    env = {"PROVISION_WIFI_PASSWORD": WIFI["password"], "PROVISION_TOKEN": fleet.tech_token}
    r = provision("batch", str(plan), "--port", b1.serial_url, "--port", b2.serial_url, "--firmware", str(firmware),
                  "--fleet", fleet.url, "--wifi-ssid", WIFI["ssid"], "--labels", str(tmp_path / "labels"), env=env)
    # rows 2 and 3 were done on the two ports; the third row met a board already done: refused
    results = {int(x["line"]): x for x in _rows(tmp_path / "plan.results.csv")}
    done = [x for x in results.values() if x["result"] == "ok"]
    assert len(done) == 2 and {x["mac"] for x in done} == {b1.info()["mac"], b2.info()["mac"]}
    refused = [x for x in results.values() if x["result"] != "ok"]
    assert len(refused) == 1 and refused[0]["code"] == "duplicate_board"
    assert "already provisioned for line" in refused[0]["error"]
    assert r.returncode == 1 and "2 done, 1 failed, 1 to do" in r.stdout
    for x in done:
        dev = fleet.device_by_hw(x["mac"].replace(":", ""))
        assert dev["id"] == x["device_id"] and dev["last_hello"]
    assert (tmp_path / "labels" / "labels.pdf").read_bytes().startswith(b"%PDF")
    assert WIFI["password"] not in (tmp_path / "plan.results.csv").read_text() + r.stdout + r.stderr
    # a new blank board on the first port: the same command finishes the plan, skipping what was done
    b3 = blank("-c")
    r = provision("batch", str(plan), "--port", b3.serial_url, "--firmware", str(firmware), "--fleet", fleet.url,
                  "--wifi-ssid", WIFI["ssid"], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    results = _rows(tmp_path / "plan.results.csv")
    assert [x["result"] for x in results] == ["ok", "ok", "ok"]
    assert len({x["mac"] for x in results}) == 3 and len({x["device_id"] for x in results}) == 3
