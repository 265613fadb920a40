#pragma once
#include <QList>
#include <QObject>
#include <QThread>

#include <atomic>

// Measures how long the main thread's event loop makes an event wait: a
// helper thread posts a timestamped event every few milliseconds, the main
// thread notes the delay when it gets to it. That delay is what a click or
// a key press would wait, whatever the main thread was busy with (parsing
// frames, updating models, painting charts).
class LatencyProbe : public QObject
{
    Q_OBJECT
public:
    explicit LatencyProbe(int intervalMs = 5, QObject *parent = nullptr);
    ~LatencyProbe() override;

    void start();
    void stop();
    // Delays in microseconds since the last take().
    QList<qint64> take();

protected:
    bool event(QEvent *event) override;

private:
    class Poster;
    Poster *m_poster = nullptr;
    QList<qint64> m_samples;
};

struct LatencySummary
{
    int samples = 0;
    double p50Ms = 0, p95Ms = 0, p99Ms = 0, maxMs = 0, over16Percent = 0;
    static LatencySummary of(QList<qint64> microseconds);
};
