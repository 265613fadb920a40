#include "ClientRegistry.h"

#include <QDateTime>

namespace prawmp {

QString ClientRegistry::clientId(const QString &peer, const QByteArray &userAgent)
{
    return peer + QLatin1Char(' ') + QString::fromUtf8(userAgent);
}

void ClientRegistry::connectionOpened(const QString &peer) { ++m_connectionsByPeer[peer]; }

void ClientRegistry::connectionClosed(const QString &peer)
{
    auto it = m_connectionsByPeer.find(peer);
    if (it == m_connectionsByPeer.end())
        return;
    if (--*it > 0)
        return;
    m_connectionsByPeer.erase(it);
    // A peer with no connection left has no client left either.
    for (auto c = m_clients.begin(); c != m_clients.end();) {
        if (c->peer == peer && c->waiting == 0)
            c = m_clients.erase(c);
        else
            ++c;
    }
}

ClientStats &ClientRegistry::touch(const QString &id, const QString &peer, const QByteArray &userAgent)
{
    auto it = m_clients.find(id);
    if (it == m_clients.end()) {
        ClientStats c;
        c.id = id;
        c.peer = peer;
        c.userAgent = QString::fromUtf8(userAgent);
        c.connectedSinceMs = QDateTime::currentMSecsSinceEpoch();
        it = m_clients.insert(id, c);
    }
    ++it->requests;
    ++it->waiting;
    return *it;
}

void ClientRegistry::requestFinished(const QString &id, bool hit, qint64 bytes)
{
    auto it = m_clients.find(id);
    if (it == m_clients.end())
        return;
    it->waiting = std::max(0, it->waiting - 1);
    it->hits += hit ? 1 : 0;
    it->bytes += quint64(std::max<qint64>(bytes, 0));
    if (it->waiting == 0 && !m_connectionsByPeer.contains(it->peer))
        m_clients.erase(it);
}

QList<ClientStats> ClientRegistry::clients() const
{
    QList<ClientStats> out;
    out.reserve(m_clients.size());
    for (const ClientStats &c : m_clients) {
        ClientStats copy = c;
        copy.connections = m_connectionsByPeer.value(c.peer);
        out.append(copy);
    }
    std::sort(out.begin(), out.end(), [](const ClientStats &a, const ClientStats &b) { return a.id < b.id; });
    return out;
}

int ClientRegistry::connectedPeers() const { return int(m_connectionsByPeer.size()); }

} // namespace prawmp
