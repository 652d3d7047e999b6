# Device configuration, three layers:
#  1. defaults in code: devproto.default_config() (the protocol's config keys);
#  2. identity and site: /config.json, written at provisioning
#     {"role", "board", "fleet_url", "wifi": {"ssid", "password"}, "site",
#      "enroll_token" (until enrolled), "device_id", "secret" (after enrollment),
#      optional "role_module", "power" ("battery" | "mains"), "ca" (path of a CA
#      certificate for https)};
#  3. config pushed by the fleet (down.config), merged with devproto.merge_config
#     and kept with its version in /state/devcfg.json {"cv": n, "config": {...}}.
import devproto
import store
import log
from micropython import const

_IDENTITY = const("/config.json")
_DEVCFG = const("/state/devcfg.json")


def parse_url(url):
    """'https://host:port/base' -> (tls, host, port, base_path)."""
    tls = url.startswith("https://")
    rest = url.split("://", 1)[1] if "://" in url else url
    slash = rest.find("/")
    hostport, base = (rest, "") if slash < 0 else (rest[:slash], rest[slash:].rstrip("/"))
    if hostport.startswith("["):                       # [v6]:port
        end = hostport.find("]")
        host, tail = hostport[1:end], hostport[end + 1:]
        port = int(tail[1:]) if tail.startswith(":") else (443 if tls else 80)
    elif ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        port = int(p)
    else:
        host, port = hostport, (443 if tls else 80)
    return tls, host, port, base


class Config:
    def __init__(self, ident=None):
        if ident is None:
            ident = store.read_json(_IDENTITY, None)
        self.ident = ident if isinstance(ident, dict) else None
        d = store.read_json(_DEVCFG, None)
        if not isinstance(d, dict):
            d = {}
        cv = d.get("cv", 0)
        self.cv = cv if isinstance(cv, int) and cv >= 0 else 0
        pushed = d.get("config")
        self.dev = devproto.merge_config(devproto.default_config(),
                                         pushed if isinstance(pushed, dict) else {})

    # ---- identity -------------------------------------------------------------
    def get(self, key, default=None):
        if self.ident is None:
            return default
        v = self.ident.get(key)
        return default if v is None else v

    def provisioned(self):
        return self.ident is not None and bool(self.get("fleet_url")) and bool(self.get("role"))

    def enrolled(self):
        return bool(self.get("device_id")) and bool(self.get("secret"))

    # ---- device config pushed by the fleet ------------------------------------
    def apply(self, pushed, cv):
        """Merge a pushed config; persist it with its version. Returns changed keys."""
        if not isinstance(pushed, dict):
            return []
        new = devproto.merge_config(self.dev, pushed)
        changed = [k for k in new if new[k] != self.dev.get(k)]
        if not isinstance(cv, int) or cv < 0:
            cv = self.cv
        if changed or cv != self.cv:
            self.dev.update(new)        # in place: the runtime holds it as rt.cfg
            self.cv = cv
            store.makedirs("/state")
            store.write_json(_DEVCFG, {"cv": cv, "config": new})
            log.i("config", "v%d applied%s" % (cv, (" " + ",".join(changed)) if changed else ""))
        return changed

    def __getitem__(self, key):
        return self.dev[key]
