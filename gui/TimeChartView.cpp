#include "TimeChartView.h"

#include <QAbstractSeries>
#include <QDateTime>
#include <QDateTimeAxis>
#include <QEvent>
#include <QGraphicsLayout>
#include <QLegend>
#include <QLineSeries>
#include <QValueAxis>

#include <cmath>

namespace prawmp::gui {

TimeChartView::TimeChartView(const QString &title, QWidget *parent) : QChartView(parent)
{
    m_chart = new QChart;
    m_chart->setTitle(title);
    m_chart->setAnimationOptions(QChart::NoAnimation);
    m_chart->setMargins(QMargins(2, 0, 4, 0));
    m_chart->layout()->setContentsMargins(0, 0, 0, 0);
    m_chart->legend()->setContentsMargins(0, 0, 0, 0);
    m_chart->setBackgroundRoundness(6);
    m_chart->legend()->setAlignment(Qt::AlignTop);
    m_chart->legend()->setShowToolTips(true);
    // QChartView made a chart of its own; setChart() releases it without deleting it.
    QChart *placeholder = chart();
    setChart(m_chart); // the view owns the chart
    delete placeholder;
    setRenderHint(QPainter::Antialiasing);
    setMinimumSize(240, 130);
    setFrameShape(QFrame::NoFrame);

    m_axisX = new QDateTimeAxis(this);
    m_axisX->setFormat(QStringLiteral("HH:mm:ss"));
    m_axisX->setTickCount(6);
    m_chart->addAxis(m_axisX, Qt::AlignBottom);
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    m_axisX->setRange(QDateTime::fromMSecsSinceEpoch(now), QDateTime::fromMSecsSinceEpoch(now + kMinSpanMs));
    applyPalette();
}

void TimeChartView::clearHistory()
{
    for (QXYSeries *s : std::as_const(m_dataSeries))
        s->clear();
    m_originMs = 0;
}

void TimeChartView::advance(qint64 nowMs)
{
    if (m_originMs == 0)
        m_originMs = nowMs;
    m_startMs = std::max(m_originMs, nowMs - kHistoryMs);
    const qint64 end = std::max(nowMs, m_startMs + kMinSpanMs);
    m_axisX->setRange(QDateTime::fromMSecsSinceEpoch(m_startMs), QDateTime::fromMSecsSinceEpoch(end));
}

void TimeChartView::trim(QXYSeries *series) const
{
    // Keep one point left of the window so the line enters from the edge.
    const int count = int(series->count());
    int drop = 0;
    while (drop + 1 < count && series->at(drop + 1).x() < double(m_startMs))
        ++drop;
    if (drop > 0)
        series->removePoints(0, drop);
}

QValueAxis *TimeChartView::createValueAxis(Qt::Alignment alignment, const QString &format)
{
    auto *axis = new QValueAxis(this);
    axis->setLabelFormat(format);
    axis->setRange(0, 1);
    axis->setTickCount(5);
    m_chart->addAxis(axis, alignment);
    m_valueAxes.append(axis);
    return axis;
}

void TimeChartView::attachAxes(QAbstractSeries *series, QValueAxis *axisY)
{
    series->attachAxis(m_axisX);
    series->attachAxis(axisY);
}

QLineSeries *TimeChartView::createLine(const QString &name, QValueAxis *axisY, bool addToChart)
{
    auto *line = new QLineSeries(this);
    line->setName(name);
    if (addToChart) {
        m_chart->addSeries(line);
        attachAxes(line, axisY);
    }
    return line;
}

void TimeChartView::fitAxis(QValueAxis *axis, double max, double minimum)
{
    // Four or five intervals of 1, 2, 2.5 or 5 times a power of ten, so the
    // tick labels are round numbers; a little headroom above the data.
    const double top = std::max(max * 1.1, minimum);
    const double magnitude = std::pow(10.0, std::floor(std::log10(top / 4.0)));
    double step = magnitude;
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        step = m * magnitude;
        if (top / step <= 5.0)
            break;
    }
    const int intervals = std::max(1, int(std::ceil(top / step - 1e-9)));
    const double rangeTop = intervals * step;
    if (!qFuzzyCompare(axis->max(), rangeTop) || axis->min() != 0) {
        axis->setRange(0, rangeTop);
        axis->setTickCount(intervals + 1);
    }
}

double TimeChartView::maxY(const QXYSeries *series)
{
    double max = 0;
    const int count = int(series->count());
    for (int i = 0; i < count; ++i)
        max = std::max(max, series->at(i).y());
    return max;
}

void TimeChartView::applyPalette()
{
    m_applyingPalette = true;
    const QPalette p = palette();
    const QColor text = p.color(QPalette::WindowText);
    QColor grid = p.color(QPalette::WindowText);
    grid.setAlpha(theme::isDark(p) ? 38 : 30);
    QColor shade = p.color(QPalette::WindowText);
    shade.setAlpha(150);

    m_chart->setBackgroundBrush(p.color(QPalette::Base));
    m_chart->setBackgroundPen(QPen(p.color(QPalette::Mid), 1));
    m_chart->setPlotAreaBackgroundVisible(false);
    m_chart->setTitleBrush(text);
    QFont titleFont = font();
    titleFont.setBold(true);
    m_chart->setTitleFont(titleFont);
    m_chart->legend()->setLabelColor(text);
    QFont small = font();
    small.setPointSizeF(std::max(7.0, small.pointSizeF() * 0.85));
    m_chart->legend()->setFont(small);
    QList<QAbstractAxis *> axes{m_axisX};
    for (QValueAxis *a : std::as_const(m_valueAxes))
        axes.append(a);
    for (QAbstractAxis *axis : axes) {
        axis->setLabelsBrush(shade);
        axis->setLabelsFont(small);
        axis->setTitleBrush(shade);
        axis->setTitleFont(small);
        axis->setGridLineColor(grid);
        axis->setLinePenColor(grid);
        axis->setMinorGridLineColor(grid);
    }
    setBackgroundBrush(p.color(QPalette::Window));
    m_applyingPalette = false;
}

void TimeChartView::changeEvent(QEvent *event)
{
    QChartView::changeEvent(event);
    if ((event->type() == QEvent::PaletteChange || event->type() == QEvent::StyleChange
         || event->type() == QEvent::FontChange) && !m_applyingPalette)
        applyPalette();
}

} // namespace prawmp::gui
