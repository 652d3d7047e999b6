"""Every people-facing string is translated: the templates and page scripts hold no text outside a
translation call, the catalogs hold every string the code asks for, and each has a Chinese
translation that keeps its placeholders (docs/i18n.md)."""

import ast
import html.parser
import inspect
import re
import unicodedata
from pathlib import Path

import click
import pytest
from babel.messages import extract, frontend
from jinja2 import Environment, nodes

from fleet import i18n
from fleet.i18n import cli as cli_i18n

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "fleet"
# The core's pages (fleet/web/) and each capability's (fleet/care/web/, ...).
TEMPLATES = sorted(FLEET.glob("**/templates/*.html"))
SCRIPTS = sorted(FLEET.glob("**/static/*.js"))
TRANSLATABLE_ATTRS = ("title", "placeholder", "aria-label", "alt")
GAP = "\x00"                         # where a template expression or placeholder was: not text of its own


def has_letters(text):
    return any(unicodedata.category(ch).startswith("L") for ch in text)


# ---- templates -------------------------------------------------------------------------------

def static_html(source):
    """The template's literal HTML, each expression replaced by GAP; and the literal strings a
    template prints as they are ({{ "text" }})."""
    parts, printed = [], []

    def walk(node):
        for child in node.iter_child_nodes():
            if isinstance(child, nodes.TemplateData):
                parts.append(child.data)
            elif isinstance(child, nodes.Output):
                for item in child.nodes:
                    if isinstance(item, nodes.TemplateData):
                        parts.append(item.data)
                    else:
                        if isinstance(item, nodes.Const) and isinstance(item.value, str):
                            printed.append(item.value)
                        parts.append(GAP)
            elif isinstance(child, nodes.Expr):
                parts.append(GAP)
            else:
                walk(child)

    walk(Environment(extensions=["jinja2.ext.i18n"]).parse(source))
    return "".join(parts), printed


