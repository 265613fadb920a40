// Upstream, our HTTP/1.1 client, against scripted raw servers (exact bytes,
// resets, closes) and the fake Reddit upstream: keep-alive pooling, answer
// framing, distinct errors, and that nothing is ever resent behind the
// rate limiter's back.
#include "FakeReddit.h"
#include "TestPorts.h"

#include "prawmp/Upstream.h"

#include <QElapsedTimer>
#include <QPointer>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>
#include <QSslServer>
#include <QSslSocket>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <memory>
#include <vector>

#include <sys/socket.h>

using namespace prawmp;
using prawmp::test::FakeReddit;

Q_DECLARE_METATYPE(prawmp::Error::Kind)

namespace {

// A self-signed certificate for 127.0.0.1 / localhost, valid 2000-2100.
const char kCertPem[] = R"(-----BEGIN CERTIFICATE-----
MIIBaDCCAQ2gAwIBAgIBATAKBggqhkjOPQQDAjAUMRIwEAYDVQQDDAkxMjcuMC4w
LjEwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBQxEjAQBgNVBAMM
CTEyNy4wLjAuMTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABGX8f1JkHPx2muN7
Ax0d9USJBOkRxEDgiSm+c9AeFf3LZ0tYiyNoGz4+DfXagIZj4N2zBcMtxh20waDU
ufN4hGWjTjBMMA8GA1UdEwEB/wQFMAMBAf8wGgYDVR0RBBMwEYcEfwAAAYIJbG9j
YWxob3N0MB0GA1UdDgQWBBSK8TjesHXfz0YB1hV7FL+JJwMEhDAKBggqhkjOPQQD
AgNJADBGAiEAxrHqfx9ts46f+Ok+pLbqV2hWR2597Veig/r9B01d9m8CIQDIQRxR
Qiups5wdSk1g2n/ZwgR8VNRwcyLsfOJyRCyoJQ==
-----END CERTIFICATE-----
)";
const char kKeyPem[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgQEb/GFJjcqLOBBq5
Xw0l/FntyGFtO8IfF+ORt0s2yuyhRANCAARl/H9SZBz8dprjewMdHfVEiQTpEcRA
4IkpvnPQHhX9y2dLWIsjaBs+Pg312oCGY+DdswXDLcYdtMGg1LnzeIRl
-----END PRIVATE KEY-----
)";

QByteArray okAnswer(const QByteArray &body = "ok", const QByteArray &extraHead = {})
{
    return "HTTP/1.1 200 OK\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\n"
         + extraHead + "\r\n" + body;
}

// A raw HTTP server run by the test: it reads requests (head + Content-Length
// body) and lets the test script the exact bytes, closes and resets.
class ScriptServer : public QObject
{
public:
    struct Conn {
        int index = 0;            // 1, 2, ... in accept order
        QPointer<QTcpSocket> socket;
        QByteArray buffer;
        int requests = 0;         // processed (handed to the script) on this connection
        bool closed = false;      // by either side
    };
    struct Received {
        int connection = 0;
        QByteArray method;
        QByteArray target;
        QByteArray head;          // request line and fields, raw
        QList<QPair<QByteArray, QByteArray>> fields;
        QByteArray body;

        QList<QByteArray> values(const QByteArray &name) const
        {
            QList<QByteArray> out;
            for (const auto &f : fields)
                if (f.first.compare(name, Qt::CaseInsensitive) == 0)
                    out << f.second;
            return out;
        }
    };
    using Script = std::function<void(ScriptServer &, Conn &, const Received &)>;

    explicit ScriptServer(bool tls = false) : m_tls(tls)
    {
        if (tls) {
            auto *server = new QSslServer(this);
            QSslConfiguration config = QSslConfiguration::defaultConfiguration();
            config.setLocalCertificate(QSslCertificate(QByteArray(kCertPem)));
            config.setPrivateKey(QSslKey(QByteArray(kKeyPem), QSsl::Ec));
            config.setPeerVerifyMode(QSslSocket::VerifyNone);
            server->setSslConfiguration(config);
            connect(server, &QSslServer::errorOccurred, this,
                    [this](QSslSocket *, QAbstractSocket::SocketError) { ++handshakeFailures; });
            m_server = server;
        } else {
            m_server = new QTcpServer(this);
        }
        // Not newConnection: QSslServer queues a socket only once its handshake is done.
        connect(m_server, &QTcpServer::pendingConnectionAvailable, this, [this] { onNewConnection(); });
    }

    bool listen() { return m_server->listen(QHostAddress::LocalHost); }
    quint16 port() const { return m_server->serverPort(); }
    QUrl url(const QString &pathAndQuery) const
    {
        return QUrl(QStringLiteral("%1://127.0.0.1:%2%3")
                        .arg(m_tls ? "https" : "http", QString::number(port()), pathAndQuery));
    }
    int openConnections() const
    {
        int n = 0;
        for (const auto &c : conns)
            n += c->closed ? 0 : 1;
        return n;
    }
    Conn &conn(int index) { return *conns.at(index - 1); }

    static void write(Conn &c, const QByteArray &bytes)
    {
        if (c.socket) {
            c.socket->write(bytes);
            c.socket->flush();
        }
    }
    // Closes with a FIN, as a server timing out an idle connection does.
    static void close(Conn &c)
    {
        if (c.socket) {
            c.socket->flush();
            c.socket->abort();
        }
        c.closed = true;
    }
    // Closes with an RST (SO_LINGER 0), as a server that did not take the
    // bytes it received does.
    void reset(Conn &c)
    {
        if (c.socket) {
            linger l{1, 0};
            ::setsockopt(int(c.socket->socketDescriptor()), SOL_SOCKET, SO_LINGER, &l, sizeof l);
            c.socket->abort();
        }
        c.closed = true;
        ++resets;
    }

    // What answers a processed request (default: 200 "ok", keep-alive).
    Script script = [](ScriptServer &, Conn &c, const Received &) { write(c, okAnswer()); };
    // Requests for which this says true are reset unread: never processed.
    std::function<bool(const Conn &)> resetIf;

