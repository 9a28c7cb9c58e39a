"""cotsim's circuit JSON (``.json``), as specified in DESIGN.md:

    {"format": "cotsim-circuit", "version": 1,
     "inputs": [name, ...],
     "gates": [{"id": int, "op": KIND, "in": [id, ...], "weights": [int, ...],
                "threshold": int}, ...],
     "outputs": [{"name": name, "id": int}, ...]}

Input ``i`` has id ``i``; gate ids follow the inputs one by one, in topological order.
``weights`` and ``threshold`` appear on THR gates only. A gate may also carry ``"name"``
(its signal name) and ``"tag"`` (its origin, for diagrams); readers accept files
without them. The writer puts one gate on a line, so errors can name the line.
"""
from __future__ import annotations

import json
import json.decoder
import json.scanner
import re
from typing import Any, Callable

from .builder import CircuitBuilder
from .errors import ParseError
from .io import Loaded
from .ir import Circuit, Kind, thr_limit_error

FORMAT = "cotsim-circuit"
VERSION = 1
_TOP_KEYS = ("format", "version", "inputs", "gates", "outputs")
_GATE_KEYS = ("id", "op", "in", "weights", "threshold", "name", "tag")
_OUTPUT_KEYS = ("name", "id")
_OPS = [k.name for k in Kind if k != Kind.INPUT]


# -- writing ------------------------------------------------------------------------------

def dump(circuit: Circuit) -> bytes:
    """The circuit as cotsim JSON, one gate per line."""
    c = circuit
    ptr, fanin = c.fanin_ptr.tolist(), c.fanin.tolist()
    weights, thresholds = c.weights.tolist(), c.thresholds.tolist()
    lines = []
    for v in range(c.num_inputs, c.num_nodes):
        kind = c.kind(v)
        gate: dict[str, Any] = {"id": v, "op": kind.name, "in": fanin[ptr[v]:ptr[v + 1]]}
        if kind == Kind.THR:
            gate["weights"] = weights[ptr[v]:ptr[v + 1]]
            gate["threshold"] = thresholds[v]
        if c.node_names is not None and c.node_names[v] is not None:
            gate["name"] = c.node_names[v]
        tag = c.tag_of(v)
        if tag is not None:
            gate["tag"] = tag
        lines.append("  " + json.dumps(gate))
    outputs = [{"name": n, "id": o} for n, o in zip(c.output_names, c.output_ids.tolist())]
    text = (f'{{"format": "{FORMAT}", "version": {VERSION},\n'
            f' "inputs": {json.dumps(list(c.input_names))},\n'
            f' "gates": [\n' + ",\n".join(lines) + ("\n" if lines else "") + " ],\n"
            f' "outputs": {json.dumps(outputs)}}}\n')
    return text.encode("utf-8")


# -- reading ------------------------------------------------------------------------------

class _Duplicate(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _Duplicate(f"key {key!r} appears twice in one object")
        obj[key] = value
    return obj


class _Constant(ValueError):
    pass


def _is_text(x: Any) -> bool:
    """A non-empty string that every writer can encode: JSON's ``"\\ud800"`` escape
    decodes to a lone surrogate, which is no character and has no UTF-8 form."""
    if not isinstance(x, str) or not x:
        return False
    try:
        x.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _no_constant(name: str) -> None:
    raise _Constant(f"{name} is not a JSON number")


#: nesting reported as too deep (a circuit needs 3 levels; Python's decoder gives up
#: somewhere near 1000, depending on the stack)
MAX_DEPTH = 64
_MAX_DIGITS = 4300  # Python's limit on converting a decimal string to an int
_SCAN = re.compile(r'"(?:[^"\\]|\\.)*"|NaN|-?Infinity|\d{%d,}|[\[\]{}]' % (_MAX_DIGITS + 1))


def _scan_problem(text: str) -> tuple[str, int] | None:
    """The first thing, in reading order, that the decoder refuses without saying where:
    NaN or Infinity, an integer over Python's digit limit, or nesting deeper than
    `MAX_DEPTH`; as (message, offset). Runs only after the decoder has failed."""
    depth = 0
    for m in _SCAN.finditer(text):
        tok = m.group()
        if tok[0] == '"':
            continue
        if tok in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                return f"JSON nested more than {MAX_DEPTH} levels deep", m.start()
        elif tok in ("]", "}"):
            depth -= 1
        elif tok[-1].isdigit():
            return (f"an integer of {len(tok)} digits, over the limit of {_MAX_DIGITS} "
                    "digits"), m.start()
        else:
            return f"{tok} is not a JSON number", m.start()
    return None


def _decode_fast(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)


class _Located(Exception):
    def __init__(self, message: str, offset: int):
        self.message, self.offset = message, offset


def _decode_located(text: str) -> tuple[Any, dict[int, int]]:
    """Decode with the pure-Python scanner, recording where every object and list starts.

    Slower than the C scanner, so it runs only to put a line number on an error."""
    starts: dict[int, int] = {}
    dec = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_no_constant)
    plain = json.decoder.JSONObject

    def parse_object(s_and_end, *args, **kwargs):
        start = s_and_end[1] - 1  # the scanner passes the index after "{"
        try:
            obj, end = plain(s_and_end, *args, **kwargs)
        except _Duplicate as e:
            raise _Located(str(e), start) from None
        starts[id(obj)] = start
        return obj, end

    plain_array = json.decoder.JSONArray

    def parse_array(s_and_end, *args, **kwargs):
        arr, end = plain_array(s_and_end, *args, **kwargs)
        starts[id(arr)] = s_and_end[1] - 1
        return arr, end

    dec.parse_object = parse_object  # type: ignore[attr-defined]
    dec.parse_array = parse_array  # type: ignore[attr-defined]
    dec.scan_once = json.scanner.py_make_scanner(dec)
    return dec.decode(text), starts


