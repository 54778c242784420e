"""Mutation testing of the checks: ``grader validate --mutants``.

A check that cannot fail protects nobody. This module derives *mutants* of a reference solution, each
one small mistake a student of the course makes (a dropped bias, a flipped sign, a missing ``1/m``, a
transposed matrix, ``=`` for ``+=``, a ``.detach()``, a missing ``zero_grad()``, ``step()`` before
``backward()``, a wrong exponent, a plain tensor for an ``nn.Parameter``, a list for an ``nn.ModuleList``,
and the generic arithmetic and comparison mistakes), grades every mutant through the warm batch workers
(:class:`grader.workers.LocalPool`, seeded by content like any batch), and reports the mutants that keep
full marks: their checks let that mistake through.

Mutants are made with :mod:`ast`, only inside the reference's ``# BEGIN SOLUTION`` ... ``# END SOLUTION``
blocks (what the student writes). Each mutation replaces the source text of one node (or of whole
statements) and leaves every other character of the file as it was, so a survivor's diff is one or two
lines. A mutant's id is stable and readable, ``ASSIGNMENT:FUNCTION:OPERATOR@L<line>`` (``#2``... when
one line gives the same operator twice), e.g. ``my_linear:forward:drop_bias@L27``. Mutants whose text
is the reference's or another mutant's, and mutants that do not compile, are left out.

An assignment declares the mutants that cannot be told apart from the reference (equivalent mutants)
in its ``checks.py``, with the reason, as a literal dictionary::

    EQUIVALENT_MUTANTS = {"custom_function:forward:detach@L13": "forward runs under no_grad: ..."}

It is read with :func:`ast.literal_eval`, never imported, and nothing refers to it, so ``grader release``
leaves it out of the students' ``checks.py``. A declared id that is no longer generated is a problem too
(the reference changed under it).
"""

from __future__ import annotations

import ast
import copy
import difflib
import hashlib
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from grader.assignment import Assignment

if TYPE_CHECKING:
    from grader.workers import LocalPool

_BEGIN = re.compile(r"^[ \t]*# BEGIN SOLUTION[ \t]*$")
_END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")

#: Method or function names swapped for a sibling a student confuses them with.
RENAMES: dict[str, str] = {
    "sum": "mean", "mean": "sum", "argmax": "argmin", "argmin": "argmax", "max": "min", "min": "max",
    "relu": "sigmoid", "sigmoid": "relu", "exp": "log", "log": "exp", "no_grad": "enable_grad",
    "enable_grad": "no_grad", "train": "eval", "eval": "train", "add_": "sub_", "sub_": "add_",
    "add": "sub", "sub": "add", "mul_": "div_", "div_": "mul_", "zeros": "ones", "ones": "zeros",
}

#: Calls with one argument that a mutant replaces by that argument, and the operator's name.
UNWRAP_CALLS: dict[str, str] = {
    "Parameter": "plain_tensor", "ModuleList": "plain_list", "ParameterList": "plain_list",
    "ModuleDict": "plain_dict", "ParameterDict": "plain_dict",
}

_COMPARE_SWAPS: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt), ast.GtE: (ast.Gt, ast.LtE),
    ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,),
    ast.In: (ast.NotIn,), ast.NotIn: (ast.In,),
}

_BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult,
    ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv,
}

#: The statuses of a mutant that was judged: points lost with them are the checks' doing. A ``crashed`` or
#: ``rejected`` mutant says nothing about the checks (the grader failed, or never ran it).
KILLING_STATUSES = ("graded", "load_error", "timeout")

_ATOMS = (ast.Name, ast.Attribute, ast.Call, ast.Constant, ast.Subscript, ast.List, ast.Tuple, ast.Dict)


@dataclass(frozen=True)
class Mutant:
    """One mutated reference solution."""

    assignment: str
    id: str  #: ``ASSIGNMENT:FUNCTION:OPERATOR@L<line>``
    operator: str
    line: int
    source: str  #: the whole mutated file

    @property
    def sha256(self) -> str:
        """The sha256 of the mutant's text (the batch seeds its inputs from it)."""
        return hashlib.sha256(self.source.encode()).hexdigest()

    def diff(self, original: str) -> str:
        """A unified diff from the reference ``original`` to this mutant."""
        lines = difflib.unified_diff(original.splitlines(keepends=True), self.source.splitlines(keepends=True),
                                     f"reference/{self.assignment}.py", self.id, n=1)
        return "".join(lines)


