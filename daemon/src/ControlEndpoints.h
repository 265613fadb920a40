#pragma once
#include "ConnectionHost.h"
#include "HttpServing.h"

#include "prawmp/RequestPipeline.h"
#include "prawmp/StatsSnapshot.h"

#include <QList>
#include <QObject>


class QTimer;

namespace prawmp {

class EventSubscribers;
class ProxyServer;
class RequestEventFeed;

// The reserved /_mp/ endpoints and PURGE: health, stats, metrics, the
// Server-Sent Events stream, evict and clear. Never forwarded upstream.
//
// /_mp/events: a stats frame every kStatsIntervalMs, and the request
// events of every thread in batches (RequestEventFeed, sampled past its
// rate); EventSubscribers sends them, and keeps a slow subscriber from
// holding anyone back (its limits: 1 MiB not taken, then stats frames only;
// 8 MiB, then disconnected).
class ControlEndpoints : public QObject
{
    Q_OBJECT
public:
    static constexpr int kStatsIntervalMs = 500;

    ControlEndpoints(ProxyServer &server, RequestEventFeed &events);

    using Deliver = ConnectionHost::Deliver;
    using OpenStream = ConnectionHost::OpenStream;

    static bool isControlTarget(QByteArrayView target);
    // Answers through `deliver`, or, for /_mp/events, with the stream
    // `openStream` gives on the request's connection.
    void handle(const IncomingRequest &request, const Deliver &deliver, const OpenStream &openStream);
    // PURGE <url>: evicts that URL.
    void purge(const IncomingRequest &request, const Deliver &deliver);

    // Prometheus text exposition format (version 0.0.4).
    static QByteArray prometheusText(const StatsSnapshot &stats);
    // Per-second rates over the last few seconds.
    void fillRates(StatsSnapshot &stats) const;
    // A request the main thread answered: an event for the subscribers.
    void onRequestFinished(const RequestRecord &record);

private:
    int evictUrls(const QStringList &urls);
    void takeSample();

    ProxyServer &m_server;
    RequestEventFeed &m_events;
    EventSubscribers *m_subscribers = nullptr;
    QTimer *m_timer = nullptr;
    // Samples of the totals for the per-second rates (last ~5 s).
    struct Sample { qint64 ms; PipelineCounters totals; };
    QList<Sample> m_samples;
};

} // namespace prawmp