    int accepted = 0;
    int resets = 0;
    int handshakeFailures = 0;
    QList<Received> received;
    std::vector<std::unique_ptr<Conn>> conns;

private:
    void onNewConnection()
    {
        while (QTcpSocket *socket = m_server->nextPendingConnection()) {
            auto conn = std::make_unique<Conn>();
            conn->index = int(conns.size()) + 1;
            conn->socket = socket;
            socket->setParent(this);
            Conn *c = conn.get();
            conns.push_back(std::move(conn));
            ++accepted;
            connect(socket, &QTcpSocket::readyRead, this, [this, c] { onReadyRead(*c); });
            connect(socket, &QTcpSocket::disconnected, this, [c] { c->closed = true; });
            if (socket->bytesAvailable() > 0)
                onReadyRead(*c);
        }
    }

    void onReadyRead(Conn &c)
    {
        if (!c.socket)
            return;
        c.buffer += c.socket->readAll();
        while (c.socket && !c.closed) {
            const qsizetype end = c.buffer.indexOf("\r\n\r\n");
            if (end < 0)
                return;
            Received r;
            r.connection = c.index;
            r.head = c.buffer.left(end);
            const QList<QByteArray> lines = r.head.split('\n');
            const QList<QByteArray> requestLine = lines.value(0).trimmed().split(' ');
            r.method = requestLine.value(0);
            r.target = requestLine.value(1);
            qsizetype length = 0;
            for (qsizetype i = 1; i < lines.size(); ++i) {
                const QByteArray line = lines[i].trimmed();
                const qsizetype colon = line.indexOf(':');
                if (colon <= 0)
                    continue;
                r.fields.append({line.left(colon).trimmed(), line.mid(colon + 1).trimmed()});
                if (r.fields.last().first.compare("content-length", Qt::CaseInsensitive) == 0)
                    length = r.fields.last().second.toLongLong();
            }
            if (c.buffer.size() < end + 4 + length)
                return;
            r.body = c.buffer.mid(end + 4, length);
            c.buffer.remove(0, end + 4 + length);
            if (resetIf && resetIf(c)) {
                reset(c);
                return;
            }
            ++c.requests;
            received.append(r);
            script(*this, c, r);
        }
    }

    bool m_tls = false;
    QTcpServer *m_server = nullptr;
};

struct Outcome
{
    int calls = 0;
    Response response;
    Error error;
    qint64 elapsedMs = -1;
};

Request makeRequest(const QUrl &url, const QByteArray &method = "GET", const QByteArray &body = {})
{
    Request request;
    request.method = method;
    request.url = url;
    request.body = body;
    return request;
}

// Sends and waits for the callback; the outcome counts every call.
std::shared_ptr<Outcome> sendTracked(Upstream &upstream, const Request &request, quint64 *id = nullptr)
{
    auto out = std::make_shared<Outcome>();
    auto timer = std::make_shared<QElapsedTimer>();
    timer->start();
    const quint64 sent = upstream.send(request, [out, timer](const Response &r, const Error &e) {
        ++out->calls;
        out->response = r;
        out->error = e;
        out->elapsedMs = timer->elapsed();
    });
    if (id)
        *id = sent;
    return out;
}

Outcome run(Upstream &upstream, const Request &request, int timeoutMs = 5000)
{
    auto out = sendTracked(upstream, request);
    if (!QTest::qWaitFor([&] { return out->calls > 0; }, timeoutMs))
        qWarning("no answer within %d ms for %s", timeoutMs, qPrintable(request.url.toString()));
    return *out;
}

QList<quint64> connectionIds(const FakeReddit &fake)
{
    QList<quint64> ids;
    for (const auto &record : fake.log())
        ids << record.connectionId;
    return ids;
}

} // namespace

class TestUpstream : public QObject
{
    Q_OBJECT

private slots:
    // ---- Keep-alive and the pool
    void keepAliveReusesOneConnection();
    void concurrentRequestsQueueBeyondTheCap();
    void preconnectedConnectionCarriesTheFirstRequest();

    // ---- Requests as written
    void requestIsWrittenAsGiven();
    void writtenHookMarksTheMomentOfWriting();
    void contentLengthOnlyWhereItBelongs_data();
    void contentLengthOnlyWhereItBelongs();

    // ---- Answers as read
    void chunkedBodyIsDechunked();
    void answerArrivingInPiecesIsReassembled();
    void closeDelimitedBodyIsRead_data();
    void closeDelimitedBodyIsRead();
    void headAnswerHasNoBody();
    void bodilessStatusesHaveNoBody_data();
    void bodilessStatusesHaveNoBody();
    void interimAnswersAreSkipped();
    void redirectIsNotFollowed();
    void duplicateHeadersAreKeptInOrder();
    void unsolicitedBytesAfterAnAnswerRetireTheConnection();

    // ---- Failures: distinct kinds, nothing resent
    void faultsGiveDistinctErrorsAndOneArrival_data();
    void faultsGiveDistinctErrorsAndOneArrival();
    void truncatedChunkedAnswerIsConnectionFailed();
    void connectionRefusedIsConnectionFailed();
    void unsupportedUrlFailsAsynchronously();
    void staleIdleConnectionIsReplaced_data();
    void staleIdleConnectionIsReplaced();
    void resetReusedConnectionRetriesGetOnce();
    void resetReusedConnectionNeverResendsPost();
    void retryHappensAtMostOnce();
    void resetFreshConnectionIsNotRetried();
    void timeoutClosesTheConnection();
    void abortClosesTheConnectionWithoutCallback();
    void abortOfQueuedRequestNeverSendsIt();
    void destroyingUpstreamMidRequestIsQuiet();
    void callbackMayDestroyTheUpstream_data();
    void callbackMayDestroyTheUpstream();
    void callbackMaySendAgain();

    // ---- TLS
    void httpsWithUntrustedCertificateFails();
    void httpsWithTrustedCertificateKeepsAlive();
};

// ---------------------------------------------------------------- keep-alive

void TestUpstream::keepAliveReusesOneConnection()
{
    FakeReddit fake;
    QVERIFY(fake.listen());
    Upstream upstream;
    for (int i = 0; i < 5; ++i) {
        const Outcome out = run(upstream, makeRequest(fake.url(QStringLiteral("/r/k%1/hot.json").arg(i))));
        QVERIFY2(!out.error, qPrintable(out.error.message));
        QCOMPARE(out.response.status, 200);
    }
    QCOMPARE(fake.requestCount(), 5);
    const QList<quint64> ids = connectionIds(fake);
    QCOMPARE(QSet<quint64>(ids.begin(), ids.end()).size(), 1);
    QCOMPARE(fake.connectionCount(), 1);
    QCOMPARE(upstream.connectionCount(), 1);
    QCOMPARE(upstream.inFlight(), 0);
}

