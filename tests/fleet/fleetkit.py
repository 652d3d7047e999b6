"""Helpers shared by the fleet tests: signed device clients, users per role, small waits."""

import gc
import json
import os
import re
import resource
import secrets
import subprocess
import sys
import threading
import time
import types

import devproto

from fleet.domain import credentials, enrollment, users
from hil_tests.polling import wait_until

CLI = users.Principal("cli", "test", "admin")
PASSWORD = "correct horse battery"
HELLO = {"fw": "1.29.0", "app": "0.3.0", "slot": "a", "board": "esp32-devkitc", "role": "call_button",
         "reset_cause": "power_on", "wake_reason": "none", "heap_free": 51234}


def mint(db, **binding):
    [(_, token)] = enrollment.mint_tokens(db, CLI, binding.pop("expires_s", 3600), 1, **binding)
    return token


class Device:
    """A device client: enrolls through the API, then signs every request like firmware does."""

    def __init__(self, http, device_id, secret, role="call_button"):
        self.http = http
        self.id = device_id
        self.secret = secret
        self.role = role

    def request(self, method, path, body=b"", *, timestamp=None, nonce=None, secret=None, headers=None,
                device_id=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        timestamp = int(time.time()) if timestamp is None else timestamp
        nonce = nonce or secrets.token_hex(8)
        signed = devproto.signed_headers(device_id or self.id, secret or self.secret, method, path, timestamp,
                                         nonce, body)
        signed.update(headers or {})
        return self.http.request(method, path, content=body, headers=signed)

    def hello(self, **fields):
        return self.request("POST", devproto.PATH_HELLO, dict(HELLO, role=self.role, **fields))

    def events(self, events, stream=1, extra=None, **request_options):
        body = dict({"stream": stream, "events": events}, **(extra or {}))
        return self.request("POST", devproto.PATH_EVENTS, body, **request_options)

    def poll(self, cursor=0, wait=1, cv=None):
        query = "cursor=%d&wait=%d" % (cursor, wait) + ("&cv=%d" % cv if cv is not None else "")
        return self.request("GET", devproto.PATH_POLL + "?" + query)


def heartbeat(seq, t=None, **data):
    return {"seq": seq, "t": int(time.time()) if t is None else t, "type": "heartbeat", "data": data}


def enroll(http, db, role="call_button", hw_id=None, board="esp32-devkitc", **extra):
    body = {"token": mint(db), "hw_id": hw_id or secrets.token_hex(6), "role": role, "board": board}
    body.update(extra)
    response = http.post(devproto.PATH_ENROLL, json=body)
    assert response.status_code == 201, response.text
    return Device(http, response.json()["device_id"], response.json()["secret"], role)


def make_user(db, role, username=None):
    username = username or "%s-%s" % (role, secrets.token_hex(3))
    return users.create_user(db, CLI, username, role, PASSWORD)


def bearer(db, role):
    """Authorization headers of a fresh user with role."""
    user = make_user(db, role)
    _, token = credentials.create_token(db, CLI, user["id"], "tests")
    return {"Authorization": "Bearer " + token}


def count(db, table, where="1", params=()):
    return db.conn.execute("SELECT count(*) FROM %s WHERE %s" % (table, where), params).fetchone()[0]


def wait_for(predicate, timeout=5.0, interval=0.01, what="condition"):
    """Poll predicate until true (for effects that happen in another thread); the value or AssertionError."""
    return wait_until(predicate, what, timeout, interval)


def start_server(db_path, env=None, open_files=None):
    """`fleet serve` as a real process on a free loopback port: (Popen, base URL). `env`: more
    environment (FLEET_* settings); `open_files`: its RLIMIT_NOFILE, soft and hard. Every line it
    prints is kept in proc.output."""
    def limit_files():
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    proc = subprocess.Popen([sys.executable, "-m", "fleet.cli", "serve", "--port", "0", "--db", str(db_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, **dict({"FLEET_LOG_LEVEL": "warning"}, **(env or {}))),
                            preexec_fn=limit_files if open_files else None)
    proc.output = []

    def keep_reading():
        for line in proc.stdout:
            proc.output.append(line)

    for line in proc.stdout:
        proc.output.append(line)
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            threading.Thread(target=keep_reading, daemon=True).start()
            return proc, found.group(1)
    raise AssertionError("server did not start:\n" + "".join(proc.output))


def credentials_headers(db, user):
    """Authorization headers of an API token of this existing user."""
    _, token = credentials.create_token(db, CLI, user["id"], "tests")
    return {"Authorization": "Bearer " + token}


def collector_walk(root):
    """What a full garbage collection walks from root: (tracked objects reached, references
    followed). Only tracked objects are traversed, at every collection, with the event loop
    waiting; an untracked tuple or dict costs one pointer check. Classes and modules are the
    program's, not root's, and are not followed."""
    seen, todo, followed = {id(root)}, [root], 0
    while todo:
        refs = gc.get_referents(todo.pop())
        followed += len(refs)
        for ref in refs:
            if gc.is_tracked(ref) and not isinstance(ref, (type, types.ModuleType)) and id(ref) not in seen:
                seen.add(id(ref))
                todo.append(ref)
    return len(seen), followed
