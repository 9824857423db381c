"""SSE streaming client for scripts/bench: time-to-first-token, inter-chunk gaps, stalls.

Raw asyncio protocols (no HTTP library) so that one Python process can hold thousands of
streams and timestamp every read with `time.perf_counter_ns()`. Each `data: ` event is
stamped with the time of the socket read that completed it; `data: [DONE]` ends a stream.
The HTTP framing (chunked or not) is not decoded: events are found by their `data: `
prefix in the byte stream, which is enough for timing.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_DATA = b"data: "
_DONE = b"data: [DONE]"


@dataclass
class StreamResult:
    """One stream: when it was sent, when each content event arrived, how it ended."""

    sent_ns: int = 0
    status: int = 0
    events_ns: list[int] = field(default_factory=list)
    done: bool = False
    error: str | None = None

    @property
    def ttft_ms(self) -> float | None:
        return (self.events_ns[0] - self.sent_ns) / 1e6 if self.events_ns else None

    @property
    def gaps_ms(self) -> list[float]:
        e = self.events_ns
        return [(b - a) / 1e6 for a, b in zip(e, e[1:])]


class _SSEProtocol(asyncio.Protocol):
    def __init__(self, request: bytes, result: StreamResult, finished: asyncio.Future) -> None:
        self.request = request
        self.result = result
        self.finished = finished
        self.buffer = b""
        self.in_body = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        self.result.sent_ns = time.perf_counter_ns()
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        buf = self.buffer + data
        if not self.in_body:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buf
                return
            status_line = buf[: buf.find(b"\r\n")].split(b" ")
            self.result.status = int(status_line[1]) if len(status_line) > 1 else 0
            self.in_body = True
            buf = buf[end + 4 :]
        position = 0
        while True:
            start = buf.find(_DATA, position)
            if start < 0:
                break
            # An event counts once its line is complete.
            line_end = buf.find(b"\n", start)
            if line_end < 0:
                break
            line = buf[start:line_end]
            if line.startswith(_DONE):
                self.result.done = True
                self._finish()
                return
            if b'"error"' in line and not self.result.events_ns:
                self.result.error = line[:200].decode("utf-8", "replace")
            else:
                self.result.events_ns.append(now)
            position = line_end + 1
        # Keep the unparsed tail (at most one partial event).
        self.buffer = buf[position:]

    def connection_lost(self, exc) -> None:  # type: ignore[override]
        if not self.result.done and self.result.error is None:
            self.result.error = f"connection closed before [DONE] ({exc or 'EOF'})"
        self._finish()

    def _finish(self) -> None:
        if not self.finished.done():
            self.finished.set_result(None)
        if self.transport is not None:
            self.transport.close()


def _request_bytes(url: str, body: bytes) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
        "Content-Type: application/json\r\nAccept: text/event-stream\r\n"
        "Authorization: Bearer bench-dummy-key\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return parts.hostname or "127.0.0.1", parts.port or 80, head + body


async def _one_stream(host: str, port: int, request: bytes, deadline: float) -> StreamResult:
    loop = asyncio.get_running_loop()
    result = StreamResult()
    finished: asyncio.Future = loop.create_future()
    transport = None
    try:
        transport, _ = await asyncio.wait_for(
            loop.create_connection(lambda: _SSEProtocol(request, result, finished), host, port),
            timeout=max(0.1, deadline - loop.time()),
        )
        await asyncio.wait_for(finished, timeout=max(0.1, deadline - loop.time()))
    except asyncio.TimeoutError:
        result.error = result.error or "timed out (no [DONE] before the deadline)"
    except OSError as exc:
        result.error = f"connect failed: {exc}"
    finally:
        if transport is not None:
            transport.close()
    return result


async def run_streams(url: str, body: bytes, count: int, concurrent: bool, timeout_s: float,
                      ramp_s: float = 0.0) -> list[StreamResult]:
    """Open `count` streams, all at once (spread over `ramp_s`) or one after another."""
    host, port, request = _request_bytes(url, body)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    if not concurrent:
        return [await _one_stream(host, port, request, deadline) for _ in range(count)]

    async def delayed(i: int) -> StreamResult:
        if ramp_s > 0:
            await asyncio.sleep(ramp_s * i / count)
        return await _one_stream(host, port, request, deadline)

    return list(await asyncio.gather(*(delayed(i) for i in range(count))))


def stall_report(results: list[StreamResult], gap_limit: float, chunks: set[int], ttft_limit_ms: float) -> dict:
    """Counts streams that stalled: a gap over `gap_limit` ms, a slow first token, or no [DONE]
    after one of the expected numbers of `chunks`."""
    stalled = 0
    worst_gap = 0.0
    worst_ttft = 0.0
    incomplete = 0
    errors: dict[str, int] = {}
    for r in results:
        gaps = r.gaps_ms
        gap = max(gaps) if gaps else 0.0
        ttft = r.ttft_ms if r.ttft_ms is not None else float("inf")
        worst_gap = max(worst_gap, gap)
        worst_ttft = max(worst_ttft, ttft)
        complete = r.done and r.status == 200 and len(r.events_ns) in chunks
        if not complete:
            incomplete += 1
            key = (r.error or f"status {r.status}, {len(r.events_ns)}/{max(chunks)} chunks")[:80]
            errors[key] = errors.get(key, 0) + 1
        if not complete or gap > gap_limit or ttft > ttft_limit_ms:
            stalled += 1
    return {
        "streams": len(results),
        "stalled": stalled,
        "incomplete": incomplete,
        "worst_gap_ms": round(worst_gap, 2),
        "worst_ttft_ms": round(worst_ttft, 2) if worst_ttft != float("inf") else None,
        "gap_limit_ms": gap_limit,
        "ttft_limit_ms": ttft_limit_ms,
        "errors": errors,
    }