void TestUpstream::concurrentRequestsQueueBeyondTheCap()
{
    ScriptServer server;
    QVERIFY(server.listen());
    QList<ScriptServer::Conn *> holding;
    server.script = [&](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &) {
        holding << &c; // answered later
    };
    Upstream upstream;
    QCOMPARE(upstream.maxConnectionsPerOrigin(), 16);
    upstream.setMaxConnectionsPerOrigin(3);

    std::vector<std::shared_ptr<Outcome>> outs;
    for (int i = 0; i < 7; ++i)
        outs.push_back(sendTracked(upstream, makeRequest(server.url(QStringLiteral("/q%1").arg(i)))));
    QTRY_COMPARE(server.received.size(), 3);
    QTest::qWait(100);
    QCOMPARE(server.accepted, 3);            // the cap
    QCOMPARE(server.received.size(), 3);     // one request per connection: no pipelining
    QCOMPARE(upstream.inFlight(), 7);

    // Answered as they come; the queue drains over the same three connections, in order.
    server.script = [](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &r) {
        ScriptServer::write(c, okAnswer(r.target));
    };
    for (ScriptServer::Conn *c : std::as_const(holding))
        ScriptServer::write(*c, okAnswer("first"));
    for (const auto &out : outs)
        QTRY_COMPARE(out->calls, 1);
    QCOMPARE(server.accepted, 3);
    QCOMPARE(server.received.size(), 7);
    QStringList order;
    for (const auto &r : server.received)
        order << QString::fromLatin1(r.target);
    QCOMPARE(order, QStringList({"/q0", "/q1", "/q2", "/q3", "/q4", "/q5", "/q6"}));
    for (int i = 3; i < 7; ++i)
        QCOMPARE(outs[i]->response.body, QByteArray("/q" + QByteArray::number(i)));
    QCOMPARE(upstream.connectionCount(), 3);
}

void TestUpstream::preconnectedConnectionCarriesTheFirstRequest()
{
    ScriptServer server;
    QVERIFY(server.listen());
    Upstream upstream;
    upstream.preconnect(server.url("/"));
    upstream.preconnect(server.url("/other")); // same origin: still one
    QTRY_COMPARE(server.accepted, 1);
    QTest::qWait(50);
    QCOMPARE(server.accepted, 1);
    QCOMPARE(upstream.connectionCount(), 1);

    const Outcome out = run(upstream, makeRequest(server.url("/x")));
    QCOMPARE(out.response.status, 200);
    QCOMPARE(server.accepted, 1);
    QCOMPARE(server.received.size(), 1);

    // A preconnect still under way takes the request too.
    Upstream second;
    second.preconnect(server.url("/"));
    const Outcome out2 = run(second, makeRequest(server.url("/y")));
    QCOMPARE(out2.response.status, 200);
    QCOMPARE(server.accepted, 2);
}

// ---------------------------------------------------------------- requests

void TestUpstream::writtenHookMarksTheMomentOfWriting()
{
    // The server holds the first answer, so the hook's moment can be seen
    // apart from the answer's: it runs once the bytes are written, exactly
    // once per request, on a fresh connection (after the connect) and on a
    // reused one; never for a request that could not be written.
    ScriptServer server;
    QVERIFY(server.listen());
    QList<ScriptServer::Conn *> holding;
    server.script = [&](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &) { holding << &c; };
    Upstream upstream;
    int written = 0;
    int writtenBeforeAnswer = -1;
    bool answered = false;
    upstream.send(makeRequest(server.url("/first")), [&](const Response &, const Error &) {
        answered = true;
        writtenBeforeAnswer = written;
    }, [&] { ++written; });
    QCOMPARE(written, 0); // connecting: nothing written yet
    QTRY_COMPARE(server.received.size(), 1);
    QCOMPARE(written, 1);
    QVERIFY(!answered);
    ScriptServer::write(*holding.first(), okAnswer("one"));
    QTRY_VERIFY(answered);
    QCOMPARE(writtenBeforeAnswer, 1);

    // Reused idle connection: written from inside send().
    int reusedWritten = 0;
    auto out = std::make_shared<Outcome>();
    server.script = [](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &) {
        ScriptServer::write(c, okAnswer("two"));
    };
    upstream.send(makeRequest(server.url("/second")), [out](const Response &r, const Error &e) {
        out->response = r;
        out->error = e;
        ++out->calls;
    }, [&] { ++reusedWritten; });
    QCOMPARE(reusedWritten, 1);
    QTRY_COMPARE(out->calls, 1);
    QCOMPARE(reusedWritten, 1);
    QCOMPARE(server.accepted, 1);

    // Refused: the hook never runs.
    const quint16 port = prawmp::test::freeLoopbackPort();
    int refusedWritten = 0;
    bool failed = false;
    upstream.send(makeRequest(QUrl(QStringLiteral("http://127.0.0.1:%1/x").arg(port))),
                  [&](const Response &, const Error &e) { failed = bool(e); }, [&] { ++refusedWritten; });
    QTRY_VERIFY(failed);
    QCOMPARE(refusedWritten, 0);
}

