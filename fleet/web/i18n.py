"""The pages in the reader's language: which language a request gets, the template glue, the
scripts' catalog.

Language: the `lang` cookie (set by the 中文 / English switch on every page) if present, else the
best match of the browser's Accept-Language, else the `default_language` setting (zh_CN).
Times: in the site's time zone (setting `time_zone`, default Asia/Shanghai), formatted per
language - by Babel on the server, by the browser's Intl API (the same CLDR data) in the scripts.
Page scripts get their messages from GET /i18n/<lang>.js, made from the same .po files.
"""

import datetime
import functools
import hashlib
import json
import re

from babel import dates
from jinja2 import pass_context

from fleet import i18n


def N_(message):
    """Mark a message for extraction; it is translated where it is shown."""
    return message


COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 86400
ROLE_NAMES = {"admin": N_("admin"), "caregiver": N_("caregiver"), "technician": N_("technician")}
_PLURAL_EXPR = re.compile(r"^[n0-9\s!=<>&|%?:()+\-*/]+$")   # a C expression in n: valid JavaScript too


def request_language(request, default=i18n.DEFAULT_LANGUAGE):
    chosen = request.cookies.get(COOKIE)
    if chosen in i18n.LANGUAGES:
        return chosen
    return i18n.negotiate(request.headers.get("accept-language"), default)


def set_language_cookie(response, lang, secure):
    response.set_cookie(COOKIE, lang, max_age=COOKIE_MAX_AGE, samesite="lax", httponly=True, secure=secure,
                        path="/")


def local_target(target):
    """target if it is a path on this site, else "/" (the switch must not redirect elsewhere)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class PageLanguage:
    """What a template knows as `i18n`: the language, its translations and the site's time zone."""

    def __init__(self, lang, zone_name, path):
        self.lang = lang
        self.html_lang = i18n.HTML_LANG[lang]
        self.translations = i18n.translations(lang)
        self.zone_key = zone_name
        self.zone = i18n.time_zone(zone_name)
        self.locale = i18n.babel_locale(lang)
        self.here = path
        self.catalog_url = "/i18n/%s.js?v=%s" % (lang, js_catalog(lang)[1])

    def gettext(self, message):
        return self.translations.gettext(message)

    def ngettext(self, singular, plural, n):
        return self.translations.ngettext(singular, plural, n)

    def role(self, role):
        return self.gettext(ROLE_NAMES[role]) if role in ROLE_NAMES else role

    def zone_label(self):
        """'中国时间 (GMT+08:00)' / 'China Time (GMT+08:00)'."""
        now = datetime.datetime.now(self.zone)
        return "%s (%s)" % (dates.get_timezone_name(self.zone, locale=self.locale),
                            dates.get_timezone_gmt(now, locale=self.locale))

    def datetime(self, value, format="medium"):
        """An aware datetime or UTC ISO string in the site's zone, formatted for the language."""
        if isinstance(value, str):
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return dates.format_datetime(value, format, tzinfo=self.zone, locale=self.locale)


def page_context(request):
    """Context processor: every template gets `i18n`."""
    settings = request.app.state.fleet.settings
    lang = request_language(request, settings.default_language)
    path = request.url.path + ("?" + request.url.query if request.url.query else "")
    return {"i18n": PageLanguage(lang, settings.time_zone, path)}


@pass_context
def _gettext(context, message):
    return context["i18n"].gettext(message)


@pass_context
def _ngettext(context, singular, plural, n):
    return context["i18n"].ngettext(singular, plural, n)


def install(env):
    """Give a Jinja environment {{ _("...") }}, {% trans %} and the `datetime` filter, per request."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)
    env.filters["datetime"] = pass_context(lambda context, value, format="medium":
                                           context["i18n"].datetime(value, format))


def js_catalog(lang):
    """(script, version) defining window.FLEET_I18N: the messages of the page scripts in lang (those
    whose .po locations are .js files) and the language's plural rule."""
    return _js_catalog(lang if lang in i18n.LANGUAGES else "en")


@functools.cache
def _js_catalog(lang):
    catalog = i18n.catalog(lang)
    messages = {}
    for message in catalog:
        if not message.id or message.fuzzy or not any(path.endswith(".js") for path, _ in message.locations):
            continue
        if isinstance(message.id, (tuple, list)):
            if all(message.string):
                messages[message.id[0]] = list(message.string)
        elif message.string:
            messages[message.id] = message.string
    expr = catalog.plural_expr
    if not _PLURAL_EXPR.match(expr):
        raise ValueError("unexpected plural expression in %s: %r" % (lang, expr))
    body = ("window.FLEET_I18N = {\"lang\": %s, \"messages\": %s, \"plural\": function (n) { return Number(%s); }};\n"
            % (json.dumps(lang), json.dumps(messages, ensure_ascii=False, sort_keys=True, indent=0), expr))
    return body, hashlib.sha256(body.encode()).hexdigest()[:12]
