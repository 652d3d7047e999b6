# The board's trust in release keys (docs/ota.md "Keys"): which keys may sign a manifest, the
# security version reached (never goes back), key rotation and revocation.
#
#   /keys/<key id>.rsa   one trusted key: its RSA modulus, 384 raw bytes (the id is the SHA-256
#                        of those bytes, so a file cannot claim another key's id). Written by
#                        provisioning and by a rotation.
#   /state/trust.json    {"sv": n, "kseq": n, "revoked": [key ids]}: the security version the
#                        board has confirmed, the last rotation applied, keys never to trust again.
# Loaded only while an update is checked.
import os
import binascii
import store
from micropython import const

_DIR = const("/keys")
_STATE = const("/state/trust.json")


class Trust:
    def __init__(self):
        st = store.read_json(_STATE, None)
        st = st if isinstance(st, dict) else {}
        self.sv = st.get("sv", 0)
        self.kseq = st.get("kseq", 0)
        self.revoked = st.get("revoked", [])

    def keys(self):
        """Ids of the keys on the board that are not revoked."""
        try:
            names = os.listdir(store.path(_DIR))
        except OSError:
            return []
        return [n[:-4] for n in names if n.endswith(".rsa") and n[:-4] not in self.revoked]

    def lookup(self, kid):
        """The modulus of trusted key kid; Refused("revoked_key" / "unknown_key")."""
        from devproto import ota        # (not for raise_sv: the health gate's boot)
        if kid in self.revoked:
            raise ota.Refused("revoked_key")
        try:
            with open(store.path(_DIR + "/" + kid + ".rsa"), "rb") as f:
                n = f.read()
        except OSError:
            raise ota.Refused("unknown_key")
        if ota.key_id(n) != kid:        # a damaged or misnamed file trusts nothing
            raise ota.Refused("unknown_key")
        return n

    def _save(self):
        store.makedirs("/state")
        store.write_json(_STATE, {"sv": self.sv, "kseq": self.kseq, "revoked": self.revoked})

    def raise_sv(self, sv):
        """The board confirmed a release of security version sv: nothing older is taken again."""
        if sv > self.sv:
            self.sv = sv
            self._save()

    def rotate(self, m):
        """Apply a verified "keys" manifest: add its keys, revoke the listed ones. Refused
        ("not_newer") for a rotation already applied, ("bad_keys") for one that would add a
        malformed or revoked key or leave no key to trust. A power cut between the two
        writes leaves the new keys trusted and the revocations to the same manifest's retry."""
        from devproto import ota
        if m["seq"] <= self.kseq:
            raise ota.Refused("not_newer")
        add = {}
        for kid in m.get("add", {}):
            try:
                n = binascii.unhexlify(m["add"][kid])
            except Exception:
                raise ota.Refused("bad_keys")
            if len(n) != ota.KEY_BYTES or ota.key_id(n) != kid or kid in self.revoked:
                raise ota.Refused("bad_keys")
            add[kid] = n
        revoke = [k for k in m.get("revoke", []) if isinstance(k, str) and len(k) == 16]
        left = [k for k in self.keys() + list(add) if k not in revoke]
        if not left:
            raise ota.Refused("bad_keys")
        store.makedirs(_DIR)
        for kid in add:
            store.write_atomic(_DIR + "/" + kid + ".rsa", add[kid])
        for kid in revoke:
            if kid not in self.revoked:
                self.revoked.append(kid)
            store.remove(_DIR + "/" + kid + ".rsa")
        self.kseq = m["seq"]
        self._save()
