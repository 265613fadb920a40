#pragma once
#include "EventStream.h"

#include <QHostAddress>
#include <QtGlobal>

#include <functional>

class QString;

namespace prawmp {

struct IncomingRequest;
struct Response;

// What the serving threads need from the server that owns them: whether
// one more connection fits, and the answer (or the /_mp/events stream) to a
// request they do not answer from the cache themselves. Their connections
// never move: every answer is written by the thread that holds it.
// ProxyServer implements it; the serving threads know nothing else of it.
class ConnectionHost
{
public:
    // The answer to one request; called once, on the main thread.
    using Deliver = std::function<void(const Response &)>;
    // For GET /_mp/events: the answer as a stream on the request's connection.
    using OpenStream = std::function<EventStreamPtr()>;

    virtual ~ConnectionHost() = default;

    // Main thread: with `heldByServingThreads` connections open on the
    // serving threads, may one more be served (not stopping, under --max-clients)?
    virtual bool hasRoomForConnection(int heldByServingThreads) const = 0;
    // Main thread: answers a whole request (body included) that a serving thread
    // read off its connection `connection` (nextConnectionId())
    // and that the cache could not answer. The serving thread writes the
    // answer `deliver` is given (or streams what `openStream`'s stream is
    // given), so the connection never changes threads.
    virtual void serveRequest(quint64 connection, const QString &peer, const IncomingRequest &request,
                              Deliver deliver, OpenStream openStream) = 0;
    // Main thread: connection `connection` closed; its requests still
    // waiting leave the queue before they spend budget.
    virtual void abandonConnection(quint64 connection) = 0;
};

} // namespace prawmp
