"""The model value object, its `.npz` layout, and random models."""
from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

from circuits.errors import CotsimInputError
from transformer_sim import npz
from transformer_sim.errors import ModelError
from transformer_sim.floatformat import FloatFormat
from transformer_sim.model import Layer, Model
from transformer_sim.random_model import defined_fraction, random_model

FORMATS = ["float64", "paper:e=0,s=2", "paper:e=1,s=2", "float16", "bfloat16", "e5m2",
           "float8_e4m3fn", "float4_e2m1fn"]


def small(fmt="paper:e=1,s=2", sum_mode="iterative", seed=3, **kw) -> Model:
    args = dict(vocab=5, layers=2, heads=2, d_model=6, d_ff=7, max_len=9, d_head=3)
    args.update(kw)
    return random_model(fmt=fmt, sum_mode=sum_mode, seed=seed, **args)


def arrays_of(model: Model) -> dict:
    return {n: np.array(a) for n, a in model.named_arrays().items()}


def rebuild(model: Model, **changes) -> Model:
    """A Model from ``model``'s arrays with some replaced (name -> array)."""
    a = arrays_of(model)
    a.update(changes)
    layers = tuple(Layer(**{n: a[f"layers.{i}.{n}"] for n in
                            ("Wq", "Wk", "Wv", "Wo", "W1", "b1", "W2", "b2")})
                   for i in range(model.n_layers))
    return Model(fmt=model.fmt, sum_mode=model.sum_mode, TE=a["TE"], PE=a["PE"],
                 Wout=a["Wout"], bout=a["bout"], layers=layers)


# --- the value object -------------------------------------------------------------------
def test_shapes_and_meta():
    m = small()
    assert (m.vocab, m.n_layers, m.heads, m.d_model, m.d_ff, m.max_len, m.d_head) == \
        (5, 2, 2, 6, 7, 9, 3)
    assert m.meta() == {"version": 1, "format": "paper:e=1,s=2", "sum": "iterative",
                        "vocab": 5, "d_model": 6, "heads": 2, "d_head": 3, "d_ff": 7,
                        "layers": 2, "max_len": 9}
    assert m.n_params == sum(a.size for a in m.named_arrays().values())


def test_model_is_immutable_and_copies_its_input():
    m = small()
    te = np.array(m.TE)
    m2 = rebuild(m, TE=te)
    te[0, 0] = 99.0  # the caller's array changes; the model does not
    assert m2 == m
    with pytest.raises(ValueError):
        m2.TE[0, 0] = 1.0
    with pytest.raises(AttributeError):
        m2.TE = te


@pytest.mark.parametrize("name, shape, message", [
    ("PE", (9, 5), r"PE has shape \(9, 5\), expected \(max_len, d_model\)"),
    ("Wout", (4, 6), r"Wout has shape \(4, 6\), expected \(vocab, d_model\) = \(5, 6\)"),
    ("bout", (5, 1), r"bout has shape \(5, 1\), expected \(vocab,\) = \(5,\)"),
    ("layers.1.Wq", (2, 2, 6), r"layers.1.Wq has shape \(2, 2, 6\), expected "
                               r"\(heads, d_head, d_model\) = \(2, 3, 6\)"),
    ("layers.0.Wo", (2, 3, 6), r"layers.0.Wo has shape \(2, 3, 6\), expected "
                               r"\(heads, d_model, d_head\) = \(2, 6, 3\)"),
    ("layers.1.W2", (7, 6), r"layers.1.W2 has shape \(7, 6\), expected "
                            r"\(d_model, d_ff\) = \(6, 7\)"),
    ("layers.1.b1", (6,), r"layers.1.b1 has shape \(6,\), expected \(d_ff,\) = \(7,\)"),
])
def test_shape_errors_name_the_array(name, shape, message):
    with pytest.raises(ModelError, match=message):
        rebuild(small(), **{name: np.zeros(shape)})


