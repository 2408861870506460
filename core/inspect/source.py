"""A self-contained Python file that rebuilds a lab model without the lab: the class definitions it needs, copied
from the lab's source, plus ``build_model()`` / ``load_model(path)``.

The definitions are found by following names: the model's class, then every top-level name its source uses,
recursively, across the lab's modules (a ``from core... import X`` is replaced by X's own definition). Imports of
other packages (torch, torchvision, torchaudio, math...) are kept, only the names used.
"""
from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pprint
import textwrap
from dataclasses import dataclass, field

from torch import nn

LAB_PACKAGE = "core"
MODEL_PACKAGE = "core.models"  # lab code that is architecture: copied into the file; any other lab name is a stub


@dataclass
class _Definition:
    """One top-level definition: its node, its source, and the lab imports inside it (a method's local import)."""

    node: ast.stmt
    source: str
    first_line: int  # line of the source's first line in the module
    local_imports: list[ast.ImportFrom] = field(default_factory=list)


@dataclass
class _Module:
    """Top-level definitions and imports of one source module."""

    name: str
    definitions: dict[str, _Definition] = field(default_factory=dict)
    imports: dict[str, tuple[str, str | None, str]] = field(default_factory=dict)  # alias -> (module, attr, alias)


def _is_lab(module: str) -> bool:
    return module == LAB_PACKAGE or module.startswith(LAB_PACKAGE + ".")


def _definition(source: str, node: ast.stmt) -> _Definition:
    lines = source.splitlines()
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    local = [n for n in ast.walk(node) if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module
             and _is_lab(n.module)]
    return _Definition(node, "\n".join(lines[first - 1:node.end_lineno]), first, local)


