"""The fleet's layout holds (docs/architecture.md#layout-core-and-capabilities): the core never
imports a capability, no capability imports another, and neither imports the top (the modules
that assemble the fleet), so every import runs downwards.

    top           fleet/main.py, schema.py, cli.py, server.py, demo.py: may import anything
    capabilities  fleet/care/ (later fleet/waste/, fleet/facilities/, fleet/ota/): the core only
    core          everything else in fleet/ (core/, store/, domain/, api/, web/, i18n/, live.py,
                  runtime.py, ...): the core only

Imports are read from the source (ast), those inside functions included.
"""

import ast
from pathlib import Path

FLEET = Path(__file__).resolve().parents[2] / "fleet"
TOP = {"fleet.main", "fleet.schema", "fleet.cli", "fleet.server", "fleet.demo"}
PLANNED = {"care", "waste", "facilities", "ota"}        # docs/architecture.md: the capabilities, now and next


def module_name(path, root):
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source, module, is_package=False):
    """Every fleet module (or package) a module's source imports, by absolute name."""
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update("%s.%s" % (base, alias.name) for alias in node.names)     # `from fleet import care`
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            found.add(str(node.args[0].value))
    return {name for name in found if name == "fleet" or name.startswith("fleet.")}


def capability_of(name, capabilities):
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "fleet" and parts[1] in capabilities else None


def is_top(name):
    return any(name == top or name.startswith(top + ".") for top in TOP)


def layout_violations(root):
    """'<module> imports <module>' for every import that runs upwards or sideways under root (a fleet/ folder)."""
    capabilities = PLANNED | {p.parent.name for p in root.glob("*/capability.py")}
    problems = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        if is_top(module):
            continue
        own = capability_of(module, capabilities)
        for name in sorted(imported_modules(path.read_text(), module, path.name == "__init__.py")):
            other = capability_of(name, capabilities)
            if is_top(name):
                problems.append("%s imports the top: %s" % (module, name))
            elif other is not None and other != own:
                what = "the core" if own is None else "capability %s" % own
                problems.append("%s (%s) imports capability %s: %s" % (module, what, other, name))
    return problems


def test_imports_run_downwards_only():
    assert layout_violations(FLEET) == []


def test_care_is_a_capability_package_with_its_parts_side_by_side():
    care = FLEET / "care"
    for part in ("capability.py", "migrations.py", "cli.py", "api/__init__.py", "web/pages.py"):
        assert (care / part).is_file(), part
    assert list((care / "web" / "templates").glob("*.html")) and list((care / "web" / "static").glob("*.js"))


def test_the_check_finds_imports_that_run_up_or_sideways(tmp_path):
    root = tmp_path / "fleet"
    files = {
        "__init__.py": "",
        "main.py": "from fleet.care import capability\n",                          # the top: fine
        "live.py": "import fleet.care.alarms\n",                                   # core -> capability
        "domain/__init__.py": "",
        "domain/ingest.py": "def f():\n    from fleet import waste\n",              # inside a function
        "domain/status.py": "from fleet.main import create_app\n",                 # core -> the top
        "api/__init__.py": "from . import alarms\nfrom ..care.api import routes\n",  # relative, upwards
        "care/__init__.py": "",
        "care/capability.py": "from fleet.domain import ingest\nfrom . import alarms\n",   # fine
        "care/alarms.py": "import importlib\nimportlib.import_module('fleet.facilities.beacons')\n",
        "waste/__init__.py": "",
        "waste/bins.py": "from fleet.care.alarms import raise_supervision\n",     # capability -> capability
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    assert layout_violations(root) == [
        "fleet.api (the core) imports capability care: fleet.care.api",
        "fleet.api (the core) imports capability care: fleet.care.api.routes",
        "fleet.care.alarms (capability care) imports capability facilities: fleet.facilities.beacons",
        "fleet.domain.ingest (the core) imports capability waste: fleet.waste",
        "fleet.domain.status imports the top: fleet.main",
        "fleet.domain.status imports the top: fleet.main.create_app",
        "fleet.live (the core) imports capability care: fleet.care.alarms",
        "fleet.waste.bins (capability waste) imports capability care: fleet.care.alarms",
        "fleet.waste.bins (capability waste) imports capability care: fleet.care.alarms.raise_supervision",
    ]
