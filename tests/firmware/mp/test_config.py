# Config layers, persistence, identity rewrite; RTC memory store; clock. MicroPython.
import json
import mptest
from mptest import eq, ok

ROOT = mptest.setup_root()
import store  # noqa: E402
import devproto  # noqa: E402
import config  # noqa: E402
import rtcmem  # noqa: E402
from rtcmem import Clock  # noqa: E402


def _ident(**kw):
    d = {"role": "smart_bin", "board": "virtual", "fleet_url": "http://127.0.0.1:8000",
         "wifi": {"ssid": "lab", "password": "pw"}, "enroll_token": "et_abc"}
    d.update(kw)
    store.write_json("/config.json", d)
    store.remove("/state/devcfg.json")


def test_defaults_come_from_devproto():
    _ident()
    c = config.Config()
    eq(c.dev, devproto.default_config())
    eq(c.cv, 0)
    ok(c.provisioned())
    ok(not c.enrolled())
    eq(c["heartbeat_min"], 1440)


def test_pushed_config_merged_validated_and_persisted():
    _ident()
    c = config.Config()
    changed = c.apply({"heartbeat_min": 60, "poll_wait_s": 999, "bogus": 1, "report_min": "5"}, 3)
    eq(changed, ["heartbeat_min"])
    eq(c["heartbeat_min"], 60)
    eq(c["poll_wait_s"], 25)        # out of range: ignored
    eq(c.cv, 3)
    c2 = config.Config()
    eq((c2.cv, c2["heartbeat_min"]), (3, 60))
    eq(c2.apply({"heartbeat_min": 60}, 3), [])   # nothing new: no write
    eq(c2.apply({"answer_wait_s": 30}, 4), ["answer_wait_s"])
    eq(config.Config()["heartbeat_min"], 60)     # earlier keys kept


def test_corrupt_state_falls_back_to_defaults():
    _ident()
    with open(store.path("/state/devcfg.json"), "w") as f:
        f.write('{"cv": 7, "config": {"heartbeat_m')
    c = config.Config()
    eq(c.dev, devproto.default_config())
    eq(c.cv, 0)


def test_save_identity_drops_token_atomically():
    _ident(site="street-7")
    c = config.Config()
    import enroll
    enroll.save_identity(c, "cb-1", "ab" * 32)
    with open(store.path("/config.json")) as f:
        d = json.load(f)
    ok("enroll_token" not in d)
    eq((d["device_id"], d["secret"], d["site"], d["role"]), ("cb-1", "ab" * 32, "street-7", "smart_bin"))
    ok(not store.exists("/config.json.tmp"))
    ok(config.Config().enrolled())


def test_unprovisioned_without_config_json():
    store.remove("/config.json")
    c = config.Config()
    ok(not c.provisioned())
    eq(c.get("role", "x"), "x")


def test_parse_url():
    eq(config.parse_url("http://127.0.0.1:8000"), (False, "127.0.0.1", 8000, ""))
    eq(config.parse_url("https://fleet.example.org"), (True, "fleet.example.org", 443, ""))
    eq(config.parse_url("https://f.example/base/"), (True, "f.example", 443, "/base"))
    eq(config.parse_url("http://[::1]:81/x"), (False, "::1", 81, "/x"))


def test_read_json_uses_complete_tmp_after_interrupted_replace():
    store.write_json("/state/x.json", {"a": 1})
    with open(store.path("/state/x.json.tmp"), "w") as f:
        f.write('{"a": 2}')
    store.remove("/state/x.json")        # power cut between remove and rename (FAT path)
    eq(store.read_json("/state/x.json"), {"a": 2})


class FakeRTC:
    def __init__(self, mem=b""):
        self.mem = mem

    def memory(self, data=None):
        if data is None:
            return self.mem
        self.mem = bytes(data)


def test_rtcmem_roundtrip_and_garbage():
    r = FakeRTC()
    m = rtcmem.RtcMem(r)
    m.set("wifi", {"b": "112233445566", "c": 6})
    m.set("toff", 12)
    eq(rtcmem.RtcMem(r).get("wifi"), {"b": "112233445566", "c": 6})
    eq(rtcmem.RtcMem(FakeRTC(b"\x00garbage")).data, {})
    m.set("big", "x" * 3000)             # too big for RTC memory: not saved, no crash
    eq(rtcmem.RtcMem(r).get("big"), None)


def test_rtcmem_saves_a_state_dict_changed_in_place():
    r = FakeRTC()
    m = rtcmem.RtcMem(r)
    m.set("sb", {"bq": 0})
    s = m.get("sb")                       # a role keeps its state and changes it in place
    s["bq"] = 3
    m.set("sb", s)
    eq(rtcmem.RtcMem(r).get("sb"), {"bq": 3})
    writes = []
    r.memory = lambda raw=None: writes.append(raw)
    m.set("toff", 12)
    m.set("toff", 12)                     # an equal new value: not written again
    eq(len(writes), 1)


def test_clock_set_moves_schedules_and_is_remembered_across_deep_sleep():
    import time
    import devproto
    r = rtcmem.RtcMem(FakeRTC())
    r.set("sch", {"heartbeat": int(time.time()) - 100})
    c = Clock(r)
    ok(not c.synced)
    later = c.now() + 3600
    step = c.set(devproto.server_time_text(later * 1000 + 400))
    ok(3599 <= step <= 3601, "step %d" % step)
    ok(abs(c.now() - later) <= 1)
    # the heartbeat ran 100 s ago before the clock moved, and still did after
    ok(99 <= c.raw() - r.get("sch")["heartbeat"] <= 101)
    c2 = Clock(r)                   # after deep sleep: still known to be set
    ok(c2.synced)


mptest.main(globals())
