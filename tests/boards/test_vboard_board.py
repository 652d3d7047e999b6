"""A virtual board running real MicroPython (the unix port) with the ESP32 shims: what the
firmware sees follows the simulated world, and power, sleep and resets behave as on an ESP32.
The board runs the small agent firmware in fixtures/agent; tests type Python on its console."""

import re
import time

import pytest

from boards import BoardError
from boards.virtual import ExpectTimeout, VBoardError


def test_boot_and_main_run_with_power_on_causes(make_agent):
    a = make_agent()
    assert a.boot == (1, 0, ())                      # PWRON_RESET, no wake reason
    assert a.button_at_boot == 1                     # pulled up, not pressed
    b = a.b
    assert b.state == "running"
    info = b.info()
    assert info["reset_cause"] == "PWRON_RESET" and info["boots"] == 1
    assert info["console_url"].startswith("socket://127.0.0.1:")
    assert a.eval("machine.unique_id()") == bytes.fromhex(info["hw_id"])
    assert a.eval("sys.platform") == "linux"          # documented difference
    assert a.eval("time.gmtime()[0]") == 2000         # the ESP32 clock starts at its 2000 epoch
    text = b.console_text()
    assert "rst:0x1 (POWERON_RESET)" in text          # the ROM bootloader line
    log = open(info["console_log"]).read()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}  READY button=1", log)
    assert "# [vboard] boot 1: PWRON_RESET" in log


def test_button_irq_drives_the_led(make_agent):
    a = make_agent()
    b = a.b
    assert b.led is False
    t0 = time.time()
    b.press(150)
    b.expect(r"IRQ level=0 n=1")
    b.wait_led(True, 2)            # outputs arrive on their own channel, a moment after the print
    lit = [o for o in b.outputs("led") if o["on"]]
    assert lit and lit[-1]["t"] >= t0 and lit[-1]["pin"] == 26 and lit[-1]["brightness"] == 1.0
    b.wait_for(lambda x: not x.info()["pressed"], 2, what="release after 150 ms")
    b.hold()
    b.expect(r"IRQ level=0 n=2")
    assert a.eval("btn.value()") == 0
    b.release()
    assert a.eval("btn.value()") == 1
    b.wait_led(False, 2)
    assert b.info()["button_watched"]                 # the agent's handler is on the pin
    a.run("btn.irq(handler=None)")
    b.wait_for(lambda x: not x.info()["button_watched"], 2, what="the host told the IRQ is gone")
    a.run("btn.irq(on_button, machine.Pin.IRQ_FALLING)")
    b.wait_for(lambda x: x.info()["button_watched"], 2, what="the host told the IRQ is back")
    b.press(60, bounces=2)                            # a bouncing contact: three falling edges
    b.expect(r"IRQ level=\d n=5")
    assert a.eval("state['presses']") == 5


def test_adc_follows_battery_and_light(make_agent):
    a = make_agent(world={"adc_noise_mv": 0})
    a.run("from machine import ADC, Pin; bat = ADC(Pin(P['battery_adc']), atten=ADC.ATTN_11DB)")
    a.run("lig = ADC(Pin(P['light_adc']), atten=ADC.ATTN_11DB)")
    a.b.set_world(battery_v=3.0, light=0.25)
    assert a.eval("bat.read_uv()") == 1500000          # 3.0 V through the 2:1 divider
    assert a.eval("lig.read_uv()") == 500000           # 0.25 * light_full_v (2.0 V)
    a.b.set_world(battery_v=4.2)
    assert a.eval("bat.read_uv()") == 2100000
    assert a.eval("bat.read_u16()") == pytest.approx(2.1 / 2.45 * 65535, abs=20)
    assert a.eval("ADC(Pin(34)).read_uv()") == 950000  # default 0 dB attenuation saturates
    assert "ValueError" in a.error("ADC(Pin(23))")       # no ADC on GPIO23
    a.run("adc2 = ADC(Pin(25), atten=ADC.ATTN_11DB)")
    assert a.eval("adc2.read_uv() >= 0")                 # ADC2 works while Wi-Fi is off...
    a.run("import network; network.WLAN(network.STA_IF).active(True)")
    assert "OSError" in a.error("adc2.read_uv()")        # ...and not while it is on


