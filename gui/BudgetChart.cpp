#include "BudgetChart.h"

#include <QLineSeries>
#include <QValueAxis>

namespace prawmp::gui {

BudgetChart::BudgetChart(QWidget *parent) : TimeChartView(tr("Rate budget left in the window"), parent)
{
    m_axisY = createValueAxis(Qt::AlignLeft, QStringLiteral("%.0f"));
    m_axisY->setRange(0, 100);
    applyPalette();
}

void BudgetChart::clearHistory()
{
    TimeChartView::clearHistory();
    m_maxBudget = 0;
}

void BudgetChart::addSample(qint64 nowMs, const StatsSnapshot &stats)
{
    const double x = double(nowMs);
    for (const DomainState &d : stats.domains) {
        // Every domain takes a colour in the order first seen, as in the other plots.
        if (!m_order.contains(d.domain))
            m_order.append(d.domain);
        if (!d.budgetKnown)
            continue;
        QLineSeries *line = m_remaining.value(d.domain);
        if (!line) {
            line = createLine(d.displayName(), m_axisY);
            registerDataSeries(line);
            m_remaining.insert(d.domain, line);
            applyPalette();
        }
        line->append(x, std::max(0.0, d.remaining));
        m_maxBudget = std::max(m_maxBudget, d.budget);
    }
    advance(nowMs);
    double top = 0;
    for (QLineSeries *line : std::as_const(m_remaining)) {
        trim(line);
        top = std::max(top, maxY(line));
    }
    // The full budget is the natural top; the data decides when it is unknown.
    if (m_maxBudget > 0)
        m_axisY->setRange(0, m_maxBudget);
    else
        fitAxis(m_axisY, top, 10);
}

void BudgetChart::applyPalette()
{
    TimeChartView::applyPalette();
    const QPalette p = palette();
    for (int i = 0; i < m_order.size(); ++i) {
        if (QLineSeries *line = m_remaining.value(m_order[i]))
            line->setPen(QPen(theme::domainColor(i, p), 2));
    }
}

} // namespace prawmp::gui
