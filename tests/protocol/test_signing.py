"""Request signing: the worked example in docs/protocol.md, the pure-Python HMAC that
MicroPython uses against CPython's hmac, and the real MicroPython interpreter."""

import hashlib
import hmac
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import devproto
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boards.tools import tool_path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "protocol.md").read_text()
APP_DIR = Path(devproto.__file__).resolve().parents[1]


def worked_example():
    """(secret, method, path, timestamp, nonce, body, signature) as the document states them."""
    text = DOC[DOC.index("Worked example"):]
    text = text[:text.index("\n\n")]
    method, path = re.search(r"`(POST|GET) (\S+)`", text).groups()
    timestamp = re.search(r"timestamp `(\d+)`", text).group(1)
    nonce = re.search(r"nonce `([0-9a-f]+)`", text).group(1)
    body = re.search(r"body `([^`]*)`", text).group(1).encode()
    signature = re.search(r"`([0-9a-f]{64})`", text).group(1)
    assert "`00` × 32" in text
    return "00" * 32, method, path, int(timestamp), nonce, body, signature


def test_worked_example_in_the_document():
    secret, method, path, timestamp, nonce, body, signature = worked_example()
    assert devproto.sign(secret, method, path, timestamp, nonce, body) == signature
    canonical = devproto.canonical(method, path, timestamp, nonce, body)
    assert canonical == ("POST\n/api/v1/device/hello\n1700000000\nabcdef0123\n"
                         + hashlib.sha256(b"{}").hexdigest()).encode()
    assert hmac.new(bytes(32), canonical, hashlib.sha256).hexdigest() == signature


@pytest.fixture(scope="module")
def pure_python_hmac():
    """devproto's fallback HMAC (the one MicroPython runs), loaded with CPython's hmac hidden."""
    saved = sys.modules.get("hmac")
    sys.modules["hmac"] = None
    try:
        spec = importlib.util.spec_from_file_location("devproto_without_hmac", Path(devproto.__file__))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.modules["hmac"] = saved
    assert module.hmac_sha256 is not devproto.hmac_sha256
    return module.hmac_sha256


@given(key=st.binary(max_size=100), msg=st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_pure_python_hmac_matches_the_stdlib(pure_python_hmac, key, msg):
    assert pure_python_hmac(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()


VECTORS = [("00" * 32, "POST", "/api/v1/device/hello", 1700000000, "abcdef0123", b"{}"),
           ("ab" * 32, "GET", "/api/v1/device/poll?cursor=4&wait=25", 1796031157, "0123456789abcdef", b""),
           ("1f" * 32, "POST", "/api/v1/device/events", 1, "deadbeef", json.dumps({"events": []}).encode())]


def test_micropython_signs_like_cpython():
    micropython = tool_path("micropython")    # ToolMissing says how to install it
    script = "import devproto\n" + "".join(
        "print(devproto.sign(%r, %r, %r, %d, %r, %r))\n" % v for v in VECTORS)
    out = subprocess.run([micropython, "-c", script], cwd=APP_DIR, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [devproto.sign(*v) for v in VECTORS]


def test_signed_headers_are_complete():
    headers = devproto.signed_headers("cb-1", "00" * 32, "POST", devproto.PATH_HELLO, 1700000000, "abcdef0123", b"{}")
    assert set(headers) == {devproto.H_DEVICE, devproto.H_TIME, devproto.H_NONCE, devproto.H_SIG,
                            devproto.H_PROTOCOL, "Content-Type"}
    assert headers[devproto.H_PROTOCOL] == "1.1"
    assert headers[devproto.H_SIG] == worked_example()[-1]


def reply_worked_example():
    """(nonce, status, server time, body, signature) of the reply example in docs/protocol.md."""
    text = DOC[DOC.index("Reply worked example"):]
    text = text[:text.index("\n\n")]
    nonce = re.search(r"nonce `([0-9a-f]+)`", text).group(1)
    status = int(re.search(r"status `(\d+)`", text).group(1))
    stamp = re.search(r"`X-Server-Time: ([0-9.]+)`", text).group(1)
    body = re.search(r"body `([^`]*)`", text).group(1).encode()
    signature = re.search(r"`([0-9a-f]{64})`", text).group(1)
    assert "`00` × 32" in text
    return nonce, status, stamp, body, signature


def test_reply_worked_example_in_the_document():
    nonce, status, stamp, body, signature = reply_worked_example()
    assert devproto.reply_signature(bytes(32), nonce, status, stamp, body) == signature
    reply_string = "REPLY\n%s\n%d\n%s\n%s" % (nonce, status, stamp, hashlib.sha256(body).hexdigest())
    assert hmac.new(bytes(32), reply_string.encode(), hashlib.sha256).hexdigest() == signature


REPLY_VECTORS = [("abcdef0123", 200, "1700000000.250", b"{}"),
                 ("0123456789abcdef", 401, "1796031157.980", b'{"error":{"code":"stale_timestamp"}}'),
                 ("deadbeef", 200, "0.005", b"")]


def test_micropython_verifies_replies_and_parses_time_like_cpython():
    micropython = tool_path("micropython")    # ToolMissing says how to install it
    script = "import devproto\n" + "".join(
        "print(devproto.reply_signature(bytes(32), %r, %d, %r, %r))\n" % v for v in REPLY_VECTORS) + "".join(
        "print(devproto.parse_server_time(%r))\n" % t for t in ("1796031157.980", "1796031157.98", "x.123"))
    out = subprocess.run([micropython, "-c", script], cwd=APP_DIR, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:3] == [devproto.reply_signature(bytes(32), *v) for v in REPLY_VECTORS]
    assert lines[3:] == ["(1796031157, 980)", "None", "None"]
