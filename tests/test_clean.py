"""index.clean: each clean-up rule on small inputs, idempotence, and the shipped sample 002."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.clean import clean_markdown, clean_text, markdown_heading

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "articles"
LONG = "The judge said the motion was denied on Tuesday after a long hearing."  # 13 words


@pytest.mark.parametrize(
    "promo",
    [
        "CLICK HERE FOR MORE ENTERTAINMENT NEWS",
        "CLICK HERE TO SIGN UP FOR THE ENTERTAINMENT NEWSLETTER",
        "CLICK HERE TO GET THE APP",
        "LIKE WHAT YOU’RE READING? CLICK HERE FOR MORE ENTERTAINMENT NEWS",
        "WATCH: JUSTIN BALDONI’S LAWYERS ‘HAVE DONE A MASTERFUL JOB…’: EXPERT",
        "Related topics:",
        "Related Topics: Courts, Hollywood",
        "Advertisement",
        "Sign up for our daily politics newsletter",
        "Follow us on Instagram and TikTok",
        "Read more: Judge rules in Lively case",
        "READ MORE: JUDGE RULES",
    ],
)
def test_promo_line_removed(promo: str) -> None:
    assert clean_text(f"First line.\n{promo}\nLast line.") == "First line.\nLast line."


def test_prose_that_starts_like_a_promo_is_kept() -> None:
    text = "First line.\nFollow the money, the prosecutor told the jury.\nAdvertisers left."
    assert clean_text(text) == text


@pytest.mark.parametrize(
    "headline",
    [
        "BLAKE LIVELY AND JUSTIN BALDONI REFUSE MEDIATION, SHOW NO SIGN OF SETTLING LAWSUIT",
        "BLAKE LIVELY VS. JUSTIN BALDONI: EVERYTHING TO KNOW",
    ],
)
def test_all_caps_headline_removed(headline: str) -> None:
    assert clean_text(f"Body one.\n{headline}\nBody two.") == "Body one.\nBody two."


def test_short_caps_lines_and_own_caps_title_kept() -> None:
    # fewer than 4 words: not a headline; the first line is the article's own headline
    text = "JUDGE RULES ON CLAIMS TODAY\nBody one.\n(GETTY IMAGES)\nU.S. NEWS\nBody two."
    assert clean_text(text) == text


def test_image_line_removed_caption_kept() -> None:
    raw = (
        "Before the picture.\n"
        '![Justin Baldoni is seen filming "It Ends With Us"](https://x.com/a/b.jpg?ve=1&tl=1)\n'
        "Justin Baldoni filming “It Ends With Us” May 25, 2023, in Hoboken (Gotham/GC Images)\n"
        '<img src="https://x.com/c.jpg" alt="c">\n'
        "After."
    )
    assert clean_text(raw) == (
        "Before the picture.\n"
        "Justin Baldoni filming “It Ends With Us” May 25, 2023, in Hoboken (Gotham/GC Images)\n"
        "After."
    )


def test_inline_image_removed_from_its_line() -> None:
    raw = "He said ![pic](http://x.com/a_(1).png) it was over.\n![a](b.png) Start <IMG SRC=x> end."
    assert clean_text(raw) == "He said it was over.\nStart end."


def test_repeated_paragraph_dropped_short_repeat_kept() -> None:
    raw = f"{LONG}\n(Getty Images)\nMiddle.\n(Getty Images)\n  {LONG.upper()}  \nEnd."
    assert clean_text(raw) == f"{LONG}\n(Getty Images)\nMiddle.\n(Getty Images)\nEnd."


def test_repeat_ignores_quote_style_and_punctuation() -> None:
    first = "She said “we are preparing our case for trial by streamlining it,” the lawyer added."
    pull = '"We are preparing our case for trial by streamlining it."'
    assert clean_text(f"{first}\nOther.\n{pull}") == f"{first}\nOther."
    # a longer later line is not a repeat of a shorter earlier one
    assert clean_text(f"{pull}\n{first}") == f"{pull}\n{first}"


def test_whitespace_normalisation() -> None:
    raw = "\r\n \n  Title  \r\nline two\t \rline three\n\n\n\n\nline four   \n\n \n"
    assert clean_text(raw) == "  Title\nline two\nline three\n\nline four"


def test_dropped_lines_leave_at_most_one_blank_line() -> None:
    raw = "Para one.\n\nAdvertisement\n\nPara two."
    assert clean_text(raw) == "Para one.\n\nPara two."


def test_quotes_dashes_and_ellipses_untouched() -> None:
    raw = "“Quoted” — ‘single’ – \"straight\" 'x' … café\u00a0here"
    assert clean_text(raw) == raw


@pytest.mark.parametrize(
    "raw",
    [
        "\n\nA\r\nB  \n\n\n\nC\n" + LONG + "\nCLICK HERE\n\n\n" + LONG + "\n",
        "CLICK HERE TO GET THE APP\nSOME CAPS TITLE OF FOUR\nBody.\nANOTHER CAPS LINE OF WORDS",
        (SAMPLES / "002_dce03cdb09bb98a3.txt").read_text(encoding="utf-8"),
        (SAMPLES / "000_382f65cea364c986.txt").read_text(encoding="utf-8"),
    ],
)
def test_idempotent(raw: str) -> None:
    once = clean_text(raw)
    assert clean_text(once) == once


def test_sample_002() -> None:
    text = clean_text((SAMPLES / "002_dce03cdb09bb98a3.txt").read_text(encoding="utf-8"))
    assert "CLICK HERE" not in text
    assert "![" not in text
    assert "SHOW NO SIGN OF SETTLING LAWSUIT" not in text
    assert "EVERYTHING TO KNOW" not in text
    assert text.count("In fact, this case is more about sending a message") == 1
    assert "Justin Baldoni filming “It Ends With Us” May 25, 2023" in text
    assert "(Getty Images)" in text
    assert text.endswith("reached out to representatives for Lively and Baldoni for comment.")


def test_sample_000_and_001() -> None:
    text0 = clean_text((SAMPLES / "000_382f65cea364c986.txt").read_text(encoding="utf-8"))
    assert text0.count("Baldoni will still have to defend himself over her other claims") == 1
    text1 = clean_text((SAMPLES / "001_aaba62a0722ea775.txt").read_text(encoding="utf-8"))
    assert not text1.endswith("Related topics:")
    assert text1.endswith("its upcoming release in 2024.")


def test_clean_markdown() -> None:
    raw = (
        "# The **Big** Ruling #\n\n"
        "A [judge](https://court.gov/a_(b)) ruled *today* on __all__ _claims_ in snake_case_name.\n"
        "![photo](https://x.com/p.jpg)\n"
        "Caption (Getty Images)\n"
        "> “It is over,” she said.\n"
        "---\n"
        "## Next steps\n"
        "* item one\n"
        "CLICK HERE TO GET THE APP\n"
    )
    assert clean_markdown(raw) == (
        "The Big Ruling\n\n"
        "A judge ruled today on all claims in snake_case_name.\n"
        "Caption (Getty Images)\n"
        "“It is over,” she said.\n"
        "Next steps\n"
        "* item one"
    )
    assert markdown_heading(raw) == "The Big Ruling"
    assert markdown_heading("no heading\n#hashtag") == ""
