# What the update's phases share (docs/ota.md "On the board"): the state file, the "ota" events,
# the outcome, unloading a phase's modules. Small, so the first boot's health gate (otagate)
# need not load ota.py.
import gc
import sys
import store
from micropython import const

STATE = const("/state/ota.json")        # the update under way: exists from download to outcome
DONE = const("/state/otadone.json")     # {"id", "res"}: the last offer carried out (not again)
BUNDLE = const("/ota.bin")              # an app bundle while it downloads


def drop(*names):
    """Unload modules a phase is done with (the heap is small: one phase's code at a time)."""
    for n in names:
        sys.modules.pop(n, None)
    if "devproto.ota" in names:
        import devproto
        devproto.__dict__.pop("ota", None)
    gc.collect()


def emit(rt, rid, stage, reason=None, progress=None, version=None):
    d = {"id": rid, "stage": stage}
    if reason:
        d["reason"] = reason
    if progress is not None:
        d["progress"] = progress
    if version:
        d["version"] = version
    return rt.emit("ota", d)


def done(rt, rid, res):
    store.write_json(DONE, {"id": rid, "res": res})
    store.remove(STATE)
    store.remove(BUNDLE)
