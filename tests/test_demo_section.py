"""The demo's experiments section (experiments/demo_section.py): the shipped study drawn
with its claims, a live training run by the simulator, captions in words; and the
Wilson intervals of experiments/intervals.py against hand-computed values."""
from __future__ import annotations

import json
import re

import pytest

from experiments.intervals import fmt_interval, samples_interval, seeds_interval, wilson

pytest.importorskip("jax")  # the `experiments` extra; CI installs it with `.[test]`
pytest.importorskip("matplotlib")

from cotsim.cli import main  # noqa: E402
from experiments import demo_section as ds  # noqa: E402
from experiments.claims import judge  # noqa: E402


# --- Wilson intervals -------------------------------------------------------------------
def test_wilson_against_hand_computed_values():
    # 8 of 10, z = 1.96: p = 0.8, denominator 1 + 3.8416/10 = 1.38416,
    # centre (0.8 + 0.19208) / 1.38416 = 0.716737,
    # half 1.96 / 1.38416 * sqrt(0.016 + 0.009604) = 0.226580
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.490157, abs=2e-5) and hi == pytest.approx(0.943317, abs=2e-5)
    # 0 of 10: [0, z^2 / (n + z^2)] = [0, 3.8416 / 13.8416]
    assert wilson(0, 10) == (0.0, pytest.approx(3.8416 / 13.8416, abs=2e-5))
    assert wilson(10, 10) == (pytest.approx(10 / 13.8416, abs=2e-5), 1.0)
    # 48 of 48 (the old study's 48 prompts): the lower end is 48 / (48 + z^2)
    assert wilson(48, 48)[0] == pytest.approx(48 / (48 + 1.959964 ** 2), abs=1e-6)
    with pytest.raises(ValueError):
        wilson(3, 0)
    with pytest.raises(ValueError):
        wilson(11, 10)


def test_a_narrow_interval_is_printed_with_a_decimal():
    # 18 of 2,000 (0.9%): [0.57, 1.42]; whole points would print [1, 1], which does not
    # hold the 0.9 printed beside it
    assert fmt_interval(wilson(18, 2000)) == "[0.6, 1.4]"
    assert fmt_interval(wilson(2000, 2000)) == "[99.8, 100.0]"
    assert fmt_interval(wilson(1000, 2000)) == "[48, 52]"  # 4 points wide: whole points
    assert fmt_interval(wilson(18, 2000), 0) == "[1, 1]" and fmt_interval(None) == ""


def test_intervals_pool_prompts_and_count_seeds():
    rows = [{"teacher_forced": 0.75, "samples": 8}, {"teacher_forced": 1.0, "samples": 12}]
    assert samples_interval(rows, "teacher_forced") == wilson(18, 20)
    assert seeds_interval(rows, "teacher_forced") == wilson(1.75, 2)
    # two seeds say much less than 20 prompts
    s, p = seeds_interval(rows, "teacher_forced"), samples_interval(rows, "teacher_forced")
    assert s[1] - s[0] > p[1] - p[0]
    assert samples_interval([{"teacher_forced": 1.0}], "teacher_forced") is None


def test_claims_cells_carry_intervals():
    rows = [{"task": "s5", "setting": s, "n": 4, "layers": 1, "seed": seed,
             "format": "float32", "teacher_forced": a, "samples": 50}
            for s, a in (("cot", 1.0), ("base", 0.04), ("hint", 0.1)) for seed in (0, 1)]
    cell = next(v for v in judge(rows, "float32") if v.claim == "cot_beats").cells[0]
    assert cell.samples_iv["base"] == wilson(4, 100)
    assert cell.seeds_iv["cot"] == wilson(2.0, 2)


# --- the section --------------------------------------------------------------------------
def _sweep(folder, rows):
    folder.mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps({"format": "cotsim-sweep", "version": 1,
                                                   "spec": {"optimizer": "adam"}}))
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def _row(task, setting, n, L, acc, seed=0):
    return {"task": task, "setting": setting, "n": n, "layers": L, "seed": seed,
            "format": "float32", "teacher_forced": acc, "accuracy": acc, "samples": 40,
            "chance": 0.1, "d_model": 64, "undefined": 0.0,
            "run": f"{task}_{setting}_n{n}_L{L}_s{seed}"}


