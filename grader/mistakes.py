"""The class's most common mistakes: failed checks grouped by check and diagnosed cause, for the class report.

Every failed check entry of a results document carries a ``cause`` (see :class:`grader.check.CheckFailed`):
the name of a mistake the check recognised (``"no_bias"``), a pattern :mod:`grader.diagnose` found
(``"missing_mean"``, ``"transpose"``), or null when nothing was recognised. :func:`common_mistakes` counts,
for each (check, cause), the students who made that mistake, so a TA sees at a glance what to go over
again in class. This is for the course staff: hidden checks are counted like the others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

#: Check statuses that count as a mistake (``skipped`` is a consequence of another check, not a mistake).
FAILED = frozenset({"failed", "error", "timeout"})

#: Plain words for the causes the grader's library and the course's checks name. A cause missing here is
#: labelled with the first sentence of its most common hint.
LABELS: dict[str, str] = {
    # grader.diagnose and grader.compare, any assignment
    "missing": "nothing was computed or returned (None)",
    "not_a_tensor": "a number, list or None was returned instead of a tensor",
    "dtype": "the wrong dtype (float64 vs float32, integers)",
    "device": "the result is on the wrong device (a hard-coded .cpu() or .cuda())",
    "not_finite": "NaN or infinite values (an unstable formula)",
    "zeros": "everything is zero (not computed, overwritten or detached)",
    "sign": "the sign is flipped",
    "scale": "a constant factor is wrong",
    "missing_mean": "the 1/m average over the samples is missing",
    "mean_twice": "divided by the number of samples m once too often",
    "mean_over_features": "divided by the number of features n instead of the samples m",
    "doubled": "every value is doubled (something added twice)",
    "transpose": "the result is transposed",
    "transpose_shape": "the shape is transposed",
    "broadcast": "two shapes were broadcast together by mistake ((n, 1) - (1, n))",
    "reshape": "the values have the wrong shape (reshape, view or squeeze)",
    "shape": "the shape is wrong",
    # grader.grading
    "not_implemented": "not written yet (raise NotImplementedError left in)",
    "raised": "the student's code raised an exception",
    "timeout": "ran out of time (an infinite loop or a very long computation)",
    # the course's checks
    "no_bias": "the bias is left out",
    "not_a_module": "the class is not an nn.Module (no nn.Module base or no super().__init__())",
    "not_parameter": "tensors not registered as nn.Parameter",
    "not_registered": "layers kept in a plain list or dict, so they are not registered",
    "parameter_converted": "a parameter converted after wrapping (nn.Parameter(...).double()), so no longer a leaf",
    "parameter_replaced": "parameters overwritten with param.to(...), so no longer nn.Parameters",
    "not_moved": "parameters that do not move with model.to()",
    "requires_grad_false": "parameters created with requires_grad=False",
    "graph_cut": "the autograd graph is cut (.data, .detach(), .item(), torch.no_grad())",
    "hard_coded_dtype": "forward hard-codes a dtype or a device",
    "raised_after_to": "forward raises after model.to(float64) (a hard-coded dtype or device?)",
    "bias_false_ignored": "bias=False is ignored: a bias is still created",
    "weights_transposed": "weights stored transposed, as (out_features, in_features)",
    "size_not_stored": "in_features / out_features not stored",
    "missing_zero_grad": "optimizer.zero_grad() is never called, so gradients accumulate",
    "zero_grad_misplaced": "optimizer.zero_grad() is in the wrong place, so gradients accumulate",
    "accumulated": "gradients accumulate from one step (or call) to the next",
    "zero_grad_before_step": "zero_grad() between backward() and step() throws the gradient away",
    "step_before_backward": "optimizer.step() runs before loss.backward()",
    "step_without_backward": "optimizer.step() runs without a new backward()",
    "no_backward": "loss.backward() is never called",
    "no_step": "optimizer.step() is never called",
    "frozen": "the loss never changes: the parameters are never updated",
    "unchanged": "the values never change (the result is not assigned back, or no gradient reaches them)",
    "loss_tensor_not_item": "the loss tensor is kept instead of loss.item()",
    "missing_eval": "model.eval() is missing in evaluate",
    "missing_no_grad": "evaluate runs without torch.no_grad()",
    "correct_count": "the number of correct predictions instead of the accuracy",
    "percentage": "the accuracy as a percentage instead of a fraction",
    "error_rate": "the error rate (1 - accuracy) instead of the accuracy",
    "argmax_without_dim": "torch.argmax without dim=1: one index over the whole output instead of one per sample",
    "zero_accuracy": "an accuracy of 0: no prediction matched its label (often torch.argmax without dim=1)",
    "missing_relu": "a ReLU is missing",
    "wrong_activation": "another activation instead of ReLU",
    "no_sigmoid": "the sigmoid is missing",
    "ascent": "the parameters move uphill (+ lr * grad)",
    "no_lr": "the learning rate is left out",
    "autograd_used": "autograd used where the gradients must be written by hand",
    "no_autograd": "gradients written by hand where autograd must compute them",
    "ignores_g": "external_grad is ignored",
    "g_twice": "external_grad is applied twice",
    "a_squared": "3a^2 instead of 3a^3",
    "transposed": "the gradient is transposed",
    "not_summed": "the bias gradient is not summed over the batch",
    "wd_ignored": "weight_decay is ignored",
    "no_momentum": "momentum is ignored",
    "state_lost": "the momentum buffers are not kept in self.state (lost by state_dict())",
}

#: The longest label derived from a hint; longer ones are cut at a word (a label is a summary: each
#: student's feedback page has the full text).
LABEL_LENGTH = 120


def base_check_id(entry: Mapping[str, Any]) -> str:
    """The check's id without its device: ``forward[cpu]`` and ``forward[cuda]`` are one check here."""
    check_id = str(entry["id"])
    device = entry.get("device")
    suffix = f"[{device}]"
    return check_id[: -len(suffix)] if device and check_id.endswith(suffix) else check_id


