"""The virtual board's host channel under heap pressure. On an ESP32 the Wi-Fi driver, the IDF's
event loop and RTC memory never allocate on the MicroPython heap, so a firmware that holds most
(or, for a while, all) of its heap still gets its Wi-Fi events and pin edges: here the shims must
not lose a host message for lack of heap, only delay it until the heap has room, in order, and
say so (a note in console.log, info()["heap"], the console if it lasts)."""

import re

# Helpers typed into the agent. `hold(keep, fn)` fills the heap (256-byte blocks, then 16-byte ones)
# until MemoryError, gives the last `keep` 256-byte blocks back, runs fn() and then lets the heap go.
HELPERS = [
    "import gc, network; w = network.WLAN(network.STA_IF); w.active(True); rtc = machine.RTC()",
    "exec('def fill(h, n):\\n try:\\n  while 1: h = (h, bytearray(n))\\n except MemoryError: pass\\n return h')",
    "exec('def hold(keep, fn):\\n gc.collect()\\n h = fill(None, 256)\\n h2 = fill(None, 16)\\n"
    " for i in range(keep): h = h[0]\\n"
    " gc.collect()\\n free = gc.mem_free()\\n r = fn()\\n h = h2 = None\\n gc.collect()\\n return free, r')",
    "exec('def wait_up(ms):\\n t0 = time.ticks_ms()\\n while not w.isconnected() and"
    " time.ticks_diff(time.ticks_ms(), t0) < ms: time.sleep_ms(5)\\n"
    " return w.isconnected(), time.ticks_diff(time.ticks_ms(), t0)')",
    "exec('def starve(ms, data):\\n seen = 0\\n print(\"STARVING\")\\n rtc.memory(data)\\n t0 = time.ticks_ms()\\n"
    " while time.ticks_diff(time.ticks_ms(), t0) < ms:\\n  if w.isconnected(): seen = 1\\n  time.sleep_ms(5)\\n"
    " return seen')",
]


def agent(make_agent, **world):
    a = make_agent(heapsize="64k", world=world)
    for line in HELPERS:
        a.run(line)
    return a


def test_wifi_connects_while_the_firmware_holds_most_of_the_heap(make_agent):
    a = agent(make_agent, wifi_scan_ms=300)
    b = a.b
    # ~2.5 KB left (of 64 KB): enough for the Wi-Fi events, which on a chip cost the heap nothing;
    # too little for the 4 KB receive buffer the reader thread once allocated for every recv().
    a.run("res = hold(8, lambda: (w.connect(CFG['wifi']['ssid'], CFG['wifi']['password']), wait_up(3000))[1])",
          timeout=20)
    free, (up, ms) = a.eval("res")
    assert 1500 < free < 3500, free
    assert up is True and ms < 2000, (up, ms)
    assert a.eval("w.isconnected()") is True
    assert "MemoryError" not in b.console_text(0)
    assert b.info()["wifi"]["status"] == "got_ip"


def test_a_host_message_waits_for_heap_and_is_applied_in_order(make_agent):
    a = agent(make_agent, wifi_scan_ms=300)
    b = a.b
    assert a.eval("state['presses']") == 0
    mark = b.mark()
    # Connect, then hold the whole heap for 2.5 s: the association (and a button press) arrive
    # while not even a JSON line can be decoded. They must wait, not vanish.
    b.write("w.connect(CFG['wifi']['ssid'], CFG['wifi']['password']); "
            "res = hold(0, lambda: starve(2500, b'rtc under pressure'))\n")
    b.expect("STARVING", timeout=10)
    b.press(100)
    b.expect(r"<<(ok|err [^\r\n]*)>>", timeout=20)
    free, seen = a.eval("res")
    assert free < 512, free                       # the heap really was full (a few tiny holes)
    assert seen == 0                              # nothing could be applied meanwhile
    # freed: the queued messages apply now, in the order the host sent them (no new message)
    assert a.eval("w.isconnected()") is True
    assert a.eval("state['presses']") == 1        # the press (its falling edge) was not lost
    assert a.eval("btn.value()") == 1             # and its release came after it
    assert a.eval("rtc.memory()") == b"rtc under pressure"   # RTC memory writes need no heap
    text = b.console_text(mark)
    assert re.search(r"IRQ level=\d n=1", text)
    # never silent: the console says it (after 2 s), console.log and info() say it
    assert re.search(r"vboard: a host message .*has waited \d+ ms for heap|"
                     r"vboard: a host message has waited 2 s for heap", text), text
    assert "vboard: the host message waiting for heap was applied after" in text
    log = open(b.info()["console_log"]).read()
    assert "# [vboard] shim: a host message waits for heap" in log
    assert re.search(r"# \[vboard\] shim: the waiting host message.* was applied after \d+ ms", log)
    heap = b.info()["heap"]
    assert heap["shim_memerrors"] >= 1 and heap["shim_wait_ms"] >= 2000 and heap["shim_waiting"] is False


def test_heap_trace_reports_the_firmware_peak(make_agent):
    a = make_agent(heapsize="64k", heap_trace=1)
    b = a.b
    # 12 KB live for 50 ms of running bytecode, then garbage (one block: the shims' own objects
    # are interleaved on the unix port's heap, so its largest hole is smaller than the chip's)
    a.run("exec('big = bytearray(12000)\\nt = time.ticks_ms()\\nwhile time.ticks_diff(time.ticks_ms(), t) < 50: pass\\n"
          "big = None')")
    b.write("machine.deepsleep(60000)\n")                 # a boot ends: the final figures go out
    b.wait_state("sleeping", timeout=10)
    heap = b.info()["heap"]
    assert heap["trace_ms"] == 1 and heap["trace_samples"] > 0
    assert heap["budget"] == 64 * 1024
    assert heap["fw_end"] is not None and heap["fw_end"] < 40 * 1024
    # the 12 KB block was live for a moment: the sampled peak of the firmware's share saw it
    assert heap["fw_peak"] >= heap["fw_end"] + 11000, heap