@dataclass
class _Edit:
    """A candidate mutation: replace source[start:end] by text."""

    operator: str
    line: int
    function: str
    start: int
    end: int
    text: str


def solution_lines(source: str) -> list[tuple[int, int]]:
    """The 1-based, inclusive line ranges strictly inside each solution block of ``source``."""
    ranges, begin = [], None
    for number, line in enumerate(source.splitlines(), 1):
        if _BEGIN.match(line):
            begin = number
        elif _END.match(line) and begin is not None:
            ranges.append((begin + 1, number - 1))
            begin = None
    return ranges


class _Collector:
    """Walks a reference's AST and collects the edits inside its solution blocks."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines = source.splitlines(keepends=True)
        self.offsets = [0]
        for line in self.lines:
            self.offsets.append(self.offsets[-1] + len(line.encode()))
        self.raw = source.encode()
        self.ranges = solution_lines(source)
        self.edits: list[_Edit] = []
        self.function = "<module>"

    # -- positions -----------------------------------------------------------------------------------

    def inside(self, node: ast.AST) -> bool:
        first, last = getattr(node, "lineno", 0), getattr(node, "end_lineno", 0) or 0
        return any(lo <= first and last <= hi for lo, hi in self.ranges)

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self.offsets[node.lineno - 1] + node.col_offset  # type: ignore[attr-defined]
        end = self.offsets[node.end_lineno - 1] + node.end_col_offset  # type: ignore[attr-defined]
        return start, end

    def line_span(self, first: ast.stmt, last: ast.stmt) -> tuple[int, int]:
        return self.offsets[first.lineno - 1], self.offsets[last.end_lineno or last.lineno]

    def indent(self, node: ast.stmt) -> str:
        line = self.lines[node.lineno - 1]
        return line[: len(line) - len(line.lstrip())]

    def text(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.raw[start:end].decode()

    # -- recording -----------------------------------------------------------------------------------

    def replace(self, node: ast.AST, new: ast.expr | str, operator: str) -> None:
        """Replace the expression ``node`` by ``new`` (parenthesised unless it is an atom)."""
        if isinstance(new, str):
            text = new
        else:
            text = ast.unparse(ast.fix_missing_locations(new))
            if not isinstance(new, _ATOMS) or (isinstance(new, ast.Constant) and isinstance(new.value, (int, float))
                                                and new.value < 0):
                text = f"({text})"
        start, end = self.span(node)
        self.edits.append(_Edit(operator, node.lineno, self.function, start, end, text))  # type: ignore[attr-defined]

    def replace_lines(self, first: ast.stmt, last: ast.stmt, text: str, operator: str) -> None:
        start, end = self.line_span(first, last)
        self.edits.append(_Edit(operator, first.lineno, self.function, start, end, text))

    # -- walking -------------------------------------------------------------------------------------

    def collect(self, tree: ast.Module) -> list[_Edit]:
        self.body(tree.body)
        return self.edits

    def body(self, statements: list[ast.stmt]) -> None:
        for index, stmt in enumerate(statements):
            if self.inside(stmt):
                self.statement(stmt, statements[index + 1] if index + 1 < len(statements) else None)
            else:
                self.children(stmt)

    def children(self, stmt: ast.stmt) -> None:
        saved = self.function
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.function = stmt.name
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, list):
                self.body(inner)
        for handler in getattr(stmt, "handlers", []):
            self.body(handler.body)
        self.function = saved

    def statement(self, stmt: ast.stmt, following: ast.stmt | None) -> None:
        """Statement-level operators on ``stmt``, then expression operators on its own expressions."""
        indent = self.indent(stmt)
        # Remove it (a missing zero_grad(), a missing model.train(), a forgotten assignment).
        self.replace_lines(stmt, stmt, f"{indent}pass\n", _removal_name(stmt))
        # Swap it with the next statement (step() before backward(), the order of two updates).
        if following is not None and self.inside(following) and not _independent(stmt, following):
            first, last = self.line_span(stmt, stmt), self.line_span(following, following)
            mine = self.raw[first[0]:first[1]].decode()
            theirs = self.raw[last[0]:last[1]].decode()
            self.replace_lines(stmt, following, theirs + mine, "swap_with_next")
        if isinstance(stmt, ast.AugAssign):
            target = self.text(stmt.target)
            self.replace_lines(stmt, stmt, f"{indent}{target} = {self.text(stmt.value)}\n", "augassign_to_assign")
            other = _BINOP_SWAPS.get(type(stmt.op))
            if other is not None and not isinstance(stmt.op, ast.Pow):
                symbol = ast.unparse(ast.BinOp(ast.Name("a"), other(), ast.Name("b")))[2]
                self.replace_lines(stmt, stmt, f"{indent}{target} {symbol}= {self.text(stmt.value)}\n",
                                   "flip_augassign")
        if isinstance(stmt, (ast.If, ast.While)):
            self.replace(stmt.test, ast.UnaryOp(ast.Not(), copy.deepcopy(stmt.test)), "negate_condition")
        if isinstance(stmt, ast.With) and stmt.body:
            # Run the body without the context manager (no torch.no_grad()).
            body = "".join(self.raw[slice(*self.line_span(stmt.body[0], stmt.body[-1]))].decode().splitlines(True))
            inner = self.indent(stmt.body[0])
            lines = [line[len(inner) - len(indent):] if line.startswith(inner) else line
                     for line in body.splitlines(True)]
            self.replace_lines(stmt, stmt, "".join(lines), "unwrap_with")
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for decorator in stmt.decorator_list:  # a dropped @staticmethod, @torch.no_grad()...
                called = decorator.func if isinstance(decorator, ast.Call) else decorator
                name = ast.unparse(called).rsplit(".", 1)[-1]
                start = self.offsets[decorator.lineno - 1]
                end = self.offsets[decorator.end_lineno or decorator.lineno]
                self.edits.append(_Edit(f"drop_{name}", decorator.lineno, stmt.name, start, end, ""))
        if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Tuple) and len(stmt.value.elts) > 1:
            elts = stmt.value.elts
            for i in range(len(elts) - 1):
                swapped = [copy.deepcopy(e) for e in elts]
                swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
                self.replace(stmt.value, ast.Tuple(swapped, ast.Load()), "swap_returned")
        for node in _own_expressions(stmt):
            self.expression(node, stmt)
        self.children(stmt)

    def expression(self, root: ast.expr, stmt: ast.stmt) -> None:
        # Flip the sign of a computed value (an assigned or returned call, product, sum...).
        if isinstance(stmt, (ast.Assign, ast.Return)) and root is stmt.value \
                and isinstance(root, (ast.BinOp, ast.Call, ast.Name)) \
                and not (isinstance(stmt, ast.Assign) and isinstance(root, ast.Name)) \
                and not (isinstance(root, ast.Call) and _builds(root)):
            self.replace(root, ast.UnaryOp(ast.USub(), copy.deepcopy(root)), "negate")
        for node, parent in _walk(root):
            for operator, new in _mutations(node, parent):
                self.replace(node, new, operator)


#: Built-in functions that change nothing; any other call of a bare name (``model(x)``) may.
PURE_BUILTINS = frozenset({"dict", "list", "tuple", "len", "float", "int", "isinstance", "range", "min", "max", "abs"})

#: Calls that change state (or draw random numbers) beyond the value they return: two statements that both
#: make such calls are never taken for independent.
EFFECTS = frozenset({
    "backward", "step", "zero_grad", "train", "eval", "append", "extend", "insert", "pop", "save_for_backward",
    "__init__", "register_parameter", "register_buffer", "add_module", "print", "setattr", "closure",
    "rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial", "empty", "Parameter",
    "Conv2d", "Linear", "manual_seed", "load_state_dict",
})


def _path(node: ast.AST) -> str | None:
    """``a``, ``self.w`` or ``self.grads['dw']`` for a name, attribute chain or constant subscript; else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _path(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    if isinstance(node, ast.Subscript):
        inner = _path(node.value)
        key = node.slice
        return None if inner is None else f"{inner}[{key.value!r}]" if isinstance(key, ast.Constant) else inner
    return None


def _accesses(stmt: ast.stmt) -> tuple[set[str], set[str], bool]:
    """What ``stmt`` reads, what it writes (as paths), and whether it has effects beyond those writes."""
    reads: set[str] = set()
    writes: set[str] = set()
    effects = False
    # Only whole chains count: reading ``self`` to store ``self.w`` reads nothing that the other statement writes.
    inner = {id(n.value) for n in ast.walk(stmt) if isinstance(n, (ast.Attribute, ast.Subscript))}
    for node in ast.walk(stmt):
        if isinstance(node, (ast.Return, ast.Raise, ast.Continue, ast.Break, ast.Yield, ast.YieldFrom, ast.Global,
                             ast.Nonlocal, ast.Delete, ast.Await)):
            effects = True
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
            # An in-place method on a value just made (torch.empty(...).uniform_(...) aside) changes nothing shared.
            in_place = name.endswith("_") and not name.endswith("__") and not isinstance(receiver, ast.Call)
            called = isinstance(node.func, ast.Name) and name not in PURE_BUILTINS  # model(x), criterion(...)
            if name in EFFECTS or in_place or name in ("uniform_", "normal_") or called:
                effects = True
            if in_place and receiver is not None:
                path = _path(receiver)
                if path:
                    writes.add(path)
        elif isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)) and id(node) not in inner:
            path = _path(node)
            if path:
                (writes if isinstance(node.ctx, (ast.Store, ast.Del)) else reads).add(path)
        elif isinstance(node, ast.AugAssign):
            path = _path(node.target)
            if path:
                reads.add(path)
    return reads, writes, effects


