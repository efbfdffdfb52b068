"""Scribbles through objects the shipped nuclei model finds suggest an instance model started from it."""

import numpy as np
import pytest

from napari_tiled_unet.builtin_models import builtin_model_names
from napari_tiled_unet.samples import load_nuclei_2d
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.label_report import inspect_labels
from napari_tiled_unet.training.start import scribble_suggestion

pytestmark = pytest.mark.skipif("nuclei" not in builtin_model_names(), reason="builtin:nuclei is not shipped")


@pytest.fixture(scope="module")
def sample():
    data = load_nuclei_2d()
    return data["image"][:256, :256], data["scribbles"][:256, :256], data["labels"][:256, :256]


def test_scribbles_through_nuclei_suggest_an_instance_model(sample):
    image, scribbles, _ = sample
    report = inspect_labels([scribbles], images=[image])
    assert report.kind == "scribbles" and report.suggested_task == "semantic"
    suggested = scribble_suggestion(report, [scribbles], [image])
    assert (suggested.suggested_task, suggested.suggested_sparse) == ("instances", True)
    finding = next(f for f in suggested.findings if f.code == "scribbles_as_instances")
    assert finding.message.startswith("builtin:nuclei finds objects under 100% of the object strokes")
    assert "keeps touching objects apart; task='semantic' (--task semantic)" in finding.message


def test_scribbles_that_do_not_mark_nuclei_keep_classes(sample):
    """Strokes labelled 2 on the background and 1 through nuclei (another kind of object, say)."""
    image, _, truth = sample
    swapped = np.zeros_like(truth, dtype=np.uint8)
    swapped[100:103, 10:250] = 2
    swapped[100:103, 10:250][truth[100:103, 10:250] > 0] = 0
    swapped[np.isin(truth, [3, 7, 11]) & (np.arange(256) % 5 == 0)] = 1
    report = inspect_labels([swapped], images=[image])
    suggested = scribble_suggestion(report, [swapped], [image])
    assert suggested.suggested_task == "semantic"
    assert any(f.code == "scribbles_not_objects" and "classes are learnt" in f.message for f in suggested.findings)


def test_other_labels_and_other_trainings_are_left_as_they_are(sample):
    image, scribbles, truth = sample
    painted = inspect_labels([truth], images=[image])
    assert scribble_suggestion(painted, [truth], [image]) is painted
    scribbles_report = inspect_labels([scribbles], images=[image])
    three_channels = np.stack([image] * 3)
    assert scribble_suggestion(scribbles_report, [scribbles], [three_channels]) is scribbles_report
    assert scribble_suggestion(scribbles_report, [scribbles], None) is scribbles_report
    hand_made = TrainingConfig().replace(unet=TrainingConfig().unet.__class__(depth=3))
    assert scribble_suggestion(scribbles_report, [scribbles], [image], hand_made) is scribbles_report
