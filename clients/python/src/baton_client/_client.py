"""BatonClient and AsyncBatonClient: the five generated service clients, authenticated."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

from baton.v1.attribution_connect import AttributionServiceClient, AttributionServiceClientSync
from baton.v1.click_connect import ClickServiceClient, ClickServiceClientSync
from baton.v1.config_connect import ConfigServiceClient, ConfigServiceClientSync
from baton.v1.conversion_connect import ConversionServiceClient, ConversionServiceClientSync
from baton.v1.partners_connect import PartnerServiceClient, PartnerServiceClientSync
from baton.v1.postback_connect import PostbackServiceClient, PostbackServiceClientSync
from connectrpc.codec import proto_json_codec
from connectrpc.errors import ConnectError
from connectrpc.protocol import ProtocolType

from ._errors import BatonError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable
    from types import TracebackType
    from typing import Self

    from connectrpc.codec import Codec
    from connectrpc.interceptor import Interceptor, InterceptorSync
    from connectrpc.request import RequestContext
    from pyqwest import Client as HTTPClient
    from pyqwest import SyncClient as SyncHTTPClient

__all__ = ["AsyncBatonClient", "BatonClient", "WireProtocol"]

WireProtocol = Literal["connect", "connect-json", "grpc", "grpc-web"]
"""Wire protocol: Connect with binary Protobuf (default), Connect with JSON,
gRPC (HTTP/2; cleartext h2c for http:// URLs), or gRPC-Web."""

_PROTOCOLS: tuple[str, ...] = get_args(WireProtocol)

DEFAULT_TIMEOUT_MS = 10_000

REQ = TypeVar("REQ")
RES = TypeVar("RES")


def _transport(protocol: str) -> tuple[ProtocolType, Codec | None]:
    match protocol:
        case "connect":
            return ProtocolType.CONNECT, None
        case "connect-json":
            return ProtocolType.CONNECT, proto_json_codec()
        case "grpc":
            return ProtocolType.GRPC, None
        case "grpc-web":
            return ProtocolType.GRPC_WEB, None
    msg = f"protocol must be one of {', '.join(map(repr, _PROTOCOLS))}, not {protocol!r}"
    raise ValueError(msg)


def _check(base_url: str, api_key: str) -> str:
    if not base_url.startswith(("http://", "https://")):
        msg = f"base_url must start with http:// or https://, not {base_url!r}"
        raise ValueError(msg)
    if not api_key:
        msg = "api_key must not be empty"
        raise ValueError(msg)
    return base_url.rstrip("/")


class _AuthInterceptorSync:
    """Adds ``Authorization: Bearer <key>`` (unless the call sets its own) and
    raises BatonError instead of ConnectError."""

    def __init__(self, api_key: str) -> None:
        self._authorization = f"Bearer {api_key}"

    def intercept_unary_sync(
        self,
        call_next: Callable[[REQ, RequestContext[Any, Any]], RES],
        request: REQ,
        ctx: RequestContext[Any, Any],
        /,
    ) -> RES:
        ctx.request_headers.setdefault("authorization", self._authorization)
        try:
            return call_next(request, ctx)
        except ConnectError as e:
            raise BatonError.from_connect_error(e) from e


class _AuthInterceptor:
    """Async twin of _AuthInterceptorSync."""

    def __init__(self, api_key: str) -> None:
        self._authorization = f"Bearer {api_key}"

    async def intercept_unary(
        self,
        call_next: Callable[[REQ, RequestContext[Any, Any]], Awaitable[RES]],
        request: REQ,
        ctx: RequestContext[Any, Any],
        /,
    ) -> RES:
        ctx.request_headers.setdefault("authorization", self._authorization)
        try:
            return await call_next(request, ctx)
        except ConnectError as e:
            raise BatonError.from_connect_error(e) from e


class BatonClient:
    """Synchronous client for every Baton API, authenticated with one API key.

    Each attribute is the generated Connect client of one service; call its
    methods with the generated request messages (``baton.v1.*_pb``)::

        from baton.v1.config_pb import WhoAmIRequest

        with BatonClient("http://127.0.0.1:8080", "bk_...") as baton:
            print(baton.config.who_am_i(WhoAmIRequest()).key)

    Failed calls raise BatonError. A ``headers={"authorization": ...}``
    argument on a call overrides the client's key for that call.

    Args:
        base_url: Baton's address including the scheme, e.g. ``https://baton.example.com``.
        api_key: An API key (admin, advertiser or publisher), sent as a Bearer token.
        protocol: ``"connect"`` (default), ``"connect-json"``, ``"grpc"`` or ``"grpc-web"``.
        timeout_ms: Default deadline of each call, in milliseconds (None: no deadline).
        interceptors: Extra connectrpc interceptors, run inside the authentication one.
        http_client: A pyqwest ``SyncClient`` (e.g. for custom TLS); you close it.
    """

    config: ConfigServiceClientSync
    clicks: ClickServiceClientSync
    conversions: ConversionServiceClientSync
    attribution: AttributionServiceClientSync
    postbacks: PostbackServiceClientSync
    partners: PartnerServiceClientSync

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        protocol: WireProtocol = "connect",
        timeout_ms: int | None = DEFAULT_TIMEOUT_MS,
        interceptors: Iterable[InterceptorSync] = (),
        http_client: SyncHTTPClient | None = None,
    ) -> None:
        self.base_url = _check(base_url, api_key)
        self.protocol = protocol
        proto, codec = _transport(protocol)
        chain: list[InterceptorSync] = [_AuthInterceptorSync(api_key), *interceptors]
        options: dict[str, Any] = {
            "protocol": proto,
            "codec": codec,
            "timeout_ms": timeout_ms,
            "interceptors": chain,
            "http_client": http_client,
        }
        self.config = ConfigServiceClientSync(self.base_url, **options)
        self.clicks = ClickServiceClientSync(self.base_url, **options)
        self.conversions = ConversionServiceClientSync(self.base_url, **options)
        self.attribution = AttributionServiceClientSync(self.base_url, **options)
        self.postbacks = PostbackServiceClientSync(self.base_url, **options)
        self.partners = PartnerServiceClientSync(self.base_url, **options)

    def close(self) -> None:
        """Close the service clients (an ``http_client`` you passed stays open)."""
        for c in (self.config, self.clicks, self.conversions, self.attribution, self.postbacks, self.partners):
            c.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BatonClient({self.base_url!r}, protocol={self.protocol!r})"


