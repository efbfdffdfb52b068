"""How a dock widget is laid out: a help link on top, collapsible sections that scroll, the actions pinned below.

napari docks a widget's ``native`` QWidget as it is (without a scroll area), so a tall widget makes the whole
window taller than the screen. Every widget of the plugin therefore puts its sections in a QScrollArea and
keeps only what the user must always reach (the action buttons, the progress and the status) outside of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qtpy.QtCore import QEvent, QObject, QSize, Qt
from qtpy.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget
from superqt import QCollapsible

DOCS_URL = "https://github.com/napari-tiled-unet/napari-tiled-unet"
#: README sections the widgets link to.
HELP_NAPARI = f"{DOCS_URL}#in-napari-for-biologists"
HELP_COMMAND_LINE = f"{DOCS_URL}#command-line"
HELP_BIOIMAGEIO = f"{DOCS_URL}#share-models-bioimageio"
#: The least height the scrolled sections keep (the rest of the dock is the help link and the actions).
SCROLL_MIN_HEIGHT = 90
#: The height the scrolled sections ask for at most, so that two docks one above the other share the space.
SCROLL_PREFERRED_HEIGHT = 420
#: A link colour readable on napari's dark and light themes.
LINK_COLOR = "#5a9cff"


def help_link(text: str, url: str, tooltip: str) -> QLabel:
    """A label with a hyperlink that opens ``url`` in the web browser."""
    label = QLabel(f'<a href="{url}" style="color: {LINK_COLOR};">{text}</a>')
    label.setOpenExternalLinks(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    label.setToolTip(f"{tooltip}\n{url}")
    label.setObjectName("napari_tiled_unet_help")
    return label


def section(title: str, content: QWidget, expanded: bool = True, tooltip: str = "") -> QCollapsible:
    """A collapsible section holding ``content``, open or closed; its title button gets ``tooltip``."""
    box = QCollapsible(title, expandedIcon="▼", collapsedIcon="▶")
    box.setDuration(0)
    box.addWidget(content)
    box.layout().setContentsMargins(0, 2, 0, 2)
    box.toggleButton().setToolTip(tooltip or f"show or hide {title.lower()}")
    if expanded:
        box.expand(animate=False)
    else:
        box.collapse(animate=False)
    content.installEventFilter(FollowContent(box))
    return box


class FollowContent(QObject):
    """Keeps an open section as tall as its content when the content grows (a longer message, a shown row).

    QCollapsible caps its content at the height it had when opened and only measures it again when the
    content is resized, which a capped content never is.
    """

    def __init__(self, box: QCollapsible) -> None:
        super().__init__(box)
        self._box = box

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt override
        """On a layout request of the content, open the section again at the content's new height."""
        try:
            if event.type() == QEvent.Type.LayoutRequest and self._box.isExpanded():
                inner = self._box.content()
                if inner.maximumHeight() != inner.sizeHint().height() + 10:  # what QCollapsible gives it open
                    self._box.expand(animate=False)
        except RuntimeError:  # the section is being deleted
            pass
        return False


class SectionsScrollArea(QScrollArea):
    """A scroll area that asks for a moderate height: napari shares a dock area by the docks' size hints."""

    def sizeHint(self) -> QSize:  # Qt override
        """The content's width, and its height up to :data:`SCROLL_PREFERRED_HEIGHT`."""
        inner = self.widget()
        hint = inner.sizeHint() if inner is not None else QSize(0, 0)
        width = hint.width() + self.verticalScrollBar().sizeHint().width()
        return QSize(width, max(SCROLL_MIN_HEIGHT, min(hint.height(), SCROLL_PREFERRED_HEIGHT)))


def scroll_area(sections: Iterable[QWidget]) -> QScrollArea:
    """A vertical scroll area holding ``sections`` one below the other (no horizontal scrolling)."""
    inner = QWidget()
    layout = QVBoxLayout(inner)
    layout.setContentsMargins(0, 0, 4, 0)
    for widget in sections:
        layout.addWidget(widget)
    layout.addStretch(1)
    area = SectionsScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(inner)
    area.setMinimumHeight(SCROLL_MIN_HEIGHT)
    area.setMinimumWidth(inner.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width())
    area.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    return area


def lay_out_dock(outer: Any, header: Iterable[QWidget], sections: Iterable[QWidget],
                 footer: Iterable[QWidget]) -> QScrollArea:
    """Fill a magicgui Container's layout: ``header``, the scrolled ``sections``, then the pinned ``footer``.

    Returns
    -------
    QScrollArea
        The scroll area (tests and screenshots scroll it to show a section).

    """
    layout = outer.native.layout()
    layout.setContentsMargins(6, 4, 6, 4)
    for widget in header:
        layout.addWidget(widget)
    area = scroll_area(sections)
    layout.addWidget(area, 1)
    for widget in footer:
        layout.addWidget(widget)
    return area


def native_of(widgets: Iterable[Any]) -> list[QWidget]:
    """The Qt widgets of magicgui widgets (Qt widgets are passed through)."""
    return [getattr(w, "native", w) for w in widgets]
