"""The HTML writer: one standalone file that works offline.

Mathematics is presentation MathML from SymPy's MathML printer
(:func:`derive.report.math.mathml`), which browsers render natively: no
script, no CDN, no web font, no request of any kind (not even a favicon).
Figures are inline SVG.  The style sheet is embedded: readable measure and
typography on screen, and a print style (no navigation, figures and tables
kept whole, URLs not expanded).
"""

from __future__ import annotations

import html
import re

from .document import Block, Cell, Code, Document, Equations, Figure, Paragraph, Section, Table, is_number, render_cell
from .math import mathml, mathml_chain

STYLE = """
:root { color-scheme: light; --ink: #1d1d1f; --muted: #5f6368; --rule: #d9dce1; --accent: #1f5fa8; --code: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 52rem; padding: 2.5rem 1.5rem 4rem; color: var(--ink); background: #fff;
  font: 17px/1.6 Charter, "Bitstream Charter", "Iowan Old Style", "Palatino Linotype", "Latin Modern Roman",
  "DejaVu Serif", Georgia, serif; }
math { font-family: "Latin Modern Math", "STIX Two Math", "Cambria Math", "DejaVu Math TeX Gyre", math;
  font-size: 1.02em; }
h1 { font-size: 2rem; line-height: 1.2; margin: 0 0 .4rem; }
h2 { font-size: 1.4rem; margin: 2.6rem 0 .6rem; padding-top: .4rem; border-top: 1px solid var(--rule); }
h3 { font-size: 1.12rem; margin: 1.8rem 0 .4rem; }
.subtitle { color: var(--muted); margin: .15rem 0; }
nav { margin: 1.6rem 0; padding: .8rem 1.2rem; background: var(--code); border-radius: 6px; font-size: .92rem; }
nav h2 { border: 0; margin: 0 0 .3rem; padding: 0; font-size: 1rem; }
nav ol { margin: 0; padding-left: 1.3rem; columns: 2; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
p.note { color: var(--muted); font-size: .93rem; border-left: 3px solid var(--rule); padding-left: .8rem; }
.scroll { overflow-x: auto; margin: .8rem 0 1.1rem; }
table.equations { border-collapse: collapse; }
table.equations td { padding: .28rem .3rem; vertical-align: middle; white-space: nowrap; }
table.equations td.lhs { text-align: right; }
table.equations tr.caption td { padding: .7rem 0 0; color: var(--muted); font-size: .88rem; white-space: normal; }
table.data { border-collapse: collapse; font-size: .92rem; }
table.data caption { caption-side: bottom; color: var(--muted); font-size: .86rem; padding-top: .4rem;
  text-align: left; }
table.data th, table.data td { padding: .3rem .75rem; border-bottom: 1px solid var(--rule); text-align: left; }
table.data th { border-bottom: 2px solid var(--ink); font-weight: 600; }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.data td:first-child { white-space: nowrap; }
figure { margin: 1.2rem 0; }
figure svg { width: 100%; max-width: 40rem; height: auto; display: block; margin: 0 auto; }
figcaption { color: var(--muted); font-size: .88rem; margin-top: .3rem; }
pre { background: var(--code); padding: .8rem 1rem; border-radius: 6px; overflow-x: auto; font-size: .8rem;
  line-height: 1.45; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .86em; }
details summary { cursor: pointer; color: var(--accent); margin: .6rem 0; }
footer { margin-top: 3rem; color: var(--muted); font-size: .85rem; border-top: 1px solid var(--rule);
  padding-top: .8rem; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  nav { display: none; }
  h2 { break-after: avoid; }
  figure, table, tr, pre { break-inside: avoid; }
  .scroll { overflow: visible; }
  a { color: inherit; }
}
@page { margin: 18mm 16mm; }
"""