def _whole_echo(a):
    # time_pulse_us called after the echo has risen measures from the call, as on the chip.
    # A host that pauses the board's process past the sensor's 300 us trigger->echo delay
    # (CI, 2 busy cores) makes such a late call, so a read can come out short, never long:
    # the longest of three is the pulse's width.
    return max(a.eval("echo()") for _ in range(3))


def test_ultrasonic_echo_follows_distance_and_temperature(make_agent):
    a = make_agent(world={"us_noise_cm": 0, "distance_cm": 100, "temp_c": 20})
    assert _whole_echo(a) == pytest.approx(5824, abs=2)            # 2 * 1 m / 343.4 m/s
    a.b.set_world(temp_c=40)
    assert _whole_echo(a) == pytest.approx(2 / (331.3 + 0.606 * 40) * 1e6, abs=2)
    a.b.set_world(distance_cm=250, temp_c=20)
    assert _whole_echo(a) == pytest.approx(14560, abs=3)
    a.run("t = machine.Pin(P['us_trig'], machine.Pin.OUT, value=0); e = machine.Pin(P['us_echo'], machine.Pin.IN)")
    a.run("t.value(1); time.sleep_us(10); t.value(0); time.sleep_us(1000); w = machine.time_pulse_us(e, 1, 30000)")
    assert 0 < a.eval("w") <= 14560 - 700 + 3                      # 700 us after the rise: sees the rest
    a.b.set_world(distance_cm=8)                                    # inside the 23 cm blind zone
    width = a.eval("echo()")
    assert 23 * 58.2 - 2 <= width <= 38 * 58.3 + 2
    a.b.set_world(distance_cm=None)                                 # nothing within range
    assert a.eval("echo(30000)") == -1
    assert a.eval("echo(30000, trigger=False)") == -2               # no trigger, no echo
    t0 = time.monotonic()
    a.eval("echo(20000, trigger=False)")
    assert time.monotonic() - t0 >= 0.02                            # the wait really takes time


def test_i2c_accelerometer_follows_tilt(make_agent):
    a = make_agent(world={"accel_noise_g": 0, "temp_c": 25})
    a.run("import struct; i2c = machine.I2C(0, scl=machine.Pin(P['i2c_scl']), sda=machine.Pin(P['i2c_sda']))")
    assert a.eval("i2c.scan()") == [0x68]
    assert a.eval("machine.I2C(0).scan()") == []                   # default pins: nothing wired there
    a.run("i2c.writeto_mem(0x68, 0x6B, b'\\x00')")                 # wake the MPU6050
    x, y, z, t = a.eval("struct.unpack('>hhhh', i2c.readfrom_mem(0x68, 0x3B, 8))")
    assert (x, y, z) == (0, 0, 16384)
    assert t / 340 + 36.53 == pytest.approx(25.0, abs=0.05)
    a.b.set_world(tilt_deg=90, tilt_axis="x")
    x, y, z = a.eval("struct.unpack('>hhh', i2c.readfrom_mem(0x68, 0x3B, 6))")
    assert (x, abs(z)) == (0, 0) and y == 16384
    a.b.set_world(tilt_deg=12, tilt_axis="y")
    x, y, z = a.eval("struct.unpack('>hhh', i2c.readfrom_mem(0x68, 0x3B, 6))")
    assert x == pytest.approx(16384 * 0.2079, abs=2) and z == pytest.approx(16384 * 0.9781, abs=2)
    assert "OSError: 19" in a.error("i2c.readfrom_mem(0x50, 0, 1)") or "ENODEV" in a.error("i2c.readfrom(0x50, 1)")


def test_rtc_memory_survives_deep_sleep_but_not_a_power_cut(make_agent):
    a = make_agent()
    b = a.b
    a.run("machine.RTC().memory(b'kept across sleep')")
    a.run("machine.RTC().datetime((2026, 5, 17, 6, 12, 0, 0, 0))")
    b.mark()
    b.write("machine.deepsleep(300)\n")
    b.wait_state("sleeping", 5)
    assert b.led is False
    a.wait_ready()
    assert a.boot == (4, 4, ())                       # DEEPSLEEP_RESET, TIMER_WAKE
    assert a.eval("machine.RTC().memory()") == b"kept across sleep"
    assert a.eval("time.gmtime()[:4]") == (2026, 5, 17, 12)      # the RTC kept counting
    b.power_cut()
    assert b.state == "off"
    b.start()
    a.wait_ready()
    assert a.boot == (1, 0, ())
    assert a.eval("machine.RTC().memory()") == b""
    assert a.eval("time.gmtime()[0]") == 2000
    assert [x["reset_cause"] for x in b.boots()] == ["PWRON_RESET", "DEEPSLEEP_RESET", "PWRON_RESET"]


