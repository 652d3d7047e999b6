// Translations for the page scripts. The messages come from the server (/i18n/<lang>.js, made from
// the .po files: one source for pages, scripts and CLI); this file looks them up and formats them.
// Every people-facing string of a script goes through _() or ngettext() (docs/i18n.md).
(function () {
  "use strict";
  const catalog = window.FLEET_I18N || { lang: "en", messages: {}, plural: (n) => (n === 1 ? 0 : 1) };
  const root = document.documentElement;
  const lang = root.lang || "en";
  const timeZone = root.dataset.timeZone || undefined;     // the site's, not the browser's

  function format(text, params) {
    if (!params) return text;
    return text.replace(/%\((\w+)\)s/g, (whole, key) => (key in params ? String(params[key]) : whole));
  }
  function _(msgid, params) {
    const found = catalog.messages[msgid];
    return format(typeof found === "string" && found ? found : msgid, params);
  }
  function ngettext(singular, plural, n, params) {
    const forms = catalog.messages[singular];
    const chosen = Array.isArray(forms) ? forms[catalog.plural(n)] : null;
    return format(chosen || (n === 1 ? singular : plural), Object.assign({ n: n }, params));
  }
  // Times in the site's time zone, written the language's way (Intl uses the CLDR data Babel uses).
  const clockFormat = new Intl.DateTimeFormat(lang, { timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const fullFormat = new Intl.DateTimeFormat(lang, { timeZone, dateStyle: "medium", timeStyle: "medium" });
  function time(iso) { return iso ? clockFormat.format(new Date(iso)) : ""; }
  function dateTime(iso) { return iso ? fullFormat.format(new Date(iso)) : ""; }
  function ago(iso) {
    if (!iso) return _("never");
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return _("%(n)s s ago", { n: s });
    if (s < 3600) return _("%(n)s min ago", { n: Math.floor(s / 60) });
    if (s < 86400) return _("%(h)s h %(m)s min ago", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
    return _("%(n)s d ago", { n: Math.floor(s / 86400) });
  }

  // The live-stream badge of the device list and the console.
  function liveBadge(el, on) {
    el.textContent = on ? _("live") : _("reconnecting…");
    el.classList.toggle("off", !on);
  }

  // The API answers errors in English with a stable code (docs/i18n.md); people read this instead.
  const ERRORS = {
    unauthorized: _("Your session has ended: log in again."),
    forbidden: _("Your role may not do this."),
    not_found: _("Not found: it may have been removed."),
    already_acknowledged: _("Someone else has already acknowledged this alarm."),
    alarm_closed: _("This alarm is already closed."),
    note_required: _("Write what was done before resolving."),
    not_a_call_button: _("Only call buttons can be assigned to a resident."),
    rate_limited: _("Too many requests: wait a moment, then try again."),
    internal: _("Server fault: try again later."),
  };
  function apiError(status, body, overrides) {
    const code = body && body.error ? body.error.code : "";
    const known = (overrides && overrides[code]) || ERRORS[code];
    if (known) return known;
    const detail = body && body.error ? body.error.message : "";
    return _("The request failed (HTTP %(status)s).", { status: status }) + (detail ? " " + detail : "");
  }

  window.i18n = { lang, timeZone, _, ngettext, format, time, dateTime, ago, liveBadge, apiError };
})();
