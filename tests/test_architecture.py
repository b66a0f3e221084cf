"""The layout's rules, checked: no module reaches into another's underscored names, module-level
imports form no cycle, one registry class with one behaviour, and config errors name their flag."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("simgen", "evaluate")


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(path: Path, module: str, top_level_only: bool) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) of each import in ``path``."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module.split(".")[: -node.level + (1 if path.name == "__init__.py" else 0) or None]
                base = ".".join([*package, base] if base else package)
            out += [(base, alias.name, node.lineno) for alias in node.names]
    return out


def test_no_module_imports_another_modules_private_names():
    modules = _modules()
    offences = []
    for module, path in modules.items():
        for target, name, line in _imports(path, module, top_level_only=False):
            if not target.startswith(PACKAGES) or target == module:
                continue
            private_module = any(part.startswith("_") and part != "__init__" for part in target.split("."))
            private_name = name is not None and name.startswith("_") and f"{target}.{name}" not in modules
            if private_module or private_name:
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {target}{'.' + name if name else ''}")
    assert not offences, "\n".join(offences)


def test_module_level_imports_have_no_cycle():
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for target, name, _ in _imports(path, module, top_level_only=True):
            if name and f"{target}.{name}" in modules:
                target = f"{target}.{name}"  # `from package import module`
            if target in modules and target != module:
                graph[module].add(target)
    # A package's __init__ importing its own modules is how registration works; the modules it
    # imports must not import the package back (they import its submodules instead).
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_registry_refuses_duplicates_and_suggests_names():
    from simgen.spec.registry import Registry, UnknownNameError

    loaded = []
    registry: Registry[int] = Registry("widget", load=lambda: loaded.append(True))
    registry.register("alpha", 1)
    registry.add("beta")(2)
    with pytest.raises(RuntimeError, match="widget 'alpha' registered twice"):
        registry.register("alpha", 3)
    with pytest.raises(UnknownNameError, match=r"unknown widget 'alpah'; did you mean 'alpha'\?; allowed: alpha, beta"):
        registry["alpah"]
    assert registry.names() == ["alpha", "beta"] and loaded == [True]  # loaded once, on first use


def test_every_named_thing_uses_the_one_registry():
    from evaluate.data.views import VIEW_REGISTRY
    from evaluate.embed.base import EXECUTORS
    from evaluate.encoders import ENCODERS
    from evaluate.errors import EncoderError
    from evaluate.probes import PROBES
    from simgen.spec.registry import Registry

    for registry in (VIEW_REGISTRY, EXECUTORS, ENCODERS, PROBES):
        assert isinstance(registry, Registry)
    assert EXECUTORS.names() == ["local", "ray"] and "attentive" in PROBES
    with pytest.raises(EncoderError, match="did you mean 'pixels'"):
        ENCODERS["pixel"]


@pytest.mark.parametrize("values,message", [
    ({"loader": "thread"}, "--loader 'thread': allowed: 'auto', 'threads' or 'torch'"),
    ({"views": ["original", "revesed"]}, "--view 'revesed': allowed:"),
    ({"batch_size": 0}, "--batch-size 0: input should be greater than or equal to 1"),
    ({"device": "gpu"}, "--device 'gpu': string should match pattern"),
    ({"executor": "slurm"}, "--executor 'slurm': allowed: 'local' or 'ray'"),
])
def test_config_errors_are_one_line_naming_the_flag(values, message):
    from evaluate.config import ConfigError, RunConfig

    with pytest.raises(ConfigError) as info:
        RunConfig.build(datasets=["d"], encoders=["pixels"], out="o", **values)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_evaluate_never_imports_pybullet():
    """A GPU box has torch and transformers but no pybullet: every evaluate module, the oracles that
    read simgen's label code among them, must import without it, and `evaluate ls` must run."""
    import subprocess
    import sys

    modules = [m for m in _modules() if m.startswith("evaluate")]
    code = ("import sys, importlib; sys.modules['pybullet'] = None\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "from evaluate.cli import main; sys.argv = ['evaluate', 'ls']; main()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "oracle-static" in proc.stdout and "track" in proc.stdout
