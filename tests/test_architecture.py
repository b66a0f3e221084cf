"""The layout's rules, checked: no module reaches into another's underscored names, imports (function-level
ones too) form no cycle, one registry class with one behaviour, and config errors name their flag."""

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


def _imports_of(node: ast.AST, module: str, path: Path) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) of ``node`` if it is an import, else []."""
    if isinstance(node, ast.Import):
        return [(alias.name, None, node.lineno) for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: resolve against this module's package
            package = module.split(".")[: -node.level + (1 if path.name == "__init__.py" else 0) or None]
            base = ".".join([*package, base] if base else package)
        return [(base, alias.name, node.lineno) for alias in node.names]
    return []


def _imports(path: Path, module: str) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) of each import in ``path``, at any depth."""
    return [hit for node in ast.walk(ast.parse(path.read_text())) for hit in _imports_of(node, module, path)]


def test_no_module_imports_another_modules_private_names():
    modules = _modules()
    offences = []
    for module, path in modules.items():
        for target, name, line in _imports(path, module):
            if not target.startswith(PACKAGES) or target == module:
                continue
            private_module = any(part.startswith("_") and part != "__init__" for part in target.split("."))
            private_name = name is not None and name.startswith("_") and f"{target}.{name}" not in modules
            if private_module or private_name:
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {target}{'.' + name if name else ''}")
    assert not offences, "\n".join(offences)


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (annotations only: never imported at run time)."""
    out, stack = [], [tree]
    while stack:
        node = stack.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            stack.extend(child.orelse if _is_type_checking(child) else [child])
    return out


def _import_graph(external: bool = False) -> dict[str, dict[str, int]]:
    """module -> {module it imports at run time: line}, at module level or inside a function (a
    function-level import closes a cycle as surely as a top-level one, only later). Only this project's
    modules unless ``external``."""
    modules = _modules()
    graph: dict[str, dict[str, int]] = {m: {} for m in modules}
    for module, path in modules.items():
        for node in _runtime_nodes(ast.parse(path.read_text())):
            for target, name, line in _imports_of(node, module, path):
                if name and f"{target}.{name}" in modules:
                    target = f"{target}.{name}"  # `from package import module`
                if (target in modules or external) and target != module:
                    graph[module].setdefault(target, line)
    return graph


def test_imports_have_no_cycle():
    # Registration goes through a package's __init__: it imports the plugins, the plugins import the
    # registry's module (``base``), which imports none of them. A registry that imported its plugins, even
    # inside a function, would close a cycle here.
    graph = _import_graph()
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


# The layers of both packages, bottom first: the modules each owns (a module belongs to the layer of its
# longest prefix here) and the layers it may import besides its own. docs/architecture.md shows this table.
# The root packages (``simgen``, ``evaluate``: the version) belong to no layer; anyone may import them.
LAYERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "simgen.spec": (("simgen.spec",), ()),
    "simgen.dataset": (("simgen.dataset",), ()),
    "simgen.physics": (("simgen.physics",), ("simgen.dataset",)),
    "simgen.families": (("simgen.families",), ("simgen.spec", "simgen.physics")),
    "simgen.render": (("simgen.render",), ("simgen.spec", "simgen.physics", "simgen.families")),
    "simgen.run": (("simgen.run",), ("simgen.spec", "simgen.dataset", "simgen.physics", "simgen.families",
                                     "simgen.render")),
    "simgen.cli": (("simgen.cli",), ("simgen.spec", "simgen.dataset", "simgen.physics", "simgen.families",
                                     "simgen.render", "simgen.run")),
    "evaluate.shared": (("evaluate.errors", "evaluate.config", "evaluate.io", "evaluate.outputs", "evaluate.progress",
                         "evaluate.metrics", "evaluate.paired", "evaluate.roles", "evaluate.results",
                         "evaluate.predictions", "evaluate.trajectory", "evaluate.parallel", "evaluate.lean"), ()),
    "evaluate.data": (("evaluate.data",), ("evaluate.shared",)),
    "evaluate.encoders": (("evaluate.encoders",), ("evaluate.shared", "evaluate.data")),
    "evaluate.embed": (("evaluate.embed",), ("evaluate.shared", "evaluate.data", "evaluate.encoders")),
    "evaluate.readouts": (("evaluate.probes", "evaluate.surprise_models"),
                          ("evaluate.shared", "evaluate.data", "evaluate.encoders", "evaluate.embed")),
    "evaluate.analysis": (("evaluate.comparisons", "evaluate.layers"),
                          ("evaluate.shared", "evaluate.encoders", "evaluate.readouts")),
    "evaluate.report": (("evaluate.report",), ("evaluate.shared", "evaluate.analysis")),
    "evaluate.tasks": (("evaluate.tasks",), ("evaluate.shared", "evaluate.data", "evaluate.encoders", "evaluate.embed",
                                             "evaluate.readouts", "evaluate.analysis", "evaluate.report")),
    "evaluate.cli": (("evaluate.cli",), ("evaluate.shared", "evaluate.data", "evaluate.encoders", "evaluate.embed",
                                         "evaluate.readouts", "evaluate.analysis", "evaluate.report",
                                         "evaluate.tasks")),
}
# What evaluate may import from simgen: modules that import no PyBullet (a GPU box has none), at any layer.
EVALUATE_READS_FROM_SIMGEN = ("simgen.spec.registry", "simgen.dataset.format", "simgen.dataset.io",
                              "simgen.dataset.video", "simgen.families", "simgen.families.base",
                              "simgen.render.visible", "simgen.cli.support")
# The imports that cross the layers the wrong way, each with its reason: (importer, imported) prefixes.
UPWARD_IMPORTS = {
    ("simgen.spec.load", "simgen.families"): "a spec names its family; loading picks that family's spec model "
                                             "(at call time: the families import the spec's models)",
    ("evaluate.encoders.vlm.zero_shot", "evaluate.probes"): "a VLM's zero-shot answers are read by a probe of "
                                                            "their own (AnswerReadout), beside the encoder",
    ("simgen.run.audit", "evaluate.metrics"): "the audit scores what one frame tells with evaluate's own metric",
    ("simgen.run.audit", "evaluate.data.targets"): "... and residualises a target as evaluate does",
}
MAX_TOP_LEVEL = 8  # entries of simgen/ (modules and packages, __init__.py included)
MAX_LINES = 600


def _layer_of(module: str) -> str | None:
    owners = [(prefix, layer) for layer, (prefixes, _) in LAYERS.items() for prefix in prefixes
              if module == prefix or module.startswith(prefix + ".")]
    return max(owners)[1] if owners else None


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_every_module_has_a_layer():
    homeless = [m for m in _modules() if m not in PACKAGES and _layer_of(m) is None]
    assert not homeless, f"modules in no layer of LAYERS (tests/test_architecture.py): {homeless}"


def test_imports_follow_the_layers():
    """A layer imports itself, the layers below it that it lists, and nothing above (function-level
    imports included); evaluate reads only simgen's PyBullet-free modules; simgen never imports evaluate."""
    offences = []
    for module, targets in _import_graph().items():
        mine = _layer_of(module)
        for target, line in targets.items():
            theirs = _layer_of(target)
            if theirs is None or theirs == mine:
                continue
            if module.startswith("evaluate.") and target.startswith("simgen."):
                allowed = target in EVALUATE_READS_FROM_SIMGEN
            else:
                allowed = theirs in LAYERS[mine][1] or any(
                    _within(module, a) and _within(target, b) for a, b in UPWARD_IMPORTS)
            if not allowed:
                offences.append(f"{_modules()[module].relative_to(ROOT)}:{line}: {mine} imports {target} ({theirs})")
    assert not offences, "imports that break the layering:\n" + "\n".join(offences)


