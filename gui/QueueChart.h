#pragma once
#include "TimeChartView.h"

#include "prawmp/StatsSnapshot.h"

#include <QHash>
#include <deque>

namespace prawmp::gui {

// Requests waiting for budget, per rate domain (left axis), and the mean
// time the requests granted in the last few seconds waited (right axis).
class QueueChart : public TimeChartView
{
    Q_OBJECT
public:
    static constexpr qint64 kWaitWindowMs = 5000;

    explicit QueueChart(QWidget *parent = nullptr);

    void addSample(qint64 nowMs, const StatsSnapshot &stats);
    void clearHistory() override;

    QLineSeries *queuedSeries(const QString &domain) const { return m_queued.value(domain); }
    QLineSeries *waitSeries() const { return m_wait; }
    double lastMeanWaitMs() const { return m_lastWaitMs; }

protected:
    void applyPalette() override;

private:
    struct Sample { qint64 ms; double waitSumMs; quint64 waits; };
    std::deque<Sample> m_samples;
    QValueAxis *m_axisQueue = nullptr;
    QValueAxis *m_axisWait = nullptr;
    QLineSeries *m_wait = nullptr;
    QHash<QString, QLineSeries *> m_queued;
    QStringList m_order;
    double m_lastWaitMs = 0;
};

} // namespace prawmp::gui
