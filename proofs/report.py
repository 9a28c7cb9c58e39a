"""The report: one self-contained HTML page (inline CSS and SVG, no external resource, no
script) and a Markdown twin beside it, whose figures are files in ``figures/``.

``write_report(results, out_dir)`` writes ``index.html``, ``index.md`` and the figures,
each atomically. `check_writable` tells early, in one line, that a folder cannot be used.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import os
import re
from pathlib import Path
from typing import Sequence

from .base import CheckResult
from .tables import render_html, render_markdown, summary_table

CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:0;color:#1d1d1f;background:#fafafa;
  line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:24px 32px 60px}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:20px;margin:0 0 6px}
.sub{color:#555;margin:0 0 18px}
section.check{background:white;border:1px solid #ddd;border-radius:8px;padding:18px 22px;
  margin:22px 0;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.claim{font-style:italic;color:#333;margin:4px 0 10px}
.verdict{display:inline-block;font-weight:bold;padding:2px 10px;border-radius:12px;
  color:white;font-size:13px;letter-spacing:.04em}
.holds{background:#2e7d32}.fails{background:#c62828}.partly{background:#ef6c00}
.nodata{background:#777}
.reason{margin:8px 0 12px}
table.data{border-collapse:collapse;font-size:13px;margin:10px 0;display:block;
  overflow-x:auto;max-width:100%}
table.data th,table.data td{border:1px solid #ddd;padding:3px 8px;white-space:nowrap}
table.data th{background:#f0f3f7;text-align:left}
table.data td.num,table.data th.num{text-align:right;font-variant-numeric:tabular-nums}
table.data td.yes{color:#2e7d32;font-weight:bold}table.data td.no{color:#c62828;font-weight:bold}
table.summary td:nth-child(5){white-space:normal;min-width:420px}
ul.notes{font-size:13px;color:#444;padding-left:20px}
figure{margin:16px 0;overflow-x:auto}figure svg{max-width:100%;height:auto}
figcaption{font-size:13px;color:#444;margin-top:4px;max-width:900px}
pre{background:#f4f4f4;padding:8px;overflow-x:auto;font-size:12px}
footer{color:#777;font-size:12px;margin-top:30px}
"""


def check_writable(out_dir: str | os.PathLike) -> Path:
    """Create ``out_dir`` if needed and make sure files can be written there; raise
    CotsimInputError (one line) if not."""
    from circuits.errors import CotsimInputError

    out = Path(out_dir)
    try:
        (out / "figures").mkdir(parents=True, exist_ok=True)
        probe = out / f".cotsim-probe-{os.getpid()}"
        try:
            probe.write_bytes(b"")
        finally:
            probe.unlink(missing_ok=True)
    except OSError as e:
        raise CotsimInputError(f"cannot write the report to {out}: "
                               f"{e.strerror or e}") from None
    return out


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s)


def _inline_svg(svg: str) -> str:
    """An SVG document as an element inside HTML: no XML prolog, doctype or namespace
    declarations (HTML5 knows SVG), so that the page names no outside address."""
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    return svg.strip()


def figure_html(name: str, content: bytes | str, caption: str | None) -> str:
    ext = name.rsplit(".", 1)[-1].lower()
    if ext == "svg":
        text = content.decode("utf-8") if isinstance(content, bytes) else content
        body = _inline_svg(text)
    elif ext == "png":
        data = content if isinstance(content, bytes) else content.encode("latin-1")
        body = (f'<img alt="{html.escape(name)}" '
                f'src="data:image/png;base64,{base64.b64encode(data).decode()}">')
    else:
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        body = f"<pre>{html.escape(text)}</pre>"
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f"<figure>{body}{cap}</figure>"


def render_html_page(results: Sequence[CheckResult], title: str = "cotsim report") -> str:
    ok = all(r.holds for r in results)
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    mode = "quick" if all(r.quick for r in results) else "full"
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><main>",
             f"<h1>{html.escape(title)}</h1>",
             f'<p class="sub">Theorem checks of Li, Liu, Zhou and Ma, <i>Chain of Thought '
             f"Empowers Transformers to Solve Inherently Serial Problems</i> (ICLR 2024), run "
             f"on {when} ({mode} mode): {sum(r.holds for r in results)} of {len(results)} "
             f"hold. Every verdict comes from running the constructions, not from a "
             f"hand-written proof.</p>",
             f'<p><span class="verdict {"holds" if ok else "fails"}">'
             f'{"ALL HOLD" if ok else "SOME FAIL"}</span></p>',
             render_html(summary_table(results), "data summary")]
    for r in results:
        parts.append(f'<section class="check" id="{html.escape(_slug(r.name))}">')
        parts.append(f'<h2>{html.escape(r.name)} <span class="verdict {r.verdict}">'
                     f"{r.verdict.upper()}</span></h2>")
        parts.append(f'<p class="claim">{html.escape(r.claim)}</p>')
        parts.append(f'<p class="reason"><b>Verdict:</b> {html.escape(r.reason)}</p>')
        parts.append(render_html(r.table))
        if r.notes:
            parts.append('<ul class="notes">' + "".join(f"<li>{html.escape(n)}</li>"
                                                       for n in r.notes) + "</ul>")
        for name, content in r.figures.items():
            parts.append(figure_html(name, content, r.captions.get(name)))
        parts.append(f"<footer>{r.seconds:.1f} s</footer></section>")
    parts.append("<footer>Written by <code>cotsim demo</code>. Markdown twin: "
                 "<code>index.md</code>.</footer></main></body></html>")
    return "\n".join(parts) + "\n"


def _figure_file(check: str, name: str) -> str:
    return f"figures/{_slug(check)}-{_slug(name)}"


def render_markdown_page(results: Sequence[CheckResult], title: str = "cotsim report") -> str:
    out = [f"# {title}", "",
           f"{sum(r.holds for r in results)} of {len(results)} theorem checks hold.", "",
           render_markdown(summary_table(results)), ""]
    for r in results:
        out += [f"## {r.name}: {r.verdict.upper()}", "", f"*{r.claim}*", "",
                f"**Verdict:** {r.reason}", ""]
        if r.table.columns:
            out += [render_markdown(r.table), ""]
        out += [f"- {n}" for n in r.notes]
        if r.notes:
            out.append("")
        for name, content in r.figures.items():
            ext = name.rsplit(".", 1)[-1].lower()
            cap = r.captions.get(name, name)
            if ext in ("svg", "png"):
                out += [f"![{cap}]({_figure_file(r.name, name)})", "", f"*{cap}*", ""]
            else:
                text = content.decode("utf-8", "replace") if isinstance(content, bytes) \
                    else content
                out += [f"*{cap}*", "", "```", text.rstrip("\n"), "```", ""]
    return "\n".join(out)


def write_report(results: Sequence[CheckResult], out_dir: str | os.PathLike = "reports",
                 title: str = "cotsim report") -> Path:
    """Write index.html, index.md and figures/ under ``out_dir``; return index.html.

    All files are written in full before any is renamed into place, so a failure (a full
    disk) leaves no partial figure and no temporary file behind."""
    from circuits.atomic import write_atomic_many

    out = check_writable(out_dir)
    files: list[tuple[Path, bytes | str]] = []
    for r in results:
        for name, content in r.figures.items():
            if name.rsplit(".", 1)[-1].lower() in ("svg", "png"):
                files.append((out / _figure_file(r.name, name), content))
    page = out / "index.html"
    files += [(out / "index.md", render_markdown_page(results, title)),
              (page, render_html_page(results, title))]
    write_atomic_many(files)
    return page
