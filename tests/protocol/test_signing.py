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
    assert set(headers) == {devproto.H_DEVICE, devproto.H_TIME, devproto.H_NONCE, devproto.H_SIG, "Content-Type"}
    assert headers[devproto.H_SIG] == worked_example()[-1]
