"""Clean-up of news text into the *stored text* that every citation span points into.

The output must be deterministic and idempotent (`clean_text(clean_text(x)) == clean_text(x)`):
character offsets of citations are computed against it, so re-ingesting the same file has to
give the same string. For the same reason characters are never rewritten (quotes, dashes and
ellipses stay as they are, so quotes stay verbatim): we only drop whole lines, image markup and
trailing whitespace, and normalise newlines.

What is dropped, and why:
- promo/boilerplate lines ("CLICK HERE ...", "Advertisement", "Related topics:") are not part of
  the article and would otherwise be retrieved and cited as if they were;
- upper-case lines of 4+ words are headlines of *other* articles that news sites interleave;
- image markup carries only a url (the caption line beside it is kept: captions carry facts);
- a repeated line (a pull quote, or a caption repeated as a paragraph) would give two passages
  with the same words, so the later copy goes.
"""

from __future__ import annotations

import logging
import re
from array import array

import numpy as np

log = logging.getLogger(__name__)
_I = re.IGNORECASE

# Whole-line boilerplate patterns (matched against the stripped line). Each is generic news-site
# furniture, not tied to one article.
BOILERPLATE: tuple[re.Pattern[str], ...] = (
    # "CLICK HERE FOR MORE ..." / "CLICK HERE TO GET THE APP", optionally after a teaser question
    # such as "LIKE WHAT YOU'RE READING?".
    re.compile(r"^(?:[^.!?]{0,60}\?\s*)?click here\b.*$", _I),
    # Video/related-story teasers in upper case: "WATCH: ...", "VIDEO: ...", "RELATED: ...".
    re.compile(r"^(?:WATCH|VIDEO|LISTEN|PHOTOS?|GALLERY|RELATED|MORE|SEE ALSO|ALSO READ)\s*:"),
    # "Read more:" / "READ MORE: <other headline>" in any case.
    re.compile(r"^read more\s*:.*$", _I),
    # Topic/tag footers: "Related topics:", "Related Topics: Courts, Hollywood", "Tags: ...".
    re.compile(r"^(?:related (?:topics|articles|stories|coverage)|topics|tags)\s*:.*$", _I),
    # Ad slot labels left behind by the page: "Advertisement", "ADVERTISEMENT - story continues".
    re.compile(r"^(?:advertisement|sponsored(?: content)?|story continues below(?: advert\w*)?)"
               r"(?:\s*[-–—:]\s*.*)?$", _I),
    # Newsletter prompts: "Sign up for our daily newsletter", "Sign up to the ... newsletter".
    re.compile(r"^sign up (?:for|to)\b.*\bnewsletters?\b.*$", _I),
    # Social prompts: "Follow us on ...", "Follow Fox News on Facebook".
    re.compile(r"^follow (?:us on\b.*|(?:\S+ ){0,4}on (?:twitter|x|facebook|instagram|tiktok"
               r"|youtube|linkedin|threads|bluesky|social media|google news)\b.*)$", _I),
    # Sharing widgets: "Share this article", "Share on Facebook".
    re.compile(r"^share (?:this(?: article| story| post)?|on \w+(?: \w+)?)\W*$", _I),
)
BOILERPLATE_MAX_WORDS = 25  # a longer line is prose that happens to start like a promo
HEADLINE_MIN_WORDS = 4  # "(GETTY IMAGES)" or "U.S." are not headlines of other articles
HEADLINE_MAX_WORDS = 25  # a long upper-case passage is more likely a quoted legal notice
REPEAT_MIN_WORDS = 8  # short lines such as "(Getty Images)" may legitimately repeat
_SHINGLE = REPEAT_MIN_WORDS  # every checked line has at least this many words

# ![alt](url) and ![alt](url "title"); urls may hold one level of parentheses.
_MD_IMAGE = r"!\[[^\]\n]*\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"\n]*\")?\)"
_HTML_IMG = r"<img\b[^>]*>"
_EMPTY_LINK = r"\[\s*\]\((?:[^()\s]|\([^()\s]*\))*\)"  # what a linked image leaves behind


def _inline(pattern: str) -> re.Pattern[str]:
    """Match `pattern` with the spaces before it (at the start of a line: after it), so removing
    it leaves single spaces between words."""
    return re.compile(rf"^[ \t]*(?:{pattern})[ \t]*|[ \t]*(?:{pattern})(?=[ \t]|$)|(?:{pattern})",
                      _I | re.MULTILINE)


_IMAGE = _inline(f"{_MD_IMAGE}|{_HTML_IMG}")
_LINK_LEFTOVER = _inline(_EMPTY_LINK)
_NON_WORD = re.compile(r"[^\w]+")
_LETTER_WORD = re.compile(r"[^\W\d_]")


def _strip_images(text: str) -> str:
    """Remove image markup; a line that held only images disappears (caption lines stay)."""
    out: list[str] = []
    for line in text.split("\n"):
        if "](" in line or "<" in line:
            bare = _LINK_LEFTOVER.sub("", _IMAGE.sub("", line))
            if line.strip() and not bare.strip():
                continue
            line = bare
        out.append(line)
    return "\n".join(out)


