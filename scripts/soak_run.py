#!/usr/bin/env python3
"""The running half of scripts/soak: fake upstreams with faults, `modelmesh serve` in front of
them, concurrent clients through it, and the checks. Python 3.11 standard library only.

Every request the clients send ends in exactly one outcome:
  ok         a complete 200: JSON with choices and usage, or a stream whose chunks all parse and
             that ends with `data: [DONE]` (or a clean end after a chunk with finish_reason);
             the text must be exactly the words the fake upstream produces (w1 .. wN)
  error      a status >= 400 with an OpenAI-style error body, or a stream ending with an
             in-band error event; counted by status and error code
  hangup     the client hung up on purpose (before the answer, or part way through a stream)
and anything else is a failure of the run:
  truncated_success   a 200 whose JSON does not parse or is cut, or a stream that ends without
                      [DONE], without a final chunk and without an in-band error
  content_mismatch    a 200 whose text is not the whole answer (lost or repeated chunks)
  error_without_body  an error status without an OpenAI-style error body
  deadline_exceeded   no complete answer within the client deadline
  transport_error     the proxy closed or reset the connection without an answer
  unexpected_status   any other status (1xx, 3xx, a 2xx other than 200)
  client_bug          this script failed to handle something (a bug here, reported as such)
The run also fails on a proxy crash, a non-zero exit on SIGTERM, budget reservations left after
the load, RSS growth beyond the bound, a configured secret in the proxy's logs or output, or an
upstream seeing a wrong API key.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import collections
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"
SCRIPTS = Path(__file__).resolve().parent
FAILURE_OUTCOMES = ["truncated_success", "content_mismatch", "error_without_body", "deadline_exceeded",
                    "transport_error", "unexpected_status", "client_bug"]
POOL = "chat-completion"


def log(message: str) -> None:
    print(f"[soak] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# --- processes ----------------------------------------------------------------------------------
class Processes:
    """Started processes, their pids in a file the bash wrapper kills on exit."""

    def __init__(self, pid_file: Path, work_dir: Path) -> None:
        self.pid_file, self.work_dir = pid_file, work_dir
        self.started: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, command: list[str], env: dict | None = None) -> tuple[subprocess.Popen, Path, Path]:
        out_path, err_path = self.work_dir / f"{name}.stdout.log", self.work_dir / f"{name}.stderr.log"
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=open(out_path, "wb"),
                                   stderr=open(err_path, "wb"), env=env, start_new_session=True)
        with open(self.pid_file, "a") as f:
            f.write(f"{process.pid}\n")
        self.started.append((name, process))
        return process, out_path, err_path

    @staticmethod
    def stop(process: subprocess.Popen, grace: float) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds. The exit status, or None if it had to be killed."""
        if process.poll() is not None:
            return process.returncode
        try:
            process.send_signal(signal.SIGTERM)
            return process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            return None
        except ProcessLookupError:
            return process.poll()

    def stop_all(self) -> None:
        for _, process in reversed(self.started):
            self.stop(process, 5)


def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# --- a small HTTP/1.1 client ----------------------------------------------------------------------
class TransportError(Exception):
    """The connection closed or failed; `partial` says whether any response byte arrived."""

    def __init__(self, message: str, partial: bool) -> None:
        super().__init__(message)
        self.partial = partial


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.uses = 0

    @classmethod
    async def open(cls, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 22)
        return cls(reader, writer)

    def close(self) -> None:
        try:
            self.writer.transport.abort()
        except Exception:
            pass


def build_request(method: str, path: str, headers: dict, body: bytes | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def read_head(conn: Connection) -> tuple[int, dict]:
    try:
        line = await conn.reader.readline()
    except (ConnectionError, OSError) as e:
        raise TransportError(f"reading the status line: {e!r}", partial=False) from None
    if not line:
        raise TransportError("the connection closed before a status line", partial=False)
    if not line.endswith(b"\n"):
        raise TransportError(f"the connection closed inside the status line {line[:80]!r}", partial=True)
    parts = line.decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise TransportError(f"bad status line {line[:80]!r}", partial=True)
    status = int(parts[1])
    headers: dict[str, str] = {}
    while True:
        try:
            line = await conn.reader.readline()
        except (ConnectionError, OSError) as e:
            raise TransportError(f"reading the headers: {e!r}", partial=True) from None
        if not line or not line.endswith(b"\n"):
            raise TransportError("the connection closed inside the headers", partial=True)
        if line in (b"\r\n", b"\n"):
            return status, headers
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()


class Body:
    """The response body as pieces, framed by Content-Length, chunked encoding or the end of the
    connection. `complete` says whether the framing ended properly."""

    def __init__(self, conn: Connection, headers: dict, status: int, method: str) -> None:
        self.conn, self.complete = conn, False
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self.length = int(headers["content-length"]) if "content-length" in headers and not self.chunked else None
        self.until_close = not self.chunked and self.length is None
        if status in (204, 304) or method == "HEAD":
            self.length = 0
            self.until_close = False
        self.keep_alive = headers.get("connection", "").lower() != "close" and not self.until_close

    async def pieces(self):
        reader = self.conn.reader
        try:
            if self.length is not None:
                left = self.length
                while left > 0:
                    data = await reader.read(min(left, 65536))
                    if not data:
                        return
                    left -= len(data)
                    yield data
                self.complete = True
            elif self.chunked:
                while True:
                    line = await reader.readline()
                    if not line.endswith(b"\n"):
                        return
                    size = int(line.split(b";")[0].strip() or b"x", 16)
                    if size == 0:
                        while True:
                            trailer = await reader.readline()
                            if not trailer.endswith(b"\n"):
                                return
                            if trailer in (b"\r\n", b"\n"):
                                break
                        self.complete = True
                        return
                    data = await reader.readexactly(size)
                    if (await reader.readline()) not in (b"\r\n", b"\n"):
                        return
                    yield data
            else:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        self.complete = True
                        return
                    yield data
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ValueError):
            return

    async def read_all(self) -> bytes:
        return b"".join([piece async for piece in self.pieces()])


