// libFuzzer target: the daemon's request parsing path.
//
// The input reaches a real HttpConnection (the wire module: llhttp plus our framing,
// smuggling, limit and pipelining rules) through a local socket pair, cut
// into a few writes (the first byte decides where) so that every split of
// a request line, header or chunk is tried. Each request parsed is routed
// (Router::resolve, as ProxyServer does) and its cache key computed, then
// answered: some at once, some later and out of order, HEAD and streamed
// answers included, so the answer-ordering code runs too. Finally the peer
// half-closes, as a client that leaves does.
//
// Checked beyond "no crash, no sanitizer report": what goes back to the
// client starts with a well-formed HTTP/1.1 answer head.
#include "FuzzSupport.h"

#include "HttpConnection.h"
#include "Router.h"

#include "prawmp/CacheKey.h"
#include "prawmp/JsonResponses.h"

#include <QPointer>
#include <QTcpSocket>
#include <QTimer>

#include <cerrno>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace prawmp;

namespace {

const Router &router()
{
    static const Router r = [] {
        DaemonOptions o;
        o.upstream = QUrl(QStringLiteral("http://127.0.0.1:1"));
        o.routes = {{QStringLiteral("/api/v1/access_token"), QUrl(QStringLiteral("https://www.reddit.com"))},
                    {QStringLiteral("/echo"), QUrl(QStringLiteral("http://127.0.0.1:2/base/"))}};
        o.allowHosts = {QStringLiteral("oauth.reddit.com"), QStringLiteral("example.com")};
        return Router(o);
    }();
    return r;
}

HttpLimits limits()
{
    HttpLimits l;
    // Small, so that the 431/413 paths are reachable within -max_len.
    l.maxHeaderBytes = 2048;
    l.maxBodyBytes = 1024;
    l.headerTimeoutMs = 60'000; // timeouts are not what this target explores
    l.idleTimeoutMs = 60'000;
    l.maxPipelinedRequests = 4;
    return l;
}

// The client's end: drains what the daemon writes so it never blocks.
struct Peer
{
    int fd = -1;
    QByteArray received;

    void drain()
    {
        char buffer[16384];
        for (;;) {
            const ssize_t n = ::read(fd, buffer, sizeof buffer);
            if (n <= 0)
                return;
            received.append(buffer, qsizetype(n));
        }
    }
    void send(const uint8_t *data, size_t size)
    {
        size_t done = 0;
        int spins = 0;
        while (done < size && spins < 1000) {
            const ssize_t n = ::write(fd, data + done, size - done);
            if (n > 0) {
                done += size_t(n);
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                return; // the connection was closed on us
            // Full: let the connection read (or pause, for back-pressure).
            QCoreApplication::processEvents();
            drain();
            ++spins;
        }
    }
};

// Answers one request in a way picked from what it is.
void answer(HttpConnection *connection, const IncomingRequest &request)
{
    const Router::Result route = router().resolve(request.target);
    QString key;
    if (route.ok())
        key = CacheKey::normalizeUrl(route.url);

    Response response = route.ok() ? jsonResponse(200, {{"url", key}, {"bytes", int(request.body.size())}})
                                   : jsonError(route.status, route.code, route.message);
    // Hostile field values from the request must never split the answer.
    response.headers.add("X-Echo", request.headers.value("x-echo"));
    response.headers.add("Content-Length", request.headers.value("content-length"));
    const quint64 sequence = request.sequence;
    const uint choice = uint(qHash(request.target)) + uint(sequence);
    QPointer<HttpConnection> guard(connection);
    switch (choice % 8) {
    case 0:
    case 1:
    case 2:
    case 3:
        connection->respond(sequence, response);
        break;
    case 4:
    case 5: // later: answers complete out of order
        QTimer::singleShot(0, connection, [guard, sequence, response] {
            if (guard)
                guard->respond(sequence, response);
        });
        break;
    case 6: // a Server-Sent Events stream, as /_mp/events
        response.headers.set("Content-Type", "text/event-stream");
        response.body.clear();
        connection->startStream(sequence, response);
        if (guard)
            connection->writeStreamData(sequence, "event: stats\ndata: {}\n\n");
        break;
    default: // refused, as an over-limit client is
        connection->rejectAndClose(jsonError(503, QStringLiteral("too_many_clients"), QStringLiteral("fuzz")));
        break;
    }
}

void pump(int rounds, Peer &peer)
{
    for (int i = 0; i < rounds; ++i) {
        QCoreApplication::processEvents(QEventLoop::AllEvents);
        peer.drain();
    }
}

// The client side sees HTTP/1.1 answers only: the first bytes are a
// status line, and the header block after it is made of "Name: value"
// lines (nothing from the request may split or inject a line).
void checkOutput(const QByteArray &out)
{
    if (out.isEmpty())
        return;
    PRAWMP_FUZZ_CHECK(out.startsWith("HTTP/1.1 "));
    const qsizetype headEnd = out.indexOf("\r\n\r\n");
    if (headEnd < 0)
        return; // cut short when the connection was deleted
    // Each line of the head with its CRLF; the split leaves an empty last piece.
    const QList<QByteArray> lines = out.left(headEnd + 2).split('\n');
    for (qsizetype i = 1; i + 1 < lines.size(); ++i) {
        PRAWMP_FUZZ_CHECK(lines[i].endsWith('\r'));
        PRAWMP_FUZZ_CHECK(lines[i].indexOf(':') > 0);
        PRAWMP_FUZZ_CHECK(lines[i].indexOf('\r') == lines[i].size() - 1);
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    fuzz::initApplication();
    (void)router();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t seed = data[0];
    ++data;
    --size;

    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
        return 0;
    Peer peer{fds[1], {}};

    auto *socket = new QTcpSocket;
    if (!socket->setSocketDescriptor(fds[0])) {
        delete socket;
        ::close(fds[0]);
        ::close(fds[1]);
        return 0;
    }
    QPointer<HttpConnection> connection = new HttpConnection(socket, limits());
    QObject::connect(connection, &HttpConnection::requestReceived, connection,
                     [c = connection.data()](const IncomingRequest &r) { answer(c, r); });
    QObject::connect(connection, &HttpConnection::closed, connection, &QObject::deleteLater);

    fuzz::forEachPiece(data, size, seed, 4, [&](const uint8_t *piece, size_t length) {
        if (!connection)
            return;
        peer.send(piece, length);
        pump(4, peer);
    });
    pump(4, peer);
    // The client leaves (half-close: it may still read).
    ::shutdown(peer.fd, SHUT_WR);
    pump(4, peer);

    delete connection.data();
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    peer.drain();
    ::close(peer.fd);
    checkOutput(peer.received);
    return 0;
}
