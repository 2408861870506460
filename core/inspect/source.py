"""A self-contained Python file that rebuilds a lab model without the lab: the class definitions it needs, copied
from the lab's source, plus ``build_model()`` / ``load_model(path)``.

The definitions are found by following names: the model's class, then every top-level name its source uses,
recursively, across the lab's modules (a ``from core... import X`` is replaced by X's own definition). Imports of
other packages (torch, torchvision, torchaudio, math...) are kept, only the names used.
"""
from __future__ import annotations

import ast
import builtins
import functools
import importlib
import inspect
import pprint
import textwrap
from dataclasses import dataclass, field

from torch import nn

LAB_PACKAGE = "core"


@dataclass
class _Module:
    """Top-level definitions and imports of one source module."""

    name: str
    definitions: dict[str, tuple[ast.stmt, str]] = field(default_factory=dict)  # name -> (node, source)
    imports: dict[str, tuple[str, str | None, str]] = field(default_factory=dict)  # alias -> (module, attr, alias)


@functools.lru_cache(maxsize=None)
def _parse(module_name: str) -> _Module:
    source = inspect.getsource(importlib.import_module(module_name))
    tree = ast.parse(source)
    mod = _Module(module_name)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            mod.definitions[node.name] = (node, _segment(source, node))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    mod.definitions[t.id] = (node, _segment(source, node))
        elif isinstance(node, ast.Import):
            for a in node.names:
                alias = a.asname or a.name.split(".")[0]
                mod.imports[alias] = (a.name if a.asname else a.name.split(".")[0], None, alias)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
            base = node.module if node.level == 0 else _relative(module_name, node)
            for a in node.names:
                mod.imports[a.asname or a.name] = (base, a.name, a.asname or a.name)
    return mod


def _relative(module_name: str, node: ast.ImportFrom) -> str:
    parts = module_name.split(".")[:-node.level]
    return ".".join(parts + ([node.module] if node.module else []))


def _segment(source: str, node: ast.stmt) -> str:
    """The statement's source with its decorators."""
    lines = source.splitlines()
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[first - 1:node.end_lineno])


def _used_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


class _Collector:
    """Definitions (dependencies first) and external imports needed by some names of some lab modules."""

    def __init__(self):
        self.order: list[tuple[str, str]] = []  # (module, name) in output order
        self.sources: dict[str, tuple[str, str]] = {}  # name -> (module, source)
        self.imports: dict[str, str] = {}  # alias -> import line
        self._seen: set[tuple[str, str]] = set()

    def need(self, module_name: str, name: str) -> None:
        if (module_name, name) in self._seen:
            return
        self._seen.add((module_name, name))
        mod = _parse(module_name)
        if name in mod.definitions:
            node, source = mod.definitions[name]
            for used in sorted(_used_names(node) - {name}):
                self._resolve(mod, used)
            if name in self.sources and self.sources[name] != (module_name, source):
                raise ValueError(f"two lab modules define {name!r} differently; cannot write one file")
            self.sources[name] = (module_name, source)
            self.order.append((module_name, name))
        else:
            self._resolve(mod, name)

    def _resolve(self, mod: _Module, name: str) -> None:
        if name in mod.definitions:
            self.need(mod.name, name)
        elif name in mod.imports:
            base, attr, alias = mod.imports[name]
            if base == LAB_PACKAGE or base.startswith(LAB_PACKAGE + "."):
                if attr is None:
                    raise ValueError(f"{mod.name} uses the lab module {base} as a whole; cannot inline it")
                self.need(_defining_module(base, attr), attr)
            else:
                line = f"import {base}" + (f" as {alias}" if alias != base else "") if attr is None else \
                    f"from {base} import {attr}" + (f" as {alias}" if alias != attr else "")
                self.imports[alias] = line
        elif not hasattr(builtins, name):
            pass  # a local name (argument, loop variable, comprehension): nothing to import


def _defining_module(package: str, attr: str) -> str:
    """Where a name imported from a lab package is really defined (``core.models`` re-exports its classes)."""
    obj = getattr(importlib.import_module(package), attr, None)
    home = getattr(obj, "__module__", None)
    return home if home and home.startswith(LAB_PACKAGE) and attr in _parse(home).definitions else package


def _constructor(model: nn.Module):
    """(class, keyword options) that rebuild ``model``: the registry's constructor (a partial's fixed options
    included) with the options the lab built it with; pretrained-weight lookups switched off."""
    from core.models import spec

    opts = dict(getattr(model, "build_opts", {}) or {})
    name = getattr(model, "model_name", None)
    build = spec(name).build if name else type(model)
    if isinstance(build, functools.partial):
        opts = {**build.keywords, **opts}
        build = build.func
    if "weights" in inspect.signature(build).parameters:
        opts["weights"] = None  # the state_dict has the trained weights; never look for ImageNet ones
    return build, opts


def model_source(model: nn.Module, *, state_dict_file: str = "model.pt", module_name: str = "model",
                 classes: list[str] | None = None) -> str:
    """Python source that defines ``model``'s class and ``build_model()`` / ``load_model(path)``.

    Needs only torch (and torchvision / torchaudio when the model uses them), never the lab. ``module_name`` is
    what the file will be imported as (its name without .py), for the usage note.
    """
    cls, opts = _constructor(model)
    num_classes = int(getattr(model, "num_classes", 0) or 0)
    if not num_classes:
        raise ValueError("the model has no num_classes (it was not built by core.models.build)")
    collector = _Collector()
    collector.need(cls.__module__, cls.__name__)
    header = textwrap.dedent(f'''\
        """{cls.__name__} as trained in the deep-learning lab, rebuilt without the lab (torch only).

        Usage:
            from {module_name} import load_model
            model = load_model("{state_dict_file}")   # eval mode; torch.load(..., weights_only=True) inside
            logits = model(x)

        Written by core.inspect.export; the definitions below are copied from the lab's source.
        """
        from __future__ import annotations
        ''')
    imports = sorted(set(collector.imports.values()) | {"import torch"},
                     key=lambda line: (line.startswith("from"), line))
    body = [collector.sources[name][1] for _, name in collector.order]
    footer = textwrap.dedent(f'''\
        CLASSES = {pprint.pformat(list(classes) if classes is not None else None, width=100, compact=True)}
        OPTIONS = {pprint.pformat(_plain(opts), width=100, compact=True)}


        def build_model() -> torch.nn.Module:
            """The architecture with fresh weights."""
            return {cls.__name__}({num_classes}, **OPTIONS)


        def load_model(path: str = "{state_dict_file}") -> torch.nn.Module:
            """The architecture with the trained weights from a plain state_dict file, in eval mode."""
            model = build_model()
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return model.eval()


        if __name__ == "__main__":
            import sys

            net = load_model(sys.argv[1] if len(sys.argv) > 1 else "{state_dict_file}")
            print(f"{cls.__name__}: {{sum(p.numel() for p in net.parameters()):,}} parameters loaded")
        ''')
    source = "\n".join([header, *imports, "", "", "\n\n\n".join(body), "", "", footer])
    _check_no_lab_imports(source)
    return source


def _check_no_lab_imports(source: str) -> None:
    """Refuse a file that would still need the lab (e.g. an import inside a method)."""
    for node in ast.walk(ast.parse(source)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        if any(n == LAB_PACKAGE or n.startswith(LAB_PACKAGE + ".") for n in names):
            raise ValueError(f"the model's code imports the lab ({', '.join(names)}) inside a function; "
                             "the generated file would not be self-contained")


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value
