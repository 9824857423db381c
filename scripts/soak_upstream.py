#!/usr/bin/env python3
"""Fake OpenAI-compatible upstreams with injected faults, for scripts/soak.

One process serves several upstreams, each on its own loopback port with its own fault rate:

    soak_upstream.py --upstream flaky:0:0.30:sk-key-a --upstream backup:0:0.08:sk-key-b

(`name:port:fault_rate[:api_key]`, port 0 = any free port). Once listening it prints one JSON
line on stdout, `{"listening": {"flaky": 43121, ...}}`.

Each upstream speaks `POST /v1/chat/completions` (JSON answers with `usage`; SSE streams of
`data: {chunk}` events, a final chunk with `finish_reason`, a usage chunk when
`stream_options.include_usage` is set, then `data: [DONE]`), `GET /v1/models`, `GET /health`,
`GET /stats` (what it served and the faults it injected, as JSON) and `GET /trace?id=ID` (the
attempts it saw for a soak request id).

The answer's text is deterministic so the client can check it arrived whole: the last user
message carries `soak:N id:ID` and the answer is the words `w1 w2 ... wN`. A request whose last
message is an assistant prefill `w1 ... wK` (a stream resumed on another model) gets
`w(K+1) ... wN`.

Faults, drawn per request with probability fault_rate (the mix is `--mix`):
  status_500 / status_502 / status_503   an OpenAI error body with that status
  status_429                             429 with `Retry-After: 1`
  reset                                  the connection is reset before any answer
  hang                                   no answer at all (until the peer goes or --hang-seconds)
  slow_first                             the first token (or the JSON answer) comes 0.5-2 s late
  cut                                    the answer stops part way and the connection is reset
                                         (JSON: fewer bytes than Content-Length; stream: no [DONE])
  cut_clean                              streams: the body ends cleanly after some chunks,
                                         without finish_reason or [DONE]; JSON: `bad_json`
  stall                                  the answer stops part way and nothing more is sent for
                                         --stall-seconds, then the connection is reset
  bad_json                               JSON: a 200 whose body is not JSON
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import re
import signal
import socket
import struct
import time

FAULTS = ["status_500", "status_502", "status_503", "status_429", "reset", "hang", "slow_first", "cut",
          "cut_clean", "stall"]
DEFAULT_MIX = {
    "status_500": 8, "status_502": 6, "status_503": 6, "status_429": 10, "reset": 12, "hang": 6,
    "slow_first": 16, "cut": 14, "cut_clean": 8, "stall": 14,
}
SOAK_MARK = re.compile(r"soak:(\d+)(?:\s+id:(\S+))?")
TRACE_CAP = 200_000


class Stats:
    def __init__(self) -> None:
        self.requests = 0
        self.json_requests = 0
        self.stream_requests = 0
        self.resumed = 0                 # requests with an assistant prefill
        self.answered = 0                # complete answers (no fault, or slow_first)
        self.faults: collections.Counter = collections.Counter()
        self.peer_gone = 0               # the proxy closed before the answer was complete
        self.auth_mismatch = 0
        self.bad_requests = 0
        self.other_paths = 0
        self.open_connections = 0

    def as_dict(self) -> dict:
        return {
            "requests": self.requests, "json": self.json_requests, "stream": self.stream_requests,
            "resumed_with_prefill": self.resumed, "answered": self.answered,
            "faults": dict(sorted(self.faults.items())), "faults_total": sum(self.faults.values()),
            "peer_gone_before_complete": self.peer_gone, "auth_mismatch": self.auth_mismatch,
            "bad_requests": self.bad_requests, "other_paths": self.other_paths,
            "open_connections": self.open_connections,
        }


class Traces:
    """Bounded: request id -> the attempts that reached an upstream."""

    def __init__(self) -> None:
        self.items: collections.OrderedDict[str, list] = collections.OrderedDict()

    def add(self, request_id: str | None, entry: dict) -> None:
        if not request_id:
            return
        attempts = self.items.get(request_id)
        if attempts is None:
            attempts = self.items[request_id] = []
            if len(self.items) > TRACE_CAP:
                self.items.popitem(last=False)
        attempts.append(entry)


class PeerGone(Exception):
    pass


class Upstream:
    def __init__(self, name: str, port: int, fault_rate: float, api_key: str | None, mix: dict[str, float],
                 rng: random.Random, traces: Traces, options: argparse.Namespace) -> None:
        self.name, self.port, self.fault_rate, self.api_key = name, port, fault_rate, api_key
        self.mix_names = list(mix)
        self.mix_weights = [mix[k] for k in self.mix_names]
        self.rng, self.traces, self.options = rng, traces, options
        self.stats = Stats()
        self.started = time.monotonic()
        self.server: asyncio.base_events.Server | None = None

    # --- connection handling --------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.open_connections += 1
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    return
                method, path, headers, body = request
                keep = await self.route(method, path, headers, body, reader, writer)
                if not keep or headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError, PeerGone):
            pass
        except ValueError:
            self.stats.bad_requests += 1
        finally:
            self.stats.open_connections -= 1
            try:
                writer.close()
            except Exception:
                pass

    async def route(self, method: str, path: str, headers: dict, body: bytes,
                    reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        bare = path.split("?", 1)[0]
        if method == "GET" and bare == "/stats":
            data = {"name": self.name, "port": self.port, "fault_rate": self.fault_rate,
                    "uptime_s": round(time.monotonic() - self.started, 1), **self.stats.as_dict()}
            await send_json(writer, 200, data)
            return True
        if method == "GET" and bare == "/trace":
            match = re.search(r"[?&]id=([^&]+)", path)
            await send_json(writer, 200, {"id": match and match.group(1),
                                          "attempts": self.traces.items.get(match.group(1), []) if match else []})
            return True
        if method == "GET" and bare == "/health":
            await send_json(writer, 200, {"status": "ok"})
            return True
        if method == "GET" and bare.rstrip("/").endswith("/models"):
            await send_json(writer, 200, {"object": "list", "data": [
                {"id": "soak-model", "object": "model", "created": 0, "owned_by": self.name}]})
            return True
        if method == "POST" and bare.endswith("/chat/completions"):
            return await self.chat(headers, body, reader, writer)
        self.stats.other_paths += 1
        await send_json(writer, 404, error_body(f"No route for {method} {bare}", "invalid_request_error", "not_found"))
        return True

    # --- chat completions -----------------------------------------------------------------------
    async def chat(self, headers: dict, body: bytes, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter) -> bool:
        stats = self.stats
        stats.requests += 1
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            stats.auth_mismatch += 1
            await send_json(writer, 401, error_body("Incorrect API key provided", "invalid_request_error",
                                                    "invalid_api_key"))
            return True
        try:
            request = json.loads(body)
            messages = request["messages"]
        except (ValueError, KeyError, TypeError):
            stats.bad_requests += 1
            await send_json(writer, 400, error_body("Could not parse the JSON body", "invalid_request_error",
                                                    "invalid_json"))
            return True
        stream = bool(request.get("stream"))
        if stream:
            stats.stream_requests += 1
        else:
            stats.json_requests += 1
        total, request_id = 8, None
        for message in reversed(messages):
            if message.get("role") == "user" and isinstance(message.get("content"), str):
                match = SOAK_MARK.search(message["content"])
                if match:
                    total, request_id = int(match.group(1)), match.group(2)
                break
        start = 0
        if messages and messages[-1].get("role") == "assistant":
            stats.resumed += 1
            start = len(str(messages[-1].get("content") or "").split())
        words = [f"w{i}" for i in range(start + 1, total + 1)]
        fault = None
        if self.rng.random() < self.fault_rate:
            fault = self.rng.choices(self.mix_names, self.mix_weights)[0]
            if not stream and fault == "cut_clean":
                fault = "bad_json"
            stats.faults[fault] += 1
        self.traces.add(request_id, {"upstream": self.name, "stream": stream, "fault": fault or "none",
                                     "resumed_from": start, "at": round(time.monotonic() - self.started, 3)})
        model = str(request.get("model", "soak-model"))
        prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in messages) + 3
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(words),
                 "total_tokens": prompt_tokens + len(words)}

        if fault and fault.startswith("status_"):
            status = int(fault.split("_")[1])
            extra = {"Retry-After": "1"} if status == 429 else {}
            kind = {429: ("rate_limit_exceeded", "requests"), 500: ("server_error", "server_error"),
                    502: ("server_error", "bad_gateway"), 503: ("server_error", "service_unavailable")}[status]
            await send_json(writer, status, error_body(f"Injected {status} from {self.name}", kind[0], kind[1]), extra)
            return True
        if fault == "reset":
            reset(writer)
            return False
        if fault == "hang":
            await wait_for_peer(reader, self.options.hang_seconds)
            reset(writer)
            return False
        delay = self.rng.uniform(0.5, 2.0) if fault == "slow_first" else 0.0
        completion_id = f"chatcmpl-soak-{self.name}-{stats.requests}"
        created = int(time.time())
        if not stream:
            if delay:
                await asyncio.sleep(delay)
            answer = {
                "id": completion_id, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(w + " " for w in words)},
                             "finish_reason": "stop"}],
                "usage": usage,
            }
            data = json.dumps(answer).encode()
            if fault == "bad_json":
                data = data[: len(data) // 2] + b"}}"
            head = response_head(200, {"Content-Type": "application/json", "Content-Length": str(len(data))})
            if fault in ("cut", "stall"):
                writer.write(head + data[: len(data) // 2])
                await writer.drain()
                if fault == "stall":
                    await wait_for_peer(reader, self.options.stall_seconds)
                reset(writer)
                return False
            writer.write(head + data)
            await writer.drain()
            stats.answered += 1
            return True

        # A stream.
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        writer.write(response_head(200, {"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                         "Transfer-Encoding": "chunked"}))
        await writer.drain()

        def event(payload: dict | str) -> bytes:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            data = f"data: {text}\n\n".encode()
            return f"{len(data):x}\r\n".encode() + data + b"\r\n"

        def chunk(delta: dict, finish: str | None = None) -> dict:
            return {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        break_after = None
        if fault in ("cut", "cut_clean", "stall"):
            break_after = self.rng.randint(0, max(0, len(words) - 1))  # chunks of text sent before the break
        try:
            pieces = [event(chunk({"role": "assistant", "content": ""}))]
            if delay:
                writer.write(pieces.pop())
                await writer.drain()
                await asyncio.sleep(delay)
            for index, word in enumerate(words):
                if break_after is not None and index == break_after:
                    break
                pieces.append(event(chunk({"content": word + " "})))
                writer.write(b"".join(pieces))
                pieces.clear()
                await writer.drain()
                if self.options.chunk_interval > 0:
                    await asyncio.sleep(self.options.chunk_interval)
            if break_after is not None:
                if pieces:
                    writer.write(b"".join(pieces))
                    await writer.drain()
                if fault == "cut_clean":
                    writer.write(b"0\r\n\r\n")
                    await writer.drain()
                    return True
                if fault == "stall":
                    await wait_for_peer(reader, self.options.stall_seconds)
                reset(writer)
                return False
            pieces.append(event(chunk({}, "stop")))
            if include_usage:
                pieces.append(event({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                                     "model": model, "choices": [], "usage": usage}))
            pieces.append(event("[DONE]"))
            pieces.append(b"0\r\n\r\n")
            writer.write(b"".join(pieces))
            await writer.drain()
            stats.answered += 1
            return True
        except ConnectionError:
            stats.peer_gone += 1
            raise PeerGone() from None


# --- HTTP/1.1 helpers -----------------------------------------------------------------------------
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def response_head(status: int, headers: dict) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def send_json(writer: asyncio.StreamWriter, status: int, payload: dict, extra: dict | None = None) -> None:
    data = json.dumps(payload).encode()
    writer.write(response_head(status, {"Content-Type": "application/json", "Content-Length": str(len(data)),
                                        **(extra or {})}) + data)
    await writer.drain()


def error_body(message: str, kind: str, code: str) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def reset(writer: asyncio.StreamWriter) -> None:
    """Closes with RST (SO_LINGER 0), as a crashed or overloaded server would."""
    sock = writer.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


async def wait_for_peer(reader: asyncio.StreamReader, seconds: float) -> None:
    """Sends nothing until the peer closes (EOF) or `seconds` pass."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(4096):
                pass
    except (TimeoutError, ConnectionError):
        pass


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict, bytes] | None:
    try:
        line = await reader.readline()
    except (ConnectionError, ValueError):
        return None
    if not line:
        return None
    parts = line.decode("latin-1").strip().split(" ")
    if len(parts) != 3:
        raise ValueError("bad request line")
    method, path, _ = parts
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                break
            body += await reader.readexactly(size)
            await reader.readline()
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    return method, path, headers, body


