"""Inside the sandbox: the student's loaded module, as the assignments' probes see it.

Probes (``assignments/<name>/probes.py``) run next to student code and turn what it does into plain
data. This module gives them two things: :class:`Student`, which finds the names the assignment asks
for (accepting declared aliases and explaining near misses), and :func:`observe`, which describes a
value (a tensor with its dtype, device, shape and autograd state) as plain data for the judge.
Nothing here decides a point: the judge does, in another process.
"""

from __future__ import annotations

import difflib
import inspect
import re
import types
from typing import Any

import torch

from grader.sandbox.loader import LOADED, student_frame

#: Typos of ``__init__`` seen in real submissions; the first is how students most often type it.
INIT_TYPOS = ("__init", "__int__", "_init_", "__init_", "_init__", "__innit__", "__intit__", "init")


class MissingDefinition(Exception):
    """The assignment needs a name (class, function or method) that the submission does not define."""

    def __init__(self, message: str, hint: str) -> None:
        """Carry a message saying what is missing and a hint saying what to do."""
        super().__init__(message)
        self.hint = hint


class Student:
    """The student's module plus what the grader noticed while looking things up in it."""

    def __init__(self, module: types.ModuleType, aliases: dict[str, list[str]], device: torch.device) -> None:
        """Wrap a loaded module; ``aliases`` maps each expected name to other accepted spellings."""
        self.module = module
        self.aliases = aliases
        self.device = device
        self.notes: list[str] = []

    def get(self, name: str, kind: str | None = None) -> Any:
        """Return the module-level definition ``name`` (or an accepted alias of it).

        ``kind`` ("class" or "function") is what the assignment wants; when ``name`` is missing, a near miss of
        that kind is suggested before any other name.
        """
        namespace = vars(self.module)
        if name in namespace:
            return namespace[name]
        for alias in self.aliases.get(name, []):
            if alias in namespace:
                note = f"Found `{alias}` and used it as `{name}` (the name the assignment asks for)."
                if note not in self.notes:
                    self.notes.append(note)
                return namespace[alias]
        self._never_ran(name)
        public = [key for key, value in namespace.items()
                  if not key.startswith("__") and not isinstance(value, types.ModuleType)]
        same_kind = [key for key in public if kind is None or _kind(namespace[key]) == kind]
        close = (difflib.get_close_matches(name, same_kind, n=1, cutoff=0.6)
                 or difflib.get_close_matches(name, public, n=1, cutoff=0.6))
        if close:
            hint = (f"Did you mean `{close[0]}`{self._at(namespace[close[0]])}? Rename it to `{name}`: the grader "
                    "looks for that exact name.")
        else:
            hint = f"Define `{name}` at the top level of your file (not inside another function or class)."
        raise MissingDefinition(f"Your submission does not define `{name}`.", hint)

    def where(self, exc: BaseException) -> str:
        """" (file, line N: `code`)" for the student's innermost line in ``exc``'s traceback, or ""."""
        filenames = {cell["filename"] for cell in LOADED.get(self.module.__name__, {}).get("cells", [])}
        frame = student_frame(exc.__traceback__, filenames)
        if frame is None:
            return ""
        code = f": `{frame.line.strip()}`" if frame.line else ""
        return f" ({frame.filename}, line {frame.lineno}{code})"

    def _definitions(self, name: str) -> list[tuple[dict[str, Any], int, str]]:
        """(cell, line, indentation) of each ``class name`` / ``def name`` line in the loaded code."""
        pattern = re.compile(rf"^([ \t]*)(?:class|def|async[ \t]+def)[ \t]+{re.escape(name)}\b", re.MULTILINE)
        found = []
        for cell in LOADED.get(self.module.__name__, {}).get("cells", []):
            for match in pattern.finditer(cell["source"]):
                found.append((cell, cell["source"].count("\n", 0, match.start()) + 1, match.group(1)))
        return found

    def _never_ran(self, name: str) -> None:
        """Explain a missing ``name`` whose definition is in the code but did not run, or is not at the top level."""
        definitions = self._definitions(name)
        problems = LOADED.get(self.module.__name__, {}).get("problems", [])
        for cell, line, indent in definitions:
            problem = next((p for p in problems if p["filename"] == cell["filename"]), None)
            if problem and not indent:
                stopped = f" at line {problem['line']}" if problem["line"] else ""
                raise MissingDefinition(
                    f"`{name}` is in your code ({cell['filename']}, line {line}) but was never defined, because "
                    f"loading {cell['filename']} stopped{stopped} with an error.",
                    f"Fix this first: {problem['message'].splitlines()[0]}",
                )
        if definitions and all(indent for _cell, _line, indent in definitions):
            cell, line, _indent = definitions[0]
            raise MissingDefinition(
                f"Your submission does not define `{name}` at the top level: the definition at "
                f"{cell['filename']}, line {line} is indented, so it sits inside another block.",
                "Move it to the top level of the file (no indentation), outside any function, class or `if`.",
            )

    def _at(self, found: Any) -> str:
        """" (file, line N)" where the student's function or class ``found`` is defined, or ""."""
        if isinstance(found, staticmethod | classmethod):
            found = found.__func__
        if isinstance(found, types.FunctionType):  # a plain function: its code says where (no student code runs)
            return f" ({found.__code__.co_filename}, line {found.__code__.co_firstlineno})"
        if isinstance(found, type):
            for cell, line, indent in self._definitions(found.__name__):
                if not indent:
                    return f" ({cell['filename']}, line {line})"
        return ""

    def cls(self, name: str, methods: tuple[str, ...] = ()) -> type:
        """Return class ``name`` after checking that it defines each of ``methods`` itself."""
        found = self.get(name, "class")
        if not isinstance(found, type):
            raise MissingDefinition(
                f"`{name}` should be a class, but your submission defines it as a {type(found).__name__}.",
                f"Write `class {name}(...):`.",
            )
        for method in methods:
            self.require_method(found, name, method)
        return found

    def require_method(self, klass: type, class_name: str, method: str) -> None:
        """Raise :class:`MissingDefinition` with a precise hint unless ``klass`` defines ``method``."""
        own = vars(klass)
        if method in own:
            return
        if any(method in vars(base) for base in klass.__mro__[1:] if base.__module__ == self.module.__name__):
            return  # inherited from another class of the student's: fine
        message = f"Your class `{class_name}` has no method `{method}`."
        if method == "__init__":
            # Inside a class, Python renames `__init` (two leading underscores, none trailing) to
            # `_ClassName__init`: look for both spellings, and report the one the student wrote.
            mangled = {f"_{klass.__name__.lstrip('_')}{t}": t for t in INIT_TYPOS if t.startswith("__")}
            typo = next((t for t in INIT_TYPOS if t in own), None) or next(
                (written for name, written in mangled.items() if name in own), None)
            if typo:
                written = own[typo] if typo in own else next(
                    (own[name] for name, t in mangled.items() if t == typo and name in own), None)
                raise MissingDefinition(
                    f"Your class `{class_name}` defines `{typo}`{self._at(written)} instead of `__init__`, so "
                    "Python never calls it.",
                    "Rename it to `__init__` (two underscores on each side).",
                )
        stray = vars(self.module).get(method)
        if inspect.isfunction(stray):
            params = list(inspect.signature(stray).parameters)
            if params[:1] == ["self"]:
                raise MissingDefinition(
                    f"`{method}`{self._at(stray)} is defined at the top level of your file, outside class "
                    f"`{class_name}`.",
                    f"Indent `def {method}(self, ...)` so it sits inside `class {class_name}`.",
                )
        close = difflib.get_close_matches(method, [k for k in own if not k.startswith("_")], n=1, cutoff=0.6)
        if close:
            raise MissingDefinition(message, f"Did you mean `{close[0]}`{self._at(own[close[0]])}? Rename it to "
                                             f"`{method}`.")
        raise MissingDefinition(message, f"Add `def {method}(self, ...)` inside `class {class_name}`.")

    def function(self, name: str) -> Any:
        """Return a module-level function (or callable) ``name``."""
        found = self.get(name, "function")
        if not callable(found):
            raise MissingDefinition(
                f"`{name}` should be a function, but it is a {type(found).__name__}.", f"Write `def {name}(...):`."
            )
        return found


