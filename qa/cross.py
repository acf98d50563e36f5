"""The cross-encoder: reads a question and a sentence together and says how well the sentence
answers it (a logit). The reader's third stage (qa/reader.py) combines it with the second
stage's probability for the few best sentences.

The bundled all-MiniLM-L6-v2 with a one-logit head on the mean of its tokens, fine-tuned here on
the train split's candidate sentences by `python -m eval.train_cross`, int8 ONNX in qa/models/,
read by onnxruntime with the embedder's own word pieces (index/assets/minilm_tokenizer.json):
no download, no torch at run time.

Why it is here: the lexical and embedding features score a sentence and a question apart, so the
sentence that *restates* the question ("X voted for a rise.") looks as good as the one that
*answers* it ("He argued that ..."); a model that reads both at once sees which words of the
sentence fill the question's gap.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.embed import TOKENIZER_JSON

CROSS_PATH = Path(__file__).parent / "models" / "cross.onnx"
MAX_TOKENS = 80  # earlier turn + question + title + sentence, in word pieces (longest first is cut)
TITLE_WORDS = 12  # of the article's title, read before the sentence
# What a follow-up is read after (the caller passes it only for a question that leans on an
# earlier turn, qa/followup.py): the sentence the earlier turn was answered with, else that turn
# itself. "How old is he?" after "Who is Ed Park?" is read after the sentence that says who Ed
# Park is, so the model can tell his age from another's; "What did he say about the lawsuit?"
# after "Who is Baldoni's lawyer?" is read after the sentence naming the lawyer, which the earlier
# question alone does not (7 Dec 2026: read after the earlier question, that follow-up was refused).
HISTORY_TURNS = 1
TURN_WORDS = 24  # of each earlier turn read (a whole sentence would crowd out the question)


def query_text(question: str, history: Sequence[str] = ()) -> str:
    """What the model reads as the question: the last HISTORY_TURNS earlier turns (or the
    sentences they were answered with), each cut to TURN_WORDS words, then the question.
    Training reads the same."""
    turns = [h.strip() for h in history if h.strip()][-HISTORY_TURNS:] if HISTORY_TURNS else []
    return " ".join([*(" ".join(t.split()[:TURN_WORDS]) for t in turns), question.strip()])


def sentence_text(title: str, sentence: str) -> str:
    """What the model reads as the sentence: its article's title, then the sentence. A sentence
    that answers often names its subject only as "he" or "the 17-year-old" (the question's names
    are in the lead before it); read alone it looks off topic beside the lead that restates the
    question. The title says what it is about. A headline is read once. Training reads the
    same."""
    head = " ".join(title.split()[:TITLE_WORDS]).rstrip(" .:")
    body = sentence.strip()
    if not head or body.lower().startswith(head.lower()):
        return body
    return f"{head}. {body}"


class CrossEncoder:
    """`logits(query, sentences) -> one float per sentence` (higher: answers better)."""

    def __init__(self, path: Path = CROSS_PATH, threads: int | None = None,
                 max_tokens: int = MAX_TOKENS, spin: bool = False) -> None:
        try:
            import onnxruntime as ort
            import tokenizers  # noqa: F401 - encoder() reads with it
        except ImportError as e:  # pragma: no cover - packaging error
            raise ValueError(f"the answer scorer needs onnxruntime and tokenizers ({e}); "
                             "reinstall the project: `pip install -e .`") from e
        CrossEncoder.check_weights(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        opts.enable_mem_pattern = False
        # a few small calls a question, right after the embedder's: threads that spin waiting
        # for more work only take cores from the other session (bench/spinning.py: 14.6 ms p50
        # a call spinning, 11.9 not; the embedder keeps spinning, its back-to-back batches at
        # ingestion are 5% slower without)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._tok = encoder(max_tokens)

    @staticmethod
    def check_weights(path: Path | None = None) -> None:
        """ValueError, saying how to rebuild them, when the weights file is missing."""
        path = path or CROSS_PATH
        if not path.is_file():
            raise ValueError(f"the cross-encoder's weights are missing at {path}; rebuild them "
                             "with `python -m eval.train_cross` or reinstall the project")

    @staticmethod
    def shared(path: Path | None = None) -> CrossEncoder:
        """One per process and file: a session holds its weights once, however many
        answerers read with it."""
        return _shared(path or CROSS_PATH)

    def logits(self, query: str, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros(0, np.float32)
        ids, mask, types = encode_pairs(self._tok, query, sentences)
        (out,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": types})
        return np.asarray(out, np.float32).reshape(-1)


@functools.cache
def _shared(path: Path) -> CrossEncoder:
    return CrossEncoder(path)


def encoder(max_tokens: int = MAX_TOKENS) -> object:
    """The word-piece tokenizer, cutting a pair to `max_tokens` (the longer side first)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(TOKENIZER_JSON))
    tok.enable_truncation(max_tokens, strategy="longest_first")
    tok.no_padding()
    return tok


def encode_pairs(tok: object, query: str, sentences: Sequence[str]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input_ids, attention_mask, token_type_ids), right-padded to the longest pair."""
    return pad(tok.encode_batch([(query, s) for s in sentences]))  # type: ignore[attr-defined]


def pad(encs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encoded pairs as the model's three inputs, right-padded with 0 to the longest."""
    width = max(len(e.ids) for e in encs)
    ids = np.zeros((len(encs), width), np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for row, e in enumerate(encs):
        n = len(e.ids)
        ids[row, :n] = e.ids
        mask[row, :n] = 1
        types[row, :n] = e.type_ids
    return ids, mask, types
