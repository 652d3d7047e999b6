# FAKE esp32 module for firmware unit tests: records the wake sources armed.
WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True
armed = []


def wake_on_ext0(pin, level):
    armed.append(("ext0", pin.id, level))


def wake_on_ext1(pins, level):
    armed.append(("ext1", tuple(p.id for p in pins), level))


def wake_on_gpio(pins, level):
    armed.append(("gpio", tuple(p.id for p in pins), level))