def _kind(value: Any) -> str:
    """"class", "function" (any other callable) or "value": what a module-level name holds."""
    if isinstance(value, type):
        return "class"
    return "function" if callable(value) else "value"


def observe(value: Any) -> dict[str, Any]:
    """Describe ``value`` as plain data: a tensor's values, dtype, device, shape and autograd state."""
    if isinstance(value, torch.Tensor):
        data = value.detach().to("cpu").as_subclass(torch.Tensor).clone()
        return {
            "type": "Parameter" if isinstance(value, torch.nn.Parameter) else "Tensor",
            "tensor": data,
            "dtype": str(value.dtype).replace("torch.", ""),
            "device": str(value.device),
            "shape": list(value.shape),
            "requires_grad": bool(value.requires_grad),
            "is_leaf": bool(value.is_leaf),
            "grad_fn": type(value.grad_fn).__name__ if value.grad_fn is not None else None,
        }
    if isinstance(value, bool | int | float):
        return {"type": type(value).__name__, "number": float(value)}
    if value is None:
        return {"type": "None"}
    text = repr(value)
    return {"type": type(value).__name__, "repr": text if len(text) <= 300 else text[:300] + "..."}


def observe_attribute(obj: Any, name: str, _observe: Any = observe) -> dict[str, Any]:
    """:func:`observe` of ``obj.name``, or ``{"type": "missing"}`` when there is no such attribute.

    ``observe`` is bound when this is defined, so that a submission replacing ``student.observe`` does not
    change what this reports (a probe's report can only ever lose points; this keeps it honest too).
    """
    return _observe(getattr(obj, name)) if hasattr(obj, name) else {"type": "missing"}