def _overlap(written: set[str], used: set[str]) -> bool:
    """Whether a path in ``written`` is, contains or lies inside a path in ``used``."""
    return any(w == u or u.startswith((w + ".", w + "[")) or w.startswith((u + ".", u + "[")) for w in written
               for u in used)


def _independent(first: ast.stmt, second: ast.stmt) -> bool:
    """Whether swapping two statements changes nothing.

    True when neither writes what the other reads or writes, and at most one of them has effects (a call
    that changes state, a return, a raise...). A heuristic on names, not a proof: it errs towards swapping.
    """
    reads1, writes1, effects1 = _accesses(first)
    reads2, writes2, effects2 = _accesses(second)
    if effects1 and effects2:
        return False
    return not (_overlap(writes1, reads2 | writes2) or _overlap(writes2, reads1 | writes1))


def _removal_name(stmt: ast.stmt) -> str:
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else "call"
        return f"remove_{name}"
    return f"remove_{type(stmt).__name__.lower()}"


def _own_expressions(stmt: ast.stmt) -> Iterator[ast.expr]:
    """The expressions of ``stmt`` itself, not those of the statements nested in it."""
    for name, value in ast.iter_fields(stmt):
        if name in ("body", "orelse", "finalbody", "handlers", "decorator_list", "returns", "args"):
            continue
        if isinstance(value, ast.expr):
            yield value
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, ast.expr):
                    yield item
                elif isinstance(item, ast.withitem):
                    yield item.context_expr


