"""Outgoing webhooks: admin-configured URLs told about alarm transitions, signed, retried, recorded.

Delivery is an outbox: a transition inserts one `webhook_deliveries` row per matching webhook in
the same transaction as the transition itself (so nothing is lost in a crash and ingest never
waits for the network); the WebhookWorker task (app lifespan) sends them, records every attempt
(`webhook_attempts`: time, HTTP status, error, duration) and retries failures with exponential
backoff (webhook_backoff_s, doubled per attempt, at most webhook_backoff_max_s) until
webhook_max_attempts, after which the delivery is `failed`. Delivery is at least once: a receiver
deduplicates by the webhook-id.

Requests are signed as Standard Webhooks (standardwebhooks.com) specify, so receivers can use
that project's libraries; docs/alarms.md has a verification example:

    POST <url>
    Content-Type: application/json
    X-Fleet-Event: alarm.raised
    webhook-id: dlv_42                           (the delivery: the same on every attempt)
    webhook-timestamp: 1796031157                (Unix seconds of this attempt)
    webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>

The key is the secret's base64 part decoded (secrets are "whsec_" + base64 of 32 random bytes).

    {"event": "alarm.raised", "at": "...Z", "group": "primary", "alarm": {...alarm view...}}

Which webhooks get what: `events` (empty = all) filters by event name; `groups` (empty = all)
filters by responder group - a webhook of group "backup" hears of an alarm when it escalates to
"backup", and of everything that happens to it after that. Resident data is left out of the
payload unless the webhook has include_resident.

Other capabilities' events: a capability names its event types once, when imported
(`register_events("workorder.opened", ...)`: admins may then subscribe to them), and inside its
own transaction queues one with `enqueue_event(tx, event, payload, groups)`: the body is
{"event", "at", **payload}, signed and delivered like an alarm's; `groups` are the responder
groups it concerns (for the webhooks' `groups` filter). It wakes the worker after the commit
with runtime.webhooks.wake() (on the event loop).
"""

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from urllib.parse import urlsplit

import httpx
import orjson

from fleet.core import clock
from fleet.core.waiting import within
from fleet.metrics import WEBHOOK_FAILED_ATTEMPTS
from fleet.domain import audit
from fleet.errors import Invalid, NotFound
from fleet.store.db import row, rows, write_tx

log = logging.getLogger("fleet.webhooks")

# Every event type a webhook may subscribe to: the core's and the alarms', then those the
# capabilities register when imported (a list that grows: the CLI's and API's checks read it).
EVENTS = ["alarm.raised", "alarm.escalated", "alarm.acknowledged", "alarm.resolved", "alarm.cancelled",
          "alarm.cancel_requested", "alarm.updated", "ping"]
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}\.[a-z][a-z0-9_]{0,31}$")


def register_events(*names):
    """A capability's own event types ("<thing>.<what happened>"), subscribable from now on."""
    for name in names:
        if not EVENT_NAME.match(name):
            raise ValueError("webhook event %r: '<thing>.<what happened>' in lower case" % name)
        if name not in EVENTS:
            EVENTS.append(name)
STATES = ("pending", "delivered", "failed", "dropped")
GROUP = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
H_EVENT, H_ID, H_TIMESTAMP, H_SIGNATURE = "X-Fleet-Event", "webhook-id", "webhook-timestamp", "webhook-signature"
SECRET_PREFIX = "whsec_"
SECRET_BYTES = (24, 64)          # what Standard Webhooks allow for a key
MAX_URL = 500
BATCH = 64               # deliveries picked per worker pass
CONCURRENCY = 16         # attempts in flight at once
IDLE_S = 60.0


def new_secret():
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signing_key(secret):
    """The HMAC key of a secret: the bytes its base64 part stands for. (A secret chosen before
    this scheme that is not base64 signs with its UTF-8 bytes; rotate it.)"""
    encoded = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return secret.encode()


