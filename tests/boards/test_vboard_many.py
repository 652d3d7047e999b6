"""Many virtual boards at once on one host (the reliability test runs 20 call buttons)."""

import time

from agentkit import AGENT, FAST_WIFI


def test_ten_boards_boot_and_answer_presses_concurrently(farm):
    config = {"role": "call_button", "fleet_url": "http://127.0.0.1:9", "wifi": {"ssid": "ap", "password": "pw"}}
    boards = [farm.create("many-%02d" % i, config=config, firmware_dir=AGENT, replace=True) for i in range(10)]
    try:
        t0 = time.monotonic()
        for b in boards:
            b.set_world(**FAST_WIFI)
            b.start()
        for b in boards:
            b.expect(r"READY button=1", timeout=20)
        boot_s = time.monotonic() - t0
        for b in boards:
            b.press(80)
        for b in boards:
            b.expect(r"IRQ level=0 n=1", timeout=10)
        for b in boards:
            b.wait_led(True, 5)
        states = {d["name"]: d for d in farm.status() if d["name"].startswith("many-")}
        assert len(states) == 10 and all(d["state"] == "running" for d in states.values())
        ports = {d["console_url"] for d in states.values()} | {d["proxy_url"] for d in states.values()}
        assert len(ports) == 20                                   # every board has its own ports
        assert len({d["hw_id"] for d in states.values()}) == 10  # and its own MAC
        assert boot_s < 20
        boards[3].power_cut()                                     # one board's fault stays its own
        boards[4].wait_for(lambda b: not b.info()["pressed"], 2, what="first press released")
        boards[4].press(80)
        boards[4].expect(r"IRQ level=0 n=2", timeout=10)
        assert boards[3].state == "off" and boards[5].state == "running"
    finally:
        for b in boards:
            b.power_cut()