def _walk(root: ast.expr) -> Iterator[tuple[ast.expr, ast.AST | None]]:
    stack: list[tuple[ast.AST, ast.AST | None]] = [(root, None)]
    while stack:
        node, parent = stack.pop()
        if isinstance(node, ast.expr):
            yield node, parent
        children = list(ast.iter_child_nodes(node))
        stack.extend((child, node) for child in reversed(children))


def _mentions(node: ast.AST, *names: str) -> bool:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name) and inner.id in names:
            return True
        if isinstance(inner, ast.Attribute) and inner.attr in names:
            return True
    return False


def _builds(node: ast.Call) -> bool:
    """Whether a call builds an object or a constant tensor (negating ``nn.Conv2d(...)`` or zeros says nothing)."""
    name = _call_name(node)
    return name[:1].isupper() or name in ("zeros", "ones", "empty", "scalar_tensor", "zeros_like", "ones_like", "dict",
                                          "list", "tuple", "super")


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _mutations(node: ast.expr, parent: ast.AST | None) -> Iterator[tuple[str, ast.expr]]:
    """Every mutation of the expression ``node`` alone: (operator, replacement)."""
    dup = copy.deepcopy
    store = isinstance(getattr(node, "ctx", None), (ast.Store, ast.Del))
    if isinstance(node, ast.BinOp):
        left, right = dup(node.left), dup(node.right)
        swap = _BINOP_SWAPS.get(type(node.op))
        if swap is not None:
            name = f"{type(node.op).__name__.lower()}_to_{swap.__name__.lower()}"
            yield ("flip_sign" if isinstance(node.op, (ast.Add, ast.Sub)) else name), ast.BinOp(left, swap(), right)
        if isinstance(node.op, ast.MatMult):
            yield "swap_matmul", ast.BinOp(right, ast.MatMult(), left)
            yield "transpose", ast.BinOp(left, ast.MatMult(), ast.Attribute(right, "T", ast.Load()))
        if isinstance(node.op, (ast.Add, ast.Sub)):
            yield ("drop_bias" if _mentions(node.right, "bias", "b") else "drop_term"), dup(node.left)
            if isinstance(node.op, ast.Add):
                yield ("drop_bias" if _mentions(node.left, "bias", "b") else "drop_term"), dup(node.right)
        if isinstance(node.op, (ast.Mult, ast.Div)):
            yield "drop_scale", dup(node.left)
            if isinstance(node.op, ast.Mult):
                yield "drop_scale", dup(node.right)
        if isinstance(node.op, ast.Pow):
            yield "drop_exponent", dup(node.left)
    elif isinstance(node, ast.UnaryOp):
        if isinstance(node.op, (ast.USub, ast.Not, ast.Invert)):
            yield f"drop_{type(node.op).__name__.lower()}", dup(node.operand)
    elif isinstance(node, ast.Compare):
        for index, op in enumerate(node.ops):
            for other in _COMPARE_SWAPS.get(type(op), ()):
                new = dup(node)
                new.ops[index] = other()
                yield f"{type(op).__name__.lower()}_to_{other.__name__.lower()}", new
    elif isinstance(node, ast.BoolOp):
        other_op: ast.boolop = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        swapped = ast.BoolOp(other_op, dup(node.values))
        yield f"{type(node.op).__name__.lower()}_to_{type(other_op).__name__.lower()}", swapped
        for index in range(len(node.values)):
            rest = [dup(v) for i, v in enumerate(node.values) if i != index]
            yield "drop_condition", rest[0] if len(rest) == 1 else ast.BoolOp(dup(node.op), rest)
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        value: int | float = node.value  # type: ignore[assignment]
        exponent = isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Pow) and parent.right is node
        label = "exponent" if exponent else "constant"
        changed: list[int | float] = [value + 1, value - 1] if isinstance(value, int) else \
            [value * 2, value / 2] if value else [1.0]
        if isinstance(value, int) and value == 1:
            changed = [2, 0]
        for new_value in changed:
            if new_value != value and (isinstance(value, float) or new_value >= 0 or label == "exponent"):
                yield label, ast.Constant(new_value)
    elif isinstance(node, ast.Attribute) and not store:
        if node.attr in ("T", "mT", "data"):
            yield ("drop_transpose" if node.attr != "data" else "drop_data"), dup(node.value)
        elif isinstance(node.value, ast.Name) and node.value.id == "self" and not _is_receiver(node, parent):
            # .detach() (``.data`` acts the same on what the checks see: one of the two is enough).
            yield "detach", ast.Call(ast.Attribute(dup(node), "detach", ast.Load()), [], [])
    elif isinstance(node, ast.Call):
        yield from _call_mutations(node)