class TextFinder(html.parser.HTMLParser):
    """Visible text nodes and translatable attributes of an HTML fragment."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self.skip = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self.skip.append(tag)
        for name in TRANSLATABLE_ATTRS:
            if attrs.get(name):
                self.found.append((name, attrs[name]))
        if tag in ("button", "input") and attrs.get("type") in ("button", "submit", "reset") and attrs.get("value"):
            self.found.append(("value", attrs["value"]))

    def handle_endtag(self, tag):
        if self.skip and self.skip[-1] == tag:
            self.skip.pop()

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.found.append((None, data.strip()))


def untranslated_in_template(source):
    markup, printed = static_html(source)
    finder = TextFinder()
    finder.feed(markup)
    finder.close()
    found = [(t if where is None else "%s=%r" % (where, t)).replace(GAP, "…")
             for where, t in finder.found if has_letters(t.replace(GAP, ""))]
    return found + ["printed as is: %r" % p for p in printed if has_letters(p)]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.relative_to(FLEET).as_posix())
def test_templates_have_no_untranslated_text(template):
    assert untranslated_in_template(template.read_text()) == []


def test_the_template_check_finds_untranslated_text():
    source = """{% extends "base.html" %}{% block main %}
      <h1>{{ _("Devices") }}</h1><p>Left in English</p>
      <input placeholder="Name"><input placeholder="{{ _('Name') }}"><button type="submit" value="Send"></button>
      <span title="{{ who.name }}">{{ who.name }}</span><b>{{ "Printed" }}</b> · 42 — %
      <script>const x = "code, not text";</script>{% endblock %}"""
    assert untranslated_in_template(source) == [
        "Left in English", "placeholder='Name'", "value='Send'", "printed as is: 'Printed'"]


# ---- page scripts ----------------------------------------------------------------------------

TRANSLATE_CALLS = ("_", "ngettext")
TEXT_PROPERTIES = ("textContent", "innerText", "innerHTML", "title", "placeholder", "alt")
TEXT_FUNCTIONS = ("showToast", "say", "alert", "confirm", "createTextNode", "append", "prepend")
WORD = re.compile(r"^[A-Za-z]+[.,:;!?…]*$")
DIRECTIVES = ("use strict",)


JS_TOKEN = re.compile(r"""
    (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
  | (?P<name>[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)
  | (?P<number>\d[\w.]*)
  | (?P<space>\s+)
  | (?P<operator>=>|===|!==|==|!=|<=|>=|&&|\|\||\?\?|\.\.\.|[-+*/%=<>!&|^~?:;,.(){}\[\]])
""", re.S | re.X)
JS_REGEX = re.compile(r"/(?:\\.|\[(?:\\.|[^\]\\\n])*\]|[^/\\\n])+/[a-z]*")


def js_tokens(source):
    """(kind, value) of a page script, comments and spaces left out (the scripts use no template literals)."""
    tokens, at = [], 0
    while at < len(source):
        previous = tokens[-1] if tokens else ("operator", "(")
        regex_may_start = previous[0] == "operator" and previous[1] not in (")", "]", "}") \
            or previous[1] in ("return", "typeof")
        found = regex_may_start and source.startswith("/", at) and not source.startswith(("//", "/*"), at) \
            and JS_REGEX.match(source, at)
        if found:
            tokens.append(("regex", found.group()))
        else:
            found = JS_TOKEN.match(source, at)
            assert found, "cannot read the script at %r" % source[at:at + 30]
            if found.lastgroup == "string":
                tokens.append(("string", ast.literal_eval(found.group())))
            elif found.lastgroup not in ("comment", "space"):
                tokens.append((found.lastgroup, found.group()))
        at = found.end()
    return tokens


def words_of(text):
    text = re.sub(r"<[^>]*>", " ", text)                      # markup is not text
    text = re.sub(r"%\(\w+\)s", " ", text)
    return [w for w in text.split() if WORD.match(w)]


def untranslated_in_script(source):
    """String literals that read as people-facing text yet are not the argument of _() or ngettext():
    prose (two words or more, or any non-Latin letter), a string put into a text property or
    handed to a function that shows it, and tables of words ({online: "online", ...})."""
    tokens = js_tokens(source)
    calls = []                 # callee name of each open parenthesis
    objects = []               # per open brace: [string values that look like words, entries, Intl options?]
    found = []
    for i, (kind, value) in enumerate(tokens):
        before = tokens[i - 1][1] if i else ""
        if (kind, value) == ("operator", "("):
            calls.append(before if tokens[i - 1][0] == "name" else "")
        elif (kind, value) == ("operator", ")") and calls:
            calls.pop()
        elif (kind, value) == ("operator", "{"):
            objects.append([[], 0, bool(calls) and calls[-1].startswith("Intl.")])   # Intl options are code
        elif (kind, value) == ("operator", "}") and objects:
            wordy, entries, options = objects.pop()
            if len(wordy) >= 2 and len(wordy) == entries and not options:
                found += ["table: %s" % w for w in wordy]
        elif kind == "string":
            text = value
            if calls and calls[-1] in TRANSLATE_CALLS or text in DIRECTIVES:
                continue
            if objects and before == ":":
                objects[-1][1] += 1
                if len(words_of(text)) == 1 and words_of(text)[0] == text.strip():
                    objects[-1][0].append(text)
            target = tokens[i - 2][1].rsplit(".", 1)[-1] if before == "=" and i >= 2 else ""
            if target == "className":
                continue
            prose = len(words_of(text)) >= 2 or any(has_letters(ch) and ord(ch) > 127 for ch in text)
            assigned = target in TEXT_PROPERTIES and words_of(text)
            shown = before in ("(", ",") and calls and calls[-1] in TEXT_FUNCTIONS and words_of(text)
            if prose or assigned or shown:
                found.append(text)
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(FLEET).as_posix())
def test_scripts_have_no_untranslated_text(script):
    assert untranslated_in_script(script.read_text()) == []


def test_the_script_check_finds_untranslated_text():
    source = """(function () { "use strict";
      const LABELS = { online: "online", offline: "offline" };
      const OK = { online: _("online"), offline: _("offline") };
      const fmt = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "medium" });
      live.textContent = "live"; live.className = "live off"; el.id = "n-" + k;
      showToast("Saved"); say(_("Saved")); fetch(path, { method: "POST", credentials: "same-origin" });
      td.innerHTML = '<span class="dot"></span>'; p.textContent = "Nothing " + "here";
      const msg = "No devices yet."; ok(ngettext("%(n)s day left", "%(n)s days left", n));
      document.title = "告警台";
    })();"""
    assert untranslated_in_script(source) == [
        "table: online", "table: offline", "live", "Saved", "Nothing ", "No devices yet.", "告警台"]


# ---- catalogs --------------------------------------------------------------------------------

def extracted_messages():
    """What `make i18n` extracts from the code now (the same mapping file and keywords)."""
    with open(ROOT / "fleet" / "i18n" / "babel.cfg") as f:
        method_map, options_map = frontend.parse_mapping_cfg(f)
    found = {}
    for filename, lineno, message, comments, context in extract.extract_from_dir(
            ROOT, method_map, options_map, keywords=extract.DEFAULT_KEYWORDS):
        found.setdefault(message, []).append("%s:%d" % (filename, lineno))
    return found


@pytest.fixture(scope="module")
def extracted():
    return extracted_messages()


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_catalogs_hold_exactly_what_the_code_asks_for(lang, extracted):
    ids = {m.id for m in i18n.catalog(lang) if m.id}
    missing = {str(k): v for k, v in extracted.items() if k not in ids}
    assert not missing, "run `make i18n` and translate: %s" % missing
    assert ids <= set(extracted), "strings no longer used (run `make i18n`): %s" % (ids - set(extracted))


def test_the_scripts_catalog_holds_every_script_message(extracted):
    """Page scripts get only the messages whose .po locations are scripts: those must be current."""
    from fleet.web.i18n import js_catalog
    in_scripts = {k if isinstance(k, str) else k[0] for k, where in extracted.items()
                  if any(w.split(":")[0].endswith(".js") for w in where)}
    shipped = js_catalog("zh_CN")[0]
    assert [m for m in sorted(in_scripts) if '"%s":' % m.replace('"', '\\"') not in shipped] == []


def placeholders(text):
    return sorted(re.findall(r"%\(\w+\)s|\{[^{}]*\}", text))


def test_every_message_has_a_chinese_translation_with_its_placeholders():
    catalog = i18n.catalog("zh_CN")
    problems = []
    for message in catalog:
        if not message.id:
            continue
        forms = message.string if isinstance(message.string, (tuple, list)) else [message.string]
        ids = message.id if isinstance(message.id, (tuple, list)) else [message.id]
        if message.fuzzy:
            problems.append(("fuzzy", message.id))
        if not all(forms):
            problems.append(("untranslated", message.id))
        for form in forms:
            wanted = placeholders(ids[-1])
            if form and placeholders(form) != wanted and not (len(ids) > 1 and set(placeholders(form)) <= set(
                    placeholders(ids[0]) + wanted)):
                problems.append(("placeholders", message.id, form))
    assert problems == []
    assert [error for _, errors in catalog.check() for error in errors] == []
    assert catalog.num_plurals == 1 and i18n.catalog("en").num_plurals == 2


def test_english_catalog_has_no_fuzzy_entry():
    assert [m.id for m in i18n.catalog("en") if m.id and m.fuzzy] == []


def test_clicks_own_words_are_still_clicks():
    """The CLI catalog translates click's messages by their exact msgids: click must still use them."""
    source = "".join(inspect.getsource(module) for module in (
        click.core, click.formatting, click.exceptions, click.decorators, click.types, click.termui))
    for message in cli_i18n.CLICK_MESSAGES:
        for text in message if isinstance(message, tuple) else [message]:
            assert '"%s"' % text.replace("\n", "\\n") in source, text


def test_a_message_is_compiled_and_found():
    assert i18n.translations("zh_CN").gettext("Alarm console") == "告警台"
    assert i18n.translations("en").gettext("Alarm console") == "Alarm console"
    assert i18n.translations("zh_CN").ngettext(
        "%(volts)s (%(n)s day left)", "%(volts)s (%(n)s days left)", 3) == "%(volts)s（约剩 %(n)s 天）"
