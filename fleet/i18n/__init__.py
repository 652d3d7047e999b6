"""The fleet's languages: Simplified Chinese (zh_CN, the district's first language) and English.

One gettext catalog per language, fleet/i18n/locale/<lang>/LC_MESSAGES/fleet.po, holds every
people-facing string of the web pages, their scripts and the `fleet` CLI's help; msgids are the
English source strings. The .po files are the only source: they are compiled in memory the first
time a language is needed (about 15 ms with Babel), so a fresh clone and an installed wheel work
without a build step and no compiled file can drift from its .po. docs/i18n.md says how to add
a string.
"""

import functools
import io
import re
import zoneinfo
from pathlib import Path

from babel import Locale
from babel.messages import mofile, pofile
from babel.support import Translations

from fleet.errors import Invalid

DOMAIN = "fleet"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"
# BCP 47 tags for HTML lang= and the browser's Intl API.
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}
_Q = re.compile(r"^q=([01](?:\.\d{0,3})?)$")


def po_path(lang):
    return LOCALE_DIR / lang / "LC_MESSAGES" / (DOMAIN + ".po")


@functools.cache
def catalog(lang):
    """The Babel Catalog of a language, read from its .po file."""
    with open(po_path(lang), "rb") as f:
        return pofile.read_po(f, locale=lang, domain=DOMAIN)


@functools.cache
def mo_bytes(lang):
    """The language's catalog compiled to gettext's binary .mo format (fuzzy entries left out)."""
    out = io.BytesIO()
    mofile.write_mo(out, catalog(lang))
    return out.getvalue()


@functools.cache
def translations(lang):
    """gettext translations for lang; an unknown language gets English (the msgids)."""
    if lang not in LANGUAGES:
        lang = "en"
    return Translations(io.BytesIO(mo_bytes(lang)), domain=DOMAIN)


def supported(lang, default=DEFAULT_LANGUAGE):
    """A language of ours for a tag such as 'zh-CN', 'zh_Hans', 'en-US' or 'en'; default otherwise."""
    if not lang:
        return default
    tag = lang.strip().replace("-", "_")
    exact = {code.lower(): code for code in LANGUAGES}
    if tag.lower() in exact:
        return exact[tag.lower()]
    primary = tag.split("_")[0].lower()
    # Every Chinese variant gets Simplified Chinese: closer to its reader than English.
    by_primary = {"zh": "zh_CN", "en": "en"}
    return by_primary.get(primary, default)


def negotiate(accept_language, default=DEFAULT_LANGUAGE):
    """The best of our languages for an Accept-Language header (RFC 9110 q-values); default if none fits."""
    ranked = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, *params = [p.strip() for p in part.split(";")]
        if not tag:
            continue
        quality = 1.0
        for param in params:
            found = _Q.match(param.replace(" ", ""))
            if found:
                quality = float(found.group(1))
        if quality > 0:
            ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        if tag == "*":
            return default
        found = supported(tag, default=None)
        if found:
            return found
    return default


def time_zone(name):
    """The site's time zone (a ZoneInfo); Invalid for a name the tz database does not know."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Invalid("FLEET_TIME_ZONE=%r is not a time zone (use a tz database name such as Asia/Shanghai)"
                      % name)


def babel_locale(lang):
    return Locale.parse(lang if lang in LANGUAGES else "en")


def check_settings(settings):
    """Refuse a default language or time zone the pages cannot use, before the server starts."""
    if settings.default_language not in LANGUAGES:
        raise Invalid("FLEET_DEFAULT_LANGUAGE=%r: use one of %s" % (settings.default_language, ", ".join(LANGUAGES)))
    time_zone(settings.time_zone)