class AsyncBatonClient:
    """Asynchronous twin of BatonClient (``async with``; methods are awaited).

    Args:
        base_url: Baton's address including the scheme.
        api_key: An API key, sent as a Bearer token.
        protocol: ``"connect"`` (default), ``"connect-json"``, ``"grpc"`` or ``"grpc-web"``.
        timeout_ms: Default deadline of each call, in milliseconds (None: no deadline).
        interceptors: Extra connectrpc interceptors, run inside the authentication one.
        http_client: A pyqwest ``Client`` (e.g. for custom TLS); you close it.
    """

    config: ConfigServiceClient
    clicks: ClickServiceClient
    conversions: ConversionServiceClient
    attribution: AttributionServiceClient
    postbacks: PostbackServiceClient
    partners: PartnerServiceClient

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        protocol: WireProtocol = "connect",
        timeout_ms: int | None = DEFAULT_TIMEOUT_MS,
        interceptors: Iterable[Interceptor] = (),
        http_client: HTTPClient | None = None,
    ) -> None:
        self.base_url = _check(base_url, api_key)
        self.protocol = protocol
        proto, codec = _transport(protocol)
        chain: list[Interceptor] = [_AuthInterceptor(api_key), *interceptors]
        options: dict[str, Any] = {
            "protocol": proto,
            "codec": codec,
            "timeout_ms": timeout_ms,
            "interceptors": chain,
            "http_client": http_client,
        }
        self.config = ConfigServiceClient(self.base_url, **options)
        self.clicks = ClickServiceClient(self.base_url, **options)
        self.conversions = ConversionServiceClient(self.base_url, **options)
        self.attribution = AttributionServiceClient(self.base_url, **options)
        self.postbacks = PostbackServiceClient(self.base_url, **options)
        self.partners = PartnerServiceClient(self.base_url, **options)

    async def close(self) -> None:
        """Close the service clients (an ``http_client`` you passed stays open)."""
        for c in (self.config, self.clicks, self.conversions, self.attribution, self.postbacks, self.partners):
            await c.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncBatonClient({self.base_url!r}, protocol={self.protocol!r})"
