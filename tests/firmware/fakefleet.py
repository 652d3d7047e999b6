"""FakeFleet: a protocol-shaped stand-in for the fleet manager, for firmware unit tests.

It speaks device protocol v1 as docs/protocol.md states it -- enrollment, signed hello /
events / poll verified with the CPython ``devproto`` (the same module the firmware
imports), the check order, contiguous acks per stream, duplicates, downlink with a
cursor, long-poll -- with in-memory state and a control endpoint so a MicroPython test
can script it (clock skew, pushed config, commands, alarms, failures). It is not the
fleet: the end-to-end tests against the real server live in hil_tests/.

Replies to a v1.1 request (X-Protocol-Version: 1.1) whose signature is good are signed, as the
fleet signs them (devproto.reply_signature); a scripted man in the middle can spoil them.

Control (not part of the protocol):
  POST /_fake/ctl   {"device_id": id, "skew": s, "config": {...}, "commands": [...],
                     "alarms": {...}, "fail": n, "refuse_type": t, "revoked": bool,
                     "tamper": n, "unsigned": n}
      tamper: the next n signed replies to the device are changed after signing, the way
      a man in the middle would ("acknowledged" -> "received" and back, or the time moved);
      unsigned: the next n replies lose their signature headers
  GET  /_fake/state?device_id=id  -> the device's hellos, events, request count
  FakeFleet.auto_ack_ms (set from CPython): a caregiver acknowledges every stored alarm
  that many ms later (the heap tests: no MicroPython-side request during the wake)

OTA downloads (the fleet's download route, shaped as docs/protocol.md "OTA" states it):
  GET  /_fake/files/<name>   FakeFleet.files[name] (set from CPython), with Range / If-Range /
                             ETag ("<sha256>"), 206 and Content-Range
  POST /_fake/files          {"cut": {name: n}}: the next response of name ends after n body bytes
                             (a Wi-Fi cut); {"busy": n}: the next n file requests get 503;
                             answers {"requests": [[name, Range header], ...]} ("forget": clear them)
"""

import hashlib
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def _ms():
    return int(time.monotonic() * 1000)

import devproto


