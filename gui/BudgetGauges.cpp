#include "BudgetGauges.h"

#include "Theme.h"

#include <QPainter>
#include <QPainterPath>

namespace prawmp::gui {

BudgetGauges::BudgetGauges(QWidget *parent) : QWidget(parent)
{
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

void BudgetGauges::setDomains(const QList<DomainState> &domains)
{
    for (const DomainState &d : domains) {
        if (!m_order.contains(d.domain))
            m_order.append(d.domain);
    }
    const bool resize = domains.size() != m_domains.size();
    m_domains = domains;
    if (resize)
        updateGeometry();
    update();
}

void BudgetGauges::setStale(bool stale)
{
    if (m_stale != stale) {
        m_stale = stale;
        update();
    }
}

QString BudgetGauges::describe(const DomainState &d)
{
    QStringList parts;
    if (d.budgetKnown && d.budget > 0) {
        const int left = int(std::max(0.0, d.remaining));
        parts << tr("%1 / %2 used").arg(std::max(0, d.budget - left)).arg(d.budget)
              << tr("resets in %1 s").arg(qRound(std::max(0.0, d.secondsToReset)));
        // What the limiter has learned of the window: why it waits.
        if (d.windowEndFromAnswers)
            parts << tr("window ≥ %1 s, ends in %2–%3 s (%n answer(s))", nullptr, d.windowEvidence)
                         .arg(d.windowSeconds, 0, 'f', 0)
                         .arg(d.secondsToWindowEndLo, 0, 'f', 1)
                         .arg(d.secondsToWindowEndHi, 0, 'f', 1);
        else
            parts << tr("window ≥ %1 s, end predicted %2–%3 s").arg(d.windowSeconds, 0, 'f', 0)
                         .arg(d.secondsToWindowEndLo, 0, 'f', 1)
                         .arg(d.secondsToWindowEndHi, 0, 'f', 1);
        if (d.reserved >= 1)
            parts << tr("%1 kept for other programs").arg(int(d.reserved));
    } else {
        parts << tr("budget not announced yet (paced)");
    }
    if (d.paused)
        parts << tr("PAUSED after 429");
    if (d.queued > 0)
        parts << tr("%1 queued").arg(d.queued);
    if (d.inFlight > 0)
        parts << tr("%1 in flight").arg(d.inFlight);
    return parts.join(QStringLiteral(" · "));
}

int BudgetGauges::rowHeight() const
{
    return fontMetrics().height() * 2 + 10;
}

QSize BudgetGauges::sizeHint() const
{
    const int rows = std::max<qsizetype>(1, m_domains.size());
    return {360, int(rows) * rowHeight() + 4};
}

QSize BudgetGauges::minimumSizeHint() const
{
    return {200, sizeHint().height()};
}

void BudgetGauges::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    painter.setRenderHint(QPainter::Antialiasing);
    const QPalette p = palette();
    const QColor text = p.color(m_stale ? QPalette::Disabled : QPalette::Active, QPalette::WindowText);
    QColor dim = text;
    dim.setAlpha(170);

    if (m_domains.isEmpty()) {
        painter.setPen(dim);
        painter.drawText(rect().adjusted(6, 0, -6, 0), Qt::AlignVCenter | Qt::AlignLeft,
                         tr("No upstream request yet: the budget appears with the first one."));
        return;
    }
    const int h = rowHeight();
    const int lineH = fontMetrics().height();
    QFont bold = font();
    bold.setBold(true);
    for (int i = 0; i < m_domains.size(); ++i) {
        const DomainState &d = m_domains[i];
        const QRect row(4, 2 + i * h, width() - 8, h);
        // Line 1: domain name (in its plot colour) and the numbers.
        painter.setFont(bold);
        painter.setPen(m_stale ? text : theme::domainColor(int(m_order.indexOf(d.domain)), p));
        const QRect nameRect(row.left(), row.top(), row.width(), lineH);
        painter.drawText(nameRect, Qt::AlignLeft | Qt::AlignVCenter, d.displayName());
        painter.setFont(font());
        painter.setPen(dim);
        painter.drawText(nameRect, Qt::AlignRight | Qt::AlignVCenter, describe(d));

        // Line 2: the gauge.
        const QRectF bar(row.left(), row.top() + lineH + 3, row.width(), lineH - 4);
        QColor track = p.color(QPalette::WindowText);
        track.setAlpha(theme::isDark(p) ? 40 : 28);
        QPainterPath trackPath;
        trackPath.addRoundedRect(bar, bar.height() / 2, bar.height() / 2);
        painter.fillPath(trackPath, track);
        double used = 0;
        if (d.budgetKnown && d.budget > 0)
            used = std::clamp(1.0 - d.remaining / double(d.budget), 0.0, 1.0);
        if (used > 0) {
            QColor fill = m_stale ? text : theme::budgetColor(used, p);
            if (d.paused)
                fill = theme::color(theme::Series::Error, p);
            QPainterPath usedPath;
            usedPath.addRoundedRect(QRectF(bar.left(), bar.top(), std::max(bar.height(), bar.width() * used),
                                           bar.height()),
                                    bar.height() / 2, bar.height() / 2);
            painter.fillPath(usedPath, fill);
        }
    }
}

} // namespace prawmp::gui