def _words(line: str) -> int:
    """Number of whitespace-separated tokens that contain a letter."""
    return sum(1 for tok in line.split() if _LETTER_WORD.search(tok))


def _is_boilerplate(line: str) -> bool:
    s = line.strip()
    if len(s.split()) > BOILERPLATE_MAX_WORDS:
        return False
    return any(p.match(s) for p in BOILERPLATE)


def _is_caps_headline(line: str) -> bool:
    """All cased letters upper case, 4..25 words: a headline of another article."""
    s = line.strip()
    if s.upper() != s or s.lower() == s:  # a lower-case letter, or no cased letter at all
        return False
    return HEADLINE_MIN_WORDS <= _words(s) <= HEADLINE_MAX_WORDS


def _norm(line: str) -> str:
    """Comparison key: case-folded; punctuation (curly or straight quotes too) and spacing gone."""
    return " ".join(_NON_WORD.sub(" ", line.casefold()).split())


def _drop_repeats(lines: list[str]) -> list[str]:
    """Drop a line of 8+ words whose words already appeared, in order, within an earlier line.

    Catches exact repeats and pull quotes (a sentence of an earlier paragraph repeated as its own
    line). A line can only be inside an earlier one if its first 8-word shingle occurs there, so
    each line is compared with the first line holding that shingle. The shingles are hashed into
    one array (about 16 bytes a word), so a 15 MB text stays linear in time and small in memory
    (a dict of shingle strings took 500 MB). Containment is transitive, so comparing with an
    earlier line that was itself dropped is as good as comparing with the line it repeats.
    """
    keys = [_norm(line) for line in lines]
    hashes = array("q")
    owners = array("q")
    first: dict[int, int] = {}  # line -> the hash of its first shingle
    for n, key in enumerate(keys):
        words = key.split()
        if len(words) < REPEAT_MIN_WORDS:
            continue
        for i in range(len(words) - _SHINGLE + 1):
            h = hash(" ".join(words[i : i + _SHINGLE]))
            if i == 0:
                first[n] = h
            hashes.append(h)
            owners.append(n)
    if not first:
        return lines
    h_arr = np.frombuffer(hashes, dtype=np.int64)
    o_arr = np.frombuffer(owners, dtype=np.int64)
    uniq, at = np.unique(h_arr, return_index=True)  # at: first position, positions in line order
    kept: list[str] = []
    for n, line in enumerate(lines):
        head = first.get(n)
        if head is not None:
            earlier = int(o_arr[at[int(np.searchsorted(uniq, head))]])
            if earlier < n and f" {keys[n]} " in f" {keys[earlier]} ":
                log.debug("dropped repeated line: %.60s", line)
                continue
        kept.append(line)
    return kept


def clean_text(raw: str) -> str:
    """Clean plain news text into the stored text (see the module docstring for the rules)."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    lines: list[str] = []
    for line in _strip_images(text).split("\n"):
        line = line.rstrip()
        if line and _is_boilerplate(line):
            continue
        # The first kept line may be this article's own headline in capitals: keep it.
        if line and any(lines) and _is_caps_headline(line):
            continue
        lines.append(line)
    lines = _drop_repeats(lines)
    out = "\n".join(lines).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", out)


# --- markdown -------------------------------------------------------------------------------

_MD_HEADING = re.compile(r"^[ ]{0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_MD_RULE = re.compile(r"^[ ]{0,3}(?:[-=*_][ \t]*){3,}(?:\n|$)", re.MULTILINE)  # hr, setext line
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"\n]*\")?\)")
_MD_REF_LINK = re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]")
_MD_REF_DEF = re.compile(r"^[ ]{0,3}\[[^\]\n]+\]:[ \t]+\S+.*(?:\n|$)", re.MULTILINE)
_MD_QUOTE = re.compile(r"^[ ]{0,3}>[ \t]?", re.MULTILINE)
_MD_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_EM_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]*?)(?<=[^\s*])\*(?![\w*])")
_MD_EM_UNDER = re.compile(r"(?<![\w_])_(?=[^\s_])([^_\n]*?)(?<=[^\s_])_(?![\w_])")


def _md_inline(text: str) -> str:
    """Inline markdown to plain text: images dropped, links to their text, emphasis unmarked."""
    text = _strip_images(text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_REF_LINK.sub(r"\1", text)
    text = _MD_BOLD.sub(r"\2", text)
    text = _MD_EM_STAR.sub(r"\1", text)
    return _MD_EM_UNDER.sub(r"\1", text)


def clean_markdown(raw: str) -> str:
    """Markdown to plain text (headings, links, images, emphasis, quotes), then `clean_text`.

    Markdown syntax is not part of what a reader sees, so it must not end up in quoted spans.
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _MD_REF_DEF.sub("", text)
    text = _MD_RULE.sub("", text)
    text = _MD_HEADING.sub(lambda m: m.group(1) or "", text)
    text = _MD_QUOTE.sub("", text)
    return clean_text(_md_inline(text))


def markdown_heading(raw: str) -> str:
    """The plain text of the first `#` heading of a markdown document, or "" when it has none."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    for m in _MD_HEADING.finditer(text):
        title = " ".join(_md_inline(m.group(1) or "").split())
        if title:
            return title
    return ""
