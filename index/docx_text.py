"""DOCX -> the article's text and the document's metadata, by python-docx.

The body's paragraphs and tables in document order (a table row is its cells joined by " | ");
page headers and footers live outside the body in a DOCX, so they never reach the text. Title,
author and date come from the document's core properties when it has them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # an encrypted .docx, or an old binary .doc, is an OLE file


class DocxProblem(Exception):
    """The DOCX cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class DocxDocument:
    text: str  # paragraphs separated by a blank line
    title: str = ""
    author: str = ""
    date: str = ""  # ISO date, from the document's creation date


def read_docx(data: bytes) -> DocxDocument:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    if data.startswith(OLE_MAGIC):
        raise DocxProblem("the file is encrypted (password protected) or an old Word .doc; open "
                          "it in Word or LibreOffice and save it as .docx without a password")
    try:
        doc = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise DocxProblem(f"cannot be read as a DOCX ({type(e).__name__}: {e}); the file is "
                          "damaged or not a Word document: export it again") from None
    blocks: list[str] = []
    for item in doc.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = [" ".join(c.text.split()) for c in row.cells]
                line = " | ".join(dict.fromkeys(c for c in cells if c))  # merged cells repeat
                if line:
                    blocks.append(line)
        else:
            line = " ".join(item.text.split())
            if line:
                blocks.append(line)
    props = doc.core_properties
    created = props.created
    return DocxDocument(
        text="\n\n".join(blocks),
        title=" ".join((props.title or "").split()),
        author=" ".join((props.author or "").split()),
        date=created.date().isoformat() if created is not None else "",
    )
