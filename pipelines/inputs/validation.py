"""Validation of chat requests (OpenAI format) and legacy requests into ``GenerationRequest``s.

Cheap structural checks, every count limit and the request's pixel budget (from the images'
headers) run before any image is decoded, so an oversized request is refused before it costs CPU.
Each error names the offending field in ``param`` (``messages[2].content[0].image_url.url``,
``stop[1]``, ...).

Decisions:

* The last message must come from the user: the service always appends the assistant
  generation prompt, so an assistant prefill or a trailing system message is refused.
* Images are accepted only in user messages, as in the OpenAI API.
* ``temperature`` defaults to 1.0 like OpenAI; 0 selects greedy decoding.
* Unknown keys in a message, a part or ``params`` are ignored (the HTTP schema owns them).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.core.errors import InvalidRequestError, PayloadTooLargeError, ServiceError
from pipelines.core.types import GenerationRequest, ImagePart, Message, ModerationInput, Role, SamplingParams, TextPart
from pipelines.inputs.data_url import parse_image_source
from pipelines.inputs.images import DecodeSlots, ImageLimits, decode_image, probe_image
from pipelines.inputs.remote import RemoteFetchConfig, fetch_image, is_remote_url

_ROLES: frozenset[str] = frozenset({"system", "user", "assistant"})
# Qwen's special tokens all look like <|name|> (im_start, image_pad, vision_start, endoftext, ...).
_CONTROL_TOKEN = re.compile(r"<\|[a-z_]+\|>")
_IMAGE_DETAILS = frozenset({"auto", "low", "high"})
_SEED_MIN, _SEED_MAX = -(2**63), 2**63 - 1
_MAX_TEMPERATURE = 2.0
_DEFAULT_TEMPERATURE = 1.0
_DEFAULT_TOP_P = 1.0


class ValidationLimits(BaseModel):
    """Request and image limits; the single source of truth for ``ImageLimits`` too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_image_encoded_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="Largest image file (after base64 decoding), in bytes."
    )
    max_image_decoded_bytes: int = Field(
        128 * 1024 * 1024,
        gt=0,
        description="Largest decoded image as 8-bit RGB (width*height*3), in bytes; the default admits "
        "max_image_pixels.",
    )
    max_image_pixels: int = Field(40_000_000, gt=0, description="Largest width*height of an input image.")
    max_image_side: int = Field(16384, gt=0, description="Largest width or height of an input image, in pixels.")
    max_aspect_ratio: float = Field(
        200.0, ge=1.0, description="Largest long-side/short-side ratio; Qwen-VL refuses more than 200."
    )
    resize_max_pixels: int | None = Field(
        16_777_216,
        gt=0,
        description="Images with more pixels are downscaled (aspect kept) to at most this many; "
        "Qwen3-VL's image processor default (size.longest_edge). None disables.",
    )
    resize_min_pixels: int | None = Field(
        65_536,
        gt=0,
        description="Images with fewer pixels are upscaled (aspect kept) to at least this many; "
        "Qwen3-VL's image processor default (size.shortest_edge, 256x256). None disables.",
    )
    max_jpeg_scans: int = Field(
        64,
        ge=1,
        description="Most scans in a JPEG (progressive ones have about 10): more is a scan bomb that costs "
        "minutes of CPU to decode, refused (422) before decoding.",
    )
    max_images_per_request: int = Field(8, ge=0, description="Most images in one request.")
    max_request_pixels: int = Field(
        100_000_000,
        gt=0,
        description="Most pixels (width*height, from each image's header) over all images of one request; "
        "the default admits eight 12-megapixel photos, not eight images at `max_image_pixels`. Checked before "
        "any image is decoded (413 `request_pixel_budget_exceeded`).",
    )
    max_messages: int = Field(64, gt=0, description="Most messages in one request.")
    max_moderation_inputs: int = Field(32, gt=0, description="Most inputs in one `/v1/moderations` request.")
    max_prompt_chars: int = Field(32_000, gt=0, description="Most characters over all text parts of a request.")
    max_tokens_cap: int = Field(4096, gt=0, description="Largest accepted `max_tokens`.")
    default_max_tokens: int = Field(256, gt=0, description="`max_tokens` used when the request sets none.")
    max_stop_sequences: int = Field(4, ge=0, description="Most stop strings in `stop`.")
    max_stop_chars: int = Field(64, gt=0, description="Longest stop string, in characters.")
    remote_images: RemoteFetchConfig = Field(
        default_factory=RemoteFetchConfig,
        description="Fetching of http(s) image URLs; refused unless `allowed_hosts` lists the host.",
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> ValidationLimits:
        if self.default_max_tokens > self.max_tokens_cap:
            raise ValueError("default_max_tokens must not exceed max_tokens_cap")
        low, high = self.resize_min_pixels, self.resize_max_pixels
        if low is not None and high is not None and low > high:
            raise ValueError("resize_min_pixels must not exceed resize_max_pixels")
        return self

    @property
    def image_limits(self) -> ImageLimits:
        return ImageLimits(
            max_encoded_bytes=self.max_image_encoded_bytes,
            max_decoded_bytes=self.max_image_decoded_bytes,
            max_pixels=self.max_image_pixels,
            max_side=self.max_image_side,
            max_aspect_ratio=self.max_aspect_ratio,
            resize_max_pixels=self.resize_max_pixels,
            resize_min_pixels=self.resize_min_pixels,
            max_jpeg_scans=self.max_jpeg_scans,
        )


@dataclass
class _PendingImage:
    """An image part that passed the structural checks but is not decoded yet."""

    url: str
    param: str


_PendingPart = TextPart | _PendingImage


@dataclass(frozen=True)
class _LoadedImage:
    """An image part whose bytes are read and whose header passed the per-image limits; not decoded."""

    data: bytes
    declared: str | None
    param: str
    pixels: int


_LoadedPart = TextPart | _LoadedImage


@dataclass
class _PixelBudget:
    """The request's pixels, counted image by image from the headers."""

    limit: int
    spent: int = 0

    def spend(self, image: _LoadedImage) -> None:
        self.spent += image.pixels
        if self.spent > self.limit:
            raise PayloadTooLargeError(
                f"The request's images have {self.spent} pixels in all up to this one; the limit is {self.limit}.",
                param=image.param,
                code="request_pixel_budget_exceeded",
            )


def validate_chat_request(
    messages: list[dict],
    params: dict,
    limits: ValidationLimits,
    request_id: str,
    slots: DecodeSlots | None = None,
) -> GenerationRequest:
    """``slots``: the process's bound on concurrent decodes (None: unbounded)."""
    pending = _check_messages(messages, limits)
    sampling = validate_sampling_params(params, limits)
    budget = _PixelBudget(limits.max_request_pixels)
    loaded = [(role, [_load(part, limits, budget) for part in parts]) for role, parts in pending]
    built = [Message(role=role, parts=[_decode(part, limits, slots) for part in parts]) for role, parts in loaded]
    return GenerationRequest(request_id=request_id, messages=built, params=sampling)


def validate_legacy_request(
    image: str | None,
    prompt: str,
    max_tokens: int | None,
    limits: ValidationLimits,
    request_id: str,
    temperature: float | None = None,
    slots: DecodeSlots | None = None,
) -> GenerationRequest:
    """Validate the original ``{"image", "prompt", "max_tokens"}`` body (plus an optional
    ``temperature``, 0 for greedy) through the chat path.

    Errors name the legacy fields (``image``, ``prompt``) rather than the chat paths.
    """
    content: list[dict[str, Any]] = []
    if image is not None:
        content.append({"type": "image_url", "image_url": {"url": image}})
    content.append({"type": "text", "text": prompt})
    image_index = 0 if image is not None else None
    text_index = len(content) - 1
    aliases = {f"messages[0].content[{text_index}].text": "prompt", "messages": "prompt"}
    if image_index is not None:
        aliases[f"messages[0].content[{image_index}].image_url.url"] = "image"
    try:
        return validate_chat_request(
            [{"role": "user", "content": content}],
            {"max_tokens": max_tokens, "temperature": temperature},
            limits,
            request_id,
            slots,
        )
    except ServiceError as err:
        if err.param not in aliases:
            raise
        raise type(err)(err.message, param=aliases[err.param], code=err.code) from None


# --- messages ----------------------------------------------------------------------------------


def _check_messages(messages: Any, limits: ValidationLimits) -> list[tuple[Role, list[_PendingPart]]]:
    if not isinstance(messages, list):
        raise InvalidRequestError("`messages` must be a list.", param="messages", code="invalid_type")
    if not messages:
        raise InvalidRequestError("`messages` must not be empty.", param="messages", code="empty_messages")
    if len(messages) > limits.max_messages:
        raise PayloadTooLargeError(
            f"Too many messages: {len(messages)} > {limits.max_messages}.",
            param="messages",
            code="too_many_messages",
        )
    checked = [_check_message(message, f"messages[{i}]") for i, message in enumerate(messages)]
    last_role = checked[-1][0]
    if last_role != "user":
        raise InvalidRequestError(
            f"The last message must come from the user, not the {last_role}.",
            param=f"messages[{len(messages) - 1}].role",
            code="invalid_last_message",
        )
    _check_counts(checked, limits)
    return checked


def _check_message(message: Any, param: str) -> tuple[Role, list[_PendingPart]]:
    if not isinstance(message, dict):
        raise InvalidRequestError("Each message must be an object.", param=param, code="invalid_type")
    role = message.get("role")
    if not isinstance(role, str) or role not in _ROLES:
        raise InvalidRequestError(
            "`role` must be one of 'system', 'user' or 'assistant'.",
            param=f"{param}.role",
            code="invalid_role",
        )
    parts = _check_content(message.get("content"), f"{param}.content")
    if role != "user" and any(isinstance(part, _PendingImage) for part in parts):
        raise InvalidRequestError(
            f"Images are only allowed in user messages, not in {role} messages.",
            param=f"{param}.content",
            code="image_not_allowed",
        )
    return cast(Role, role), parts


def _text_part(text: str, param: str) -> TextPart:
    """User text must be valid Unicode without the model's control tokens (they forge turns or image slots)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequestError(
            "Text must be valid Unicode (no lone surrogates).", param=param, code="invalid_text"
        ) from None
    if _CONTROL_TOKEN.search(text):
        raise InvalidRequestError(
            "Text must not contain the model's special tokens (like '<|im_start|>').",
            param=param,
            code="special_token_in_text",
        )
    return TextPart(text=text)


def _check_content(content: Any, param: str) -> list[_PendingPart]:
    if isinstance(content, str):
        return [_text_part(content, param)]
    if not isinstance(content, list):
        raise InvalidRequestError(
            "`content` must be a string or a list of content parts.", param=param, code="invalid_type"
        )
    if not content:
        raise InvalidRequestError("`content` must not be an empty list.", param=param, code="empty_content")
    return [_check_part(part, f"{param}[{j}]") for j, part in enumerate(content)]


def _check_part(part: Any, param: str) -> _PendingPart:
    if not isinstance(part, dict):
        raise InvalidRequestError("Each content part must be an object.", param=param, code="invalid_type")
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        if not isinstance(text, str):
            raise InvalidRequestError("`text` must be a string.", param=f"{param}.text", code="invalid_type")
        return _text_part(text, f"{param}.text")
    if kind == "image_url":
        return _check_image_url(part.get("image_url"), f"{param}.image_url")
    raise InvalidRequestError(
        "Content part `type` must be 'text' or 'image_url'.",
        param=f"{param}.type",
        code="unsupported_content_type",
    )


def _check_image_url(image_url: Any, param: str) -> _PendingImage:
    """``image_url`` is ``{"url": ..., "detail"?: ...}``, or (some clients) the URL string itself."""
    if isinstance(image_url, str):
        return _PendingImage(url=image_url, param=param)
    if not isinstance(image_url, dict):
        raise InvalidRequestError("`image_url` must be an object with a `url`.", param=param, code="invalid_type")
    detail = image_url.get("detail")
    if detail is not None and not (isinstance(detail, str) and detail in _IMAGE_DETAILS):
        raise InvalidRequestError(
            "`detail` must be 'auto', 'low' or 'high'.", param=f"{param}.detail", code="invalid_value"
        )
    url = image_url.get("url")
    if not isinstance(url, str):
        raise InvalidRequestError("`url` must be a string.", param=f"{param}.url", code="invalid_type")
    return _PendingImage(url=url, param=f"{param}.url")


def _check_counts(
    checked: list[tuple[Role, list[_PendingPart]]], limits: ValidationLimits, text_param: str = "messages"
) -> None:
    images = [part for _, parts in checked for part in parts if isinstance(part, _PendingImage)]
    if len(images) > limits.max_images_per_request:
        raise PayloadTooLargeError(
            f"Too many images: {len(images)} > {limits.max_images_per_request}.",
            param=images[limits.max_images_per_request].param,
            code="too_many_images",
        )
    chars = sum(len(part.text) for _, parts in checked for part in parts if isinstance(part, TextPart))
    if chars > limits.max_prompt_chars:
        raise PayloadTooLargeError(
            f"The prompt has {chars} characters; the limit is {limits.max_prompt_chars}.",
            param=text_param,
            code="prompt_too_long",
        )


def validate_moderation_input(
    value: Any, limits: ValidationLimits, slots: DecodeSlots | None = None
) -> list[ModerationInput]:
    """OpenAI's moderation ``input``: a string, a list of strings (one result each), or a list of
    ``text`` / ``image_url`` parts (one multimodal input, one result)."""
    if isinstance(value, str):
        items = [[_text_part(value, "input")]]
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        items = [[_text_part(v, f"input[{i}]")] for i, v in enumerate(value)]
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        items = [[_check_part(part, f"input[{j}]") for j, part in enumerate(value)]]
    else:
        raise InvalidRequestError(
            "`input` must be a string, a non-empty list of strings, or a non-empty list of content parts.",
            param="input",
            code="invalid_type",
        )
    if len(items) > limits.max_moderation_inputs:
        raise PayloadTooLargeError(
            f"Too many inputs: {len(items)} > {limits.max_moderation_inputs}.", param="input", code="too_many_inputs"
        )
    _check_counts([("user", parts) for parts in items], limits, text_param="input")
    budget = _PixelBudget(limits.max_request_pixels)
    loaded = [[_load(part, limits, budget) for part in parts] for parts in items]
    moderated: list[ModerationInput] = []
    for parts in loaded:
        built = [_decode(part, limits, slots) for part in parts]
        text = "\n".join(p.text for p in built if isinstance(p, TextPart))
        moderated.append(ModerationInput(text=text, images=[p for p in built if isinstance(p, ImagePart)]))
    return moderated


def _load(part: _PendingPart, limits: ValidationLimits, budget: _PixelBudget) -> _LoadedPart:
    """The image's bytes, its header checked and its pixels spent from the request's budget."""
    if isinstance(part, TextPart):
        return part
    image_limits = limits.image_limits
    if is_remote_url(part.url) and limits.remote_images.allowed_hosts:
        remote = limits.remote_images
        capped = remote.model_copy(update={"max_bytes": min(remote.max_bytes, image_limits.max_encoded_bytes)})
        declared, data = fetch_image(part.url, capped, param=part.param)
    else:
        declared, data = parse_image_source(
            part.url, max_encoded_bytes=image_limits.max_encoded_bytes, param=part.param
        )
    width, height = probe_image(data, declared_type=declared, limits=image_limits, param=part.param)
    loaded = _LoadedImage(data=data, declared=declared, param=part.param, pixels=width * height)
    budget.spend(loaded)
    return loaded


def _decode(part: _LoadedPart, limits: ValidationLimits, slots: DecodeSlots | None) -> TextPart | ImagePart:
    if isinstance(part, TextPart):
        return part
    return decode_image(
        part.data, declared_type=part.declared, limits=limits.image_limits, param=part.param, slots=slots
    )


# --- sampling parameters -----------------------------------------------------------------------


def validate_sampling_params(params: dict, limits: ValidationLimits) -> SamplingParams:
    if not isinstance(params, dict):
        raise InvalidRequestError("Sampling parameters must be an object.", param=None, code="invalid_type")
    _check_n(params.get("n"))
    return SamplingParams(
        max_tokens=_check_max_tokens(params.get("max_tokens"), limits),
        temperature=_check_temperature(params.get("temperature")),
        top_p=_check_top_p(params.get("top_p")),
        seed=_check_seed(params.get("seed")),
        stop=_check_stop(params.get("stop"), limits),
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_number(value: Any, param: str) -> float:
    error = InvalidRequestError(f"`{param}` must be a finite number.", param=param, code="invalid_type")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error
    try:
        number = float(value)
    except OverflowError:
        raise error from None
    if not math.isfinite(number):
        raise error
    return number


def _check_n(n: Any) -> None:
    if n is None or (_is_int(n) and n == 1):
        return
    raise InvalidRequestError("Only n=1 is supported.", param="n", code="unsupported_value")


def _check_max_tokens(max_tokens: Any, limits: ValidationLimits) -> int:
    if max_tokens is None:
        return limits.default_max_tokens
    if not _is_int(max_tokens) or max_tokens < 1:
        raise InvalidRequestError("`max_tokens` must be a positive integer.", param="max_tokens")
    if max_tokens > limits.max_tokens_cap:
        raise InvalidRequestError(
            f"`max_tokens` must be at most {limits.max_tokens_cap}.",
            param="max_tokens",
            code="max_tokens_too_large",
        )
    return max_tokens


def _check_temperature(temperature: Any) -> float:
    if temperature is None:
        return _DEFAULT_TEMPERATURE
    value = _as_number(temperature, "temperature")
    if not 0.0 <= value <= _MAX_TEMPERATURE:
        raise InvalidRequestError(f"`temperature` must be between 0 and {_MAX_TEMPERATURE:g}.", param="temperature")
    return value


def _check_top_p(top_p: Any) -> float:
    if top_p is None:
        return _DEFAULT_TOP_P
    value = _as_number(top_p, "top_p")
    if not 0.0 < value <= 1.0:
        raise InvalidRequestError("`top_p` must be greater than 0 and at most 1.", param="top_p")
    return value


def _check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if not _is_int(seed) or not _SEED_MIN <= seed <= _SEED_MAX:
        raise InvalidRequestError("`seed` must be a 64-bit signed integer.", param="seed")
    return seed


def _check_stop(stop: Any, limits: ValidationLimits) -> list[str]:
    if stop is None:
        return []
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list):
        raise InvalidRequestError("`stop` must be a string or a list of strings.", param="stop", code="invalid_type")
    if len(stops) > limits.max_stop_sequences:
        raise InvalidRequestError(f"At most {limits.max_stop_sequences} stop sequences are allowed.", param="stop")
    for k, item in enumerate(stops):
        param = "stop" if isinstance(stop, str) else f"stop[{k}]"
        if not isinstance(item, str) or not item:
            raise InvalidRequestError("Each stop sequence must be a non-empty string.", param=param)
        if len(item) > limits.max_stop_chars:
            raise InvalidRequestError(
                f"Each stop sequence must be at most {limits.max_stop_chars} characters.", param=param
            )
    return list(stops)