def unregistered_tensors(module: torch.nn.Module) -> list[dict[str, str]]:
    """Tensors, and lists or dicts of tensors or modules, held by ``module`` but not registered with it."""
    found: list[dict[str, str]] = []
    registered = {id(p) for p in module.parameters()} | {id(m) for m in module.modules()}
    for owner_name, owner in module.named_modules():
        for attr, value in vars(owner).items():
            if attr.startswith("_"):
                continue
            where = f"{owner_name}.{attr}" if owner_name else attr
            if isinstance(value, torch.Tensor) and not isinstance(value, torch.nn.Parameter):
                if value.grad_fn is not None:
                    what = f"a plain tensor computed from a parameter (grad_fn={type(value.grad_fn).__name__})"
                else:
                    what = "a plain tensor, not an nn.Parameter"
                found.append({"name": where, "what": what})
            elif isinstance(value, list | tuple | dict) and value and all(
                id(v) in registered for v in (value.values() if isinstance(value, dict) else value)
            ):
                continue  # a convenience reference to tensors and modules that are registered anyway
            elif isinstance(value, list | tuple) and value and all(
                isinstance(v, torch.Tensor | torch.nn.Module) for v in value
            ):
                kind = "modules" if isinstance(value[0], torch.nn.Module) else "tensors"
                fix = "nn.ModuleList" if kind == "modules" else "nn.ParameterList"
                found.append({"name": where, "what": f"a Python {type(value).__name__} of {kind}; use {fix}"})
            elif isinstance(value, dict) and value and all(
                isinstance(v, torch.Tensor | torch.nn.Module) for v in value.values()
            ):
                kind, fix = (("modules", "nn.ModuleDict") if all(isinstance(v, torch.nn.Module) for v in value.values())
                             else ("tensors", "nn.ParameterDict"))
                found.append({"name": where, "what": f"a Python dict of {kind}; use {fix}"})
    return found
