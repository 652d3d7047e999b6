# Device configuration, three layers:
#  1. defaults in code: devproto's default_config() (devproto/devconfig.py: the protocol's
#     config keys; loaded while the config is read or applied, then dropped);
#  2. identity and site: /config.json, written at provisioning
#     {"role", "board", "fleet_url", "wifi": {"ssid", "password"}, "site",
#      "enroll_token" (until enrolled), "device_id", "secret" (after enrollment),
#      optional "role_module", "power" ("battery" | "mains"), "ca" (path of a CA
#      certificate for https)};
#  3. config pushed by the fleet (down.config), merged with devproto's merge_config
#     and kept with its version in /state/devcfg.json {"cv": n, "config": {...}}.
import sys
import store
import log
from micropython import const

_IDENTITY = const("/config.json")
_DEVCFG = const("/state/devcfg.json")


def _merge(current, pushed, keys=None):
    """current (None: the defaults) with a pushed config merged in, by devproto/devconfig.py,
    loaded for the moment: a device needs it at start-up and when the fleet pushes a config.
    keys: a role's own config keys, on top of devproto's (Config.add_keys)."""
    __import__("devproto.devconfig")
    dc = sys.modules.pop("devproto.devconfig")
    sys.modules["devproto"].__dict__.pop("devconfig", None)    # (import made it an attribute)
    schema = dict(dc.CONFIG, **keys) if keys else None
    return dc.merge_config(dc.default_config(schema) if current is None else current, pushed, schema)


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
        self.keys = None                # a role's own config keys (add_keys)
        self.dev = _merge(None, pushed if isinstance(pushed, dict) else {})

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
    def add_keys(self, keys):
        """A role's own config keys (key -> (kind, min, max, default), e.g. devproto/
        binconfig.py): their defaults and what the fleet pushed for them join self.dev (rt.cfg);
        later pushes apply them too."""
        self.keys = keys
        d = store.read_json(_DEVCFG, None)
        pushed = d.get("config") if isinstance(d, dict) else None
        self.dev.update(_merge(None, pushed if isinstance(pushed, dict) else {}, keys))

    def apply(self, pushed, cv):
        """Merge a pushed config; persist it with its version. Returns changed keys."""
        if not isinstance(pushed, dict):
            return []
        new = _merge(self.dev, pushed, self.keys)
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
