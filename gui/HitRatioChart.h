#pragma once
#include "TimeChartView.h"

#include "prawmp/StatsSnapshot.h"

#include <deque>

namespace prawmp::gui {

// The share of cacheable requests answered without an upstream request of
// their own (hits + coalesced over all lookups), over the last few seconds
// and since the daemon started.
class HitRatioChart : public TimeChartView
{
    Q_OBJECT
public:
    // The "recent" ratio is computed over this much history.
    static constexpr qint64 kWindowMs = 5000;

    explicit HitRatioChart(QWidget *parent = nullptr);

    void addSample(qint64 nowMs, const StatsSnapshot &stats);
    void clearHistory() override;

    QLineSeries *recentSeries() const { return m_recent; }
    QLineSeries *overallSeries() const { return m_overall; }
    // The last recent ratio (0..1), negative when there were no lookups.
    double recentRatio() const { return m_lastRecent; }

protected:
    void applyPalette() override;

private:
    struct Sample { qint64 ms; quint64 served; quint64 lookups; };
    std::deque<Sample> m_samples;
    QValueAxis *m_axisY = nullptr;
    QLineSeries *m_recent = nullptr;
    QLineSeries *m_overall = nullptr;
    double m_lastRecent = -1;
};

} // namespace prawmp::gui
