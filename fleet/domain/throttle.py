"""Guessing gets slower the more it fails: password logins and enrollment tokens.

A slow password hash is not a limit (it only makes each guess cost the server more). Here a
key (an address, an account, both) gets `free` failures; each failure after that locks it for
a delay that doubles - 1 s, 2 s, 4 s ... at most `max_s`. A locked key is refused (429 with
Retry-After) *before* any password or token is checked, and that refusal does not count as a
failure: hammering a lock neither lengthens it nor costs a hash. Failures are forgiven one a
minute (an address's logins, all accounts together: one every 3 minutes), so an office's
occasional typos never add up to a lock, while a guesser who waits out each lock is held to
about one guess a minute.

Logins (LoginThrottle) are limited three ways, so that neither one address nor many can lock a
user out of where they usually log in:
  - account + address: `login_free_failures` wrong passwords (the typo case); a success clears it.
    Another address is not affected, so an attacker's address never locks the real user out.
  - address, all accounts together: `login_free_failures_per_address` (password spraying).
  - account, from many addresses: once wrong passwords for one account came from
    `login_account_spread` different addresses within the hour, each further failure locks the
    account (doubling, at most ACCOUNT_MAX_S) for every address except those it has logged in
    from successfully (the last KNOWN_ADDRESSES, kept since the server started).
Concurrent guesses cannot slip through together: while a key has used its free failures, one
attempt at a time is let through.

State lives in memory (one process serves one database); a restart forgets it. Each table is
capped (MAX_KEYS, oldest dropped first), so a flood of addresses or names cannot exhaust memory.
"""

import collections
import math
import threading
import time

from fleet.errors import TooManyAttempts

FORGIVE_S = 60.0              # one failure of an account, account+address or enrollment address forgiven a minute
ADDRESS_FORGIVE_S = 180.0     # one login failure of an address (all accounts) forgiven every 3 minutes
SPREAD_WINDOW_S = 3600.0      # addresses failing on one account are counted over this
ACCOUNT_MAX_S = 60.0
KNOWN_ADDRESSES = 8
MAX_KEYS = 100_000


def in_words(seconds):
    seconds = max(1, math.ceil(seconds))
    if seconds < 120:
        return "%d s" % seconds
    return "%d min" % math.ceil(seconds / 60)


class Backoff:
    """Failures per key: `free` cost nothing, then each locks the key for 1, 2, 4 ... max_s seconds.
    One failure is forgiven every `forgive_s` seconds, so occasional typos never add up."""

    def __init__(self, free, max_s, forgive_s, max_keys=MAX_KEYS):
        self.free = free
        self.max_s = max_s
        self.forgive_s = forgive_s
        self.max_keys = max_keys
        self._keys = collections.OrderedDict()   # key -> [failures, locked until, last update, in flight]

    def _get(self, key, now):
        state = self._keys.get(key)
        if state is None:
            return None
        state[0] = max(0.0, state[0] - (now - state[2]) / self.forgive_s)
        state[2] = now
        if state[0] == 0 and state[1] <= now and state[3] <= 0:
            del self._keys[key]
            return None
        return state

    def _state(self, key, now):
        state = self._get(key, now)
        if state is None:
            state = self._keys[key] = [0.0, 0.0, now, 0]
            if len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
        return state

    def wait(self, key, now):
        """Seconds before `key` may try again; 0 if it may now."""
        state = self._get(key, now)
        if state is None:
            return 0.0
        if state[1] > now:
            return state[1] - now
        if state[3] >= max(1, self.free - state[0]):
            return 1.0          # its attempts in flight already use what it may fail
        return 0.0

    def begin(self, key, now):
        self._state(key, now)[3] += 1

    def end(self, key, now, failed):
        state = self._keys.get(key)
        if state is not None:
            state[3] = max(0, state[3] - 1)
        if failed:
            self.fail(key, now)

    def fail(self, key, now):
        state = self._state(key, now)
        state[0] += 1
        if state[0] > self.free:
            state[1] = now + min(self.max_s, 2.0 ** (state[0] - self.free - 1))
        self._keys.move_to_end(key)

    def clear(self, key):
        state = self._keys.get(key)
        if state is not None:
            state[0], state[1] = 0.0, 0.0


