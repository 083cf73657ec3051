"""QI charts drawn with pyqtgraph: the p-chart, the run chart and per-technologist small multiples.

The numbers come from ``auditdesk.qi.spc`` (limits, phases, signals); these widgets only draw them,
so a chart on screen, in a PNG/SVG export and in a PDF report always shows the same values. The
x axis is in weeks (days / 7 since 1970), so weeks with no audits leave a visible gap and an
annotation dated mid-week sits where it happened. Exports redraw with dark pens on white, so the
images read on paper whatever the screen theme is.

This module holds the widgets (themes, exports, small multiples); the drawing functions and
styles they call are in ``chart_drawing.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pyqtgraph as pg
import pyqtgraph.exporters  # registers pg.exporters
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from auditdesk.qi import spc
from auditdesk.qi.measures import measured_weeks
from auditdesk.ui.qi.chart_drawing import (
    DARK,
    LIGHT,
    PChartDrawing,
    RunChartDrawing,
    _prepare,
    draw_p_chart,
    draw_run_chart,
)

# --------------------------------------------------------------------------------------------
# Widgets
# --------------------------------------------------------------------------------------------


def _settle(item: Any) -> None:
    """Apply pending layout requests now (Qt lays out graphics widgets lazily)."""
    for _ in range(3):
        QApplication.sendPostedEvents(None, 0)
        attr = getattr(item, "layout", None)
        layout = attr() if callable(attr) else attr
        if layout is not None:
            layout.activate()


class _ChartBase(QWidget):
    """A GraphicsLayoutWidget that can redraw itself in the screen style or the paper style."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.style_ = DARK
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(self.style_.background)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self.setMinimumSize(320, 220)

    # subclasses redraw from their stored data
    def _redraw(self) -> None:
        raise NotImplementedError

    def _export_item(self) -> Any:
        return self.graphics.ci

    def set_theme(self, name: str, *, redraw: bool = True) -> None:
        """Follow the app theme ("dark" or "light")."""
        self.style_ = LIGHT if name == "light" else DARK
        self.graphics.setBackground(self.style_.background)
        if redraw:
            self._redraw()

    def _on_paper(self, width: int, action: Any, layout_width: int | None = None) -> Any:
        """Redraw dark-on-white at an export size, run ``action(item)``, then restore.

        The layout is resized directly (not the widget), so exporting works on a hidden widget
        and does not make the window on screen jump.
        """
        saved = self.style_
        item = self._export_item()
        old_rect = QRectF(item.geometry())
        height = int(width * 0.5) if self._single else int(width * 0.7)
        # Lay out at a screen-like size (so text keeps its proportion); the exporter scales up.
        scale = min(1.0, (layout_width or 1400) / width)
        self.style_ = LIGHT
        self.graphics.setBackground(LIGHT.background)
        self._redraw()
        item.setGeometry(QRectF(0, 0, width * scale, height * scale))
        _settle(item)
        try:
            return action(item)
        finally:
            self.style_ = saved
            self.graphics.setBackground(saved.background)
            self._redraw()
            item.setGeometry(old_rect)
            _settle(item)

    _single = True

    def to_image(self, width: int = 1600, layout_width: int | None = None) -> QImage | None:
        """The chart as a white-background image (for reports); ``layout_width`` is the size
        it is laid out at before scaling (smaller: larger text relative to the image)."""

        def grab(item: Any) -> QImage:
            exporter = pg.exporters.ImageExporter(item)
            exporter.parameters()["width"] = int(width)
            exporter.parameters()["background"] = pg.mkColor(LIGHT.background)
            return exporter.export(toBytes=True)

        try:
            image = self._on_paper(width, grab, layout_width)
        except Exception:  # pyqtgraph raises assorted errors on empty/zero-size scenes
            return None
        return image if isinstance(image, QImage) and not image.isNull() else None

    def png_bytes(self, width: int = 1600) -> bytes:
        """PNG-encoded white-background image, b"" when nothing could be drawn."""
        image = self.to_image(width)
        if image is None:
            return b""
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        buffer.close()
        return bytes(data.data())

    def export_png(self, path: str | Path, width: int = 1600) -> bool:
        """Save a PNG (white background, dark pens); False when it could not be written."""
        image = self.to_image(width)
        return bool(image is not None and image.save(str(path), "PNG"))

    def export_svg(self, path: str | Path) -> bool:
        """Save an SVG (white background, dark pens); False when it could not be written."""

        def write(item: Any) -> bool:
            # Qt's own SVG generator: pyqtgraph 0.14's SVGExporter cannot parse the closed
            # paths ("... Z") that Qt 6.11 writes and raises on every plot.
            rect = item.mapRectToScene(item.boundingRect())
            generator = QSvgGenerator()
            generator.setFileName(str(path))
            generator.setSize(rect.size().toSize())
            generator.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
            generator.setTitle("AuditDesk chart")
            painter = QPainter(generator)
            try:
                painter.fillRect(QRectF(0, 0, rect.width(), rect.height()), QColor("white"))
                painter.setRenderHint(QPainter.RenderHint.Antialiasing)
                item.scene().render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
            finally:
                painter.end()
            return True

        try:
            self._on_paper(1200, write)
        except Exception:
            return False
        target = Path(path)
        return target.is_file() and b"<svg" in target.read_bytes()[:4096]


