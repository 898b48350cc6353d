"""YAML to plain Python values plus the source position of every node.

PyYAML's constructors forget positions and silently keep the last of duplicate keys; both matter
for a validator whose errors point at file:line:col. We build values from the event stream
(C-accelerated when libyaml is present) in one loop, so deep nesting cannot blow the stack, alias
expansion is budgeted (no "billion laughs"), and duplicate keys become diagnostics.

Speed matters here: `validate` of a 10,000-topic file is mostly this loop. So a plain scalar is
resolved once per distinct text, and positions are kept as the parser's own marks in a tree
beside the values; the dotted paths that diagnostics look them up by are built only when the
first lookup asks (a valid file never pays for them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from mm2plan.core.diagnostics import Diagnostic, SourceRange, error
from mm2plan.core.model import join_path

MAX_DEPTH = 64
MAX_NODES = 5_000_000
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVED_FIRST_CHARS = frozenset(k for k in yaml.resolver.Resolver.yaml_implicit_resolvers if k)
"""First characters for which YAML 1.1 may read a plain scalar as something else than a string
(numbers, booleans, null, timestamps...); a plain scalar starting otherwise is a string."""
_WORD_TAGS = frozenset({"tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"})
_WORDS_ONLY = frozenset(
    k
    for k, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    if k and all(tag in _WORD_TAGS for tag, _ in resolvers)
)
"""First characters (letters) of which only booleans and null are read: `yes`..`false`, `null`,
five characters at most, so a longer plain scalar (`t0001`, `orders`) is a string."""

try:
    _Parser: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Parser = yaml.SafeLoader


_Entry = tuple[Any, Any]
"""(the parser's mark of a node, its children's entries: a dict by key, a list, or None)."""


class Marks(Mapping[str, SourceRange]):
    """Source position by dotted path (`flows[0].target`), as `join_path` spells paths.

    Built from the mark tree on the first lookup: a valid file, which no diagnostic points into,
    never builds the ~60,000 path strings of a 10,000-topic file."""

    def __init__(self, file: str, root: _Entry | None = None) -> None:
        self._file = file
        self._root = root
        self._flat: dict[str, SourceRange] | None = None

    def _paths(self) -> dict[str, SourceRange]:
        if self._flat is None:
            flat: dict[str, SourceRange] = {}
            if self._root is not None:
                todo: list[tuple[str, _Entry]] = [("", self._root)]
                while todo:
                    path, (mark, children) = todo.pop()
                    flat[path] = SourceRange(self._file, mark.line + 1, mark.column + 1)
                    if isinstance(children, dict):
                        todo.extend((join_path(path, str(k)), e) for k, e in children.items())
                    elif children is not None:
                        todo.extend((join_path(path, i), e) for i, e in enumerate(children))
            self._flat = flat
        return self._flat

    def __getitem__(self, path: str) -> SourceRange:
        return self._paths()[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths())

    def __len__(self) -> int:
        return len(self._paths())


@dataclass
class LoadedYaml:
    value: Any
    marks: Mapping[str, SourceRange] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


class _Frame:
    """An open mapping or sequence: where its values and its children's marks go."""

    __slots__ = ("anchor", "children", "container", "is_map", "key", "key_mark", "merges", "name")

    def __init__(self, container: Any, children: Any, name: Any, anchor: str | None) -> None:
        self.container = container
        self.children = children
        self.is_map = isinstance(container, dict)
        self.key: Any = _NO_KEY
        self.key_mark: Any = None
        self.name = name
        """The key or index under which the parent holds it (None: the document root)."""
        self.anchor = anchor
        self.merges: list[tuple[Any, Any]] | None = None


_NO_KEY = object()


