"""The converted NSFW model against the original: nsfwjs in Node on tfjs's pure-JavaScript CPU backend.

Two comparisons, class probabilities within 1e-3 per image:

* the same preprocessed float32 tensor fed to both networks (the conversion alone);
* the same decoded RGB pixels through each side's own preprocessing (nsfwjs's ``infer``: /255 and
  ``resizeBilinear(alignCorners=true)``; ours: ``nsfw.nsfwjs_input``), the whole screen path.

Installs the locked Node dependencies into ``.cache/nsfwjs-node/`` on first run (~30 s, npm registry),
then takes about a minute (tfjs's JavaScript backend needs ~3 s per image on one core).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from devtools.nsfwjs_node import ReferenceResult, install, run_reference
from pipelines.moderation.images.nsfw import NsfwClassifier
from pipelines.moderation.images.nsfw_convert import NSFWJS_VERSION, ConvertSettings, convert
from tests.dev.nsfw_images import NamedImage, generated, pattern, product_shot, skimage_samples, sklearn_samples

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None, reason="node is not installed: this test runs the original nsfwjs in Node"
)

TOLERANCE = 1e-3
TFJS_VERSION = "4.22.0"


@dataclass(frozen=True)
class Parity:
    reference: ReferenceResult
    classes: list[str]
    tensor_names: list[str]
    tensor_ours: np.ndarray
    pixel_names: list[str]
    pixel_ours: np.ndarray


def _images() -> tuple[list[NamedImage], list[NamedImage]]:
    """(images compared on a shared tensor, images compared through each side's preprocessing)."""
    rng = np.random.default_rng(7)
    library = {item.name: item for item in [*skimage_samples(), *sklearn_samples()]}
    wanted = ["skimage/astronaut.png", "skimage/coffee.png", "skimage/camera.png", "sklearn/china.jpg"]
    shared = [library[name] for name in wanted if name in library]
    pictures = {item.name: item for item in generated(21)}
    shared += [
        NamedImage("generated/product_shot", product_shot(rng, (800, 600))),
        pictures["generated/linear_gradient[2]"],
        pictures["generated/blurred_noise[20]"],  # benign, yet the model's "porn" (0.91): that output too
    ]
    own_names = ["skimage/chelsea.png", "skimage/lfw_subset[110]", "sklearn/flower.jpg"]  # lfw: porn 0.94, 25x25
    own = [library[name] for name in own_names if name in library]
    own += [
        NamedImage("generated/noise_224", pattern("noise", rng, (224, 224))),  # nsfwjs skips the resize
        NamedImage("generated/gradient_31x17", pattern("linear_gradient", rng, (31, 17))),  # upscaled
        NamedImage("generated/product_1024x768", product_shot(rng, (1024, 768))),
    ]
    return shared, own


@pytest.fixture(scope="module")
def parity() -> Parity:
    settings = ConvertSettings().resolved()
    convert(settings)
    classifier = NsfwClassifier(settings.model_dir)
    shared, own = _images()
    noise = np.random.default_rng(3).random((224, 224, 3), dtype=np.float32)
    tensors = [noise, *(classifier.preprocess(item.image) for item in shared)]
    pixels = [np.asarray(item.image.convert("RGB")) for item in own]
    reference = run_reference(install(settings), tensors, pixels)
    return Parity(
        reference=reference,
        classes=classifier.classes,
        tensor_names=["uniform_noise_tensor", *(item.name for item in shared)],
        tensor_ours=classifier.predict_tensor(np.stack(tensors)),
        pixel_names=[item.name for item in own],
        pixel_ours=classifier.predict([Image.fromarray(p) for p in pixels], batch_size=len(pixels)),
    )


def _report(title: str, names: list[str], ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    differences = np.abs(ours - theirs).max(axis=1)
    print(f"\n{title}: max |ours - nsfwjs| per image")
    for name, difference, row in zip(names, differences, theirs, strict=True):
        print(f"  {name:40s} {difference:.2e}   nsfwjs {np.round(row, 4).tolist()}")
    return differences


def test_the_reference_is_the_pinned_original_on_the_cpu_backend(parity: Parity) -> None:
    assert parity.reference.versions == {"backend": "cpu", "tfjs": TFJS_VERSION, "nsfwjs": NSFWJS_VERSION}
    assert parity.reference.classes == parity.classes == ["drawing", "hentai", "neutral", "porn", "sexy"]


def test_same_tensor_gives_the_same_probabilities(parity: Parity) -> None:
    differences = _report("shared tensor", parity.tensor_names, parity.tensor_ours, parity.reference.tensors)
    assert len(differences) >= 5
    assert differences.max() < TOLERANCE, dict(zip(parity.tensor_names, differences.tolist(), strict=True))


def test_own_preprocessing_gives_the_same_probabilities(parity: Parity) -> None:
    differences = _report("own preprocessing", parity.pixel_names, parity.pixel_ours, parity.reference.pixels)
    assert len(differences) >= 3
    assert differences.max() < TOLERANCE, dict(zip(parity.pixel_names, differences.tolist(), strict=True))


def test_the_images_are_not_trivially_alike(parity: Parity) -> None:
    """A parity over images the model scores alike would prove little: the set spans several top classes."""
    top_classes = {int(np.argmax(row)) for row in np.concatenate([parity.reference.tensors, parity.reference.pixels])}
    assert len(top_classes) >= 3
