"""The wire between the judge and the sandbox: framing, encoding and the decoding that guards the judge.

Requests (judge -> sandbox) are pickled: the sandbox trusts the judge. Replies (sandbox -> judge) are
untrusted. They are written with ``torch.save`` and read back with ``torch.load(weights_only=True)``,
which cannot run code, and then :func:`to_plain` rebuilds them from scratch out of plain Python values
and plain ``torch.Tensor`` objects. Whatever student code did inside the sandbox, the judge only ever
sees numbers, strings, lists, dicts and tensors.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

#: Largest reply the judge accepts from a sandbox; a bigger one is treated as a misbehaving sandbox.
MAX_REPLY_BYTES = 64 * 1024 * 1024
#: How deep a reply may nest; deeper ones are refused rather than walked.
MAX_DEPTH = 32


class ProtocolError(Exception):
    """The sandbox sent something that is not a well-formed reply."""


def encode_request(message: dict[str, Any]) -> bytes:
    """Serialise a request from the judge to the sandbox."""
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


def decode_request(data: bytes) -> dict[str, Any]:
    """Read a request in the sandbox (the judge is trusted, so plain pickle is fine in this direction)."""
    message = pickle.loads(data)
    if not isinstance(message, dict):
        raise ProtocolError("request is not a dict")
    return message


def encode_reply(message: dict[str, Any]) -> bytes:
    """Serialise a reply in the sandbox with ``torch.save`` (tensors and plain values only)."""
    import torch

    buffer = io.BytesIO()
    torch.save(message, buffer)
    return buffer.getvalue()


def decode_reply(data: bytes) -> dict[str, Any]:
    """Decode an untrusted reply in the judge: no code runs, and only plain values come out."""
    import torch

    try:
        raw = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as exc:  # any failure to decode means the sandbox sent garbage
        raise ProtocolError(f"unreadable reply from the sandbox: {type(exc).__name__}") from None
    message = to_plain(raw)
    if not isinstance(message, dict) or not isinstance(message.get("kind"), str):
        raise ProtocolError("reply from the sandbox is not a message")
    return message


def to_plain(value: Any, depth: int = 0) -> Any:
    """Rebuild ``value`` from plain types; tensors become fresh, plain, detached CPU tensors.

    Raises :class:`ProtocolError` for anything else, so a tensor subclass, a custom object or an
    absurdly deep structure never reaches a comparison.
    """
    import torch

    if depth > MAX_DEPTH:
        raise ProtocolError("reply nests too deeply")
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, torch.Tensor):
        if type(value) not in (torch.Tensor, torch.nn.Parameter):
            raise ProtocolError(f"reply holds a tensor subclass {type(value).__name__}")
        # A fresh plain tensor: nothing of the sandbox's object survives, not even its class.
        return value.detach().to("cpu", copy=True)
    if type(value) in (list, tuple):
        return [to_plain(item, depth + 1) for item in value]
    if type(value) is dict or type(value).__name__ == "OrderedDict":
        out: dict[str, Any] = {}
        for key, item in value.items():
            if type(key) is not str:
                raise ProtocolError("reply has a non-string key")
            out[key] = to_plain(item, depth + 1)
        return out
    raise ProtocolError(f"reply holds a value of type {type(value).__name__}")
