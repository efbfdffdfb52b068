"""Both docks on a 1600x1000 screen: everything open still fits, every button can be reached, every control explains
itself, and each widget links to its documentation."""

from __future__ import annotations

import pytest
from qtpy.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QLabel,
    QLineEdit,
    QProgressBar,
    QWidget,
)

from napari_tiled_unet._napari.dock_layout import DOCS_URL
from napari_tiled_unet._napari.launch import PLUGIN, PREDICT, TRAIN

SCREEN = (1600, 1000)
CONTROLS = (QAbstractButton, QComboBox, QAbstractSpinBox, QLineEdit, QProgressBar)


def settle(qtbot, ms: int = 200) -> None:
    qtbot.wait(ms)
    QApplication.processEvents()


def dock_of(widget) -> QDockWidget:
    parent = widget.native
    while not isinstance(parent, QDockWidget):
        parent = parent.parentWidget()
    return parent


def controls(widget) -> list[QWidget]:
    """The widget's interactive Qt controls (not the line edits inside spin and combo boxes)."""
    found = []
    for control in widget.native.findChildren(QWidget):
        if not isinstance(control, CONTROLS):
            continue
        parent = control.parentWidget()
        if isinstance(control, QLineEdit) and isinstance(parent, (QAbstractSpinBox, QComboBox)):
            continue
        found.append(control)
    return found


def open_everything(widget) -> None:
    for box in widget.sections.values():
        box.expand(animate=False)


def dock_both(make_napari_viewer, qtbot, tabbed: bool) -> tuple:
    """A shown viewer of the screen's size with the sample and both widgets docked, every section open."""
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(*SCREEN)
    viewer.open_sample(PLUGIN, "nuclei_2d")
    _dock, train = viewer.window.add_plugin_dock_widget(PLUGIN, TRAIN)
    _dock, predict = viewer.window.add_plugin_dock_widget(PLUGIN, PREDICT, tabify=tabbed)
    for widget in (train, predict):
        open_everything(widget)
    qtbot.waitUntil(lambda: not train.label_check.pending, timeout=30_000)  # its text sets the dock's height
    settle(qtbot)
    return viewer, train, predict


ARRANGEMENTS = pytest.mark.parametrize("tabbed", [True, False], ids=["tabbed", "side by side"])


@ARRANGEMENTS
def test_both_docks_with_everything_open_fit_a_1000_px_screen(make_napari_viewer, qtbot, tabbed):
    viewer, train, predict = dock_both(make_napari_viewer, qtbot, tabbed)
    window = viewer.window._qt_window
    assert window.minimumSizeHint().height() <= SCREEN[1], window.minimumSizeHint()
    window.resize(*SCREEN)
    settle(qtbot)
    assert (window.width(), window.height()) == SCREEN  # (pytest-xvfb's screen is smaller; Qt keeps the size)
    assert train.advanced.native.isVisibleTo(train.native) and train.plot.isVisibleTo(train.native)
    for widget in (train, predict):
        dock_of(widget).raise_()
        settle(qtbot, 50)
        buttons = [b for b in widget.native.findChildren(QAbstractButton) if b.isVisibleTo(widget.native)]
        assert len(buttons) >= 5
        for button in buttons:
            if widget.scroll.widget().isAncestorOf(button):
                widget.scroll.ensureWidgetVisible(button, 0, 0)
                settle(qtbot, 20)
                viewport = widget.scroll.viewport()
                top_left = button.mapTo(viewport, button.rect().topLeft())
                bottom = button.mapTo(viewport, button.rect().bottomLeft()).y()
                assert top_left.y() >= 0 and bottom <= viewport.height(), f"{button.text()!r} cannot be scrolled to"
            corner = button.mapTo(window, button.rect().bottomRight())
            assert 0 <= corner.y() <= window.height() and 0 <= corner.x() <= window.width(), button.text()
            assert button.isVisible(), button.text()


@ARRANGEMENTS
def test_every_control_has_a_tooltip(make_napari_viewer, qtbot, tabbed):
    _viewer, train, predict = dock_both(make_napari_viewer, qtbot, tabbed)
    for widget in (train, predict):
        found = controls(widget)
        assert len(found) >= 15
        missing = [f"{type(c).__name__} {getattr(c, 'text', lambda: '')()!r}" for c in found if not c.toolTip()]
        assert missing == [], f"{type(widget).__name__}: controls without a tooltip: {missing}"


def test_each_widget_links_to_its_documentation(make_napari_viewer, qtbot):
    _viewer, train, predict = dock_both(make_napari_viewer, qtbot, True)
    for widget, anchors in ((train, ["#in-napari-for-biologists"]),
                            (predict, ["#in-napari-for-biologists", "#command-line"])):
        links = [label for label in widget.native.findChildren(QLabel) if "href=" in label.text()]
        assert all(label.openExternalLinks() for label in links)
        targets = [label.text().split('href="')[1].split('"')[0] for label in links]
        assert targets == [DOCS_URL + anchor for anchor in anchors]


def test_the_loss_plot_is_compact(make_napari_viewer, qtbot):
    _viewer, train, _predict = dock_both(make_napari_viewer, qtbot, True)
    assert 100 <= train.plot.height() <= 160
