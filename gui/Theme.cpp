#include "Theme.h"

#include <QApplication>
#include <QStyleFactory>

namespace prawmp::gui::theme {

bool isDark(const QPalette &palette)
{
    return palette.color(QPalette::Window).lightness() < 128;
}

QColor color(Series series, const QPalette &palette)
{
    const bool dark = isDark(palette);
    switch (series) {
    case Series::Hits:
        return dark ? QColor(0x4c, 0xc3, 0x8a) : QColor(0x1e, 0x8e, 0x4f);
    case Series::Coalesced:
        return dark ? QColor(0x5a, 0xa9, 0xf0) : QColor(0x1f, 0x6f, 0xc4);
    case Series::Upstream:
        return dark ? QColor(0xff, 0xa3, 0x48) : QColor(0xe0, 0x6c, 0x00);
    case Series::Ratio:
        return dark ? QColor(0xb3, 0x8c, 0xff) : QColor(0x6a, 0x3d, 0xc8);
    case Series::Wait:
        return dark ? QColor(0xff, 0x7a, 0x90) : QColor(0xc2, 0x1f, 0x4a);
    case Series::Error:
        return dark ? QColor(0xff, 0x6b, 0x6b) : QColor(0xc6, 0x28, 0x28);
    case Series::Warning:
        return dark ? QColor(0xf5, 0xc2, 0x42) : QColor(0xa8, 0x6a, 0x00);
    }
    return palette.color(QPalette::Text);
}

QColor domainColor(int index, const QPalette &palette)
{
    static const QColor light[] = {QColor(0x1f, 0x6f, 0xc4), QColor(0xe0, 0x6c, 0x00),
                                   QColor(0x1e, 0x8e, 0x4f), QColor(0x6a, 0x3d, 0xc8),
                                   QColor(0xc2, 0x1f, 0x4a), QColor(0x00, 0x83, 0x8f)};
    static const QColor dark[] = {QColor(0x5a, 0xa9, 0xf0), QColor(0xff, 0xa3, 0x48),
                                  QColor(0x4c, 0xc3, 0x8a), QColor(0xb3, 0x8c, 0xff),
                                  QColor(0xff, 0x7a, 0x90), QColor(0x4d, 0xd0, 0xe1)};
    const int i = index % 6;
    return isDark(palette) ? dark[i] : light[i];
}

QColor cacheStatusColor(const QString &status, const QPalette &palette)
{
    if (status == QLatin1String("HIT"))
        return color(Series::Hits, palette);
    if (status == QLatin1String("COALESCED"))
        return color(Series::Coalesced, palette);
    if (status == QLatin1String("MISS"))
        return color(Series::Upstream, palette);
    return palette.color(QPalette::PlaceholderText);
}

QColor budgetColor(double usedFraction, const QPalette &palette)
{
    if (usedFraction >= 0.9)
        return color(Series::Error, palette);
    if (usedFraction >= 0.7)
        return color(Series::Warning, palette);
    return color(Series::Coalesced, palette);
}

QPalette darkPalette()
{
    QPalette p;
    const QColor window(0x20, 0x23, 0x28), base(0x17, 0x19, 0x1d), text(0xe6, 0xe8, 0xeb);
    const QColor button(0x2b, 0x2f, 0x36), highlight(0x3d, 0x7e, 0xd8), disabled(0x7a, 0x80, 0x88);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, QColor(0x1d, 0x20, 0x25));
    p.setColor(QPalette::ToolTipBase, button);
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::PlaceholderText, disabled);
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, button);
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, Qt::white);
    p.setColor(QPalette::Light, QColor(0x3a, 0x3f, 0x47));
    p.setColor(QPalette::Midlight, QColor(0x33, 0x37, 0x3e));
    p.setColor(QPalette::Mid, QColor(0x2a, 0x2e, 0x34));
    p.setColor(QPalette::Dark, QColor(0x12, 0x14, 0x17));
    p.setColor(QPalette::Shadow, Qt::black);
    p.setColor(QPalette::Highlight, highlight);
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Link, QColor(0x6c, 0xb2, 0xff));
    p.setColor(QPalette::LinkVisited, QColor(0xb3, 0x8c, 0xff));
    for (auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
        p.setColor(QPalette::Disabled, role, disabled);
    p.setColor(QPalette::Disabled, QPalette::Highlight, QColor(0x44, 0x48, 0x50));
    return p;
}

QPalette lightPalette()
{
    QPalette p;
    const QColor window(0xf3, 0xf4, 0xf6), text(0x1d, 0x21, 0x27), disabled(0x9a, 0xa0, 0xa8);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, Qt::white);
    p.setColor(QPalette::AlternateBase, QColor(0xf6, 0xf7, 0xf9));
    p.setColor(QPalette::ToolTipBase, QColor(0xff, 0xff, 0xe8));
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::PlaceholderText, QColor(0x80, 0x86, 0x8e));
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, QColor(0xe9, 0xeb, 0xee));
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, Qt::white);
    p.setColor(QPalette::Light, Qt::white);
    p.setColor(QPalette::Midlight, QColor(0xe2, 0xe4, 0xe8));
    p.setColor(QPalette::Mid, QColor(0xc4, 0xc8, 0xce));
    p.setColor(QPalette::Dark, QColor(0x9a, 0x9f, 0xa6));
    p.setColor(QPalette::Shadow, QColor(0x50, 0x50, 0x50));
    p.setColor(QPalette::Highlight, QColor(0x2f, 0x6f, 0xd0));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Link, QColor(0x1f, 0x5f, 0xc0));
    for (auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
        p.setColor(QPalette::Disabled, role, disabled);
    return p;
}

bool apply(QApplication &app, const QString &name)
{
    const QString n = name.trimmed().toLower();
    if (n.isEmpty() || n == QLatin1String("system"))
        return true;
    if (n != QLatin1String("dark") && n != QLatin1String("light"))
        return false;
    app.setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
    QApplication::setPalette(n == QLatin1String("dark") ? darkPalette() : lightPalette());
    return true;
}

} // namespace prawmp::gui::theme