class PChartWidget(_ChartBase):
    """Weekly proportions with per-week limits, phases, the goal line and PDSA annotations."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot: pg.PlotItem = self.graphics.addPlot()
        self.drawing: PChartDrawing | None = None
        self._args: dict[str, Any] | None = None
        self._empty()

    def _empty(self) -> None:
        _prepare(self.plot, self.style_, "No complete audits in this period", "% meeting criteria")

    def set_chart(
        self,
        chart: spc.PChart,
        *,
        title: str = "",
        goal_pct: float | None = None,
        annotations: Sequence[Any] = (),
    ) -> None:
        """Show a p-chart already computed by ``spc.p_chart``."""
        self._args = {
            "chart": chart,
            "title": title,
            "goal_pct": goal_pct,
            "annotations": list(annotations),
        }
        self._redraw()

    def set_weeks(
        self,
        rows: Sequence[Any],
        *,
        title: str = "",
        goal_pct: float | None = None,
        annotations: Sequence[Any] = (),
        laney: bool = False,
    ) -> spc.PChart | None:
        """Compute (``spc.p_chart``; phases start at annotations marked as new phase) and show."""
        rows = measured_weeks(rows)
        if not rows:
            self.clear()
            return None
        chart = spc.p_chart(
            [r.rate.numerator for r in rows],
            [r.rate.denominator for r in rows],
            [r.week_start for r in rows],
            phase_starts=[a.date for a in annotations if getattr(a, "starts_phase", False)],
            laney=laney,
        )
        self.set_chart(chart, title=title, goal_pct=goal_pct, annotations=annotations)
        return chart

    def clear(self) -> None:
        """Nothing to show (no complete audits in the period)."""
        self._args = None
        self.drawing = None
        self._redraw()

    def _redraw(self) -> None:
        if self._args is None or not self._args["chart"].points:
            self.drawing = None
            self._empty()
            return
        self.drawing = draw_p_chart(self.plot, style=self.style_, **self._args)

    def point_count(self) -> int:
        """Points drawn (one per week with audits)."""
        return 0 if self.drawing is None else len(self.drawing.points.points())

    def plotted_limits(self) -> list[tuple[float, float, float]]:
        """(lcl, cl, ucl) per point as fractions, read back from the drawn curves."""
        if self.drawing is None:
            return []

        def values(items: list[pg.PlotDataItem]) -> list[float]:
            out: list[float] = []
            for item in items:
                _x, y = item.getData()
                out += [float(v) / 100.0 for v in y[::2]]
            return out

        d = self.drawing
        return list(zip(values(d.lcl), values(d.centre), values(d.ucl), strict=True))

    def phase_count(self) -> int:
        """How many phases (baselines) the chart shows."""
        if self.drawing is None:
            return 0
        return max(1, len(self.drawing.chart.phases))


class RunChartWidget(_ChartBase):
    """Weekly values with the median and the run-chart signals of the chosen rule set."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot: pg.PlotItem = self.graphics.addPlot()
        self.drawing: RunChartDrawing | None = None
        self._args: dict[str, Any] | None = None
        self.rules = "anhoej"
        _prepare(self.plot, self.style_, "No complete audits in this period", "% meeting criteria")

    def set_values(
        self,
        labels: Sequence[date],
        values: Sequence[float],
        *,
        rules: str = "anhoej",
        title: str = "",
        goal_pct: float | None = None,
        annotations: Sequence[Any] = (),
    ) -> spc.RunChart | None:
        """Show ``values`` (in %) against week start ``labels``; rules "anhoej" | "ihi" | "both"."""
        self.rules = rules
        self._args = {
            "labels": list(labels),
            "values": [float(v) for v in values],
            "title": title,
            "goal_pct": goal_pct,
            "annotations": list(annotations),
        }
        self._redraw()
        return None if self.drawing is None else self.drawing.run

    def set_weeks(self, rows: Sequence[Any], **kwargs: Any) -> spc.RunChart | None:
        """Weekly rows (``measures.WeekRow``) as a run chart of their rates in %."""
        used = [r for r in rows if r.rate.rate is not None]
        return self.set_values(
            [r.week_start for r in used], [r.rate.rate * 100.0 for r in used], **kwargs
        )

    def set_rules(self, rules: str) -> None:
        """Switch the rule set (Anhøj, IHI or both) and redraw."""
        self.rules = rules
        self._redraw()

    def _redraw(self) -> None:
        if self._args is None or not self._args["values"]:
            self.drawing = None
            _prepare(self.plot, self.style_, "No complete audits in this period", "")
            return
        self.drawing = draw_run_chart(self.plot, rules=self.rules, style=self.style_, **self._args)

    def point_count(self) -> int:
        """Points drawn."""
        return 0 if self.drawing is None else len(self.drawing.points.points())

    def signal_names(self) -> list[str]:
        """The signal texts written on the chart, e.g. "Shift (Anhøj)"."""
        return [] if self.drawing is None else list(self.drawing.signal_texts)