def test_timer_wake_fast_forward(make_agent):
    a = make_agent()
    b = a.b
    before = a.eval("time.time()")
    b.write("machine.deepsleep(3600000)\n")
    info = b.wait_state("sleeping", 5)
    assert 3500 < info["sleep"]["wakes_in_s"] <= 3600
    skipped = b.fast_forward()
    assert skipped > 3500
    a.wait_ready()
    assert a.boot == (4, 4, ())
    assert a.eval("time.time()") - before >= 3599             # the clock jumped with the sleep


def test_button_wakes_a_sleeping_board_and_is_seen_held(make_agent):
    a = make_agent()
    b = a.b
    a.run("import esp32; esp32.wake_on_ext0(btn, esp32.WAKEUP_ALL_LOW)")
    b.write("machine.deepsleep()\n")
    info = b.wait_state("sleeping", 5)
    assert info["sleep"]["ext0"] == [27, 0] and info["sleep"]["wakes_in_s"] is None
    time.sleep(0.2)
    assert b.state == "sleeping"                      # nothing wakes it by itself
    b.press(600)
    a.wait_ready()
    assert a.boot == (4, 2, ())                       # DEEPSLEEP_RESET, EXT0_WAKE
    assert a.button_at_boot == 0                      # the firmware sees the button still held
    assert b.wake_reason == "EXT0_WAKE"


def test_ext1_wake_reports_its_pins(make_agent):
    a = make_agent()
    a.run("import esp32; esp32.wake_on_ext1([btn], esp32.WAKEUP_ALL_LOW)")
    a.b.write("machine.deepsleep(60000)\n")
    a.b.wait_state("sleeping", 5)
    a.b.press(300)
    a.wait_ready()
    assert a.boot == (4, 3, (27,))                    # EXT1_WAKE, machine.wake_pins()


def test_esp32_c3_wakes_on_gpio_and_has_a_lis3dh(make_agent):
    a = make_agent(board="esp32-c3-devkitm-1")
    a.run("import esp32")
    assert a.eval("hasattr(esp32, 'wake_on_ext0'), hasattr(esp32, 'wake_on_ext1')") == (False, False)
    assert a.eval("hasattr(esp32, 'mcu_temperature'), hasattr(esp32, 'raw_temperature')") == (True, False)
    a.run("i2c = machine.I2C(0, scl=machine.Pin(P['i2c_scl']), sda=machine.Pin(P['i2c_sda']))")
    assert a.eval("i2c.scan()") == [0x18]
    assert a.eval("i2c.readfrom_mem(0x18, 0x0F, 1)") == b"\x33"
    assert "ValueError" in a.error("machine.freq(240000000)")   # the C3 tops out at 160 MHz
    a.run("esp32.wake_on_gpio((btn,), esp32.WAKEUP_ALL_LOW)")
    a.b.write("machine.deepsleep()\n")
    a.b.wait_state("sleeping", 5)
    a.b.press(300)
    a.wait_ready()
    assert a.boot == (4, 7, (3,))                     # ESP_SLEEP_WAKEUP_GPIO on GPIO3


def test_esp32_refuses_gpio_wake_from_deep_sleep(make_agent):
    a = make_agent()
    a.run("import esp32; esp32.wake_on_gpio((btn,), esp32.WAKEUP_ALL_LOW)")
    assert "DEEPSLEEP with gpio pins not supported" in a.error("machine.deepsleep(100)")
    assert "invalid pin" in a.error("esp32.wake_on_ext0(machine.Pin(23), 0)")   # not an RTC GPIO


def test_watchdog_resets_a_board_that_stops_feeding(make_agent):
    a = make_agent()
    b = a.b
    a.run("machine.RTC().memory(b'wdt')")
    a.run("state['wdt'] = machine.WDT(timeout=1000); state['feed'] = True")
    time.sleep(1.6)
    assert len(b.boots()) == 1                        # fed: no reset
    a.run("state['feed'] = False")
    a.wait_ready(timeout=5)
    assert a.boot == (3, 0, ())                       # WDT_RESET
    assert "task_wdt: Task watchdog got triggered" in b.console_text()
    assert a.eval("machine.RTC().memory()") == b"wdt"   # RTC memory survives a watchdog reset
    time.sleep(1.3)
    assert len(b.boots()) == 2                        # the watchdog is gone after the reset


