#pragma once
#include "prawmp/StatsSnapshot.h"

#include <QHash>
#include <QString>

namespace prawmp {

// Who is connected: one entry per client (peer address + User-Agent), kept
// while the client has a connection open. Feeds /_mp/stats and the GUI.
class ClientRegistry
{
public:
    static QString clientId(const QString &peer, const QByteArray &userAgent);

    void connectionOpened(const QString &peer);
    void connectionClosed(const QString &peer);
    // A request arrived from `id`; its connection counts for that client from now on.
    ClientStats &touch(const QString &id, const QString &peer, const QByteArray &userAgent);
    void requestFinished(const QString &id, bool hit, qint64 bytes);

    QList<ClientStats> clients() const;
    int connectedPeers() const;

private:
    QHash<QString, ClientStats> m_clients;  // by client id
    QHash<QString, int> m_connectionsByPeer; // open connections per peer address
};

} // namespace prawmp
