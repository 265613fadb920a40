#include "EventSubscribers.h"

#include "RequestEventFeed.h"

#include "prawmp/RequestPipeline.h"
#include "prawmp/StatsSnapshot.h"

#include <QJsonDocument>
#include <QPointer>
#include <QTimer>

namespace prawmp {

namespace {

QByteArray frame(const char *event, const QJsonObject &json)
{
    return QByteArray("event: ") + event + "\ndata: " + QJsonDocument(json).toJson(QJsonDocument::Compact) + "\n\n";
}

} // namespace

EventSubscribers::EventSubscribers(RequestEventFeed &feed, const Limits &limits, QObject *parent)
    : QObject(parent), m_feed(feed), m_limits(limits)
{
    m_batchTimer = new QTimer(this);
    m_batchTimer->setInterval(RequestEventFeed::kBatchIntervalMs);
    connect(m_batchTimer, &QTimer::timeout, this, &EventSubscribers::sendRequestEvents);
}

bool EventSubscribers::isBatching() const
{
    return m_batchTimer->isActive();
}

void EventSubscribers::add(const EventStreamPtr &stream, const QJsonObject &firstStats)
{
    Response head;
    head.status = 200;
    head.headers.set("Content-Type", "text/event-stream");
    head.headers.set("Cache-Control", "no-cache");
    stream->start(head, m_limits.sendBufferBytes);
    if (m_subscribers.isEmpty())
        m_feed.take(); // left over from earlier subscribers: not this one's business
    m_subscribers.append({stream, 0});
    // Called later, never from inside prune() itself.
    stream->setClosedHandler([self = QPointer<EventSubscribers>(this)] {
        if (self)
            self->prune();
    });
    m_feed.setWanted(true);
    if (!m_batchTimer->isActive())
        m_batchTimer->start();
    stream->write(frame("stats", firstStats));
}

void EventSubscribers::prune()
{
    for (qsizetype i = 0; i < m_subscribers.size();) {
        const Subscriber &s = m_subscribers[i];
        if (s.stream->isOpen() && s.stream->backlog() > m_limits.disconnectBacklogBytes)
            s.stream->close(); // too far behind: it can subscribe again and start afresh
        if (!s.stream->isOpen()) {
            m_subscribers.removeAt(i);
            continue;
        }
        ++i;
    }
    if (!m_subscribers.isEmpty())
        return;
    m_feed.setWanted(false);
    m_batchTimer->stop();
    m_feed.take();
}

void EventSubscribers::sendStats(QJsonObject stats)
{
    prune();
    if (m_subscribers.isEmpty())
        return;
    const QByteArray shared = frame("stats", stats);
    const qint64 notSent = stats.value(QLatin1String("requestEventsNotSent")).toInteger();
    for (const Subscriber &s : std::as_const(m_subscribers)) {
        if (s.eventsHeldBack == 0) {
            s.stream->write(shared);
            continue;
        }
        // Its own count: the sampled-out events and those it was too slow for.
        stats[QLatin1String("requestEventsNotSent")] = double(quint64(notSent) + s.eventsHeldBack);
        s.stream->write(frame("stats", stats));
    }
}

void EventSubscribers::sendRequestEvents()
{
    prune();
    const QList<RequestRecord> records = m_feed.take();
    if (records.isEmpty() || m_subscribers.isEmpty())
        return;
    QByteArray frames;
    for (const RequestRecord &record : records)
        frames += frame("request", requestRecordToJson(record));
    for (Subscriber &s : m_subscribers) {
        if (s.stream->backlog() > m_limits.eventsBacklogBytes)
            s.eventsHeldBack += quint64(records.size());
        else
            s.stream->write(frames);
    }
}

} // namespace prawmp