def test_power_cut_at_any_instant(make_agent):
    a = make_agent()
    b = a.b
    a.run("exec('async def writer():\\n n = 0\\n while True:\\n  with open(\"/log.txt\", \"a\") as f:\\n"
          "   f.write(\"line %d\\\\n\" % n)\\n  n += 1\\n  led.value(n % 2)\\n  await asyncio.sleep_ms(1)')")
    a.run("asyncio.create_task(writer())")
    time.sleep(0.3)
    b.power_cut()
    assert b.state == "off" and b.led is False
    end = b.console_end
    time.sleep(0.2)
    assert b.console_end == end                       # nothing runs any more
    data = b.read_file("/log.txt").decode()
    lines = data.splitlines()
    assert len(lines) > 20
    assert all(re.fullmatch(r"line \d+", ln) for ln in lines[:-1])
    with pytest.raises(VBoardError, match="is off"):
        b.press(100)
    b.start()
    a.wait_ready()
    assert a.boot == (1, 0, ())


def test_machine_reset_and_soft_reset(make_agent):
    a = make_agent()
    b = a.b
    b.write("machine.reset()\n")
    a.wait_ready()
    assert a.boot == (2, 0, ())                       # HARD_RESET (esp_restart)
    b.mark()
    b.write("machine.soft_reset()\n")
    b.expect("MPY: soft reboot")
    a.wait_ready()
    assert a.boot[0] == 5                             # SOFT_RESET
    b.mark()
    b.write("sys.exit()\n")                           # SystemExit also soft-resets
    a.wait_ready()
    assert [x["reset_cause"] for x in b.boots()] == ["PWRON_RESET", "HARD_RESET", "SOFT_RESET", "SOFT_RESET"]


def test_wifi_connect_outage_and_reconnect(make_agent):
    a = make_agent()
    b = a.b
    a.run("import network; w = network.WLAN(network.STA_IF)")
    assert "Wifi Not Started" in a.error("w.connect('lab-ap', 'lab-pass')")
    ok, ms = a.eval("wifi_up()")
    assert ok and 150 <= ms < 2000                    # full scan: wifi_scan_ms (200 ms here)
    assert a.eval("w.status(), w.config('channel'), w.status('rssi')") == (1010, 6, -60)
    bssid = a.eval("[x[1] for x in w.scan() if x[0] == b'lab-ap'][0]")
    assert len(bssid) == 6
    a.run("w.disconnect()")
    assert a.eval("w.status()") == 1000
    ok, ms = a.eval("wifi_up(bssid=%r)" % bssid)
    assert ok and 150 <= ms < 2000                    # a BSSID still scans every channel
    b.wifi(False)
    time.sleep(0.5)                                   # > wifi_loss_ms
    assert a.eval("w.isconnected(), w.status()") == (False, 1001)   # reconnecting by itself
    assert "Wifi Internal Error" in a.error("w.connect('lab-ap', 'lab-pass')")
    b.wifi(True)
    b.wait_for(lambda x: x.info()["wifi"]["associated"], 5, what="reconnect")
    assert a.eval("w.isconnected()") is True
    a.run("w.disconnect(); w.connect('lab-ap', 'wrong')")
    b.wait_for(lambda x: x.info()["wifi"]["status"] == "wrong_password", 5, what="auth failure")
    assert a.eval("w.status()") == 202
    a.run("w.config(reconnects=0); w.connect('no-such-ap', 'x')")
    b.wait_for(lambda x: x.info()["wifi"]["status"] == "no_ap_found", 5, what="no AP")
    assert a.eval("w.status()") == 201


