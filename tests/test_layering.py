"""Dependencies flow one way, into the kernel: ``api``, ``producer``, ``classifier`` and
``workers`` import ``laneway``, never the reverse; ``workers`` does not import
``classifier``. Only the console script's composition root (``laneway_cli``) may import
everything. Workers get their tasks the way Celery expects: the app's ``include`` names
the task modules and the worker imports them at start.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("laneway", "producer", "classifier", "workers", "api", "laneway_cli")

MAY_IMPORT = {
    "laneway": set(),
    "producer": {"laneway"},
    "classifier": {"laneway"},
    "workers": {"laneway"},
    "api": {"laneway", "producer"},
    "laneway_cli": set(PACKAGES),
}


def imported_modules(source: Path, package: str) -> list[tuple[int, str]]:
    """Every module ``source`` (a module of ``package``) imports, at module level or
    inside functions alike, with ``importlib.import_module("x")`` / ``__import__("x")``
    of a literal name included."""
    tree = ast.parse(source.read_text(), filename=str(source))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                found.append((node.lineno, ".".join([*base, *filter(None, [node.module])])))
            elif node.module:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if name in {"import_module", "__import__"} and isinstance(first, ast.Constant):
                found.append((node.lineno, str(first.value)))
    return found


def violations(package: str) -> list[str]:
    allowed = MAY_IMPORT[package] | {package}
    found = []
    for source in sorted((ROOT / package).rglob("*.py")):
        owner = ".".join(source.relative_to(ROOT).parent.parts)
        for line, module in imported_modules(source, owner):
            top = module.split(".")[0]
            if top in PACKAGES and top not in allowed:
                found.append(f"{source.relative_to(ROOT)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_the_layers_below_it(package: str) -> None:
    assert (ROOT / package / "__init__.py").is_file()
    assert violations(package) == []


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(
        "import os\n"
        "def f():\n"
        "    from classifier.tasks import warm_up\n"
        "    import workers.tasks\n"
        "    from ..workers import runner\n"
        "    return importlib.import_module('api.main')\n"
    )
    modules = [module for _, module in imported_modules(source, "laneway.sim")]
    assert modules == ["os", "classifier.tasks", "workers.tasks", "laneway.workers", "api.main"]


def _run(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter (no task module imported yet); its JSON output."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},  # default settings: no LANEWAY_* variables
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_sending_tasks_needs_no_task_module() -> None:
    """The API and the producer build task messages by name on a bare app."""
    result = _run(
        "import json, sys\n"
        "from laneway.celery_app import CLASSIFY_TASK, RUN_TASK, create_app\n"
        "from laneway.settings import Settings\n"
        "from laneway.wire import MessageFactory\n"
        "factory = MessageFactory(create_app(Settings()))\n"
        "names = [json.loads(factory.build(t, ('job_1',), 'q').payload)['headers']['task']\n"
        "         for t in (CLASSIFY_TASK, RUN_TASK)]\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'classifier', 'workers'})\n"
        "print(json.dumps({'names': names, 'loaded': loaded}))\n"
    )
    assert result == {"names": ["laneway.classify", "laneway.run"], "loaded": []}


@pytest.mark.parametrize(
    ("role", "task", "hook", "module", "other"),
    [
        ("classify", "laneway.classify", "warm_up", "classifier.tasks", "workers"),
        ("general", "laneway.run", "start_background", "workers.tasks", "classifier"),
    ],
)
def test_a_worker_imports_its_role_s_task_module_at_start(
    role: str, task: str, hook: str, module: str, other: str
) -> None:
    """What Celery's worker does at start (``loader.init_worker``) registers the role's
    task and its readiness hook, and imports nothing of the other role."""
    result = _run(
        "import json, sys\n"
        "from laneway.celery_app import worker_app\n"
        "from laneway.settings import Settings\n"
        "from laneway.worker import ready_hooks\n"
        f"app = worker_app(Settings(), {role!r})\n"
        "before = sorted(n for n in app.tasks if n.startswith('laneway.'))\n"
        "app.loader.init_worker()\n"
        "print(json.dumps({\n"
        "    'before': before,\n"
        "    'tasks': sorted(n for n in app.tasks if n.startswith('laneway.')),\n"
        f"    'hooks': [f'{{h.__module__}}.{{h.__name__}}' for h in ready_hooks({role!r})],\n"
        f"    'other': {other!r} in sys.modules,\n"
        "}))\n"
    )
    assert result == {"before": [], "tasks": [task], "hooks": [f"{module}.{hook}"], "other": False}


def test_celery_s_own_worker_command_finds_every_task() -> None:
    """``celery -A laneway.celery_app worker`` loads the module's ``app``."""
    result = _run(
        "import json\n"
        "from laneway.celery_app import app\n"
        "app.loader.init_worker()\n"
        "print(json.dumps({'tasks': sorted(n for n in app.tasks if n.startswith('laneway.'))}))\n"
    )
    assert result == {"tasks": ["laneway.classify", "laneway.run"]}


def test_the_console_script_has_the_upper_packages_commands() -> None:
    (script,) = metadata.entry_points(group="console_scripts", name="laneway")
    assert script.value == "laneway_cli:main"
    laneway = Path(sys.executable).parent / "laneway"
    done = subprocess.run(
        [str(laneway), "classify", "what is 2 + 2", "--strategy", "rules"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "fast-path" in done.stdout
