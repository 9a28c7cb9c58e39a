"""The monoid of rounded addition (transformer_sim/compile/monoid.py): closure, Green's
relations and the J-order, against brute-force definitions and against libsemigroups."""
from __future__ import annotations

import numpy as np
import pytest

from circuits.errors import CircuitTooLarge
from transformer_sim import FloatFormat
from transformer_sim.compile.monoid import MonoidTooLarge, build_monoid, monoid_of

SMALL = "paper:e=0,s=1"
#: (|M|, R-, L-, J-classes, J-height); the J-height is this module's own figure, the
#: rest is checked against libsemigroups below when it is installed
FIGURES = {
    "paper:e=0,s=1": (98, 22, 28, 7, 6),
    "paper:e=1,s=1": (5790, 1073, 2247, 463, 44),
    "paper:e=0,s=2": (9486, 466, 496, 31, 30),
}


def fmt(spec: str) -> FloatFormat:
    return FloatFormat.parse(spec)


def full_table(mon) -> np.ndarray:
    """table[x, y] = x y (x first), by brute force over the element arrays."""
    index = {row.tobytes(): i for i, row in enumerate(mon.elements)}
    E = mon.elements
    return np.array([[index[E[y][E[x]].tobytes()] for y in range(mon.size)]
                     for x in range(mon.size)])


@pytest.mark.parametrize("spec", list(FIGURES))
def test_sizes_classes_and_height(spec):
    mon = monoid_of(fmt(spec))
    assert (mon.size, mon.n_r, mon.n_l, mon.n_j, mon.j_height) == FIGURES[spec]
    assert mon.is_aperiodic()


@pytest.mark.parametrize("spec", list(FIGURES))
def test_elements_are_distinct_maps_closed_under_the_generators(spec):
    mon = monoid_of(fmt(spec))
    E = mon.elements
    assert np.array_equal(E[0], np.arange(len(mon.states)))          # the identity
    assert len({row.tobytes() for row in E}) == mon.size
    states, letters = mon.states, mon.letters
    # f_a is x -> [x + a], and right/left are the products with it
    assert np.array_equal(states[E[mon.gen]], fmt(spec).add(states[None, :], letters[:, None]))
    G = E[mon.gen]                                                     # (A, Q)
    a = np.arange(len(letters))[None, :, None]
    m = np.arange(mon.size)[:, None, None]
    assert np.array_equal(E[mon.right], G[a, E[:, None, :]])          # m f_a: f_a after m
    assert np.array_equal(E[mon.left], E[m, G[None, :, :]])           # f_a m: m after f_a


def test_green_relations_by_definition():
    """R, L, J classes and the J-order from the ideals mM, Mm, MmM of the full table."""
    mon = monoid_of(fmt(SMALL))
    T = full_table(mon)
    right_ideal = [frozenset(T[m].tolist()) for m in range(mon.size)]
    left_ideal = [frozenset(T[:, m].tolist()) for m in range(mon.size)]
    two_sided = [frozenset(T[T[:, m]].reshape(-1).tolist()) for m in range(mon.size)]
    for x in range(mon.size):
        for y in range(mon.size):
            assert (mon.r_class[x] == mon.r_class[y]) == (right_ideal[x] == right_ideal[y])
            assert (mon.l_class[x] == mon.l_class[y]) == (left_ideal[x] == left_ideal[y])
            assert (mon.j_class[x] == mon.j_class[y]) == (two_sided[x] == two_sided[y])
            leq = bool(mon.j_leq[mon.j_class[x], mon.j_class[y]])
            assert leq == (x in two_sided[y])
    # mul agrees with the table; the table is associative with identity 0
    assert all(mon.mul(x, y) == T[x, y] for x in range(0, mon.size, 7) for y in range(mon.size))
    for x in range(0, mon.size, 5):
        assert np.array_equal(T[T[x]], T[x][T])                       # (x y) z = x (y z)
    ids = np.arange(mon.size)
    assert np.array_equal(T[0], ids) and np.array_equal(T[:, 0], ids)