def render_html(document: Document) -> str:
    """The whole document as one standalone HTML page."""
    contents = "".join('<li><a href="#%s">%s</a></li>' % (s.key, _text(s.title)) for s in document.sections
                       if s.level == 2)
    parts = ['<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
             '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
             '<link rel="icon" href="data:,">\n<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n'
             % (_text(document.title), STYLE),
             '<header>\n<h1>%s</h1>\n%s</header>\n' % (_text(document.title), "".join(
                 '<p class="subtitle">%s</p>\n' % _text(line) for line in document.subtitle)),
             '<nav aria-label="Contents"><h2>Contents</h2><ol>%s</ol></nav>\n<main>\n' % contents,
             render_sections(document.sections),
             '</main>\n<footer>Written by backprop: every formula is a SymPy object printed as MathML; '
             'the figures are drawn by matplotlib.</footer>\n</body>\n</html>\n']
    return "".join(parts)


def render_sections(sections: list[Section]) -> str:
    """Sections as HTML elements (also what a Jupyter ``_repr_html_`` shows)."""
    out = []
    for section in sections:
        tag = "h%d" % section.level
        out.append('<section id="%s">\n<%s>%s</%s>\n' % (section.key, tag, _text(section.title), tag))
        out += [render_block(block) for block in section.blocks]
        out.append("</section>\n")
    return "".join(out)


def render_block(block: Block) -> str:
    """One block as HTML."""
    if isinstance(block, Paragraph):
        return '<p%s>%s</p>\n' % (' class="note"' if block.note else "", _inline(block.parts))
    if isinstance(block, Equations):
        return _equations(block)
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        return _figure(block)
    if isinstance(block, Code):
        listing = '<pre><code class="language-%s">%s</code></pre>\n' % (block.language, html.escape(block.source))
        if block.folded:
            lines = block.source.count("\n") + 1
            return "<details><summary>Show the listing (%d lines)</summary>\n%s</details>\n" % (lines, listing)
        return listing
    raise TypeError("no HTML for %s" % type(block).__name__)


def _text(text: str) -> str:
    return html.escape(text, quote=True)


def _inline(parts) -> str:
    return "".join(_text(part) if isinstance(part, str) else mathml(part) for part in parts)


def _chain(expressions) -> str:
    """``a = b = c`` as one MathML element, in display style."""
    return mathml_chain(expressions, display_style=True)


def _equations(block: Equations) -> str:
    rows = []
    for row in block.rows:
        if row.caption:
            rows.append('<tr class="caption"><td colspan="3">%s</td></tr>' % _text(row.caption))
        rows.append('<tr><td class="lhs">%s</td><td><math><mo>=</mo></math></td><td class="rhs">%s</td></tr>'
                    % (_chain([row.lhs]), _chain(row.rhs)))
    return '<div class="scroll"><table class="equations">%s</table></div>\n' % "\n".join(rows)


def _cell(cell: Cell, tag: str) -> str:
    content = render_cell(cell, mathml, lambda source: "<code>%s</code>" % html.escape(source), _text)
    return '<%s%s>%s</%s>' % (tag, ' class="num"' if is_number(cell) else "", content, tag)


def _table(block: Table) -> str:
    head = "".join(_cell(cell, "th") for cell in block.header)
    body = "".join("<tr>%s</tr>" % "".join(_cell(cell, "td") for cell in row) for row in block.rows)
    caption = "<caption>%s</caption>" % _text(block.caption) if block.caption else ""
    return ('<div class="scroll"><table class="data">%s<thead><tr>%s</tr></thead><tbody>%s</tbody></table></div>\n'
            % (caption, head, body))


def _figure(block: Figure) -> str:
    svg = block.render("svg").decode("utf-8")
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and doctype: the SVG is inlined
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
    svg = re.sub(r"<svg ", '<svg role="img" aria-label="%s" ' % _text(block.alt), svg, count=1)
    return ('<figure id="figure-%s">\n%s<figcaption>%s</figcaption>\n</figure>\n'
            % (block.name, svg, _text(block.caption)))
