#pragma once
#include "EventStream.h"
#include "HttpWire.h"
#include "prawmp/HttpHeaders.h"
#include "prawmp/Response.h"

#include <QByteArray>
#include <QHostAddress>
#include <QObject>
#include <memory>

class QTcpSocket;

namespace prawmp {

// One request as it came off the wire, before routing: what the wire
// module parsed, numbered on its connection.
struct IncomingRequest : wire::ParsedRequest
{
    quint64 sequence = 0;      // per connection, 1, 2, 3...; answers go out in this order
};

struct HttpLimits
{
    qsizetype maxHeaderBytes = 64 * 1024;     // -> 431
    qsizetype maxBodyBytes = 32 * 1024 * 1024; // -> 413
    int headerTimeoutMs = 10'000;             // headers not complete in time -> 408
    int idleTimeoutMs = 75'000;               // keep-alive connection with nothing to do -> closed
    // Requests read ahead of their answers; beyond this the connection stops
    // reading (TCP back-pressure) until answers go out.
    int maxPipelinedRequests = 64;
};

// A process-wide connection number: HttpConnection::id() and the serving
// threads' connections draw from the same counter, so ids never collide.
quint64 nextConnectionId();

// The 503 for a client over --max-clients, or one that comes while the daemon stops.
Response tooManyClientsError(bool stopping, int maxClients);

// The 408 for request headers that did not come within `headerTimeoutMs`
// (every serving path answers a silent client with it).
Response headerTimeoutError(int headerTimeoutMs);
// The 408 for a request body with no byte for `idleTimeoutMs`.
Response bodyTimeoutError(int idleTimeoutMs);
// The interim answer to "Expect: 100-continue".
const QByteArray &continueInterim();

// Server side of one HTTP/1.1 connection, on the wire module (llhttp).
// Parses requests (keep-alive, pipelining, Content-Length and chunked
// bodies, Expect: 100-continue), refuses malformed and smuggling-prone
// ones with the JSON error of the contract, and writes the answers in
// request order whatever order they are given in. Owns the socket.
class HttpConnection : public QObject
{
    Q_OBJECT
public:
    HttpConnection(QTcpSocket *socket, const HttpLimits &limits, QObject *parent = nullptr);
    ~HttpConnection() override;

    quint64 id() const;
    QHostAddress peerAddress() const;
    quint16 peerPort() const;
    bool isOpen() const;
    qint64 bytesReceived() const;
    qint64 bytesSent() const;
    // Bytes written that the peer has not taken yet (a slow event subscriber's backlog).
    qint64 outputBacklog() const;
    // Caps what the kernel holds for the peer (SO_SNDBUF; Linux doubles it
    // for its bookkeeping). Without it the kernel's autotuning lets several
    // MiB sit there, unseen by outputBacklog().
    void setSendBufferSize(int bytes);

    // Answers request `sequence`. Adds Content-Length (HEAD: the length the
    // body would have, no body bytes) and Connection: close when the
    // connection ends after it. Answers given early wait for their turn.
    void respond(quint64 sequence, const Response &response);
    // Starts a streamed answer (Server-Sent Events): head now, then chunks
    // with writeStreamData(); chunked transfer coding. Ends the pipeline.
    void startStream(quint64 sequence, const Response &head);
    void writeStreamData(quint64 sequence, const QByteArray &data);
    // Request `sequence`'s answer as an EventStream (startStream() and
    // writeStreamData() behind EventSubscribers' interface).
    EventStreamPtr eventStream(quint64 sequence);
    // Sends this answer to whatever is pending and closes (e.g. 503 too many clients).
    void rejectAndClose(const Response &response);
    void close();

signals:
    void requestReceived(const prawmp::IncomingRequest &request);
    // The peer went away or the connection was closed; unanswered
    // sequences will never be written. Emitted once; delete later.
    void closed();

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace prawmp
