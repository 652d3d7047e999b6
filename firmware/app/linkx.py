# The link's rare paths, loaded on first failure: what an error means and how long to
# wait (backoff with jitter, or long pauses for errors a retry cannot fix), and how a
# batch the fleet refuses is taken apart so one bad event cannot block the queue.
import time
import log
from link import ProtoError


def failed(link, ex, bo):
    """Record a failed exchange; returns ms to wait before the next attempt."""
    if link.fail_t is None:
        link.fail_t = time.ticks_ms()
    code = getattr(ex, "code", None)
    link.last_error = code or log.describe(ex, 80)
    if isinstance(ex, ProtoError):
        if code == "revoked":
            link.stopped = code
            log.e("link", "device revoked by the fleet: needs re-provisioning")
            return 3600000
        if code in ("unknown_device", "bad_signature", "no_identity") or code.startswith("token_"):
            log.e("link", "%s: %s" % (code, "secret does not match" if code == "bad_signature"
                                       else "re-enroll with a new token"))
            return 600000
    else:
        link.online = False
    d = bo.next()
    log.w("link", "offline (%s), retry in %d ms" % (link.last_error, d))
    return d


def refused(link, ex, first_ev, first):
    """The fleet refused a batch: send one by one, then drop the refused event (the
    outbox sends an "error" placeholder in its place). Returns 0 or re-raises."""
    if ex.status == 400 and ex.code in ("bad_request", "unknown_event_type", "bad_json"):
        if link.batch_n > 1:
            log.w("link", "batch refused (%s), sending one by one" % ex.code)
            link.batch_n = 1
            return 0
        if b'"where":"outbox"' in first_ev:
            raise ex                        # even the placeholder is refused: back off
        log.w("link", "event seq %d refused (%s), dropped" % (first, ex.code))
        link.ob.drop(first)
        return 0
    if ex.code == "too_large" and (link.batch_n > 1 or link.batch_bytes > 512):
        link.batch_n = max(1, min(link.batch_n, 50) // 2)
        link.batch_bytes = max(512, link.batch_bytes // 2)
        return 0
    raise ex
