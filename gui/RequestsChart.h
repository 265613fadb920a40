#pragma once
#include "TimeChartView.h"

#include "prawmp/StatsSnapshot.h"

class QAreaSeries;

namespace prawmp::gui {

// Requests per second, stacked by where the answer came from: the cache,
// a coalesced upstream call, or an upstream request of its own. The height
// of the stack is the load; the orange part is what costs budget.
class RequestsChart : public TimeChartView
{
    Q_OBJECT
public:
    explicit RequestsChart(QWidget *parent = nullptr);

    void addSample(qint64 nowMs, const StatsSnapshot &stats);

    QLineSeries *hitsSeries() const { return m_hits; }
    QLineSeries *coalescedSeries() const { return m_coalesced; }
    QLineSeries *upstreamSeries() const { return m_upstream; }

protected:
    void applyPalette() override;

private:
    QValueAxis *m_axisY = nullptr;
    // The values per kind (what tests and tooltips read)...
    QLineSeries *m_hits = nullptr;
    QLineSeries *m_coalesced = nullptr;
    QLineSeries *m_upstream = nullptr;
    // ...and the stacked edges the areas are drawn between.
    QLineSeries *m_edgeHits = nullptr;      // hits
    QLineSeries *m_edgeCoalesced = nullptr; // hits + coalesced
    QLineSeries *m_edgeTotal = nullptr;     // hits + coalesced + upstream
    QLineSeries *m_lowerCoalesced = nullptr;
    QLineSeries *m_lowerUpstream = nullptr;
    QAreaSeries *m_areaHits = nullptr;
    QAreaSeries *m_areaCoalesced = nullptr;
    QAreaSeries *m_areaUpstream = nullptr;
};

} // namespace prawmp::gui
