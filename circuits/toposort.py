"""Topological order of named definitions by an iterative depth-first search.

The readers (`netlist.Netlist` for .bench, BLIF and JSON; `aiger` for AIGER) define
signals in file order, possibly before their fan-ins. `depth_first_order` visits the
definitions from each root in file order and emits a node after its fan-ins, so that a
file already in topological order keeps its order. It finds combinational cycles and
hands the cycle to the caller, which words the error (each format names its signals its
own way). Iterative, so that deep netlists cannot overflow Python's stack.
"""
from __future__ import annotations

from typing import Callable, Hashable, Iterable, Sequence, TypeVar

N = TypeVar("N", bound=Hashable)

_ON_STACK, _DONE = 1, 2


def depth_first_order(roots: Iterable[N], fanins: Callable[[N], Sequence[N]],
                      follow: Callable[[N, N], bool], emit: Callable[[N], None],
                      cycle_error: Callable[[list[N]], Exception]) -> None:
    """Call ``emit(node)`` for every node reachable from ``roots``, each after the fan-ins
    it follows; roots are taken in order.

    - ``fanins(node)``: the node's fan-ins, in order.
    - ``follow(child, parent)``: whether ``child`` is a node to order (False for inputs,
      constants and nodes the caller has already emitted). It may raise, for instance
      for a signal that is never defined; it is called in depth-first order, so the
      first problem in that order is the one reported.
    - ``cycle_error(path)``: the exception to raise for a cycle. ``path`` lists the
      nodes of the cycle in search order: ``path[0]`` is the node met twice, and it is
      a fan-in of ``path[-1]``.
    """
    state: dict[N, int] = {}
    for root in roots:
        if root in state:
            continue
        state[root] = _ON_STACK
        stack: list[tuple[N, Sequence[N], int]] = [(root, fanins(root), 0)]
        while stack:
            node, ins, k = stack[-1]
            if k < len(ins):
                stack[-1] = (node, ins, k + 1)
                child = ins[k]
                if not follow(child, node):
                    continue
                st = state.get(child)
                if st == _ON_STACK:
                    path = [n for n, _, _ in stack]
                    raise cycle_error(path[path.index(child):])
                if st is None:
                    state[child] = _ON_STACK
                    stack.append((child, fanins(child), 0))
            else:
                stack.pop()
                state[node] = _DONE
                emit(node)
