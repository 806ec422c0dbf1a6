"""The NSFW screen: the converter's pieces, the converted model, and the screener's policy hits.

The Keras conventions (NHWC, TensorFlow's ``same`` padding, depthwise layouts, channels-last
Flatten, BatchNorm epsilon, ReLU6) are checked against an independent NumPy implementation on a
small network; the converted nsfwjs model itself is held to the original in Node by
tests/dev/test_nsfw_parity.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from pipelines.core.files import file_sha256
from pipelines.moderation.images.nsfw import (
    NsfwClassifier,
    NsfwConfig,
    NsfwModelMissing,
    NsfwScreener,
    resize_like_nsfwjs,
)
from pipelines.moderation.images.nsfw_card import read_card
from pipelines.moderation.images.nsfw_convert import (
    NSFWJS_INTEGRITY,
    NSFWJS_SHA256,
    NSFWJS_VERSION,
    ConversionError,
    ConvertSettings,
    convert,
    fetch_package,
    up_to_date,
    verify_tarball,
)
from pipelines.moderation.images.nsfw_export import convert_tarball, export_onnx
from pipelines.moderation.images.nsfw_net import KerasGraphNet
from pipelines.moderation.images.nsfw_package import assigned_literal, declared_literal, exported_base64
from pipelines.moderation.images.nsfw_policy import NsfwPolicy, NsfwThresholds
from pipelines.moderation.images.nsfw_topology import layer_specs, tf_same_padding
from pipelines.moderation.images.nsfw_weights import decode_weights, state_dict
from tests.dev.nsfw_images import benign_set, generated
from tests.unit.shipped import shipped_policy

MAX_BENIGN_FLAG_RATE = 0.03


@pytest.fixture(scope="session")
def settings() -> ConvertSettings:
    """The project's converted model (`make setup`); converted here if a run starts without it."""
    settings = ConvertSettings().resolved()
    convert(settings)
    return settings


@pytest.fixture(scope="session")
def classifier(settings: ConvertSettings) -> NsfwClassifier:
    return NsfwClassifier(settings.model_dir)


def screener(classifier: NsfwClassifier, **thresholds: float | None) -> NsfwScreener:
    policy = NsfwPolicy(thresholds=NsfwThresholds(**thresholds))
    return NsfwScreener(NsfwConfig(), policy, classifier)


# --- Keras conventions, against NumPy -----------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [(224, 3, 2, (0, 1)), (112, 3, 1, (1, 1)), (7, 1, 1, (0, 0)), (5, 3, 2, (1, 1)), (6, 5, 2, (1, 2))],
)
def test_tensorflow_same_padding_puts_the_odd_pixel_after(
    size: int, kernel: int, stride: int, expected: tuple[int, int]
) -> None:
    assert tf_same_padding(size, kernel, stride, 1) == expected


def _layer(name: str, kind: str, inputs: list[str], **config: Any) -> dict[str, Any]:
    nodes = [[[source, 0, 0, {}] for source in inputs]] if inputs else []
    return {"name": name, "class_name": kind, "config": {"name": name, **config}, "inbound_nodes": nodes}


def _conv(name: str, kind: str, source: str, kernel: list[int], stride: int, padding: str, **config: Any) -> dict:
    common = {"dilation_rate": [1, 1], "data_format": "channels_last", "activation": "linear", "use_bias": False}
    return _layer(
        name, kind, [source], kernel_size=kernel, strides=[stride, stride], padding=padding, **common | config
    )