def _check_secret(secret):
    try:
        ok = secret.startswith(SECRET_PREFIX) and SECRET_BYTES[0] <= len(
            base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)) <= SECRET_BYTES[1]
    except (AttributeError, binascii.Error, ValueError):
        ok = False
    if not ok:
        raise Invalid("secret must be 'whsec_' followed by the base64 of %d-%d random bytes (or leave it out "
                      "and one is made)" % SECRET_BYTES)
    return secret


def sign(secret, msg_id, timestamp, body):
    """The webhook-signature value: "v1," + base64 HMAC-SHA256(key, "<id>.<timestamp>." + body)."""
    signed = ("%s.%d." % (msg_id, int(timestamp))).encode() + body
    return "v1," + base64.b64encode(hmac.new(signing_key(secret), signed, hashlib.sha256).digest()).decode()


def verify(secret, headers, body, tolerance_s=300, now=None):
    """What a receiver does (and the tests): one of the signatures in webhook-signature matches
    id, timestamp and body, and the timestamp is within tolerance_s of now."""
    headers = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, signatures = headers.get(H_ID), headers.get(H_TIMESTAMP), headers.get(H_SIGNATURE)
    now = clock.now() if now is None else now
    try:
        fresh = abs(now - int(stamp)) <= tolerance_s
    except (TypeError, ValueError):
        return False
    if not (fresh and msg_id and signatures):
        return False
    expected = sign(secret, msg_id, stamp, body)
    return any(hmac.compare_digest(expected, given) for given in signatures.split(" "))


def message_id(delivery_id):
    return "dlv_%d" % delivery_id


# ---- configuration (admins) ---------------------------------------------------------------

def _check_url(url):
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL:
        raise Invalid("url must be an http:// or https:// URL of at most %d characters" % MAX_URL)
    return url


def _check_list(name, values, allowed=None, pattern=None):
    values = list(values or [])
    if len(values) > 20:
        raise Invalid("%s: at most 20" % name)
    for v in values:
        if not isinstance(v, str) or (allowed and v not in allowed) or (pattern and not pattern.match(v)):
            raise Invalid("%s: %r is not one of %s" % (name, v, ", ".join(allowed)) if allowed else
                          "%s: %r must be 1-32 lower-case letters, digits, '.', '_' or '-'" % (name, v))
    return sorted(set(values))


def _check_name(name):
    if name is not None and (not isinstance(name, str) or len(name) > 64):
        raise Invalid("name must be at most 64 characters")
    return name


def _seal(box, webhook_id, secret):
    return box.seal("webhook:%d" % webhook_id, secret.encode().hex())


def _open(box, webhook_id, sealed):
    return box.open("webhook:%d" % webhook_id, sealed)


def view(rec):
    return {"id": rec["id"], "name": rec["name"], "url": rec["url"], "events": json.loads(rec["events"] or "[]"),
            "groups": json.loads(rec["groups"] or "[]"), "include_resident": bool(rec["include_resident"]),
            "enabled": bool(rec["enabled"]), "created_at": rec["created_at"], "created_by": rec["created_by"],
            "updated_at": rec["updated_at"]}


