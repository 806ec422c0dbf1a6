"""Reading the nsfwjs tarball: bounded members, and JavaScript literals read (never run) with esprima."""

from __future__ import annotations

import base64
import re
import tarfile
from collections.abc import Iterator
from typing import Any

import esprima

from pipelines.moderation.images.nsfw_convert import ConversionError

# Where the package keeps its default model, its classes, the input size and its licence.
MODEL_MEMBER_DIR = "package/dist/models/mobilenet_v2"
CLASSES_MEMBER = "package/dist/cjs/nsfw_classes.js"
CORE_MEMBER = "package/dist/cjs/core.js"
LICENCE_MEMBER = "package/LICENSE"


def read_member(archive: tarfile.TarFile, name: str, limit: int) -> str:
    try:
        member = archive.getmember(name)
    except KeyError as exc:
        raise ConversionError(f"the package has no {name}") from exc
    if not member.isfile() or member.size > limit:
        raise ConversionError(f"{name}: not a regular file of at most {limit} bytes")
    handle = archive.extractfile(member)
    if handle is None:
        raise ConversionError(f"{name}: unreadable")
    return handle.read().decode("utf-8")


def _nodes(node: Any) -> Iterator[Any]:
    """Every esprima node under ``node`` (iteratively: a bundle nests deeper than is safe to recurse)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, esprima.nodes.Node):
            yield current
            stack.extend(vars(current).values())
        elif isinstance(current, list):
            stack.extend(current)


def js_literal(node: Any) -> Any:
    """A JavaScript literal expression (objects, arrays, strings, numbers, ``!0``/``!1``, ``-x``) as Python."""
    kind = node.type
    if kind == "Literal":
        return node.value
    if kind == "ObjectExpression":
        out: dict[str, Any] = {}
        for prop in node.properties:
            if prop.type != "Property" or prop.computed:
                raise ConversionError(f"unsupported object property {prop.type}")
            key = prop.key.name if prop.key.type == "Identifier" else prop.key.value
            out[str(key)] = js_literal(prop.value)
        return out
    if kind == "ArrayExpression":
        return [js_literal(element) for element in node.elements]
    if kind == "UnaryExpression" and node.operator == "!":
        return not js_literal(node.argument)
    if kind == "UnaryExpression" and node.operator == "-":
        return -js_literal(node.argument)
    raise ConversionError(f"not a literal: {kind}")


def assigned_literal(source: str, target: str) -> Any:
    """The literal assigned to ``<anything>.<target>`` in a script (a bundle's ``module.exports = {...}``)."""
    for node in _nodes(esprima.parseScript(source)):
        if (
            node.type == "AssignmentExpression"
            and node.left.type == "MemberExpression"
            and not node.left.computed
            and node.left.property.name == target
            and node.right.type in ("ObjectExpression", "ArrayExpression", "Literal")
        ):
            return js_literal(node.right)
    raise ConversionError(f"no literal assigned to .{target}")


# A weight shard module is one base64 string literal in a browserify wrapper: ``h.exports="..."``.
_BASE64_EXPORT = re.compile(r'\.exports="([A-Za-z0-9+/]*={0,2})"')


def exported_base64(source: str) -> bytes:
    """The bytes of a shard module's one exported base64 literal.

    A strict, linear-time pattern instead of the JavaScript parser, which needs seconds for the
    3.5 MB string; the decoded length is checked against the weight manifest afterwards.
    """
    found = _BASE64_EXPORT.findall(source)
    if len(found) != 1:
        raise ConversionError(f"expected one exported base64 literal, found {len(found)}")
    return base64.b64decode(found[0], validate=True)


def declared_literal(source: str, name: str) -> Any:
    """The literal initialising ``var <name> = ...`` in a script."""
    for node in _nodes(esprima.parseScript(source)):
        if node.type == "VariableDeclarator" and node.id.name == name and node.init is not None:
            return js_literal(node.init)
    raise ConversionError(f"no variable {name} with a literal value")
