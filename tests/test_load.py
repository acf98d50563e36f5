"""index.load: every format, the folder walk, every failure kind, ids and hashes (real files)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from index.load import SUPPORTED, LoadedArticle, load_file, load_paths
from qa.types import FileResult

BODY = "The judge denied the motion on Tuesday.\nBoth sides must now meet again."
HTML = """<html><head><title>Judge denies motion | Example News</title>
<meta property="og:title" content="Judge denies motion">
<meta property="og:site_name" content="Example News">
<meta property="og:url" content="https://example.com/news/judge-denies-motion">
<meta property="article:published_time" content="2025-03-04T10:00:00Z">
</head><body><nav><a href="/">Home</a> | <a href="/world">World</a></nav>
<article><h1>Judge denies motion</h1>
<p>A federal judge denied the motion on Tuesday after a long fight over the medical records.</p>
<p>The decision came after lawyers asked the court to compel the release of therapy notes.</p>
<p>CLICK HERE TO GET THE APP</p>
</article><footer>Copyright 2025 Example News</footer></body></html>"""


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def one(paths: list[Path | str], **kw: int) -> LoadedArticle:
    loaded, failed = load_paths(paths, **kw)
    assert failed == [] and len(loaded) == 1, (loaded, failed)
    return loaded[0]


def failure(result: tuple[list[LoadedArticle], list[FileResult]], path: str) -> str:
    """The reason of the one failure row for `path` (and check its status)."""
    rows = [r for r in result[1] if r.path == path]
    assert len(rows) == 1, result[1]
    assert rows[0].status == "failed"
    return rows[0].reason


def test_txt(tmp_path: Path) -> None:
    f = write(tmp_path / "a.txt", "\n  Judge denies motion  \r\n" + BODY + "\nAdvertisement\n")
    la = one([f])
    assert la.path == str(f)
    assert la.article.text == "  Judge denies motion\n" + BODY
    m = la.article.meta
    assert (m.title, m.source, m.url, m.date) == ("Judge denies motion", "", "", "")
    assert m.path == str(f.resolve()) and m.article_id == str(f.resolve())
    assert la.article.content_hash == hashlib.sha256(la.article.text.encode()).hexdigest()


def test_a_lead_paragraph_as_first_line_gives_its_first_sentence_as_title(tmp_path: Path) -> None:
    lead = ("A judge has ruled that the council's claims against the harbour board will be "
            "dismissed, following a long legal back-and-forth over the board's records and "
            "minutes. The decision came after the board filed a motion to compel the council.")
    la = one([write(tmp_path / "a.txt", lead + "\n" + BODY)])
    assert la.article.meta.title == lead.split(" The decision")[0]
    assert la.article.text.startswith(lead)  # the stored text keeps the whole line


def test_txt_long_title_trimmed_at_word_boundary(tmp_path: Path) -> None:
    first = " ".join(["word"] * 60)  # 299 characters
    la = one([write(tmp_path / "a.txt", first + "\n" + BODY)])
    assert la.article.meta.title == " ".join(["word"] * 39) + "…"
    assert len(la.article.meta.title) == 195
    assert la.article.text.startswith(first)


def test_markdown(tmp_path: Path) -> None:
    md = "Intro line\n\n# Judge **denies** [motion](https://x.com)\n\nThe *judge* ruled.\n![p](p)\n"
    la = one([write(tmp_path / "a.md", md)])
    assert la.article.meta.title == "Judge denies motion"
    assert la.article.text == "Intro line\n\nJudge denies motion\n\nThe judge ruled."
    no_heading = one([write(tmp_path / "b.markdown", "First *line* here\nSecond.")])
    assert no_heading.article.meta.title == "First line here"


def test_html(tmp_path: Path) -> None:
    la = one([write(tmp_path / "page.html", HTML)])
    m = la.article.meta
    assert m.title == "Judge denies motion"
    assert m.source == "Example News"
    assert m.url == "https://example.com/news/judge-denies-motion"
    assert m.article_id == m.url
    assert m.date == "2025-03-04"
    assert la.article.text == (
        "Judge denies motion\n"
        "A federal judge denied the motion on Tuesday after a long fight over the medical records."
        "\n"
        "The decision came after lawyers asked the court to compel the release of therapy notes."
    )


def test_json_object_list_and_articles(tmp_path: Path) -> None:
    rec = {"headline": "H1", "body": BODY, "link": "https://e.com/1",
           "published_at": "2025-01-02T03:04:05+00:00", "publisher": "Wire"}
    single = one([write(tmp_path / "one.json", json.dumps(rec))])
    assert single.path == f"{tmp_path / 'one.json'}#0"
    m = single.article.meta
    assert (m.title, m.url, m.date, m.source, m.article_id) == (
        "H1", "https://e.com/1", "2025-01-02", "Wire", "https://e.com/1")
    assert m.path == str((tmp_path / "one.json").resolve())
    assert single.article.text == BODY

    recs = [
        {"title": "A", "text": "Alpha text.", "date": "March 4, 2025", "source": {"name": "CNN"}},
        {"title": "B", "content": "Beta text.", "url": "", "date": "Tue, 04 Mar 2025 10:00:00 GMT"},
    ]
    for name, data in (("list.json", recs), ("wrapped.json", {"articles": recs})):
        loaded, failed = load_paths([write(tmp_path / name, json.dumps(data))])
        assert failed == []
        f = tmp_path / name
        assert [la.path for la in loaded] == [f"{f}#0", f"{f}#1"]
        ids = [la.article.meta.article_id for la in loaded]
        assert ids == [f"{f.resolve()}#0", f"{f.resolve()}#1"]
        assert [la.article.meta.title for la in loaded] == ["A", "B"]
        assert [la.article.meta.date for la in loaded] == ["March 4, 2025", "2025-03-04"]
        assert [la.article.meta.source for la in loaded] == ["CNN", ""]
        assert [la.article.text for la in loaded] == ["Alpha text.", "Beta text."]


def test_jsonl(tmp_path: Path) -> None:
    lines = [json.dumps({"title": "A", "article": "Alpha text.", "url": "https://e.com/a"}), "",
             json.dumps({"text": "Beta text.\nCLICK HERE TO GET THE APP", "site": "Site"})]
    f = write(tmp_path / "recs.jsonl", "\n".join(lines) + "\n")
    loaded, failed = load_paths([f])
    assert failed == []
    assert [la.path for la in loaded] == [f"{f}#0", f"{f}#1"]
    a, b = (la.article for la in loaded)
    assert (a.meta.title, a.meta.url, a.article_id, a.text) == (
        "A", "https://e.com/a", "https://e.com/a", "Alpha text.")
    assert (b.meta.title, b.meta.source, b.article_id, b.text) == (
        "Beta text.", "Site", f"{f.resolve()}#1", "Beta text.")


def test_sidecar_overrides(tmp_path: Path) -> None:
    f = write(tmp_path / "a.txt", "Own title\n" + BODY)
    side = {"title": "Given",
            "source": "Daily Mail", "url": "https://dm.co/a", "date": "2025-02-03"}
    write(tmp_path / "a.txt.meta.json", json.dumps(side))
    m = one([f]).article.meta
    assert (m.title, m.source, m.url, m.date, m.article_id) == (
        "Given", "Daily Mail", "https://dm.co/a", "2025-02-03", "https://dm.co/a")


def test_folder_walk(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root / "b.txt", "B text.")
    write(root / "a" / "z.md", "# Z\nZ text.")
    write(root / "a" / "deep" / "y.htm", HTML)
    write(root / "c.JSON", json.dumps({"text": "C text."}))
    write(root / ".hidden.txt", "hidden")
    write(root / ".git" / "x.txt", "hidden folder")
    write(root / "b.txt.meta.json", json.dumps({"source": "S"}))
    write(root / "notes.xlsx", b"PK\x03\x04 not supported")
    write(root / "README", "no extension")
    loaded, failed = load_paths([root])
    assert failed == []
    assert [la.path for la in loaded] == [
        str(root / "a" / "deep" / "y.htm"), str(root / "a" / "z.md"),
        str(root / "b.txt"), f"{root / 'c.JSON'}#0"]
    assert loaded[2].article.meta.source == "S"
    # a file reached twice is loaded once
    again, _ = load_paths([root / "b.txt", root])
    assert [la.path for la in again].count(str(root / "b.txt")) == 1 and len(again) == 4


def test_sample_articles() -> None:
    sample = Path(__file__).resolve().parents[1] / "data" / "articles"
    loaded, failed = load_paths([sample])
    assert failed == []
    assert [la.article.meta.source for la in loaded] == ["Daily Mail", "", "Fox News Digital"]
    assert all(la.article.meta.date == "" for la in loaded)
    assert "CLICK HERE" not in loaded[2].article.text


def test_failures_beside_good_files(tmp_path: Path) -> None:
    good = write(tmp_path / "good.txt", BODY)
    bad = {
        "xlsx": write(tmp_path / "x.xlsx", b"PK\x03\x04"),
        "empty": write(tmp_path / "empty.txt", b""),
        "blank": write(tmp_path / "blank.md", " \n\t\n"),
        "promo": write(tmp_path / "promo.txt", "CLICK HERE TO GET THE APP\nAdvertisement\n"),
        "nul": write(tmp_path / "nul.txt", b"abc\x00def"),
        "ctrl": write(tmp_path / "ctrl.txt", b"ab\x01\x02\x03\x04cdefgh"),
        "latin1": write(tmp_path / "latin1.txt", "Caf\u00e9 au lait".encode("latin-1")),
        "bom_bad": write(tmp_path / "bom.txt", b"\xef\xbb\xbfok \xff"),
        "utf16": write(tmp_path / "u16.txt", "hi".encode("utf-16")),
        "json": write(tmp_path / "bad.json", '{\n  "title": "x",\n  "text": "y"\n  "url": "z"\n}'),
        "jsonl_as_json": write(tmp_path / "multi.json", '{"text": "a"}\n{"text": "b"}\n'),
        "scalar": write(tmp_path / "scalar.json", "42"),
        "no_records": write(tmp_path / "none.json", '{"articles": []}'),
        "html": write(tmp_path / "empty.html", "<html><body><nav></nav></body></html>"),
    }
    missing = str(tmp_path / "missing.txt")
    result = load_paths([good, missing, *bad.values()])
    assert [la.path for la in result[0]] == [str(good)]
    assert len(result[1]) == len(bad) + 1
    reason = {k: failure(result, str(p)) for k, p in bad.items()}
    assert failure(result, missing) == "no such file or folder; check the path"
    assert reason["xlsx"] == "unsupported file type .xlsx; supported: " + ", ".join(SUPPORTED)
    assert reason["empty"] == reason["blank"] == reason["promo"] == "empty: no text after clean-up"
    assert reason["nul"].startswith("binary file, not text")
    assert reason["ctrl"].startswith("binary file, not text")
    assert reason["latin1"] == "not UTF-8 text (invalid byte 0xe9 at offset 3); save it as UTF-8"
    assert reason["bom_bad"].startswith("not UTF-8 text (invalid byte 0xff at offset 6)")
    assert reason["utf16"] == "UTF-16 text; save it as UTF-8"
    assert reason["json"] == "invalid JSON at line 4, column 3: Expecting ',' delimiter"
    assert reason["jsonl_as_json"].startswith("invalid JSON at line 2, column 1: Extra data")
    assert reason["jsonl_as_json"].endswith("name the file .jsonl")
    assert reason["scalar"].endswith("not a number")
    assert reason["no_records"].startswith("empty: no records")
    assert reason["html"].startswith("no article text found in the HTML")


def test_bad_records_fail_alone(tmp_path: Path) -> None:
    f = write(tmp_path / "r.jsonl", "\n".join([
        json.dumps({"text": "Good zero."}),
        '{"text": "broken" "x"}',
        json.dumps({"title": "no text"}),
        json.dumps({"text": "   "}),
        json.dumps(["a list"]),
        json.dumps({"text": ["a", "list"]}),
        json.dumps({"text": "Advertisement"}),
        json.dumps({"body": "Good seven."}),
    ]))
    result = load_paths([f])
    assert [la.path for la in result[0]] == [f"{f}#0", f"{f}#7"]
    assert failure(result, f"{f}#1") == "invalid JSON at line 2, column 19: Expecting ',' delimiter"
    no_text = "record {} has no text: give one of text, body, content, article"
    assert failure(result, f"{f}#2") == no_text.format(2)
    assert failure(result, f"{f}#3") == no_text.format(3)
    assert failure(result, f"{f}#4") == "record 4 is a list, not an object with a text field"
    assert failure(result, f"{f}#5") == 'record 5: "text" must be a string, not a list'
    assert failure(result, f"{f}#6") == "record 6 has no text: its text is empty after clean-up"
    lst = write(tmp_path / "l.json", json.dumps([{"text": "ok"}, {"headline": "h"}]))
    result = load_paths([lst])
    assert len(result[0]) == 1 and failure(result, f"{lst}#1") == no_text.format(1)


def test_oversize(tmp_path: Path) -> None:
    small = write(tmp_path / "small.txt", "Tiny.")
    big = write(tmp_path / "big.txt", "x" * 120)
    result = load_paths([small, big], max_file_bytes=100)
    assert [la.path for la in result[0]] == [str(small)]
    assert failure(result, str(big)).startswith(
        "file is 120 bytes, over the 100 bytes limit (QA_MAX_FILE_BYTES)")
    huge = write(tmp_path / "huge.txt", "word " * 50_600)  # 253,000 bytes
    assert failure(load_paths([huge], max_file_bytes=200_000), str(huge)).startswith(
        "file is 0.3 MB, over the 0.2 MB limit (QA_MAX_FILE_BYTES)")


def test_malformed_sidecar(tmp_path: Path) -> None:
    good = write(tmp_path / "good.txt", BODY)
    cases = {
        "syntax.txt": ('{"source": }', "sidecar syntax.txt.meta.json: invalid JSON at line 1"),
        "list.txt": ('["Daily Mail"]', "sidecar list.txt.meta.json must be a JSON object"),
        "type.txt": ('{"date": 2025}', 'sidecar type.txt.meta.json: "date" must be a string'),
    }
    for name, (side, _) in cases.items():
        write(tmp_path / name, BODY)
        write(tmp_path / f"{name}.meta.json", side)
    result = load_paths([tmp_path])
    assert [la.path for la in result[0]] == [str(good)]
    for name, (_, expected) in cases.items():
        assert failure(result, str(tmp_path / name)).startswith(expected)
    # a sidecar named explicitly is not an article
    sidecar = tmp_path / "list.txt.meta.json"
    assert failure(load_paths([sidecar]), str(sidecar)).startswith("this is a metadata sidecar")


def test_empty_folder_and_load_file(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert failure(load_paths([tmp_path / "empty"]), str(tmp_path / "empty")).startswith(
        "folder has no supported files")
    ok, bad = load_file(write(tmp_path / "a.txt", BODY), 1000)
    assert bad == [] and ok[0].article.text == BODY
    ok, bad = load_file(tmp_path / "a.xlsx", 1000)
    assert ok == [] and bad[0].reason.startswith("unsupported file type .xlsx")


def test_hash_stable_and_ids(tmp_path: Path) -> None:
    a = write(tmp_path / "a.txt", BODY + "\n")
    b = write(tmp_path / "sub" / "b.txt", "\r\n" + BODY.replace("\n", "\r\n") + "  \n\n")
    c = write(tmp_path / "c.txt", BODY + " changed")
    loaded, failed = load_paths([a, b, c])
    assert failed == []
    ha, hb, hc = (la.article.content_hash for la in loaded)
    assert ha == hb != hc
    assert ha == hashlib.sha256(BODY.encode("utf-8")).hexdigest()
    assert load_paths([a])[0][0].article.content_hash == ha  # stable across runs
    assert [la.article.article_id for la in loaded] == [str(p.resolve()) for p in (a, b, c)]


# -- one bad path never ends a run (issue: a symlink loop aborted the whole folder) ------------
def test_symlink_loops_and_broken_links_fail_alone(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    good = write(folder / "good.txt", "Good title\n" + BODY)
    (folder / "self.txt").symlink_to("self.txt")  # a link to itself
    (folder / "b.txt").symlink_to("c.txt")
    (folder / "c.txt").symlink_to("b.txt")  # two links pointing at each other
    (folder / "gone.txt").symlink_to("nowhere.txt")  # a dangling link
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to("..")  # a folder link back up (not followed)
    loaded, failed = load_paths([folder])
    assert [la.path for la in loaded] == [str(good)]
    reasons = {Path(r.path).name: r.reason for r in failed}
    assert set(reasons) == {"self.txt", "b.txt", "c.txt", "gone.txt"}
    for name in ("self.txt", "b.txt", "c.txt"):
        assert "loops back on itself" in reasons[name]
    assert "broken link" in reasons["gone.txt"]


def test_a_page_with_only_navigation_is_no_article(tmp_path: Path) -> None:
    nav = write(tmp_path / "nav.html", "<html><head><title>Site</title></head><body><nav><ul>"
                + "".join(f"<li><a href='/{w}'>{w.title()}</a></li>"
                          for w in ("home", "news", "sport", "weather", "about us", "contact"))
                + "</ul></nav><footer>Site Ltd</footer></body></html>")
    reason = failure(load_paths([nav]), str(nav))
    assert "no article text found" in reason and ".txt" in reason
    assert one([write(tmp_path / "ok.html", HTML)]).article.meta.title == "Judge denies motion"


def test_a_loader_crash_on_one_file_fails_that_file_only(tmp_path: Path,
                                                          monkeypatch: Any) -> None:
    import index.load

    real = index.load._load_document

    def explode(path: Path, *a: Any) -> Any:
        if path.name == "bad.txt":
            raise ValueError("parser bug")
        return real(path, *a)

    monkeypatch.setattr(index.load, "_load_document", explode)
    bad = write(tmp_path / "bad.txt", "Title\n" + BODY)
    write(tmp_path / "good.txt", "Other title\n" + BODY + " More.")
    loaded, failed = load_paths([tmp_path])
    assert [Path(la.path).name for la in loaded] == ["good.txt"]
    assert failure((loaded, failed), str(bad)).startswith("could not be loaded (ValueError: parser")
