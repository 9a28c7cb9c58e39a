"""What a theorem check returns: a verdict with its reason, a table, figures. Pure data,
imported by the framework (`base`) and by the renderers (`tables`) alike."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

HOLDS, FAILS = "holds", "fails"

#: figure name -> content. The name's extension says what it is: ``.svg`` (text or
#: bytes), ``.png`` (bytes), anything else is shown as preformatted text.
Figures = Mapping[str, "bytes | str"]


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(str(c) for c in self.columns))
        object.__setattr__(self, "rows", tuple(tuple(r) for r in self.rows))
        for r in self.rows:
            if len(r) != len(self.columns):
                raise ValueError(f"table row {r!r} has {len(r)} cells, expected "
                                 f"{len(self.columns)}")


@dataclass(frozen=True)
class CheckResult:
    """What one theorem check found.

    ``verdict`` is ``"holds"`` or ``"fails"``; ``reason`` says why in one or two
    sentences. ``notes`` are extra lines (margins, constants, caveats). ``captions`` maps
    a figure's name to its caption.
    """

    name: str
    claim: str
    verdict: str
    reason: str
    table: Table = field(default_factory=lambda: Table((), ()))
    figures: Figures = field(default_factory=dict)
    captions: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    quick: bool = True
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.verdict not in (HOLDS, FAILS):
            raise ValueError(f"verdict must be {HOLDS!r} or {FAILS!r}, got {self.verdict!r}")

    @property
    def holds(self) -> bool:
        return self.verdict == HOLDS

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "claim": self.claim, "verdict": self.verdict,
                "reason": self.reason, "quick": self.quick, "seconds": round(self.seconds, 3),
                "notes": list(self.notes),
                "table": {"columns": list(self.table.columns),
                          "rows": [[_jsonable(v) for v in r] for r in self.table.rows]},
                "figures": sorted(self.figures)}


def _jsonable(v: Any) -> Any:
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if hasattr(v, "item"):  # NumPy scalars
        return v.item()
    return str(v)
