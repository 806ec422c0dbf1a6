"""The shipped zh+en moderation text classifier: features, the plain-array model, the policy layer.

Trained by ``python -m devtools.train_text_classifier train --data DIR --out DIR`` from the
moderation training corpus plus the project's own synthetic texts; the artifact in ``model/`` is
loaded offline (no pickle, no download).
"""

from pipelines.moderation.text.classifier.layer import ClassifierConfig, ClassifierLayer
from pipelines.moderation.text.classifier.model import ArtifactError, TextClassifier

__all__ = ["ArtifactError", "ClassifierConfig", "ClassifierLayer", "TextClassifier"]
