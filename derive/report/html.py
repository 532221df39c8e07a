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

from .document import MARK_SYMBOLS, Box, Code, Document, Equations, Figure, Paragraph, Section, Table, is_number
from .math import mathml, mathml_chain
from .renderer import Renderer

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
.scroll { overflow-x: auto; overflow-y: hidden; margin: .8rem 0 1.1rem; padding: .15rem 0; }
table.equations { border-collapse: collapse; }
table.equations td { padding: .28rem .3rem; vertical-align: middle; white-space: nowrap; }
table.equations td.lhs { text-align: right; }
table.equations td.tag { padding-left: 2rem; color: var(--muted); }
table.equations tr.caption td { padding: .7rem 0 0; color: var(--muted); font-size: .88rem; white-space: normal; }
table.data { border-collapse: collapse; font-size: .92rem; }
table.data caption { caption-side: top; color: var(--muted); font-size: .86rem; padding-bottom: .4rem;
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
aside.box { border: 1.5px solid var(--accent); border-radius: 8px; padding: .4rem 1.2rem .6rem; margin: 1.2rem 0;
  background: #f7faff; }
aside.box .box-title { font-weight: 700; color: var(--accent); margin: .5rem 0 .2rem; }
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


#: The colour of each mark (green, blue, red, grey).
TICK_COLOURS = {"correct": "#1a7f37", "carried forward": "#1f5fa8", "wrong": "#c62828", "unanswered": "#5f6368"}


class HtmlRenderer(Renderer):
    """Blocks as HTML elements, math as MathML (see the module docstring)."""

    name = "HTML"

    def render_document(self, document: Document) -> str:
        """The whole document as one standalone HTML page."""
        contents = "".join('<li><a href="#%s">%s</a></li>' % (s.key, self.text(s.title)) for s in document.sections
                           if s.level == 2)
        return "".join([
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            '<link rel="icon" href="data:,">\n<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n'
            % (self.text(document.title), STYLE),
            '<header>\n<h1>%s</h1>\n%s</header>\n' % (self.text(document.title), "".join(
                '<p class="subtitle">%s</p>\n' % self.text(line) for line in document.subtitle)),
            '<nav aria-label="Contents"><h2>Contents</h2><ol>%s</ol></nav>\n<main>\n' % contents,
            self.render_sections(document.sections),
            '</main>\n<footer>Written by backprop: every formula is a SymPy object printed as MathML; '
            'the figures are drawn by matplotlib.</footer>\n</body>\n</html>\n'])

    def render_section(self, section: Section) -> str:
        tag = "h%d" % section.level
        return '<section id="%s">\n<%s>%s</%s>\n%s</section>\n' % (
            section.key, tag, self.text(section.title), tag, "".join(self.render_blocks(section.blocks)))

    escape = staticmethod(lambda text: html.escape(text, quote=True))

    def math(self, expr) -> str:
        return mathml(expr)

    def code(self, source: str) -> str:
        return "<code>%s</code>" % html.escape(source)

    def answer_space(self) -> str:
        # styled inline, so that the style sheet of every report stays as it is
        return ('<span class="answer-box" style="display:inline-block;width:9em;height:1.8em;border:1px solid '
                'var(--muted);border-radius:3px;vertical-align:middle"></span>')

    def tick(self, status: str) -> str:
        colour = TICK_COLOURS[status]
        return '<span class="mark" style="color:%s;white-space:nowrap"><strong>%s</strong> %s</span>' % (
            colour, MARK_SYMBOLS[status], self.text(status))

    def _render_Paragraph(self, block: Paragraph) -> str:
        lead = "<strong>%s</strong> " % self.text(block.lead) if block.lead else ""
        return '<p%s>%s%s</p>\n' % (' class="note"' if block.note else "", lead, self.inline(block.parts))

    def _render_Equations(self, block: Equations) -> str:
        rows, tagged = [], any(row.tag is not None for row in block.rows)
        for row in block.rows:
            if row.caption:
                rows.append('<tr class="caption"><td colspan="%d">%s</td></tr>' % (3 + tagged, self.inline(row.caption)))
            tag = '<td class="tag">%s</td>' % (mathml(row.tag) if row.tag is not None else "") if tagged else ""
            rows.append('<tr><td class="lhs">%s</td><td><math><mo>%s</mo></math></td><td class="rhs">%s</td>%s</tr>'
                        % (mathml_chain([row.lhs], display_style=True), row.relation,
                           mathml_chain(row.rhs, display_style=True), tag))
        return '<div class="scroll"><table class="equations">%s</table></div>\n' % "\n".join(rows)

    def _render_Table(self, block: Table) -> str:
        head = "".join(self._cell(cell, "th") for cell in block.header)
        body = "".join("<tr>%s</tr>" % "".join(self._cell(cell, "td") for cell in row) for row in block.rows)
        caption = "<caption>%s</caption>" % self.text(block.caption) if block.caption else ""
        return ('<div class="scroll"><table class="data">%s<thead><tr>%s</tr></thead><tbody>%s</tbody></table>'
                '</div>\n' % (caption, head, body))

    def _cell(self, cell, tag: str) -> str:
        return '<%s%s>%s</%s>' % (tag, ' class="num"' if is_number(cell) else "", self.render_cell(cell), tag)

    def _render_Figure(self, block: Figure) -> str:
        svg = block.render("svg").decode("utf-8")
        svg = svg[svg.index("<svg"):]  # drop the XML prolog and doctype: the SVG is inlined
        svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
        svg = re.sub(r"<svg ", '<svg role="img" aria-label="%s" ' % self.text(block.alt), svg, count=1)
        return ('<figure id="figure-%s">\n%s<figcaption>%s</figcaption>\n</figure>\n'
                % (block.name, svg, self.text(block.caption)))

    def _render_Code(self, block: Code) -> str:
        listing = '<pre><code class="language-%s">%s</code></pre>\n' % (block.language, html.escape(block.source))
        if block.folded:
            lines = block.source.count("\n") + 1
            return "<details><summary>Show the listing (%d lines)</summary>\n%s</details>\n" % (lines, listing)
        return listing

    def _render_Box(self, block: Box) -> str:
        return '<aside class="box">\n<p class="box-title">%s</p>\n%s</aside>\n' % (
            self.text(block.title), "".join(self.render_blocks(block.blocks)))


def render_html(document: Document) -> str:
    """The whole document as one standalone HTML page."""
    return HtmlRenderer().render_document(document)


def render_sections(sections: list[Section]) -> str:
    """Sections as HTML elements (also what a Jupyter ``_repr_html_`` shows)."""
    return HtmlRenderer().render_sections(sections)
