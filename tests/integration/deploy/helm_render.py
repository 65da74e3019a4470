"""Renders the pgdual Helm chart without a helm binary (Helm is not a Debian package).

It implements the part of Helm's template language (Go text/template plus the Sprig and Helm
functions) that deploy/helm/pgdual uses, with Helm's semantics where they bite: values numbers
are float64 in Helm (so `{{ 1000000 }}` prints 1e+06 and `printf "%d"` is wrong), `default`
treats 0, false and "" as unset, a field of a missing map is an error, toJson is Go's
encoding/json (sorted keys, <>& escaped) so that the checksum annotation matches what Helm
computes. Anything else (another function, `template`, `block`, raw strings, ...) raises
Unsupported, so a chart change that needs more fails the test loudly instead of rendering
something Helm would not.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from decimal import Decimal
from pathlib import Path

import yaml


class Unsupported(Exception):
    """The chart uses something this renderer does not implement."""


class TemplateError(Exception):
    """What Helm would refuse too: a nil pointer, a type mismatch, a parse error."""


class ChartFailure(Exception):
    """The chart refusing its values (`fail`, `required`)."""


class Struct(dict):
    """.Release, .Chart and the top object: Go structs, whose unknown fields are errors
    (a map's missing key is nil instead)."""


# --------------------------------------------------------------------------
# Go's formatting of values


def _digits(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of f and the decimal point's position (Go's and Python's
    shortest representations agree)."""
    sign, digits, exponent = Decimal(repr(abs(f))).normalize().as_tuple()
    text = "".join(map(str, digits))
    return text, len(text) + exponent


def _fixed(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def go_float(f: float) -> str:
    """fmt's %v of a float64: %e notation from an exponent of 6 (Helm's 1e+06 surprise)."""
    if f == 0:
        return "0"
    digits, point = _digits(f)
    sign = "-" if f < 0 else ""
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return sign + _fixed(digits, point)


def go_str(value) -> str:
    """What `{{ value }}` prints (Helm turns Go's <no value> for nil into nothing)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return value
    raise Unsupported(f"printing a {type(value).__name__} directly (use toYaml or toJson)")


def go_quote(text: str) -> str:
    """strconv.Quote for the characters a manifest holds."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            raise Unsupported(f"quoting control character {ch!r}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _json_ready(value):
    """Helm's values went through JSON: integral float64s marshal as integers."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, float) and not isinstance(value, bool):
        if value.is_integer() and abs(value) < 1e21:
            return int(value)
        if not 1e-6 <= abs(value) < 1e21:
            raise Unsupported(f"JSON of {value!r} (Go writes it in e notation)")
    return value


def go_json(value) -> str:
    """encoding/json.Marshal: sorted keys, no spaces, <, > and & escaped."""
    def check(v):
        if isinstance(v, str) and ("\b" in v or "\f" in v):
            raise Unsupported("JSON of \\b or \\f (Go's escape depends on its version)")
        for item in (v.values() if isinstance(v, dict) else v if isinstance(v, list) else []):
            check(item)
    ready = _json_ready(value)
    check(ready)
    text = json.dumps(ready, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for ch, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                       ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, escape)
    return text


def go_yaml(value) -> str:
    """Helm's toYaml: JSON, then YAML with sorted keys, without the final newline."""
    text = yaml.safe_dump(_json_ready(value), sort_keys=True, default_flow_style=False,
                          allow_unicode=True, width=1 << 30)
    if text.endswith("\n...\n"):
        text = text[:-len("\n...\n")]
    return text[:-1] if text.endswith("\n") else text


# --------------------------------------------------------------------------
# Go template truth (also Sprig's emptiness for these types), Go comparisons


def truth(value) -> bool:
    if value is None:
        return False
    if isinstance(value, (bool, int, float, str, list, dict)):
        return bool(value)
    raise Unsupported(f"truth of {type(value).__name__}")


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    for kind, types in (("int", int), ("float", float), ("string", str)):
        if isinstance(value, types):
            return kind
    raise TemplateError(f"invalid type for comparison: {value!r}")


def _comparable(a, b) -> None:
    if _kind(a) != _kind(b):
        raise TemplateError(f"incompatible types for comparison: {a!r} and {b!r} "
                            "(values numbers are float64 in Helm)")


def go_eq(a, *others) -> bool:
    for b in others:
        _comparable(a, b)
    return any(a == b for b in others)


def go_le(a, b) -> bool:
    _comparable(a, b)
    if isinstance(a, bool):
        raise TemplateError("invalid type for comparison: bool")
    return a <= b


def to_int64(value) -> int:
    """cast.ToInt64 as Sprig uses it (decimal strings only here)."""
    if value is None:
        return 0
    if isinstance(value, (bool, int, float)):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    raise Unsupported(f"int64 of {value!r}")


# --------------------------------------------------------------------------
# Functions


def _need(kind, value, what):
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise TemplateError(f"{what}: wrong type {type(value).__name__}")
    return value


def _map(value, what) -> dict:
    return {} if value is None else _need(dict, value, what)


def _default(default, *given):
    value = given[0] if given else None
    return default if not truth(value) else value


def _required(message, value):
    if value is None or value == "":
        raise ChartFailure(message)
    return value


def _fail(message):
    raise ChartFailure(message)


def _indent(spaces, text):
    pad = " " * _need(int, spaces, "indent")
    return pad + _need(str, text, "indent").replace("\n", "\n" + pad)


def _printf(fmt, *args):
    args = list(args)

    def one(match):
        verb = match.group(0)
        if verb == "%%":
            return "%"
        if not args:
            raise TemplateError(f"printf {fmt!r}: missing argument")
        value = args.pop(0)
        if verb == "%s" and not isinstance(value, str):
            raise TemplateError(f"printf %s of {value!r} prints %!s(...) in Go: use %v")
        if value is None:
            raise TemplateError(f"printf {fmt!r} of nil")
        return go_str(value)

    for verb in re.findall(r"%.", _need(str, fmt, "printf")):
        if verb not in ("%s", "%v", "%%"):
            raise Unsupported(f"printf verb {verb} (%d is wrong for Helm's float64 numbers)")
    text = re.sub(r"%.", one, fmt)
    if args:
        raise TemplateError(f"printf {fmt!r}: extra arguments")
    return text


def _dict(*pairs):
    if len(pairs) % 2:
        raise TemplateError("dict needs key/value pairs")
    keys = pairs[::2]
    for key in keys:
        _need(str, key, "dict key")
    return dict(zip(keys, pairs[1::2]))


def _set(d, key, value):
    _map(d, "set")[_need(str, key, "set")] = value
    return d


def _trunc(count, text):
    _need(int, count, "trunc")
    return _need(str, text, "trunc")[:count] if count >= 0 else text[count:]


FUNCTIONS = {
    "default": _default,
    "required": _required,
    "fail": _fail,
    "toYaml": go_yaml,
    "toJson": go_json,
    "sha256sum": lambda s: hashlib.sha256(_need(str, s, "sha256sum").encode()).hexdigest(),
    "quote": lambda *vs: " ".join(go_quote(go_str(v)) for v in vs if v is not None),
    "printf": _printf,
    "indent": _indent,
    "nindent": lambda spaces, text: "\n" + _indent(spaces, text),
    "trunc": _trunc,
    "trimSuffix": lambda suffix, s: _need(str, s, "trimSuffix").removesuffix(
        _need(str, suffix, "trimSuffix")),
    "dict": _dict,
    "list": lambda *items: list(items),
    "pick": lambda d, *keys: {k: v for k, v in _map(d, "pick").items() if k in keys},
    "set": _set,
    "hasKey": lambda d, key: key in _map(d, "hasKey"),
    "deepCopy": copy.deepcopy,
    "eq": go_eq,
    "le": go_le,
    "not": lambda v: not truth(v),
    "mul": lambda a, *rest: math.prod([to_int64(a)] + [to_int64(v) for v in rest]),
    "int64": to_int64,
}
# and, or and include are the renderer's own (Renderer._call): they need lazy arguments or the
# templates.


# --------------------------------------------------------------------------
# Lexing: text and actions, then the tokens of one action

SPACE = " \t\r\n"
TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?[0-9]+(?:\.[0-9]+)?(?![0-9A-Za-z_.]))
  | (?P<declare>:=) | (?P<assign>=) | (?P<pipe>\|) | (?P<open>\() | (?P<close>\)) | (?P<comma>,)
  | (?P<variable>\$[A-Za-z_0-9]*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z_0-9]*)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z_0-9]*)
