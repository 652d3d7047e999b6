# Virtual board: the ESP32 `machine` module on the MicroPython unix port, backed by the
# simulated world the host controls. Names, signatures and constants follow MicroPython's
# esp32 port (micropython-esp32-stubs); see docs/virtual-board.md for what is simulated.
import sys
import time
import errno
import random
import micropython
import _thread
import _vb
import _vbsim

# Reset causes
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
# Wake reasons (esp_sleep_get_wakeup_cause values)
PIN_WAKE = 2
EXT0_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
TOUCHPAD_WAKE = 5
ULP_WAKE = 6
# IRQ wake values
SLEEP = 2
DEEPSLEEP = 4

_GPIO_WAKE = 7     # ESP_SLEEP_WAKEUP_GPIO (ESP32-C3): no machine constant exists for it
_chipname = _vb.chip.get("name", "esp32")
_state = {"wake_reason": _vb.boot.get("wake_reason", 0), "irq_off": 0, "freq": 0}
# Deep-sleep wake configuration, shared with the esp32 module.
_wakecfg = {"ext0": None, "ext1": None, "gpio": None, "touch": False, "ulp": False}


def _pid(pin):
    if isinstance(pin, Pin):
        return pin._id
    if isinstance(pin, int) and not isinstance(pin, bool):
        return pin
    raise TypeError("expecting a pin")


# ----------------------------------------------------------------------------------- Pin
_P = {}            # gpio -> per-pin state shared by every Pin object of that gpio
_IN, _OUT, _OD = 1, 3, 7


def _st(pid):
    st = _P.get(pid)
    if st is None:
        st = {"mode": None, "pull": None, "out": 0, "irq": None, "hold": False, "pwm": None}
        _P[pid] = st
    return st


def _input_level(pid):
    """The level on a pin as seen from outside the chip's output driver."""
    d = _vb.levels.get(pid)
    if d is not None:
        return 1 if d else 0
    if pid == _vb.role_pin("us_echo"):
        return _echo_level()
    st = _P.get(pid)
    pull = st["pull"] if st else None
    if pid in _vb.chip.get("input_only", ()):
        pull = None
    return 1 if pull == Pin.PULL_UP else 0


def _level(pid):
    st = _P.get(pid)
    if st is not None:
        if st["mode"] == _OUT:
            return st["out"]
        if st["mode"] == _OD and st["out"] == 0:
            return 0
    return _input_level(pid)


