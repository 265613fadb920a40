#pragma once
#include <QColor>
#include <QPalette>
#include <QString>

class QApplication;

namespace prawmp::gui {

// Colours of the dashboard that must read well on both dark and light
// palettes. Everything else (backgrounds, text, grid) is taken from the
// widget's palette, so the dashboard follows the platform theme.
namespace theme {

enum class Series { Hits, Coalesced, Upstream, Ratio, Wait, Error, Warning };

bool isDark(const QPalette &palette);
QColor color(Series series, const QPalette &palette);
// A distinct colour per rate domain (index in the order the daemon lists them).
QColor domainColor(int index, const QPalette &palette);
// Text colour for the X-Cache column ("HIT", "MISS", ...).
QColor cacheStatusColor(const QString &status, const QPalette &palette);
// Colour of a budget gauge filled to `usedFraction` (0..1): calm, then warm, then red.
QColor budgetColor(double usedFraction, const QPalette &palette);

// "--theme dark|light": Fusion with a fixed palette, for screenshots and for
// desktops whose platform theme Qt 6.4 cannot read. "system" (or empty)
// leaves the platform's style and palette alone. False for an unknown name.
bool apply(QApplication &app, const QString &name);
QPalette darkPalette();
QPalette lightPalette();

} // namespace theme
} // namespace prawmp::gui
