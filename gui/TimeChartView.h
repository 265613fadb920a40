#pragma once
#include "Theme.h"

#include <QChartView>
#include <QList>

class QDateTimeAxis;
class QValueAxis;
class QXYSeries;
class QLineSeries;

namespace prawmp::gui {

// A chart of values over the last minutes, shared by the dashboard's plots:
// a time axis that grows from the first sample up to kHistoryMs and then
// scrolls, points older than that dropped, no animation, and colours taken
// from the widget's palette (re-applied when the palette changes, so dark
// and light themes both read well). Subclasses add their series and call
// advance() once per stats frame.
class TimeChartView : public QChartView
{
    Q_OBJECT
public:
    static constexpr qint64 kHistoryMs = 5 * 60 * 1000;
    // The axis never spans less than this, so a fresh chart is not all stretch.
    static constexpr qint64 kMinSpanMs = 60 * 1000;

    explicit TimeChartView(const QString &title, QWidget *parent = nullptr);

    // Every data series (for tests and the benchmark), in legend order.
    QList<QXYSeries *> dataSeries() const { return m_dataSeries; }
    // Drops every point (another daemon was chosen).
    virtual void clearHistory();
    qint64 visibleStartMs() const { return m_startMs; }

protected:
    // Moves the time window to end at nowMs and drops points that left it.
    void advance(qint64 nowMs);
    QLineSeries *createLine(const QString &name, QValueAxis *axisY, bool addToChart = true);
    QValueAxis *createValueAxis(Qt::Alignment alignment, const QString &format);
    void registerDataSeries(QXYSeries *series) { m_dataSeries.append(series); }
    void attachAxes(QAbstractSeries *series, QValueAxis *axisY);
    // Sets [0, max] with a little headroom and round ticks; never below minimum.
    static void fitAxis(QValueAxis *axis, double max, double minimum);
    static double maxY(const QXYSeries *series);
    void trim(QXYSeries *series) const;

    // Base: background, title, labels, grid, legend. Subclasses recolour their series.
    virtual void applyPalette();
    void changeEvent(QEvent *event) override;

    QChart *m_chart = nullptr;
    QDateTimeAxis *m_axisX = nullptr;
    QList<QValueAxis *> m_valueAxes;

private:
    QList<QXYSeries *> m_dataSeries;
    qint64 m_originMs = 0;
    qint64 m_startMs = 0;
    bool m_applyingPalette = false;
};

} // namespace prawmp::gui