class LoginThrottle:
    def __init__(self, settings, refusals=None):
        self.pair = Backoff(settings.login_free_failures, settings.lockout_max_s, FORGIVE_S)
        self.address = Backoff(settings.login_free_failures_per_address, settings.lockout_max_s, ADDRESS_FORGIVE_S)
        self.account = Backoff(0, ACCOUNT_MAX_S, FORGIVE_S)
        self.spread = settings.login_account_spread
        self.refusals = refusals              # fleet.domain.audit.RefusalTally, or None
        self._failing_from = collections.OrderedDict()   # account -> {address: last failure}
        self._known = {}                      # account -> deque of addresses it logged in from
        self._lock = threading.Lock()

    @staticmethod
    def account_key(username):
        return (username or "").strip().lower()[:64]

    def _under_attack(self, account, now):
        sources = self._failing_from.get(account)
        if not sources:
            return False
        recent = sum(1 for t in sources.values() if now - t <= SPREAD_WINDOW_S)
        return recent >= self.spread

    def begin(self, username, address, now=None):
        """Before checking a password: an attempt token, or TooManyAttempts."""
        now = time.monotonic() if now is None else now
        account = self.account_key(username)
        with self._lock:
            wait = max(self.pair.wait((account, address), now), self.address.wait(address, now))
            if self._under_attack(account, now) and address not in self._known.get(account, ()):
                wait = max(wait, self.account.wait(account, now))
            if wait > 0:
                if self.refusals is not None:
                    self.refusals.add("session.throttled", address, target=account)
                raise TooManyAttempts("too many failed logins: try again in %s" % in_words(wait), wait)
            self.pair.begin((account, address), now)
            self.address.begin(address, now)
        return account, address

    def end(self, attempt, ok, now=None):
        """After checking the password: ok is whether it was right (None: the check itself failed)."""
        now = time.monotonic() if now is None else now
        account, address = attempt
        with self._lock:
            self.pair.end((account, address), now, failed=ok is False)
            self.address.end(address, now, failed=ok is False)
            if ok is None:
                return
            if ok:
                self.pair.clear((account, address))
                known = self._known.setdefault(account, collections.deque(maxlen=KNOWN_ADDRESSES))
                if address not in known:
                    known.append(address)
                if len(self._known) > MAX_KEYS:
                    self._known.pop(next(iter(self._known)))
                return
            sources = self._failing_from.setdefault(account, collections.OrderedDict())
            sources[address] = now
            sources.move_to_end(address)
            while len(sources) > 4 * self.spread:
                sources.popitem(last=False)
            self._failing_from.move_to_end(account)
            if len(self._failing_from) > MAX_KEYS:
                self._failing_from.popitem(last=False)
            if self._under_attack(account, now):
                self.account.fail(account, now)


class EnrollThrottle:
    """Refused enrollments per address: `enroll_free_refusals`, then the doubling lock. Successful
    enrollments are never limited (each needs a fresh token a person minted)."""

    def __init__(self, settings, refusals=None):
        self.address = Backoff(settings.enroll_free_refusals, settings.lockout_max_s, FORGIVE_S)
        self.refusals = refusals
        self._lock = threading.Lock()

    def check(self, address, now=None):
        now = time.monotonic() if now is None else now
        with self._lock:
            wait = self.address.wait(address, now)
        if wait > 0:
            if self.refusals is not None:
                self.refusals.add("enroll.throttled", address)
            raise TooManyAttempts("too many refused enrollments from this address: retry in %s"
                                  % in_words(wait), wait)

    def refused(self, address, code, hw_id=None, now=None):
        now = time.monotonic() if now is None else now
        with self._lock:
            self.address.fail(address, now)
        if self.refusals is not None:
            self.refusals.add("enroll.refused", address, code=code, target=hw_id)
