"""The official OpenAI Python SDK against `modelmesh serve`, in front of a fake upstream."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import openai
import pytest

import fake_upstream

TOKEN = "compat-suite-token"
ADMIN_TOKEN = "compat-suite-admin-token"
BINARY = os.environ.get("MODELMESH_BIN", os.path.join(os.path.dirname(__file__), "..", "..", ".build", "debug", "modelmesh"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_proxy(config, workdir):
    """Starts `modelmesh serve` on `config` in `workdir`; returns the process and its URL."""
    path = os.path.join(workdir, "modelmesh.yaml")
    with open(path, "w") as f:
        f.write(config)
    port = free_port()
    process = subprocess.Popen(
        [BINARY, "serve", "--config", path, "--host", "127.0.0.1", "--port", str(port), "--token", TOKEN,
         "--admin-token", ADMIN_TOKEN],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/health", timeout=1)
            return process, url
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("modelmesh serve exited early")
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("modelmesh serve did not become healthy")


def fake_provider(upstream, name="fake"):
    """The YAML of an OpenAI provider pointing at the fake upstream."""
    return f"""
  {name}:
    connector: openai.llm.v1
    base_url: http://127.0.0.1:{upstream.server_address[1]}/v1
    api_key: sk-fake-upstream-key"""


@pytest.fixture(scope="module")
def proxy():
    upstream = fake_upstream.start()
    base = f"http://127.0.0.1:{upstream.server_address[1]}/v1"
    config = f"""
providers:{fake_provider(upstream)}
  broken:
    connector: openai.llm.v1
    base_url: {base}
    api_key: sk-fake-upstream-key
models:
  fake.ok-model:
    provider: fake
    capabilities: [chat-completion, text-embeddings]
  broken.fail-model:
    provider: broken
    capabilities: [chat-completion]
pools:
  chat:
    capability: chat-completion
  embeddings:
    capability: text-embeddings
  doomed:
    models: [broken.fail-model]
    retry: {{max_attempts: 1}}
observability:
  routing: {{connector: modelmesh.null.v1}}
"""
    workdir = tempfile.mkdtemp(prefix="modelmesh-compat-")
    process, url = start_proxy(config, workdir)
    yield url
    process.terminate()
    process.wait(timeout=30)
    upstream.shutdown()


@pytest.fixture
def client(proxy):
    return openai.OpenAI(base_url=proxy + "/v1", api_key=TOKEN, max_retries=0)


def test_chat_completion(client):
    reply = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "Hello from the fake"
    assert reply.usage.total_tokens == 9


def test_streaming(client):
    stream = client.chat.completions.create(
        model="chat-completion", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the fake"
    assert chunks[-1].usage.total_tokens == 9


def test_embeddings(client):
    result = client.embeddings.create(model="embeddings", input=["a", "b"])
    assert [d.index for d in result.data] == [0, 1]
    assert result.data[0].embedding == [0.1, 0.2, 0.3]


def test_models_list_and_lookup(client):
    ids = [m.id for m in client.models.list().data]
    assert "chat" in ids and "fake.ok-model" in ids
    model = client.models.retrieve("fake.ok-model")
    assert model.owned_by == "fake"


def test_raw_response_headers(client):
    raw = client.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-request-id": "sdk-req-1"})
    assert raw.headers["x-request-id"] == "sdk-req-1"
    assert raw.headers["x-modelmesh-pool"] == "chat"
    assert raw.headers["x-modelmesh-model"] == "fake.ok-model"
    assert raw.headers["x-modelmesh-provider"] == "fake"
    assert raw.headers["x-modelmesh-attempts"] == "1"
    assert raw.parse().choices[0].message.content == "Hello from the fake"


def test_bad_request_is_400(client):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="chat", messages=[])


def test_bad_token_is_401(proxy):
    bad = openai.OpenAI(base_url=proxy + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="chta", messages=[{"role": "user", "content": "hi"}])
    assert "chat" in str(info.value)


def test_all_candidates_failed_is_502(client):
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="doomed", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 502
    assert "broken.fail-model" in str(info.value)


def mesh_api(url, method, path):
    # The operator endpoints need the admin token; it works on the others too.
    request = urllib.request.Request(url + path, method=method, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_state_and_spend_persist_across_a_restart_by_default():
    upstream = fake_upstream.start()
    # No storage section: `serve` keeps state under its working directory.
    config = f"""
