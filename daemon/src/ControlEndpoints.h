#pragma once
#include "HttpConnection.h"

#include "prawmp/RequestPipeline.h"
#include "prawmp/StatsSnapshot.h"

#include <QList>
#include <QObject>
#include <QPointer>

#include <functional>

class QTimer;

namespace prawmp {

class ProxyServer;
class RequestEventFeed;
class StatsSink;

// The reserved /_mp/ endpoints and PURGE: health, stats, metrics, the
// Server-Sent Events stream, evict and clear. Never forwarded upstream.
//
// /_mp/events: a stats frame every kStatsIntervalMs, and the request
// events of every thread in batches (RequestEventFeed, sampled past its
// rate). A subscriber that does not keep up never holds anyone back: with
// more than kEventsBacklogBytes not yet taken by it, it gets no request
// events (counted in its stats frames as not sent), only stats frames; past
// kDisconnectBacklogBytes it is disconnected.
class ControlEndpoints : public QObject
{
    Q_OBJECT
public:
    static constexpr int kStatsIntervalMs = 500;
    static constexpr qint64 kEventsBacklogBytes = 1024 * 1024;
    static constexpr qint64 kDisconnectBacklogBytes = 8 * 1024 * 1024;

    ControlEndpoints(ProxyServer &server, StatsSink &stats, RequestEventFeed &events);

    using Deliver = std::function<void(const Response &)>;

    static bool isControlTarget(QByteArrayView target);
    // /_mp/events: the one endpoint that needs the connection itself (it streams).
    static bool isEventStream(QByteArrayView target);
    // Answers through `deliver`. `connection`: the main thread's connection
    // the request came on, for /_mp/events; null for a request a serving
    // thread passed on, which is never one for the stream.
    void handle(const IncomingRequest &request, const Deliver &deliver, HttpConnection *connection);
    // PURGE <url>: evicts that URL.
    void purge(const IncomingRequest &request, const Deliver &deliver);

    // Prometheus text exposition format (version 0.0.4).
    static QByteArray prometheusText(const StatsSnapshot &stats);
    // Per-second rates over the last few seconds.
    void fillRates(StatsSnapshot &stats) const;
    // A request the main thread answered: an event for the subscribers.
    void onRequestFinished(const RequestRecord &record);

private:
    struct Subscriber {
        QPointer<HttpConnection> connection;
        quint64 sequence = 0;
        quint64 eventsHeldBack = 0; // request events it was too slow for
    };

    void subscribe(HttpConnection *connection, quint64 sequence);
    // Forgets closed subscribers, disconnects those too far behind.
    void pruneSubscribers();
    void sendStats();
    void sendRequestEvents();
    int evictUrls(const QStringList &urls);
    void takeSample();

    ProxyServer &m_server;
    StatsSink &m_stats;
    RequestEventFeed &m_events;
    QList<Subscriber> m_subscribers;
    QTimer *m_timer = nullptr;
    QTimer *m_eventTimer = nullptr;
    // Samples of the totals for the per-second rates (last ~5 s).
    struct Sample { qint64 ms; PipelineCounters totals; };
    QList<Sample> m_samples;
};

} // namespace prawmp