class SmallMultiples(_ChartBase):
    """One small p-chart (or run chart) per technologist, in a grid, on shared 0–100 % axes."""

    _single = False

    def __init__(self, parent: QWidget | None = None, columns: int = 3) -> None:
        super().__init__(parent)
        self.columns = columns
        self.plots: dict[str, pg.PlotItem] = {}
        self._groups: dict[str, list[Any]] = {}
        self._kind = "p"
        self._goal: float | None = None
        self._rules = "anhoej"
        self.setMinimumSize(480, 320)

    def set_groups(
        self,
        groups: dict[str, Sequence[Any]],
        *,
        kind: str = "p",
        goal_pct: float | None = None,
        rules: str = "anhoej",
    ) -> None:
        """``groups``: name -> weekly rows (``measures.WeekRow``); kind "p" or "run"."""
        self._groups = {name: list(rows) for name, rows in groups.items() if rows}
        self._kind = kind
        self._goal = goal_pct
        self._rules = rules
        self._redraw()

    def _redraw(self) -> None:
        self.graphics.clear()
        self.plots = {}
        if not self._groups:
            label = self.graphics.addLabel("No technologist has complete audits in this period")
            label.setText(
                "No technologist has complete audits in this period", color=self.style_.foreground
            )
            return
        self.graphics.addLabel(
            "Per technologist — % of exams meeting criteria by week",
            colspan=self.columns,
            color=self.style_.foreground,
            size="11pt",
        )
        self.graphics.nextRow()
        for i, (name, rows) in enumerate(sorted(self._groups.items())):
            if i and i % self.columns == 0:
                self.graphics.nextRow()
            plot = self.graphics.addPlot()
            if self._kind == "run":
                used = [r for r in rows if r.rate.rate is not None]
                draw_run_chart(
                    plot,
                    [r.week_start for r in used],
                    [r.rate.rate * 100.0 for r in used],
                    rules=self._rules,
                    style=self.style_,
                    title=name,
                    goal_pct=self._goal,
                    legend=False,
                    compact=True,
                )
            else:
                rows = measured_weeks(rows)
                chart = spc.p_chart(
                    [r.rate.numerator for r in rows],
                    [r.rate.denominator for r in rows],
                    [r.week_start for r in rows],
                )
                draw_p_chart(
                    plot,
                    chart,
                    style=self.style_,
                    title=name,
                    goal_pct=self._goal,
                    legend=False,
                    compact=True,
                )
            self.plots[name] = plot

    def names(self) -> list[str]:
        """Technologists shown, in grid order."""
        return list(self.plots)
