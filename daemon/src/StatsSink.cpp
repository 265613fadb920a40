#include "StatsSink.h"

namespace prawmp {

void StatsSink::connectionOpened(const QString &peer)
{
    std::lock_guard lock(m_clientsMutex);
    m_clients.connectionOpened(peer);
}

void StatsSink::connectionClosed(const QString &peer)
{
    std::lock_guard lock(m_clientsMutex);
    m_clients.connectionClosed(peer);
}

void StatsSink::countServingThreadHits(const HitBatch &batch)
{
    if (batch.hits == 0)
        return;
    // The total first: it is what the counters show, and it needs no lock.
    m_servingThreadHits.fetch_add(batch.hits, std::memory_order_relaxed);
    std::lock_guard lock(m_clientsMutex);
    // touch() + requestFinished() count one hit; the others at once.
    ClientStats &client = m_clients.touch(batch.clientId, batch.peer, batch.userAgent);
    client.requests += batch.hits - 1;
    client.hits += batch.hits - 1;
    m_clients.requestFinished(batch.clientId, true, qint64(batch.bytes));
}

void StatsSink::requestStarted(const QString &clientId, const QString &peer, const QByteArray &userAgent)
{
    std::lock_guard lock(m_clientsMutex);
    m_clients.touch(clientId, peer, userAgent);
}

void StatsSink::requestFinished(const QString &clientId, bool hit, qint64 bytes)
{
    std::lock_guard lock(m_clientsMutex);
    m_clients.requestFinished(clientId, hit, bytes);
}

void StatsSink::countRequestEventsNotSent(quint64 count)
{
    m_requestEventsNotSent.fetch_add(count, std::memory_order_relaxed);
}

QList<ClientStats> StatsSink::clients() const
{
    std::lock_guard lock(m_clientsMutex);
    return m_clients.clients();
}

} // namespace prawmp
