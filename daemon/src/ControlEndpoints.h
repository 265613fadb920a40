#pragma once
#include "HttpConnection.h"

#include "prawmp/RequestPipeline.h"
#include "prawmp/StatsSnapshot.h"

#include <QList>
#include <QObject>
#include <QPointer>

class QTimer;

namespace prawmp {

class ProxyServer;

// The reserved /_mp/ endpoints and PURGE: health, stats, metrics, the
// Server-Sent Events stream, evict and clear. Never forwarded upstream.
class ControlEndpoints : public QObject
{
    Q_OBJECT
public:
    static constexpr int kStatsIntervalMs = 500;

    explicit ControlEndpoints(ProxyServer &server);

    static bool isControlTarget(const QByteArray &target);
    void handle(HttpConnection *connection, const IncomingRequest &request);
    // PURGE <url>: evicts that URL.
    void purge(HttpConnection *connection, const IncomingRequest &request);

    // Prometheus text exposition format (version 0.0.4).
    static QByteArray prometheusText(const StatsSnapshot &stats);
    // Per-second rates over the last few seconds.
    void fillRates(StatsSnapshot &stats) const;

private:
    struct Subscriber {
        QPointer<HttpConnection> connection;
        quint64 sequence = 0;
    };

    void subscribe(HttpConnection *connection, quint64 sequence);
    void broadcast(const QByteArray &frame);
    void sendStats();
    void onRequestFinished(const RequestRecord &record);
    int evictUrls(const QStringList &urls);
    void takeSample();

    ProxyServer &m_server;
    QList<Subscriber> m_subscribers;
    QTimer *m_timer = nullptr;
    // Samples of the totals for the per-second rates (last ~5 s).
    struct Sample { qint64 ms; PipelineCounters totals; };
    QList<Sample> m_samples;

    friend class ProxyServer;
};

} // namespace prawmp