def parse(data: bytes, path: str) -> Loaded:
    """Read cotsim JSON, checking it strictly."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ParseError(f"not UTF-8 text (byte {e.start})", path,
                         data[:e.start].count(b"\n") + 1) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    def unlocated(fallback: str) -> ParseError:
        found = _scan_problem(text)
        if found is None:
            return ParseError(fallback, path)
        return ParseError(found[0], path, text.count("\n", 0, found[1]) + 1)

    try:
        doc = _decode_fast(text)
    except json.JSONDecodeError as e:
        raise ParseError(f"invalid JSON: {e.msg} (column {e.colno})", path, e.lineno) from None
    except _Duplicate:
        doc = None  # locate the problem below
    except RecursionError:
        raise unlocated("JSON nested too deeply") from None
    except ValueError as e:  # NaN, Infinity, a 5000-digit integer
        raise unlocated(f"invalid JSON: {e}") from None
    if doc is not None:
        try:
            return Loaded(_Validator(path, lambda o: None).circuit(doc))
        except ParseError:
            pass  # find the line, below
    try:
        doc, starts = _decode_located(text)
    except _Located as e:
        raise ParseError(e.message, path, text.count("\n", 0, e.offset) + 1) from None
    except json.JSONDecodeError as e:
        raise ParseError(f"invalid JSON: {e.msg} (column {e.colno})", path, e.lineno) from None
    except RecursionError:
        raise unlocated("JSON nested too deeply") from None
    except ValueError as e:
        raise unlocated(f"invalid JSON: {e}") from None

    def line_of(obj: Any) -> int | None:
        at = starts.get(id(obj))
        return None if at is None else text.count("\n", 0, at) + 1

    return Loaded(_Validator(path, line_of).circuit(doc))


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


class _Validator:
    def __init__(self, path: str, line_of: Callable[[Any], int | None]):
        self.path = path
        self.line_of = line_of

    def error(self, message: str, where: Any) -> ParseError:
        return ParseError(message, self.path, self.line_of(where))

    def keys(self, obj: Any, allowed: tuple[str, ...], required: tuple[str, ...], what: str,
             where: Any) -> None:
        if not isinstance(obj, dict):
            raise self.error(f"{what} must be a JSON object, not {_type(obj)}", where)
        for key in obj:
            if key not in allowed:
                raise self.error(f"{what}: unknown key {key!r} (allowed: "
                                 f"{', '.join(allowed)})", obj)
        for key in required:
            if key not in obj:
                raise self.error(f"{what}: missing key {key!r}", obj)

    def circuit(self, doc: Any) -> Circuit:
        self.keys(doc, _TOP_KEYS, _TOP_KEYS, "the top level", doc)
        if doc["format"] != FORMAT:
            raise self.error(f"not a cotsim circuit: \"format\" is {doc['format']!r}, "
                             f"expected {FORMAT!r}", doc)
        if not _is_int(doc["version"]) or doc["version"] != VERSION:
            raise self.error(f"unsupported version {doc['version']!r} (this reader knows "
                             f"version {VERSION})", doc)
        inputs = doc["inputs"]
        if not isinstance(inputs, list):
            raise self.error(f"\"inputs\" must be a list of names, not {_type(inputs)}", doc)
        seen: dict[str, int] = {}
        for i, name in enumerate(inputs):
            if not _is_text(name):
                raise self.error(f"input {i}: a name must be a non-empty string of "
                                 f"Unicode characters, not {name!r}", doc)
            if name in seen:
                raise self.error(f"inputs {seen[name]} and {i} are both named {name!r}", doc)
            seen[name] = i
        gates = doc["gates"]
        if not isinstance(gates, list):
            raise self.error(f"\"gates\" must be a list, not {_type(gates)}", doc)
        n_in = len(inputs)
        total = n_in + len(gates)
        b = CircuitBuilder(strash=False, fold=False)
        b.inputs(inputs)
        ids: set[int] = set(range(n_in))
        for k, g in enumerate(gates):
            self.gate(b, g, k, n_in, ids, total, doc)
        outputs = doc["outputs"]
        if not isinstance(outputs, list):
            raise self.error(f"\"outputs\" must be a list, not {_type(outputs)}", doc)
        for k, o in enumerate(outputs):
            self.keys(o, _OUTPUT_KEYS, _OUTPUT_KEYS, f"output {k}", doc)
            if not _is_text(o["name"]):
                raise self.error(f"output {k}: \"name\" must be a non-empty string of "
                                 "Unicode characters", o)
            if not _is_int(o["id"]) or not 0 <= o["id"] < total:
                raise self.error(f"output {o['name']!r}: \"id\" {o['id']!r} is no input or "
                                 f"gate id (0 .. {total - 1})", o)
            b.output(o["name"], o["id"])
        return b.build()

    def gate(self, b: CircuitBuilder, g: Any, k: int, n_in: int, ids: set[int], total: int,
             doc: Any) -> None:
        self.keys(g, _GATE_KEYS, ("id", "op", "in"), f"gate number {k} (counting from 0)",
                  doc if not isinstance(g, dict) else g)
        expect = n_in + k
        gid = g["id"]
        if not _is_int(gid):
            raise self.error(f"gate id must be an integer, not {gid!r}", g)
        if gid in ids:
            raise self.error(f"duplicate id {gid}", g)
        if gid != expect:
            raise self.error(f"gate ids must follow the inputs one by one in topological "
                             f"order: expected id {expect}, found {gid}", g)
        ids.add(gid)
        op = g["op"]
        if not isinstance(op, str) or op not in _OPS:
            raise self.error(f"gate {gid}: unknown op {op!r} (known: {' '.join(_OPS)})", g)
        kind = Kind[op]
        ins = g["in"]
        if not isinstance(ins, list) or not all(_is_int(i) for i in ins):
            raise self.error(f"gate {gid}: \"in\" must be a list of ids", g)
        for i in ins:
            if not 0 <= i < total:
                raise self.error(f"gate {gid}: fan-in {i} is no input or gate id", g)
            if i >= gid:
                raise self.error(f"gate {gid}: fan-in {i} is not defined before it "
                                 "(not in topological order)", g)
        if kind in (Kind.CONST0, Kind.CONST1) and ins:
            raise self.error(f"gate {gid}: {kind.name} takes no fan-in", g)
        if kind in (Kind.BUF, Kind.NOT) and len(ins) != 1:
            raise self.error(f"gate {gid}: {kind.name} takes exactly one fan-in, "
                             f"not {len(ins)}", g)
        if kind not in (Kind.CONST0, Kind.CONST1) and not ins:
            raise self.error(f"gate {gid}: {kind.name} needs at least one fan-in", g)
        weights = threshold = None
        if kind == Kind.THR:
            for key in ("weights", "threshold"):
                if key not in g:
                    raise self.error(f"gate {gid}: THR needs {key!r}", g)
            weights, threshold = g["weights"], g["threshold"]
            if (not isinstance(weights, list) or len(weights) != len(ins)
                    or not all(_is_int(w) for w in weights)):
                raise self.error(f"gate {gid}: \"weights\" must be a list of {len(ins)} "
                                 "integers (one per fan-in)", g)
            if not _is_int(threshold):
                raise self.error(f"gate {gid}: \"threshold\" must be an integer, not "
                                 f"{_type(threshold)}", g)
            problem = thr_limit_error(weights, threshold)
            if problem:
                raise self.error(f"gate {gid}: {problem}", g)
        else:
            for key in ("weights", "threshold"):
                if key in g:
                    raise self.error(f"gate {gid}: {key!r} belongs on THR gates only, "
                                     f"not {kind.name}", g)
        name = g.get("name")
        tag = g.get("tag")
        for key, value in (("name", name), ("tag", tag)):
            if value is not None and not _is_text(value):
                raise self.error(f"gate {gid}: {key!r} must be a non-empty string of "
                                 "Unicode characters", g)
        b.set_tag(tag)
        if kind in (Kind.CONST0, Kind.CONST1):
            node = b.const(kind == Kind.CONST1, name=name)
        else:
            node = b.gate(kind, ins, weights, threshold, name=name)
        assert node == gid


def _type(x: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(x), type(x).__name__)
