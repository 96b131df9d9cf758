"""The report as one self-contained HTML file: the jinja template, inline PNGs, an atomic write.

The template is ``serving/templates/report.html.j2``: styles inline, every image a
``data:`` URL, so the file opens offline, loads nothing and can be mailed as it is.
"""

from __future__ import annotations

import base64
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from features.io import write_atomically
from serving.report.document import Block, Cards, Figure, Image, Link, Report, Table, Text

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
TEMPLATE = "report.html.j2"


def _image(name: str, alt: str, caption: str | None, png: bytes) -> dict[str, Any]:
    return {
        "kind": "figure",
        "name": name,
        "mime": "image/png",
        "data": base64.b64encode(png).decode("ascii"),
        "alt": alt,
        "caption": caption,
    }


def _block(block: Block, figures: dict[str, bytes]) -> dict[str, Any]:
    """A block as the template reads it: a dict with its ``kind``."""
    if isinstance(block, Figure):
        return _image(block.name, block.alt, block.caption, figures[block.name])
    if isinstance(block, Image):
        return _image(block.name, block.alt, block.caption, block.png)
    if isinstance(block, Text):
        return {"kind": "text", "text": block.text, "css": block.css}
    if isinstance(block, Table):
        return {"kind": "table", "name": block.name, "columns": block.columns, "numeric": block.numeric,
                "rows": block.rows, "caption": block.caption}
    if isinstance(block, Link):
        return {"kind": "link", "href": block.href, "text": block.text}
    if isinstance(block, Cards):
        return {"kind": "cards", "cards": [asdict(card) for card in block.cards]}
    raise TypeError(f"a report holds no block of type {type(block).__name__}")


def render_report(report: Report, figures: dict[str, bytes]) -> str:
    """The HTML text of ``report``, with ``figures`` (name -> PNG) inline.

    Raises
    ------
    KeyError
        When a figure of the report has no image in ``figures``.
    """
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    sections = [
        {"id": s.id, "title": s.title, "lead": s.lead, "blocks": [_block(b, figures) for b in s.blocks]}
        for s in report.sections
    ]
    return environment.get_template(TEMPLATE).render(
        sections=sections, title=report.title, subtitle=report.subtitle, footer=report.footer
    )


def write_html(html: str, out: str | os.PathLike) -> Path:
    """Write ``html`` to ``out`` atomically: a failed write leaves the previous file in place."""

    def write(tmp: Path) -> None:
        tmp.write_text(html, encoding="utf-8")

    return write_atomically(out, write)