def test_link_cut_and_restore_through_the_proxy(make_agent, fleet_stub):
    a = make_agent(fleet_url=fleet_stub + "/api")
    b = a.b
    cfg = a.eval("CFG['fleet_url']")
    assert cfg == b.info()["proxy_url"] and cfg.startswith("http://127.0.0.1:") and cfg.endswith("/api")
    assert b.info()["fleet_url"] == fleet_stub + "/api"
    assert "OSError" in a.error("http_get('/before-wifi')")           # no Wi-Fi, no route
    assert a.eval("wifi_up()")[0]
    assert a.eval("http_get('/a')") == b"pong /a"
    b.link(False)                                                   # packets vanish
    t0 = time.monotonic()
    assert "OSError" in a.error("http_get('/cut', 1)")
    assert time.monotonic() - t0 >= 0.9                             # it timed out, not refused
    b.link(True)
    assert a.eval("http_get('/b')") == b"pong /b"
    b.link(False, mode="reset")                                     # refused at once
    t0 = time.monotonic()
    assert "OSError" in a.error("http_get('/reset', 3)")
    assert time.monotonic() - t0 < 1.5
    b.link(True)
    b.wifi(False)
    assert "OSError" in a.error("http_get('/no-wifi', 3)")
    b.wifi(True)
    b.wait_for(lambda x: x.info()["wifi"]["associated"], 5, what="reconnect")
    assert a.eval("http_get('/c')") == b"pong /c"
    st = b.net_stats()
    assert st["bytes_up"] > 0 and st["bytes_down"] > 0 and st["dropped"] >= 1 and st["refused"] >= 2


def test_ble_advertising_is_recorded(make_agent):
    a = make_agent()
    t0 = time.time()
    a.run("import bluetooth; ble = bluetooth.BLE()")
    assert "OSError" in a.error("ble.gap_advertise(100000, b'x')")     # not active yet
    a.run("ble.active(True); ble.gap_advertise(100000, b'\\x02\\x01\\x06\\x03\\x03\\xaa\\xfe')")
    a.run("ble.gap_advertise(250000)")                              # same payload, new interval
    a.run("ble.gap_advertise(None)")
    ads = a.b.adverts(since=t0)
    assert [x["interval_us"] for x in ads] == [100000, 250000, None]
    assert ads[0]["adv"] == "0201060303aafe" == ads[1]["adv"] and ads[0]["connectable"] is True
    assert "OSError" in a.error("ble.gap_advertise(100000, bytes(32))")     # > 31 bytes


def test_nvs_keeps_committed_values_only(make_agent):
    a = make_agent()
    a.run("import esp32; n = esp32.NVS('app'); n.set_i32('boots', 7); n.set_blob('k', b'abc'); n.commit()")
    a.run("n.set_i32('lost', 1)")
    a.b.power_cut()
    a.b.start()
    a.wait_ready()
    a.run("import esp32; n = esp32.NVS('app'); buf = bytearray(8)")
    assert a.eval("n.get_i32('boots'), n.get_blob('k', buf), bytes(buf[:3])") == (7, 3, b"abc")
    assert "ESP_ERR_NVS_NOT_FOUND" in a.error("n.get_i32('lost')")
    assert "-4354" in a.error("n.get_i32('lost')")


def test_heap_budget_is_what_the_firmware_gets(make_agent):
    a = make_agent(heapsize="64k")
    info = a.b.info()["heap"]
    assert info["requested"] == "64k" and info["shim_overhead"] > 30000
    # measured by the launcher after the shims, before boot.py: the firmware's 64 KB
    assert 60 * 1024 <= info["after_shims"]["free"] <= 70 * 1024
    a.run("import gc; gc.collect()")
    assert a.eval("gc.mem_free()") < info["after_shims"]["free"]     # the agent itself uses some
    assert "MemoryError" in a.error("x = bytearray(80 * 1024)")


def test_console_errors_are_clear(make_agent, farm):
    a = make_agent()
    with pytest.raises(ExpectTimeout) as e:
        a.b.expect("never printed", timeout=0.3)
    assert "not seen on the console" in str(e.value) and "presses=0" in e.value.tail
    with pytest.raises(VBoardError, match="no virtual board 'nope'"):
        farm.board("nope")
    with pytest.raises(VBoardError, match="already exists"):
        farm.create(a.b.name, config={"role": "call_button", "fleet_url": "http://x",
                                      "wifi": {"ssid": "s", "password": "p"}})
    with pytest.raises(VBoardError, match="unknown world key"):
        a.b.set_world(humidity=3)
    with pytest.raises(BoardError, match="unknown board 'esp99'"):     # VBoardError's base class
        farm.create("x-unknown", board="esp99", config={})


