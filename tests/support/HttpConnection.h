#pragma once
#include "EventStream.h"
#include "HttpServing.h"
#include "prawmp/HttpHeaders.h"
#include "prawmp/Response.h"

#include <QByteArray>
#include <QHostAddress>
#include <QObject>
#include <memory>

class QTcpSocket;

namespace prawmp {

// Server side of one HTTP/1.1 connection on a Qt socket, on the wire
// module (llhttp): the fake upstream's, and the tests' own servers'. (The
// daemon serves its connections on its serving threads, ProxyWorker.)
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