def _emit_out(pid, st):
    if st["pwm"] is not None:
        return
    if st["mode"] == _OUT:
        v = st["out"]
    elif st["mode"] == _OD:
        v = 0 if st["out"] == 0 else None
    else:
        v = None
    if st.get("sent") != v:
        st["sent"] = v
        _vb.send("out", pin=pid, v=v, hold=st["hold"])


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_DOWN = 1
    PULL_UP = 2
    PULL_HOLD = 4
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5
    DRIVE_0 = 0
    DRIVE_1 = 1
    DRIVE_2 = 2
    DRIVE_3 = 3

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, alt=None, hold=None):
        pid = _pid(id)
        # ports/esp32/machine_pin.c machine_pin_find(): a number outside the port's pin table
        # (machine_pin.h; no GPIO18/19 on ESP32_GENERIC_C3, whose USB-Serial-JTAG console uses
        # them) raises ValueError("invalid pin"). Flash pins are in the ESP32's table, but
        # driving one stops the flash and hangs the chip: refused here instead.
        if pid not in _vb.chip.get("pin_table", range(40)) or pid in _vb.chip.get("flash_pins", ()):
            raise ValueError("invalid pin")
        self._id = pid
        st = _st(pid)
        if st["mode"] is None:
            st["mode"] = _IN
        self.init(mode, pull, value=value, drive=drive, alt=alt, hold=hold)

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, alt=None, hold=None):
        _vb.sync()
        pid = self._id
        st = _st(pid)
        if value is not None:
            st["out"] = 1 if value else 0
        if mode is not None and mode != -1:
            if mode not in (_IN, _OUT, _OD):
                raise ValueError("invalid pin mode")
            if mode != _IN and pid in _vb.chip.get("input_only", ()):
                raise ValueError("pin can only be input")
            st["mode"] = mode
        if pull != -1:
            if pull not in (None, Pin.PULL_UP, Pin.PULL_DOWN, Pin.PULL_HOLD):
                raise ValueError("invalid pull")
            st["pull"] = pull
        if hold is not None:
            st["hold"] = bool(hold)
        if drive is not None and drive not in (0, 1, 2, 3):
            raise ValueError("invalid drive")
        if pid == _vb.role_pin("us_trig"):
            _trig_watch(st["out"] if st["mode"] == _OUT else 0)
        _emit_out(pid, st)

    def value(self, x=None):
        _vb.sync()
        if x is None:
            return _level(self._id)
        st = _st(self._id)
        st["out"] = 1 if x else 0
        if self._id == _vb.role_pin("us_trig") and st["mode"] == _OUT:
            _trig_watch(st["out"])
        _emit_out(self._id, st)

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def toggle(self):
        st = _st(self._id)
        self.value(0 if st["out"] else 1)

    def mode(self, mode=None):
        if mode is None:
            return _st(self._id)["mode"]
        self.init(mode)

    def pull(self, pull=-1):
        if pull == -1:
            return _st(self._id)["pull"]
        self.init(-1, pull)

    def drive(self, drive=None):
        if drive is None:
            return Pin.DRIVE_2
        self.init(drive=drive)

    # The port's Pin.irq takes handler, trigger and wake only (ports/esp32/machine_pin.c
    # machine_pin_irq allowed_args): no `hard`, no `priority` - every pin handler is scheduled.
    def irq(self, handler=None, trigger=3, wake=None):
        st = _st(self._id)
        if wake is not None and wake & DEEPSLEEP:
            if trigger not in (Pin.WAKE_LOW, Pin.WAKE_HIGH):
                raise ValueError("bad wake value")
            if "ext0" in _vb.chip.get("wake", ()):
                if self._id not in _vb.chip.get("rtc_pins", ()):
                    raise ValueError("invalid pin for wake")
                _wakecfg["ext0"] = [self._id, 1 if trigger == Pin.WAKE_HIGH else 0]
            else:
                _wakecfg["gpio"] = [[self._id], 1 if trigger == Pin.WAKE_HIGH else 0]
            return _Irq(self, trigger)
        if handler is None:
            st["irq"] = None
        else:
            st["irq"] = (handler, trigger, self)
        # The host's test instrument only (a probe on the chip could not see it): whether the
        # firmware watches this pin, so a test can tell a press made before it did.
        _vb.send("irq", pin=self._id, on=handler is not None)
        return _Irq(self, trigger)

    def __repr__(self):
        return "Pin(%d)" % self._id

    def __eq__(self, other):
        return isinstance(other, Pin) and other._id == self._id

    def __hash__(self):
        return self._id


class _Irq:
    def __init__(self, pin, trigger):
        self._pin = pin
        self._trigger = trigger

    def trigger(self, t=None):
        return self._trigger

    def flags(self):
        return 0


_irq_backlog = []


def _fire(pid, old, new):
    st = _P.get(pid)
    if st is None or st["irq"] is None or old == new:
        return
    handler, trigger, obj = st["irq"]
    if (new and trigger & Pin.IRQ_RISING) or (not new and trigger & Pin.IRQ_FALLING):
        if _state["irq_off"]:
            _irq_backlog.append((handler, obj))
            return
        try:
            handler(obj)
        except Exception as e:
            sys.print_exception(e)


