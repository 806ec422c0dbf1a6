"""Parsing of client-supplied image sources: RFC 2397 ``data:`` URLs and bare Base64.

Base64 policy (the same for both forms):

* Whitespace: spaces and RFC 2045 line breaks (``\\r\\n``, ``\\n``, lone ``\\r``) are removed
  anywhere in the payload before anything else; every other character outside the alphabet
  (tabs included) is an error. Nothing is ever skipped silently.
* Alphabet: the standard (``+/``) and the URL-safe (``-_``) alphabets are both accepted; a
  payload using characters of both is refused.
* Padding: ``=`` may only end the payload. Padded input must have a length that is a multiple
  of 4 with the right number of ``=``. Unpadded input is accepted when its length mod 4 is 2 or 3
  (the only lengths a real encoder can leave); length mod 4 == 1 is never valid.
* Canonical form: the unused low bits of the last character must be zero, so each byte string
  has exactly one accepted encoding per alphabet.
* Percent-encoding inside ``data:`` URLs is not decoded; ``%`` is an invalid character.

Remote URLs (``http``/``https``) are refused: the service never fetches on a client's behalf.
"""

from __future__ import annotations

import binascii
import re

import pybase64

from pipelines.core.errors import InvalidRequestError, PayloadTooLargeError

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_MEDIA_TYPE_RE = re.compile(r"[a-z0-9!#$&^_.+\-]+/[a-z0-9!#$&^_.+\-]+")
_INVALID_CHAR_RE = re.compile(r"[^A-Za-z0-9+/\-_]")

_STANDARD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_URLSAFE_ALPHABET = _STANDARD_ALPHABET[:-2] + "-_"
_URLSAFE_ALTCHARS = b"-_"
_STRIPPED_WHITESPACE = ("\r", "\n", " ")
_QUANTUM = 4  # Base64 characters per 3 bytes
_MAX_PADDING = 2
# Bits of the last character that carry no data, by (unpadded length mod 4).
_UNUSED_BITS_MASK = {2: 0b1111, 3: 0b11}

_REMOTE_SCHEMES = frozenset({"http", "https"})


def parse_image_source(source: str, *, max_encoded_bytes: int, param: str = "image") -> tuple[str | None, bytes]:
    """Return ``(declared media type or None, raw bytes)`` of a data URL or bare Base64 string.

    The declared type is lower-cased and stripped of parameters but not otherwise judged;
    ``pipelines.inputs.images.decode_image`` compares it with the bytes.
    """
    if not isinstance(source, str):
        raise InvalidRequestError("The image must be a string.", param=param, code="invalid_type")
    text = source.strip(" \r\n")
    match = _SCHEME_RE.match(text)
    if match is None:
        return None, decode_base64(text, max_decoded_bytes=max_encoded_bytes, param=param)
    scheme = match.group(1).lower()
    if scheme == "data":
        return _parse_data_url(text[match.end() :], max_encoded_bytes=max_encoded_bytes, param=param)
    if scheme in _REMOTE_SCHEMES:
        raise InvalidRequestError(
            "Remote image URLs are disabled; send the image inline as a base64 data URL.",
            param=param,
            code="remote_url_not_allowed",
        )
    raise InvalidRequestError(
        f"Unsupported URL scheme {scheme!r}; send the image as a base64 data URL.",
        param=param,
        code="unsupported_url_scheme",
    )


def _parse_data_url(rest: str, *, max_encoded_bytes: int, param: str) -> tuple[str | None, bytes]:
    """Parse what follows ``data:``: ``[<mediatype>][;attr=value]*;base64,<payload>``."""
    header, comma, payload = rest.partition(",")
    if not comma:
        raise InvalidRequestError("Malformed data URL: no ',' before the data.", param=param, code="invalid_data_url")
    media_type, *tokens = header.split(";")
    if not tokens or tokens[-1].strip().lower() != "base64":
        raise InvalidRequestError(
            "Only base64 data URLs are supported (data:<media type>;base64,<data>).",
            param=param,
            code="invalid_data_url",
        )
    if any("=" not in token for token in tokens[:-1]):
        raise InvalidRequestError(
            "Malformed data URL: media type parameters must be attribute=value.",
            param=param,
            code="invalid_data_url",
        )
    declared = _parse_media_type(media_type, param=param)
    return declared, decode_base64(payload, max_decoded_bytes=max_encoded_bytes, param=param)


