#include "RequestsChart.h"

#include <QAreaSeries>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QValueAxis>

namespace prawmp::gui {

RequestsChart::RequestsChart(QWidget *parent) : TimeChartView(tr("Requests per second"), parent)
{
    m_axisY = createValueAxis(Qt::AlignLeft, QStringLiteral("%.0f"));

    m_hits = createLine(tr("Cache hits"), m_axisY, false);
    m_coalesced = createLine(tr("Coalesced"), m_axisY, false);
    m_upstream = createLine(tr("Upstream"), m_axisY, false);
    registerDataSeries(m_hits);
    registerDataSeries(m_coalesced);
    registerDataSeries(m_upstream);

    m_edgeHits = createLine({}, m_axisY, false);
    m_edgeCoalesced = createLine({}, m_axisY, false);
    m_edgeTotal = createLine({}, m_axisY, false);
    m_lowerCoalesced = createLine({}, m_axisY, false);
    m_lowerUpstream = createLine({}, m_axisY, false);

    m_areaHits = new QAreaSeries(m_edgeHits);
    m_areaCoalesced = new QAreaSeries(m_edgeCoalesced, m_lowerCoalesced);
    m_areaUpstream = new QAreaSeries(m_edgeTotal, m_lowerUpstream);
    m_areaHits->setName(tr("Cache hits"));
    m_areaCoalesced->setName(tr("Coalesced"));
    m_areaUpstream->setName(tr("Upstream"));
    for (QAreaSeries *area : {m_areaHits, m_areaCoalesced, m_areaUpstream}) {
        m_chart->addSeries(area); // the chart owns it
        attachAxes(area, m_axisY);
    }
    applyPalette();
}

void RequestsChart::addSample(qint64 nowMs, const StatsSnapshot &stats)
{
    const double x = double(nowMs);
    const double hits = std::max(0.0, stats.hitsPerSecond);
    const double coalesced = std::max(0.0, stats.coalescedPerSecond);
    const double upstream = std::max(0.0, stats.upstreamPerSecond);
    m_hits->append(x, hits);
    m_coalesced->append(x, coalesced);
    m_upstream->append(x, upstream);
    m_edgeHits->append(x, hits);
    m_lowerCoalesced->append(x, hits);
    m_edgeCoalesced->append(x, hits + coalesced);
    m_lowerUpstream->append(x, hits + coalesced);
    m_edgeTotal->append(x, hits + coalesced + upstream);

    advance(nowMs);
    for (QLineSeries *s : {m_hits, m_coalesced, m_upstream, m_edgeHits, m_edgeCoalesced, m_edgeTotal,
                           m_lowerCoalesced, m_lowerUpstream})
        trim(s);
    fitAxis(m_axisY, maxY(m_edgeTotal), 5);
}

void RequestsChart::applyPalette()
{
    TimeChartView::applyPalette();
    if (!m_areaHits)
        return;
    const QPalette p = palette();
    const auto style = [&](QAreaSeries *area, theme::Series kind) {
        const QColor c = theme::color(kind, p);
        QColor fill = c;
        fill.setAlpha(theme::isDark(p) ? 150 : 120);
        area->setBrush(fill);
        area->setPen(QPen(c, 1.5));
    };
    style(m_areaHits, theme::Series::Hits);
    style(m_areaCoalesced, theme::Series::Coalesced);
    style(m_areaUpstream, theme::Series::Upstream);
    m_hits->setColor(theme::color(theme::Series::Hits, p));
    m_coalesced->setColor(theme::color(theme::Series::Coalesced, p));
    m_upstream->setColor(theme::color(theme::Series::Upstream, p));
}

} // namespace prawmp::gui