providers:{fake_provider(upstream)}
models:
  fake.ok-model:
    provider: fake
    capabilities: [chat-completion]
    pricing: {{input_per_1m: 1000, output_per_1m: 1000}}
  fake.second-model:
    provider: fake
    capabilities: [chat-completion]
pools:
  chat:
    capability: chat-completion
budget: {{daily_limit: 100}}
observability:
  routing: {{connector: modelmesh.null.v1}}
"""
    workdir = tempfile.mkdtemp(prefix="modelmesh-restart-")
    try:
        process, url = start_proxy(config, workdir)
        try:
            client = openai.OpenAI(base_url=url + "/v1", api_key=TOKEN, max_retries=0)
            client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
            mesh_api(url, "POST", "/v1/mesh/models/fake.second-model/deactivate")
        finally:
            process.terminate()
            process.wait(timeout=30)
        assert os.path.isdir(os.path.join(workdir, ".modelmesh"))

        process, url = start_proxy(config, workdir)
        try:
            state = mesh_api(url, "GET", "/v1/mesh/state")
            members = {m["model_id"]: m for m in state["pools"][0]["members"]}
            assert members["fake.second-model"]["state"] == "standby"
            assert members["fake.second-model"]["reason"] == "manual"
            assert members["fake.ok-model"]["requests_today"] == 1
            spent = {b["scope"]: b for b in state["budgets"]}["global"]["daily"]
            assert spent > 0
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        upstream.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)


def test_sighup_reloads_the_file_and_an_invalid_file_changes_nothing():
    import signal

    upstream = fake_upstream.start()

    def config(models):
        listed = "".join(f"""
  fake.{name}:
    provider: fake
    capabilities: [chat-completion]""" for name in models)
        return f"""
providers:{fake_provider(upstream)}
models:{listed}
pools:
  chat:
    capability: chat-completion
observability:
  routing: {{connector: modelmesh.null.v1}}
"""

    def wait_for_version(url, version):
        deadline = time.time() + 20
        while time.time() < deadline:
            state = mesh_api(url, "GET", "/v1/mesh/state")
            if state["config"]["version"] == version:
                return state
            time.sleep(0.05)
        raise AssertionError(f"configuration version {version} never applied")

    workdir = tempfile.mkdtemp(prefix="modelmesh-reload-")
    try:
        process, url = start_proxy(config(["ok-model"]), workdir)
        path = os.path.join(workdir, "modelmesh.yaml")
        try:
            client = openai.OpenAI(base_url=url + "/v1", api_key=TOKEN, max_retries=0)
            assert wait_for_version(url, 1)["config"]["source"] == path

            with open(path, "w") as f:
                f.write(config(["ok-model", "second-model"]))
            process.send_signal(signal.SIGHUP)
            state = wait_for_version(url, 2)
            assert [m["model_id"] for m in state["pools"][0]["members"]] == ["fake.ok-model", "fake.second-model"]
            assert client.chat.completions.create(
                model="fake.second-model", messages=[{"role": "user", "content": "hi"}]).choices

            # An invalid file: the proxy keeps serving version 2, and the API says why.
            with open(path, "w") as f:
                f.write("pools:\n  chat: {strategy: nowhere}\n")
            process.send_signal(signal.SIGHUP)
            request = urllib.request.Request(
                url + "/v1/mesh/reload", method="POST", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(request, timeout=10)
            assert info.value.code == 400
            assert "pools.chat.strategy" in info.value.read().decode()
            assert process.poll() is None
            assert mesh_api(url, "GET", "/v1/mesh/state")["config"]["version"] == 2
            assert client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}]).choices
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        upstream.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