def _parse_media_type(media_type: str, *, param: str) -> str | None:
    """An empty media type means "not declared" (RFC 2397's text/plain default is meaningless here)."""
    normalized = media_type.strip().lower()
    if not normalized:
        return None
    if _MEDIA_TYPE_RE.fullmatch(normalized) is None:
        raise InvalidRequestError("Malformed media type in data URL.", param=param, code="invalid_data_url")
    return normalized


def decode_base64(text: str, *, max_decoded_bytes: int, param: str) -> bytes:
    """Strictly decode ``text`` following the module's Base64 policy, checking size first."""
    for char in _STRIPPED_WHITESPACE:
        text = text.replace(char, "")
    if not text:
        raise InvalidRequestError("The image data is empty.", param=param, code="empty_image")
    body = text.rstrip("=")
    padding = len(text) - len(body)
    if len(body) * 3 // _QUANTUM > max_decoded_bytes:
        raise PayloadTooLargeError(
            f"The image is larger than the limit of {max_decoded_bytes} bytes.",
            param=param,
            code="image_too_large",
        )
    urlsafe = _detect_alphabet(body, param=param)
    _check_layout(body, padding, param=param)
    padded = body + "=" * (-len(body) % _QUANTUM)
    try:
        data = pybase64.b64decode(
            padded.encode("ascii"), altchars=_URLSAFE_ALTCHARS if urlsafe else None, validate=True
        )
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise _invalid_character_error(body, param) from None
    _check_canonical(body, urlsafe, param=param)
    return data


def _detect_alphabet(body: str, *, param: str) -> bool:
    """True for the URL-safe alphabet; refuses payloads that mix both."""
    standard = "+" in body or "/" in body
    urlsafe = "-" in body or "_" in body
    if standard and urlsafe:
        raise InvalidRequestError(
            "Invalid base64: mixes the standard (+/) and URL-safe (-_) alphabets.",
            param=param,
            code="invalid_base64",
        )
    return urlsafe


def _check_layout(body: str, padding: int, *, param: str) -> None:
    if "=" in body:
        raise _base64_error("padding '=' may only appear at the end", param)
    if padding > _MAX_PADDING:
        raise _base64_error("too much '=' padding", param)
    remainder = len(body) % _QUANTUM
    if remainder == 1:
        raise _base64_error("impossible length (one character too many or too few)", param)
    if padding and padding != -len(body) % _QUANTUM:
        raise _base64_error("incorrect '=' padding", param)


def _check_canonical(body: str, urlsafe: bool, *, param: str) -> None:
    mask = _UNUSED_BITS_MASK.get(len(body) % _QUANTUM)
    if mask is None:
        return
    alphabet = _URLSAFE_ALPHABET if urlsafe else _STANDARD_ALPHABET
    if alphabet.index(body[-1]) & mask:
        raise _base64_error("non-zero trailing bits in the last character (non-canonical encoding)", param)


def _invalid_character_error(body: str, param: str) -> InvalidRequestError:
    match = _INVALID_CHAR_RE.search(body)
    if match is None:
        return _base64_error("malformed data", param)
    return _base64_error(
        f"character {match.group()!r} at position {match.start()} (whitespace ignored) is not allowed", param
    )


def _base64_error(reason: str, param: str) -> InvalidRequestError:
    return InvalidRequestError(f"Invalid base64 image data: {reason}.", param=param, code="invalid_base64")