async def simple_request(port: int, method: str, path: str, headers: dict | None = None,
                         body: bytes | None = None, timeout: float = 10.0) -> tuple[int, dict, bytes]:
    conn = await Connection.open(port)
    try:
        async with asyncio.timeout(timeout):
            conn.writer.write(build_request(method, path, {"Connection": "close", **(headers or {})}, body))
            await conn.writer.drain()
            status, response_headers = await read_head(conn)
            data = await Body(conn, response_headers, status, method).read_all()
            return status, response_headers, data
    finally:
        conn.close()


async def get_json(port: int, path: str, headers: dict | None = None, timeout: float = 10.0) -> dict | None:
    try:
        status, _, data = await simple_request(port, "GET", path, headers, timeout=timeout)
        return json.loads(data) if status == 200 else None
    except (OSError, TransportError, TimeoutError, ValueError):
        return None


# --- outcomes -----------------------------------------------------------------------------------
def percentile(values, p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


class Tally:
    def __init__(self) -> None:
        self.started = 0
        self.outcomes: collections.Counter = collections.Counter()
        self.by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.errors: collections.Counter = collections.Counter()
        self.notes: collections.Counter = collections.Counter()
        self.latency = {"json": array.array("d"), "stream": array.array("d")}
        self.first_chunk = array.array("d")
        self.examples: dict[str, list] = collections.defaultdict(list)
        self.journal = None  # a file: one JSON line per request, for following a request into the proxy's logs

    def record(self, kind: str, outcome: str, *, latency: float | None = None, error_key: str | None = None,
               detail: dict | None = None) -> None:
        self.outcomes[outcome] += 1
        self.by_kind[kind][outcome] += 1
        if self.journal is not None:
            entry = {"kind": kind, "outcome": outcome, **{k: v for k, v in (detail or {}).items()
                                                          if k in ("id", "status", "model", "seconds", "error", "why", "how")}}
            if error_key:
                entry["error"] = error_key
            self.journal.write(json.dumps(entry) + "\n")
        if error_key:
            self.errors[error_key] += 1
        if outcome == "ok" and latency is not None:
            self.latency["stream" if kind.startswith("stream") else "json"].append(latency)
        if outcome in FAILURE_OUTCOMES and len(self.examples[outcome]) < 20:
            self.examples[outcome].append({"kind": kind, **(detail or {})})
        if outcome == "error" and error_key and len(self.examples["error:" + error_key]) < 3:
            self.examples["error:" + error_key].append({"kind": kind, **(detail or {})})


def error_key_of(status: int | str, error: dict) -> str:
    code = error.get("code") or error.get("type") or "?"
    return f"{status} {code}"


def proper_error(payload) -> dict | None:
    """The `error` object of an OpenAI-style error body, if it is one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), dict):
        return None
    error = payload["error"]
    if not isinstance(error.get("message"), str) or not error["message"]:
        return None
    if not (isinstance(error.get("type"), str) or isinstance(error.get("code"), str)):
        return None
    return error


def expected_words(total: int) -> list[str]:
    return [f"w{i}" for i in range(1, total + 1)]


# --- the load -------------------------------------------------------------------------------------
class Load:
    def __init__(self, args: argparse.Namespace, port: int, client_token: str, tally: Tally) -> None:
        self.args, self.port, self.token, self.tally = args, port, client_token, tally
        self.rng = random.Random(args.seed)
        self.sequence = 0
        self.keepalive_retries = 0
        self.in_flight = 0

    def next_id(self) -> str:
        self.sequence += 1
        return f"soak-{self.sequence:07d}"

    def pick_kind(self) -> str:
        r = self.rng.random()
        a = self.args
        if r < a.hangup_rate:
            return "hangup_early"
        r -= a.hangup_rate
        if r < a.midstream_hangup_rate:
            return "stream_hangup"
        r -= a.midstream_hangup_rate
        if r < a.invalid_rate:
            return "invalid"
        return "stream" if self.rng.random() < a.stream_share else "json"

    async def worker(self, index: int, stop_at: float) -> None:
        conn: Connection | None = None
        keepalive = index % 2 == 0  # half the clients reuse their connection
        try:
            while time.monotonic() < stop_at:
                kind = self.pick_kind()
                request_id = self.next_id()
                self.tally.started += 1
                self.in_flight += 1
                try:
                    conn = await self.one(kind, request_id, conn if keepalive else None, keepalive)
                except Exception as e:  # a bug in this script: report it, keep going
                    self.tally.record(kind, "client_bug", detail={"id": request_id, "error": repr(e)})
                    if conn:
                        conn.close()
                    conn = None
                finally:
                    self.in_flight -= 1
        finally:
            if conn:
                conn.close()

    def payload(self, kind: str, request_id: str, words: int) -> dict:
        body: dict = {"model": POOL, "messages": [
            {"role": "system", "content": "You are a soak test."},
            {"role": "user", "content": f"Count for me. soak:{words} id:{request_id}"}],
            "max_tokens": 64}
        if kind.startswith("stream"):
            body["stream"] = True
            if self.rng.random() < 0.5:
                body["stream_options"] = {"include_usage": True}
        if kind == "invalid":
            body["temperature"] = 7
        return body

    async def one(self, kind: str, request_id: str, conn: Connection | None, keepalive: bool) -> Connection | None:
        """Runs one request; returns the connection to reuse, if any."""
        words = self.rng.randint(3, 40)
        payload = self.payload(kind, request_id, words)
        asked_usage = bool(payload.get("stream_options"))
        body = json.dumps(payload).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                   "x-request-id": request_id, "Connection": "keep-alive" if keepalive else "close"}
        raw = build_request("POST", "/v1/chat/completions", headers, body)
        started = time.monotonic()
        detail = {"id": request_id, "words": words}
        if kind == "hangup_early":
            detail["how"] = await self.hang_up_early(raw, conn)
            detail["seconds"] = round(time.monotonic() - started, 3)
            self.tally.record(kind, "hangup", detail=detail)
            return None
        try:
            async with asyncio.timeout(self.args.client_deadline):
                reused = conn is not None
                if conn is None:
                    conn = await Connection.open(self.port)
                conn.uses += 1
                try:
                    conn.writer.write(raw)
                    await conn.writer.drain()
                    status, response_headers = await read_head(conn)
                except (TransportError, ConnectionError, OSError) as e:
                    partial = getattr(e, "partial", False)
                    conn.close()
                    if not reused or partial:
                        raise
                    # A kept-alive connection the proxy closed while idle: retry once on a new one.
                    self.keepalive_retries += 1
                    conn = await Connection.open(self.port)
                    conn.uses += 1
                    conn.writer.write(raw)
                    await conn.writer.drain()
                    status, response_headers = await read_head(conn)
                detail["status"] = status
                detail["model"] = response_headers.get("x-modelmesh-model")
                detail["attempts"] = response_headers.get("x-modelmesh-attempts")
                response = Body(conn, response_headers, status, "POST")
                is_stream = status == 200 and response_headers.get("content-type", "").startswith("text/event-stream")
                if is_stream:
                    outcome, error_key, extra = await self.read_stream(kind, response, words, started, asked_usage)
                else:
                    data = await response.read_all()
                    outcome, error_key, extra = self.judge_complete(kind, status, response, data, words)
                detail.update(extra)
                elapsed = time.monotonic() - started
                detail["seconds"] = round(elapsed, 3)
                self.tally.record(kind, outcome, latency=elapsed, error_key=error_key, detail=detail)
                if outcome in ("ok", "error") and response.complete and response.keep_alive and keepalive:
                    return conn
                conn.close()
                return None
        except TimeoutError:
            if conn:
                conn.close()
            detail["seconds"] = round(time.monotonic() - started, 3)
            self.tally.record(kind, "deadline_exceeded", detail=detail)
            return None
        except (TransportError, ConnectionError, OSError) as e:
            if conn:
                conn.close()
            detail.update(error=str(e) or repr(e), seconds=round(time.monotonic() - started, 3))
            self.tally.record(kind, "transport_error", detail=detail)
            return None

    async def hang_up_early(self, raw: bytes, conn: Connection | None) -> str:
        """Sends the request and goes away before (usually) the answer: a close, or a half-close.
        Returns how it hung up."""
        if conn is not None:
            conn.close()
        conn = None
        how = "close"
        try:
            conn = await Connection.open(self.port)
            conn.writer.write(raw)
            await conn.writer.drain()
            if self.rng.random() < 0.3:
                # Close the sending side, as nginx counts a "client closed request"; read a little.
                how = "half_close"
                conn.writer.write_eof()
                try:
                    async with asyncio.timeout(self.rng.uniform(0.05, 1.0)):
                        while await conn.reader.read(65536):
                            how = "half_close_after_answer"
                except (TimeoutError, ConnectionError, OSError):
                    pass
            else:
                await asyncio.sleep(self.rng.choice([0.0, 0.01, 0.05]) if self.rng.random() < 0.5
                                    else self.rng.uniform(0.1, 2.5))
                if conn.reader.at_eof() or len(getattr(conn.reader, "_buffer", b"")) > 0:
                    how = "close_after_answer"
        except (ConnectionError, OSError):
            how += "_failed_send"
        finally:
            if conn is not None:
                conn.close()
        return how

    def judge_complete(self, kind: str, status: int, response: Body, data: bytes, words: int) -> tuple[str, str | None, dict]:
        extra: dict = {}
        if status == 200:
            if kind == "invalid":
                return "unexpected_status", None, {"why": "an invalid request (temperature 7) got 200"}
            try:
                payload = json.loads(data)
            except ValueError:
                return "truncated_success", None, {"why": "200 JSON body does not parse", "body_bytes": len(data),
                                                   "framing_complete": response.complete, "tail": data[-120:].decode("utf-8", "replace")}
            if not response.complete:
                return "truncated_success", None, {"why": "200 body shorter than its framing"}
            try:
                content = payload["choices"][0]["message"]["content"]
                usage = payload["usage"]
                assert isinstance(usage.get("completion_tokens"), int) and isinstance(usage.get("prompt_tokens"), int)
            except (KeyError, IndexError, TypeError, AssertionError):
                return "truncated_success", None, {"why": "200 JSON without choices[0].message.content or usage",
                                                   "body": data[:300].decode("utf-8", "replace")}
            if str(content).split() != expected_words(words):
                return "content_mismatch", None, {"why": "JSON text is not w1..wN",
                                                  "content": str(content)[:300]}
            return "ok", None, extra
        if status >= 400:
            try:
                error = proper_error(json.loads(data))
            except ValueError:
                error = None
            if error is None:
                return "error_without_body", None, {"body": data[:300].decode("utf-8", "replace"),
                                                    "framing_complete": response.complete}
            extra["error"] = {k: error.get(k) for k in ("type", "code", "param")}
            extra["message"] = str(error.get("message"))[:400]
            if kind == "invalid" and status != 400:
                return "unexpected_status", None, {"why": f"an invalid request got {status}, not 400", **extra}
            return "error", error_key_of(status, error), extra
        return "unexpected_status", None, {"body": data[:300].decode("utf-8", "replace")}

    async def read_stream(self, kind: str, response: Body, words: int, started: float,
                          asked_usage: bool) -> tuple[str, str | None, dict]:
        buffer = b""
        content: list[str] = []
        done = False
        in_band: dict | None = None
        finish = None
        usage_seen = False
        after_end = 0
        content_events = 0
        hang_up_after = self.rng.randint(1, 3) if kind == "stream_hangup" else None
        async for piece in response.pieces():
            buffer += piece.replace(b"\r\n", b"\n")
            while b"\n\n" in buffer:
                raw_event, buffer = buffer.split(b"\n\n", 1)
                data_lines = [line[5:].lstrip(b" ") for line in raw_event.split(b"\n") if line.startswith(b"data:")]
                if not data_lines:
                    continue  # a comment or a keep-alive
                data = b"\n".join(data_lines)
                if done or in_band is not None:
                    after_end += 1
                    continue
                if data.strip() == b"[DONE]":
                    done = True
                    continue
                try:
                    event = json.loads(data)
                except ValueError:
                    return "truncated_success", None, {"why": "a stream event does not parse",
                                                       "event": data[:200].decode("utf-8", "replace")}
                if isinstance(event, dict) and "error" in event:
                    in_band = event
                    continue
                try:
                    choices = event["choices"]
                    if event.get("usage"):
                        usage_seen = True
                    for choice in choices:
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            if not content:
                                self.tally.first_chunk.append(time.monotonic() - started)
                            content.append(text)
                            content_events += 1
                        if choice.get("finish_reason"):
                            finish = choice["finish_reason"]
                except (KeyError, TypeError, AttributeError):
                    return "truncated_success", None, {"why": "a stream chunk without choices",
                                                       "event": data[:200].decode("utf-8", "replace")}
                if hang_up_after is not None and content_events >= hang_up_after:
                    return "hangup", None, {"how": f"after {content_events} content chunks"}
        text = "".join(content)
        extra = {"content_events": content_events, "framing_complete": response.complete}
        if after_end:
            self.tally.notes["events_after_end_of_stream"] += 1
            extra["events_after_end"] = after_end
        if in_band is not None:
            error = proper_error(in_band)
            if error is None:
                return "error_without_body", None, {"why": "an in-band error event without a proper error object",
                                                    "event": json.dumps(in_band)[:300], **extra}
            if done:
                return "truncated_success", None, {"why": "both an in-band error and [DONE]", **extra}
            extra["error"] = {k: error.get(k) for k in ("type", "code", "param")}
            extra["message"] = str(error.get("message"))[:400]
            extra["delivered_words"] = len(text.split())
            return "error", error_key_of("stream", error), extra
        if not done:
            if finish and response.complete:
                self.tally.notes["stream_ok_without_done"] += 1
            else:
                return "truncated_success", None, {"why": "stream ended without [DONE], final chunk or in-band error",
                                                   "delivered_words": len(text.split()), "finish_reason": finish, **extra}
        if not response.complete:
            self.tally.notes["stream_done_then_unframed_end"] += 1
        if text.split() != expected_words(words):
            return "content_mismatch", None, {"why": "stream text is not w1..wN", "content": text[:300], **extra}
        if not finish:
            self.tally.notes["stream_done_without_finish_reason"] += 1
        if asked_usage and not usage_seen:
            self.tally.notes["stream_usage_asked_but_missing"] += 1
        if usage_seen and not asked_usage:
            self.tally.notes["stream_usage_not_asked_but_sent"] += 1
        return "ok", None, extra


# --- the run ------------------------------------------------------------------------------------
def write_config(path: Path, work_dir: Path, ports: dict[str, int], args: argparse.Namespace) -> None:
    storage = ("storage: {connector: modelmesh.memory.v1}\n" if args.storage == "memory" else
               f"storage: {{connector: modelmesh.local-file.v1, path: '{work_dir / 'state'}', sync_policy: immediate}}\n")
    providers = ""
    models = ""
    prices = {"flaky": (0.40, 1.60), "backup": (0.50, 2.00), "reserve": (1.00, 4.00)}
    for name in ports:
        providers += (
            f"  {name}:\n"
            f"    connector: openai-compatible.llm.v1\n"
            f"    base_url: http://{HOST}:{ports[name]}/v1\n"
            f"    api_key: ${{secrets:SOAK_{name.upper()}_API_KEY}}\n"
            f"    timeout: {args.attempt_timeout}\n"
            f"    budget: {{daily_limit: 500000}}\n")
        models += (
            f"  {name}.soak-{name}:\n"
            f"    provider: {name}\n"
            f"    capabilities: [chat-completion]\n"
            f"    features: {{prefill: true}}\n"
            f"    constraints: {{context_window: 32000, max_output_tokens: 1024}}\n"
            f"    pricing: {{input_per_1m: {prices[name][0]}, output_per_1m: {prices[name][1]}}}\n")
    member_list = ", ".join(f"{name}.soak-{name}" for name in ports)
    path.write_text(
        "# Written by scripts/soak: fake upstreams on loopback with injected faults.\n"
        f"providers:\n{providers}"
        f"models:\n{models}"
        "pools:\n"
        f"  {POOL}:\n"
        "    capability: chat-completion\n"
        f"    models: [{member_list}]\n"
        f"    strategy: {args.strategy}\n"
        "    retry:\n"
        "      max_attempts: 2\n"
        "      backoff: exponential_jitter\n"
        "      initial_delay: 50ms\n"
        "      max_delay: 1s\n"
        f"      timeout: {args.pool_timeout}\n"
        "      honor_retry_after: true\n"
        "      scope: any\n"
        "    deactivation: {retry_limit: 4, error_rate_threshold: 0.6, error_codes: [429, 500, 502, 503, 504]}\n"
        "    recovery: {cooldown: 3s, max_cooldown: 20s}\n"
        f"    stream: {{first_token_timeout: {args.first_token_timeout}, idle_timeout: {args.idle_timeout}, mid_stream: continue}}\n"
        "    budget: {daily_limit: 500000}\n"
        "budget: {daily_limit: 1000000, per_request_limit: 5}\n"
        + storage +
        "observability:\n"
        "  routing:\n"
        "    connector: modelmesh.local-file.v1\n"
        f"    path: '{work_dir / 'events.jsonl'}'\n"
        "    max_size: 20MB\n"
        "    max_files: 2\n"
        "  logging:\n"
        "    connector: modelmesh.local-file.v1\n"
        f"    path: '{work_dir / 'requests.jsonl'}'\n"
        "    level: full\n"
        "    max_size: 20MB\n"
        "    max_files: 2\n"
        "proxy:\n"
        f"  host: {HOST}\n"
        "  auth:\n"
        "    tokens: ['${secrets:SOAK_CLIENT_TOKEN}']\n"
        "    admin_tokens: ['${secrets:SOAK_ADMIN_TOKEN}']\n"
        "  shutdown_timeout: 10s\n")


def crosscheck(work_dir: Path) -> dict:
    """Each client request next to the proxy's own request log entry (matched by x-request-id):
    how many of each (client outcome, logged status) pair, with a few ids of each."""
    logged: dict[str, list] = {}
    files = sorted(p for p in work_dir.iterdir() if p.name.startswith("requests.jsonl"))
    for path in files:
        with open(path, errors="replace") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("request_id"):
                    logged.setdefault(entry["request_id"], []).append(entry.get("status"))
    rotated = any(p.name != "requests.jsonl" for p in files)
    pairs: collections.Counter = collections.Counter()
    examples: dict[str, list] = collections.defaultdict(list)
    journal = work_dir / "client-requests.jsonl"
    if not journal.exists():
        return {}
    with open(journal) as f:
        for line in f:
            entry = json.loads(line)
            statuses = logged.get(entry.get("id"))
            if statuses is None and rotated:
                continue
            client = f"{entry['kind']}: {entry['outcome']}"
            if entry["outcome"] == "error":
                client += f" {entry.get('error')}"
            proxy = "not logged" if statuses is None else "logged " + "+".join(str(s) for s in statuses)
            key = f"{client} -> {proxy}"
            pairs[key] += 1
            if len(examples[key]) < 3:
                examples[key].append(entry.get("id"))
    return {"request_log_rotated": rotated, "pairs": dict(pairs.most_common()), "example_ids": dict(examples)}


def slope_per_minute(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    if len(samples) < 3:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (m - mean_m) for t, m in samples)
    return cov / var * 60


def reserved_of(state: dict | None) -> dict[str, float] | None:
    if not isinstance(state, dict) or not isinstance(state.get("budgets"), list):
        return None
    return {str(b.get("scope")): float(b.get("reserved") or 0) for b in state["budgets"]}


def fmt(value, digits: int = 0, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value:,}{unit}"


async def run(args: argparse.Namespace, processes: Processes, work_dir: Path) -> dict:
    results: dict = {
        "command": args.command_line, "binary": args.binary, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "mode": args.mode, "load_seconds_planned": args.seconds, "concurrency": args.concurrency,
        "client_deadline_s": args.client_deadline, "seed": args.seed, "work_dir": str(work_dir),
    }
    failures: list[str] = []
    results["failures"] = failures
    rng = random.Random(args.seed)
    keys = {name: f"sk-soak-{name}-{rng.getrandbits(64):016x}" for name in ("flaky", "backup", "reserve")}
    tokens = {"client": f"soak-client-{rng.getrandbits(64):016x}", "admin": f"soak-admin-{rng.getrandbits(64):016x}"}
    rates = {"flaky": args.flaky_fault_rate, "backup": args.backup_fault_rate, "reserve": args.reserve_fault_rate}
    results["fault_rates"] = rates
    results["timeouts"] = {"attempt (provider timeout)": args.attempt_timeout, "pool retry.timeout": args.pool_timeout,
                           "stream.first_token_timeout": args.first_token_timeout,
                           "stream.idle_timeout": args.idle_timeout, "upstream stall": f"{args.stall_seconds}s",
                           "upstream hang": f"{args.hang_seconds}s"}

    # 1. The fake upstreams.
    upstream_cmd = [sys.executable, str(SCRIPTS / "soak_upstream.py"), "--seed", str(args.seed),
                    "--stall-seconds", str(args.stall_seconds), "--hang-seconds", str(args.hang_seconds)]
    for name, rate in rates.items():
        upstream_cmd += ["--upstream", f"{name}:0:{rate}:{keys[name]}"]
    if args.mix:
        upstream_cmd += ["--mix", args.mix]
    upstream, upstream_out, _ = processes.start("upstream", upstream_cmd)
    ports = None
    for _ in range(100):
        text = upstream_out.read_text() if upstream_out.exists() else ""
        if text.strip():
            ports = json.loads(text.splitlines()[0])["listening"]
            break
        if upstream.poll() is not None:
            break
        await asyncio.sleep(0.1)
    if not ports:
        raise RuntimeError(f"the fake upstreams did not start; see {work_dir}/upstream.stderr.log")
    any_upstream = next(iter(ports.values()))
    log("fake upstreams: " + ", ".join(f"{n} on :{p} ({rates[n]:.0%} faults)" for n, p in ports.items()))

    # 2. The configuration, validated.
    config_path = work_dir / "modelmesh.yaml"
    write_config(config_path, work_dir, ports, args)
    env = dict(os.environ)
    for name, key in keys.items():
        env[f"SOAK_{name.upper()}_API_KEY"] = key
    env["SOAK_CLIENT_TOKEN"], env["SOAK_ADMIN_TOKEN"] = tokens["client"], tokens["admin"]
    validate = subprocess.run([args.binary, "validate", str(config_path)], capture_output=True, text=True, env=env,
                              timeout=60)
    results["validate"] = {"exit": validate.returncode, "output": validate.stdout.strip()[-2000:]}
    (work_dir / "modelmesh.validate.log").write_text(validate.stdout + validate.stderr)
    if validate.returncode != 0:
        print(validate.stdout + validate.stderr, file=sys.stderr)
        raise RuntimeError(f"`modelmesh validate {config_path}` rejected the soak configuration (exit {validate.returncode})")
    log(f"configuration valid: {config_path}")

    # 3. The proxy.
    port = free_port()
    proxy, proxy_out, proxy_err = processes.start(
        "modelmesh", [args.binary, "serve", "--config", str(config_path), "--host", HOST, "--port", str(port),
                      "--log-level", args.log_level], env=env)
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    ready_deadline = time.monotonic() + 60
    while True:
        if proxy.poll() is not None:
            raise RuntimeError(f"modelmesh serve exited with {proxy.returncode} at start; see {proxy_err}")
        try:
            status, _, _ = await simple_request(port, "GET", "/ready", admin, timeout=2)
            if status == 200:
                break
        except (OSError, TransportError, TimeoutError):
            pass
        if time.monotonic() > ready_deadline:
            raise RuntimeError(f"modelmesh serve was not ready within 60 s; see {proxy_err}")
        await asyncio.sleep(0.2)
    log(f"modelmesh serve ready on {HOST}:{port} (pid {proxy.pid})")
    state = await get_json(port, "/v1/mesh/state", admin)
    if reserved_of(state) is None:
        raise RuntimeError("/v1/mesh/state has no `budgets` list with `reserved`; the soak cannot check reservations")

    # 4. The load, with RSS and reservations sampled along the way.
    tally = Tally()
    tally.journal = open(work_dir / "client-requests.jsonl", "w", buffering=1 << 16)
    load = Load(args, port, tokens["client"], tally)
    rss_samples: list[tuple[float, float]] = []
    reserved_samples: list[float] = []
    crash: dict = {}
    load_started = time.monotonic()
    stop_at = load_started + args.seconds

    async def sampler() -> None:
        last_report = load_started
        while True:
            now = time.monotonic()
            if proxy.poll() is not None:
                crash.update(exit=proxy.returncode, at_s=round(now - load_started, 1))
                return
            kib = rss_kib(proxy.pid)
            if kib is not None and now <= stop_at:
                rss_samples.append((now - load_started, kib / 1024))
            reserved = reserved_of(await get_json(port, "/v1/mesh/state", admin, timeout=5))
            if reserved is not None:
                reserved_samples.append(sum(reserved.values()))
            if now - last_report >= args.report_every and now <= stop_at:
                last_report = now
                log(f"t={now - load_started:5.0f}s  requests {tally.started:,}  ok {tally.outcomes['ok']:,}  "
                    f"errors {tally.outcomes['error']:,}  hangups {tally.outcomes['hangup']:,}  "
                    f"failures {sum(tally.outcomes[o] for o in FAILURE_OUTCOMES):,}  "
                    f"rss {kib / 1024 if kib else 0:.1f} MB")
            await asyncio.sleep(args.sample_interval)

    sampling = asyncio.create_task(sampler())
    log(f"load: {args.concurrency} clients for {args.seconds:.0f} s "
        f"(deadline {args.client_deadline:.0f} s per request)")

    async def watch_crash() -> None:
        while not crash and not sampling.done():
            await asyncio.sleep(0.5)

    workers = [asyncio.create_task(load.worker(i, stop_at)) for i in range(args.concurrency)]
    everything = asyncio.gather(*workers)
    crash_watch = asyncio.create_task(watch_crash())
    await asyncio.wait([everything, crash_watch], return_when=asyncio.FIRST_COMPLETED)
    if crash:
        log(f"modelmesh serve EXITED during the load (status {crash.get('exit')}); stopping the clients")
        for w in workers:
            w.cancel()
    try:
        await everything
    except asyncio.CancelledError:
        pass
    crash_watch.cancel()
    load_seconds = time.monotonic() - load_started
    sampling.cancel()
    try:
        await sampling
    except asyncio.CancelledError:
        pass
    log(f"load stopped after {load_seconds:.1f} s ({tally.started:,} requests)")
    tally.journal.close()
    tally.journal = None

    # 5. After the load: reservations, crash, logs, upstream counters, shutdown.
    reservations_left: dict | None = None
    waited = 0.0
    if not crash and proxy.poll() is None:
        poll_started = time.monotonic()
        while True:
            reservations_left = reserved_of(await get_json(port, "/v1/mesh/state", admin))
            if reservations_left is not None and all(abs(v) < 1e-9 for v in reservations_left.values()):
                break
            if time.monotonic() - poll_started > args.reservation_wait:
                break
            await asyncio.sleep(0.5)
        waited = time.monotonic() - poll_started
        final_state = await get_json(port, "/v1/mesh/state", admin)
        (work_dir / "mesh-state-after.json").write_text(json.dumps(final_state, indent=2))
        try:
            _, _, metrics = await simple_request(port, "GET", "/metrics", admin)
            (work_dir / "metrics-after.txt").write_bytes(metrics)
        except (OSError, TransportError, TimeoutError):
            pass
        results["budgets_after"] = (final_state or {}).get("budgets")
        results["providers_after"] = (final_state or {}).get("providers")
    upstream_stats = {}
    for name, p in ports.items():
        upstream_stats[name] = await get_json(p, "/stats")
    # Traces for the failed requests: which faults each attempt met.
    for outcome in FAILURE_OUTCOMES:
        for example in tally.examples.get(outcome, [])[:10]:
            trace = await get_json(any_upstream, f"/trace?id={example.get('id')}")
            if trace:
                example["upstream_attempts"] = trace.get("attempts")

    if proxy.poll() is not None and not crash:
        crash.update(exit=proxy.returncode, at_s=round(time.monotonic() - load_started, 1))
    shutdown_exit = None
    if not crash:
        shutdown_started = time.monotonic()
        shutdown_exit = Processes.stop(proxy, 20)
        results["shutdown"] = {"exit": shutdown_exit, "seconds": round(time.monotonic() - shutdown_started, 2)}
    Processes.stop(upstream, 5)

    # Secrets in anything the proxy wrote.
    secrets = {**{f"api key of {n}": k for n, k in keys.items()},
               "client token": tokens["client"], "admin token": tokens["admin"]}
    leaks = []
    scanned = []
    # Everything the proxy wrote or printed: logs, request logs, events, the state store, the
    # state and metrics it served, `validate`'s output. Not the configuration (it names the
    # secrets' variables, not their values), the fake upstreams' logs or this script's journal.
    not_proxy = {"modelmesh.yaml", "client-requests.jsonl", "pids", "upstream.stdout.log", "upstream.stderr.log"}
    for path in sorted(work_dir.rglob("*")):
        if not path.is_file() or path.name in not_proxy:
            continue
        name = str(path.relative_to(work_dir))
        scanned.append(name)
        with open(path, "rb") as f:
            for number, line in enumerate(f, 1):
                for what, secret in secrets.items():
                    if secret.encode() in line:
                        leaks.append(f"{what} in {name}:{number}")
    results["secret_scan"] = {"files": scanned, "leaks": leaks[:50]}
    results["proxy_log_crosscheck"] = crosscheck(work_dir)

    # --- verdict -------------------------------------------------------------------------------
    rss_summary: dict = {"samples": len(rss_samples), "bound_mb": args.rss_bound_mb}
    if rss_samples:
        values = [m for _, m in rss_samples]
        half = [s for s in rss_samples if s[0] >= load_seconds / 2]
        slope = slope_per_minute(half)
        span_min = (half[-1][0] - half[0][0]) / 60 if len(half) > 1 else 0
        rss_summary.update(start_mb=round(values[0], 1), end_mb=round(values[-1], 1), max_mb=round(max(values), 1),
                           min_mb=round(min(values), 1),
                           second_half_slope_mb_per_min=None if slope is None else round(slope, 3),
                           second_half_minutes=round(span_min, 2),
                           second_half_growth_mb=None if slope is None else round(slope * span_min, 2),
                           series=[[round(t, 1), round(m, 2)]
                                   for t, m in rss_samples[::max(1, len(rss_samples) // 500)]])
    results["rss"] = rss_summary
    results["load_seconds"] = round(load_seconds, 1)
    results["requests"] = tally.started
    results["outcomes"] = dict(tally.outcomes.most_common())
    results["outcomes_by_kind"] = {k: dict(v.most_common()) for k, v in sorted(tally.by_kind.items())}
    results["errors_by_status_code"] = dict(tally.errors.most_common())
    results["notes"] = dict(tally.notes.most_common())
    results["keepalive_retries"] = load.keepalive_retries
    all_ok = list(tally.latency["json"]) + list(tally.latency["stream"])
    results["latency_ok_s"] = {
        "all": {"n": len(all_ok), "p50": percentile(all_ok, 50), "p99": percentile(all_ok, 99)},
        "json": {"n": len(tally.latency["json"]), "p50": percentile(tally.latency["json"], 50),
                 "p99": percentile(tally.latency["json"], 99)},
        "stream": {"n": len(tally.latency["stream"]), "p50": percentile(tally.latency["stream"], 50),
                   "p99": percentile(tally.latency["stream"], 99)},
        "stream_first_content": {"p50": percentile(tally.first_chunk, 50), "p99": percentile(tally.first_chunk, 99)},
    }
    results["throughput_rps"] = round(tally.started / load_seconds, 1) if load_seconds else None
    results["upstreams"] = upstream_stats
    injected = collections.Counter()
    for stats in upstream_stats.values():
        injected.update((stats or {}).get("faults", {}))
    results["faults_injected"] = dict(injected.most_common())
    results["reservations"] = {"max_reserved_during_load_usd": max(reserved_samples) if reserved_samples else None,
                               "left_after_load_usd": reservations_left, "waited_s": round(waited, 1)}
    results["crash"] = crash or None
    results["examples"] = {k: v for k, v in tally.examples.items()}

    accounted = sum(tally.outcomes.values())
    if accounted != tally.started:
        failures.append(f"{tally.started - accounted} requests started but never accounted for")
    for outcome in FAILURE_OUTCOMES:
        if tally.outcomes[outcome]:
            failures.append(f"{tally.outcomes[outcome]} x {outcome}")
    if crash:
        failures.append(f"modelmesh serve exited during the run (status {crash.get('exit')}, at {crash.get('at_s')} s)")
    elif shutdown_exit != 0:
        failures.append(f"modelmesh serve did not exit 0 on SIGTERM (status {shutdown_exit}; None = killed after 20 s)")
    if not crash:
        if reservations_left is None:
            failures.append("could not read reservations from /v1/mesh/state after the load")
        else:
            left = {s: v for s, v in reservations_left.items() if abs(v) >= 1e-9}
            if left:
                failures.append(f"budget reservations left {waited:.0f} s after the load: "
                                + ", ".join(f"{s}={v:.9f} USD" for s, v in left.items()))
    growth = rss_summary.get("second_half_growth_mb")
    if growth is not None and growth > args.rss_bound_mb:
        failures.append(f"RSS grew {growth:.1f} MB over the second half of the load "
                        f"({rss_summary['second_half_slope_mb_per_min']:.2f} MB/min), bound {args.rss_bound_mb} MB")
    if leaks:
        failures.append(f"secrets in the proxy's output: {'; '.join(leaks[:5])}")
    mismatch = sum((s or {}).get("auth_mismatch", 0) for s in upstream_stats.values())
    if mismatch:
        failures.append(f"the upstreams saw {mismatch} requests with a wrong API key")
    if any(s is None for s in upstream_stats.values()):
        failures.append("could not read the fake upstreams' /stats")
    if tally.started == 0 or tally.outcomes["ok"] == 0:
        failures.append("no request succeeded")
    results["verdict"] = "FAIL" if failures else "PASS"
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return results


def print_summary(results: dict) -> None:
    out = sys.stdout
    def line(label: str, value: str) -> None:
        print(f"  {label:<34} {value}", file=out)
    print("", file=out)
    print("ModelMesh soak", file=out)
    print("=" * 78, file=out)
    line("binary", results.get("binary", "-"))
    line("load", f"{results.get('load_seconds', 0):.0f} s, {results.get('concurrency')} clients, "
                 f"{fmt(results.get('requests'))} requests ({fmt(results.get('throughput_rps'), 1)} req/s)")
    print("  outcomes", file=out)
    for outcome, count in results.get("outcomes", {}).items():
        mark = "  <-- FAILURE" if outcome in FAILURE_OUTCOMES else ""
        line(f"  {outcome}", f"{count:>9,}{mark}")
    print("  by kind", file=out)
    for kind, counts in results.get("outcomes_by_kind", {}).items():
        line(f"  {kind}", ", ".join(f"{o} {c:,}" for o, c in counts.items()))
    print("  errors (status code)", file=out)
    for key, count in list(results.get("errors_by_status_code", {}).items())[:15]:
        line(f"  {key}", f"{count:>9,}")
    print("  faults injected by the upstreams", file=out)
    for name, stats in results.get("upstreams", {}).items():
        if stats:
            line(f"  {name} ({stats['fault_rate']:.0%})",
                 f"{stats['requests']:,} requests, {stats['faults_total']:,} faults: "
                 + ", ".join(f"{k} {v}" for k, v in stats["faults"].items()))
    lat = results.get("latency_ok_s", {})
    def ms(v):
        return "-" if v is None else f"{v * 1000:,.0f} ms"
    line("latency of ok (p50 / p99)", f"json {ms(lat.get('json', {}).get('p50'))} / {ms(lat.get('json', {}).get('p99'))}, "
                                      f"stream {ms(lat.get('stream', {}).get('p50'))} / {ms(lat.get('stream', {}).get('p99'))}")
    rss = results.get("rss", {})
    line("RSS start / end / max", f"{fmt(rss.get('start_mb'), 1)} / {fmt(rss.get('end_mb'), 1)} / {fmt(rss.get('max_mb'), 1)} MB")
    line("RSS slope, second half", f"{fmt(rss.get('second_half_slope_mb_per_min'), 2)} MB/min -> "
                                   f"{fmt(rss.get('second_half_growth_mb'), 1)} MB over {fmt(rss.get('second_half_minutes'), 1)} min "
                                   f"(bound {rss.get('bound_mb')} MB)")
    res = results.get("reservations", {})
    left = res.get("left_after_load_usd")
    line("reservations", f"max in flight {fmt(res.get('max_reserved_during_load_usd'), 6)} USD; after load "
                         + ("-" if left is None else f"{sum(left.values()):.9f} USD")
                         + f" (waited {res.get('waited_s')} s)")
    if results.get("notes"):
        line("notes", ", ".join(f"{k} {v:,}" for k, v in results["notes"].items()))
    if results.get("keepalive_retries"):
        line("keep-alive retries", f"{results['keepalive_retries']:,}")
    pairs = results.get("proxy_log_crosscheck", {}).get("pairs", {})
    if pairs:
        print("  client outcome -> proxy request log", file=out)
        for key, count in list(pairs.items())[:14]:
            line(f"  {count:>8,}", key)
    line("shutdown", str(results.get("shutdown")))
    line("secret scan", f"{len(results.get('secret_scan', {}).get('files', []))} files, "
                        f"{len(results.get('secret_scan', {}).get('leaks', []))} leaks")
    print("-" * 78, file=out)
    print(f"VERDICT: {results.get('verdict')}", file=out)
    for reason in results.get("failures", []):
        print(f"  - {reason}", file=out)
    print("", file=out)


def main() -> int:
    parser = argparse.ArgumentParser(description="Running half of scripts/soak.")
    parser.add_argument("--binary", required=True)
    parser.add_argument("--mode", default="quick")
    parser.add_argument("--seconds", type=float, required=True, help="length of the load")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--out", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--pid-file", required=True)
    parser.add_argument("--command-line", default="scripts/soak")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--client-deadline", type=float, default=30.0)
    parser.add_argument("--flaky-fault-rate", type=float, default=0.30)
    parser.add_argument("--backup-fault-rate", type=float, default=0.08)
    parser.add_argument("--reserve-fault-rate", type=float, default=0.03)
    parser.add_argument("--mix", default=None, help="fault weights for soak_upstream.py --mix")
    parser.add_argument("--hangup-rate", type=float, default=0.05, help="share of requests hung up before the answer")
    parser.add_argument("--midstream-hangup-rate", type=float, default=0.05, help="share of streams hung up part way")
    parser.add_argument("--invalid-rate", type=float, default=0.02, help="share of requests the proxy must refuse (400)")
    parser.add_argument("--stream-share", type=float, default=0.55)
    parser.add_argument("--strategy", default="modelmesh.round-robin.v1")
    parser.add_argument("--attempt-timeout", default="3s")
    parser.add_argument("--pool-timeout", default="20s")
    parser.add_argument("--first-token-timeout", default="3s")
    parser.add_argument("--idle-timeout", default="2s")
    parser.add_argument("--stall-seconds", type=float, default=6.0)
    parser.add_argument("--hang-seconds", type=float, default=60.0)
    parser.add_argument("--storage", choices=["memory", "file"], default="memory")
    parser.add_argument("--log-level", default="debug")
    parser.add_argument("--rss-bound-mb", type=float, default=20.0)
    parser.add_argument("--sample-interval", type=float, default=2.0)
    parser.add_argument("--report-every", type=float, default=30.0)
    parser.add_argument("--reservation-wait", type=float, default=10.0)
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    work_dir = Path(args.work_dir)
    processes = Processes(Path(args.pid_file), work_dir)

    def on_signal(signum, _frame):
        log(f"stopped by signal {signum}; stopping the proxy and the fake upstreams")
        processes.stop_all()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        try:
            results = asyncio.run(run(args, processes, work_dir))
        except RuntimeError as e:
            log(f"error: {e}")
            return 2
    finally:
        processes.stop_all()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_summary(results)
    log(f"results: {out}")
    return 0 if results["verdict"] == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