def get_webhook(db, webhook_id):
    rec = row(db, "SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
    if rec is None:
        raise NotFound("no webhook %s" % webhook_id)
    return view(rec)


def list_webhooks(db):
    return [view(r) for r in rows(db, "SELECT * FROM webhooks ORDER BY id")]


def create_webhook(db, box, actor, url, name=None, events=(), groups=(), include_resident=False, secret=None):
    """(webhook view, secret). The secret is generated unless given, and returned this once."""
    url = _check_url(url)
    name = _check_name(name)
    events = _check_list("events", events, allowed=EVENTS)
    groups = _check_list("groups", groups, pattern=GROUP)
    secret = new_secret() if secret is None else _check_secret(secret)
    now = clock.iso()
    with write_tx(db):
        cur = db.conn.execute(
            "INSERT INTO webhooks (name, url, secret_enc, events, groups, include_resident, enabled, created_at, "
            "created_by, updated_at) VALUES (?, ?, x'', ?, ?, ?, 1, ?, ?, ?)",
            (name, url, json.dumps(events), json.dumps(groups), int(bool(include_resident)), now, str(actor), now))
        webhook_id = cur.lastrowid
        db.conn.execute("UPDATE webhooks SET secret_enc = ? WHERE id = ?", (_seal(box, webhook_id, secret), webhook_id))
        audit.record(db, actor, "webhook.create", "webhook:%d" % webhook_id,
                     {"url": url, "events": events, "groups": groups, "include_resident": bool(include_resident)})
    return get_webhook(db, webhook_id), secret


def update_webhook(db, actor, webhook_id, url=None, name=None, events=None, groups=None, include_resident=None,
                   enabled=None):
    changes = {}
    if url is not None:
        changes["url"] = _check_url(url)
    if name is not None:
        changes["name"] = _check_name(name)
    if events is not None:
        changes["events"] = json.dumps(_check_list("events", events, allowed=EVENTS))
    if groups is not None:
        changes["groups"] = json.dumps(_check_list("groups", groups, pattern=GROUP))
    if include_resident is not None:
        changes["include_resident"] = int(bool(include_resident))
    if enabled is not None:
        changes["enabled"] = int(bool(enabled))
    with write_tx(db):
        get_webhook(db, webhook_id)
        if changes:
            sets = ", ".join("%s = ?" % k for k in changes)
            db.conn.execute("UPDATE webhooks SET %s, updated_at = ? WHERE id = ?" % sets,
                            (*changes.values(), clock.iso(), webhook_id))
            audit.record(db, actor, "webhook.update", "webhook:%d" % webhook_id, {"fields": sorted(changes)})
    return get_webhook(db, webhook_id)


def rotate_secret(db, box, actor, webhook_id):
    secret = new_secret()
    with write_tx(db):
        get_webhook(db, webhook_id)
        db.conn.execute("UPDATE webhooks SET secret_enc = ?, updated_at = ? WHERE id = ?",
                        (_seal(box, webhook_id, secret), clock.iso(), webhook_id))
        audit.record(db, actor, "webhook.rotate", "webhook:%d" % webhook_id)
    return get_webhook(db, webhook_id), secret


def delete_webhook(db, actor, webhook_id):
    with write_tx(db):
        get_webhook(db, webhook_id)
        db.conn.execute("DELETE FROM webhook_attempts WHERE delivery_id IN "
                        "(SELECT id FROM webhook_deliveries WHERE webhook_id = ?)", (webhook_id,))
        db.conn.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?", (webhook_id,))
        db.conn.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
        audit.record(db, actor, "webhook.delete", "webhook:%d" % webhook_id)


def _delivery_view(rec, attempts):
    return {"id": rec["id"], "webhook_id": rec["webhook_id"], "alarm_id": rec["alarm_id"], "event": rec["event"],
            "state": rec["state"], "attempts": rec["attempts"], "next_attempt_at": rec["next_attempt_at"],
            "last_status": rec["last_status"], "last_error": rec["last_error"], "created_at": rec["created_at"],
            "delivered_at": rec["delivered_at"], "attempt_log": attempts}


def list_deliveries(db, webhook_id, limit=50, state=None):
    """A webhook's deliveries, newest first, each with its attempts (oldest first)."""
    get_webhook(db, webhook_id)
    sql, params = "SELECT * FROM webhook_deliveries WHERE webhook_id = ?", [webhook_id]
    if state is not None:
        sql += " AND state = ?"
        params.append(state)
    found = rows(db, sql + " ORDER BY id DESC LIMIT ?", params + [limit])
    attempts = {}
    if found:
        ids = [d["id"] for d in found]
        for a in rows(db, "SELECT * FROM webhook_attempts WHERE delivery_id IN (%s) ORDER BY id"
                      % ",".join("?" * len(ids)), ids):
            attempts.setdefault(a["delivery_id"], []).append(
                {"at": a["at"], "status_code": a["status_code"], "error": a["error"], "duration_ms": a["duration_ms"]})
    return [_delivery_view(d, attempts.get(d["id"], [])) for d in found]


def send_test(db, actor, webhook_id):
    """Queue a `ping` delivery to this webhook (the worker sends it like any other)."""
    with write_tx(db):
        get_webhook(db, webhook_id)
        now = clock.iso()
        body = orjson.dumps({"event": "ping", "at": now, "group": None, "alarm": None}).decode()
        cur = db.conn.execute("INSERT INTO webhook_deliveries (webhook_id, event, body, state, attempts, "
                              "next_attempt_at, created_at) VALUES (?, 'ping', ?, 'pending', 0, ?, ?)",
                              (webhook_id, body, now, now))
        audit.record(db, actor, "webhook.test", "webhook:%d" % webhook_id)
    return cur.lastrowid


# ---- the outbox ----------------------------------------------------------------------------

def _subscribed(tx, event, targets):
    """(webhook id, include_resident) of the enabled webhooks that want `event` about `targets`."""
    for webhook_id, events, groups, include_resident in tx.conn.execute(
            "SELECT id, events, groups, include_resident FROM webhooks WHERE enabled = 1"):
        events, groups = json.loads(events or "[]"), json.loads(groups or "[]")
        if events and event not in events:
            continue
        if groups and not set(groups) & set(targets):
            continue
        yield webhook_id, include_resident


def _insert(tx, webhook_id, event, body, alarm_id=None):
    tx.conn.execute("INSERT INTO webhook_deliveries (webhook_id, alarm_id, event, body, state, attempts, "
                    "next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
                    (webhook_id, alarm_id, event, body, tx.now_iso, tx.now_iso))


def enqueue_event(tx, event, payload, groups=()):
    """Inside a capability's transaction: one delivery of {"event", "at", **payload} per enabled
    webhook that wants it. event: a registered name; groups: the responder groups it concerns.
    Returns how many."""
    if event not in EVENTS:
        raise ValueError("webhook event %r is not registered (register_events)" % event)
    body = None
    count = 0
    for webhook_id, _ in list(_subscribed(tx, event, groups)):
        body = body or orjson.dumps(dict(payload, event=event, at=tx.now_iso)).decode()
        _insert(tx, webhook_id, event, body)
        count += 1
    return count


def enqueue(tx, event, alarm, targets, group=None):
    """Inside an alarm transition's transaction: one delivery per matching enabled webhook. Returns how many."""
    plain = None
    full = None
    count = 0
    for webhook_id, include_resident in list(_subscribed(tx, event, targets)):
        if include_resident:
            full = full or orjson.dumps({"event": event, "at": tx.now_iso, "group": group, "alarm": alarm}).decode()
            body = full
        else:
            plain = plain or orjson.dumps({"event": event, "at": tx.now_iso, "group": group,
                                           "alarm": dict(alarm, resident=None)}).decode()
            body = plain
        _insert(tx, webhook_id, event, body, alarm["id"])
        count += 1
    return count


def record_attempt(tx, delivery_id, ok, status_code, error, duration_ms, settings):
    """Writer job: store one attempt and what happens next (delivered, retry later, failed)."""
    attempts = tx.conn.execute("SELECT attempts FROM webhook_deliveries WHERE id = ?", (delivery_id,)).fetchone()
    if attempts is None:
        return None     # the webhook was deleted meanwhile
    attempts = attempts[0] + 1
    tx.conn.execute("INSERT INTO webhook_attempts (delivery_id, at, status_code, error, duration_ms) "
                    "VALUES (?, ?, ?, ?, ?)", (delivery_id, tx.now_iso, status_code, error, duration_ms))
    if ok:
        state, next_at, delivered = "delivered", None, tx.now_iso
    elif attempts >= settings.webhook_max_attempts:
        state, next_at, delivered = "failed", None, None
    else:
        delay = min(settings.webhook_backoff_s * 2 ** (attempts - 1), settings.webhook_backoff_max_s)
        state, next_at, delivered = "pending", clock.iso(tx.now + delay), None
    tx.conn.execute("UPDATE webhook_deliveries SET attempts = ?, state = ?, next_attempt_at = ?, last_status = ?, "
                    "last_error = ?, delivered_at = ? WHERE id = ?",
                    (attempts, state, next_at, status_code, error, delivered, delivery_id))
    return state


def drop(tx, delivery_id, reason):
    tx.conn.execute("UPDATE webhook_deliveries SET state = 'dropped', next_attempt_at = NULL, last_error = ? "
                    "WHERE id = ? AND state = 'pending'", (reason, delivery_id))


class WebhookWorker:
    """The lifespan task that sends pending deliveries when due, CONCURRENCY at a time."""

    def __init__(self, reader, writer, box, settings):
        self._reader = reader
        self._writer = writer
        self._box = box
        self._settings = settings
        self._wake = asyncio.Event()
        self._in_flight = set()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._tasks = set()

    def wake(self):
        self._wake.set()

    def _due(self):
        now = clock.iso()
        found = self._reader.conn.execute(
            "SELECT d.id, d.event, d.body, d.webhook_id, w.url, w.secret_enc, w.enabled FROM webhook_deliveries d "
            "LEFT JOIN webhooks w ON w.id = d.webhook_id WHERE d.state = 'pending' AND d.next_attempt_at <= ? "
            "ORDER BY d.next_attempt_at, d.id LIMIT ?", (now, BATCH + len(self._in_flight))).fetchall()
        due = [d for d in found if d[0] not in self._in_flight][:BATCH]
        later = self._reader.conn.execute(
            "SELECT min(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at > ?",
            (now,)).fetchone()[0]
        return due, later

    async def run(self):
        async with httpx.AsyncClient(timeout=self._settings.webhook_timeout_s, follow_redirects=False) as client:
            try:
                while True:
                    try:
                        due, later = self._due()
                    except Exception:
                        log.exception("webhook worker could not read deliveries")
                        due, later = [], None
                    for delivery in due:
                        self._in_flight.add(delivery[0])
                        task = asyncio.create_task(self._attempt(client, delivery))
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                    delay = IDLE_S if later is None else max(0.0, clock.parse_iso(later) - clock.now())
                    if due and len(due) >= BATCH:
                        delay = 0.0
                    await within(self._wake.wait(), min(delay, IDLE_S))
                    self._wake.clear()
            finally:
                for task in list(self._tasks):
                    task.cancel()

    async def _attempt(self, client, delivery):
        delivery_id, event, body, webhook_id, url, sealed, enabled = delivery
        try:
            if url is None or not enabled:
                await self._writer.call(lambda tx: drop(tx, delivery_id, "webhook disabled or deleted"))
                return
            async with self._slots:
                ok, status, error, duration = await self._post(client, delivery_id, event, body, webhook_id, url,
                                                               sealed)
            if not ok:
                WEBHOOK_FAILED_ATTEMPTS.inc()
                log.warning("webhook %d delivery %d failed: %s", webhook_id, delivery_id, error or status)
            settings = self._settings
            await self._writer.call(lambda tx: record_attempt(tx, delivery_id, ok, status, error, duration, settings))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook %d delivery %d: attempt not recorded", webhook_id, delivery_id)
        finally:
            self._in_flight.discard(delivery_id)
            self._wake.set()     # its next attempt time (or the next delivery) may now be due

    async def _post(self, client, delivery_id, event, body, webhook_id, url, sealed):
        raw = body.encode()
        stamp = int(clock.now())
        secret = _open(self._box, webhook_id, sealed).decode()
        msg_id = message_id(delivery_id)
        headers = {"Content-Type": "application/json", "User-Agent": "district-fleet-webhooks/1",
                   H_EVENT: event, H_ID: msg_id, H_TIMESTAMP: str(stamp), H_SIGNATURE: sign(secret, msg_id, stamp, raw)}
        started = time.monotonic()
        try:
            response = await client.post(url, content=raw, headers=headers)
            status, error = response.status_code, None if response.is_success else "HTTP %d" % response.status_code
            ok = response.is_success
        except httpx.HTTPError as exc:
            status, error, ok = None, ("%s: %s" % (type(exc).__name__, exc))[:200], False
        return ok, status, error, int((time.monotonic() - started) * 1000)