def _tiny_keras_model() -> dict[str, Any]:
    """Every supported layer kind, with odd sizes and stride-2 ``same`` padding where TF's asymmetry shows."""
    layers = [
        _layer("input", "InputLayer", [], batch_input_shape=[None, 9, 8, 3]),
        _layer("pad", "ZeroPadding2D", ["input"], padding=[[0, 1], [1, 0]], data_format="channels_last"),
        _conv("c1", "Conv2D", "pad", [3, 3], 2, "valid", filters=4),
        _layer("bn1", "BatchNormalization", ["c1"], axis=-1, epsilon=1e-3),
        _layer("r1", "ReLU", ["bn1"], max_value=6, negative_slope=0, threshold=0),
        _conv("dw", "DepthwiseConv2D", "r1", [3, 3], 2, "same", depth_multiplier=2, use_bias=True),
        _conv("c2", "Conv2D", "dw", [1, 1], 1, "same", filters=8, use_bias=True),
        _conv("c3", "Conv2D", "c2", [3, 2], 1, "same", filters=8, activation="relu"),
        _layer("add", "Add", ["c2", "c3"]),
        _layer("pool", "AveragePooling2D", ["add"], pool_size=[1, 1], strides=[1, 1], padding="valid"),
        _layer("flat", "Flatten", ["pool"], data_format="channels_last"),
        _layer("d1", "Dense", ["flat"], units=6, activation="relu", use_bias=True),
        _layer("drop", "Dropout", ["d1"], rate=0.5),
        _layer("d2", "Dense", ["drop"], units=5, activation="softmax", use_bias=True),
    ]
    config = {"layers": layers, "input_layers": [["input", 0, 0]], "output_layers": [["d2", 0, 0]]}
    return {"class_name": "Model", "config": config}


def _keras_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    shapes = {
        "c1/kernel": (3, 3, 3, 4), "dw/depthwise_kernel": (3, 3, 4, 2), "dw/bias": (8,), "c2/kernel": (1, 1, 8, 8),
        "c2/bias": (8,), "c3/kernel": (3, 2, 8, 8), "d1/kernel": (32, 6), "d1/bias": (6,), "d2/kernel": (6, 5),
        "d2/bias": (5,), "bn1/gamma": (4,), "bn1/beta": (4,), "bn1/moving_mean": (4,),
    }  # fmt: skip
    weights = {name: rng.normal(0, 0.4, shape).astype(np.float32) for name, shape in shapes.items()}
    weights["bn1/moving_variance"] = rng.uniform(0.01, 2, 4).astype(np.float32)  # small: epsilon matters
    return weights


def _np_conv(x: np.ndarray, kernel: np.ndarray, stride: int, padding: str, depthwise: bool = False) -> np.ndarray:
    """NHWC convolution by definition, with TensorFlow's padding (depthwise: kernel H, W, C, M)."""
    kh, kw = kernel.shape[:2]
    if padding == "same":
        (top, bottom), (left, right) = (
            tf_same_padding(x.shape[1], kh, stride, 1),
            tf_same_padding(x.shape[2], kw, stride, 1),
        )
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out_h, out_w = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    channels_out = kernel.shape[2] * kernel.shape[3] if depthwise else kernel.shape[3]
    out = np.zeros((x.shape[0], out_h, out_w, channels_out))
    for i in range(out_h):
        for j in range(out_w):
            patch = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :].astype(np.float64)
            if depthwise:  # output channel c * M + m sees input channel c only
                out[:, i, j, :] = np.einsum("nhwc,hwcm->ncm", patch, kernel).reshape(x.shape[0], -1)
            else:
                out[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, kernel)
    return out


