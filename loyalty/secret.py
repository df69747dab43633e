"""`Secret`: a string that never shows itself, for keys, secrets and passwords in the config.

Used by the config (which wraps every credential in one) and by the code that authenticates
(`reveal()`, at the one place the value is needed).
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn


class Secret:
    """A secret string that does not show itself: repr and str are `Secret('***')`.

    Use `reveal()` at the one place the value is needed (the HTTP client). A Secret equals only
    another Secret with the same value (never a plain str), and refuses to be pickled so it cannot
    travel to a task queue or a cache as plain text.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        """The plain value, for the code that authenticates with it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled; pass the config path, not the secret")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self
