#pragma once
#include "EventStream.h"

#include <QJsonObject>
#include <QList>
#include <QObject>

class QTimer;

namespace prawmp {

class RequestEventFeed;

// The subscribers of /_mp/events and what each is sent: the stats frames
// ControlEndpoints hands over, and the request events of RequestEventFeed in
// batches, every RequestEventFeed::kBatchIntervalMs. The batch timer runs
// only while somebody subscribes; with nobody there, nothing runs.
//
// A subscriber that does not keep up never holds anyone back. What it has
// not taken is its stream's backlog(): the bytes in the daemon's own buffer. The kernel holds some more on top, at most about twice
// Limits::sendBufferBytes (its SO_SNDBUF, set when it subscribes, so that
// the limits below are close to what a subscriber really has not taken).
// With more than eventsBacklogBytes not taken, it gets no request events
// (they count in its stats frames as not sent), only stats frames; past
// disconnectBacklogBytes it is disconnected (it can subscribe again and
// start afresh). Owned by ControlEndpoints; main thread.
class EventSubscribers : public QObject
{
    Q_OBJECT
public:
    struct Limits
    {
        qint64 eventsBacklogBytes = 1024 * 1024;
        qint64 disconnectBacklogBytes = 8 * 1024 * 1024;
        // Enough for the event rate over a 100 ms round trip; 0 leaves the
        // kernel's autotuned size (several MiB on Linux).
        int sendBufferBytes = 256 * 1024;
    };

    EventSubscribers(RequestEventFeed &feed, const Limits &limits, QObject *parent = nullptr);
    explicit EventSubscribers(RequestEventFeed &feed, QObject *parent = nullptr)
        : EventSubscribers(feed, Limits(), parent)
    {
    }

    const Limits &limits() const { return m_limits; }

    // Starts `stream` (the answer to a GET /_mp/events) and sends
    // `firstStats` at once, so a dashboard has something to draw.
    void add(const EventStreamPtr &stream, const QJsonObject &firstStats);
    // Subscribers not yet known to be gone.
    bool isEmpty() const { return m_subscribers.isEmpty(); }
    qsizetype size() const { return m_subscribers.size(); }
    // A stats frame for every subscriber. `stats` is the daemon's snapshot;
    // a subscriber that was too slow for some request events finds them
    // added to its requestEventsNotSent.
    void sendStats(QJsonObject stats);
    // Whether the request-event batch timer runs (only while anyone subscribes).
    bool isBatching() const;

private:
    struct Subscriber
    {
        EventStreamPtr stream;
        quint64 eventsHeldBack = 0; // request events it was too slow for
    };

    // Forgets closed subscribers, disconnects those too far behind, and
    // starts or stops the batches.
    void prune();
    void sendRequestEvents();

    RequestEventFeed &m_feed;
    const Limits m_limits;
    QList<Subscriber> m_subscribers;
    QTimer *m_batchTimer = nullptr;
};

} // namespace prawmp