def _numpy_reference(x: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    x = np.pad(x, ((0, 0), (0, 1), (1, 0), (0, 0)))
    x = _np_conv(x, w["c1/kernel"], 2, "valid")
    x = (x - w["bn1/moving_mean"]) / np.sqrt(w["bn1/moving_variance"] + 1e-3) * w["bn1/gamma"] + w["bn1/beta"]
    x = np.clip(x, 0, 6)
    x = _np_conv(x, w["dw/depthwise_kernel"], 2, "same", depthwise=True) + w["dw/bias"]
    c2 = _np_conv(x, w["c2/kernel"], 1, "same") + w["c2/bias"]
    c3 = np.maximum(_np_conv(c2, w["c3/kernel"], 1, "same"), 0)
    x = (c2 + c3).reshape(x.shape[0], -1)  # Keras flattens channels last
    x = np.maximum(x @ w["d1/kernel"] + w["d1/bias"], 0)
    logits = x @ w["d2/kernel"] + w["d2/bias"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def tiny() -> tuple[KerasGraphNet, dict[str, np.ndarray], np.ndarray]:
    """The small network with random Keras-layout weights, and an input batch."""
    rng = np.random.default_rng(0)
    specs, output = layer_specs(_tiny_keras_model())
    weights = _keras_weights(rng)
    net = KerasGraphNet(specs, output).eval()
    net.load_state_dict(state_dict(specs, weights), strict=True)
    return net, weights, rng.uniform(0, 1, (2, 9, 8, 3)).astype(np.float32)


def test_converted_network_matches_keras_semantics_computed_in_numpy(tiny: tuple) -> None:
    net, weights, x = tiny
    with torch.inference_mode():
        ours = net(torch.from_numpy(x)).numpy()
    reference = _numpy_reference(x, weights)
    assert ours.shape == (2, 5)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    assert not np.allclose(reference[0], reference[1], atol=1e-3)  # the input matters


def test_the_onnx_export_runs_the_same_network(tiny: tuple, tmp_path: Path) -> None:
    net, weights, x = tiny
    path = tmp_path / "tiny.onnx"
    export_onnx(net, path, ConvertSettings())  # checks onnxruntime against torch itself
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (x[:1], x, np.concatenate([x, x, x])):  # the batch size is free
        exported = session.run(["probabilities"], {"images": batch})[0]
        np.testing.assert_allclose(exported, _numpy_reference(batch, weights), atol=1e-5)


def test_a_missing_or_unread_weight_fails_the_conversion() -> None:
    specs, _ = layer_specs(_tiny_keras_model())
    weights = _keras_weights(np.random.default_rng(0))
    with pytest.raises(ConversionError, match="no weight c2/bias"):
        state_dict(specs, {k: v for k, v in weights.items() if k != "c2/bias"})
    with pytest.raises(ConversionError, match="no layer reads"):
        state_dict(specs, {**weights, "extra/kernel": np.zeros(1, np.float32)})


@pytest.mark.parametrize(
    ("index", "change", "message"),
    [
        (2, {"class_name": "Conv3D"}, "Conv3D is unsupported"),
        (4, {"config": {"name": "r1", "max_value": 6, "negative_slope": 0.1, "threshold": 0}}, "negative_slope"),
        (9, {"config": {"name": "pool", "pool_size": [1, 1], "strides": [1, 1], "padding": "same"}}, "padding"),
        (10, {"config": {"name": "flat", "data_format": "channels_first"}}, "data_format"),
        (11, {"inbound_nodes": [[["flat", 0, 0, {}]], [["flat", 0, 0, {}]]]}, "shared"),
    ],
)
def test_unsupported_keras_layers_fail_loudly(index: int, change: dict[str, Any], message: str) -> None:
    model = _tiny_keras_model()
    model["config"]["layers"][index] = {**model["config"]["layers"][index], **change}
    with pytest.raises(ConversionError, match=message):
        layer_specs(model)


# --- the package's formats ----------------------------------------------------------------------


def test_weights_are_dequantised_as_tfjs_does() -> None:
    quantised = np.array([0, 1, 255, 7], np.uint8)
    plain = np.array([1.5, -2.25], np.float32)
    half = np.array([0.5, -3.0, 65504.0], np.float16)
    manifest = [
        {
            "paths": ["shard-a", "shard-b"],
            "weights": [
                {"name": "q", "shape": [2, 2], "dtype": "float32",
                 "quantization": {"dtype": "uint8", "min": -0.5, "scale": 0.01}},
                {"name": "p", "shape": [2], "dtype": "float32"},
                {"name": "h", "shape": [3], "dtype": "float32", "quantization": {"dtype": "float16"}},
            ],
        }
    ]  # fmt: skip
    data = quantised.tobytes() + plain.tobytes() + half.tobytes()
    weights = decode_weights(manifest, {"shard-a": data[:5], "shard-b": data[5:]})
    expected_q = (quantised.astype(np.float64) * 0.01 - 0.5).astype(np.float32).reshape(2, 2)
    np.testing.assert_array_equal(weights["q"], expected_q)
    np.testing.assert_array_equal(weights["p"], plain)
    np.testing.assert_array_equal(weights["h"], half.astype(np.float32))
    with pytest.raises(ConversionError, match="left over"):
        decode_weights(manifest, {"shard-a": data, "shard-b": b"\0\0"})
    with pytest.raises(ConversionError, match="end before"):
        decode_weights(manifest, {"shard-a": data[:5], "shard-b": data[5:-1]})


def test_javascript_literals_are_read_not_run() -> None:
    bundle = (
        "!function(e){module.exports=e()}(function(){return function e(a,n,i){}({1:[function(e,a,n){"
        'a.exports={keras_version:"2.2.4",sparse:!1,on:!0,epsilon:.001,pad:[[0,1],[-1,0]],nothing:null,'
        '"quoted key":{0:"Drawing"}}},{}]},{},[1])(1)});'
    )
    assert assigned_literal(bundle, "exports") == {
        "keras_version": "2.2.4", "sparse": False, "on": True, "epsilon": 0.001, "pad": [[0, 1], [-1, 0]],
        "nothing": None, "quoted key": {"0": "Drawing"},
    }  # fmt: skip
    assert declared_literal("var x = 1; var IMAGE_SIZE = 224;", "IMAGE_SIZE") == 224
    shard = '!function(e){}({1:[function(e,h,n){h.exports="AAEC/w=="},{}]},{},[1])(1)});'
    assert exported_base64(shard) == bytes([0, 1, 2, 255])
    for broken in ('h.exports="AA!C"', 'a.exports="AA==";b.exports="AA=="', "h.exports=1"):
        with pytest.raises(ConversionError, match="one exported base64"):
            exported_base64(broken)
    with pytest.raises(ConversionError, match="not a literal"):
        assigned_literal("module.exports = {a: require('fs')};", "exports")
    with pytest.raises(ConversionError, match="no literal"):
        assigned_literal("var a = 1;", "exports")


# --- preprocessing ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(512, 512), (300, 451), (17, 31), (1000, 40), (224, 224), (1, 1)])
def test_resize_is_bilinear_with_aligned_corners(shape: tuple[int, int]) -> None:
    """The same operation as torch's ``align_corners=True`` bilinear (an independent implementation)."""
    pixels = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    ours = resize_like_nsfwjs(pixels, 224, 255.0)
    scaled = torch.from_numpy(pixels.astype(np.float32) / np.float32(255)).permute(2, 0, 1)[None].double()
    torch_resized = F.interpolate(scaled, size=(224, 224), mode="bilinear", align_corners=True)[0].permute(1, 2, 0)
    assert ours.dtype == np.float32 and ours.shape == (224, 224, 3)
    np.testing.assert_allclose(ours, torch_resized.numpy(), atol=1e-6)
    np.testing.assert_allclose(ours[[0, 0, -1, -1], [0, -1, 0, -1]], pixels[[0, 0, -1, -1], [0, -1, 0, -1]] / 255.0)


def test_every_image_mode_is_read_as_rgb(classifier: NsfwClassifier) -> None:
    rgb = generated(1).__next__().image
    for mode in ("L", "RGBA", "P", "CMYK"):
        converted = rgb.convert(mode)
        np.testing.assert_array_equal(classifier.preprocess(converted), classifier.preprocess(converted.convert("RGB")))


# --- the converted model ------------------------------------------------------------------------


def test_the_converted_model_records_its_pinned_source(settings: ConvertSettings) -> None:
    card = read_card(settings.files)
    assert up_to_date(settings)
    assert (card.source.package, card.source.version, card.source.model) == ("nsfwjs", NSFWJS_VERSION, "MobileNetV2")
    assert (card.source.integrity, card.source.sha256) == (NSFWJS_INTEGRITY, NSFWJS_SHA256)
    assert card.classes == ["drawing", "hentai", "neutral", "porn", "sexy"]
    assert (card.preprocessing.size, card.preprocessing.pixel_divisor) == (224, 255.0)
    assert card.model_sha256 == file_sha256(settings.files.model)


def test_conversion_is_deterministic_and_skipped_when_up_to_date(settings: ConvertSettings, tmp_path: Path) -> None:
    copy = settings.model_copy(update={"model_dir": tmp_path / "nsfw"})
    card = convert_tarball(settings.tarball, copy)
    assert card == read_card(settings.files)  # the same bytes, so the same hash
    assert convert(copy) is False  # up to date: nothing fetched, nothing written
    with copy.files.model.open("r+b") as handle:
        handle.seek(-4, 2)
        handle.write(b"\0\0\0\0")
    assert not up_to_date(copy)
    with pytest.raises(NsfwModelMissing, match="SHA-256"):
        NsfwClassifier(copy.model_dir)


def test_a_tampered_or_missing_package_is_refused(settings: ConvertSettings, tmp_path: Path) -> None:
    tampered = tmp_path / "nsfwjs" / settings.tarball.name
    tampered.parent.mkdir()
    shutil.copyfile(settings.tarball, tampered)
    with tampered.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ConversionError, match="integrity"):
        verify_tarball(tampered)
    offline = ConvertSettings(package_dir=tampered.parent, model_dir=tmp_path / "nsfw", npm="no-such-npm-here")
    with pytest.raises(ConversionError, match="not found"):
        fetch_package(offline)  # the bad copy is dropped, and there is no npm to fetch another
    assert not tampered.exists()
    cached = settings.model_copy(update={"npm": "no-such-npm-here"})
    assert fetch_package(cached) == settings.tarball  # a verified cached tarball needs no npm


def test_a_missing_model_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(NsfwModelMissing, match="make setup"):
        NsfwClassifier(tmp_path)


# --- the screener -------------------------------------------------------------------------------


def test_benign_images_are_rarely_flagged(classifier: NsfwClassifier) -> None:
    nsfw = screener(classifier)  # the default, permissive thresholds
    # every 4th LFW face keeps the test short; `python -m tests.dev.nsfw_images` scores the whole set
    images = [
        item
        for index, item in enumerate(benign_set(generated_count=40))
        if "lfw_subset" not in item.name or index % 4 == 0
    ]
    flagged = [
        (item.name, nsfw.flagged(scores))
        for item, scores in zip(images, nsfw.classify([item.image for item in images]), strict=True)
        if nsfw.flagged(scores)
    ]
    assert len(images) >= 100
    assert len(flagged) / len(images) <= MAX_BENIGN_FLAG_RATE, flagged


def test_hits_carry_the_category_class_and_probability(classifier: NsfwClassifier) -> None:
    images = [item.image for item in generated(3)]
    everything = screener(classifier, porn=0.0, hentai=None, sexy=None)  # porn flags every image
    scores = everything.classify(images)
    hits = everything.screen(images)
    assert [(h.category, h.start, h.end, h.layer, h.matched) for h in hits] == [("sexual", 0, 0, "nsfwjs", "porn")] * 3
    assert [h.score for h in hits] == [s.probabilities["porn"] for s in scores]
    assert all(abs(sum(s.probabilities.values()) - 1.0) < 1e-5 for s in scores)
    assert screener(classifier, porn=None, hentai=None, sexy=None).screen(images) == []
    assert everything.screen([]) == []


def test_batches_give_the_same_scores_as_single_images(classifier: NsfwClassifier) -> None:
    images = [item.image for item in generated(4, seed=5)]
    batched = classifier.predict(images, batch_size=3)
    single = np.concatenate([classifier.predict([image], batch_size=1) for image in images])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_thresholds_name_only_classes_that_may_flag() -> None:
    assert NsfwThresholds().items() == [("porn", 0.9), ("hentai", 0.9), ("sexy", 0.95)]
    with pytest.raises(ValidationError):
        NsfwThresholds.model_validate({"neutral": 0.5})
    with pytest.raises(ValidationError):
        NsfwThresholds(porn=1.5)


def test_thresholds_must_count_under_the_policy() -> None:
    policy = shipped_policy()
    category_thresholds = {name: category.threshold for name, category in policy.categories.items()}
    NsfwPolicy().check(category_thresholds)
    with pytest.raises(ValueError, match="below"):
        NsfwPolicy(thresholds=NsfwThresholds(porn=category_thresholds["sexual"] / 2)).check(category_thresholds)
    with pytest.raises(ValueError, match="no category"):
        NsfwPolicy(category="nudity").check(category_thresholds)


def test_policy_flags_each_class_at_its_own_threshold() -> None:
    policy = NsfwPolicy(thresholds=NsfwThresholds(porn=0.6, hentai=None, sexy=0.8))
    probabilities = {"drawing": 0.0, "hentai": 0.99, "neutral": 0.99, "porn": 0.6, "sexy": 0.79}
    assert policy.flagged(probabilities) == [("porn", 0.6)]


def test_a_screener_needs_a_model_and_takes_a_new_policy(classifier: NsfwClassifier, tmp_path: Path) -> None:
    with pytest.raises(NsfwModelMissing):
        NsfwScreener(NsfwConfig(model_dir=str(tmp_path)))
    nsfw = screener(classifier)
    images = [item.image for item in generated(2)]
    assert nsfw.screen(images) == []
    nsfw.policy = NsfwPolicy(category="custom", thresholds=NsfwThresholds(porn=0.0))  # a reloaded policy file
    assert {(h.category, h.matched) for h in nsfw.screen(images)} == {("custom", "porn")}
