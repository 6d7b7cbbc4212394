"""The demo's page: its figures under their section headings, as one self-contained HTML file."""

from __future__ import annotations

import html
from collections.abc import Sequence

from fundiff.demo.catalogue import MODEL_CARDS, Entry

MARKER = '<meta name="generator" content="fundiff demo">'
"""Marks a page written by the demo, so that a later demo may replace it."""


def render(entries: Sequence[Entry], backend: str, seconds: float) -> str:
    """The page: every entry under its section heading, then the shipped models' cards.

    Args:
        entries: the figures, in page order.
        backend: the name of Part A's backend, shown in the introduction.
        seconds: how long the demo took, shown in the introduction.

    Returns:
        The HTML of index.html.
    """
    esc = html.escape
    parts = [
        "<!doctype html>", '<html lang="en">', "<head>", '<meta charset="utf-8">', MARKER,
        "<title>fundiff demo: Fun With Diffusion Models</title>",
        "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto;padding:0 1em;line-height:1.4}"
        "figure{margin:1.5em 0}img{max-width:100%;border:1px solid #ddd}"
        "code{background:#f4f4f4;padding:.1em .3em;font-size:90%}figcaption p{margin:.3em 0}</style>",
        "</head>", "<body>",
        "<h1>fundiff demo: Fun With Diffusion Models</h1>",
        f"<p>Every figure of the write-up, made by <code>fundiff demo</code> from the models shipped in the "
        f"package, in {seconds:.0f} s. Part A runs on the <b>{esc(backend)}</b> backend; Part B uses the shipped "
        "Part B models. Under each figure: the command that regenerates it.</p>",
    ]  # fmt: skip
    part, section = "", ""
    for e in entries:
        this_part = (
            "Part B: flow matching from scratch on MNIST"
            if e.image.startswith("part_b/")
            else "Part A: the power of diffusion models"
        )
        if this_part != part:
            part, section = this_part, ""
            parts.append(f"<h2>{esc(part)}</h2>")
        if e.section != section:
            section = e.section
            parts.append(f"<h3>{esc(section)}</h3>")
        parts.append(
            f'<figure><img src="{esc(e.image)}" alt="{esc(section)}"><figcaption><p>{esc(e.caption)}</p>'
            f"<p>Regenerate: <code>{esc(e.command)}</code></p></figcaption></figure>"
        )  # fmt: skip
    parts.append("<h2>Shipped models</h2><ul>")
    for card, what in MODEL_CARDS:
        parts.append(f'<li><a href="models/{esc(card)}">{esc(card)}</a>: {esc(what)}</li>')
    parts += ["</ul>", "</body>", "</html>", ""]
    return "\n".join(parts)