def parse_mix(text: str | None) -> dict[str, float]:
    if not text:
        return dict(DEFAULT_MIX)
    mix = {}
    for item in text.split(","):
        name, _, weight = item.partition("=")
        if name not in FAULTS:
            raise SystemExit(f"soak_upstream: unknown fault '{name}' (known: {', '.join(FAULTS)})")
        mix[name] = float(weight)
    return mix


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", action="append", required=True, help="name:port:fault_rate[:api_key]")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--mix", help="fault weights, e.g. hang=1,reset=2 (default: %s)" %
                        ",".join(f"{k}={v}" for k, v in DEFAULT_MIX.items()))
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--hang-seconds", type=float, default=60.0)
    parser.add_argument("--stall-seconds", type=float, default=8.0)
    parser.add_argument("--chunk-interval", type=float, default=0.01, help="seconds between stream chunks")
    options = parser.parse_args()
    mix = parse_mix(options.mix)
    rng = random.Random(options.seed)
    traces = Traces()
    upstreams: list[Upstream] = []
    for spec in options.upstream:
        fields = spec.split(":", 3)
        if len(fields) < 3:
            raise SystemExit(f"soak_upstream: --upstream '{spec}' is not name:port:fault_rate[:api_key]")
        upstream = Upstream(fields[0], int(fields[1]), float(fields[2]), fields[3] if len(fields) > 3 else None,
                            mix, rng, traces, options)
        upstream.server = await asyncio.start_server(upstream.handle, options.host, upstream.port, backlog=1024,
                                                     limit=1 << 20)
        upstream.port = upstream.server.sockets[0].getsockname()[1]
        upstreams.append(upstream)
    print(json.dumps({"listening": {u.name: u.port for u in upstreams}}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    for upstream in upstreams:
        upstream.server.close()
    print(json.dumps({"stats": {u.name: u.stats.as_dict() for u in upstreams}}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
