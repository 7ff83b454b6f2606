"""A bounded OSC 1.0 decoder and address-pattern matcher for packets from anyone on the network.

Every step is checked against the bytes that are really there, so a packet of ``n`` bytes costs
O(n) to decode whatever it claims: sizes must be non-negative, 4-aligned and fit what is left;
strings must be NUL-terminated and padded inside the packet; bundles may nest only
:data:`MAX_BUNDLE_DEPTH` deep; a packet holds at most :data:`MAX_MESSAGES` messages. Bundle timetags
are read and ignored: every message is handled the moment its packet arrives.

Address patterns (``?``, ``*``, ``[a-z]``, ``[!abc]``, ``{foo,bar}``, each within one ``/`` part as
OSC 1.0 says) are matched by a dynamic programme over (pattern token, text position), never by
backtracking: the cost is bounded by tokens x (text length + 1) x alternatives, and patterns are at
most :data:`MAX_ADDRESS_CHARS` long.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import NamedTuple

from rtloop.errors import RtloopError

MAX_PACKET_BYTES = 4096  # control messages are a few dozen bytes; bigger datagrams are refused whole
MAX_BUNDLE_DEPTH = 8
MAX_MESSAGES = 64
MAX_ADDRESS_CHARS = 256
TYPE_TAGS = "ifsbhdtTFNI"
PATTERN_CHARS = frozenset("*?[]{}")
BUNDLE_TAG = b"#bundle\0"


class OscDecodeError(RtloopError, ValueError):
    """A packet that is not valid OSC 1.0 (or exceeds rtloop's limits); the message says why, briefly."""


@dataclass(frozen=True)
class OscMessage:
    """One decoded message: its address (or address pattern), type tags (no comma) and values.

    Values by tag: ``i h t`` int, ``f d`` float, ``s`` str, ``b`` bytes, ``T`` True, ``F`` False,
    ``N`` None, ``I`` (Infinitum) ``math.inf``.
    """

    address: str
    tags: str
    args: tuple[object, ...]


def decode_packet(data: bytes) -> list[OscMessage]:
    """Decode one UDP datagram: a message, or a bundle of messages and bundles (timetags ignored).

    Args:
        data: the datagram.

    Returns:
        The messages in packet order.

    Raises:
        OscDecodeError: the packet is malformed or exceeds a limit; nothing of it should be used.
    """
    if len(data) > MAX_PACKET_BYTES:
        raise OscDecodeError(f"packet over the {MAX_PACKET_BYTES}-byte limit")
    messages: list[OscMessage] = []
    _decode_element(bytes(data), 0, messages)
    return messages


def _decode_element(data: bytes, depth: int, out: list[OscMessage]) -> None:
    if not data:
        raise OscDecodeError("empty packet")
    if len(data) % 4:
        raise OscDecodeError(f"size {len(data)} is not a multiple of 4")
    if data[:1] == b"/":
        if len(out) >= MAX_MESSAGES:
            raise OscDecodeError(f"more than {MAX_MESSAGES} messages in one packet")
        out.append(_decode_message(data))
        return
    if not data.startswith(BUNDLE_TAG):
        raise OscDecodeError("not OSC: a packet starts with '/' (message) or '#bundle'")
    if depth >= MAX_BUNDLE_DEPTH:
        raise OscDecodeError(f"bundles nested deeper than {MAX_BUNDLE_DEPTH}")
    if len(data) < 16:
        raise OscDecodeError("bundle shorter than its 16-byte header")
    pos = 16  # bytes 8..15 are the timetag, ignored on purpose: a far-future one must not delay anything
    while pos < len(data):
        if len(data) - pos < 4:
            raise OscDecodeError("bundle element size truncated")
        (size,) = struct.unpack_from(">i", data, pos)
        pos += 4
        if size <= 0 or size % 4 or size > len(data) - pos:
            raise OscDecodeError(f"bundle element size {size} is invalid ({len(data) - pos} bytes left)")
        _decode_element(data[pos : pos + size], depth + 1, out)
        pos += size


def _read_string(data: bytes, pos: int, what: str) -> tuple[bytes, int]:
    """(raw bytes, position after the padding) of the NUL-terminated string at 4-aligned ``pos``."""
    end = data.find(b"\0", pos)
    if end < 0:
        raise OscDecodeError(f"{what} has no terminating NUL")
    return data[pos:end], (end // 4 + 1) * 4  # the packet is 4-aligned, so the padding is inside it


def _decode_message(data: bytes) -> OscMessage:
    raw, pos = _read_string(data, 0, "address")
    if len(raw) > MAX_ADDRESS_CHARS:
        raise OscDecodeError(f"address of {len(raw)} characters is over the {MAX_ADDRESS_CHARS} limit")
    if not all(0x21 <= c <= 0x7E for c in raw):
        raise OscDecodeError("address holds non-printable or non-ASCII characters")
    address = raw.decode("ascii")
    if pos == len(data):  # OSC 1.0 asks receivers to accept messages without a type tag string
        return OscMessage(address, "", ())
    tag_bytes, pos = _read_string(data, pos, "type tag string")
    if tag_bytes[:1] != b",":
        raise OscDecodeError("type tag string does not start with ','")
    tags = tag_bytes[1:].decode("ascii", errors="replace")
    args: list[object] = []
    for tag in tags:
        if tag not in TYPE_TAGS:
            raise OscDecodeError(f"unsupported type tag {tag!r}")
        value, pos = _read_argument(data, pos, tag)
        args.append(value)
    if pos != len(data):
        raise OscDecodeError(f"{len(data) - pos} bytes after the last argument")
    return OscMessage(address, tags, tuple(args))


_FIXED = {"i": (">i", 4), "f": (">f", 4), "h": (">q", 8), "d": (">d", 8), "t": (">Q", 8)}
_NO_DATA: dict[str, object] = {"T": True, "F": False, "N": None, "I": math.inf}


def _read_argument(data: bytes, pos: int, tag: str) -> tuple[object, int]:
    if tag in _NO_DATA:
        return _NO_DATA[tag], pos
    if tag in _FIXED:
        fmt, size = _FIXED[tag]
        if len(data) - pos < size:
            raise OscDecodeError(f"argument {tag!r} truncated")
        return struct.unpack_from(fmt, data, pos)[0], pos + size
    if tag == "s":
        raw, pos = _read_string(data, pos, "string argument")
        return raw.decode("utf-8", errors="replace"), pos
    # "b": int32 size, then the bytes padded to 4
    if len(data) - pos < 4:
        raise OscDecodeError("blob size truncated")
    (size,) = struct.unpack_from(">i", data, pos)
    pos += 4
    padded = (size + 3) // 4 * 4
    if size < 0 or padded > len(data) - pos:
        raise OscDecodeError(f"blob size {size} is invalid ({len(data) - pos} bytes left)")
    return data[pos : pos + size], pos + padded


# --- address patterns -------------------------------------------------------------------------------


class _Token(NamedTuple):
    """One pattern element: ``*``; a set of words (``{a,b}``, or one literal character); or a character
    class (``[a-z]``; ``?`` is the empty class negated: any character)."""

    star: bool = False
    words: tuple[str, ...] = ()
    chars: frozenset[str] = frozenset()
    negate: bool = False


_STAR = _Token(star=True)
_ANY = _Token(negate=True)


def is_pattern(address: str) -> bool:
    """Whether ``address`` uses OSC pattern characters (else it can only match itself)."""
    return not PATTERN_CHARS.isdisjoint(address)


def _char_class(body: str) -> _Token:
    negate = body.startswith("!")
    body = body[1:] if negate else body
    chars: set[str] = set()
    k = 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            low, high = sorted((body[k], body[k + 2]))
            chars.update(chr(x) for x in range(ord(low), ord(high) + 1))
            k += 3
        else:
            chars.add(body[k])
            k += 1
    return _Token(chars=frozenset(chars), negate=negate)


def _tokenize(part: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(part):
        c = part[i]
        if c == "*":
            if not tokens or tokens[-1] != _STAR:  # '**' matches what '*' matches
                tokens.append(_STAR)
        elif c == "?":
            tokens.append(_ANY)
        elif c in "[{":
            close = "]" if c == "[" else "}"
            end = part.find(close, i + 1)
            if end < 0:
                raise OscDecodeError(f"address pattern has {c!r} without {close!r}")
            body = part[i + 1 : end]
            tokens.append(_char_class(body) if c == "[" else _Token(words=tuple(body.split(","))))
            i = end
        elif c in "]}":
            raise OscDecodeError(f"address pattern has an unmatched {c!r}")
        else:
            tokens.append(_Token(words=(c,)))
        i += 1
    return tokens


def _match_part(tokens: list[_Token], text: str) -> tuple[bool, int]:
    """(matched, steps): the set of text positions reachable after each token, one token at a time."""
    n = len(text)
    reach = [0]
    steps = 0
    for token in tokens:
        if token.star:
            reach = list(range(reach[0], n + 1))
            steps += len(reach)
            continue
        following: set[int] = set()
        for j in reach:
            if token.words:
                for word in token.words:
                    steps += 1
                    if text.startswith(word, j):
                        following.add(j + len(word))
            else:
                steps += 1
                if j < n and (text[j] in token.chars) != token.negate:
                    following.add(j + 1)
        if not following:
            return False, steps
        reach = sorted(following)
    return n in reach, steps


def match_steps(pattern: str, address: str) -> tuple[bool, int]:
    """Match an OSC address pattern against a concrete address, counting the matcher's steps.

    Args:
        pattern: the address of a received message (may hold pattern characters).
        address: one of rtloop's own addresses.

    Returns:
        (whether it matches, steps taken); steps <= tokens x (len(address) + 1) x alternatives.

    Raises:
        OscDecodeError: the pattern is malformed (unclosed ``[`` or ``{``) or over the length limit.
    """
    if len(pattern) > MAX_ADDRESS_CHARS:
        raise OscDecodeError(f"address pattern over the {MAX_ADDRESS_CHARS}-character limit")
    pattern_parts, address_parts = pattern.split("/"), address.split("/")
    tokenized = [_tokenize(part) for part in pattern_parts]
    if len(pattern_parts) != len(address_parts):
        return False, 0
    total = 0
    for tokens, text in zip(tokenized, address_parts, strict=True):
        matched, steps = _match_part(tokens, text)
        total += steps
        if not matched:
            return False, total
    return True, total


def osc_match(pattern: str, address: str) -> bool:
    """Whether the OSC address pattern ``pattern`` matches ``address`` (see :func:`match_steps`)."""
    return match_steps(pattern, address)[0]
