#include "HitRatioChart.h"

#include <QLineSeries>
#include <QValueAxis>

namespace prawmp::gui {

HitRatioChart::HitRatioChart(QWidget *parent) : TimeChartView(tr("Cache hit ratio"), parent)
{
    m_axisY = createValueAxis(Qt::AlignLeft, QStringLiteral("%.0f%%"));
    m_axisY->setRange(0, 100);
    m_axisY->setTickCount(5);
    m_recent = createLine(tr("Last %1 s").arg(kWindowMs / 1000), m_axisY);
    m_overall = createLine(tr("Since daemon start"), m_axisY);
    registerDataSeries(m_recent);
    registerDataSeries(m_overall);
    applyPalette();
}

void HitRatioChart::clearHistory()
{
    TimeChartView::clearHistory();
    m_samples.clear();
    m_lastRecent = -1;
}

void HitRatioChart::addSample(qint64 nowMs, const StatsSnapshot &stats)
{
    const quint64 served = stats.totals.hits + stats.totals.coalesced;
    const quint64 lookups = served + stats.totals.misses;
    // A restarted daemon starts counting from zero again.
    if (!m_samples.empty() && lookups < m_samples.back().lookups)
        m_samples.clear();
    m_samples.push_back({nowMs, served, lookups});
    while (m_samples.size() > 2 && nowMs - m_samples[1].ms >= kWindowMs)
        m_samples.pop_front();

    const Sample &first = m_samples.front();
    const quint64 dLookups = lookups - first.lookups;
    m_lastRecent = dLookups ? double(served - first.served) / double(dLookups) : -1;
    const double x = double(nowMs);
    // No lookups, no ratio: the line pauses instead of dropping to zero.
    if (m_lastRecent >= 0)
        m_recent->append(x, 100.0 * m_lastRecent);
    if (lookups > 0)
        m_overall->append(x, 100.0 * stats.hitRatio());
    advance(nowMs);
    trim(m_recent);
    trim(m_overall);
}

void HitRatioChart::applyPalette()
{
    TimeChartView::applyPalette();
    if (!m_recent)
        return;
    const QPalette p = palette();
    m_recent->setPen(QPen(theme::color(theme::Series::Ratio, p), 2));
    QPen dashed(theme::color(theme::Series::Hits, p), 1.5, Qt::DashLine);
    m_overall->setPen(dashed);
}

} // namespace prawmp::gui
