#include "QueueChart.h"

#include <QLineSeries>
#include <QValueAxis>

namespace prawmp::gui {

QueueChart::QueueChart(QWidget *parent) : TimeChartView(tr("Queue and wait"), parent)
{
    m_axisQueue = createValueAxis(Qt::AlignLeft, QStringLiteral("%.0f"));
    m_axisQueue->setTitleText(tr("queued"));
    m_axisWait = createValueAxis(Qt::AlignRight, QStringLiteral("%.0f"));
    m_axisWait->setTitleText(tr("mean wait, ms"));
    m_axisWait->setGridLineVisible(false);
    m_wait = createLine(tr("Mean wait"), m_axisWait);
    registerDataSeries(m_wait);
    applyPalette();
}

void QueueChart::clearHistory()
{
    TimeChartView::clearHistory();
    m_samples.clear();
    m_lastWaitMs = 0;
}

void QueueChart::addSample(qint64 nowMs, const StatsSnapshot &stats)
{
    const double x = double(nowMs);
    for (const DomainState &d : stats.domains) {
        QLineSeries *line = m_queued.value(d.domain);
        if (!line) {
            line = createLine(tr("%1 queued").arg(d.displayName()), m_axisQueue);
            registerDataSeries(line);
            m_queued.insert(d.domain, line);
            m_order.append(d.domain);
            applyPalette();
        }
        line->append(x, d.queued);
    }

    // The wait histogram's +Inf bucket counts every wait; its sum the total.
    const quint64 waits = stats.totals.waitBucketCounts.isEmpty() ? 0 : stats.totals.waitBucketCounts.last();
    if (!m_samples.empty() && waits < m_samples.back().waits)
        m_samples.clear(); // the daemon restarted
    m_samples.push_back({nowMs, stats.totals.waitSumMs, waits});
    while (m_samples.size() > 2 && nowMs - m_samples[1].ms >= kWaitWindowMs)
        m_samples.pop_front();
    const Sample &first = m_samples.front();
    const quint64 dWaits = waits - first.waits;
    m_lastWaitMs = dWaits ? std::max(0.0, (stats.totals.waitSumMs - first.waitSumMs) / double(dWaits)) : 0.0;
    m_wait->append(x, m_lastWaitMs);

    advance(nowMs);
    double topQueue = 0;
    for (QLineSeries *line : std::as_const(m_queued)) {
        trim(line);
        topQueue = std::max(topQueue, maxY(line));
    }
    trim(m_wait);
    fitAxis(m_axisQueue, topQueue, 4);
    fitAxis(m_axisWait, maxY(m_wait), 100);
}

void QueueChart::applyPalette()
{
    TimeChartView::applyPalette();
    if (!m_wait)
        return;
    const QPalette p = palette();
    for (int i = 0; i < m_order.size(); ++i) {
        if (QLineSeries *line = m_queued.value(m_order[i]))
            line->setPen(QPen(theme::domainColor(i, p), 2));
    }
    m_wait->setPen(QPen(theme::color(theme::Series::Wait, p), 1.5, Qt::DashLine));
}

} // namespace prawmp::gui
