"""Guessing against a real server: wrong passwords and enrollment tokens get slower the more they
fail (429 + Retry-After), per address and per account, without locking the real user out from
elsewhere; refused enrollments are audited as summaries, not a row per guess.

Addresses other than loopback are the X-Forwarded-For of a proxy on 127.0.0.1, which uvicorn
trusts by default (FLEET_FORWARDED_ALLOW_IPS)."""

import concurrent.futures
import time

import devproto
import httpx
import pytest

from fleet.core.config import Settings
from fleet.domain import audit
from fleetkit import PASSWORD, count, make_user, mint, wait_for


@pytest.fixture
def settings(tmp_path):
    return Settings(db=tmp_path / "fleet.db", status_interval_s=0.05, audit_summary_s=0.3,
                    login_free_failures=5, login_free_failures_per_address=20, login_account_spread=3,
                    enroll_free_refusals=10)


def login(http, username, password, address=None):
    headers = {"Origin": str(http.base_url).rstrip("/")}
    if address:
        headers["X-Forwarded-For"] = address
    return http.post("/api/v1/auth/login", json={"username": username, "password": password}, headers=headers)


def assert_throttled(response, at_least_s=1):
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limited"
    assert "try again in" in response.json()["error"]["message"]
    assert int(response.headers["retry-after"]) >= at_least_s
    assert "fleet_session" not in response.cookies


def fail_once_more(http, user, address=None):
    """Wait out the current lock (probing: a refusal while locked is not a failure), then fail once."""
    while True:
        response = login(http, user, "still wrong", address)
        if response.status_code != 429:
            assert response.status_code == 401, response.text
            return
        time.sleep(0.2)


def test_wrong_passwords_slow_down_one_address_but_not_the_user_elsewhere(live_server, db):
    user = make_user(db, "caregiver")["username"]
    with httpx.Client(base_url=live_server, timeout=10) as http:
        statuses = [login(http, user, "wrong password %d" % i).status_code for i in range(30)]
        assert statuses[:6] == [401] * 6                  # 5 free failures; the 6th locks for 1 s
        assert statuses.count(429) >= 20, statuses        # refused without looking at the password
        fail_once_more(http, user)                        # the lock doubles with each failure: 2 s...
        fail_once_more(http, user)                        # ...then 4 s
        assert_throttled(login(http, user, PASSWORD), at_least_s=3)   # the right password waits too
        # The real user at another address is not locked out by the guessing one.
        assert login(http, user, PASSWORD, address="10.0.0.7").status_code == 200
    refused = audit.entries(db, action="session.refused")
    assert len(refused) == statuses.count(401) + 2, "one row per password checked, not per refusal"
    throttled = wait_for(lambda: audit.entries(db, action="session.throttled"), what="throttle summary")
    assert sum(e["detail"]["count"] for e in throttled) >= 20 and throttled[0]["ip"] == "127.0.0.1"


def test_concurrent_guesses_do_not_slip_through_together(live_server, db):
    user = make_user(db, "technician")["username"]
    with httpx.Client(base_url=live_server, timeout=30) as http, \
            concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda i: login(http, user, "guess %d" % i, "10.0.5.5").status_code, range(40)))
    assert statuses.count(401) <= 6 and statuses.count(429) >= 34, statuses


def test_one_address_guessing_many_accounts_is_slowed(live_server, db):
    victims = [make_user(db, "caregiver")["username"] for _ in range(3)]
    fresh = make_user(db, "caregiver")["username"]
    with httpx.Client(base_url=live_server, timeout=10) as http:
        for i in range(20):                                # 20 free across accounts (fewer than 5 each)
            assert login(http, victims[i % 3] if i < 12 else "nobody%d" % i, "spray", "10.0.6.6").status_code == 401
        assert login(http, "someone-else", "spray", "10.0.6.6").status_code == 401   # the 21st locks the address
        assert_throttled(login(http, fresh, PASSWORD, "10.0.6.6"))
        assert login(http, fresh, PASSWORD, "10.0.6.7").status_code == 200


def test_guessing_from_many_addresses_spares_where_the_user_logs_in(live_server, db):
    user = make_user(db, "admin")["username"]
    with httpx.Client(base_url=live_server, timeout=10) as http:
        assert login(http, user, PASSWORD, "10.0.0.1").status_code == 200     # the user's usual place
        for n in range(3):                                 # a third address failing: the account slows down
            assert login(http, user, "botnet guess", "10.66.0.%d" % n).status_code == 401
        fail_once_more(http, user, "10.66.1.1")            # and doubles with each failure: 1, 2, 4 s
        fail_once_more(http, user, "10.66.1.2")
        assert_throttled(login(http, user, PASSWORD, "10.66.2.1"), at_least_s=3)
        assert login(http, user, PASSWORD, "10.0.0.1").status_code == 200     # known address: not locked


