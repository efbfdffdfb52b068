"""The bioimage.io reference tools accept our packages and predict what napari-tiled-unet predicts.

Needs the ``bioimageio`` extra (part of ``dev``); skipped without it.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from unet_helpers import ANISO_3D

from napari_tiled_unet.bioimageio import export_bioimageio
from napari_tiled_unet.bioimageio.rdf import FILES, OUTPUT_ID
from napari_tiled_unet.inference import predict_image

core = pytest.importorskip("bioimageio.core")
from bioimageio.core import create_prediction_pipeline, load_model_description, predict  # noqa: E402
from bioimageio.core import test_model as run_reference_test  # noqa: E402  (not collected as a test)
from bioimageio.core.digest_spec import get_test_input_sample  # noqa: E402

WEIGHT_FORMATS = ("pytorch_state_dict", "torchscript")


def _runtime_prediction(package, weight_format):
    descr = load_model_description(package)
    # predict() loads and unloads the pipeline itself (a `with` block around it would unload twice and hang)
    pipeline = create_prediction_pipeline(descr, weight_format=weight_format)
    result = predict(model=pipeline, inputs=get_test_input_sample(descr))
    return result.members[OUTPUT_ID].data.to_numpy()


def _tested_formats(summary):
    return {f for f in WEIGHT_FORMATS for d in summary.details if "Reproduce test outputs" in d.name and f in d.name}


@pytest.mark.slow
def test_bioimageio_test_command_passes(package):
    command = Path(sys.executable).parent / "bioimageio"
    result = subprocess.run([str(command), "test", str(package)], capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "passed" in output and "failed" not in output


def test_runtime_prediction_equals_ours(package, trained, read_npy):
    raw = read_npy(package, FILES["test_input"])
    probabilities, _ = predict_image(trained, raw[0], axes="CYX", output="probabilities")
    m = trained.config.margin
    ours = probabilities[None, :, m:-m, m:-m]
    expected = read_npy(package, FILES["test_output"])
    for weight_format in WEIGHT_FORMATS:
        theirs = _runtime_prediction(package, weight_format)
        # class probabilities, then the centre distance (a sigmoid) of the instance model
        np.testing.assert_allclose(theirs[:, :3], ours, rtol=0, atol=1e-5)
        np.testing.assert_allclose(theirs, expected, rtol=0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("config", [{"depth": 4, "wf": 1, "up_mode": "upsample", "batch_norm": True},
                                    {"depth": 2, "wf": 1, "dims": 3}, {"depth": 3, "wf": 1, "padding": "same"},
                                    {**ANISO_3D, "wf": 1, "up_mode": "upsample", "batch_norm": True}],
                         ids=["depth4-upsample-bn", "3d", "same", "anisotropic-3d"])
def test_reference_test_passes_for_other_architectures(config, crafted, read_npy, tmp_path):
    net = crafted(**config)
    package = export_bioimageio(net, tmp_path / "model.zip")
    summary = run_reference_test(package)
    assert summary.status == "passed", summary.format()
    assert _tested_formats(summary) == set(WEIGHT_FORMATS)
    if net.config.padding == "valid":  # our tiled engine made the test output; the runtime runs one pass
        expected = read_npy(package, FILES["test_output"])
        np.testing.assert_allclose(_runtime_prediction(package, "torchscript"), expected, rtol=0, atol=1e-5)
