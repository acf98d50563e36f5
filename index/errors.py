"""The errors the library raises, defined in the bottom layer (index/) so every layer can raise
them; `qa.errors` re-exports them. Only the edges (CLI, UI) turn them into exit codes or
messages. Every message says what was wrong and how to fix it.
"""

from __future__ import annotations


class QAError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(QAError):
    """A setting has a bad value, or settings contradict each other."""


class InputError(QAError):
    """A question or a file the user gave us cannot be used as it is."""


class IndexEmptyError(QAError):
    """A question was asked before any article was ingested."""

    def __init__(self, store: str) -> None:
        super().__init__(
            f"No articles are indexed in {store}. Ingest some first, e.g. "
            "`qa ingest data/articles/` (or Assistant.ingest([...]) from Python)."
        )


class StoreMismatchError(QAError):
    """The store was built with another embedding model than the one configured."""


class StoreError(QAError):
    """The vector store could not be reached or gave something we cannot use."""


class LLMError(QAError):
    """The language model server failed; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None, cause: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.cause = cause


class StoreBusyError(StoreError):
    """Another process has the embedded store open and does not share it."""

    def __init__(self, folder: object, holder: str, waited: float) -> None:
        super().__init__(
            f"The store {folder} is in use by {holder}, which has it open and does not share "
            f"it; waited {waited:.0f} s (QA_STORE_WAIT). Run this again when it has finished, "
            "or wait longer with QA_STORE_WAIT=SECONDS. To use one store from several "
            f"processes at once, keep `qa serve --store {folder}` (or `qa ui`) running: other "
            "commands then share the store through it."
        )
        self.holder = holder


class StoreDamagedError(StoreError):
    """The store's files are damaged; the message says what is wrong and what to run."""
