"""The "Export to bioimage.io" dialog: name, authors, license, description and file, checked by the core's rules.

The values are checked by the same function that the export itself applies
(:func:`napari_tiled_unet.bioimageio.export._package_info`), so the dialog accepts exactly what the export
accepts. The last values are remembered in ``QSettings("napari-tiled-unet", "bioimageio-export")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtpy.QtCore import QSettings
from qtpy.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from napari_tiled_unet.bioimageio.export import DEFAULT_LICENSE, _package_info
from napari_tiled_unet.model import UNet

from .dock_layout import HELP_BIOIMAGEIO, help_link
from .qt_parts import ERROR_STYLE

#: Licenses offered in the list (any other SPDX identifier may be typed in).
LICENSES = ("CC-BY-4.0", "CC0-1.0", "CC-BY-SA-4.0", "MIT", "BSD-3-Clause", "Apache-2.0", "GPL-3.0-only")
SETTINGS = ("napari-tiled-unet", "bioimageio-export")


def default_settings() -> QSettings:
    """Where the dialog remembers its last values."""
    return QSettings(*SETTINGS)


@dataclass(frozen=True)
class ExportInfo:
    """What the user says about the exported model (the keyword arguments of ``export_bioimageio``)."""

    name: str
    authors: tuple[str, ...]
    license: str
    description: str

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`~napari_tiled_unet.bioimageio.export_bioimageio`."""
        return {"name": self.name, "authors": list(self.authors), "license": self.license,
                "description": self.description}


def split_authors(text: str) -> tuple[str, ...]:
    """Authors separated by ``;`` or new lines (a name may contain commas: "Doe, Jane (@janedoe)")."""
    return tuple(part.strip() for part in text.replace("\n", ";").split(";") if part.strip())


class ExportDialog(QDialog):
    """Asks what the bioimage.io package says about the model, and where to write it.

    Parameters
    ----------
    net : UNet
        The model to export (its defaults fill the name and the description).
    model_name : str
        Its name in this session (the last values for the same model are offered again).
    parent : QWidget, optional
        The widget the dialog belongs to.
    settings : QSettings, optional
        Where the last values are remembered (default :func:`default_settings`).

    """

    def __init__(self, net: UNet, model_name: str, parent: QWidget | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export to bioimage.io")
        self.net, self.model_name = net, model_name
        self.settings = settings if settings is not None else default_settings()
        self.info: ExportInfo | None = None
        defaults = _package_info(net, None, None, None, DEFAULT_LICENSE, ())
        same_model = self._last("model") == model_name

        self.name = QLineEdit(self._last("name") if same_model else defaults.name)
        self.name.setToolTip("the model's name in the package: 5 to 128 letters, digits, spaces, _ - + ( )")
        self.authors = QLineEdit(self._last("authors"))
        self.authors.setPlaceholderText("Jane Doe (@janedoe); John Roe")
        self.authors.setToolTip("who made the model: names separated by ';', each optionally followed by a GitHub "
                                "user name as 'Jane Doe (@janedoe)'")
        self.license = QComboBox()
        self.license.setEditable(True)
        self.license.addItems(LICENSES)
        self.license.setCurrentText(self._last("license") or DEFAULT_LICENSE)
        self.license.setToolTip("SPDX identifier of the license of the weights (https://spdx.org/licenses); "
                                f"{DEFAULT_LICENSE} lets anyone reuse them with credit")
        self.description = QPlainTextEdit(self._last("description") if same_model else defaults.description)
        self.description.setToolTip("what the model segments, on which images; at most 1024 characters")
        self.description.setFixedHeight(70)
        folder = Path(self._last("folder") or Path.home())
        self.path = QLineEdit(str(folder / f"{_file_stem(self.name.text())}.zip"))
        self.path.setToolTip("the .zip file to write (it appears complete or not at all)")
        browse = QPushButton("Browse…")
        browse.setToolTip("choose the file to write")
        browse.clicked.connect(self._browse)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setToolTip("check the values and write the package")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setToolTip("export nothing")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("name", self.name)
        form.addRow("authors", self.authors)
        form.addRow("license", self.license)
        form.addRow("description", self.description)
        file_row = QHBoxLayout()
        file_row.addWidget(self.path, 1)
        file_row.addWidget(browse)
        form.addRow("file", file_row)
        layout = QVBoxLayout(self)
        layout.addWidget(help_link("What goes into a bioimage.io package", HELP_BIOIMAGEIO,
                                   "the README section on sharing models"))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(520, self.sizeHint().height())

    def _last(self, key: str) -> str:
        value = self.settings.value(key, "")
        return str(value) if value is not None else ""

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export to bioimage.io", self.path.text(),
                                              "bioimage.io package (*.zip)")
        if path:
            self.path.setText(path)

    def values(self) -> ExportInfo:
        """The values as typed (not checked)."""
        return ExportInfo(name=self.name.text().strip(), authors=split_authors(self.authors.text()),
                          license=self.license.currentText().strip(),
                          description=self.description.toPlainText().strip())

    def target(self) -> Path:
        """The file to write (``.zip`` appended when missing)."""
        path = Path(self.path.text().strip()).expanduser()
        return path if path.suffix.lower() == ".zip" else path.with_name(path.name + ".zip")

    def check(self) -> str | None:
        """Check the values with the export's own rules; the error message, or None when they are fine."""
        info = self.values()
        if not self.path.text().strip():
            return "file: choose where to write the package"
        try:
            _package_info(self.net, info.name, info.description, info.authors, info.license, ())
        except ValueError as err:
            return str(err)
        return None

    def accept(self) -> None:  # Qt override
        """Export only with valid values; otherwise say what to fix and stay open."""
        problem = self.check()
        if problem is not None:
            self.error.setText(problem)
            return
        self.info = self.values()
        self._remember(self.info)
        super().accept()

    def _remember(self, info: ExportInfo) -> None:
        for key, value in (("name", info.name), ("authors", "; ".join(info.authors)), ("license", info.license),
                           ("description", info.description), ("model", self.model_name),
                           ("folder", str(self.target().parent))):
            self.settings.setValue(key, value)
        self.settings.sync()


def _file_stem(name: str) -> str:
    """A file name from a model name ("Nuclei U-Net (2D)" -> "Nuclei_U-Net_2D")."""
    keep = "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_")
    while "__" in keep:
        keep = keep.replace("__", "_")
    return keep or "model"