def test_evaluate_reaches_no_pybullet_through_any_import():
    """Static twin of test_evaluate_never_imports_pybullet below: follows function-level imports too,
    which importing a module does not run."""
    graph = _import_graph(external=True)
    came_from: dict[str, str | None] = {m: None for m in graph if m.startswith("evaluate")}
    todo = list(came_from)
    while todo:
        module = todo.pop()
        for target in graph.get(module, {}):
            if target not in came_from:
                came_from[target] = module
                todo.append(target)
    chains = []
    for module in sorted(m for m in came_from if _within(m, "pybullet")):
        chain = [module]
        while (parent := came_from[chain[-1]]) is not None:
            chain.append(parent)
        chains.append(" -> ".join(reversed(chain)))
    assert not chains, "evaluate reaches pybullet: " + "; ".join(chains)


def test_simgen_has_at_most_8_top_level_modules():
    top = sorted(p.name for p in (ROOT / "simgen").iterdir()
                 if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))
    assert len(top) <= MAX_TOP_LEVEL, f"simgen/ has {len(top)} top-level modules and packages: {top}"


def test_no_module_is_over_600_lines():
    long = [f"{path.relative_to(ROOT)}: {n} lines" for path in _modules().values()
            if (n := len(path.read_text().splitlines())) > MAX_LINES]
    assert not long, f"modules over {MAX_LINES} lines (split them by responsibility): {long}"


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
