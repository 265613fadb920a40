#pragma once
#include "TimeChartView.h"

#include "prawmp/StatsSnapshot.h"

#include <QHash>

namespace prawmp::gui {

// Per rate domain, the requests left in the upstream's current window over
// time: a saw tooth that should reach zero only just before each reset
// (budget fully used, never exceeded). Domains whose budget is unknown
// (fixed pacing, or no X-Ratelimit headers yet) have no line.
class BudgetChart : public TimeChartView
{
    Q_OBJECT
public:
    explicit BudgetChart(QWidget *parent = nullptr);

    void addSample(qint64 nowMs, const StatsSnapshot &stats);
    void clearHistory() override;
    QLineSeries *remainingSeries(const QString &domain) const { return m_remaining.value(domain); }

protected:
    void applyPalette() override;

private:
    QValueAxis *m_axisY = nullptr;
    QHash<QString, QLineSeries *> m_remaining;
    QStringList m_order; // domains in the order first seen (colour index)
    int m_maxBudget = 0;
};

} // namespace prawmp::gui
