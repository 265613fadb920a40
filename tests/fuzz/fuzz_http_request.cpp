// libFuzzer target: the daemon's serving engine, as a client meets it.
//
// The input goes over a loopback TCP connection to a real serving thread
// (ProxyWorkerPool, which serves every connection of the daemon), cut into
// a few writes (the first byte decides where) so that every split of a
// request line, header, chunk or body is tried: requests whole in one read
// (the thread's shared, borrowing parser) and requests over several reads
// (the connection's own parser, 100 Continue included). What the thread
// passes on is answered by a stand-in for ProxyServer (FuzzHost): at once,
// later and out of order, as the /_mp/events stream, or refused; its GET
// answers are stored in the cache, so the same requests come back as hits
// answered on the serving thread itself. Some inputs meet a full daemon
// (the 503 of --max-clients). Each input ends with a request asking to
// close, and the client waits (bounded) for the daemon to close.
//
// Checked beyond "no crash, no sanitizer report": what goes back to the
// client starts with a well-formed HTTP/1.1 answer head (nothing from a
// request may split or inject a line).
#include "FuzzSupport.h"

#include "BudgetView.h"
#include "ConnectionHost.h"
#include "DaemonOptions.h"
#include "HttpServing.h"
#include "ProxyWorker.h"
#include "RequestEventFeed.h"
#include "RequestLog.h"
#include "Router.h"
#include "StatsSink.h"

#include "prawmp/AppIdentities.h"
#include "prawmp/CacheKey.h"
#include "prawmp/JsonResponses.h"
#include "prawmp/RateLimiter.h"
#include "prawmp/Request.h"
#include "prawmp/ResponseCache.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QTcpServer>
#include <QTimer>

#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace prawmp;

namespace {

constexpr QByteArrayView kEndTarget = "/fuzz-end";

DaemonOptions fuzzOptions()
{
    DaemonOptions o;
    o.addr = QStringLiteral("127.0.0.1");
    o.port = 0;
    o.threads = 1;
    o.stateDir.clear();
    o.upstream = QUrl(QStringLiteral("http://127.0.0.1:1"));
    o.routes = {{QStringLiteral("/api/v1/access_token"), QUrl(QStringLiteral("https://www.reddit.com"))},
                {QStringLiteral("/echo"), QUrl(QStringLiteral("http://127.0.0.1:2/base/"))}};
    o.allowHosts = {QStringLiteral("oauth.reddit.com"), QStringLiteral("example.com")};
    o.maxBodyBytes = 1024; // small, so that the 413 paths are reachable within -max_len
    o.headerTimeoutSeconds = 60; // timeouts are not what this target explores
    o.idleTimeoutSeconds = 60;
    return o;
}

// ProxyServer's part, as the serving thread sees it through ConnectionHost.
class FuzzHost : public ConnectionHost
{
public:
    FuzzHost(const DaemonOptions &options, ResponseCache &cache, const AppIdentities &identities)
        : m_router(options), m_cache(cache), m_identities(identities)
    {
    }

    bool full = false; // this input meets a daemon over --max-clients
    QList<EventStreamPtr> streams; // opened during this input

    bool hasRoomForConnection(int) const override { return !full; }
    void abandonConnection(quint64) override {}

    void serveRequest(quint64, const QString &, const IncomingRequest &request, Deliver deliver,
                      OpenStream openStream) override
    {
        const Router::Result route = m_router.resolve(request.target);
        Response response = route.ok()
            ? jsonResponse(200, {{"url", CacheKey::normalizeUrl(route.url)}, {"bytes", int(request.body.size())}})
            : jsonError(route.status, route.code, route.message);
        // Hostile field values from the request must never split the answer.
        response.headers.add("X-Echo", request.headers.value("x-echo"));
        response.headers.add("Content-Length", request.headers.value("content-length"));
        if (request.target == kEndTarget) {
            deliver(response);
            return;
        }
        switch ((uint(qHash(request.target)) + uint(request.sequence)) % 8) {
        case 0:
        case 1:
        case 2:
        case 3: // at once, and a GET's answer is a hit the next time
            if (request.method == "GET" && route.ok())
                remember(request, route.url, response);
            deliver(response);
            break;
        case 4:
        case 5: // later: answers complete out of order
            QTimer::singleShot(0, [deliver, response] { deliver(response); });
            break;
        case 6: { // the /_mp/events stream
            EventStreamPtr stream = openStream();
            Response head;
            head.status = 200;
            head.headers.set("Content-Type", "text/event-stream");
            stream->start(head, 0);
            stream->write("event: stats\ndata: {}\n\n");
            streams.append(stream);
            break;
        }
        default:
            deliver(jsonError(503, QStringLiteral("queue_timeout"), QStringLiteral("fuzz")));
            break;
        }
    }

private:
    // Stored under the key a serving thread computes for the same request.
    void remember(const IncomingRequest &request, const QUrl &url, const Response &response)
    {
        Request keyed;
        keyed.method = QByteArrayLiteral("GET");
        keyed.url = url;
        for (const HttpHeaders::Field &f : request.headers.fields()) {
            if (wire::equalsNoCase(f.first, "authorization") || wire::equalsNoCase(f.first, "cookie")
                || wire::equalsNoCase(f.first, "accept-encoding"))
                keyed.headers.add(f.first, f.second);
        }
        m_cache.store(CacheKey::forRequest(keyed, &m_identities), response);
    }

