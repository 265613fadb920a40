#pragma once

class QTcpSocket;

namespace prawmp {

// What the serving threads need from the server that owns them: whether
// one more connection fits, and a home on the main thread for a connection
// whose request they do not answer themselves. ProxyServer implements it;
// the serving threads know nothing else of it.
class ConnectionHost
{
public:
    virtual ~ConnectionHost() = default;

    // Main thread: with `heldByServingThreads` connections open on the
    // serving threads, may one more be served (not stopping, under --max-clients)?
    virtual bool hasRoomForConnection(int heldByServingThreads) const = 0;
    // Main thread: takes over a connection the serving threads held (already
    // counted as open in the stats sink) from its first unread byte.
    virtual void adoptOpenConnection(QTcpSocket *socket) = 0;
};

} // namespace prawmp
