"""Connections against a real `fleet serve` process: silent and slow clients are timed out or
shed, devices still get in under a small file limit, and a client that stops mid-body is one
log line, never a 500 and a traceback."""

import socket
import threading
import time
from urllib.parse import urlsplit

import devproto
import httpx
import pytest

from fleetkit import Device, bearer, enroll, start_server, wait_for


@pytest.fixture
def serve(settings):
    """start(env=None, open_files=None) -> (proc, url); every server started is stopped after the test."""
    started = []

    def start(env=None, open_files=None):
        proc, url = start_server(settings.db, dict({"FLEET_LOG_LEVEL": "info"}, **(env or {})), open_files)
        started.append(proc)
        return proc, url

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(15)


def address(url):
    parts = urlsplit(url)
    return parts.hostname, parts.port


def closed_by_server(sock, within_s):
    """True if the server closes sock (EOF or reset) within within_s seconds. Bytes still on their
    way (the rest of a response whose first part was read) are read and dropped."""
    deadline = time.monotonic() + within_s
    try:
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            if sock.recv(1024) == b"":
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def log_of(proc):
    time.sleep(0.3)          # let the last lines through the pipe
    return "".join(proc.output)


def test_silent_connections_cannot_keep_devices_out_under_a_256_file_limit(serve, db):
    proc, url = serve(open_files=256)
    with httpx.Client(base_url=url, timeout=10) as http:
        device = enroll(http, db)
    silent = [socket.create_connection(address(url)) for _ in range(300)]      # more than the file limit
    try:
        time.sleep(0.5)
        with httpx.Client(base_url=url, timeout=10) as http:
            device.http = http
            started = time.monotonic()
            assert device.hello().status_code == 200
            assert device.events([{"seq": 1, "t": int(time.time()), "type": "heartbeat", "data": {}}]).json()[
                "stored"] == 1
            assert time.monotonic() - started < 5
        shed = sum(closed_by_server(s, 0.01) for s in silent)
        assert shed >= 300 - 128, "the oldest idle connections make room (the cap is half of 256)"
    finally:
        for s in silent:
            s.close()
    log = log_of(proc)
    assert "open-files limit 256: at most 128 connections" in log
    assert "connection limit (128) reached" in log
    assert "Traceback" not in log and "out of system resource" not in log.lower()


def test_when_every_connection_is_busy_a_newcomer_is_told_to_retry(serve, db):
    _, url = serve({"FLEET_MAX_CONNECTIONS": "3"})
    with httpx.Client(base_url=url, timeout=10) as http:
        device = enroll(http, db)
        cursor = device.hello().json()["down"]["cursor"]
    polls = []
    clients = [httpx.Client(base_url=url, timeout=30) for _ in range(3)]
    try:
        for client in clients:                              # three long-polls: three busy connections
            poller = Device(client, device.id, device.secret)
            thread = threading.Thread(target=lambda p=poller: polls.append(p.poll(cursor=cursor, wait=3)))
            thread.start()
        time.sleep(0.5)
        with socket.create_connection(address(url)) as newcomer:
            newcomer.settimeout(5)
            answer = newcomer.recv(4096).decode()
        assert answer.startswith("HTTP/1.1 503") and "retry-after: 5" in answer.lower()
        assert '"code":"busy"' in answer and "too many open connections" in answer
        wait_for(lambda: len(polls) == 3, timeout=10, what="the long-polls answered")
        assert all(p.status_code == 200 for p in polls)
    finally:
        for client in clients:
            client.close()


def test_silent_and_slow_headers_are_timed_out(serve):
    _, url = serve({"FLEET_HEADER_TIMEOUT_S": "1", "FLEET_KEEPALIVE_TIMEOUT_S": "1"})
    with socket.create_connection(address(url)) as silent, socket.create_connection(address(url)) as slow, \
            socket.create_connection(address(url)) as kept:
        slow.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")            # headers never finished
        kept.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")        # answered, then kept alive
        kept.settimeout(5)
        assert kept.recv(4096).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert closed_by_server(silent, 5) and closed_by_server(slow, 5) and closed_by_server(kept, 5)
        assert time.monotonic() - started < 3


def stop_mid_body(url, path, headers=b""):
    """Send a request promising 1000 bytes of body, send 100 of them, then close."""
    with socket.create_connection(address(url)) as sock:
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n%s\r\n"
                     % (path.encode(), headers) + b"{" + b" " * 99)
        time.sleep(0.3)


def test_a_client_that_stops_mid_body_is_one_log_line_not_a_500(serve, db):
    proc, url = serve({"FLEET_BODY_TIMEOUT_S": "1"})
    admin = bearer(db, "admin")
    with httpx.Client(base_url=url, timeout=10) as http:
        device = enroll(http, db)
    signed = devproto.signed_headers(device.id, device.secret, "POST", devproto.PATH_EVENTS, int(time.time()),
                                     "abcdef0123", b"")
    signed_lines = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in signed.items())
    stop_mid_body(url, devproto.PATH_EVENTS, signed_lines)                   # a device, on the fast path
    stop_mid_body(url, devproto.PATH_ENROLL)
    stop_mid_body(url, "/api/v1/users", b"Authorization: %s\r\n" % admin["Authorization"].encode())   # admin API
    with socket.create_connection(address(url)) as stalled:                  # stops sending, stays connected
        stalled.sendall(b"POST /api/v1/device/enroll HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
        assert closed_by_server(stalled, 5)
    lines = wait_for(lambda: (lambda found: found if len(found) == 4 else None)(
        [line for line in log_of(proc).splitlines() if "before sending its whole request" in line]),
        what="four disconnect lines")
    assert sum("was too slow (FLEET_BODY_TIMEOUT_S)" in line for line in lines) == 1
    assert all(" INFO " in line for line in lines)
    log = log_of(proc)
    assert "Traceback" not in log and "internal error" not in log and " 500" not in log
    with httpx.Client(base_url=url, timeout=10) as http:                     # and the server is fine
        device.http = http
        assert device.hello().status_code == 200