def _on_levels(msg):
    # Retried by _vb if it raises MemoryError: allocate before changing anything, and undo the
    # level changes if a new dict entry fails, so a retry sees (and fires) the same edges.
    changes = msg.get("levels") or {}
    before = []                     # pid, level seen by the firmware, raw driven value
    for k in changes:
        pid = int(k)
        before.append(pid)
        before.append(_level(pid))
        before.append(_vb.levels.get(pid))
    try:
        for k in changes:
            v = changes[k]
            if v is None:
                _vb.levels.pop(int(k), None)
            else:
                _vb.levels[int(k)] = 1 if v else 0
    except MemoryError:
        for i in range(0, len(before), 3):
            if before[i + 2] is None:
                _vb.levels.pop(before[i], None)
            else:
                _vb.levels[before[i]] = before[i + 2]
        raise
    for i in range(0, len(before), 3):
        _fire(before[i], before[i + 1], _level(before[i]))


_vb.on("levels", _on_levels)


def disable_irq():
    _state["irq_off"] += 1
    return _state["irq_off"] - 1


def enable_irq(state=0):
    _state["irq_off"] = state if state >= 0 else 0
    if not _state["irq_off"]:
        while _irq_backlog:
            handler, obj = _irq_backlog.pop(0)
            try:
                handler(obj)
            except Exception as e:
                sys.print_exception(e)


class Signal:
    def __init__(self, id, *args, invert=False, **kw):
        if isinstance(id, (Pin, Signal)) and not args and not kw:
            self._pin = id
        else:
            self._pin = Pin(id, *args, **kw)
        self._inv = bool(invert)

    def value(self, x=None):
        if x is None:
            return self._pin.value() ^ self._inv
        self._pin.value((1 if x else 0) ^ self._inv)

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


# ---------------------------------------------------------------- ultrasonic echo model
_echo = [None]          # (start ticks_us, end ticks_us) of the planned echo pulse
_trig = {"last": 0, "rise": None}


def _trig_watch(level):
    if level and not _trig["last"]:
        _trig["rise"] = time.ticks_us()
    elif not level and _trig["last"]:
        _plan_echo()
    _trig["last"] = level


def _plan_echo():
    sensor = _vb.w("ultrasonic") or _vb.board.get("ultrasonic") or "jsn-sr04t"
    spec = _vbsim.ULTRASONIC.get(sensor) or _vbsim.ULTRASONIC["jsn-sr04t"]
    width = _vbsim.echo_us(_vbsim.target_cm(_vb.world), _vb.w("temp_c", 20.0), sensor,
                           _vb.w("us_noise_cm", 0.3), random.random)
    start = time.ticks_add(time.ticks_us(), spec["delay_us"])
    _echo[0] = (start, time.ticks_add(start, width))


def _echo_level():
    e = _echo[0]
    if e is None:
        return 0
    now = time.ticks_us()
    return 1 if time.ticks_diff(now, e[0]) >= 0 and time.ticks_diff(e[1], now) > 0 else 0


def _sleep_until(t):
    d = time.ticks_diff(t, time.ticks_us())
    if d > 0:
        time.sleep_us(d)


def time_pulse_us(pin, pulse_level, timeout_us=1000000):
    _vb.sync()
    pid = _pid(pin)
    t0 = time.ticks_us()
    if pid == _vb.role_pin("us_echo") and _vb.levels.get(pid) is None:
        e = _echo[0]
        if e is not None and pulse_level:
            s, end = e
            if time.ticks_diff(end, t0) <= 0:
                e = None
            else:
                start = s if time.ticks_diff(s, t0) > 0 else t0
                if time.ticks_diff(start, t0) > timeout_us:
                    _sleep_until(time.ticks_add(t0, timeout_us))
                    return -2
                if time.ticks_diff(end, start) > timeout_us:
                    _sleep_until(time.ticks_add(start, timeout_us))
                    _echo[0] = None
                    return -1
                _sleep_until(end)
                _echo[0] = None
                return time.ticks_diff(end, start)
    # Any other pin: follow the simulated level (driven by the host) with 1 ms resolution.
    deadline = time.ticks_add(t0, timeout_us)
    while _level(pid) != pulse_level:
        if time.ticks_diff(deadline, time.ticks_us()) <= 0:
            return -2
        time.sleep_us(min(1000, max(1, time.ticks_diff(deadline, time.ticks_us()))))
        _vb.sync()
    start = time.ticks_us()
    deadline = time.ticks_add(start, timeout_us)
    while _level(pid) == pulse_level:
        if time.ticks_diff(deadline, time.ticks_us()) <= 0:
            return -1
        time.sleep_us(min(1000, max(1, time.ticks_diff(deadline, time.ticks_us()))))
        _vb.sync()
    return time.ticks_diff(time.ticks_us(), start)