def test_buzzer_pwm_and_led_brightness(make_agent):
    a = make_agent()
    b = a.b
    t0 = time.time()
    a.run("bz = machine.PWM(machine.Pin(P['buzzer']), freq=2700, duty_u16=32768)")
    b.wait_for(lambda x: x.buzzer["on"], 2, what="buzzer on")
    assert b.buzzer["pwm"] == {"freq": 2700, "duty": 32768}
    a.run("bz.duty_u16(0)")
    b.wait_for(lambda x: not x.buzzer["on"], 2, what="buzzer silent at 0 % duty")
    a.run("bz.init(freq=1000, duty_u16=20000); bz.deinit()")
    b.wait_for(lambda x: x.buzzer["pwm"] is None, 2, what="PWM released")
    hist = [o for o in b.outputs("buzzer", since=t0)]
    assert [o["on"] for o in hist][:2] == [True, False] and hist[-1]["on"] is False
    assert any(o["pwm"] and o["pwm"]["freq"] == 1000 for o in hist)
    a.run("dim = machine.PWM(led, freq=1000, duty_u16=16384)")
    b.wait_for(lambda x: x.output("led").get("brightness") == pytest.approx(0.25, abs=0.001), 2, what="dim LED")
    assert b.led is True
    assert a.eval("dim.duty(), dim.freq()") == (256, 1000)          # 10-bit duty()


def test_light_sleep_keeps_the_board_running(make_agent):
    a = make_agent()
    b = a.b
    t = a.eval("(lambda t0: (machine.lightsleep(200), time.ticks_diff(time.ticks_ms(), t0))[1])(time.ticks_ms())")
    assert 190 <= t < 1000
    assert a.eval("machine.wake_reason()") == 4                   # TIMER_WAKE
    a.run("import esp32; esp32.wake_on_ext0(btn, esp32.WAKEUP_ALL_LOW)")
    b.mark()
    b.write("machine.lightsleep(); print('awake', machine.wake_reason())\n")
    time.sleep(0.2)
    assert b.state == "running" and any(p == "lightsleep" for _t, p in b.timeline()[-1:])
    b.press(100)
    b.expect("awake 2")
    assert len(b.boots()) == 1                                     # no reset: RAM kept
    assert b.awake_seconds() > 0


def test_pin_hold_keeps_an_output_through_deep_sleep(make_agent):
    a = make_agent()
    b = a.b
    a.run("led.init(machine.Pin.OUT, value=1, hold=True)")
    b.wait_led(True, 2)
    b.write("machine.deepsleep(400)\n")
    b.wait_state("sleeping", 5)
    assert b.led is True                               # held by the RTC domain while asleep
    a.wait_ready()
    a.run("led.init(machine.Pin.OUT, value=1, hold=False)")
    b.write("machine.deepsleep(300)\n")
    b.wait_state("sleeping", 5)
    assert b.led is False                              # an ordinary output floats in deep sleep


def test_timer_and_signal(make_agent):
    a = make_agent()
    a.run("ticks = []; tm = machine.Timer(0)")
    a.run("tm.init(period=20, mode=machine.Timer.PERIODIC, callback=lambda t: ticks.append(1))")
    time.sleep(0.35)
    a.run("tm.deinit()")
    n = a.eval("len(ticks)")
    assert 8 <= n <= 20
    time.sleep(0.1)
    assert a.eval("len(ticks)") <= n + 1
    a.run("s = machine.Signal(machine.Pin(P['led'], machine.Pin.OUT), invert=True); s.on()")
    a.b.wait_led(False, 2)                             # inverted: on() drives the pin low
    assert a.eval("s.value(), led.value()") == (1, 0)


def test_filesystem_rename_replaces_atomically(make_agent):
    # the board's filesystem is LittleFS, as on the ESP32: rename replaces the target at once,
    # and what a file holds is committed when it is closed
    a = make_agent()
    a.run("import os; os.mkdir('/state'); w = lambda p, d: open(p, 'w').write(d)")
    a.run("f = open('/state/x.json', 'w'); f.write('old'); f.close()")
    a.run("f = open('/state/x.json.tmp', 'w'); f.write('new')")
    assert a.eval("open('/state/x.json.tmp').read()") == ""     # not closed: nothing committed
    a.run("f.close(); os.rename('/state/x.json.tmp', '/state/x.json')")
    assert a.eval("open('/state/x.json').read(), os.listdir('/state')") == ("new", ["x.json"])
    a.run("os.chdir('/state'); f = open('y.tmp', 'w'); f.write('y'); f.close(); os.rename('y.tmp', '../y.txt')")
    a.run("os.chdir('/')")
    assert a.b.read_file("/y.txt") == b"y"
    assert "ENOENT" in a.error("os.rename('/nope', '/state/z')")