def common_mistakes(rows: Sequence[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """The class's mistakes: failed checks grouped by (check, cause), most common first.

    ``rows`` are (submission id, results document) pairs, as :mod:`grader.summaries` reads them. A check
    that failed without a recognised cause forms one group per check with ``cause`` None. Each group is
    ``{"check", "name", "cause", "label", "count", "ids", "hidden"}``: ``count`` is the number of distinct
    students (a per-device check failed on two devices counts once), ``ids`` their submission ids in the
    order of ``rows``, and ``label`` the cause in plain words. Groups are sorted by ``count`` descending,
    then by the order of the checks in the assignment, then named causes before undiagnosed failures.
    """
    order: dict[str, int] = {}
    groups: dict[tuple[str, str | None], dict[str, Any]] = {}
    hints: dict[tuple[str, str | None], Counter[str]] = {}
    first_lines: dict[tuple[str, str | None], Counter[str]] = {}
    seen: set[tuple[str, str | None, str]] = set()
    for sub_id, document in rows:
        for entry in document.get("checks", []):
            check = base_check_id(entry)
            order.setdefault(check, len(order))
            if entry.get("status") not in FAILED:
                continue
            cause = entry.get("cause") or None
            key = (check, cause)
            group = groups.setdefault(key, {"check": check, "name": str(entry.get("name", check)), "cause": cause,
                                            "label": "", "count": 0, "ids": [], "hidden": False})
            group["hidden"] = group["hidden"] or bool(entry.get("hidden"))
            if (check, cause, sub_id) not in seen:
                seen.add((check, cause, sub_id))
                group["ids"].append(sub_id)
                hints.setdefault(key, Counter())[str(entry.get("hint") or "")] += 1
                first_lines.setdefault(key, Counter())[_first_line(str(entry.get("message") or ""))] += 1
    for key, group in groups.items():
        group["count"] = len(group["ids"])
        group["label"] = _label(group["cause"], hints[key], first_lines[key])
    return sorted(groups.values(),
                  key=lambda g: (-g["count"], order[g["check"]], g["cause"] is None, g["cause"] or ""))


def cause_label(cause: str | None, hint: str | None = None) -> str:
    """Plain words for ``cause``: its entry in :data:`LABELS`, else the first sentence of ``hint``."""
    if cause is None:
        return "no recognised cause"
    if cause in LABELS:
        return LABELS[cause]
    words = _first_sentence(hint or "")
    return words or cause.replace("_", " ")


def _label(cause: str | None, hints: Counter[str], first_lines: Counter[str]) -> str:
    """A group's label: a known cause's words, else the common hint's first sentence.

    A failure with no cause, or an exception, also says the first line most of these students got (the
    exception's type and message), when most of them got the same.
    """
    label = cause_label(cause, hints.most_common(1)[0][0] if hints else None)
    if cause not in (None, "raised"):
        return label
    line, times = first_lines.most_common(1)[0] if first_lines else ("", 0)
    if line and times * 2 >= sum(first_lines.values()):  # most of these students got the same first line
        return _shorten(line) if cause == "raised" else f"{label}: {_shorten(line)}"
    return label


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text.strip() else ""


def _first_sentence(text: str) -> str:
    """The first sentence or clause of a hint (up to '. ' or ': '), without its final full stop."""
    text = _first_line(text)
    for stop in (". ", ": "):
        if stop in text:
            text = text.split(stop, 1)[0]
    text = text.rstrip(".")
    first = text.split(" ", 1)[0]
    if first[:1].isupper() and first[1:].isalpha() and first[1:].islower():  # "The", not "NaN" or "Q"
        text = text[:1].lower() + text[1:]
    return _shorten(text)


def _shorten(text: str) -> str:
    if len(text) <= LABEL_LENGTH:
        return text
    cut = text[: LABEL_LENGTH - 1].rsplit(" ", 1)[0]
    return cut + "…"