# ----------------------------------------------------------------------------------- ADC
def _pin_volts(pid):
    _vb.sync()
    override = (_vb.world.get("pin_v") or {}).get(str(pid))
    if override is not None:
        return float(override)
    role = _vb.pin_role(pid)
    if role == "battery_adc":
        div = _vb.board.get("battery_divider") or 1.0
        return float(_vb.w("battery_v", 3.0)) / div
    if role == "light_adc":
        return float(_vb.w("light", 0.5)) * float(_vb.board.get("light_full_v") or 2.0)
    return 0.0 if _level(pid) == 0 else 3.3


class ADCBlock:
    def __init__(self, id, *, bits=12):
        self._id = id
        self.init(bits=bits)

    def init(self, *, bits=12):
        if bits not in _vb.chip.get("adc_widths", (12,)):
            raise ValueError("invalid bits")
        _ADC_BITS[self._id] = bits

    def connect(self, *args, **kw):
        src = args[-1] if args else kw.get("source")
        return ADC(src, **{k: v for k, v in kw.items() if k != "source"})


_ADC_BITS = {1: 12, 2: 12}


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_9BIT = 9
    WIDTH_10BIT = 10
    WIDTH_11BIT = 11
    WIDTH_12BIT = 12

    def __init__(self, id, *, sample_ns=None, atten=None):
        pid = _pid(id)
        if pid in _vb.chip.get("adc1", ()):
            self._unit = 1
        elif pid in _vb.chip.get("adc2", ()):
            self._unit = 2
        else:
            raise ValueError("invalid pin")
        self._pid = pid
        self._atten = 0 if atten is None else atten

    def init(self, *, sample_ns=None, atten=None):
        if atten is not None:
            self.atten(atten)

    def atten(self, atten):
        if atten not in (0, 1, 2, 3):
            raise ValueError("invalid attenuation")
        self._atten = atten

    def width(self, bits):
        ADCBlock(self._unit, bits=bits)

    def block(self):
        return ADCBlock(self._unit, bits=_ADC_BITS[self._unit])

    def _sample(self, bits):
        if self._unit == 2 and _vb.wlan.get("active"):
            raise OSError(errno.ETIMEDOUT)   # ADC2 is taken by Wi-Fi while it is on
        noise = _vb.w("adc_noise_mv", 2.0) / 1000.0 * (2.0 * random.random() - 1.0)
        return _vbsim.adc_read(_pin_volts(self._pid), _chipname, self._atten, bits, noise)

    def read(self):
        return self._sample(_ADC_BITS[self._unit])[0]

    def read_u16(self):
        bits = _ADC_BITS[self._unit]
        return _vbsim.adc_u16(self._sample(bits)[0], bits)

    def read_uv(self):
        return self._sample(12)[1]

    def deinit(self):
        pass

    def __repr__(self):
        return "ADC(Pin(%d), atten=%d)" % (self._pid, self._atten)