class _Abort(Exception):
    def __init__(self, code: str, message: str, hint: str, source: SourceRange | None) -> None:
        super().__init__(message)
        self.diagnostic = error(code, message, hint, source=source)


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.nodes = 0
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.plain: dict[str, Any] = {}
        """Plain scalar text -> its value: a file repeats `partitions`, `config`, `3`..."""
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.root_entry: _Entry | None = None
        self.documents = 0

    def marks(self) -> Marks:
        return Marks(self.file, self.root_entry)

    def mark(self, m: Any) -> SourceRange:
        """libyaml's and PyYAML's marks differ in type, not in fields."""
        return SourceRange(self.file, m.line + 1, m.column + 1)

    def path_of(self, frame_count: int, key: Any) -> str:
        path = ""
        for frame in self.stack[1:frame_count]:
            assert frame.name is not None
            path = join_path(path, frame.name if isinstance(frame.name, int) else str(frame.name))
        return join_path(path, str(key))

    def resolve(self, event: Any) -> Any:
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

    def count(self, size: int, start: Any) -> None:
        self.nodes += size
        if self.nodes > MAX_NODES:
            raise _Abort(
                "yaml-syntax",
                "the document expands to too many nodes (alias bomb?)",
                "remove recursive or repeated aliases",
                self.mark(start),
            )

    def add(self, value: Any, start: Any, children: Any) -> None:
        """Put a finished scalar, an alias or a just-opened container where it belongs."""
        stack = self.stack
        if not stack:
            self.root = value
            self.root_entry = (start, children)
            return
        top = stack[-1]
        if not top.is_map:
            top.children.append((start, children))
            top.container.append(value)
            return
        key = top.key
        if key is _NO_KEY:
            if isinstance(value, (dict, list)):
                raise _Abort(
                    "yaml-syntax",
                    "a mapping key must be a plain value",
                    "quote the key",
                    self.mark(start),
                )
            top.key, top.key_mark = value, start
            return
        top.key = _NO_KEY
        if key == "<<":
            if top.merges is None:
                top.merges = []
            top.merges.append((value, start))  # applied at the mapping's end, when complete
            return
        key = _key_text(key)
        if key in top.container:
            first = top.children.get(key)
            where = f" (first at line {first[0].line + 1})" if first else ""
            self.diagnostics.append(
                error(
                    "duplicate-key",
                    f"duplicate key '{key}'{where}",
                    "YAML keeps only the last one; remove or rename one of them",
                    source=self.mark(top.key_mark),
                    path=self.path_of(len(stack), key),
                )
            )
        top.children[key] = (top.key_mark or start, children)
        top.container[key] = value

    def merge(self, frame: _Frame) -> None:
        """YAML merge keys: explicit keys win, earlier merge sources win over later ones."""
        for value, start in frame.merges or ():
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

    def open(self, event: Any, container: Any) -> None:
        """A mapping or sequence starts: put it in its parent (inline for a new plain key or an
        item, as `add` would) and make it the one values go into."""
        stack = self.stack
        start = event.start_mark
        if len(stack) >= MAX_DEPTH:
            raise _Abort(
                "yaml-syntax",
                f"nesting deeper than {MAX_DEPTH} levels",
                "a topology is only a few levels deep; check the indentation",
                self.mark(start),
            )
        self.count(1, start)
        children: Any = {} if type(container) is dict else []
        name: Any = None
        if stack:
            top = stack[-1]
            if not top.is_map:
                name = len(top.container)
                top.children.append((start, children))
                top.container.append(container)
                stack.append(_Frame(container, children, name, event.anchor))
                return
            name = top.key
            if type(name) is str and name != "<<" and name not in top.container:
                top.key = _NO_KEY
                top.children[name] = (top.key_mark, children)
                top.container[name] = container
                stack.append(_Frame(container, children, name, event.anchor))
                return
            name = _key_text(name)
        self.add(container, start, children)
        stack.append(_Frame(container, children, name, event.anchor))

    def close(self) -> None:
        frame = self.stack.pop()
        if frame.merges:
            self.merge(frame)
        if frame.anchor:  # sized only when an alias may repeat it
            self.anchors[frame.anchor] = (frame.container, _size(frame.container))

    def run(self, loader: Any) -> None:
        """The event loop. Scalars, nine events in ten, are handled inline: plain text seen
        before is looked up, and a mapping's value or a sequence's item is stored directly."""
        get_event = loader.get_event
        plain = self.plain
        stack = self.stack
        scalar_event = yaml.ScalarEvent
        ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
        while True:
            event = get_event()
            if event is None:
                return
            kind = type(event)
            if kind is scalar_event:
                if event.tag is None:
                    if event.implicit[0]:
                        text = event.value
                        value = plain.get(text, _NO_KEY)
                        if value is _NO_KEY:
                            value = plain[text] = (
                                text
                                if text
                                and (
                                    text[0] not in _RESOLVED_FIRST_CHARS
                                    or (len(text) > 5 and text[0] in _WORDS_ONLY)
                                )
                                else self.resolve(event)
                            )
                    else:
                        value = event.value  # quoted or block: a string, whatever it looks like
                else:
                    value = self.resolve(event)
                if event.anchor:
                    self.anchors[event.anchor] = (value, 1)
                self.nodes += 1
                if self.nodes > MAX_NODES:
                    self.count(0, event.start_mark)
                if stack:
                    top = stack[-1]
                    if top.is_map:
                        key = top.key
                        if key is _NO_KEY:
                            top.key, top.key_mark = value, event.start_mark
                            continue
                        if type(key) is str and key != "<<" and key not in top.container:
                            top.key = _NO_KEY
                            top.children[key] = (top.key_mark, None)
                            top.container[key] = value
                            continue
                    else:
                        top.children.append((event.start_mark, None))
                        top.container.append(value)
                        continue
                self.add(value, event.start_mark, None)
            elif kind in ends:
                self.close()
            elif kind is yaml.MappingStartEvent:
                self.open(event, {})
            elif kind is yaml.SequenceStartEvent:
                self.open(event, [])
            elif kind is yaml.AliasEvent:
                if event.anchor not in self.anchors:
                    raise _Abort(
                        "yaml-syntax",
                        f"unknown alias *{event.anchor}",
                        "define the anchor (&name) before using it",
                        self.mark(event.start_mark),
                    )
                value, size = self.anchors[event.anchor]
                self.count(size, event.start_mark)
                self.add(value, event.start_mark, None)
            elif kind is yaml.DocumentStartEvent:
                self.documents += 1
                if self.documents > 1:
                    raise _Abort(
                        "yaml-syntax",
                        "the file holds more than one YAML document",
                        "keep one topology per file (remove the extra '---')",
                        self.mark(event.start_mark),
                    )


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


def _key_text(key: Any) -> Any:
    """Numbers, booleans and null as mapping keys become their text; other keys stay."""
    if isinstance(key, (bool, int, float)) or key is None:
        return _plain_text(key)
    return key


def load_yaml(text: str, file: str) -> LoadedYaml:
    """Parse one YAML document; every failure is a diagnostic, never an exception."""
    builder = _Builder(file)
    loader = _Parser(text)
    try:
        builder.run(loader)
    except _Abort as exc:
        return LoadedYaml(None, builder.marks(), [*builder.diagnostics, exc.diagnostic])
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        src = SourceRange(file, m.line + 1, m.column + 1) if m else SourceRange(file, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        return LoadedYaml(
            None,
            builder.marks(),
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
            builder.marks(),
            [
                *builder.diagnostics,
                error("yaml-syntax", f"invalid YAML: {exc}", "", source=SourceRange(file, 1, 1)),
            ],
        )
    finally:
        loader.dispose()
    return LoadedYaml(builder.root, builder.marks(), builder.diagnostics)
