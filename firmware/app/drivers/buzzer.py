# Piezo buzzer on a PWM pin: named tunes played without blocking the loop.
# A tune: a name, then frequency/ms notes (frequency 0 is a pause). One string, not a
# dict of tuples: a fraction of the heap.
import asyncio
from micropython import const

_T = const("|press 2000/120"
      "|received 1500/120 0/60 2000/160"
      "|answered 1000/150 1500/150 2000/400"
      "|not_delivered 400/250 0/100 400/250"
      "|cancel 1200/100 0/50 800/200"
      "|nothing 600/80"
      "|identify 2500/60 0/60 2500/60 0/60 2500/60"
      "|error 300/600|")
DUTY = 32768


def notes(name):
    """[(frequency Hz, ms), ...] of a named tune, or None."""
    i = _T.find("|" + name + " ")
    if i < 0:
        return None
    out = []
    for n in _T[i + 1:_T.find("|", i + 1)].split()[1:]:
        f, ms = n.split("/")
        out.append((int(f), int(ms)))
    return out


class Buzzer:
    def __init__(self, pin):
        if isinstance(pin, int):
            from machine import Pin
            pin = Pin(pin, Pin.OUT, value=0)
        self.pin = pin
        self._pwm = None
        self._task = None
        self.name = None

    def busy(self):
        return self._task is not None

    def play(self, name, tune=None):
        if tune is None:
            tune = notes(name)
            if tune is None:
                return
        self.stop()
        self.name = name
        self._task = asyncio.create_task(self._play(tune))

    def stop(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._silence()

    def _silence(self):
        if self._pwm is not None:
            try:
                self._pwm.duty_u16(0)
                self._pwm.deinit()
            except Exception:
                pass
            self._pwm = None

    async def _play(self, tune):
        try:
            for freq, ms in tune:
                if freq <= 0:                   # a pause
                    if self._pwm is not None:
                        self._pwm.duty_u16(0)
                elif self._pwm is None:
                    from machine import PWM
                    self._pwm = PWM(self.pin, freq=freq, duty_u16=DUTY)
                else:
                    self._pwm.freq(freq)
                    self._pwm.duty_u16(DUTY)
                await asyncio.sleep_ms(ms)
        except asyncio.CancelledError:
            pass
        finally:
            self._silence()
            self._task = None
            self.name = None