@pytest.mark.parametrize("spec", list(FIGURES))
def test_j_order_is_a_partial_order_and_levels_descend(spec):
    mon = monoid_of(fmt(spec))
    leq = mon.j_leq
    assert leq.diagonal().all()
    assert not (leq & leq.T & ~np.eye(mon.n_j, dtype=bool)).any()       # antisymmetric
    assert np.array_equal(leq, leq | ((leq.astype(np.int64) @ leq.astype(np.int64)) > 0))
    top = mon.j_class[mon.identity]
    assert leq[:, top].all() and mon.j_level[top] == 0                # 1 is above all
    above = leq & ~np.eye(mon.n_j, dtype=bool)                        # x strictly below y
    xs, ys = np.nonzero(above)
    assert (mon.j_level[xs] > mon.j_level[ys]).all()
    # some chain of J-height + 1 classes exists: every level from 0 to the height is used
    assert set(mon.j_level.tolist()) == set(range(mon.j_height + 1))


def test_aperiodicity_check_can_fail():
    """A check that could not fail would prove nothing: x -> x + 1 mod 3 is periodic."""
    mon = monoid_of(fmt(SMALL))
    cyc = np.array([[1, 2, 0]], dtype=np.int32)
    fake = type(mon)(mon.spec, mon.states[:3], mon.letters[:1], np.concatenate(
        [np.arange(3, dtype=np.int32)[None], cyc, cyc[:, cyc[0]]]), mon.gen[:1], mon.right[:3, :1],
        mon.left[:3, :1], mon.r_class[:3], mon.l_class[:3], mon.j_class[:3], mon.j_leq, mon.j_level)
    assert not fake.is_aperiodic()


def test_letters_restrict_the_generators():
    f = fmt(SMALL)
    mon = monoid_of(f, letters=np.array([0.25, 0.25, -0.25]))
    assert mon.letters.tolist() == [-0.25, 0.25]
    # a clamped walk: shifts by +-k units compose from unit shifts, so +-1 unit already
    # generate the whole monoid of the 7 letters
    full = monoid_of(f)
    assert {r.tobytes() for r in mon.elements} == {r.tobytes() for r in full.elements}
    # +1 unit alone: x -> min(x + k, 3 units), k = 0..6
    up = monoid_of(f, letters=np.array([0.25]))
    x = np.arange(7)
    assert sorted(r.tolist() for r in up.elements) == sorted(
        np.minimum(x + k, 6).tolist() for k in range(7))
    assert monoid_of(f, letters=np.array([0.0])).size == 1
    assert monoid_of(f) is monoid_of(f)                                # cached


def test_refusals():
    with pytest.raises(MonoidTooLarge, match="more than 20000 elements"):
        build_monoid(fmt("paper:e=1,s=2"))
    with pytest.raises(MonoidTooLarge, match="more than 100 elements"):
        build_monoid(fmt("paper:e=1,s=1"), limit=100)
    with pytest.raises(CircuitTooLarge, match="63487 values"):
        build_monoid(fmt("float16"))


@pytest.mark.parametrize("spec", list(FIGURES))
def test_against_libsemigroups(spec):
    ls = pytest.importorskip("libsemigroups_pybind11",
                             reason="libsemigroups-pybind11 is not installed")
    ls.ReportGuard(False)
    f = fmt(spec)
    v = f.values()
    gens = [ls.Transf(np.searchsorted(v, f.add(v, a)).tolist()) for a in v]
    K = ls.Konieczny(gens)    # the semigroup they generate; f_0 is the identity
    mon = monoid_of(f)
    assert (K.size(), K.number_of_R_classes(), K.number_of_L_classes(),
            K.number_of_D_classes()) == (mon.size, mon.n_r, mon.n_l, mon.n_j)
