"""YAML reading that refuses alias bombs ("billion laughs") before anything walks the data.

``yaml.safe_load`` builds aliases as shared objects, so a 1 KB file of nested anchors loads
quickly but stands for billions of nodes: the first code that walks it (the ``{root}`` path
expansion of ``validate``, a config dump) never finishes. A recursive alias (``&a [*a]``) makes
such walks loop forever. The document's node graph is therefore measured after composing and
before constructing: more than :data:`MAX_EXPANDED_NODES` nodes once aliases are expanded, or any
recursive alias, is refused.
"""

from __future__ import annotations

from typing import IO, Any

import yaml

#: Far above any task file (a few hundred nodes), far below what hangs a walk.
MAX_EXPANDED_NODES = 100_000


class YAMLBombError(yaml.YAMLError):
    """A YAML document whose aliases expand past the bound, or refer to themselves."""


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes of ``root`` with aliases expanded, stopping as soon as ``limit`` is passed."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:
            raise YAMLBombError(f"a recursive alias (line {node.start_mark.line + 1})")
        in_progress.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [item for pair in node.value for item in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > limit:
                raise YAMLBombError(
                    f"aliases expand to more than {limit} nodes (an alias bomb?) "
                    f"(line {node.start_mark.line + 1})"
                )
        in_progress.discard(key)
        sizes[key] = total
        return total

    return size(root)


class BoundedSafeLoader(yaml.SafeLoader):
    """``SafeLoader`` (no code-running tags) that measures each document before building it."""

    max_expanded_nodes = MAX_EXPANDED_NODES

    def construct_document(self, node: yaml.Node) -> Any:
        _expanded_size(node, self.max_expanded_nodes)
        return super().construct_document(node)


def safe_load_bounded(stream: str | bytes | IO[str] | IO[bytes]) -> Any:
    """``yaml.safe_load`` with alias bombs and recursive aliases refused (``YAMLBombError``)."""
    try:
        return yaml.load(stream, Loader=BoundedSafeLoader)  # a SafeLoader: no code-running tags
    except RecursionError:
        raise YAMLBombError("nested too deeply to read") from None
