#pragma once
#include <QHostAddress>
#include <QtGlobal>

#include <functional>

class QString;
class QTcpSocket;

namespace prawmp {

struct IncomingRequest;
struct Response;

// What the serving threads need from the server that owns them: whether
// one more connection fits, the answer to a request they do not answer from
// the cache themselves, and a home on the main thread for a connection
// whose requests they cannot take whole (long bodies, the /_mp/events
// stream, malformed requests).
// ProxyServer implements it; the serving threads know nothing else of it.
class ConnectionHost
{
public:
    // The answer to one request; called once, on the main thread.
    using Deliver = std::function<void(const Response &)>;

    virtual ~ConnectionHost() = default;

    // Main thread: with `heldByServingThreads` connections open on the
    // serving threads, may one more be served (not stopping, under --max-clients)?
    virtual bool hasRoomForConnection(int heldByServingThreads) const = 0;
    // Main thread: takes over a connection the serving threads held (already
    // counted as open in the stats sink) from its first unread byte. `peer`:
    // the client's address, when the socket is not the client's own (an
    // HTTPS connection whose plain bytes a serving thread relays).
    virtual void adoptOpenConnection(QTcpSocket *socket, const QHostAddress &peer = {}, quint16 peerPort = 0) = 0;
    // Main thread: answers a whole request (body included) that a serving thread
    // read off its connection `connection` (ids shared with HttpConnection)
    // and that the cache could not answer. The serving thread writes the
    // answer `deliver` is given, so the connection never changes threads.
    virtual void serveRequest(quint64 connection, const QString &peer, const IncomingRequest &request,
                              Deliver deliver) = 0;
    // Main thread: connection `connection` closed; its requests still
    // waiting leave the queue before they spend budget.
    virtual void abandonConnection(quint64 connection) = 0;
};

} // namespace prawmp
