"""The fleet as the technician's tool sees it: mint enrollment tokens, find a device by its MAC,
wait for its first hello, report provisioning runs. The technician's own API token authenticates
(Authorization: Bearer ft_…); Wi-Fi credentials are never sent."""

import time

import httpx

from . import errors

TOKEN_TTL_S = 7 * 24 * 3600         # an enrollment token minted for a board outlives a day in the van


class Fleet:
    def __init__(self, url, api_token, timeout=10.0, verify=True):
        if not url or not url.startswith(("http://", "https://")):
            raise errors.FleetUnreachable("fleet URL %r must start with http:// or https://" % (url,))
        if not api_token:
            raise errors.FleetRefused("no API token for the fleet",
                                      fix="Create one in the fleet (`fleet token create`) and pass it with --token "
                                          "or the PROVISION_TOKEN environment variable.")
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout, verify=verify,
                                  headers={"Authorization": "Bearer " + api_token})

    def close(self):
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, path, **kw):
        try:
            r = self._http.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise errors.FleetUnreachable("cannot reach the fleet at %s: %s" % (self.url, e))
        if r.status_code in (401, 403):
            raise errors.FleetRefused("the fleet refused your API token (%d): %s" % (r.status_code, _detail(r)))
        if r.status_code >= 400:
            raise errors.ProvisionError("the fleet answered %d to %s %s: %s" % (r.status_code, method, path, _detail(r)))
        return r.json() if r.content else None

    def whoami(self):
        return self._call("GET", "/api/v1/auth/me")

    def mint_token(self, role, board, site=None, ttl_s=TOKEN_TTL_S):
        body = {"expires_in_s": ttl_s, "count": 1, "role": role, "board": board}
        if site:
            body["site"] = site
        return self._call("POST", "/api/v1/enrollment-tokens", json=body)[0]

    def check_token(self, token, role, board, site=None):
        """Refuse a token the device could not use (expired, used, revoked, bound elsewhere) before
        it is written to a board: EnrollRefused names why."""
        found = [t for t in self._call("GET", "/api/v1/enrollment-tokens") if token.startswith(t["prefix"])]
        if not found:
            raise errors.EnrollRefused("the fleet knows no enrollment token %s…" % token[:7])
        t = found[0]
        if t["state"] != "valid":
            raise errors.EnrollRefused("enrollment token %s… is %s%s" % (token[:7], t["state"], (
                " (since %s)" % t["expires_at"]) if t["state"] == "expired" else ""))
        for field, want in (("role", role), ("board", board), ("site", site)):
            if t.get(field) is not None and want is not None and t[field] != want:
                raise errors.EnrollRefused("enrollment token %s… is for %s %r, not %r"
                                           % (token[:7], field, t[field], want))
        return t

    def token_state(self, token_id):
        for t in self._call("GET", "/api/v1/enrollment-tokens"):
            if t["id"] == token_id:
                return t
        return None

    def device_by_hw_id(self, hw_id):
        found = self._call("GET", "/api/v1/devices", params={"hw_id": hw_id})
        return found[0] if found else None

    def wait_hello(self, hw_id, timeout=120.0, since=None, poll=0.5):
        """The device with this MAC once it has said hello (after `since`, an ISO time)."""
        deadline = time.monotonic() + timeout
        while True:
            d = self.device_by_hw_id(hw_id)
            if d and d.get("last_hello") and (since is None or d["last_hello"] >= since):
                return d
            if time.monotonic() > deadline:
                state = "enrolled as %s but silent" % d["id"] if d else "not enrolled"
                raise errors.NoHello("no hello from the device %s within %d s (%s)" % (hw_id, timeout, state))
            time.sleep(poll)

    def report_run(self, run):
        """Record a provisioning run in the fleet (best effort: the fleet may not offer it)."""
        try:
            return self._call("POST", "/api/v1/provisioning/runs", json=run)
        except errors.ProvisionError:
            return None


def _detail(r):
    try:
        d = r.json()
        return d.get("detail") or d.get("error") or r.text[:200]
    except ValueError:
        return r.text[:200]