def _is_receiver(node: ast.expr, parent: ast.AST | None) -> bool:
    """Whether ``node`` is called (``self.f(...)``), indexed (``self.d[k]``) or compared, not computed with."""
    return (isinstance(parent, ast.Call) and parent.func is node) \
        or (isinstance(parent, ast.Subscript) and parent.value is node) or isinstance(parent, ast.Compare)


def _call_mutations(node: ast.Call) -> Iterator[tuple[str, ast.expr]]:
    dup = copy.deepcopy
    func, name = node.func, _call_name(node)
    if isinstance(func, ast.Attribute) and not (isinstance(func.value, ast.Call) and _call_name(func.value) == "super"):
        receiver = func.value
        if name in ("t", "transpose", "detach", "clone", "requires_grad_", "unsqueeze", "expand_as", "item",
                    "float", "double", "to", "contiguous", "view_as", "reshape_as"):
            yield ("drop_transpose" if name in ("t", "transpose") else f"drop_{name}"), dup(receiver)
        if name in ("mm", "matmul") and len(node.args) == 1 and not node.keywords:
            yield "swap_matmul", ast.Call(ast.Attribute(dup(node.args[0]), name, ast.Load()), [dup(receiver)], [])
            arg_t = ast.Call(ast.Attribute(dup(node.args[0]), "t", ast.Load()), [], [])
            yield "transpose", ast.Call(ast.Attribute(dup(receiver), name, ast.Load()), [arg_t], [])
    if name in ("mm", "matmul") and isinstance(func, ast.Attribute) and len(node.args) == 2:
        yield "swap_matmul", ast.Call(dup(func), [dup(node.args[1]), dup(node.args[0])], [])
    if name in UNWRAP_CALLS and len(node.args) == 1 and not node.keywords:
        yield UNWRAP_CALLS[name], dup(node.args[0])
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in ("torch", "F") \
            and len(node.args) == 1 and not node.keywords and name in ("relu", "sigmoid", "exp", "tanh", "sum"):
        yield f"drop_{name}", dup(node.args[0])
    if name in RENAMES:
        new = dup(node)
        if isinstance(new.func, ast.Attribute):
            new.func.attr = RENAMES[name]
        elif isinstance(new.func, ast.Name):
            new.func.id = RENAMES[name]
        yield f"{name}_to_{RENAMES[name]}", new
    for index, keyword in enumerate(node.keywords):
        if keyword.arg is not None:
            new = dup(node)
            del new.keywords[index]
            yield f"drop_kwarg_{keyword.arg}", new


