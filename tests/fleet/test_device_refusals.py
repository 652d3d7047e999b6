"""Every way a device request can be refused: a 4xx JSON error with the protocol's code,
the server time, and nothing stored."""

import dataclasses
import json
import time

import devproto
import pytest
from fastapi.testclient import TestClient

from fleet.domain.ratelimit import DeviceRateLimit
from fleet.main import create_app
from fleetkit import HELLO, count, enroll, heartbeat, mint


def body_of(events):
    return json.dumps({"stream": 1, "events": events}).encode()


GOOD = body_of([heartbeat(1)])

# name -> (send(device) -> response, status, code)
CASES = {
    "malformed json": (lambda d: d.request("POST", devproto.PATH_EVENTS, b'{"stream": 1, "events": ['), 400, "bad_json"),
    "not utf-8": (lambda d: d.request("POST", devproto.PATH_EVENTS, b'\xff\xfe{}'), 400, "bad_json"),
    "wrong type": (lambda d: d.events([{"seq": "1", "t": 1, "type": "heartbeat"}]), 400, "bad_request"),
    "int out of range": (lambda d: d.events([heartbeat(1, rssi=2 ** 40)]), 400, "bad_request"),
    "unknown field": (lambda d: d.events([heartbeat(1)], extra={"colour": "red"}), 400, "bad_request"),
    "empty batch": (lambda d: d.events([]), 400, "bad_request"),
    "body not an object": (lambda d: d.request("POST", devproto.PATH_EVENTS, b"[1, 2]"), 400, "bad_request"),
    "unknown event type": (lambda d: d.events([{"seq": 1, "t": 1, "type": "teleport", "data": {}}]), 400,
                           "unknown_event_type"),
    "one bad event refuses the batch": (lambda d: d.events([heartbeat(1), {"seq": 2, "t": 1, "type": "alarm",
                                                                           "data": {}}]), 400, "bad_request"),
    "too many events": (lambda d: d.events([heartbeat(i) for i in range(1, devproto.MAX_EVENTS + 2)]), 413,
                        "too_large"),
    "too many metrics": (lambda d: d.events([{"seq": 1, "t": 1, "type": "telemetry",
                                              "data": {"m%d" % i: i for i in range(devproto.MAX_METRICS + 1)}}]),
                         413, "too_large"),
    "oversize body": (lambda d: d.events([heartbeat(1)], extra={"pad": "x" * devproto.MAX_BODY}), 413, "too_large"),
    "oversize before signature": (lambda d: d.http.post(devproto.PATH_EVENTS, content=b"x" * (devproto.MAX_BODY + 1)),
                                  413, "too_large"),
    "wrong media type": (lambda d: d.request("POST", devproto.PATH_EVENTS, GOOD,
                                             headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type"),
    "missing signature": (lambda d: d.http.post(devproto.PATH_EVENTS, content=GOOD), 401, "missing_signature"),
    "one header missing": (lambda d: d.http.post(devproto.PATH_EVENTS, content=GOOD, headers={
        k: v for k, v in devproto.signed_headers(d.id, d.secret, "POST", devproto.PATH_EVENTS, int(time.time()),
                                                 "abcdef0123", GOOD).items() if k != devproto.H_NONCE}),
        401, "missing_signature"),
    "malformed nonce": (lambda d: d.request("POST", devproto.PATH_EVENTS, GOOD, nonce="NOT-HEX!"), 401,
                        "bad_signature"),
    "malformed timestamp": (lambda d: d.request("POST", devproto.PATH_EVENTS, GOOD, headers={devproto.H_TIME: "soon"}),
                            401, "bad_signature"),
    "wrong secret": (lambda d: d.request("POST", devproto.PATH_EVENTS, GOOD, secret="11" * 32), 401, "bad_signature"),
    "signed other path": (lambda d: d.http.post(devproto.PATH_EVENTS, content=GOOD, headers=devproto.signed_headers(
        d.id, d.secret, "POST", devproto.PATH_HELLO, int(time.time()), "abcdef0123", GOOD)), 401, "bad_signature"),
    "stale timestamp": (lambda d: d.request("POST", devproto.PATH_EVENTS, GOOD,
                                            timestamp=int(time.time()) - devproto.CLOCK_WINDOW - 5),
                        401, "stale_timestamp"),
    "future timestamp": (lambda d: d.request("POST", devproto.PATH_EVENTS, GOOD,
                                             timestamp=int(time.time()) + devproto.CLOCK_WINDOW + 5),
                         401, "stale_timestamp"),
    "unknown device": (lambda d: d.request("POST", devproto.PATH_EVENTS, GOOD, device_id="cb-0000000000"), 401,
                       "unknown_device"),
    "unknown device beats bad signature": (lambda d: d.request("POST", devproto.PATH_EVENTS, GOOD,
                                                               device_id="cb-0000000000", secret="22" * 32),
                                           401, "unknown_device"),
    "bad hello": (lambda d: d.request("POST", devproto.PATH_HELLO, dict(HELLO, slot="c")), 400, "bad_request"),
    "hello missing field": (lambda d: d.request("POST", devproto.PATH_HELLO,
                                                {k: v for k, v in HELLO.items() if k != "fw"}), 400, "bad_request"),
    "poll unknown parameter": (lambda d: d.request("GET", devproto.PATH_POLL + "?cursor=1&colour=red"), 400,
                               "bad_request"),
    "poll wait too long": (lambda d: d.request("GET", devproto.PATH_POLL + "?wait=61"), 400, "bad_request"),
    "poll cursor not a number": (lambda d: d.request("GET", devproto.PATH_POLL + "?cursor=-1"), 400, "bad_request"),
    "no such endpoint": (lambda d: d.request("POST", devproto.PREFIX + "/teleport", GOOD), 404, "not_found"),
    "wrong method": (lambda d: d.request("GET", devproto.PATH_EVENTS), 405, "method_not_allowed"),
}


def assert_refused(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert isinstance(body["time"], float)
    assert abs(float(response.headers[devproto.H_SERVER_TIME]) - time.time()) < 5
    assert set(body) == {"error", "time"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_refused_and_nothing_stored(name, device, db):
    send, status, code = CASES[name]
    assert_refused(send(device), status, code)
    assert count(db, "events") == 0
    assert count(db, "streams") == 0
    assert count(db, "devices", "last_hello IS NOT NULL") == 0


def test_every_protocol_error_code_is_reachable_or_reserved():
    tested = {code for _, _, code in CASES.values()}
    enrollment_codes = {"token_invalid", "token_used", "token_expired", "token_mismatch"}  # test_enrollment.py
    other = {"revoked", "replay", "rate_limited"}                                          # below
    reserved = {"internal"}                    # see test_ingest handler failure
    assert tested | enrollment_codes | other | reserved == set(devproto.ERRORS)


def test_replayed_nonce_is_refused(device, db):
    assert device.events([heartbeat(1)], nonce="abcdef0123").status_code == 200
    assert_refused(device.events([heartbeat(2)], nonce="abcdef0123"), 409, "replay")
    assert count(db, "events") == 1
    # a fresh nonce is fine
    assert device.events([heartbeat(2)]).status_code == 200


def test_a_runaway_device_is_rate_limited_and_nobody_else_is(settings, db):
    tight = dataclasses.replace(settings, device_burst=3, device_rate_per_s=2.0)
    with TestClient(create_app(tight)) as client:
        runaway, other = enroll(client, db), enroll(client, db)
        for _ in range(5):      # a stranger's badly signed requests do not spend the device's budget
            assert_refused(runaway.events([heartbeat(1)], secret="00" * 32), 401, "bad_signature")
        for seq in (1, 2, 3):
            assert runaway.events([heartbeat(seq)]).status_code == 200
        refused = runaway.events([heartbeat(4)])
        assert_refused(refused, 429, "rate_limited")
        assert "back off" in refused.json()["error"]["message"]
        assert count(db, "events", "device_id = ?", (runaway.id,)) == 3      # the refused one is not stored
        assert other.events([heartbeat(1)]).status_code == 200
        time.sleep(0.6)         # 2 a second: room for one more
        assert runaway.events([heartbeat(4)]).status_code == 200
        assert count(db, "events", "device_id = ?", (runaway.id,)) == 4


def test_rate_limit_bucket():
    limit = DeviceRateLimit(rate=1.0, burst=2)
    assert [limit.allow("d", 100.0) for _ in range(3)] == [True, True, False]
    assert not limit.allow("d", 100.5)          # half a request earned
    assert limit.allow("d", 101.0)              # and the other half
    assert limit.allow("e", 101.0)              # per device
    assert [limit.allow("d", 200.0) for _ in range(3)] == [True, True, False]   # refills to burst, no more
    assert all(DeviceRateLimit(rate=0, burst=1).allow("d", 1.0) for _ in range(100))  # 0: off


def test_revoked_device_is_refused_before_its_clock_is_checked(client, device, db, admin_headers):
    assert client.post("/api/v1/devices/%s/revoke" % device.id, headers=admin_headers).status_code == 200
    assert_refused(device.events([heartbeat(1)]), 403, "revoked")
    assert_refused(device.request("POST", devproto.PATH_EVENTS, GOOD, timestamp=1), 403, "revoked")
    assert count(db, "events") == 0


def test_errors_carry_server_time_even_for_a_device_without_clock(device):
    response = device.request("POST", devproto.PATH_HELLO, HELLO, timestamp=1000)
    assert_refused(response, 401, "stale_timestamp")
    assert "away from server time" in response.json()["error"]["message"]


def test_enroll_refusals_are_protocol_shaped(client, db):
    token = mint(db)
    cases = [
        (b"{", 400, "bad_json"),
        (json.dumps({"token": token}).encode(), 400, "bad_request"),
        (json.dumps({"token": token, "hw_id": "XYZ", "role": "call_button", "board": "b"}).encode(), 400, "bad_request"),
        (json.dumps({"token": token, "hw_id": "a4cf12345678", "role": "toaster", "board": "b"}).encode(), 400,
         "bad_request"),
    ]
    for body, status, code in cases:
        assert_refused(client.post(devproto.PATH_ENROLL, content=body), status, code)
    assert count(db, "devices") == 0


def test_chunked_oversize_body_is_cut_off_while_streaming(live_server, db):
    """No Content-Length: the cap applies while reading, and nothing reaches the parser."""
    import httpx
    from fleetkit import enroll

    with httpx.Client(base_url=live_server) as http:
        device = enroll(http, db)

        def chunks():
            for _ in range(devproto.MAX_BODY // 1024 + 2):
                yield b" " * 1024

        headers = devproto.signed_headers(device.id, device.secret, "POST", devproto.PATH_EVENTS, int(time.time()),
                                          "abcdef0123", b"")
        assert_refused(http.post(devproto.PATH_EVENTS, content=chunks(), headers=headers), 413, "too_large")
    assert count(db, "events") == 0
