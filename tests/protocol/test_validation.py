"""devproto's validators: the edges of what a device may send."""

import devproto
import pytest


def refused(fn, body):
    with pytest.raises(devproto.ProtocolError) as err:
        fn(body)
    return err.value.code


def event(**fields):
    return dict({"seq": 1, "t": 1700000000, "type": "heartbeat", "data": {}}, **fields)


def test_a_good_batch_passes():
    devproto.check_batch({"stream": 0xFFFFFFFF, "cv": 0, "events": [
        event(), event(seq=2, type="telemetry", data={"fill": 0.5, "t": -3}),
        event(seq=3, type="cmd_result", data={"id": 1, "ok": False}),
        event(seq=4, type="alarm", data={"ref": "a" * devproto.MAX_KEY})]})


@pytest.mark.parametrize("body, code", [
    ({"events": [event(seq=0)]}, "bad_request"),
    ({"events": [event(seq=2 ** 32)]}, "bad_request"),
    ({"events": [event(seq=True)]}, "bad_request"),
    ({"events": [event(seq=1.0)]}, "bad_request"),
    ({"events": [event(t=-1)]}, "bad_request"),
    ({"events": [event(t=2 ** 32)]}, "bad_request"),
    ({"events": [event(data=[])]}, "bad_request"),
    ({"events": [event(extra=1)]}, "bad_request"),
    ({"events": [event(type="")]}, "bad_request"),
    ({"events": [event(type="x" * 33)]}, "bad_request"),
    ({"events": [event(type="reboot_now")]}, "unknown_event_type"),
    ({"events": [event(type="alarm", data={"ref": "x" * 33})]}, "bad_request"),
    ({"events": [event(type="cmd_result", data={"id": 1, "ok": 1})]}, "bad_request"),
    ({"events": [event(type="telemetry", data={"x": "1"})]}, "bad_request"),
    ({"events": [event(type="telemetry", data={"": 1})]}, "bad_request"),
    ({"events": [event(type="error", data={"msg": "x" * 201})]}, "bad_request"),
    ({"events": [event()], "stream": -1}, "bad_request"),
    ({"events": [event()] * (devproto.MAX_EVENTS + 1)}, "too_large"),
    ({"events": "many"}, "bad_request"),
    ([], "bad_request"),
])
def test_bad_batches(body, code):
    assert refused(devproto.check_batch, body) == code


HELLO = {"fw": "1.29.0", "app": "0.3.0", "slot": "a", "board": "b", "role": "beacon", "reset_cause": "wdt",
         "wake_reason": "timer", "heap_free": 1}


@pytest.mark.parametrize("change", [{"slot": "c"}, {"role": "robot"}, {"reset_cause": "x"}, {"wake_reason": "x"},
                                    {"heap_free": "1"}, {"errors": ["e"] * 6}, {"errors": [1]}, {"unknown": 1}])
def test_bad_hellos(change):
    assert refused(devproto.check_hello, dict(HELLO, **change)) == "bad_request"


def test_enroll_body():
    good = {"token": "et_x", "hw_id": "a4cf12345678", "role": "smart_bin", "board": "b", "site": "s"}
    devproto.check_enroll(good)
    for change in ({"hw_id": "a4cf1234567"}, {"hw_id": "A4CF12345678"}, {"role": "x"}, {"site": ""},
                   {"board": "b" * 65}, {"extra": 1}):
        assert refused(devproto.check_enroll, dict(good, **change)) == "bad_request"


def test_config_checks_and_merging():
    assert devproto.check_config({"heartbeat_min": 60}) == {"heartbeat_min": 60}
    for bad in ({"heartbeat_min": 0}, {"poll_wait_s": 61}, {"x": 1}, {"report_min": True}):
        assert refused(devproto.check_config, bad) == "bad_request"
    merged = devproto.merge_config(devproto.default_config(), {"heartbeat_min": 5, "x": 1, "poll_wait_s": 1000})
    assert merged == dict(devproto.default_config(), heartbeat_min=5)


def test_error_status():
    assert devproto.ProtocolError("replay", "x").status() == 409


def test_smart_bin_events_within_physical_bounds():
    devproto.check_batch({"events": [
        event(type="fill", data={"q": "ok", "pct": 100, "mm": 12, "temp_c": 21.5, "tilt": 3, "battery_v": 3.6}),
        event(seq=2, type="fill", data={"q": "no_echo"}),
        event(seq=3, type="emptied", data={"from": 85, "to": 2}),
        event(seq=4, type="fire", data={"temp_c": 75.0, "rise_c": 2.5, "why": "threshold"}),
        event(seq=5, type="tilted", data={"deg": 90, "on": True}),
        event(seq=6, type="sensor_fault", data={"kind": "stuck", "detail": "431 mm for 48 h"})]})


@pytest.mark.parametrize("data", [
    {"q": "ok", "pct": 101},                      # fill > 100 %
    {"q": "ok", "pct": -1},
    {"q": "ok", "pct": 50, "temp_c": float("nan")},
    {"q": "ok", "mm": -5},                        # a negative distance
    {"q": "great", "pct": 50},                    # no such quality
    {"pct": 50},                                  # the quality is required
])
def test_impossible_fill_readings_are_refused(data):
    assert refused(devproto.check_batch, {"events": [event(type="fill", data=data)]}) == "bad_request"


def test_smart_bin_config_only_for_smart_bins():
    assert devproto.check_config({"sample_min": 5, "bin_depth_mm": 1100}, "smart_bin")
    assert refused(lambda c: devproto.check_config(c, "call_button"), {"sample_min": 5}) == "bad_request"
    assert refused(lambda c: devproto.check_config(c, "smart_bin"), {"bin_depth_mm": -10}) == "bad_request"
    assert devproto.role_default_config("smart_bin")["fire_temp_c"] == 70
    assert "sample_min" not in devproto.role_default_config("call_button")
