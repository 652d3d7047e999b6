"""The virtual board refuses and behaves as the ESP32 port does where the two used to differ.
Each test names the port's C source it follows (MicroPython v1.29, ports/esp32)."""

import time

import pytest


def test_c3_pin_table_has_no_usb_jtag_pins(make_agent):
    # machine_pin.h: ESP32_GENERIC_C3 runs its USB-Serial-JTAG console on GPIO18/19, so they
    # are not in machine.Pin's table (machine_pin_find raises), nor are the flash pins 14-17.
    a = make_agent(board="esp32-c3-devkitm-1")
    for pin in (18, 19, 14):
        assert "ValueError: invalid pin" in a.error("machine.Pin(%d)" % pin)
    assert a.eval("machine.Pin(10, machine.Pin.OUT).value()") == 0
    a.run("i2c = machine.I2C(0, scl=machine.Pin(P['i2c_scl']), sda=machine.Pin(P['i2c_sda']))")
    assert a.eval("i2c.scan()") == [0x18]                 # the definition's I2C pins work


def test_watchdog_timeouts_as_the_port_takes_them(make_agent):
    # machine_wdt.c: id must be 0, the timeout is in ms and only <= 0 is refused.
    a = make_agent()
    assert "ValueError" in a.error("machine.WDT(timeout=0)")
    assert "ValueError" in a.error("machine.WDT(1, 5000)")
    assert "TypeError" in a.error("machine.WDT(timeout=1.5)")
    t0 = time.monotonic()
    a.b.write("w = machine.WDT(timeout=300)\n")           # accepted as is (was raised to 1 s)
    a.wait_ready(timeout=5)
    assert a.boot[0] == 3 and time.monotonic() - t0 < 2.0
    # a second WDT() reconfigures the running one (esp_task_wdt_reconfigure)
    a.run("state['wdt'] = machine.WDT(timeout=60000)")
    a.run("machine.WDT(timeout=400)")
    a.wait_ready(timeout=5)
    assert a.boot[0] == 3


def test_ticks_wrap_at_2_to_the_30(make_agent):
    # extmod/modtime.c masks with MICROPY_PY_TIME_TICKS_PERIOD = 2**30 on the ESP32; the host
    # starts the chip's counter just before the wrap.
    a = make_agent(world={"ticks_wrap_in_ms": 1500})
    t0 = a.eval("time.ticks_ms()")
    assert 2 ** 30 - 1500 <= t0 < 2 ** 30
    time.sleep(1.8)
    t1 = a.eval("time.ticks_ms()")
    assert t1 < 10000                                       # wrapped
    assert 1700 <= a.eval("time.ticks_diff(%d, %d)" % (t1, t0)) < 5000
    assert a.eval("time.ticks_add(%d, 2000)" % (2 ** 30 - 1000)) == 1000
    assert a.eval("time.ticks_us() < 2 ** 30 and time.ticks_cpu() < 2 ** 30") is True
    assert "OverflowError" in a.error("time.ticks_add(0, 2 ** 29)")
    # (the agent answers from an asyncio task: asyncio's own timing ran on across the wrap)


def test_connect_forgets_the_channel_and_refuses_while_connecting(make_agent):
    # network_wlan.c network_wlan_connect(): connect(ssid, key, ...) rebuilds the station config
    # from zero, so config(channel=) before it is lost and the driver scans every channel;
    # esp_wifi_connect() while the driver connects raises "Wifi Internal Error".
    a = make_agent(world={"wifi_fast_ms": 50, "wifi_scan_ms": 600})
    a.run("import network; w = network.WLAN(network.STA_IF); w.active(True)")
    assert "AP required" in a.error("w.config(ssid='lab-ap')")
    a.run("w.config(channel=6)")
    ok, ms = a.eval("wifi_up()")
    assert ok and ms >= 500                                  # full scan despite the channel
    bssid = a.eval("[x[1] for x in w.scan() if x[0] == b'lab-ap'][0]")
    a.run("w.disconnect()")
    ok, ms = a.eval("wifi_up(bssid=%r)" % bssid)
    assert ok and ms >= 500                                  # a BSSID does not shorten it
    a.run("w.disconnect(); w.config(channel=6); w.connect()")    # config kept: starts on ch 6
    a.b.wait_for(lambda x: x.info()["wifi"]["associated"], 2, what="fast connect")
    a.run("w.disconnect(); w.connect('lab-ap', 'lab-pass')")
    assert "Wifi Internal Error" in a.error("w.connect('lab-ap', 'lab-pass')")
    a.b.wait_for(lambda x: x.info()["wifi"]["associated"], 5, what="connect")
    a.b.wifi(False)                                          # lost: the driver reconnects itself
    a.b.wait_for(lambda x: not x.info()["wifi"]["associated"], 5, what="loss")
    assert "Wifi Internal Error" in a.error("w.connect('lab-ap', 'lab-pass')")
    a.b.wifi(True)


def test_brownout_reads_as_power_on_and_keeps_rtc_memory(make_agent):
    # modmachine.c mp_machine_reset_cause(): ESP_RST_BROWNOUT -> PWRON_RESET.
    a = make_agent(world={"battery_v": 2.9, "brownout_below_v": 3.1})
    b = a.b
    a.run("machine.RTC().memory(b'kept')")
    b.mark()
    a.run("import network; w = network.WLAN(network.STA_IF); w.active(True)")
    b.write("w.connect('lab-ap', 'lab-pass')\n")           # the transmit current browns it out
    a.wait_ready(timeout=5)
    assert a.boot == (1, 0, ())
    assert "RTCWDT_BROWN_OUT_RESET" in b.console_text()
    assert b.boots()[-1]["why"] == "brownout"
    assert a.eval("machine.RTC().memory()") == b"kept"
    b.brownout()                                             # the stimulus on its own
    a.wait_ready(timeout=5)
    assert a.boot[0] == 1 and len(b.boots()) == 3
