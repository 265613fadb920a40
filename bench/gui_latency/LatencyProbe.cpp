#include "LatencyProbe.h"

#include <QCoreApplication>
#include <QEvent>

#include <algorithm>
#include <chrono>

namespace {

const QEvent::Type kProbeEvent = QEvent::Type(QEvent::registerEventType());

qint64 nowUs()
{
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

class ProbeEvent : public QEvent
{
public:
    explicit ProbeEvent(qint64 postedUs) : QEvent(kProbeEvent), postedUs(postedUs) {}
    qint64 postedUs;
};

} // namespace

class LatencyProbe::Poster : public QThread
{
public:
    Poster(LatencyProbe *target, int intervalMs) : m_target(target), m_intervalMs(intervalMs) {}
    std::atomic_bool running{true};

protected:
    void run() override
    {
        while (running.load()) {
            QCoreApplication::postEvent(m_target, new ProbeEvent(nowUs()));
            QThread::msleep(m_intervalMs);
        }
    }

private:
    LatencyProbe *m_target;
    int m_intervalMs;
};

LatencyProbe::LatencyProbe(int intervalMs, QObject *parent) : QObject(parent)
{
    m_poster = new Poster(this, intervalMs);
}

LatencyProbe::~LatencyProbe()
{
    stop();
    delete m_poster;
}

void LatencyProbe::start()
{
    m_poster->running = true;
    m_poster->start();
}

void LatencyProbe::stop()
{
    m_poster->running = false;
    m_poster->wait();
}

QList<qint64> LatencyProbe::take()
{
    QList<qint64> samples;
    samples.swap(m_samples);
    return samples;
}

bool LatencyProbe::event(QEvent *event)
{
    if (event->type() == kProbeEvent) {
        m_samples.append(nowUs() - static_cast<ProbeEvent *>(event)->postedUs);
        return true;
    }
    return QObject::event(event);
}

LatencySummary LatencySummary::of(QList<qint64> us)
{
    LatencySummary s;
    s.samples = int(us.size());
    if (us.isEmpty())
        return s;
    std::sort(us.begin(), us.end());
    const auto at = [&](double q) { return us[std::min<qsizetype>(us.size() - 1, qsizetype(q * double(us.size())))] / 1000.0; };
    s.p50Ms = at(0.50);
    s.p95Ms = at(0.95);
    s.p99Ms = at(0.99);
    s.maxMs = us.last() / 1000.0;
    const auto over = std::count_if(us.cbegin(), us.cend(), [](qint64 v) { return v > 16'000; });
    s.over16Percent = 100.0 * double(over) / double(us.size());
    return s;
}