def _captions(page: str) -> list[str]:
    return re.findall(r"<figcaption>(.*?)</figcaption>", page, flags=re.S)


def test_the_shipped_study_is_drawn(tmp_path):
    studies = ds.sweep_folders(ds.STUDY)
    assert studies, "docs/study/ holds no finished sweep"
    html_part, md = ds.section(tmp_path, studies, None, "the shipped study")
    for d in studies:  # every shipped sweep, with its heat map and its claims
        assert f"Study {d.name.replace('_', ' ')} (docs/study/{d.name}/)" in html_part
        assert (tmp_path / "experiments" / f"{d.name}_accuracy.svg").is_file()
    assert html_part.count("<svg") >= len(studies)
    assert "CoT beats base and hint" in html_part and 'class="data"' in html_part
    # the shipped study has cot:K runs: their sweeps' heat maps, and one over all sweeps
    assert any((tmp_path / "experiments" / f"{d.name}_depth_vs_cot.svg").is_file()
               for d in studies)
    assert (tmp_path / "experiments" / "all_depth_vs_cot.svg").is_file()
    assert "Depth against CoT length, all sweeps" in html_part
    assert "there is no trade-off figure" not in html_part
    # each claim with its verdict badge
    assert re.search(r'CoT beats base and hint[^<]*<span class="verdict \w+">', html_part)
    # the claims table gives intervals over prompts and, with two seeds, over seeds
    # (whole points, or one decimal when the interval is under 2 points wide)
    iv = r"\[\d+(\.\d)?, \d+(\.\d)?\]"
    assert re.search(rf"<td>\d+\.\d {iv} seeds {iv}</td>", html_part)
    # the markdown links resolve
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (tmp_path / link).is_file(), link


def test_trade_off_figure_when_the_study_has_it(tmp_path):
    rows = [_row("s5", s, 8, L, a) for s, a in (("cot", 1.0), ("cot:2", 0.7), ("cot:8", 0.1))
            for L in (1, 2)]
    sweep = _sweep(tmp_path / "study" / "trade", rows)
    html_part, _ = ds.section(tmp_path / "page", [sweep], None, "a test study")
    caps = _captions(html_part)
    assert any(c.startswith("Depth against CoT length") for c in caps)
    assert "there is no trade-off figure" not in html_part


def test_captions_are_words(tmp_path):
    html_part, _ = ds.section(tmp_path, ds.sweep_folders(ds.STUDY), None, "the study")
    caps = _captions(html_part)
    assert caps
    for c in caps:
        assert not re.search(r"\.(svg|png|md|json)\b", c), c
        assert not re.search(r"\b\w+_\w+\b", c), c  # no file or identifier names
        assert len(c.split()) >= 12, c


@pytest.fixture(scope="module")
def live_record(tmp_path_factory):
    """A live run at a tenth of the demo's steps, 4 prompts a format (the code path of
    the demo's live training, smaller)."""
    mp = pytest.MonkeyPatch()
    mp.setitem(ds.LIVE, "steps", 40)
    mp.setitem(ds.LIVE, "eval_samples", 32)
    mp.setattr(ds, "LIVE_SAMPLES", 4)
    try:
        return ds.live_run(tmp_path_factory.mktemp("live"))
    finally:
        mp.undo()


def test_live_training_is_run_in_three_formats(live_record, tmp_path):
    rec = live_record
    assert rec["config"]["steps"] == 40 and rec["metrics"]["steps"] == 40
    assert [e["name"] for e in rec["evaluations"]] == list(ds.LIVE_FORMATS)
    assert [e["format"] for e in rec["evaluations"]] == [
        "ieee:e=8,m=23", "ieee:e=8,m=7", "paper:e=3,s=4"]
    assert all(e["samples"] == 4 and e["setting"] == "cot" for e in rec["evaluations"])
    html_part, md = ds.section(tmp_path, [], (rec, ""), "nowhere")
    assert "A live training" in html_part and "No finished study in nowhere" in html_part
    for e in rec["evaluations"]:  # each format's row, with the measured accuracy
        label = e["name"] if e["name"] == e["format"] else f"{e['name']} ({e['format']})"
        assert f"<td>{label}</td><td class=\"num\">" \
               f"{100 * e['teacher_forced']:.1f}" in html_part.replace("\n", "")
    assert "| paper:e=3,s=4 |" in md


