"""experiments.claims: the paper's three claims judged on result lines, each verdict
shown to come out both ways on made-up sweeps."""
from __future__ import annotations

from experiments.claims import MARGIN, judge, markdown


def _rows(acc: dict[tuple, float], fmt: str = "float32") -> list[dict]:
    """Result lines from {(task, setting, n, layers): accuracy}."""
    return [{"task": t, "setting": s, "n": n, "layers": L, "seed": 0, "format": fmt,
             "teacher_forced": a} for (t, s, n, L), a in acc.items()]


def _by_claim(rows):
    return {v.claim: v for v in judge(rows, "float32")}


def test_the_paper_pattern_is_reproduced():
    acc = {}
    for n in (4, 8):
        for L in (1, 2):
            acc.update({("s5", "cot", n, L): 1.0, ("s5", "base", n, L): 0.05,
                        ("s5", "hint", n, L): 0.3, ("modadd:7", "cot", n, L): 1.0,
                        ("modadd:7", "base", n, L): 0.95, ("modadd:7", "hint", n, L): 1.0})
    v = _by_claim(_rows(acc))
    assert {k: x.verdict for k, x in v.items()} == {
        "cot_beats": "reproduced", "modadd_parallel": "reproduced", "hint_helps": "reproduced"}
    # cot_beats only looks at the smallest depth
    assert {(c.n, c.layers) for c in v["cot_beats"].cells} == {(4, 1), (8, 1)}
    assert len(v["hint_helps"].cells) == 8


def test_each_claim_can_fail():
    acc = {("cvp", "cot", 4, 1): 1.0, ("cvp", "base", 4, 1): 1.0, ("cvp", "hint", 4, 1): 1.0,
           ("cvp", "cot", 8, 1): 0.5, ("cvp", "base", 8, 1): 0.9, ("cvp", "hint", 8, 1): 0.5,
           ("modadd:7", "cot", 4, 1): 1.0, ("modadd:7", "base", 4, 1): 0.5}
    v = _by_claim(_rows(acc))
    assert v["cot_beats"].verdict == "not reproduced"
    notes = {c.n: c.note for c in v["cot_beats"].cells}
    assert notes == {4: "all three settings solve it", 8: "cot does not solve it either"}
    assert v["modadd_parallel"].verdict == "not reproduced"
    assert v["hint_helps"].verdict == "partly"  # n = 8: hint 0.5 < base 0.9 - margin


def test_margin_and_reference_format():
    near = {("s5", "cot", 4, 1): 0.5 + MARGIN - 0.01, ("s5", "base", 4, 1): 0.5,
            ("s5", "hint", 4, 1): 0.5}
    assert _by_claim(_rows(near))["cot_beats"].verdict == "not reproduced"
    far = dict(near)
    far[("s5", "cot", 4, 1)] = 0.5 + MARGIN
    assert _by_claim(_rows(far))["cot_beats"].verdict == "reproduced"
    # lines of another format are not read; no modadd: no data
    v = _by_claim(_rows(far, fmt="float16"))
    assert all(x.verdict == "no data" for x in v.values())


def test_markdown_lists_every_cell():
    acc = {("s5", "cot", 4, 1): 1.0, ("s5", "base", 4, 1): 0.0, ("s5", "hint", 4, 1): 0.0}
    lines = markdown(judge(_rows(acc), "float32"))
    text = "\n".join(lines)
    assert "at low depth" in text and ": reproduced.**" in text
    assert "| s5 | 4 | 1 | 0.0 | 100.0 | 0.0 | yes |" in text
