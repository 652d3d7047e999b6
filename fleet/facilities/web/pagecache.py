"""Rendered public asset pages, kept by everything they are made of.

A QR label is scanned far more often than its asset changes, and rendering the page (Jinja,
Babel's date formatting) costs most of a request. The page is a function of: the template, the
reader's language, the path asked (the language switch links back to it), the time zone's current
offset, and the asset's public facts - including its status, which public.view() reads from the
database on every request. The cache is keyed by all of them, so a status change, an edit of
the asset (from this process, another one or the CLI), a language switch or the end of the
"repaired on" period is a different key: an entry can never be served stale or in another
language, and nothing has to remember to drop it. Old entries fall out of the LRU.
"""

import collections
import datetime
import threading

MAX_ENTRIES = 2048          # ~6 KB a page: at most ~12 MB, whatever codes and paths are asked for


class RenderedPages:
    def __init__(self, max_entries=MAX_ENTRIES):
        self.max_entries = max_entries
        self._pages = collections.OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(template, lang, path, zone, facts):
        """The cache key of a page: facts is a dict of plain values (public.view())."""
        offset = datetime.datetime.now(zone).utcoffset()
        return (template, lang, path, offset, tuple(sorted(facts.items())))

    def get(self, key):
        with self._lock:
            body = self._pages.get(key)
            if body is None:
                self.misses += 1
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return body

    def put(self, key, body):
        with self._lock:
            self._pages[key] = body
            self._pages.move_to_end(key)
            while len(self._pages) > self.max_entries:
                self._pages.popitem(last=False)

    def __len__(self):
        return len(self._pages)
