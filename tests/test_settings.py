"""Settings: explicit > environment > default, and bad values refused where they enter."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest

from cli import build_parser, settings_from_args
from index.connect import connect
from qa.errors import ConfigError, StoreError
from qa.settings import Settings, default_store_path


def test_defaults() -> None:
    s = Settings.from_env(env={})
    assert s == Settings()
    assert (s.top_k, s.chunk_tokens, s.chunk_overlap, s.answer_mode) == (5, 1024, 0, "auto")
    assert s.embed_backend == "minilm-onnx" and not s.use_llm and s.chroma_url == ""


def test_default_store_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_store_path() == str(tmp_path / "article-qa" / "store")
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_store_path() == str(tmp_path / "home" / ".local" / "share" / "article-qa" / "store")
    assert Settings().store_path == default_store_path()


def test_explicit_beats_env_beats_default() -> None:
    env = {"QA_TOP_K": "7", "QA_STORE_PATH": "/env/store", "QA_REFUSAL_THRESHOLD": "0.25"}
    s = Settings.from_env(env=env)
    assert (s.top_k, s.store_path, s.refusal_threshold) == (7, "/env/store", 0.25)
    s = Settings.from_env(env=env, top_k=9, store_path="/explicit")
    assert (s.top_k, s.store_path, s.refusal_threshold) == (9, "/explicit", 0.25)
    s = Settings.from_env(env=env, top_k=None)  # None means "not given"
    assert s.top_k == 7
    assert Settings.from_env(env={"QA_TOP_K": ""}).top_k == 5  # empty means unset


def test_from_env_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_COLLECTION", "news")
    monkeypatch.setenv("QA_FALLBACK_TO_EXTRACTIVE", "no")
    monkeypatch.setenv("QA_LLM_TIMEOUT", "2.5")
    s = Settings.from_env()
    assert (s.collection, s.fallback_to_extractive, s.llm_timeout) == ("news", False, 2.5)


def test_openai_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_MODEL", "some-model")
    s = Settings.from_env()
    assert (s.openai_api_key, s.openai_base_url, s.llm_model) == (
        "sk-test", "http://127.0.0.1:9/v1", "some-model")
    assert s.use_llm and s.llm_configured
    assert s.public_dict()["openai_api_key"] == "***"
    assert Settings.from_env(answer_mode="extractive").use_llm is False


def test_cli_flags_beat_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_TOP_K", "7")
    monkeypatch.setenv("QA_STORE_PATH", "/env/store")
    args = build_parser().parse_args(["ask", "why?", "--top-k", "3"])
    s = settings_from_args(args)
    assert (s.top_k, s.store_path) == (3, "/env/store")


@pytest.mark.parametrize(
    "env,field",
    [
        ({"QA_TOP_K": "many"}, "QA_TOP_K"),
        ({"QA_TOP_K": "0"}, "top_k"),
        ({"QA_TOP_K": "101"}, "top_k"),
        ({"QA_CHUNK_TOKENS": "12.5"}, "QA_CHUNK_TOKENS"),
        ({"QA_CHUNK_TOKENS": "8"}, "chunk_tokens"),
        ({"QA_CHUNK_OVERLAP": "2000"}, "chunk_overlap"),
        ({"QA_REFUSAL_THRESHOLD": "high"}, "QA_REFUSAL_THRESHOLD"),
        ({"QA_REFUSAL_THRESHOLD": "1.5"}, "refusal_threshold"),
        ({"QA_ANSWER_MODE": "creative"}, "answer_mode"),
        ({"QA_EMBED_BACKEND": "word2vec"}, "embed_backend"),
        ({"QA_EMBED_CONCURRENCY": "0"}, "embed_concurrency"),
        ({"QA_EMBED_MAX_TOKENS": "300"}, "embed_max_tokens"),
        ({"QA_EMBED_MAX_TOKENS": "8"}, "embed_max_tokens"),
        ({"QA_FALLBACK_TO_EXTRACTIVE": "maybe"}, "QA_FALLBACK_TO_EXTRACTIVE"),
        ({"QA_LLM_TIMEOUT": "0"}, "llm_timeout"),
        ({"QA_LLM_MAX_RETRIES": "-1"}, "llm_max_retries"),
        ({"QA_LLM_ANSWER_TOKENS": "4"}, "llm_answer_tokens"),
        ({"QA_MAX_ANSWER_SENTENCES": "0"}, "max_answer_sentences"),
    ],
)
def test_bad_values_name_the_field(env: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        Settings.from_env(env=env)


def test_bad_value_message_shows_the_value() -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env={"QA_TOP_K": "many"})
    assert "'many'" in str(err.value) and "int" in str(err.value)


def test_unknown_setting() -> None:
    with pytest.raises(ConfigError, match="Unknown setting.*colour"):
        Settings.from_env(env={}, colour="blue")


def test_every_field_has_an_env_name_that_works() -> None:
    """Each field is settable through QA_<FIELD> (what the README's Settings table lists)."""
    samples = {"int": "17", "float": "0.5", "bool": "true", "str": "x"}
    skip = {"answer_mode", "embed_backend", "chroma_url", "openai_base_url"}  # checked above
    for f in dataclasses.fields(Settings):
        if f.name in skip:
            continue
        kind = f.type if isinstance(f.type, str) else f.type.__name__
        value = {"chunk_tokens": "170",  # must exceed the overlap
                 "fusion": "relative"}.get(f.name, samples[kind])
        s = Settings.from_env(env={f"QA_{f.name.upper()}": value})
        assert str(getattr(s, f.name)).lower() == value, f.name


@pytest.mark.parametrize("url", ["localhost:8000", "127.0.0.1", "ftp://127.0.0.1:8000"])
def test_chroma_url_must_be_http(url: str) -> None:
    with pytest.raises(ConfigError, match=r"chroma_url.*QA_CHROMA_URL"):
        Settings.from_env(env={"QA_CHROMA_URL": url})


def test_chroma_url_accepted_and_used_as_label() -> None:
    s = Settings.from_env(env={"QA_CHROMA_URL": "http://127.0.0.1:8000"})
    assert s.chroma_url == "http://127.0.0.1:8000" and s.store_label == "http://127.0.0.1:8000"
    assert Settings(store_path="/x").store_label == "/x"


def test_chroma_url_without_host_or_server(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="no host"):
        connect("/unused", "http://")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StoreError, match=rf"Cannot reach the Chroma server at http://127.0.0.1:{port}"):
        connect("/unused", f"http://127.0.0.1:{port}")


def test_llm_mode_needs_a_server() -> None:
    with pytest.raises(ConfigError, match=r"answer_mode=llm.*OPENAI_API_KEY.*OPENAI_BASE_URL"):
        Settings.from_env(env={"QA_ANSWER_MODE": "llm"})
    with pytest.raises(ConfigError, match="answer_mode=llm"):
        Settings(answer_mode="llm")
    s = Settings.from_env(env={"QA_ANSWER_MODE": "llm", "OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"})
    assert s.use_llm


def test_settings_are_frozen_and_replace_validates() -> None:
    s = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.top_k = 3  # type: ignore[misc]
    assert s.replace(top_k=3).top_k == 3
    with pytest.raises(ConfigError, match="top_k"):
        s.replace(top_k=0)


def test_the_readme_settings_table_names_every_setting() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    missing = [f.name for f in dataclasses.fields(Settings)
               if f"QA_{f.name.upper()}" not in table]
    assert not missing, f"add these to the README's Settings table: {missing}"