    Router m_router;
    ResponseCache &m_cache;
    const AppIdentities &m_identities;
};

// One serving thread with everything it shares with the main thread.
struct Daemon
{
    DaemonOptions options = fuzzOptions();
    ResponseCache cache;
    RateLimiter limiter;
    LimiterBudgetView budget{limiter};
    AppIdentities identities;
    StatsSink stats;
    RequestEventFeed events{stats};
    RequestLog log;
    FuzzHost host{options, cache, identities};
    std::unique_ptr<ProxyWorkerPool> pool;
    QTcpServer *listener = nullptr;

    Daemon()
    {
        pool = std::make_unique<ProxyWorkerPool>(host, ServingContext{cache, budget, identities, stats, events, log},
                                                 options);
        listener = pool->createListener(nullptr);
        if (!listener->listen(QHostAddress::LocalHost, 0))
            fuzz::fail("cannot listen on 127.0.0.1");
    }
};

Daemon &daemon()
{
    static Daemon *d = new Daemon; // for the whole run
    return *d;
}

// The main thread's turn: the serving thread's passed-on requests, the
// listener, timers; then what came back.
void turn(int ms)
{
    QEventLoop loop;
    QTimer::singleShot(ms, &loop, &QEventLoop::quit);
    loop.exec();
}

struct Client
{
    int fd = -1;
    QByteArray received;
    bool closed = false;

    void drain()
    {
        char buffer[16384];
        for (;;) {
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n > 0) {
                received.append(buffer, qsizetype(n));
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                closed = true;
            return;
        }
    }
    void send(const void *data, size_t size)
    {
        const char *bytes = static_cast<const char *>(data);
        size_t done = 0;
        for (int spins = 0; done < size && spins < 200 && !closed; ++spins) {
            const ssize_t n = ::send(fd, bytes + done, size - done, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                done += size_t(n);
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return; // closed on us
            turn(1); // full: the daemon reads (or holds back, for back-pressure)
            drain();
        }
    }
};

// The client sees HTTP/1.1 answers only: the first bytes are a status
// line, and the header block after it is made of "Name: value" lines.
void checkOutput(const QByteArray &out)
{
    if (out.isEmpty())
        return;
    PRAWMP_FUZZ_CHECK(out.startsWith("HTTP/1.1 "));
    const qsizetype headEnd = out.indexOf("\r\n\r\n");
    if (headEnd < 0)
        return; // cut short by the close
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
    (void)daemon();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t seed = data[0];
    ++data;
    --size;
    Daemon &d = daemon();
    d.host.full = seed % 16 == 15;

    Client client;
    client.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(d.listener->serverPort());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (client.fd < 0 || ::connect(client.fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        if (client.fd >= 0)
            ::close(client.fd);
        return 0;
    }
    turn(0); // the listener hands it to the serving thread

    fuzz::forEachPiece(data, size, seed, 4, [&](const uint8_t *piece, size_t length) {
        client.send(piece, length);
        turn(1);
        client.drain();
    });
    const QByteArray end = "GET " + kEndTarget.toByteArray() + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    client.send(end.constData(), size_t(end.size()));
    // Until the daemon closes (bounded): answers owed, then the stream ended.
    QElapsedTimer waited;
    waited.start();
    while (!client.closed && !waited.hasExpired(300)) {
        turn(1);
        client.drain();
        if (waited.hasExpired(20))
            for (const EventStreamPtr &stream : std::as_const(d.host.streams))
                stream->close();
    }
    for (const EventStreamPtr &stream : std::as_const(d.host.streams))
        stream->close();
    d.host.streams.clear();
    ::close(client.fd);
    checkOutput(client.received);
    return 0;
}
