#pragma once
#include "ClientRegistry.h"

#include <QHash>
#include <QString>
#include <QStringList>

#include <atomic>
#include <mutex>

namespace prawmp {

// Where every thread that answers requests counts what it did, so that
// /_mp/stats, /_mp/metrics and the stats frames of /_mp/events count every
// request exactly, whichever thread served it.
//
// The pipeline keeps its own counters for what it answers (main thread);
// this sink holds the rest: the cache hits answered on the serving threads
// (an atomic, fed as they are answered), the connected clients (the
// registry, behind a mutex: the main thread and the serving threads both
// open connections and answer requests), and the request events that were
// counted but not sent. Owned by ProxyServer; outlives the serving threads.
class StatsSink
{
public:
    // What one serving thread answered during one read of one connection:
    // added in one go, before the answers are written, so that a client that
    // has its answer and then asks for /_mp/stats finds it counted.
    struct HitBatch
    {
        QString clientId;
        QString peer;
        QByteArray userAgent;
        quint64 hits = 0;
        quint64 bytes = 0;
    };

    // Any thread.
    void connectionOpened(const QString &peer);
    void connectionClosed(const QString &peer);
    void countServingThreadHits(const HitBatch &batch);
    // The main path's requests: arrival (the client is waiting) and answer.
    void requestStarted(const QString &clientId, const QString &peer, const QByteArray &userAgent);
    void requestFinished(const QString &clientId, bool hit, qint64 bytes);
    // Request events of /_mp/events left out (over the rate, slow subscriber).
    void countRequestEventsNotSent(quint64 count);

    quint64 servingThreadHits() const { return m_servingThreadHits.load(std::memory_order_relaxed); }
    quint64 requestEventsNotSent() const { return m_requestEventsNotSent.load(std::memory_order_relaxed); }
    QList<ClientStats> clients() const;

private:
    std::atomic<quint64> m_servingThreadHits{0};
    std::atomic<quint64> m_requestEventsNotSent{0};
    mutable std::mutex m_clientsMutex;
    ClientRegistry m_clients;
};

} // namespace prawmp