class _QuietServer(ThreadingHTTPServer):
    """A device that resets its connection (a test that ends, a simulated power cut) or drops a
    TLS handshake is normal here: no traceback on the test output for it; anything else is
    still printed."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, ssl.SSLError)):
            super().handle_error(request, client_address)


class Device:
    def __init__(self, device_id, secret, hw_id, role, board):
        self.device_id = device_id
        self.secret = secret
        self.hw_id = hw_id
        self.role = role
        self.board = board
        self.cv = 1
        self.config = devproto.default_config()
        self.cursor = 1
        self.commands = []
        self.alarms = {}
        self.streams = {}        # stream -> set of seqs
        self.events = []         # (stream, event) in arrival order, first copy only
        self.hellos = []
        self.nonces = set()
        self.skew = 0.0
        self.fail = 0
        self.refuse_type = None
        self.revoked = False
        self.requests = 0
        self.tamper = 0
        self.unsigned = 0
        self.polls = []          # (ms the long-poll was held, its reply had news)
        # [ms it came, ms it was answered or None], integers on the host's monotonic clock (a
        # single-precision MicroPython would read host seconds as floats to 128 s)
        self.poll_times = []


class FakeFleet:
    def __init__(self, tls=None):
        """tls: (certificate chain file, key file) to serve HTTPS (e.g. from hil_tests.pki)."""
        self.lock = threading.Condition()
        self.devices = {}
        self.by_hw = {}
        self.tokens_used = set()
        self.n = 0
        self.auto_ack_ms = None
        self.beacon = None       # down.beacon for every `beacon` device (devproto/beacon.py), if set
        self.files = {}          # name -> bytes, served at /_fake/files/<name>
        self.cuts = {}           # name -> body bytes the next response of it ends after
        self.busy = 0
        self.offer = None        # down.update for every device, if set (POST /_fake/files {"offer"})
        self.file_requests = []  # (name, Range header) of each file request
        self.server = _QuietServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            # the handshake runs in the handler's thread (not in accept), as a real server does
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True,
                                                 do_handshake_on_connect=False)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- protocol --------------------------------------------------------------
    def down(self, dev, cv):
        d = {"cursor": dev.cursor, "config_version": dev.cv, "commands": list(dev.commands),
             "update": self.offer, "alarms": dict(dev.alarms)}
        if cv != dev.cv:
            d["config"] = dict(dev.config)
        if self.beacon is not None and dev.role == "beacon":
            d["beacon"] = dict(self.beacon)
        return d

    def ack(self, dev, stream):
        seqs = dev.streams.get(stream, set())
        n = 0
        while n + 1 in seqs:
            n += 1
        return n

    def bump(self, dev):
        dev.cursor += 1
        self.lock.notify_all()

    def _ack_later(self, dev, ref):
        def ack():
            with self.lock:
                dev.alarms[ref] = "acknowledged"
                self.bump(dev)
        threading.Timer(self.auto_ack_ms / 1000.0, ack).start()

    def enroll(self, body):
        tok = body.get("token")
        if not isinstance(tok, str) or not tok.startswith("et_") or tok == "et_bad":
            raise devproto.ProtocolError("token_invalid", "unknown token")
        if tok in self.tokens_used:
            raise devproto.ProtocolError("token_used", "token already used")
        self.tokens_used.add(tok)
        hw = body.get("hw_id")
        secret = "%064x" % (hash((hw, tok, time.time())) & ((1 << 256) - 1))
        if hw in self.by_hw:
            dev = self.by_hw[hw]
            dev.secret = secret
        else:
            self.n += 1
            dev = Device("dev-%d" % self.n, secret, hw, body.get("role"), body.get("board"))
            self.devices[dev.device_id] = dev
            self.by_hw[hw] = dev
        return {"device_id": dev.device_id, "secret": dev.secret, "config_version": dev.cv,
                "config": dict(dev.config)}

    def verify(self, method, path, headers, body):
        for h in (devproto.H_DEVICE, devproto.H_TIME, devproto.H_NONCE, devproto.H_SIG):
            if not headers.get(h):
                raise devproto.ProtocolError("missing_signature", "header %s missing" % h)
        dev = self.devices.get(headers[devproto.H_DEVICE])
        if dev is None:
            raise devproto.ProtocolError("unknown_device", "no such device")
        ts = int(headers[devproto.H_TIME])
        nonce = headers[devproto.H_NONCE]
        genuine = devproto.sign(dev.secret, method, path, ts, nonce, body) == headers[devproto.H_SIG]
        if dev.revoked:
            ex = devproto.ProtocolError("revoked", "revoked")
            ex.signer = dev if genuine else None
            raise ex
        if abs(ts - (time.time() + dev.skew)) > devproto.CLOCK_WINDOW:
            ex = devproto.ProtocolError("stale_timestamp", "timestamp too far from server time")
            ex.signer = dev if genuine else None
            raise ex
        if not genuine:
            raise devproto.ProtocolError("bad_signature", "signature does not match")
        if nonce in dev.nonces:
            raise devproto.ProtocolError("replay", "nonce seen")
        dev.nonces.add(nonce)
        return dev

    def handle(self, method, path, headers, body):
        """Returns (status, obj, device-or-None) -- obj gets "time" added by the caller."""
        url = urlsplit(path)
        if url.path == "/_fake/ctl":
            req = json.loads(body)
            dev = self.devices[req["device_id"]]
            for k in ("skew", "fail", "refuse_type", "revoked", "tamper", "unsigned"):
                if k in req:
                    setattr(dev, k, req[k])
            if "config" in req:
                dev.config.update(req["config"])
                dev.cv += 1
            if "commands" in req:
                dev.commands.extend(req["commands"])
            if "alarms" in req:
                dev.alarms.update(req["alarms"])
            self.bump(dev)
            return 200, {"ok": True}, None
        if url.path == "/_fake/state":
            dev = self.devices[parse_qs(url.query)["device_id"][0]]
            return 200, {"hellos": dev.hellos, "events": [e for _, e in dev.events],
                         "requests": dev.requests, "cursor": dev.cursor, "cv": dev.cv,
                         "commands": dev.commands, "polls": dev.polls,
                         "poll_times": dev.poll_times}, None
        if len(body) > devproto.MAX_BODY:
            raise devproto.ProtocolError("too_large", "body too large")
        if url.path == devproto.PATH_ENROLL and method == "POST":
            return 201, self.enroll(json.loads(body)), None
        if url.path not in (devproto.PATH_HELLO, devproto.PATH_EVENTS, devproto.PATH_POLL):
            raise devproto.ProtocolError("not_found", "no such endpoint")
        dev = self.verify(method, path, headers, body)
        try:
            return self.serve(dev, method, url, body)
        except devproto.ProtocolError as ex:
            ex.signer = dev            # refused after the signature: the reply is signed
            raise

    def serve(self, dev, method, url, body):
        dev.requests += 1
        if dev.fail > 0:
            dev.fail -= 1
            raise devproto.ProtocolError("internal", "scripted failure")
        if url.path == devproto.PATH_HELLO:
            obj = json.loads(body)
            devproto.check_hello(obj)
            dev.hellos.append(obj)
            return 200, {"device_id": dev.device_id, "ack": self.ack(dev, obj.get("stream", 0)),
                         "down": self.down(dev, obj.get("cv"))}, dev
        if url.path == devproto.PATH_EVENTS:
            obj = json.loads(body)
            devproto.check_batch(obj)
            stream = obj.get("stream", 0)
            for ev in obj["events"]:
                if ev["type"] == dev.refuse_type:
                    raise devproto.ProtocolError("bad_request", "scripted refusal of %s" % ev["type"])
            seqs = dev.streams.setdefault(stream, set())
            stored = dup = 0
            for ev in obj["events"]:
                if ev["seq"] in seqs:
                    dup += 1
                    continue
                seqs.add(ev["seq"])
                dev.events.append((stream, ev))
                stored += 1
                if ev["type"] == "alarm" and self.auto_ack_ms is not None:
                    self._ack_later(dev, ev["data"]["ref"])
                if ev["type"] == "cmd_result":
                    dev.commands = [c for c in dev.commands if c["id"] != ev["data"]["id"]]
                    self.bump(dev)
            return 200, {"ack": self.ack(dev, stream), "stored": stored, "duplicates": dup,
                         "down": self.down(dev, obj.get("cv"))}, dev
        q = parse_qs(url.query)
        cursor = int(q.get("cursor", ["0"])[0])
        wait = min(int(q.get("wait", ["25"])[0]), devproto.MAX_POLL_WAIT)
        cv = int(q["cv"][0]) if "cv" in q else None
        t0 = time.time()
        end = t0 + wait
        came = [_ms(), None]
        dev.poll_times.append(came)
        while dev.cursor <= cursor and time.time() < end:
            self.lock.wait(end - time.time())
        dev.polls.append((int((time.time() - t0) * 1000), dev.cursor > cursor))
        came[1] = _ms()
        return 200, {"down": self.down(dev, cv)}, dev

    @staticmethod
    def man_in_the_middle(dev, raw, stamp, extra):
        """What the scripted attacker does to a signed reply (see tamper / unsigned)."""
        if dev.unsigned > 0:
            dev.unsigned -= 1
            return raw, stamp, {}
        if dev.tamper > 0:
            dev.tamper -= 1
            if b'"acknowledged"' in raw or b'"received"' in raw:
                swap = raw.replace(b'"received"', b'"@"').replace(b'"acknowledged"', b'"received"')
                return swap.replace(b'"@"', b'"acknowledged"'), stamp, extra
            secs, ms = devproto.parse_server_time(stamp)
            return raw, devproto.server_time_text((secs + 86400) * 1000 + ms), extra
        return raw, stamp, extra

    def _handler(self):
        fleet = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def setup(self):
                if hasattr(self.request, "do_handshake"):     # HTTPS: the TLS handshake first
                    self.request.settimeout(30)
                    self.request.do_handshake()
                    self.request.settimeout(None)
                super().setup()

            def _do(self, method):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                headers = {k: v for k, v in self.headers.items()}
                # header names arrive as sent; devproto names are canonical
                for h in (devproto.H_DEVICE, devproto.H_TIME, devproto.H_NONCE, devproto.H_SIG, devproto.H_PROTOCOL):
                    if h not in headers:
                        for k in list(headers):
                            if k.lower() == h.lower():
                                headers[h] = headers[k]
                with fleet.lock:
                    signer = None
                    try:
                        status, obj, dev = fleet.handle(method, self.path, headers, body)
                        signer = dev
                    except devproto.ProtocolError as ex:
                        status, obj, dev = ex.status(), {"error": {"code": ex.code, "message": ex.message}}, None
                        signer = getattr(ex, "signer", None)
                    except (ValueError, KeyError) as ex:
                        status, obj, dev = 400, {"error": {"code": "bad_json", "message": str(ex)}}, None
                    d = dev or fleet.devices.get(headers.get(devproto.H_DEVICE))
                    ms = int((time.time() + (d.skew if d else 0.0)) * 1000)
                    obj["time"] = ms / 1000
                    raw = json.dumps(obj).encode()
                    stamp = devproto.server_time_text(ms)
                    extra = {}
                    if signer is not None and headers.get(devproto.H_PROTOCOL) == devproto.PROTOCOL:
                        extra[devproto.H_REPLY_SIG] = devproto.reply_signature(
                            bytes.fromhex(signer.secret), headers[devproto.H_NONCE], status, stamp, raw)
                        raw, stamp, extra = fleet.man_in_the_middle(signer, raw, stamp, extra)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.send_header(devproto.H_SERVER_TIME, stamp)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def _file(self, name):
                with fleet.lock:
                    data = fleet.files.get(name)
                    busy = fleet.busy > 0
                    fleet.busy -= 1 if busy else 0
                    cut = fleet.cuts.pop(name, None)
                    rng = self.headers.get("Range")
                    fleet.file_requests.append((name, rng))
                if busy or data is None:
                    self.send_response(503 if busy else 404)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = '"%s"' % hashlib.sha256(data).hexdigest()
                start = 0
                if rng and rng.startswith("bytes=") and self.headers.get("If-Range", etag) == etag:
                    start = int(rng[6:].split("-")[0])
                body = data[start:]
                self.send_response(206 if start else 200)
                self.send_header("ETag", etag)
                self.send_header("Accept-Ranges", "bytes")
                if start:
                    self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def do_GET(self):
                if self.path.startswith("/_fake/files/"):
                    return self._file(self.path[len("/_fake/files/"):].split("?")[0])
                self._do("GET")

            def do_POST(self):
                if self.path == "/_fake/files":
                    req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                    with fleet.lock:
                        fleet.cuts.update(req.get("cut", {}))
                        fleet.busy = req.get("busy", fleet.busy)
                        fleet.offer = req.get("offer", fleet.offer)
                        raw = json.dumps({"requests": fleet.file_requests}).encode()
                        if req.get("forget"):
                            fleet.file_requests = []
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                    return
                self._do("POST")

        return Handler


if __name__ == "__main__":
    f = FakeFleet().start()
    print(f.url)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        f.stop()
