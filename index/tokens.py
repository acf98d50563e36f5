"""The tiktoken tokenizer, loaded offline from the cache that llama-index-core ships."""

from __future__ import annotations

import functools
import os
from pathlib import Path


def tiktoken_cache_dir() -> str:
    """The folder holding the cl100k_base BPE file inside llama-index-core (no download)."""
    return str(llama_index_static() / "tiktoken_cache")


def llama_index_static() -> Path:
    """llama-index-core's `_static` folder, found without importing llama-index (slow)."""
    import importlib.util

    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llama-index-core is not installed: `pip install -e .`")
    return Path(next(iter(spec.submodule_search_locations))) / "_static"


@functools.lru_cache(maxsize=4)
def get_encoding(name: str = "cl100k_base"):  # type: ignore[no-untyped-def]
    """tiktoken encoding `name`, read from the bundled cache so it works with no network."""
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", tiktoken_cache_dir())
    import tiktoken

    return tiktoken.get_encoding(name)


def count_tokens(text: str, name: str = "cl100k_base") -> int:
    return len(get_encoding(name).encode(text, disallowed_special=()))
