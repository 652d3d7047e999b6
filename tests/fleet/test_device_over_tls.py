"""`fleet serve --tls-cert --tls-key`: the device protocol over HTTPS, end to end, with a real
server process and a client that verifies the certificate against the test CA (made now)."""

import binascii
import os
import re
import ssl
import subprocess
import sys
import threading

import devproto
import httpx
import pytest

from fleetkit import HELLO, Device, heartbeat, mint
from hil_tests.pki import make_pki


@pytest.fixture
def tls_server(tmp_path, db, settings):
    pki = make_pki(tmp_path / "pki")
    proc = subprocess.Popen([sys.executable, "-m", "fleet.cli", "serve", "--port", "0", "--db", str(settings.db),
                             "--tls-cert", str(pki.cert_path), "--tls-key", str(pki.key_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, FLEET_LOG_LEVEL="warning"))
    try:
        for line in proc.stdout:
            found = re.search(r"listening on (\S+)", line)
            if found:
                threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
                yield found.group(1), pki
                break
        else:
            raise AssertionError("server did not start")
    finally:
        proc.terminate()
        proc.wait(10)


def test_device_protocol_over_verified_https(tls_server, db):
    url, pki = tls_server
    assert url.startswith("https://127.0.0.1:")
    verify = ssl.create_default_context(cafile=str(pki.ca_path))
    with httpx.Client(base_url=url, verify=verify) as http:
        body = {"token": mint(db), "hw_id": binascii.hexlify(os.urandom(6)).decode(), "role": "call_button",
                "board": "esp32-devkitc"}
        enrolled = http.post(devproto.PATH_ENROLL, json=body)
        assert enrolled.status_code == 201
        device = Device(http, enrolled.json()["device_id"], enrolled.json()["secret"])
        hello = device.request("POST", devproto.PATH_HELLO, HELLO, nonce="0123456789abcdef")
        assert hello.status_code == 200
        assert hello.headers[devproto.H_REPLY_SIG] == devproto.reply_signature(
            binascii.unhexlify(device.secret), "0123456789abcdef", 200, hello.headers[devproto.H_SERVER_TIME],
            hello.content)
        assert device.events([heartbeat(1)]).json()["ack"] == 1


def test_a_client_that_does_not_trust_the_ca_is_refused_by_its_own_check(tls_server):
    url, _ = tls_server
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(url + "/api/v1/health")                  # system CAs only: the test CA is unknown
