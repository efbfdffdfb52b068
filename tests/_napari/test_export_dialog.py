"""The Export to bioimage.io dialog: asks name, authors, license and description, checks them with the export's own
rules, remembers them, and the package says what was typed."""

from __future__ import annotations

import zipfile

import pytest
import yaml
from qtpy.QtCore import QSettings

from napari_tiled_unet._napari.export_dialog import ExportDialog, split_authors
from napari_tiled_unet._napari.predict_widget import PredictWidget
from napari_tiled_unet.bioimageio.export import DEFAULT_LICENSE

TIMEOUT = 120_000


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "export.ini"), QSettings.Format.IniFormat)


def fill(dialog: ExportDialog, path, name="Nuclei U-Net", authors="Jane Doe (@janedoe); Doe, John",
         license="MIT", description="Segments nuclei in fluorescence images.") -> None:
    dialog.name.setText(name)
    dialog.authors.setText(authors)
    dialog.license.setCurrentText(license)
    dialog.description.setPlainText(description)
    dialog.path.setText(str(path))


def test_the_dialog_checks_with_the_export_rules_and_remembers(qtbot, tiny_model, settings, tmp_path):
    dialog = ExportDialog(tiny_model, "tiny", settings=settings)
    qtbot.addWidget(dialog)
    assert dialog.name.text().startswith("napari-tiled-unet 2D U-Net")  # the export's default
    assert dialog.license.currentText() == DEFAULT_LICENSE and dialog.description.toPlainText()
    assert dialog.authors.text() == ""
    dialog.accept()  # no author: refused, with the export's message
    assert dialog.info is None and "authors" in dialog.error.text()
    for field, value, expected in (("name", "ab", "model name 'ab' is invalid"),
                                   ("license", "CC BY", "not an SPDX identifier"),
                                   ("authors", "(@janedoe)", "authors")):
        fill(dialog, tmp_path / "a.zip", **{field: value})
        dialog.accept()
        assert dialog.info is None and expected in dialog.error.text(), dialog.error.text()
    fill(dialog, tmp_path / "out" / "nuclei")
    dialog.accept()
    assert dialog.info is not None and dialog.info.authors == ("Jane Doe (@janedoe)", "Doe, John")
    assert dialog.target() == tmp_path / "out" / "nuclei.zip"

    again = ExportDialog(tiny_model, "tiny", settings=settings)  # the same model: everything remembered
    qtbot.addWidget(again)
    assert again.name.text() == "Nuclei U-Net" and again.authors.text() == "Jane Doe (@janedoe); Doe, John"
    assert again.license.currentText() == "MIT" and again.path.text().startswith(str(tmp_path / "out"))
    other = ExportDialog(tiny_model, "another model", settings=settings)  # who and which license still are
    qtbot.addWidget(other)
    assert other.name.text().startswith("napari-tiled-unet") and other.license.currentText() == "MIT"
    assert other.authors.text() == "Jane Doe (@janedoe); Doe, John"
    assert split_authors(" a ; b\nc;; ") == ("a", "b", "c")


def test_export_from_the_widget_writes_what_the_dialog_asked(viewer, qtbot, tiny_model, clean_registry, settings,
                                                              tmp_path, notes):
    clean_registry.add(tiny_model, name="tiny")
    widget = PredictWidget(viewer)
    widget.export_button.native.click()  # the button opens the dialog (the user's QSettings: closed untouched)
    dialog = widget.native.findChild(ExportDialog)
    assert dialog is not None and dialog.windowTitle() == "Export to bioimage.io"
    dialog.reject()
    dialog = widget.open_export_dialog(settings=settings)
    fill(dialog, tmp_path / "nuclei.zip")
    dialog.accept()
    qtbot.waitUntil(lambda: not widget.export_runner.running and widget.export_button.enabled, timeout=TIMEOUT)
    assert notes.errors == [] and "Exported" in notes.infos[-1]
    with zipfile.ZipFile(tmp_path / "nuclei.zip") as package:
        rdf = yaml.safe_load(package.read("rdf.yaml"))
    assert rdf["name"] == "Nuclei U-Net" and rdf["license"] == "MIT"
    assert rdf["description"] == "Segments nuclei in fluorescence images."
    assert rdf["authors"][0] == {"name": "Jane Doe", "github_user": "janedoe"}
    assert rdf["authors"][1]["name"] == "Doe, John"
