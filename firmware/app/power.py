# The end of a wake: arm the wake source, mark the boot clean, deep sleep -- or reset.
# Imported only at that moment.
import log

MIN_SLEEP_MS = 1000


def arm_wake(board):
    """Configure the button as the deep-sleep wake source (board.json "wake")."""
    p = board.pin("button")
    kind = board.get("wake")
    if p is None or kind not in ("ext0", "ext1", "gpio"):
        return None
    from machine import Pin
    import esp32
    low = board.get("button_active_low", True)
    pin = Pin(p, Pin.IN, Pin.PULL_UP if low else Pin.PULL_DOWN)
    if kind == "ext0":
        esp32.wake_on_ext0(pin, 0 if low else 1)
    elif kind == "ext1":
        esp32.wake_on_ext1((pin,), esp32.WAKEUP_ALL_LOW if low else esp32.WAKEUP_ANY_HIGH)
    else:
        esp32.wake_on_gpio((pin,), 0 if low else 1)
    return kind


def execute(rt, decision):
    """("sleep", ms|None): deep sleep; ("reboot", why): clean reset; ("crash", why):
    reset without marking the boot clean, so boot.py counts it as failed."""
    kind, arg = decision
    import machine
    led, buz = rt._drv.get("led"), rt._drv.get("buzzer")
    if led is not None:
        led.set(False)
    if buz is not None:
        buz.stop()
    if kind == "sleep":
        ms = arg
        try:
            wake = arm_wake(rt.board)
        except Exception as ex:
            log.exc("supervisor", "arm wake", ex)
            wake = None
        if ms is None and wake is None:
            ms = 3600000                # no wake pin: never sleep forever
        if ms is not None:
            ms = max(MIN_SLEEP_MS, int(ms))
        import bootstate
        bootstate.mark("clean")
        log.i("supervisor", "sleep %s ms wake=%s" % (ms, wake))
        if ms is None:
            machine.deepsleep()
        machine.deepsleep(ms)
    if kind == "reboot":
        import bootstate
        bootstate.mark("clean")
    log.i("supervisor", "%s (%s)" % (kind, arg))
    machine.reset()