def make_mutants(assignment: str, source: str) -> list[Mutant]:
    """Every distinct, compiling mutant of the reference ``source`` of ``assignment``, in source order."""
    tree = ast.parse(source)
    edits = _Collector(source).collect(tree)
    raw = source.encode()
    seen = {source}
    mutants: list[Mutant] = []
    counts: dict[str, int] = {}
    for edit in sorted(edits, key=lambda e: (e.start, e.end, e.operator)):
        text = (raw[:edit.start] + edit.text.encode() + raw[edit.end:]).decode()
        if text in seen:
            continue
        seen.add(text)
        try:
            compile(text, f"{assignment}.py", "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            continue
        base = f"{assignment}:{edit.function}:{edit.operator}@L{edit.line}"
        counts[base] = counts.get(base, 0) + 1
        mutant_id = base if counts[base] == 1 else f"{base}#{counts[base]}"
        mutants.append(Mutant(assignment, mutant_id, edit.operator, edit.line, text))
    return mutants


def equivalent_mutants(assignment: Assignment) -> dict[str, str]:
    """The ``EQUIVALENT_MUTANTS`` an assignment's ``checks.py`` declares: mutant id -> why it is equivalent.

    Read without importing the checks: the value is a dictionary of strings, written as literals, as
    concatenations (``+``) and as names of module-level string constants defined before it.
    """
    path = assignment.folder / "checks.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    strings: dict[str, str] = {}
    for stmt in tree.body:
        target, value = _assigned(stmt)
        if target is None or value is None:
            continue
        if target == "EQUIVALENT_MUTANTS":
            declared = _literal(value, strings)
            if not isinstance(declared, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                                         for k, v in declared.items()):
                raise ValueError(f"{path}: EQUIVALENT_MUTANTS must map mutant ids to non-empty reasons")
            return declared
        try:
            text = _literal(value, strings)
        except ValueError:
            continue
        if isinstance(text, str):
            strings[target] = text
    return {}


def _assigned(stmt: ast.stmt) -> tuple[str | None, ast.expr | None]:
    """``(name, value)`` of a top-level ``name = value`` (or ``name: T = value``); ``(None, None)`` otherwise."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id, stmt.value
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return stmt.target.id, stmt.value
    return None, None


def _literal(node: ast.expr, strings: dict[str, str]) -> object:
    """The value of a literal built from strings, ``+``, known string names, dicts, tuples and lists."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in strings:
        return strings[node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left, strings), _literal(node.right, strings)
        if isinstance(left, str) and isinstance(right, str):
            return left + right
    if isinstance(node, ast.Dict) and all(key is not None for key in node.keys):
        return {_literal(k, strings): _literal(v, strings) for k, v in zip(node.keys, node.values, strict=True)
                if k is not None}
    raise ValueError(f"not a literal: {ast.unparse(node)[:80]}")


@dataclass
class MutantReport:
    """What the mutants of one assignment showed."""

    assignment: str
    reference: str
    mutants: list[Mutant]
    equivalent: dict[str, str]
    scores: dict[str, tuple[float, float, str]] = field(default_factory=dict)  #: id -> (score, max, status)
    control: tuple[float, float, str] | None = None  #: the unchanged reference, graded in the same batch

    def _graded(self, mutant: Mutant) -> bool:
        return mutant.id in self.scores and self.scores[mutant.id][2] in KILLING_STATUSES

    @property
    def killed(self) -> list[Mutant]:
        """The mutants that lost at least one point."""
        return [m for m in self.mutants if self._graded(m) and self.scores[m.id][0] < self.scores[m.id][1]]

    @property
    def survivors(self) -> list[Mutant]:
        """The mutants that kept full marks (declared equivalent ones included)."""
        return [m for m in self.mutants if self._graded(m) and self.scores[m.id][0] >= self.scores[m.id][1]]

    @property
    def undeclared(self) -> list[Mutant]:
        """The survivors that no ``EQUIVALENT_MUTANTS`` entry excuses: the checks miss these mistakes."""
        return [m for m in self.survivors if m.id not in self.equivalent]

    def notes(self) -> list[str]:
        """Declared equivalent mutants that lost points here: worth a look, but no failure.

        A mutant can be equivalent on one device and not on another (a forgotten ``device=`` shows only on a GPU).
        """
        return [f"declared equivalent mutant {m.id} lost points on this machine's devices: is it equivalent?"
                for m in self.killed if m.id in self.equivalent]

    def problems(self) -> list[str]:
        """Every reason this assignment's mutation testing fails (an empty list: it passes)."""
        ids = {m.id for m in self.mutants}
        if self.control is None or self.control[2] != "graded" or self.control[0] < self.control[1]:
            score, most, status = self.control or (0.0, 0.0, "not graded")
            found = "not graded" if self.control is None else f"{score:g}/{most:g} ({status})"
            return [f"the unchanged reference, graded in the mutants' batch, did not earn full marks: {found}"]
        problems = [f"declared equivalent mutant {key} is not generated (the reference changed?)"
                    for key in sorted(self.equivalent) if key not in ids]
        problems += [f"mutant {m.id} was not graded ({self.scores[m.id][2] if m.id in self.scores else 'no result'})"
                     for m in self.mutants if not self._graded(m)]
        problems += [f"mutant {m.id} survived with full marks:\n{_indent(m.diff(self.reference))}"
                     for m in self.undeclared]
        return problems


def _indent(text: str) -> str:
    return "".join(f"       {line}" for line in text.splitlines(True))


def mutants_for(assignment: Assignment) -> list[Mutant]:
    """The mutants of an assignment's reference solution."""
    return make_mutants(assignment.name, assignment.reference.read_text(encoding="utf-8"))


def grade_mutants(reports: list[MutantReport], course: Path, device: str, pool: LocalPool,
                  on_each: Callable[[MutantReport, Mutant], None] | None = None) -> None:
    """Grade every mutant of ``reports`` in one batch of ``pool`` (a started LocalPool), filling their scores.

    Each mutant is a Task holding its bytes, seeded from its content like any batch submission. The
    unchanged reference of each assignment is graded in the same batch, as a control (id
    ``ASSIGNMENT:reference``): a mutant only counts as killed when the reference kept full marks there.
    A mutant's grading stops at its first check that loses points (``Task.until_first_loss``): that is all a
    kill needs; the control is graded whole.
    """
    from grader.workers import Task

    owners: dict[str, tuple[MutantReport, Mutant]] = {}
    tasks = []
    # The tasks name their file inside an empty folder of their own: the sandbox hides a submission's folder.
    with tempfile.TemporaryDirectory(prefix="grader-mutants-") as folder:
        for report in reports:
            control = Mutant(report.assignment, f"{report.assignment}:reference", "none", 0, report.reference)
            for mutant in [control, *report.mutants]:
                owners[mutant.id] = (report, mutant)
                tasks.append(Task(report.assignment, str(course), str(Path(folder) / f"{report.assignment}.py"),
                                  mutant.id, mutant.sha256, device, None, {}, name=f"{report.assignment}.py",
                                  data=mutant.source.encode(), until_first_loss=mutant.operator != "none"))

        def on_result(task: Task, reply: dict[str, object]) -> None:
            report, mutant = owners[task.id]
            document = reply.get("document") if reply.get("ok") else None
            if isinstance(document, dict):
                score = (float(document["score"]), float(document["max_score"]), str(document["status"]))
                if mutant.operator == "none":
                    report.control = score
                else:
                    report.scores[task.id] = score
            if on_each is not None:
                on_each(report, mutant)

        pool.run(tasks, on_result)