def test_weights_must_be_values_of_the_format():
    m = small()
    w = np.array(m.layers[0].W1)
    w[2, 3] = 0.3  # paper:e=1,s=2 has steps of 1/8 below 2
    with pytest.raises(ModelError, match=r"layers.0.W1\[2, 3\] = 0.3 is not a value of "
                                         r"paper:e=1,s=2 \(it rounds to 0.25\)"):
        rebuild(m, **{"layers.0.W1": w})
    te = np.array(m.TE)
    te[1, 1] = 4.0  # beyond B = 3.75
    with pytest.raises(ModelError, match=r"TE\[1, 1\] = 4.0 is not a value"):
        rebuild(m, TE=te)
    te[1, 1] = np.nan
    with pytest.raises(ModelError, match=r"TE\[1, 1\] = nan is not finite"):
        rebuild(m, TE=te)


def test_other_construction_errors():
    m = small()
    with pytest.raises(ModelError, match="sum mode 'fast'"):
        Model(fmt=m.fmt, sum_mode="fast", TE=m.TE, PE=m.PE, Wout=m.Wout, bout=m.bout,
              layers=m.layers)
    with pytest.raises(ModelError, match="at least one layer"):
        Model(fmt=m.fmt, sum_mode="exact", TE=m.TE, PE=m.PE, Wout=m.Wout, bout=m.bout,
              layers=())
    assert issubclass(ModelError, ValueError)


def test_equality_is_bitwise():
    m = small()
    assert m == small() and m != small(seed=4) and m != small(sum_mode="exact")
    assert m != small(fmt="paper:e=1,s=3")


# --- .npz -------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_npz_round_trip_is_bit_exact(tmp_path, fmt):
    m = small(fmt=fmt, sum_mode="exact")
    path = tmp_path / "m.npz"
    npz.save(m, path)
    back = npz.load(path)
    assert back == m and back.fmt == FloatFormat.parse(fmt)
    for name, arr in m.named_arrays().items():
        assert back.named_arrays()[name].tobytes() == arr.tobytes()
    assert os.listdir(tmp_path) == ["m.npz"]  # no temporary file left behind


def test_npz_layout_is_the_documented_one(tmp_path):
    m = small(layers=3)
    path = tmp_path / "m.npz"
    npz.save(m, path)
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        assert meta == {"version": 1, "format": "paper:e=1,s=2", "sum": "iterative",
                        "vocab": 5, "d_model": 6, "heads": 2, "d_head": 3, "d_ff": 7,
                        "layers": 3, "max_len": 9}
        want = {"TE": (5, 6), "PE": (9, 6), "Wout": (5, 6), "bout": (5,)}
        for i in range(3):
            want.update({f"layers.{i}.Wq": (2, 3, 6), f"layers.{i}.Wk": (2, 3, 6),
                         f"layers.{i}.Wv": (2, 3, 6), f"layers.{i}.Wo": (2, 6, 3),
                         f"layers.{i}.W1": (7, 6), f"layers.{i}.b1": (7,),
                         f"layers.{i}.W2": (6, 7), f"layers.{i}.b2": (6,)})
        assert sorted(f.files) == sorted(["meta", *want])
        for name, shape in want.items():
            assert f[name].dtype == np.float64 and f[name].shape == shape


def test_save_keeps_an_existing_file(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"precious")
    with pytest.raises(CotsimInputError, match="exists"):
        npz.save(small(), path)
    assert path.read_bytes() == b"precious"
    npz.save(small(), path, overwrite=True)
    assert npz.load(path) == small()


def _npz_bytes(meta: dict | str | None, arrays: dict) -> bytes:
    buf = io.BytesIO()
    extra = {} if meta is None else {"meta": np.array(meta if isinstance(meta, str)
                                                      else json.dumps(meta))}
    np.savez(buf, **extra, **arrays)
    return buf.getvalue()


def _broken(change) -> bytes:
    m = small()
    meta, arrays = m.meta(), arrays_of(m)
    meta = change(meta, arrays)
    return _npz_bytes(meta, arrays)


