from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.errors import InvalidRequestError, PayloadTooLargeError, ServiceError
from pipelines.inputs import data_url
from pipelines.inputs.data_url import parse_image_source

PARAM = "messages[0].content[1].image_url.url"
LIMIT = 1024
PAYLOAD = bytes(range(256)) * 2  # every byte value, 512 bytes


def parse(source: str, limit: int = LIMIT) -> tuple[str | None, bytes]:
    return parse_image_source(source, max_encoded_bytes=limit, param=PARAM)


def expect_error(source: str, cls: type[ServiceError], code: str, limit: int = LIMIT) -> ServiceError:
    with pytest.raises(cls) as info:
        parse(source, limit)
    assert type(info.value) is cls
    assert info.value.code == code
    assert info.value.param == PARAM
    return info.value


# --- accepted ------------------------------------------------------------------------------------


def test_bare_standard_base64() -> None:
    assert parse(base64.b64encode(PAYLOAD).decode()) == (None, PAYLOAD)


def test_bare_urlsafe_base64() -> None:
    encoded = base64.urlsafe_b64encode(PAYLOAD).decode()
    assert "-" in encoded and "_" in encoded
    assert parse(encoded) == (None, PAYLOAD)


@pytest.mark.parametrize("data", [b"a", b"ab", b"abc", b"\xff\xfe"])
def test_unpadded_base64_with_valid_length(data: bytes) -> None:
    assert parse(base64.b64encode(data).decode().rstrip("=")) == (None, data)


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_rfc2045_line_breaks_and_spaces_are_stripped(newline: str) -> None:
    encoded = base64.encodebytes(PAYLOAD).decode().replace("\n", newline)
    assert newline in encoded.strip()
    assert parse(encoded) == (None, PAYLOAD)
    assert parse("  " + encoded.replace("A", " A ") + " \n") == (None, PAYLOAD)


def test_data_url() -> None:
    assert parse("data:image/png;base64," + base64.b64encode(PAYLOAD).decode()) == ("image/png", PAYLOAD)


def test_data_url_with_charset_parameter() -> None:
    url = "data:image/png;charset=utf-8;name=x.png;base64," + base64.b64encode(PAYLOAD).decode()
    assert parse(url) == ("image/png", PAYLOAD)


def test_data_url_is_case_insensitive_and_normalized() -> None:
    assert parse("DATA:Image/JPEG;BASE64,QQ==") == ("image/jpeg", b"A")


def test_data_url_without_media_type_declares_nothing() -> None:
    assert parse("data:;base64,QQ==") == (None, b"A")


def test_urlsafe_data_url() -> None:
    assert parse("data:image/png;base64,-_-_") == ("image/png", b"\xfb\xff\xbf")


def test_size_limit_is_inclusive() -> None:
    exact = base64.b64encode(b"x" * LIMIT).decode()
    assert parse(exact) == (None, b"x" * LIMIT)


# --- refused -------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["QU*J", "QU\tJ", "QUé=", "QU%2B", "QQ==\x00"])
def test_invalid_character(source: str) -> None:
    err = expect_error(source, InvalidRequestError, "invalid_base64")
    assert err.status == 400


def test_invalid_character_message_names_it() -> None:
    assert "'*'" in expect_error("QUJD*A==", InvalidRequestError, "invalid_base64").message


def test_mixed_alphabets() -> None:
    err = expect_error("ab+-", InvalidRequestError, "invalid_base64")
    assert "mixes" in err.message


@pytest.mark.parametrize("source", ["QQ=", "QUJD=", "QUJDQQ=", "Q===", "QQ==QQ==", "Q", "QUJDR", "QR=="])
def test_wrong_padding_length_or_trailing_bits(source: str) -> None:
    expect_error(source, InvalidRequestError, "invalid_base64")


@pytest.mark.parametrize("source", ["", "   \r\n", "data:image/png;base64,", "data:image/png;base64,\n"])
def test_empty_payload(source: str) -> None:
    expect_error(source, InvalidRequestError, "empty_image")


@pytest.mark.parametrize(
    "source",
    [
        "data:image/png,QQ==",
        "data:image/png;base64",
        "data:image/png;base64;charset=x,QQ==",
        "data:image/png;foo;base64,QQ==",
        "data:image png;base64,QQ==",
        "data:image/;base64,QQ==",
    ],
)
def test_malformed_or_non_base64_data_url(source: str) -> None:
    expect_error(source, InvalidRequestError, "invalid_data_url")


@pytest.mark.parametrize("source", ["http://example.com/a.png", "HTTPS://example.com/a.png"])
def test_remote_urls_are_refused(source: str) -> None:
    err = expect_error(source, InvalidRequestError, "remote_url_not_allowed")
    assert err.status == 400
    assert "disabled" in err.message


@pytest.mark.parametrize("source", ["file:///etc/passwd", "ftp://x/y.png", "s3://bucket/key"])
def test_other_schemes_are_refused(source: str) -> None:
    expect_error(source, InvalidRequestError, "unsupported_url_scheme")


def test_not_a_string() -> None:
    expect_error(b"QQ==", InvalidRequestError, "invalid_type")  # type: ignore[arg-type]


def test_too_large_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("decoded an oversized payload")

    monkeypatch.setattr(data_url.pybase64, "b64decode", fail)
    err = expect_error(base64.b64encode(b"x" * (LIMIT + 1)).decode(), PayloadTooLargeError, "image_too_large")
    assert err.status == 413
    expect_error("data:image/png;base64," + "A" * (LIMIT * 2), PayloadTooLargeError, "image_too_large")


# --- properties ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_decodes_or_raises_a_service_error(text: str) -> None:
    try:
        declared, data = parse(text)
    except ServiceError as err:
        assert err.param == PARAM
        return
    assert isinstance(data, bytes) and data
    assert declared is None or "/" in declared


@settings(max_examples=200, deadline=None)
@given(
    st.binary(min_size=1, max_size=300),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["", "\n", "\r\n", " "]),
    st.integers(min_value=1, max_value=80),
)
def test_any_bytes_round_trip(data: bytes, urlsafe: bool, padded: bool, sep: str, width: int) -> None:
    encoded = (base64.urlsafe_b64encode(data) if urlsafe else base64.b64encode(data)).decode()
    if not padded:
        encoded = encoded.rstrip("=")
    if sep:
        encoded = sep.join(encoded[i : i + width] for i in range(0, len(encoded), width))
    assert parse(encoded) == (None, data)
    assert parse("data:image/webp;base64," + encoded) == ("image/webp", data)
