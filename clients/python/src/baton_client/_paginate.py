"""Iterate over every item of a List* RPC, following next_page_token."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

__all__ = ["apaginate", "paginate"]

REQ = TypeVar("REQ")
RES = TypeVar("RES")


def _next_request(request: REQ, response: Any, seen: set[str]) -> REQ | None:
    token = getattr(response, "next_page_token", "")
    if not token:
        return None
    if token in seen:
        msg = f"the server returned page token {token!r} twice"
        raise RuntimeError(msg)
    seen.add(token)
    following = copy.copy(request)
    following.page_token = token  # type: ignore[attr-defined]
    return following


def paginate(
    list_method: Callable[..., RES],
    request: REQ,
    items_field: str,
    **call_options: Any,
) -> Iterator[Any]:
    """Yield every item of a List* call, page after page.

    Example::

        for click in paginate(baton.clicks.list_clicks, ListClicksRequest(page_size=100), "clicks"):
            print(click.id)

    Args:
        list_method: A List* method of a service client, e.g. ``baton.clicks.list_clicks``.
        request: The first request (its ``page_size`` and filters apply to every
            page; it is not modified).
        items_field: The repeated field of the response to yield, e.g. ``"clicks"``.
        call_options: Passed to every call, e.g. ``timeout_ms=5000``.
    """
    current: REQ | None = request
    seen: set[str] = set()
    while current is not None:
        response = list_method(current, **call_options)
        yield from getattr(response, items_field)
        current = _next_request(current, response, seen)


async def apaginate(
    list_method: Callable[..., Awaitable[RES]],
    request: REQ,
    items_field: str,
    **call_options: Any,
) -> AsyncIterator[Any]:
    """Async twin of paginate, for AsyncBatonClient: ``async for x in apaginate(...)``."""
    current: REQ | None = request
    seen: set[str] = set()
    while current is not None:
        response = await list_method(current, **call_options)
        for item in getattr(response, items_field):
            yield item
        current = _next_request(current, response, seen)