def test_a_failed_live_training_is_one_line(tmp_path):
    html_part, md = ds.section(tmp_path, [], (None, "the live training failed (exit 1): "
                                                    "boom"), "nowhere")
    assert "failed (exit 1): boom" in html_part and "boom" in md


def test_demo_with_a_folder_of_sweeps(tmp_path, capsys):
    root = tmp_path / "sweeps"
    _sweep(root / "a", [_row("modadd:7", s, 4, 1, a) for s, a in (("base", 1.0), ("cot", 1.0))])
    _sweep(root / "b", [_row("s5", s, 4, 1, a) for s, a in
                        (("base", 0.0), ("cot", 1.0), ("hint", 0.1))])
    out = tmp_path / "rep"
    assert main(["demo", "--out", str(out), "rounding_is_counter_free",
                 "--experiments", str(root)]) == 0
    page = (out / "index.html").read_text()
    assert page.count('id="experiments"') == 1
    assert "Study a" in page and "Study b" in page and "A live training" not in page
    assert "experiments: 2 sweep(s) drawn" in capsys.readouterr().out


def test_demo_refuses_an_empty_experiments_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["demo", "--out", str(tmp_path / "rep"), "rounding_is_counter_free",
                 "--experiments", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a sweep folder" in err


def _fake_sweep(folder, rows):
    folder.mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps({"format": "cotsim-sweep", "version": 1,
                                                   "spec": {}}))
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def _line(task, setting, n, layers, seed, acc):
    return {"task": task, "setting": setting, "n": n, "layers": layers, "seed": seed,
            "format": "float32", "teacher_forced": acc, "accuracy": acc, "samples": 100,
            "run": f"{task}_{setting}_n{n}_L{layers}_s{seed}"}


def test_combined_tradeoff_merges_sweeps_and_reads_base_as_the_answer_only(tmp_path):
    """One figure over all sweeps: a run found in two sweeps counts once, base is cot:n,
    and a (task, n) with only cot and base (no stride strictly between) is left out."""
    a = _fake_sweep(tmp_path / "a", [_line("s5", "cot", 8, 1, 0, 1.0),
                                     _line("s5", "base", 8, 1, 0, 0.01),
                                     _line("modadd:7", "cot", 4, 1, 0, 1.0),
                                     _line("modadd:7", "base", 4, 1, 0, 0.5)])
    b = _fake_sweep(tmp_path / "b", [_line("s5", "cot:2", 8, 1, 0, 0.9),
                                     _line("s5", "cot", 8, 1, 0, 1.0),
                                     _line("s5", "cot:8", 8, 1, 1, 0.03),
                                     _line("s5", "base", 8, 1, 1, 0.02)])
    rows = ds.combined_tradeoff_rows([a, b])
    assert sorted((r["task"], r["setting"], r["seed"]) for r in rows) == [
        ("s5", "cot", 0), ("s5", "cot:2", 0), ("s5", "cot:8", 0), ("s5", "cot:8", 1)]
    # seed 1 has a real cot:8 run: it wins over base's line
    assert [r["teacher_forced"] for r in rows if r["seed"] == 1] == [0.03]
    from experiments.report import tradeoff_grids

    (task, n, tokens, depths, grid), = tradeoff_grids(rows, "float32")
    assert (task, n, tokens, depths) == ("s5", 8, [1, 4, 8], [1])
    assert [round(v, 3) for v in grid[0]] == [0.02, 0.9, 1.0]  # K = 8: mean of 0.01, 0.03
    html_part, md_part = ds.combined_tradeoff_part([a, b], tmp_path / "fig", tmp_path)
    assert (tmp_path / "fig" / "all_depth_vs_cot.svg").is_file()
    assert "all sweeps" in md_part and "<svg" in html_part
    assert ds.combined_tradeoff_part([a], tmp_path / "fig2", tmp_path) is None