def test_login_page_says_how_long_to_wait(live_server, db):
    user = make_user(db, "caregiver")["username"]
    with httpx.Client(base_url=live_server, timeout=10) as http:
        form = {"username": user, "password": "nope nope"}
        for _ in range(6):
            assert http.post("/login", data=form, headers={"Origin": live_server}).status_code == 401
        page = http.post("/login", data=form, headers={"Origin": live_server, "Accept-Language": "en"})
        assert page.status_code == 429 and int(page.headers["retry-after"]) >= 1
        assert "try again in %s s" % page.headers["retry-after"] in page.text and 'name="password"' in page.text
        page = http.post("/login", data=form, headers={"Origin": live_server})     # the district's language
        assert page.status_code == 429 and "秒后再试" in page.text


def enroll_body(token, hw_id="a4cf12345678"):
    return {"token": token, "hw_id": hw_id, "role": "call_button", "board": "esp32-devkitc"}


def db_bytes(path):
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def test_enrollment_guessing_is_slowed_and_audited_as_a_summary(live_server, db, settings):
    audit_before, size_before = count(db, "audit"), db_bytes(settings.db)
    started = time.monotonic()
    with httpx.Client(base_url=live_server, timeout=10) as http:
        answers = [http.post(devproto.PATH_ENROLL, json=enroll_body("et_guess%04d" % i)) for i in range(300)]
        codes = [r.json()["error"]["code"] for r in answers]
        assert codes[:11] == ["token_invalid"] * 11        # 10 free refusals; the 11th locks the address
        assert codes.count("rate_limited") >= 250, codes
        limited = next(r for r in answers if r.status_code == 429)
        assert int(limited.headers["retry-after"]) >= 1 and "retry in" in limited.json()["error"]["message"]
        assert limited.json()["time"] > 0                  # protocol-shaped, like every device answer
        # A real token from the locked address waits too; from another address it works at once.
        assert http.post(devproto.PATH_ENROLL, json=enroll_body(mint(db))).status_code == 429
        other = http.post(devproto.PATH_ENROLL, json=enroll_body(mint(db), "a4cf00000001"),
                          headers={"X-Forwarded-For": "10.0.8.8"})
        assert other.status_code == 201, other.text
    elapsed = time.monotonic() - started

    def summaries():
        refused, throttled = audit.entries(db, action="enroll.refused"), audit.entries(db, action="enroll.throttled")
        counted = (sum(e["detail"]["count"] for e in refused), sum(e["detail"]["count"] for e in throttled))
        return (refused, throttled) if counted == (codes.count("token_invalid"), codes.count("rate_limited") + 1) \
            else None

    refused, throttled = wait_for(summaries, what="summaries of every refusal")
    windows = elapsed / settings.audit_summary_s + 2
    assert len(refused) <= windows and len(throttled) <= windows, "a row per address and period, not per guess"
    assert {e["ip"] for e in refused + throttled} == {"127.0.0.1"}
    assert sum(e["detail"]["codes"].get("token_invalid", 0) for e in refused) == codes.count("token_invalid")
    assert refused[-1]["detail"]["targets"] == ["a4cf12345678"]
    # 300 guesses wrote the summaries and nothing else (besides two mints and one enrollment);
    # no guessed token is kept anywhere.
    assert count(db, "audit") - audit_before == len(refused) + len(throttled) + 3
    assert "et_guess" not in str(audit.entries(db, limit=1000))
    assert db_bytes(settings.db) - size_before < 300_000


def test_locks_double_and_failures_are_forgiven_over_time():
    from fleet.domain.throttle import Backoff
    backoff = Backoff(free=5, max_s=900, forgive_s=60)
    now = 1000.0
    for _ in range(5):
        backoff.fail("k", now)
    assert backoff.wait("k", now) == 0                    # five free
    locks = []
    for _ in range(12):
        backoff.fail("k", now)
        locks.append(round(backoff.wait("k", now)))
    assert locks == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    # Seventeen failures, forgiven one a minute: after 17 minutes without one, the key is clean again.
    assert backoff.wait("k", now + 17 * 60 + 1) == 0
    for _ in range(5):
        backoff.fail("k", now + 17 * 60 + 1)
    assert backoff.wait("k", now + 17 * 60 + 1) == 0      # five free again
