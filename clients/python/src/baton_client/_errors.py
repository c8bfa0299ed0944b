"""BatonError: a Connect / gRPC error with its validation violations decoded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from buf.validate.validate_pb import FieldPath, Violations
from connectrpc.errors import ConnectError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from connectrpc.errors import ErrorDetail

__all__ = ["BatonError", "Violation"]

_VIOLATIONS_TYPE = "buf.validate.Violations"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken validation rule, from a ``buf.validate.Violations`` error detail.

    Attributes:
        field: Path of the offending field, e.g. ``"name"``,
            ``"items[0].code"`` or ``'labels["k"]'``; empty for a rule on the
            whole message (such as ``record_conversion.one_amount``).
        message: Human-readable description, e.g. ``"must be at least 1 characters"``.
        rule_id: The rule's ID, e.g. ``"string.min_len"``.
    """

    field: str
    message: str
    rule_id: str


class BatonError(Exception):
    """An RPC to Baton failed.

    ``BatonClient`` and ``AsyncBatonClient`` raise it for every failed call
    (server errors, and client-side ones such as timeouts or an unreachable
    server); ``BatonError.from_connect_error`` converts a
    ``connectrpc.errors.ConnectError`` you caught yourself.

    Attributes:
        code: The Connect code as a string, e.g. ``"invalid_argument"``,
            ``"unauthenticated"``, ``"permission_denied"``, ``"not_found"``.
        message: The server's message.
        violations: The validation violations (``invalid_argument`` only).
        connect_error: The original ``ConnectError``, if converted from one.
    """

    code: str
    message: str
    violations: list[Violation]
    connect_error: ConnectError | None

    def __init__(
        self,
        code: str,
        message: str,
        violations: Iterable[Violation] = (),
        *,
        connect_error: ConnectError | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.violations = list(violations)
        self.connect_error = connect_error

    @property
    def details(self) -> Sequence[ErrorDetail]:
        """The raw error details of the original ``ConnectError`` (empty if none)."""
        return self.connect_error.details if self.connect_error is not None else ()

    @classmethod
    def from_connect_error(cls, err: ConnectError) -> BatonError:
        """Convert a ``ConnectError``, decoding any ``buf.validate.Violations`` details."""
        violations: list[Violation] = []
        for detail in err.details:
            if detail.type_name != _VIOLATIONS_TYPE:
                continue
            try:
                decoded = detail.value(Violations)
            except Exception:
                decoded = None
            if decoded is None:
                continue
            violations.extend(
                Violation(
                    field=_field_path(v.field),
                    message=v.message or "",
                    rule_id=v.rule_id or "",
                )
                for v in decoded.violations
            )
        return cls(err.code.value, err.message, violations, connect_error=err)

    def __repr__(self) -> str:
        return f"BatonError(code={self.code!r}, message={self.message!r}, violations={self.violations!r})"


def _field_path(path: FieldPath | None) -> str:
    """Render a FieldPath the way protovalidate does: ``a.b[0].c["key"]``."""
    if path is None:
        return ""
    out = ""
    for element in path.elements:
        name = element.field_name or ""
        out = f"{out}.{name}" if out else name
        sub = element.subscript
        if sub is None:
            continue
        if sub.field == "string_key":
            escaped = str(sub.value).replace("\\", "\\\\").replace('"', '\\"')
            out += f'["{escaped}"]'
        elif sub.field == "bool_key":
            out += "[true]" if sub.value else "[false]"
        else:  # index, int_key, uint_key
            out += f"[{sub.value}]"
    return out
