"""The exported package declares our normalisation rule: a stack given as a batch is normalised as a whole.

Needs the ``bioimageio`` extra (part of ``dev``); skipped without it.
"""

import numpy as np
import pytest

from napari_tiled_unet.bioimageio.rdf import OUTPUT_ID
from napari_tiled_unet.inference import predict_image

core = pytest.importorskip("bioimageio.core")
from bioimageio.core import Sample, Tensor, create_prediction_pipeline, load_model_description, predict  # noqa: E402


def test_a_stack_as_a_batch_is_normalised_like_our_whole_stack(package, trained):
    """Two planes of very different brightness: per-plane statistics would make them look alike."""
    rng = np.random.default_rng(0)
    size = 2 * trained.config.min_input_size
    base = rng.gamma(2.0, 100.0, size=(size, size)).astype(np.float32)
    stack = np.stack([base, 0.2 * base])
    ours, _axes = predict_image(trained, stack, axes="ZYX", output="probabilities")
    m = trained.config.margin
    descr = load_model_description(package)
    pipeline = create_prediction_pipeline(descr, weight_format="torchscript")
    tensor = Tensor(stack[:, None], dims=("batch", "channel", "y", "x"))
    sample = Sample(members={descr.inputs[0].id: tensor}, stat={}, id="stack")
    theirs = predict(model=pipeline, inputs=sample).members[OUTPUT_ID].data.to_numpy()
    np.testing.assert_allclose(theirs, ours[:, :, m:-m, m:-m], rtol=0, atol=1e-4)
    # and the two planes really were normalised together: the dim plane predicts differently
    assert np.abs(ours[0] - ours[1]).max() > 1e-3