@functools.lru_cache(maxsize=None)
def _parse(module_name: str) -> _Module:
    source = inspect.getsource(importlib.import_module(module_name))
    tree = ast.parse(source)
    mod = _Module(module_name)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            mod.definitions[node.name] = _definition(source, node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    mod.definitions[t.id] = _definition(source, node)
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


def _used_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _without_local_imports(d: _Definition) -> str:
    """The definition's source with each local lab import replaced by ``pass``: the names it brought in are
    module-level in the generated file (copied definitions or stubs)."""
    lines = d.source.split("\n")
    for imp in d.local_imports:
        first, last = imp.lineno - d.first_line, imp.end_lineno - d.first_line
        names = ", ".join(a.name for a in imp.names)
        lines[first:last + 1] = [" " * imp.col_offset + f"pass  # was: from {imp.module} import {names}"] + \
            [None] * (last - first)
    return "\n".join(line for line in lines if line is not None)


class _Collector:
    """Definitions (dependencies first), external imports and stubs needed by some names of some lab modules."""

    def __init__(self):
        self.order: list[tuple[str, str]] = []  # (module, name) in output order
        self.sources: dict[str, tuple[str, str]] = {}  # name -> (module, source)
        self.imports: dict[str, str] = {}  # alias -> import line
        self.stubs: dict[str, str] = {}  # alias -> "module.name" of a lab name that is not architecture
        self._seen: set[tuple[str, str]] = set()

    def need(self, module_name: str, name: str) -> None:
        if (module_name, name) in self._seen:
            return
        self._seen.add((module_name, name))
        mod = _parse(module_name)
        if name not in mod.definitions:
            self._resolve(mod, name)
            return
        d = mod.definitions[name]
        for imp in d.local_imports:
            for a in imp.names:
                self._lab_name(imp.module, a.name, a.asname or a.name)
        for used in sorted(_used_names(d.node) - {name}):
            self._resolve(mod, used)
        source = _without_local_imports(d)
        if name in self.sources and self.sources[name] != (module_name, source):
            raise ValueError(f"two lab modules define {name!r} differently; cannot write one file")
        self.sources[name] = (module_name, source)
        self.order.append((module_name, name))

    def _lab_name(self, base: str, attr: str | None, alias: str) -> None:
        """Architecture code (core.models) is copied; any other lab name becomes a stub that says it is missing."""
        if attr is None:
            raise ValueError(f"the model's code uses the lab module {base} as a whole; cannot copy it out")
        home = _defining_module(base, attr)
        if home.startswith(MODEL_PACKAGE) and attr in _parse(home).definitions:
            if alias != attr:
                raise ValueError(f"the model's code renames {base}.{attr} to {alias}; cannot copy it out")
            self.need(home, attr)
        else:
            self.stubs[alias] = f"{base}.{attr}"

    def _resolve(self, mod: _Module, name: str) -> None:
        if name in mod.definitions:
            self.need(mod.name, name)
        elif name in mod.imports:
            base, attr, alias = mod.imports[name]
            if _is_lab(base):
                self._lab_name(base, attr, alias)
            else:
                line = f"import {base}" + (f" as {alias}" if alias != base else "") if attr is None else \
                    f"from {base} import {attr}" + (f" as {alias}" if alias != attr else "")
                self.imports[alias] = line
        # else: a local name (argument, loop variable) or a builtin: nothing to bring in

    def stub_sources(self) -> list[str]:
        return [f"def {alias}(*args, **kwargs):\n"
                f"    raise ImportError(\"{where} belongs to the deep-learning lab; this file rebuilds the model \"\n"
                f"                      \"from a state_dict and never needs it (pretrained weights are not looked \"\n"
                f"                      \"up)\")" for alias, where in sorted(self.stubs.items())]


def _defining_module(package: str, attr: str) -> str:
    """Where a name imported from a lab package is really defined (``core.models`` re-exports its classes)."""
    obj = getattr(importlib.import_module(package), attr, None)
    home = getattr(obj, "__module__", None)
    return home if home and _is_lab(home) and attr in _parse(home).definitions else package


def _constructor(model: nn.Module):
    """(class, keyword options) that rebuild ``model``: the registry's constructor (a partial's fixed options
    included) with the options the lab built it with, pretrained-weight lookups off (the registry's
    ``no_pretrained``, as ``core.models.rebuild`` does)."""
    from core.models import spec

    opts = dict(getattr(model, "build_opts", {}) or {})
    name = getattr(model, "model_name", None)
    build = spec(name).build if name else type(model)
    if isinstance(build, functools.partial):
        opts = {**build.keywords, **opts}
        build = build.func
    return build, {**opts, **(spec(name).no_pretrained if name else {})}


@dataclass
class ModelParts:
    """What a file needs to rebuild a model without the lab: import lines, copied definitions, the constructor."""

    cls: type  # the model's class (its name is defined in ``body``)
    options: dict  # keyword options of the constructor (pretrained lookups off)
    num_classes: int  # the first positional argument
    imports: list[str]  # import lines of other packages (torch, torchvision, math...)
    body: list[str]  # stubs and copied definitions, dependencies first


def model_parts(model: nn.Module, also: tuple[tuple[str, str], ...] = ()) -> ModelParts:
    """The pieces of ``model_source``; ``also``: more (module, name) lab definitions to copy (e.g. an init rule)."""
    cls, opts = _constructor(model)
    num_classes = int(getattr(model, "num_classes", 0) or 0)
    if not num_classes:
        raise ValueError("the model has no num_classes (it was not built by core.models.build)")
    collector = _Collector()
    collector.need(cls.__module__, cls.__name__)
    for module_name, name in also:
        collector.need(module_name, name)
    imports = sorted(set(collector.imports.values()) | {"import torch"},
                     key=lambda line: (line.startswith("from"), line))
    body = collector.stub_sources() + [collector.sources[name][1] for _, name in collector.order]
    return ModelParts(cls, opts, num_classes, imports, body)


def model_source(model: nn.Module, *, state_dict_file: str = "model.pt", module_name: str = "model",
                 classes: list[str] | None = None) -> str:
    """Python source that defines ``model``'s class and ``build_model()`` / ``load_model(path)``.

    Needs only torch (and torchvision / torchaudio when the model uses them), never the lab. ``module_name`` is
    what the file will be imported as (its name without .py), for the usage note.
    """
    parts = model_parts(model)
    cls, opts, num_classes = parts.cls, parts.options, parts.num_classes
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
    imports, body = parts.imports, parts.body
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