# ----------------------------------------------------------------------------------- PWM
class PWM:
    def __init__(self, dest, *, freq=None, duty=None, duty_u16=None, duty_ns=None, invert=False):
        self._pid = _pid(dest)
        if self._pid in _vb.chip.get("input_only", ()):
            raise ValueError("pin can only be input")
        st = _st(self._pid)
        st["mode"] = _OUT
        self._freq = 5000
        self._duty = 32768
        self._inv = False
        self._on = True
        self.init(freq=freq, duty=duty, duty_u16=duty_u16, duty_ns=duty_ns, invert=invert)

    def init(self, *, freq=None, duty=None, duty_u16=None, duty_ns=None, invert=None):
        if freq is not None:
            if not 1 <= freq <= 40000000:
                raise ValueError("frequency must be from 1Hz to 40MHz")
            self._freq = int(freq)
        if duty is not None:
            self._duty = min(max(int(duty), 0), 1024) * 65535 // 1024
        if duty_u16 is not None:
            self._duty = min(max(int(duty_u16), 0), 65535)
        if duty_ns is not None:
            self._duty = min(65535, int(duty_ns) * self._freq * 65535 // 1000000000)
        if invert is not None:
            self._inv = bool(invert)
        self._on = True
        self._send()

    def _send(self):
        st = _st(self._pid)
        d = self._duty if not self._inv else 65535 - self._duty
        st["pwm"] = (self._freq, d)
        _vb.send("pwm", pin=self._pid, freq=self._freq, duty=d, on=True)

    def freq(self, value=None):
        if value is None:
            return self._freq
        self.init(freq=value)

    def duty(self, value=None):
        if value is None:
            return self._duty * 1024 // 65535
        self.init(duty=value)

    def duty_u16(self, value=None):
        if value is None:
            return self._duty
        self.init(duty_u16=value)

    def duty_ns(self, value=None):
        if value is None:
            return self._duty * 1000000000 // (65535 * self._freq)
        self.init(duty_ns=value)

    def deinit(self):
        st = _st(self._pid)
        if st["pwm"] is not None:
            st["pwm"] = None
            st["out"] = 0
            st["sent"] = 0
            _vb.send("pwm", pin=self._pid, on=False)
            _vb.send("out", pin=self._pid, v=0, hold=st["hold"])

    def __repr__(self):
        return "PWM(Pin(%d), freq=%d, duty_u16=%d)" % (self._pid, self._freq, self._duty)


# ----------------------------------------------------------------------------------- I2C
_devices = {}


def _bus_devices(scl, sda):
    pins = _vb.board.get("pins") or {}
    if scl != pins.get("i2c_scl") or sda != pins.get("i2c_sda"):
        return {}
    kind, tof = _vb.board.get("accel"), _vb.board.get("tof")
    if (kind and kind not in _devices) or (tof and tof not in _devices):
        import _vbdev
        if kind and kind not in _devices:
            _devices[kind] = dev = _vbdev.make_accel(kind, _vb.board.get("accel_addr"))
            if dev is not None:
                dev.on_int_clear = _accel_int_clear
        if tof == "vl53l1x" and tof not in _devices:
            _devices[tof] = _vbdev.Vl53l1x(_tof_mm, _vb.board.get("tof_addr") or 0x29)
    return {d.addr: d for d in (_devices.get(kind), _devices.get(tof)) if d is not None}


def _tof_mm():
    d = _vbsim.target_cm(_vb.world)
    if d is None:
        return None
    return d * 10.0 + _vb.w("us_noise_cm", 0.3) * 10.0 * (2.0 * random.random() - 1.0)


def _accel_int_clear():
    # the accelerometer's latched INT (raised by the host while the chip slept) is released
    pin = _vb.role_pin("accel_int")
    if pin is not None and _vb.levels.get(pin):
        _vb.send("accel_int", v=0)


def _accel_armed_mg():
    dev = _devices.get(_vb.board.get("accel"))
    return dev.armed_mg() if dev is not None else None


def _accel_now():
    _vb.sync()
    g = _vbsim.gravity_g(_vb.w("tilt_deg", 0.0), _vb.w("tilt_axis", "x"))
    vib = _vb.w("vibration_g", 0.0) + _vb.w("accel_noise_g", 0.002)
    return [a + vib * (2.0 * random.random() - 1.0) for a in g]


class I2C:
    def __init__(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
        d = (_vb.chip.get("i2c_defaults") or {}).get(str(id))
        if d is None:
            raise ValueError("I2C(%s) doesn't exist" % id)
        self._scl = _pid(scl) if scl is not None else d["scl"]
        self._sda = _pid(sda) if sda is not None else d["sda"]
        self._freq = freq

    def init(self, *, scl=None, sda=None, freq=400000, timeout=50000):
        if scl is not None:
            self._scl = _pid(scl)
        if sda is not None:
            self._sda = _pid(sda)
        self._freq = freq

    def deinit(self):
        pass

    def _dev(self, addr):
        dev = _bus_devices(self._scl, self._sda).get(addr)
        if dev is None:
            raise OSError(errno.ENODEV)
        dev.sample(_accel_now(), _vb.w("temp_c", 20.0))
        return dev

    def scan(self):
        return sorted(_bus_devices(self._scl, self._sda))

    def writeto(self, addr, buf, stop=True):
        self._dev(addr).write(bytes(buf))
        return len(buf)

    def writevto(self, addr, vector, stop=True):
        data = b"".join(bytes(v) for v in vector)
        self._dev(addr).write(data)
        return len(data)

    def readfrom(self, addr, nbytes, stop=True):
        return self._dev(addr).read(nbytes)

    def readfrom_into(self, addr, buf, stop=True):
        data = self._dev(addr).read(len(buf))
        for i in range(len(buf)):
            buf[i] = data[i]

    def _memaddr(self, memaddr, addrsize):
        n = addrsize // 8
        return bytes((memaddr >> (8 * (n - 1 - i))) & 0xFF for i in range(n))

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        dev = self._dev(addr)
        dev.write(self._memaddr(memaddr, addrsize))
        return dev.read(nbytes)

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        data = self.readfrom_mem(addr, memaddr, len(buf), addrsize=addrsize)
        for i in range(len(buf)):
            buf[i] = data[i]

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self._dev(addr).write(self._memaddr(memaddr, addrsize) + bytes(buf))


class SoftI2C(I2C):
    def __init__(self, scl, sda, *, freq=400000, timeout=50000):
        self._scl = _pid(scl)
        self._sda = _pid(sda)
        self._freq = freq


# ----------------------------------------------------------------------------------- RTC
class RTC:
    def __init__(self, id=0, *, datetime=None):
        if datetime is not None:
            self.init(datetime)

    def init(self, datetime):
        t = tuple(datetime) + (0,) * (8 - len(datetime))
        self.datetime((t[0], t[1], t[2], 0, t[3], t[4], t[5], t[6]))

    def datetime(self, datetimetuple=None):
        if datetimetuple is None:
            now = time.time_ns()
            secs = now // 1000000000
            t = time.gmtime(secs)
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], (now // 1000) % 1000000)
        d = tuple(datetimetuple)
        if len(d) != 8:
            raise ValueError("requested length 8 but object has length %d" % len(d))
        secs = _vbsim.mktime2000((d[0], d[1], d[2], d[4], d[5], d[6]))
        time._set_board_time(secs, d[7])

    def memory(self, data=None):
        # RTC RAM, not the heap: kept in a preallocated buffer of the shim (no copy on the heap)
        if data is None:
            return _vb.rtc_mem()
        _vb.rtc_mem_set(data)


# ----------------------------------------------------------------------------------- WDT
class WDT:
    # ports/esp32/machine_wdt.c mp_machine_wdt_make_new_instance(): id must be 0, timeout is in
    # ms and only <= 0 is refused; esp_task_wdt_reconfigure() applies it to the one task
    # watchdog, so a second WDT(timeout=...) changes the running one. There is no deinit: it
    # stops only with a reset or deep sleep, and it outlives a soft reset (main.c never
    # touches it between soft_reset and soft_reset_exit).
    def __init__(self, id=0, timeout=5000):
        if id != 0:
            raise ValueError()
        if isinstance(timeout, float):
            raise TypeError("can't convert float to int")
        timeout = int(timeout)
        if timeout <= 0:
            raise ValueError("WDT timeout too short")
        if timeout > 0x7FFFFFFF:
            raise OverflowError("overflow converting long int to machine word")
        self._timeout = timeout
        _vb.send("wdt", timeout=self._timeout)

    def feed(self):
        _vb.send("feed")


# --------------------------------------------------------------------------------- Timer
class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id, **kw):
        self._id = id
        self._run = [False]
        if kw:
            self.init(**kw)

    def init(self, *, mode=PERIODIC, period=-1, freq=-1, tick_hz=1000, callback=None):
        self.deinit()
        if freq > 0:
            period = max(1, int(1000 / freq))
        if period < 0:
            period = 1000
        flag = [True]
        self._run = flag
        self._cb = callback
        _thread.start_new_thread(self._loop, (flag, int(period), mode))

    def _loop(self, flag, period, mode):
        while flag[0]:
            time.sleep_ms(period)
            if not flag[0]:
                return
            while True:
                try:
                    micropython.schedule(self._fire, flag)
                    break
                except RuntimeError:
                    time.sleep_ms(1)
            if mode == Timer.ONE_SHOT:
                return

    def _fire(self, flag):
        if flag[0] and self._cb is not None:
            self._cb(self)

    def deinit(self):
        self._run[0] = False

    def value(self):
        return 0


# ---------------------------------------------------------------- power, reset, sleep
def reset_cause():
    return _vb.boot.get("reset_cause", PWRON_RESET)


def wake_reason():
    return _state["wake_reason"]


def wake_pins():
    return tuple(_vb.boot.get("wake_pins") or ())


def unique_id():
    return bytes(_vb.mac)


def freq(hz=None):
    if hz is None:
        return (_state["freq"] or _vb.chip.get("default_freq_mhz", 160)) * 1000000
    mhz = int(hz) // 1000000
    allowed = _vb.chip.get("cpu_freqs_mhz", (20, 40, 80, 160, 240))
    if mhz not in allowed:
        raise ValueError("frequency must be %s MHz" % ", ".join(str(m) for m in allowed))
    _state["freq"] = mhz


def idle():
    _vb.sync()
    time.sleep_ms(1)


def _wake_report():
    pulls = {}
    holds = {}
    for pid, st in _P.items():
        if st["pull"] is not None:
            pulls[str(pid)] = st["pull"]
        if st["hold"] and st["mode"] == _OUT:
            holds[str(pid)] = st["out"]
    return pulls, holds


def _check_deep_wake_cfg():
    g = _wakecfg["gpio"]
    if g and "gpio" not in _vb.chip.get("wake", ()):
        raise ValueError("DEEPSLEEP with gpio pins not supported on this chip")
    if g:
        for p in g[0]:
            if p not in _vb.chip.get("gpio_wake_pins", ()):
                raise ValueError("wake-up pin not supported")


def deepsleep(time_ms=None):
    _check_deep_wake_cfg()
    pulls, holds = _wake_report()
    _vb.send("deepsleep", time_ms=time_ms, ext0=_wakecfg["ext0"], ext1=_wakecfg["ext1"],
             gpio=_wakecfg["gpio"], pulls=pulls, holds=holds, accel_mg=_accel_armed_mg())
    _vb.halt()


def lightsleep(time_ms=None):
    """Light sleep: the board stays powered; returns on the timer or a wake pin."""
    _vb.send("lightsleep", time_ms=time_ms)
    t0 = time.ticks_ms()
    reason = 0
    while True:
        _vb.sync()
        if time_ms is not None and time.ticks_diff(time.ticks_ms(), t0) >= time_ms:
            reason = TIMER_WAKE
            break
        e0 = _wakecfg["ext0"]
        if e0 and _level(e0[0]) == e0[1]:
            reason = EXT0_WAKE
            break
        e1 = _wakecfg["ext1"]
        if e1:
            lv = [_level(p) for p in e1[0]]
            if (e1[1] and any(lv)) or (not e1[1] and lv and not any(lv)):
                reason = EXT1_WAKE
                break
        g = _wakecfg["gpio"]
        if g and any(_level(p) == g[1] for p in g[0]):
            reason = _GPIO_WAKE
            break
        time.sleep_ms(2)
    _state["wake_reason"] = reason
    _vb.send("lightsleep_end", reason=reason)


def sleep():
    lightsleep()


def reset():
    _vb.send("reset")
    _vb.halt()


def soft_reset():
    _vb.send("soft_reset")
    _vb.halt()


def bootloader(*args):
    _vb.send("reset")
    _vb.halt()
