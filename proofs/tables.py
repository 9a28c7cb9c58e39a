"""Tables as plain text (terminal), Markdown and HTML, and a summary of many results."""
from __future__ import annotations

import html
from typing import Any, Sequence

from .result import CheckResult, Table


def cell(v: Any) -> str:
    """One cell as text: booleans as yes/no, floats short."""
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return "yes" if v else "no"
    if isinstance(v, float) or type(v).__name__.startswith("float"):
        return f"{float(v):.4g}"
    return str(v)


def _is_number(s: str) -> bool:
    try:
        float(s.replace(",", ""))
        return True
    except ValueError:
        return False


def render_text(table: Table, width: int | None = None) -> str:
    """Aligned columns, numbers right-aligned, a rule under the header. With ``width``
    (a terminal's columns), the last column wraps so that no line is longer, unless the
    other columns alone leave it fewer than 20 characters."""
    import textwrap

    rows = [[cell(v) for v in r] for r in table.rows]
    cols = list(table.columns)
    if not cols:
        return ""
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    right = [bool(rows) and all(_is_number(r[i]) for r in rows) for i in range(len(cols))]
    if width is not None and sum(widths) + 2 * (len(cols) - 1) > width:
        room = max(20, width - sum(widths[:-1]) - 2 * (len(cols) - 1), len(cols[-1]))
        wrapped = []
        for r in rows:  # continuation lines: the last column only, the others blank
            parts = textwrap.wrap(r[-1], room, break_long_words=True) or [""]
            wrapped.append(r[:-1] + [parts[0]])
            wrapped += [[""] * (len(cols) - 1) + [p] for p in parts[1:]]
        rows, widths[-1], right[-1] = wrapped, room, False

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if rt else c.ljust(w)
                         for c, w, rt in zip(cells, widths, right)).rstrip()

    return "\n".join([line(cols), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render_markdown(table: Table) -> str:
    if not table.columns:
        return ""
    rows = [[cell(v) for v in r] for r in table.rows]
    right = [bool(rows) and all(_is_number(r[i]) for r in rows)
             for i in range(len(table.columns))]
    out = ["| " + " | ".join(_md_escape(c) for c in table.columns) + " |",
           "|" + "|".join("---:" if rt else "---" for rt in right) + "|"]
    out += ["| " + " | ".join(_md_escape(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def render_html(table: Table, css_class: str = "data") -> str:
    if not table.columns:
        return ""
    rows = [[cell(v) for v in r] for r in table.rows]
    right = [bool(rows) and all(_is_number(r[i]) for r in rows)
             for i in range(len(table.columns))]

    def td(tag: str, text: str, rt: bool) -> str:
        cls = ' class="num"' if rt else (' class="yes"' if text == "yes" else
                                         ' class="no"' if text == "no" else "")
        return f"<{tag}{cls}>{html.escape(text)}</{tag}>"

    head = "".join(td("th", c, rt) for c, rt in zip(table.columns, right))
    body = "\n".join("<tr>" + "".join(td("td", c, rt) for c, rt in zip(r, right)) + "</tr>"
                     for r in rows)
    return f'<table class="{css_class}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n' \
           "</tbody>\n</table>"


def summary_table(results: Sequence[CheckResult]) -> Table:
    """One row per check: name, verdict, seconds, reason."""
    return Table(("check", "verdict", "mode", "seconds", "reason"),
                 [(r.name, r.verdict, "quick" if r.quick else "full", f"{r.seconds:.1f}",
                   r.reason) for r in results])


def render_result_text(result: CheckResult) -> str:
    """A check's full text: claim, table, notes, verdict."""
    parts = [f"{result.name}: {result.claim}", ""]
    if result.table.columns:
        parts += [render_text(result.table), ""]
    parts += [f"note: {n}" for n in result.notes]
    if result.notes:
        parts.append("")
    parts.append(f"verdict: {result.verdict.upper()} - {result.reason}")
    return "\n".join(parts)
