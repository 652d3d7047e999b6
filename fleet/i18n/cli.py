"""The `fleet` CLI in the technician's language, chosen as any gettext program chooses it: the first
of LANGUAGE, LC_ALL, LC_MESSAGES, LANG that is set (LANG=zh_CN.UTF-8 gives Chinese; C, POSIX or a
language we lack gives English).

Our help texts (command docstrings, option help) and click's own words (Usage, Options, errors)
come from the same catalog as the web pages. click asks the standard gettext module for its
words, which reads .mo files from a directory: the catalog compiled from the .po is written to a
temporary directory for the life of the process (only when a translation is needed).
"""

import ast
import contextlib
import gettext
import inspect
import os
import tempfile

import click

from fleet import i18n


def N_(message):
    return message


def ngettext(singular, plural):
    """Marks a plural message for extraction (not gettext's ngettext: nothing is translated here)."""
    return singular, plural


# Words of click itself that technicians meet in help and errors (msgids exactly as click 8 writes
# them; tests/fleet/test_i18n.py checks that click still uses each).
CLICK_MESSAGES = (
    N_("Usage:"), N_("Options"), N_("Commands"), N_("Show this message and exit."), N_("default: {default}"),
    N_("required"), N_("env var: {var}"), N_("Error: {message}"), N_("Try '{command} {option}' for help."),
    N_("Missing argument"), N_("Missing option"), N_("No such command {name!r}."), N_("No such option {name!r}."),
    N_("Invalid value for {param_hint}: {message}"), N_("{value!r} is not a valid {number_type}."),
    N_("Aborted!"), N_("Repeat for confirmation"), N_("Error: The two entered values do not match."),
    ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}."),
)
HELP_KEYWORDS = ("help", "short_help", "epilog")
_compiled_dirs = {}


def language(environ=None):
    """zh_CN or en for the process's locale variables (gettext's order)."""
    environ = os.environ if environ is None else environ
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if not value:
            continue
        for item in value.split(":"):
            tag = item.split(".")[0].split("@")[0]
            if tag in ("C", "POSIX"):
                return "en"
            found = i18n.supported(tag, default=None)
            if found:
                return found
        return "en"
    return "en"


def _locale_dir(lang):
    """A directory where gettext finds lang's catalog: <dir>/<name>/LC_MESSAGES/fleet.mo for lang and
    its bare language (zh), so zh_CN.UTF-8, zh_SG or zh all find it."""
    if lang not in _compiled_dirs:
        holder = tempfile.TemporaryDirectory(prefix="fleet-locale-")     # removed when the process ends
        for name in {lang, lang.split("_")[0]}:
            folder = os.path.join(holder.name, name, "LC_MESSAGES")
            os.makedirs(folder)
            with open(os.path.join(folder, i18n.DOMAIN + ".mo"), "wb") as f:
                f.write(i18n.mo_bytes(lang))
        _compiled_dirs[lang] = holder
    return _compiled_dirs[lang].name


def _commands(command):
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from _commands(sub)


def _translate_help(root, translate):
    """Set every help text of the command tree from its English original (kept on first use)."""
    for command in _commands(root):
        objects = [command] + [p for p in command.params if isinstance(p, click.Option)]
        for obj in objects:
            for attr in HELP_KEYWORDS:
                original = obj.__dict__.setdefault("_english_" + attr, getattr(obj, attr, None))
                if original:
                    setattr(obj, attr, translate(inspect.cleandoc(original)))


@contextlib.contextmanager
def speaking(root, environ=None):
    """While inside: click and the command tree under root speak the environment's language."""
    lang = language(environ)
    previous = gettext.textdomain()
    if lang != "en":
        gettext.bindtextdomain(i18n.DOMAIN, _locale_dir(lang))
        gettext.textdomain(i18n.DOMAIN)
        _translate_help(root, i18n.translations(lang).gettext)
    else:
        _translate_help(root, str)
    try:
        yield lang
    finally:
        gettext.textdomain(previous)


class LocalizedGroup(click.Group):
    """The CLI's top group: every invocation (console script or CliRunner) in the locale's language."""

    def main(self, *args, **kwargs):
        with speaking(self):
            return super().main(*args, **kwargs)


def extract_click_help(fileobj, keywords, comment_tags, options):
    """Babel extractor for click CLIs: the docstrings of functions decorated with `.command(...)` or
    `.group(...)`, and string help=, short_help=, epilog= arguments (what `fleet --help` shows)."""
    tree = ast.parse(fileobj.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(_is_command_decorator(d) for d in node.decorator_list):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                yield node.body[0].lineno, None, doc, []
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in HELP_KEYWORDS and isinstance(keyword.value, ast.Constant) \
                        and isinstance(keyword.value.value, str):
                    yield keyword.value.lineno, None, inspect.cleandoc(keyword.value.value), []


def _is_command_decorator(decorator):
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    return name in ("command", "group")
