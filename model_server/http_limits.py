"""Bounds on what one client can make the server hold: header bytes, header count, time to send a request.

uvicorn parses with httptools (llhttp), which sets no header limit: an unfinished 30 MB header is held in
memory whole (three of them grew the process by 150 MB), and a client that connects and sends nothing, or stops
halfway through its headers or body, holds a connection and its buffers for ever (uvicorn only times out *idle*
keep-alive connections). Heroku's router bounds these in production; a dyno reached any other way (a load
balancer that passes slow clients through, a private space, a test) must bound them itself.

The subclass keeps httptools (the fast parser) and adds three checks:
  - header bytes since the request's first byte: over `max_header_bytes` -> 431, connection closed;
  - header lines: over `max_headers` -> 431 (the headers already read are dropped with the connection);
  - time from the first byte (or the connection) to the request's last byte: over `request_timeout` -> 408.
The time the app spends answering is not bounded here: once the request is read, the deadline is off.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from http import HTTPStatus

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("model_server")


@dataclass(frozen=True)
class Limits:
    max_header_bytes: int = 32_768
    max_headers: int = 100
    request_timeout: float = 30.0


class _Refused(Exception):
    """Raised inside a parser callback; httptools wraps it, uvicorn answers through send_400_response."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    limits = Limits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_bytes: int | None = 0  # None once the current request's headers are complete
        self._header_count = 0
        self._header_size = 0  # request line and header lines, as parsed
        self._refusal: tuple[HTTPStatus, str] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()  # a connection that never sends a request is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._header_bytes is not None:
            self._header_bytes += len(data)
        super().data_received(data)
        # Checked after feeding: the chunk that completes the headers may carry body bytes too. A chunk is at
        # most asyncio's read size (256 KiB), so no more than the limit plus one chunk is ever held.
        if self._header_bytes is not None and self._header_bytes > self.limits.max_header_bytes \
                and not self.transport.is_closing():
            self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                         f"request headers over {self.limits.max_header_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_bytes is None:  # a pipelined or keep-alive request: its count starts now
            self._header_bytes = 0
        self._header_count = 0
        self._header_size = 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        self._header_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_size += len(name) + len(value) + 4
        if self._header_count > self.limits.max_headers:
            self._refuse_in_parser(f"more than {self.limits.max_headers} request headers")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._header_bytes = None
        # Headers that arrived in one chunk are complete before data_received can look at them.
        if self._header_size > self.limits.max_header_bytes:
            self._refuse_in_parser(f"request headers over {self.limits.max_header_bytes} bytes")
        super().on_headers_complete()

    def _refuse_in_parser(self, reason: str) -> None:
        """From a parser callback: stop parsing (no ASGI task starts) and answer 431 instead of uvicorn's 400."""
        self._refusal = (HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, reason)
        raise _Refused

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        refusal, self._refusal = self._refusal, None
        if refusal is None:
            super().send_400_response(msg)
        else:
            self._refuse(*refusal)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.limits.request_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and cycle.response_started:
            self.transport.close()
            return
        self._refuse(HTTPStatus.REQUEST_TIMEOUT, f"request not received within {self.limits.request_timeout:g} s")

    def _refuse(self, status: HTTPStatus, reason: str) -> None:
        """Answer once, close, and say so in the log; the app never sees the request."""
        self._disarm()
        body = json.dumps({"detail": reason}).encode()
        head = (f"HTTP/1.1 {status.value} {status.phrase}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode()
        self.transport.write(head + body)
        self.transport.close()
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        log.warning("refused a request from %s: %s", client,
                    reason, extra={"fields": {"event": "refused", "status": status.value, "reason": reason}})


def bounded_protocol(limits: Limits) -> type[BoundedHttpToolsProtocol]:
    """The protocol class uvicorn is given (`http=`), carrying these limits."""
    return type("BoundedHttpToolsProtocol", (BoundedHttpToolsProtocol,), {"limits": limits})
