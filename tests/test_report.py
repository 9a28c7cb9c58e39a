"""The report (proofs/report.py, ``cotsim demo``): one self-contained HTML page and its
Markdown twin; rendered in headless Chromium when it is installed."""
from __future__ import annotations

import html
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import proofs
from cotsim.cli import main
from proofs.report import render_html_page, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                    "(Debian package chromium)")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    results = proofs.run_checks(quick=True)
    page = write_report(results, out)
    return results, page


def test_every_check_is_on_the_page(report):
    results, page = report
    text = page.read_text()
    assert {r.name for r in results} == set(proofs.names())
    for r in results:
        assert f'id="{r.name}"' in text
        assert f'<span class="verdict {r.verdict}">' in text
        for col in r.table.columns:
            assert html.escape(col, quote=False) in text
    # one inline <svg> per SVG figure
    svgs = sum(name.endswith(".svg") for r in results for name in r.figures)
    assert svgs >= 3 and text.count("<svg") == svgs


def test_page_is_self_contained(report):
    _, page = report
    text = page.read_text()
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"<(link|script|iframe|object|embed)\b", text, re.I)
    for m in re.finditer(r"\b(src|href)\s*=\s*[\"']([^\"']*)", text, re.I):
        assert m.group(2).startswith(("data:", "#")), m.group(0)
    assert "@import" not in text and "url(" not in text


def test_markdown_twin_and_figure_files(report):
    results, page = report
    md = (page.parent / "index.md").read_text()
    for r in results:
        assert f"## {r.name}: {r.verdict.upper()}" in md
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert links
    for link in links:
        f = page.parent / link
        assert f.is_file() and f.read_bytes().lstrip().startswith((b"<svg", b"<?xml", b"\x89PNG"))


def test_a_failing_check_shows_as_failing():
    bad = proofs.CheckResult("broken", "a claim", proofs.FAILS, "because <reasons>",
                             proofs.Table(("a",), [(1,)]))
    text = render_html_page([bad])
    assert 'class="verdict fails"' in text and "SOME FAIL" in text
    assert "because &lt;reasons&gt;" in text


def test_demo_cli_writes_the_report(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["demo", "--out", str(out), "rounding_is_counter_free"]) == 0
    captured = capsys.readouterr()
    assert (out / "index.html").is_file() and (out / "index.md").is_file()
    assert str((out / "index.html").resolve()) in captured.out
    assert "rounding_is_counter_free" in captured.err  # progress


def test_demo_unwritable_folder_is_one_line_exit_2(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert main(["demo", "--out", str(blocker / "reports")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write the report" in err[0]
    assert blocker.read_text() == "x"


def test_demo_unknown_check_exit_2(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "nope"]) == 2
    assert not (tmp_path / "index.html").exists()


# -- the page in a real browser ------------------------------------------------------------------
def _read_png(data: bytes) -> np.ndarray:
    """A minimal PNG decoder (8-bit grey/RGB/RGBA, not interlaced): Chromium's
    screenshots, without an imaging library."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    w, h, depth, ctype, _, _, interlace = hdr
    assert depth == 8 and interlace == 0 and ctype in (0, 2, 6)
    ch = {0: 1, 2: 3, 6: 4}[ctype]
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(h, 1 + w * ch)
    img = np.zeros((h, w * ch), np.int64)
    prev = np.zeros(w * ch, np.int64)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 255
        else:  # Sub, Average, Paeth depend on the pixel to the left: one pixel at a time
            cur = np.zeros_like(line)
            for x in range(w * ch):
                a = cur[x - ch] if x >= ch else 0
                b = prev[x]
                c = prev[x - ch] if x >= ch else 0
                if f == 1:
                    p = a
                elif f == 3:
                    p = (a + b) // 2
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + p) & 255
        img[y] = cur
        prev = cur
    return img.reshape(h, w, ch)[:, :, :3] if ch >= 3 else img.reshape(h, w, 1)


@needs_chromium
def test_screenshot_is_not_blank(report):
    _, page = report
    shot = Path(tempfile.mkdtemp()) / "shot.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", f"--screenshot={shot}",
                        "--window-size=1000,900", page.resolve().as_uri()],
                       capture_output=True, timeout=180, check=False)
    assert shot.is_file(), "chromium wrote no screenshot"
    img = _read_png(shot.read_bytes())
    assert img.shape[:2] == (900, 1000)
    assert img.std() > 20  # not a blank page
    # the green "holds" badges rendered (#2e7d32)
    green = np.all(np.abs(img - np.array([46, 125, 50])) <= 12, axis=2)
    assert green.sum() > 200
