#!/usr/bin/env python3
"""Start ModelMesh Lite's OpenAI-compatible proxy (PyPI `modelmesh-lite`) for scripts/bench.

ModelMesh Lite never instantiates providers declared in YAML (its `_setup_providers` keeps
them as stubs, so routing to them fails with "Provider not found"). The only way to make its
proxy forward anywhere is the one its own tests use: build the provider object in code and
pass it under `instance`. This launcher does that, pointing the stock `OpenAIProvider` at the
benchmark's fake upstream, and then runs the stock `modelmesh.proxy.server.ProxyServer`
unchanged (stdlib single-threaded HTTPServer, as `python -m modelmesh.proxy` runs it).

Prints `listening on HOST:PORT` once the socket is bound; stops on SIGTERM/SIGINT.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading


def build_config(upstream: str, api_key: str, model: str) -> dict:
    """The mesh config: one OpenAI provider instance, one model, one pool `chat`."""
    from modelmesh.connectors.providers.openai_provider import (
        OpenAIProvider,
        OpenAIProviderConfig,
    )
    from modelmesh.interfaces.provider import ModelInfo

    wire_name = model.split(".", 1)[1] if "." in model else model
    chat = "generation.text-generation.chat-completion"
    provider = OpenAIProvider(
        OpenAIProviderConfig(
            # Lite's connector appends `/v1/chat/completions` itself: the base URL has no path.
            base_url=upstream.rstrip("/"),
            api_key=api_key,
            models=[ModelInfo(id=wire_name, name=wire_name, capabilities=[chat])],
        )
    )
    return {
        # Lite keys providers by connector id; a model's `provider` must name that id.
        "providers": {"openai": {"connector": OpenAIProvider.CONNECTOR_ID, "instance": provider}},
        "models": {model: {"provider": OpenAIProvider.CONNECTOR_ID, "capabilities": [chat]}},
        "pools": {"chat": {"models": [model]}},
        "observability": {"connector": "modelmesh.null.v1"},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="fake upstream origin, e.g. http://127.0.0.1:9001")
    parser.add_argument("--api-key", default="bench-dummy-key")
    parser.add_argument("--model", default="openai.gpt-4o-mini")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()

    logging.basicConfig(level=getattr(logging, args.log_level), stream=sys.stderr)
    from modelmesh.proxy.server import ProxyServer

    server = ProxyServer(build_config(args.upstream, args.api_key, args.model), host=args.host, port=args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start(block=False)
    print(f"listening on {args.host}:{args.port}", flush=True)
    while not stop.wait(1.0):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
