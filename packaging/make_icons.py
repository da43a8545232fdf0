"""Make the installer icons: ``packaging/icons/interphone.{png,ico,icns}``.

Renders the app's own icon (``resources/icons/interphone.svg``, else
``resources/icons/app.svg``, the window icon) when there is one, otherwise
draws a mark itself (a rounded tile with a handset-style talk button and
signal arcs). Qt draws offscreen; the ICO and ICNS containers are written by
hand (both just wrap PNG images), so no Pillow is needed. The outputs are
committed: the platform builds use them as they are. Run again after the SVG
changes:

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/make_icons.py
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "packaging" / "icons"
ICONS = ROOT / "resources" / "icons"
SVG = next(
    (ICONS / name for name in ("interphone.svg", "app.svg") if (ICONS / name).is_file()),
    ICONS / "interphone.svg",
)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS element types holding PNG data, by pixel size.
ICNS_TYPES = ((b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128),
              (b"ic08", 256), (b"ic09", 512), (b"ic10", 1024))


def render_png(size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, Qt
    from PySide6.QtGui import QBrush, QColor, QImage, QLinearGradient, QPainter, QPen

    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if SVG.is_file():
        from PySide6.QtSvg import QSvgRenderer

        QSvgRenderer(str(SVG)).render(painter, QRectF(0, 0, size, size))
    else:
        s = size / 64.0
        tile = QLinearGradient(QPointF(0, 0), QPointF(0, size))
        tile.setColorAt(0.0, QColor("#2f80ed"))
        tile.setColorAt(1.0, QColor("#1b4f9c"))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(tile))
        painter.drawRoundedRect(QRectF(2 * s, 2 * s, 60 * s, 60 * s), 13 * s, 13 * s)
        # The radio: a body with a grille and an antenna.
        painter.setBrush(QColor("#ffffff"))
        painter.drawRoundedRect(QRectF(20 * s, 20 * s, 20 * s, 34 * s), 4 * s, 4 * s)
        painter.drawRoundedRect(QRectF(33 * s, 8 * s, 4 * s, 14 * s), 2 * s, 2 * s)
        painter.setBrush(QColor("#1b4f9c"))
        for row in range(3):
            painter.drawRoundedRect(
                QRectF(24 * s, (26 + 5 * row) * s, 12 * s, 2.4 * s), 1.2 * s, 1.2 * s
            )
        painter.setBrush(QColor("#f2994a"))
        painter.drawEllipse(QPointF(30 * s, 46 * s), 4 * s, 4 * s)
        # Signal arcs to the right of the antenna.
        pen = QPen(QColor("#ffffff"), 3 * s)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for radius in (7, 13):
            r = radius * s
            painter.drawArc(QRectF(35 * s - r, 14 * s - r, 2 * r, 2 * r), -50 * 16, 100 * 16)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def ico(pngs: dict[int, bytes]) -> bytes:
    """A Windows ICO whose entries are PNG images (Vista and later)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries, blobs = b"", b""
    for size, png in sorted(pngs.items()):
        dim = 0 if size >= 256 else size  # 0 means 256 in ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset)
        blobs += png
        offset += len(png)
    return header + entries + blobs


def icns(pngs: dict[int, bytes]) -> bytes:
    """An Apple ICNS whose elements are PNG images (macOS 10.7 and later)."""
    body = b"".join(
        kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for kind, size in ICNS_TYPES
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication(sys.argv[:1])
    sizes = sorted({*ICO_SIZES, *(size for _, size in ICNS_TYPES)})
    pngs = {size: render_png(size) for size in sizes}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "interphone.png").write_bytes(pngs[256])
    (OUT / "interphone.ico").write_bytes(ico({s: pngs[s] for s in ICO_SIZES}))
    (OUT / "interphone.icns").write_bytes(icns(pngs))
    source = SVG.relative_to(ROOT) if SVG.is_file() else "the built-in drawing"
    print(f"icons written to {OUT.relative_to(ROOT)} from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