void TestUpstream::requestIsWrittenAsGiven()
{
    ScriptServer server;
    QVERIFY(server.listen());
    Upstream upstream;

    Request request = makeRequest(server.url("/api/comment?b=2&a=%2Fx%20y"), "POST", "thing_id=t3_x&text=hi");
    request.headers.add("User-Agent", "test-bot/1.0");
    request.headers.add("Authorization", "bearer abc");
    request.headers.add("Accept-Encoding", "gzip");
    request.headers.add("Connection", "keep-alive, X-Hop");
    request.headers.add("X-Hop", "1");
    request.headers.add("Keep-Alive", "timeout=5");
    request.headers.add("TE", "trailers");
    request.headers.add("Proxy-Authorization", "Bearer secret");
    request.headers.add("Host", "wrong.example");
    request.headers.add("Content-Length", "999");
    request.headers.add("X-Dup", "1");
    request.headers.add("X-Dup", "2");
    const Outcome out = run(upstream, request);
    QCOMPARE(out.response.status, 200);
    QCOMPARE(server.received.size(), 1);
    const auto &r = server.received[0];
    QCOMPARE(r.head.left(r.head.indexOf("\r\n")), QByteArray("POST /api/comment?b=2&a=%2Fx%20y HTTP/1.1"));
    QCOMPARE(r.values("Host"), QList<QByteArray>{"127.0.0.1:" + QByteArray::number(server.port())});
    QCOMPARE(r.values("User-Agent"), QList<QByteArray>{"test-bot/1.0"});
    QCOMPARE(r.values("Authorization"), QList<QByteArray>{"bearer abc"});
    QCOMPARE(r.values("Accept-Encoding"), QList<QByteArray>{"gzip"});
    QCOMPARE(r.values("X-Dup"), QList<QByteArray>({"1", "2"}));
    QCOMPARE(r.values("Content-Length"), QList<QByteArray>{"21"});
    for (const char *hop : {"Connection", "X-Hop", "Keep-Alive", "TE", "Proxy-Authorization"})
        QVERIFY2(r.values(hop).isEmpty(), hop);
    QCOMPARE(r.body, QByteArray("thing_id=t3_x&text=hi"));

    // No Accept-Encoding from the caller: none is added (no gzip behind its back).
    const Outcome plain = run(upstream, makeRequest(server.url("/plain")));
    QCOMPARE(plain.response.status, 200);
    QVERIFY(server.received[1].values("Accept-Encoding").isEmpty());
    QCOMPARE(server.received[1].head.left(server.received[1].head.indexOf("\r\n")),
             QByteArray("GET /plain HTTP/1.1"));
    // A URL without a path asks for "/".
    const Outcome root = run(upstream, makeRequest(QUrl(QStringLiteral("http://127.0.0.1:%1?x=1").arg(server.port()))));
    QCOMPARE(root.response.status, 200);
    QCOMPARE(server.received[2].target, QByteArray("/?x=1"));
}

void TestUpstream::contentLengthOnlyWhereItBelongs_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QList<QByteArray>>("expected");

    QTest::newRow("GET") << QByteArray("GET") << QByteArray() << QList<QByteArray>{};
    QTest::newRow("HEAD") << QByteArray("HEAD") << QByteArray() << QList<QByteArray>{};
    QTest::newRow("DELETE") << QByteArray("DELETE") << QByteArray() << QList<QByteArray>{};
    QTest::newRow("DELETE with body") << QByteArray("DELETE") << QByteArray("x") << QList<QByteArray>{"1"};
    QTest::newRow("POST empty") << QByteArray("POST") << QByteArray() << QList<QByteArray>{"0"};
    QTest::newRow("PUT empty") << QByteArray("PUT") << QByteArray() << QList<QByteArray>{"0"};
    QTest::newRow("PATCH") << QByteArray("PATCH") << QByteArray("{}") << QList<QByteArray>{"2"};
}

void TestUpstream::contentLengthOnlyWhereItBelongs()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, body);
    QFETCH(QList<QByteArray>, expected);
    ScriptServer server;
    QVERIFY(server.listen());
    server.script = [](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &r) {
        ScriptServer::write(c, r.method == "HEAD" ? QByteArray("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
                                                  : okAnswer());
    };
    Upstream upstream;
    const Outcome out = run(upstream, makeRequest(server.url("/x"), method, body));
    QVERIFY2(!out.error, qPrintable(out.error.message));
    QCOMPARE(server.received.size(), 1);
    QCOMPARE(server.received[0].values("Content-Length"), expected);
    QCOMPARE(server.received[0].body, body);
}

// ---------------------------------------------------------------- answers

void TestUpstream::chunkedBodyIsDechunked()
{
    ScriptServer server;
    QVERIFY(server.listen());
    server.script = [](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &r) {
        if (r.target == "/chunked")
            ScriptServer::write(c, "HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\nX-B: 2\r\n\r\n"
                                   "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n");
        else
            ScriptServer::write(c, okAnswer());
    };
    Upstream upstream;
    const Outcome out = run(upstream, makeRequest(server.url("/chunked")));
    QVERIFY2(!out.error, qPrintable(out.error.message));
    QCOMPARE(out.response.status, 200);
    QCOMPARE(out.response.reason, QByteArray("OK"));
    QCOMPARE(out.response.body, QByteArray("hello, world"));
    QVERIFY(!out.response.headers.contains("Transfer-Encoding"));
    QCOMPARE(out.response.headers.value("X-A"), QByteArray("1"));
    QCOMPARE(out.response.headers.value("X-B"), QByteArray("2"));
    // The chunked answer ended cleanly: the connection is reused.
    const Outcome next = run(upstream, makeRequest(server.url("/next")));
    QCOMPARE(next.response.body, QByteArray("ok"));
    QCOMPARE(server.accepted, 1);
}

void TestUpstream::answerArrivingInPiecesIsReassembled()
{
    ScriptServer server;
    QVERIFY(server.listen());
    const QByteArray answer = "HTTP/1.1 200 Fine Thanks\r\nContent-Type: application/json\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n"
                              "3\r\n{\"a\r\n"
                              "B\r\n\": [1, 2, 3\r\n"
                              "1\r\n]\r\n"
                              "1\r\n}\r\n"
                              "0\r\n\r\n";
    server.script = [&](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &) {
        // A few bytes at a time, from the event loop.
        auto *timer = new QTimer(&server);
        auto offset = std::make_shared<qsizetype>(0);
        QPointer<QTcpSocket> socket = c.socket;
        QObject::connect(timer, &QTimer::timeout, timer, [=] {
            if (!socket || *offset >= answer.size()) {
                timer->deleteLater();
                return;
            }
            socket->write(answer.mid(*offset, 7));
            socket->flush();
            *offset += 7;
        });
        timer->start(2);
    };
    Upstream upstream;
    const Outcome out = run(upstream, makeRequest(server.url("/slow")));
    QVERIFY2(!out.error, qPrintable(out.error.message));
    QCOMPARE(out.response.status, 200);
    QCOMPARE(out.response.reason, QByteArray("Fine Thanks"));
    QCOMPARE(out.response.body, QByteArray("{\"a\": [1, 2, 3]}"));
    QCOMPARE(out.response.headers.value("content-type"), QByteArray("application/json"));
}

