"""Error messages: what went wrong and what to do."""

from __future__ import annotations

import logging

import torch

from napari_tiled_unet._napari.messages import explain, is_out_of_memory, report_error
from napari_tiled_unet.training.loop import TrainingFailed


def test_out_of_memory_says_what_to_lower():
    err = TrainingFailed("training stopped at step 3: CUDA out of memory", best_model=None)
    err.__cause__ = torch.OutOfMemoryError("CUDA out of memory")
    assert is_out_of_memory(err) and is_out_of_memory(MemoryError())
    message = explain("train", err)
    assert "batch size" in message and "patch size" in message and "no model was kept" in message


def test_training_failed_and_value_errors():
    assert "best model so far was kept" in explain("train", TrainingFailed("boom", best_model=object()))
    assert explain("predict", ValueError("pick a 2D model")) == "Could not predict: pick a 2D model"
    assert "report it" in explain("predict", KeyError("x"))


def test_report_error_logs_and_notifies(notes, caplog):
    with caplog.at_level(logging.ERROR):
        message = report_error("train", RuntimeError("kaput"))
    assert notes.errors == [message] and "kaput" in caplog.text