""", re.X)
KEYWORDS = {"if", "else", "end", "range", "with", "define"}
REFUSED_KEYWORDS = {"template", "block", "break", "continue"}


def split_actions(src: str) -> list[tuple]:
    """[("text", s)] and [("action", content)] with Go's {{- and -}} trimming applied;
    comments are dropped."""
    items, pos = [], 0
    while True:
        start = src.find("{{", pos)
        if start < 0:
            items.append(("text", src[pos:]))
            break
        items.append(("text", src[pos:start]))
        body = start + 2
        if src[body:body + 1] == "-" and src[body + 1:body + 2] in tuple(SPACE):
            items[-1] = ("text", items[-1][1].rstrip(SPACE))
            body += 2
        end = _action_end(src, body)
        content = src[body:end]
        pos = end + 2
        if len(content) >= 2 and content[-1] == "-" and content[-2] in SPACE:
            content = content[:-2]
            skip = len(src[pos:]) - len(src[pos:].lstrip(SPACE))
            pos += skip
        stripped = content.strip(SPACE)
        if stripped.startswith("/*"):
            if not stripped.endswith("*/"):
                raise TemplateError(f"unclosed comment at offset {start}")
            continue
        items.append(("action", content, start))
    return items


def _action_end(src: str, pos: int) -> int:
    """Where the action's }} is: after a comment's */, outside string literals."""
    if src[pos:].lstrip(SPACE).startswith("/*"):
        close = src.find("*/", pos)
        if close < 0:
            raise TemplateError("unclosed comment")
        end = src.find("}}", close)
        if end < 0:
            raise TemplateError("unclosed action")
        return end
    i = pos
    while i < len(src):
        if src[i] == '"':
            i += 1
            while i < len(src) and src[i] != '"':
                i += 2 if src[i] == "\\" else 1
        elif src[i] == "`":
            raise Unsupported("raw strings")
        elif src.startswith("}}", i):
            return i
        i += 1
    raise TemplateError("unclosed action")


def tokenize(content: str, where: str) -> list[tuple[str, str, bool]]:
    """(kind, text, glued): glued says no space came before (a field chained to `)` or $x)."""
    tokens, pos, glued = [], 0, False
    while pos < len(content):
        match = TOKEN.match(content, pos)
        if not match:
            raise Unsupported(f"{where}: cannot read {content[pos:pos + 20]!r}")
        kind = match.lastgroup
        if kind == "ws":
            glued = False
        else:
            tokens.append((kind, match.group(), glued))
            glued = True
        pos = match.end()
    return tokens


def _unquote(text: str) -> str:
    escapes = {"\\\\": "\\", '\\"': '"', "\\n": "\n", "\\t": "\t"}
    return re.sub(r"\\.", lambda m: escapes.get(m.group()) or _bad_escape(m.group()), text[1:-1])


def _bad_escape(escape):
    raise Unsupported(f"string escape {escape}")


# --------------------------------------------------------------------------
# Parsing: a tree of text, actions and if / with / range blocks, plus the defines


class Pipeline:
    def __init__(self, decl: list[str], op: str | None, commands: list[list[tuple]]):
        self.decl, self.op, self.commands = decl, op, commands


class _Tokens:
    def __init__(self, tokens: list, where: str):
        self.tokens, self.pos, self.where = tokens, 0, where

    def peek(self, ahead: int = 0):
        i = self.pos + ahead
        return self.tokens[i] if i < len(self.tokens) else None

    def next(self):
        token = self.peek()
        if token is None:
            raise TemplateError(f"{self.where}: action ends too early")
        self.pos += 1
        return token

    def expect_end(self) -> None:
        if self.peek() is not None:
            raise TemplateError(f"{self.where}: unexpected {self.peek()[1]!r}")


def _field_names(text: str) -> list[str]:
    return [name for name in text.split(".") if name]


def parse_pipeline(ts: _Tokens, range_vars: bool = False) -> Pipeline:
    names, ahead = [], 0
    while ts.peek(ahead) and ts.peek(ahead)[0] == "variable":
        names.append(ts.peek(ahead)[1])
        ahead += 1
        if not (range_vars and ts.peek(ahead) and ts.peek(ahead)[0] == "comma"):
            break
        ahead += 1
    decl, op = [], None
    if names and ts.peek(ahead) and ts.peek(ahead)[0] in ("declare", "assign"):
        op = ts.peek(ahead)[1]
        if len(names) > 2 or len(names) == 2 and op != ":=":
            raise TemplateError(f"{ts.where}: too many variables")
        decl, ts.pos = names, ts.pos + ahead + 1
    commands = [_parse_command(ts)]
    while ts.peek() and ts.peek()[0] == "pipe":
        ts.next()
        commands.append(_parse_command(ts))
    return Pipeline(decl, op, commands)


def _parse_command(ts: _Tokens) -> list[tuple]:
    operands = []
    while ts.peek() and ts.peek()[0] not in ("pipe", "close"):
        operands.append(_parse_operand(ts))
    if not operands:
        raise TemplateError(f"{ts.where}: missing value")
    return operands


def _parse_operand(ts: _Tokens) -> tuple:
    kind, text, _ = ts.next()
    if kind == "string":
        return ("lit", _unquote(text))
    if kind == "number":
        return ("lit", float(text) if "." in text else int(text))
    if kind == "field":
        return ("dot", _field_names(text))
    if kind == "ident":
        if text in ("true", "false", "nil"):
            return ("lit", {"true": True, "false": False, "nil": None}[text])
        if text in KEYWORDS or text in REFUSED_KEYWORDS:
            raise Unsupported(f"{ts.where}: {text!r} inside an action")
        return ("ident", text)
    if kind == "variable":
        node = ("var", text)
    elif kind == "open":
        node = ("paren", parse_pipeline(ts))
        if ts.next()[0] != "close":
            raise TemplateError(f"{ts.where}: unclosed (")
    else:
        raise TemplateError(f"{ts.where}: unexpected {text!r}")
    chained = ts.peek()
    if chained and chained[0] == "field" and chained[2]:  # $x.a.b, (pipeline).a
        ts.next()
        return node + (_field_names(chained[1]),)
    return node + ([],)


def parse_template(src: str, name: str) -> tuple[list, dict]:
    """(body, defines) of one template file."""
    root: list = []
    stack = [("root", None, root)]
    defines: dict[str, list] = {}
    for item in split_actions(src):
        current = stack[-1][2]
        if item[0] == "text":
            if item[1]:
                current.append(("text", item[1]))
            continue
        where = f"{name}:{src.count(chr(10), 0, item[2]) + 1}"
        ts = _Tokens(tokenize(item[1], where), where)
        head = ts.peek()
        if head is None:
            raise TemplateError(f"{where}: empty action")
        keyword = head[1] if head[0] == "ident" else None
        if keyword in REFUSED_KEYWORDS:
            raise Unsupported(f"{where}: {keyword}")
        if keyword not in KEYWORDS:
            current.append(("action", parse_pipeline(ts), where))
        else:
            ts.next()
            _parse_keyword(keyword, ts, stack, defines)
        ts.expect_end()
    if len(stack) > 1:
        raise TemplateError(f"{name}: {stack[-1][0]} without end")
    return root, defines


def _parse_keyword(keyword: str, ts: _Tokens, stack: list, defines: dict) -> None:
    kind, node, _ = stack[-1]
    if keyword in ("if", "with", "range"):
        body: list = []
        new = [keyword, [(parse_pipeline(ts, range_vars=keyword == "range"), body)], None]
        stack[-1][2].append(new)
        stack.append((keyword, new, body))
    elif keyword == "else":
        if kind not in ("if", "with", "range") or node[2] is not None:
            raise TemplateError(f"{ts.where}: else without if")
        if ts.peek() is None:
            node[2] = []
            stack[-1] = (kind, node, node[2])
        elif kind == "if" and ts.peek()[1] == "if":
            ts.next()
            body = []
            node[1].append((parse_pipeline(ts), body))
            stack[-1] = (kind, node, body)
        else:
            raise Unsupported(f"{ts.where}: else {ts.peek()[1]}")
    elif keyword == "end":
        if kind == "root":
            raise TemplateError(f"{ts.where}: end without a block")
        stack.pop()
        if kind == "define":
            defines[node[0]] = node[1]
    elif keyword == "define":
        token = ts.next()
        if kind != "root" or token[0] != "string":
            raise TemplateError(f"{ts.where}: define needs a name, at the top level")
        body = []
        stack.append(("define", (_unquote(token[1]), body), body))


# --------------------------------------------------------------------------
# Execution

_NO_PIPE = object()


class Renderer:
    def __init__(self, defines: dict[str, list]):
        self.defines = defines
        self.depth = 0

    def include(self, name, data) -> str:
        if name not in self.defines:
            raise TemplateError(f"include: no template {name!r}")
        self.depth += 1
        if self.depth > 100:
            raise TemplateError(f"include {name!r}: nested too deep")
        out: list[str] = []
        self.run(self.defines[name], data, [["$", data]], out)
        self.depth -= 1
        return "".join(out)

    def run(self, body: list, dot, variables: list, out: list[str]) -> None:
        for node in body:
            kind = node[0]
            if kind == "text":
                out.append(node[1])
            elif kind == "action":
                value = self.pipeline(node[1], dot, variables)
                if not node[1].decl:
                    out.append(go_str(value))
            elif kind == "range":
                self._range(node, dot, variables, out)
            else:  # if / with; variables declared inside end with the block
                mark = len(variables)
                for pipe, branch in node[1]:
                    value = self.pipeline(pipe, dot, variables)
                    if truth(value):
                        self.run(branch, value if kind == "with" else dot, variables, out)
                        break
                else:
                    if node[2] is not None:
                        self.run(node[2], dot, variables, out)
                del variables[mark:]

    def _range(self, node, dot, variables, out) -> None:
        pipe, body = node[1][0]
        value = self.pipeline(Pipeline([], None, pipe.commands), dot, variables)
        if value is None:
            items = []
        elif isinstance(value, list):
            items = list(enumerate(value))
        elif isinstance(value, dict):
            items = [(key, value[key]) for key in sorted(value)]  # Go sorts map keys
        else:
            raise Unsupported(f"range over {type(value).__name__}")
        if not items and node[2] is not None:
            self.run(node[2], dot, variables, out)
        for key, item in items:
            mark = len(variables)
            names = pipe.decl
            if len(names) == 1:
                variables.append([names[0], item])
            elif len(names) == 2:
                variables += [[names[0], key], [names[1], item]]
            self.run(body, item, variables, out)
            del variables[mark:]

    def pipeline(self, pipe: Pipeline, dot, variables: list):
        value = _NO_PIPE
        for command in pipe.commands:
            value = self._command(command, dot, variables, value)
        if pipe.op == ":=":
            variables.append([pipe.decl[0], value])
        elif pipe.op == "=":
            self._variable(variables, pipe.decl[0])  # must exist
            for entry in reversed(variables):
                if entry[0] == pipe.decl[0]:
                    entry[1] = value
                    break
        return value

    def _command(self, operands: list, dot, variables: list, piped):
        head = operands[0]
        if head[0] == "ident":
            return self._call(head[1], operands[1:], dot, variables, piped)
        if len(operands) > 1 or piped is not _NO_PIPE:
            raise TemplateError(f"can't give argument to non-function {head!r}")
        return self._operand(head, dot, variables)

    def _operand(self, node: tuple, dot, variables: list):
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "ident":
            return self._call(node[1], [], dot, variables, _NO_PIPE)
        if kind == "dot":
            return _fields(dot, node[1])
        if kind == "var":
            return _fields(self._variable(variables, node[1]), node[2])
        return _fields(self.pipeline(node[1], dot, variables), node[2])

    def _call(self, name: str, arg_nodes: list, dot, variables: list, piped):
        def args():
            for node in arg_nodes:
                yield self._operand(node, dot, variables)
            if piped is not _NO_PIPE:
                yield piped
        if name in ("and", "or"):  # Go evaluates them lazily and returns an argument
            value = None
            for value in args():
                if (name == "and") != truth(value):
                    return value
            return value
        values = list(args())
        if name == "include":
            if len(values) != 2 or not isinstance(values[0], str):
                raise TemplateError("include needs a template name and its data")
            return self.include(*values)
        if name not in FUNCTIONS:
            raise Unsupported(f"function {name!r}")
        try:
            return FUNCTIONS[name](*values)
        except TypeError as err:
            raise TemplateError(f"{name}: {err}") from err

    @staticmethod
    def _variable(variables: list, name: str):
        for entry in reversed(variables):
            if entry[0] == name:
                return entry[1]
        raise TemplateError(f"undefined variable {name}")


def _fields(value, names: list[str]):
    for name in names:
        if isinstance(value, Struct):
            if name not in value:
                raise TemplateError(f"can't evaluate field {name}")
            value = value[name]
        elif isinstance(value, dict):
            value = value.get(name)  # Helm's missingkey=zero: nil
        elif value is None:
            raise TemplateError(f"nil pointer evaluating interface {{}}.{name}")
        else:
            raise TemplateError(f"can't evaluate field {name} in type {type(value).__name__}")
    return value


# --------------------------------------------------------------------------
# Values and the chart


def _merge(base: dict, overlay: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _coalesce(defaults: dict, user: dict) -> dict:
    out = copy.deepcopy(user)
    for key, default in defaults.items():
        if key not in out:
            out[key] = copy.deepcopy(default)
        elif out[key] is None:
            del out[key]  # a null in the user's values removes the chart's default
        elif isinstance(out[key], dict) and isinstance(default, dict):
            out[key] = _coalesce(default, out[key])
    return out


def merge_values(defaults: dict, *overlays: dict) -> dict:
    """What Helm hands the templates (and validates against the schema) for
    `-f a.yaml -f b.yaml`: later files win key by key, then values.yaml fills the rest."""
    user: dict = {}
    for overlay in overlays:
        user = _merge(user, overlay or {})
    return _coalesce(defaults, user)


def _as_float64(value):
    """Helm reads values through JSON into Go: every number becomes a float64."""
    if isinstance(value, dict):
        return {k: _as_float64(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_float64(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _top(values: dict, meta: dict, release: str, namespace: str) -> Struct:
    return Struct(
        Values=_as_float64(values),
        Release=Struct(Name=release, Namespace=namespace, Service="Helm"),
        Chart=Struct(Name=meta["name"], Version=meta["version"],
                     AppVersion=meta.get("appVersion", "")))


def render_string(src: str, values: dict | None = None) -> str:
    """One template text, for checking the renderer itself."""
    body, defines = parse_template(src, "inline")
    top = _top(values or {}, {"name": "inline", "version": "0"}, "release", "default")
    out: list[str] = []
    Renderer(defines).run(body, top, [["$", top]], out)
    return "".join(out)


def render_chart(chart_dir: Path, values: dict, release: str = "release",
                 namespace: str = "default") -> dict[str, str]:
    """{template path: rendered text} for the merged values, as `helm template` would."""
    meta = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    bodies, defines = {}, {}
    for path in sorted((chart_dir / "templates").rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(chart_dir).as_posix()
        bodies[name], found = parse_template(path.read_text(), name)
        for define in found:
            if define in defines:
                raise Unsupported(f"{define!r} defined twice")
        defines.update(found)
    top = _top(values, meta, release, namespace)
    renderer = Renderer(defines)
    rendered = {}
    for name, body in bodies.items():
        base = name.rsplit("/", 1)[-1]
        if base.startswith("_") or base == "NOTES.txt":
            continue
        out: list[str] = []
        renderer.run(body, top, [["$", top]], out)
        rendered[name] = "".join(out)
    return rendered


def render_objects(chart_dir: Path, values: dict, **kw) -> list[dict]:
    """The Kubernetes objects the chart renders, parsed."""
    objects = []
    for text in render_chart(chart_dir, values, **kw).values():
        objects += [doc for doc in yaml.safe_load_all(text) if doc is not None]
    return objects
