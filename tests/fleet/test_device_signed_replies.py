"""Protocol v1.1: every reply to a genuine signed request from a device that asks for it is signed
with the device's secret, bound to the request's nonce, covering status, server time and body.
A v1 device (no X-Protocol-Version header) keeps getting the replies it always got."""

import binascii
import re
import time

import devproto

from fleetkit import HELLO, heartbeat

NONCE = "0badc0ffee0ddf00"


def verifies(device, response, nonce=NONCE):
    """What a v1.1 device checks before it believes anything in a reply."""
    stamp = response.headers.get(devproto.H_SERVER_TIME)
    signature = response.headers.get(devproto.H_REPLY_SIG)
    if stamp is None or signature is None:
        return False
    key = binascii.unhexlify(device.secret)
    return signature == devproto.reply_signature(key, nonce, response.status_code, stamp, response.content)


def test_hello_reply_is_signed_bound_to_the_nonce_and_its_time_is_exact(device):
    response = device.request("POST", devproto.PATH_HELLO, HELLO, nonce=NONCE)
    assert response.status_code == 200
    assert response.headers[devproto.H_PROTOCOL] == devproto.PROTOCOL
    assert verifies(device, response)
    assert not verifies(device, response, nonce="0badc0ffee0ddf01")      # another request's reply
    stamp = response.headers[devproto.H_SERVER_TIME]
    assert re.fullmatch(r"\d+\.\d{3}", stamp)
    assert devproto.parse_server_time(stamp)[0] == int(float(stamp))
    assert abs(float(stamp) - time.time()) < 5
    assert response.json()["time"] == float(stamp)                     # one time in head and body


def test_a_changed_byte_status_or_time_breaks_the_signature(device):
    response = device.events([heartbeat(1)], nonce=NONCE)
    assert response.status_code == 200 and verifies(device, response)
    key = binascii.unhexlify(device.secret)
    stamp, sig = response.headers[devproto.H_SERVER_TIME], response.headers[devproto.H_REPLY_SIG]
    body = response.content
    assert sig != devproto.reply_signature(key, NONCE, 200, stamp, body.replace(b'"ack":1', b'"ack":2'))
    assert sig != devproto.reply_signature(key, NONCE, 201, stamp, body)
    later = devproto.server_time_text(int(float(stamp) * 1000) + 128000)
    assert sig != devproto.reply_signature(key, NONCE, 200, later, body)


def test_poll_and_refusals_after_the_signature_are_signed(device):
    assert verifies(device, device.request("GET", devproto.PATH_POLL + "?cursor=0&wait=1", nonce=NONCE))
    refused = device.request("POST", devproto.PATH_HELLO, dict(HELLO, slot="c"), nonce="00112233aabb")
    assert refused.json()["error"]["code"] == "bad_request"
    assert verifies(device, refused, nonce="00112233aabb")


def test_stale_timestamp_is_signed_when_the_request_is_genuine_so_a_clockless_device_can_set_its_clock(device):
    response = device.request("POST", devproto.PATH_HELLO, HELLO, timestamp=1000, nonce=NONCE)
    assert response.json()["error"]["code"] == "stale_timestamp"
    assert verifies(device, response)
    forged = device.request("POST", devproto.PATH_HELLO, HELLO, timestamp=1000, nonce=NONCE, secret="11" * 32)
    assert forged.json()["error"]["code"] == "stale_timestamp"              # the order of checks is kept
    assert devproto.H_REPLY_SIG not in forged.headers                       # but a forger gets no signed time


def test_refusals_of_forged_or_unknown_requests_are_never_signed(device):
    for response in (device.request("POST", devproto.PATH_HELLO, HELLO, secret="11" * 32),
                     device.request("POST", devproto.PATH_HELLO, HELLO, device_id="cb-0000000000")):
        assert response.status_code == 401
        assert devproto.H_REPLY_SIG not in response.headers


def test_revoked_refusal_is_signed_for_the_genuine_device(client, device, admin_headers):
    assert client.post("/api/v1/devices/%s/revoke" % device.id, headers=admin_headers).status_code == 200
    response = device.request("POST", devproto.PATH_HELLO, HELLO, nonce=NONCE)
    assert response.json()["error"]["code"] == "revoked"
    assert verifies(device, response)


def test_a_v1_device_without_the_header_keeps_working_unsigned(device):
    v1 = {devproto.H_PROTOCOL: ""}
    response = device.request("POST", devproto.PATH_HELLO, HELLO, headers=v1)
    assert response.status_code == 200 and response.json()["ack"] == 0
    assert devproto.H_REPLY_SIG not in response.headers
    assert re.fullmatch(r"\d+\.\d{3}", response.headers[devproto.H_SERVER_TIME])    # the header every reply has
    assert device.events([heartbeat(1)], headers=v1).json()["ack"] == 1


def test_hello_naming_another_role_is_answered_and_the_enrolled_role_stays(client, device, admin_headers):
    response = device.request("POST", devproto.PATH_HELLO, dict(HELLO, role="smart_bin"))
    assert response.status_code == 200
    record = client.get("/api/v1/devices/%s" % device.id, headers=admin_headers).json()
    assert record["role"] == "call_button"
    assert "alarms" in response.json()["down"]            # it is still served as a call button


def test_server_time_text_and_parse_are_integer_exact():
    ms = 1796031157980
    assert devproto.server_time_text(ms) == "1796031157.980"
    assert devproto.server_time_text(5) == "0.005"
    assert devproto.parse_server_time("1796031157.980") == (1796031157, 980)
    for bad in ("1796031157.98", "1796031157", "1796031157.9800", "-1.000", "1e9.000", " 1.000", ".123", None, 17):
        assert devproto.parse_server_time(bad) is None, bad