void TestUpstream::closeDelimitedBodyIsRead_data()
{
    QTest::addColumn<QByteArray>("head");
    QTest::newRow("HTTP/1.1, Connection: close") << QByteArray("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    QTest::newRow("HTTP/1.0") << QByteArray("HTTP/1.0 200 OK\r\nX-Old: yes\r\n\r\n");
}

void TestUpstream::closeDelimitedBodyIsRead()
{
    QFETCH(QByteArray, head);
    ScriptServer server;
    QVERIFY(server.listen());
    const QByteArray body(100'000, 'b');
    server.script = [&](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &r) {
        if (r.target == "/eof") {
            ScriptServer::write(c, head + body.left(1000));
            QTimer::singleShot(20, c.socket.data(), [&c, &body] {
                ScriptServer::write(c, body.mid(1000));
                c.socket->disconnectFromHost();
            });
        } else {
            ScriptServer::write(c, okAnswer());
        }
    };
    Upstream upstream;
    const Outcome out = run(upstream, makeRequest(server.url("/eof")));
    QVERIFY2(!out.error, qPrintable(out.error.message));
    QCOMPARE(out.response.status, 200);
    QCOMPARE(out.response.body.size(), body.size());
    QCOMPARE(out.response.body, body);
    // That connection is over; the next request opens another.
    const Outcome next = run(upstream, makeRequest(server.url("/next")));
    QCOMPARE(next.response.body, QByteArray("ok"));
    QCOMPARE(server.accepted, 2);
}

void TestUpstream::headAnswerHasNoBody()
{
    ScriptServer server;
    QVERIFY(server.listen());
    server.script = [](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &r) {
        if (r.method == "HEAD")
            ScriptServer::write(c, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/html\r\n\r\n");
        else
            ScriptServer::write(c, okAnswer("after"));
    };
    Upstream upstream;
    const Outcome out = run(upstream, makeRequest(server.url("/page"), "HEAD"), 3000);
    QVERIFY2(!out.error, qPrintable(out.error.message));
    QCOMPARE(out.response.status, 200);
    QVERIFY(out.response.body.isEmpty());
    QCOMPARE(out.response.headers.value("Content-Length"), QByteArray("1234"));
    QVERIFY(out.elapsedMs < 1000);
    // Framing was right: the next answer on the same connection is whole.
    const Outcome next = run(upstream, makeRequest(server.url("/next")));
    QCOMPARE(next.response.body, QByteArray("after"));
    QCOMPARE(server.accepted, 1);

    // And against the fake upstream.
    FakeReddit fake;
    QVERIFY(fake.listen());
    const Outcome fakeHead = run(upstream, makeRequest(fake.url("/r/python/hot.json"), "HEAD"));
    QVERIFY2(!fakeHead.error, qPrintable(fakeHead.error.message));
    QCOMPARE(fakeHead.response.status, 200);
    QVERIFY(fakeHead.response.body.isEmpty());
    QCOMPARE(fake.requestCount(), 1);
}

void TestUpstream::bodilessStatusesHaveNoBody_data()
{
    QTest::addColumn<QByteArray>("answer");
    QTest::addColumn<int>("status");
    QTest::newRow("204") << QByteArray("HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n") << 204;
    QTest::newRow("304") << QByteArray("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n") << 304;
    // Content-Length on a 304 is the size of what the client already has.
    QTest::newRow("304 with length") << QByteArray("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n") << 304;
}

void TestUpstream::bodilessStatusesHaveNoBody()
{
    QFETCH(QByteArray, answer);
    QFETCH(int, status);
    ScriptServer server;
    QVERIFY(server.listen());
    server.script = [&](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &r) {
        ScriptServer::write(c, r.target == "/first" ? answer : okAnswer("second"));
    };
    Upstream upstream;
    const Outcome out = run(upstream, makeRequest(server.url("/first")), 3000);
    QVERIFY2(!out.error, qPrintable(out.error.message));
    QCOMPARE(out.response.status, status);
    QVERIFY(out.response.body.isEmpty());
    const Outcome next = run(upstream, makeRequest(server.url("/second")));
    QCOMPARE(next.response.body, QByteArray("second"));
    QCOMPARE(server.accepted, 1);
}

void TestUpstream::interimAnswersAreSkipped()
{
    ScriptServer server;
    QVERIFY(server.listen());
    server.script = [](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &) {
        ScriptServer::write(c, "HTTP/1.1 100 Continue\r\n\r\n"
                               "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                               "HTTP/1.1 201 Created\r\nLocation: /new\r\nContent-Length: 7\r\n\r\ncreated");
    };
    Upstream upstream;
    const Outcome out = run(upstream, makeRequest(server.url("/make"), "POST", "x=1"));
    QVERIFY2(!out.error, qPrintable(out.error.message));
    QCOMPARE(out.response.status, 201);
    QCOMPARE(out.response.reason, QByteArray("Created"));
    QCOMPARE(out.response.body, QByteArray("created"));
    QVERIFY(!out.response.headers.contains("Link"));
    QCOMPARE(out.response.headers.value("Location"), QByteArray("/new"));
    QCOMPARE(out.response.headers.size(), 2);
}

void TestUpstream::redirectIsNotFollowed()
{
    FakeReddit fake;
    QVERIFY(fake.listen());
    Upstream upstream;
    const Outcome out = run(upstream, makeRequest(fake.url("/redirect")));
    QVERIFY2(!out.error, qPrintable(out.error.message));
    QCOMPARE(out.response.status, 302);
    QVERIFY(out.response.headers.value("Location").contains("/r/redirected/hot.json"));
    QTest::qWait(50);
    QCOMPARE(fake.requestCount(), 1);
    QCOMPARE(fake.pathCount("/r/redirected/hot.json"), 0);
}

void TestUpstream::duplicateHeadersAreKeptInOrder()
{
    ScriptServer server;
    QVERIFY(server.listen());
    server.script = [](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &) {
        ScriptServer::write(c, "HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nX-B:  2 \r\n"
                               "Set-Cookie: b=2\r\nset-cookie: c=3\r\nContent-Length: 0\r\n\r\n");
    };
    Upstream upstream;
    const Outcome out = run(upstream, makeRequest(server.url("/cookies")));
    QVERIFY2(!out.error, qPrintable(out.error.message));
    const QList<HttpHeaders::Field> expected{{"Set-Cookie", "a=1; Path=/"}, {"X-B", "2"},
                                             {"Set-Cookie", "b=2"}, {"set-cookie", "c=3"},
                                             {"Content-Length", "0"}};
    QCOMPARE(out.response.headers.fields(), expected);
    QCOMPARE(out.response.headers.values("set-cookie").size(), 3);
}

void TestUpstream::unsolicitedBytesAfterAnAnswerRetireTheConnection()
{
    ScriptServer server;
    QVERIFY(server.listen());
    server.script = [](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &r) {
        if (r.target == "/double")
            ScriptServer::write(c, okAnswer("one") + okAnswer("two")); // an answer nobody asked for
        else
            ScriptServer::write(c, okAnswer("fresh"));
    };
    Upstream upstream;
    const Outcome out = run(upstream, makeRequest(server.url("/double")));
    QCOMPARE(out.response.body, QByteArray("one"));
    // "two" must never pass as the answer to the next request.
    const Outcome next = run(upstream, makeRequest(server.url("/next")));
    QCOMPARE(next.response.body, QByteArray("fresh"));
    QCOMPARE(server.accepted, 2);
}

// ---------------------------------------------------------------- failures

void TestUpstream::faultsGiveDistinctErrorsAndOneArrival_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("fault");
    QTest::addColumn<Error::Kind>("kind");
    QTest::addColumn<QString>("message"); // part of the error message

    for (const QByteArray method : {"GET", "POST"}) {
        const char *m = method.constData();
        QTest::addRow("%s drop", m) << method << "drop" << Error::Kind::ConnectionFailed << "without answering";
        QTest::addRow("%s garbage", m) << method << "garbage" << Error::Kind::BadResponse << "invalid answer";
        QTest::addRow("%s partial", m) << method << "partial" << Error::Kind::ConnectionFailed << "mid-answer";
        QTest::addRow("%s hang", m) << method << "hang" << Error::Kind::Timeout << "within";
        QTest::addRow("%s 500", m) << method << "500" << Error::Kind::None << QString();
    }
}

void TestUpstream::faultsGiveDistinctErrorsAndOneArrival()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, fault);
    QFETCH(Error::Kind, kind);
    QFETCH(QString, message);

    FakeReddit fake;
    QVERIFY(fake.listen());
    Upstream upstream;
    upstream.setTimeout(1.0);
    // On a warm keep-alive connection: the case a client is most tempted to paper over.
    const Outcome warm = run(upstream, makeRequest(fake.url("/r/warm/hot.json")));
    QCOMPARE(warm.response.status, 200);

    const QString target = "/r/faulty/hot.json?__fault=" + fault;
    const Outcome out = run(upstream, makeRequest(fake.url(target), method, method == "POST" ? "a=1" : ""));
    QCOMPARE(out.calls, 1);
    QCOMPARE(out.error.kind, kind);
    if (kind == Error::Kind::None) {
        QCOMPARE(out.response.status, 500);
    } else {
        QVERIFY2(out.error.message.contains(message), qPrintable(out.error.message));
        QCOMPARE(out.response.status, 0);
        QVERIFY(out.response.body.isEmpty());
    }
    if (kind == Error::Kind::Timeout)
        QVERIFY2(out.elapsedMs >= 990, qPrintable(QString::number(out.elapsedMs)));

    // Exactly one arrival, and none later either.
    QTest::qWait(200);
    QCOMPARE(fake.targetCount(target.toUtf8()), 1);
    QCOMPARE(out.calls, 1);
    QCOMPARE(upstream.inFlight(), 0);

    // Upstream keeps working.
    const Outcome after = run(upstream, makeRequest(fake.url("/r/after/hot.json")));
    QVERIFY2(!after.error, qPrintable(after.error.message));
    QCOMPARE(after.response.status, 200);
}

void TestUpstream::truncatedChunkedAnswerIsConnectionFailed()
{
    ScriptServer server;
    QVERIFY(server.listen());
    server.script = [](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &) {
        ScriptServer::write(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
        ScriptServer::close(c);
    };
    Upstream upstream;
    const Outcome out = run(upstream, makeRequest(server.url("/cut")));
    QCOMPARE(out.error.kind, Error::Kind::ConnectionFailed);
    QCOMPARE(out.error.message, QStringLiteral("upstream closed the connection mid-answer"));
    QVERIFY(out.response.body.isEmpty());
    QTest::qWait(100);
    QCOMPARE(server.received.size(), 1);
}

void TestUpstream::connectionRefusedIsConnectionFailed()
{
    const quint16 port = prawmp::test::freeLoopbackPort();
    Upstream upstream;
    const Outcome out = run(upstream, makeRequest(QUrl(QStringLiteral("http://127.0.0.1:%1/x").arg(port))));
    QCOMPARE(out.error.kind, Error::Kind::ConnectionFailed);
    QVERIFY2(out.error.message.contains("unreachable"), qPrintable(out.error.message));
    QCOMPARE(out.error.httpStatus(), 502);
    QCOMPARE(upstream.inFlight(), 0);
    QCOMPARE(upstream.connectionCount(), 0);
}

void TestUpstream::unsupportedUrlFailsAsynchronously()
{
    Upstream upstream;
    for (const QString url : {QStringLiteral("ftp://example.org/x"), QStringLiteral("/relative"), QString()}) {
        auto out = sendTracked(upstream, makeRequest(QUrl(url)));
        QCOMPARE(out->calls, 0); // never from inside send()
        QTRY_COMPARE(out->calls, 1);
        QCOMPARE(out->error.kind, Error::Kind::ConnectionFailed);
    }
    QCOMPARE(upstream.inFlight(), 0);
}

void TestUpstream::staleIdleConnectionIsReplaced_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<bool>("eventsBetween"); // did the event loop see the close?
    for (const QByteArray method : {"GET", "POST"}) {
        QTest::addRow("%s, close unseen", method.constData()) << method << false;
        QTest::addRow("%s, close seen", method.constData()) << method << true;
    }
}

void TestUpstream::staleIdleConnectionIsReplaced()
{
    QFETCH(QByteArray, method);
    QFETCH(bool, eventsBetween);
    ScriptServer server;
    QVERIFY(server.listen());
    Upstream upstream;
    const Outcome warm = run(upstream, makeRequest(server.url("/warm")));
    QCOMPARE(warm.response.status, 200);
    QCOMPARE(upstream.connectionCount(), 1);

    // The server times the idle connection out (FIN).
    ScriptServer::close(server.conn(1));
    if (eventsBetween)
        QTRY_COMPARE(upstream.connectionCount(), 0);
    else
        QThread::msleep(20); // the FIN reaches our kernel, not our event loop

    const Outcome out = run(upstream, makeRequest(server.url("/next"), method, method == "POST" ? "a=1" : ""));
    QVERIFY2(!out.error, qPrintable(out.error.message));
    QCOMPARE(out.response.status, 200);
    QCOMPARE(server.accepted, 2);
    QCOMPARE(server.received.size(), 2);      // the request arrived once
    QCOMPARE(server.received[1].connection, 2);
    QCOMPARE(server.resets, 0);
}

void TestUpstream::resetReusedConnectionRetriesGetOnce()
{
    ScriptServer server;
    QVERIFY(server.listen());
    // The first connection resets its second request unread (a server that
    // had just closed it); fresh connections work.
    server.resetIf = [](const ScriptServer::Conn &c) { return c.index == 1 && c.requests == 1; };
    Upstream upstream;
    QCOMPARE(run(upstream, makeRequest(server.url("/warm"))).response.status, 200);

    const Outcome out = run(upstream, makeRequest(server.url("/again")));
    QVERIFY2(!out.error, qPrintable(out.error.message));
    QCOMPARE(out.response.status, 200);
    QCOMPARE(server.resets, 1);
    QCOMPARE(server.accepted, 2);
    QCOMPARE(server.received.size(), 2);   // /again processed once, on the fresh connection
    QCOMPARE(server.received[1].target, QByteArray("/again"));
    QCOMPARE(server.received[1].connection, 2);

    // HEAD is retried the same way.
    server.resetIf = [](const ScriptServer::Conn &c) { return c.index == 2 && c.requests == 1; };
    server.script = [](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &) {
        ScriptServer::write(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
    };
    const Outcome head = run(upstream, makeRequest(server.url("/head"), "HEAD"));
    QVERIFY2(!head.error, qPrintable(head.error.message));
    QCOMPARE(server.resets, 2);
    QCOMPARE(server.received.size(), 3);
}

void TestUpstream::resetReusedConnectionNeverResendsPost()
{
    ScriptServer server;
    QVERIFY(server.listen());
    server.resetIf = [](const ScriptServer::Conn &c) { return c.index == 1 && c.requests == 1; };
    Upstream upstream;
    QCOMPARE(run(upstream, makeRequest(server.url("/warm"))).response.status, 200);

    const Outcome out = run(upstream, makeRequest(server.url("/api/comment"), "POST", "text=hi"));
    QCOMPARE(out.error.kind, Error::Kind::ConnectionFailed);
    QVERIFY2(out.error.message.contains("not resent"), qPrintable(out.error.message));
    QTest::qWait(200);
    QCOMPARE(server.resets, 1);
    QCOMPARE(server.accepted, 1);          // no second connection was opened for it
    QCOMPARE(server.received.size(), 1);   // only /warm
    // The next request goes on a fresh connection.
    QCOMPARE(run(upstream, makeRequest(server.url("/after"))).response.status, 200);
    QCOMPARE(server.accepted, 2);
}

void TestUpstream::retryHappensAtMostOnce()
{
    ScriptServer server;
    QVERIFY(server.listen());
    // Every request after the first is reset, on any connection.
    server.resetIf = [&server](const ScriptServer::Conn &) { return server.received.size() >= 1; };
    Upstream upstream;
    QCOMPARE(run(upstream, makeRequest(server.url("/warm"))).response.status, 200);
    const Outcome out = run(upstream, makeRequest(server.url("/again")));
    QCOMPARE(out.error.kind, Error::Kind::ConnectionFailed);
    QTest::qWait(200);
    QCOMPARE(server.resets, 2);            // the reused connection, then the one fresh retry
    QCOMPARE(server.accepted, 2);
}

void TestUpstream::resetFreshConnectionIsNotRetried()
{
    ScriptServer server;
    QVERIFY(server.listen());
    server.resetIf = [](const ScriptServer::Conn &) { return true; };
    Upstream upstream;
    const Outcome out = run(upstream, makeRequest(server.url("/x")));
    QCOMPARE(out.error.kind, Error::Kind::ConnectionFailed);
    QTest::qWait(200);
    QCOMPARE(server.resets, 1);
    QCOMPARE(server.accepted, 1);
}

void TestUpstream::timeoutClosesTheConnection()
{
    ScriptServer server;
    QVERIFY(server.listen());
    server.script = [](ScriptServer &, ScriptServer::Conn &, const ScriptServer::Received &) {};
    Upstream upstream;
    upstream.setTimeout(0.3);
    const Outcome out = run(upstream, makeRequest(server.url("/never")));
    QCOMPARE(out.error.kind, Error::Kind::Timeout);
    QCOMPARE(out.error.httpStatus(), 504);
    QVERIFY2(out.elapsedMs >= 295 && out.elapsedMs < 2000, qPrintable(QString::number(out.elapsedMs)));
    QTRY_COMPARE(server.openConnections(), 0);
    QCOMPARE(upstream.connectionCount(), 0);
    QCOMPARE(upstream.inFlight(), 0);
    QCOMPARE(server.received.size(), 1);
}

void TestUpstream::abortClosesTheConnectionWithoutCallback()
{
    ScriptServer server;
    QVERIFY(server.listen());
    server.script = [](ScriptServer &, ScriptServer::Conn &, const ScriptServer::Received &) {};
    Upstream upstream;
    upstream.setTimeout(0.5);
    quint64 id = 0;
    auto out = sendTracked(upstream, makeRequest(server.url("/slow")), &id);
    QTRY_COMPARE(server.received.size(), 1);
    QCOMPARE(upstream.inFlight(), 1);
    upstream.abort(id);
    QCOMPARE(upstream.inFlight(), 0);
    QCOMPARE(upstream.connectionCount(), 0);
    QTRY_COMPARE(server.openConnections(), 0);
    QTest::qWait(700); // past the timeout too
    QCOMPARE(out->calls, 0);
    upstream.abort(id); // twice: harmless
}

void TestUpstream::abortOfQueuedRequestNeverSendsIt()
{
    ScriptServer server;
    QVERIFY(server.listen());
    QPointer<QTcpSocket> first;
    server.script = [&](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &r) {
        if (r.target == "/first")
            first = c.socket; // answered later
        else
            ScriptServer::write(c, okAnswer());
    };
    Upstream upstream;
    upstream.setMaxConnectionsPerOrigin(1);
    auto a = sendTracked(upstream, makeRequest(server.url("/first")));
    quint64 queuedId = 0;
    auto b = sendTracked(upstream, makeRequest(server.url("/queued")), &queuedId);
    auto c = sendTracked(upstream, makeRequest(server.url("/third")));
    QTRY_VERIFY(first);
    upstream.abort(queuedId);
    first->write(okAnswer());
    QTRY_COMPARE(a->calls, 1);
    QTRY_COMPARE(c->calls, 1);
    QTest::qWait(50);
    QCOMPARE(b->calls, 0);
    QCOMPARE(server.received.size(), 2);
    QCOMPARE(server.received[1].target, QByteArray("/third"));
    QCOMPARE(server.accepted, 1);
}

void TestUpstream::destroyingUpstreamMidRequestIsQuiet()
{
    ScriptServer server;
    QVERIFY(server.listen());
    server.script = [](ScriptServer &, ScriptServer::Conn &, const ScriptServer::Received &) {};
    std::shared_ptr<Outcome> out;
    {
        Upstream upstream;
        out = sendTracked(upstream, makeRequest(server.url("/slow")));
        sendTracked(upstream, makeRequest(QUrl("ftp://x/"))); // a failure still posted
        QTRY_COMPARE(server.received.size(), 1);
    }
    QTRY_COMPARE(server.openConnections(), 0);
    QTest::qWait(50);
    QCOMPARE(out->calls, 0);
}

void TestUpstream::callbackMayDestroyTheUpstream_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<Error::Kind>("kind");
    QTest::newRow("answered") << "/ok" << Error::Kind::None;
    QTest::newRow("closed mid-answer") << "/cut" << Error::Kind::ConnectionFailed;
    QTest::newRow("timed out") << "/hang" << Error::Kind::Timeout;
}

void TestUpstream::callbackMayDestroyTheUpstream()
{
    QFETCH(QString, path);
    QFETCH(Error::Kind, kind);
    ScriptServer server;
    QVERIFY(server.listen());
    server.script = [](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &r) {
        if (r.target == "/ok") {
            ScriptServer::write(c, okAnswer());
        } else if (r.target == "/cut") {
            ScriptServer::write(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf");
            ScriptServer::close(c);
        }
    };
    auto *upstream = new Upstream;
    upstream->setTimeout(0.3);
    upstream->preconnect(server.url("/")); // an idle connection in the pool too
    upstream->preconnect(QUrl("http://127.0.0.1:1/"));
    int calls = 0;
    Error::Kind seen = Error::Kind::Canceled;
    upstream->send(makeRequest(server.url(path)), [&](const Response &, const Error &e) {
        ++calls;
        seen = e.kind;
        delete upstream;
        upstream = nullptr;
    });
    QTRY_COMPARE(calls, 1);
    QCOMPARE(seen, kind);
    QTest::qWait(50);
    QCOMPARE(calls, 1);
    QTRY_COMPARE(server.openConnections(), 0);
}

void TestUpstream::callbackMaySendAgain()
{
    FakeReddit fake;
    QVERIFY(fake.listen());
    Upstream upstream;
    int answers = 0;
    std::function<void(const Response &, const Error &)> next;
    next = [&](const Response &r, const Error &e) {
        QVERIFY(!e);
        QCOMPARE(r.status, 200);
        if (++answers < 5)
            upstream.send(makeRequest(fake.url(QStringLiteral("/r/chain%1/hot.json").arg(answers))), next);
    };
    upstream.send(makeRequest(fake.url("/r/chain0/hot.json")), next);
    QTRY_COMPARE(answers, 5);
    QCOMPARE(fake.requestCount(), 5);
    const QList<quint64> ids = connectionIds(fake);
    QCOMPARE(QSet<quint64>(ids.begin(), ids.end()).size(), 1);
}

// ---------------------------------------------------------------- TLS

void TestUpstream::httpsWithUntrustedCertificateFails()
{
    if (!QSslSocket::supportsSsl())
        QSKIP("no TLS backend");
    ScriptServer server(true);
    QVERIFY(server.listen());
    Upstream upstream; // the system's CAs: a self-signed certificate is refused
    const Outcome out = run(upstream, makeRequest(server.url("/secret")));
    QCOMPARE(out.error.kind, Error::Kind::ConnectionFailed);
    QVERIFY2(out.error.message.contains("self signed", Qt::CaseInsensitive)
                 || out.error.message.contains("self-signed", Qt::CaseInsensitive)
                 || out.error.message.contains("certificate", Qt::CaseInsensitive),
             qPrintable(out.error.message));
    QTest::qWait(50);
    QCOMPARE(server.received.size(), 0);
}

void TestUpstream::httpsWithTrustedCertificateKeepsAlive()
{
    if (!QSslSocket::supportsSsl())
        QSKIP("no TLS backend");
    ScriptServer server(true);
    QVERIFY(server.listen());
    server.script = [](ScriptServer &, ScriptServer::Conn &c, const ScriptServer::Received &r) {
        ScriptServer::write(c, okAnswer("secret " + r.target));
    };
    Upstream upstream;
    QSslConfiguration config = QSslConfiguration::defaultConfiguration();
    config.addCaCertificate(QSslCertificate(QByteArray(kCertPem)));
    upstream.setSslConfiguration(config);

    upstream.preconnect(server.url("/"));
    QTRY_COMPARE(server.accepted, 1);
    for (int i = 0; i < 3; ++i) {
        const Outcome out = run(upstream, makeRequest(server.url(QStringLiteral("/s%1").arg(i))));
        QVERIFY2(!out.error, qPrintable(out.error.message));
        QCOMPARE(out.response.body, "secret /s" + QByteArray::number(i));
    }
    QCOMPARE(server.accepted, 1);
    QCOMPARE(server.received.at(0).values("Host"),
             QList<QByteArray>{"127.0.0.1:" + QByteArray::number(server.port())});

    // A stale TLS connection is replaced as a plain one is.
    ScriptServer::close(server.conn(1));
    QThread::msleep(20);
    const Outcome out = run(upstream, makeRequest(server.url("/after")));
    QVERIFY2(!out.error, qPrintable(out.error.message));
    QCOMPARE(server.accepted, 2);
    QCOMPARE(server.received.size(), 4);
}

QTEST_GUILESS_MAIN(TestUpstream)
#include "tst_upstream.moc"
