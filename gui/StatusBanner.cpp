#include "StatusBanner.h"

#include "Theme.h"

#include <QAction>
#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QToolButton>

namespace prawmp::gui {

StatusBanner::StatusBanner(QWidget *parent) : QFrame(parent)
{
    setFrameShape(QFrame::StyledPanel);
    setAutoFillBackground(true);
    m_label = new QLabel(this);
    m_label->setWordWrap(true);
    m_label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_buttons = new QHBoxLayout;
    m_buttons->setSpacing(6);
    m_close = new QToolButton(this);
    m_close->setText(QStringLiteral("✕"));
    m_close->setAutoRaise(true);
    m_close->setToolTip(tr("Dismiss"));
    connect(m_close, &QToolButton::clicked, this, [this] {
        dismiss();
        emit closedByUser();
    });

    auto *layout = new QHBoxLayout(this);
    layout->setContentsMargins(10, 6, 6, 6);
    layout->addWidget(m_label, 1);
    layout->addLayout(m_buttons);
    layout->addWidget(m_close);
    hide();
}

void StatusBanner::showMessage(Kind kind, const QString &text, const QList<QAction *> &actions)
{
    m_kind = kind;
    m_label->setText(text);
    if (actions != m_actions) {
        while (QLayoutItem *item = m_buttons->takeAt(0)) {
            delete item->widget();
            delete item;
        }
        m_actions = actions;
        for (QAction *action : actions) {
            auto *button = new QPushButton(action->text().remove(QLatin1Char('&')), this);
            button->setToolTip(action->toolTip());
            button->setEnabled(action->isEnabled());
            connect(button, &QPushButton::clicked, action, &QAction::trigger);
            connect(action, &QAction::enabledChanged, button, &QPushButton::setEnabled);
            m_buttons->addWidget(button);
        }
    }
    applyColors();
    show();
}

void StatusBanner::dismiss()
{
    hide();
}

QString StatusBanner::text() const
{
    return m_label->text();
}

void StatusBanner::applyColors()
{
    m_applying = true;
    const QPalette base = parentWidget() ? parentWidget()->palette() : palette();
    const theme::Series accentKind = m_kind == Kind::Error     ? theme::Series::Error
                                     : m_kind == Kind::Warning ? theme::Series::Warning
                                                               : theme::Series::Coalesced;
    const QColor accent = theme::color(accentKind, base);
    const QColor window = base.color(QPalette::Window);
    // A tint of the accent over the window colour: readable on dark and light.
    const auto mix = [](const QColor &a, const QColor &b, double t) {
        return QColor::fromRgbF(a.redF() * (1 - t) + b.redF() * t, a.greenF() * (1 - t) + b.greenF() * t,
                                a.blueF() * (1 - t) + b.blueF() * t);
    };
    QPalette p = base;
    p.setColor(QPalette::Window, mix(window, accent, 0.18));
    p.setColor(QPalette::WindowText, base.color(QPalette::WindowText));
    p.setColor(QPalette::Light, accent);
    p.setColor(QPalette::Dark, accent);
    p.setColor(QPalette::Mid, accent);
    setPalette(p);
    m_applying = false;
}

void StatusBanner::changeEvent(QEvent *event)
{
    QFrame::changeEvent(event);
    if (event->type() == QEvent::ParentChange || event->type() == QEvent::ApplicationPaletteChange
        || (event->type() == QEvent::PaletteChange && !m_applying))
        applyColors();
}

} // namespace prawmp::gui
