"""YAML to plain Python values plus the source position of every node.

PyYAML's constructors forget positions and silently keep the last of duplicate keys; both matter
for a validator whose errors point at file:line:col. We build values from the event stream
(C-accelerated when libyaml is present) iteratively, so deep nesting cannot blow the stack, alias
expansion is budgeted (no "billion laughs"), and duplicate keys become diagnostics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from mm2plan.core.diagnostics import Diagnostic, SourceRange, error

MAX_DEPTH = 64
MAX_NODES = 5_000_000
_STR_TAG = "tag:yaml.org,2002:str"
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

try:
    _Parser: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Parser = yaml.SafeLoader


def join_path(parent: str, key: str | int) -> str:
    """`clusters.dc1.topics["payments.eu"]`: dotted where unambiguous, quoted otherwise."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    part = key if _PLAIN_KEY.match(key) else '"' + key.replace('"', '\\"') + '"'
    if part.startswith('"'):
        return f"{parent}[{part}]"
    return f"{parent}.{part}" if parent else part


@dataclass
class LoadedYaml:
    value: Any
    marks: dict[str, SourceRange] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


class _Frame:
    __slots__ = ("anchor", "container", "key", "key_mark", "merges", "path")

    def __init__(self, container: Any, path: str, anchor: str | None) -> None:
        self.container = container
        self.key: Any = _NO_KEY
        self.key_mark: SourceRange | None = None
        self.path = path
        self.anchor = anchor
        self.merges: list[tuple[Any, yaml.Mark]] = []


_NO_KEY = object()


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.marks: dict[str, SourceRange] = {}
        self.diagnostics: list[Diagnostic] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.nodes = 0
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.documents = 0

    def mark(self, m: Any) -> SourceRange:
        """libyaml's and PyYAML's marks differ in type, not in fields."""
        return SourceRange(self.file, m.line + 1, m.column + 1)

    def child_path(self) -> str:
        if not self.stack:
            return ""
        top = self.stack[-1]
        if isinstance(top.container, list):
            return join_path(top.path, len(top.container))
        return join_path(top.path, str(top.key))

    def scalar(self, event: yaml.ScalarEvent) -> Any:
        if event.tag is None and event.style in ("'", '"'):
            return event.value  # quoted: a string, whatever it looks like
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
        if tag == _STR_TAG:
            return event.value
        node = yaml.ScalarNode(tag, event.value, None, None, event.style)
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError:
            return event.value

    def add(self, value: Any, start: Any, size: int = 1) -> None:
        self.nodes += size
        if self.nodes > MAX_NODES:
            raise _Abort(
                "yaml-syntax",
                "the document expands to too many nodes (alias bomb?)",
                "remove recursive or repeated aliases",
                self.mark(start),
            )
        if not self.stack:
            self.root = value
            self.marks[""] = self.mark(start)
            return
        top = self.stack[-1]
        if isinstance(top.container, list):
            self.marks[join_path(top.path, len(top.container))] = self.mark(start)
            top.container.append(value)
            return
        if top.key is _NO_KEY:
            if isinstance(value, (dict, list)):
                raise _Abort(
                    "yaml-syntax",
                    "a mapping key must be a plain value",
                    "quote the key",
                    self.mark(start),
                )
            top.key, top.key_mark = value, self.mark(start)
            return
        key = top.key
        top.key = _NO_KEY
        if key == "<<":
            top.merges.append((value, start))  # applied at the mapping's end, when complete
            return
        if isinstance(key, (bool, int, float)) or key is None:
            key = _plain_text(key)
        path = join_path(top.path, str(key))
        if key in top.container:
            first = self.marks.get(path)
            where = f" (first at line {first.line})" if first else ""
            self.diagnostics.append(
                error(
                    "duplicate-key",
                    f"duplicate key '{key}'{where}",
                    "YAML keeps only the last one; remove or rename one of them",
                    source=top.key_mark,
                    path=path,
                )
            )
        self.marks[path] = top.key_mark or self.mark(start)
        top.container[key] = value

    def merge(self, frame: _Frame) -> None:
        """YAML merge keys: explicit keys win, earlier merge sources win over later ones."""
        for value, start in frame.merges:
            for src in value if isinstance(value, list) else [value]:
                if not isinstance(src, dict):
                    raise _Abort(
                        "yaml-syntax",
                        "'<<' merge needs a mapping or a list of them",
                        "write '<<: *anchor' with an anchor on a mapping",
                        self.mark(start),
                    )
                for k, v in src.items():
                    frame.container.setdefault(k, v)

    def handle(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise _Abort(
                    "yaml-syntax",
                    "the file holds more than one YAML document",
                    "keep one topology per file (remove the extra '---')",
                    self.mark(event.start_mark),
                )
        elif isinstance(event, yaml.ScalarEvent):
            value = self.scalar(event)
            self.remember(event.anchor, value, 1)
            self.add(value, event.start_mark)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(self.stack) >= MAX_DEPTH:
                raise _Abort(
                    "yaml-syntax",
                    f"nesting deeper than {MAX_DEPTH} levels",
                    "a topology is only a few levels deep; check the indentation",
                    self.mark(event.start_mark),
                )
            container: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
            path = self.child_path()
            self.add(container, event.start_mark)
            self.stack.append(_Frame(container, path, event.anchor))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frame = self.stack.pop()
            if frame.merges:
                self.merge(frame)
            if frame.anchor:  # sized only when an alias may repeat it
                self.remember(frame.anchor, frame.container, _size(frame.container))
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise _Abort(
                    "yaml-syntax",
                    f"unknown alias *{event.anchor}",
                    "define the anchor (&name) before using it",
                    self.mark(event.start_mark),
                )
            value, size = self.anchors[event.anchor]
            self.add(value, event.start_mark, size)

    def remember(self, anchor: str | None, value: Any, size: int) -> None:
        if anchor:
            self.anchors[anchor] = (value, size)


def _size(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(_size(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_size(v) for v in value)
    return 1


def _plain_text(value: Any) -> str:
    """A non-string key as the user wrote it would read (YAML 1.1 turns `on:` into True)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Abort(Exception):
    def __init__(self, code: str, message: str, hint: str, source: SourceRange | None) -> None:
        super().__init__(message)
        self.diagnostic = error(code, message, hint, source=source)


def load_yaml(text: str, file: str) -> LoadedYaml:
    """Parse one YAML document; every failure is a diagnostic, never an exception."""
    builder = _Builder(file)
    loader = _Parser(text)
    try:
        while loader.check_event():
            builder.handle(loader.get_event())
    except _Abort as exc:
        return LoadedYaml(None, builder.marks, [*builder.diagnostics, exc.diagnostic])
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        src = SourceRange(file, m.line + 1, m.column + 1) if m else SourceRange(file, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        return LoadedYaml(
            None,
            builder.marks,
            [
                *builder.diagnostics,
                error(
                    "yaml-syntax",
                    f"invalid YAML: {problem}",
                    "check indentation, quoting and ':' separators around this position",
                    source=src,
                ),
            ],
        )
    except yaml.YAMLError as exc:
        return LoadedYaml(
            None,
            builder.marks,
            [
                *builder.diagnostics,
                error("yaml-syntax", f"invalid YAML: {exc}", "", source=SourceRange(file, 1, 1)),
            ],
        )
    finally:
        loader.dispose()
    return LoadedYaml(builder.root, builder.marks, builder.diagnostics)