@pytest.mark.parametrize("change, message", [
    (lambda m, a: a.update({"layers.1.Wk": np.zeros((2, 3, 5))}) or m,
     r"array 'layers.1.Wk' has shape \(2, 3, 5\), but the header declares \(2, 3, 6\)"),
    (lambda m, a: (a.pop("layers.0.b2"), m)[1], r"array 'layers.0.b2' is missing"),
    (lambda m, a: a.update({"layers.2.Wq": np.zeros((2, 3, 6))}) or m,
     r"unexpected array 'layers.2.Wq'"),
    (lambda m, a: a.update({"bout": np.zeros(5, dtype=np.float32)}) or m,
     r"array 'bout' has dtype float32, expected float64"),
    (lambda m, a: {**m, "d_model": 7}, r"array 'TE' has shape \(5, 6\), but the header "
                                       r"declares \(5, 7\)"),
    (lambda m, a: {**m, "version": 2}, r"unsupported model version 2"),
    (lambda m, a: {**m, "heads": 0}, r"meta 'heads' must be an integer >= 1, got 0"),
    (lambda m, a: {**m, "sum": "fast"}, r"meta 'sum' must be one of iterative, exact"),
    (lambda m, a: {**m, "format": "paper:e=1"}, r"meta 'format'"),
    (lambda m, a: {k: v for k, v in m.items() if k != "d_ff"}, r"'meta' lacks d_ff"),
    (lambda m, a: "{not json", r"'meta' is not valid JSON"),
    (lambda m, a: a.update({"TE": np.full((5, 6), 0.3)}) or m,
     r"TE\[0, 0\] = 0.3 is not a value of paper:e=1,s=2"),
])
def test_npz_validation(tmp_path, change, message):
    path = tmp_path / "bad.npz"
    path.write_bytes(_broken(change))
    before = path.read_bytes()
    with pytest.raises(ModelError, match=message) as err:
        npz.load(path)
    assert str(err.value).startswith(str(path) + ": ")
    assert "\n" not in str(err.value)
    assert path.read_bytes() == before  # inputs are never modified


def test_npz_rejects_non_models_and_never_unpickles(tmp_path):
    cases = {"text.npz": b"hello", "nometa.npz": _npz_bytes(None, {"TE": np.zeros(2)}),
             "pickle.npz": _npz_bytes({"version": 1},
                                      {"TE": np.array([{"a": 1}], dtype=object)})}
    buf = io.BytesIO()
    np.save(buf, np.zeros(3))
    cases["single.npz"] = buf.getvalue()
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ModelError, match=name):
            npz.load(tmp_path / name)
    with pytest.raises(ModelError, match="cannot read"):
        npz.load(tmp_path / "absent.npz")


# --- random models ------------------------------------------------------------------------
def test_random_model_is_deterministic_and_representable():
    a = small(seed=11)
    assert a == small(seed=11)
    assert a != small(seed=12)
    for name, arr in a.named_arrays().items():  # values of the format (also validated)
        assert np.array_equal(a.fmt.round(arr), arr), name
    assert random_model(3, 1, 3, 7, 2, 4, "float16", seed=0).d_head == 2  # 7 // 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_random_models_are_mostly_defined(fmt):
    # Fresh prompts (another seed than the one random_model checks with), full length.
    for seed in range(3):
        m = random_model(vocab=6, layers=2, heads=2, d_model=8, d_ff=8, max_len=24,
                         fmt=fmt, seed=seed)
        assert defined_fraction(m, n_prompts=16, length=24, seed=1000 + seed) >= 0.9


def test_random_model_has_nontrivial_attention_weights():
    # The policy shrinks Wq/Wk only when needed: in float16 they stay non-zero.
    m = random_model(6, 2, 2, 8, 8, 16, "float16", seed=0)
    assert all(np.abs(lay.Wq).max() > 0 and np.abs(lay.Wk).max() > 0 for lay in m.layers)


def test_random_model_rejects_bad_arguments():
    with pytest.raises(ModelError, match="vocab must be an integer >= 1"):
        random_model(0, 1, 1, 2, 2, 2, "float64")
    with pytest.raises(ModelError, match="sum mode"):
        random_model(2, 1, 1, 2, 2, 2, "float64", sum_mode="fast")
    with pytest.raises(ValueError):
        random_model(2, 1, 1, 2, 2, 2, "paper:e=x")
    assert isinstance(FloatFormat.parse("float64"), FloatFormat)
