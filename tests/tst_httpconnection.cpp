// needs: prawmp_server
#include "HttpConnection.h"
#include "prawmp/JsonResponses.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <memory>

using namespace prawmp;

namespace {

HttpLimits testLimits()
{
    HttpLimits limits;
    limits.maxHeaderBytes = 2048;
    limits.maxBodyBytes = 2 * 1024 * 1024;
    limits.headerTimeoutMs = 5000;
    limits.idleTimeoutMs = 10000;
    return limits;
}

Response echo(const IncomingRequest &request)
{
    QJsonObject o{
        {QStringLiteral("method"), QString::fromLatin1(request.method)},
        {QStringLiteral("target"), QString::fromLatin1(request.target)},
        {QStringLiteral("bodyLength"), double(request.body.size())},
        {QStringLiteral("seq"), double(request.sequence)},
        {QStringLiteral("keepAlive"), request.keepAlive},
        {QStringLiteral("versionMinor"), request.versionMinor},
        {QStringLiteral("contentType"), QString::fromLatin1(request.headers.value("Content-Type"))},
        {QStringLiteral("xTest"), QString::fromLatin1(request.headers.value("X-Test"))},
    };
    if (request.body.size() <= 64)
        o.insert(QStringLiteral("body"), QString::fromLatin1(request.body));
    Response response = jsonResponse(200, o);
    response.headers.add("X-Seq", QByteArray::number(request.sequence));
    return response;
}

// A QTcpServer that wraps each socket in an HttpConnection and answers
// with echo(), except for a few targets that exercise the API:
//   /hold...    kept until answerHeld() (to answer late or out of order)
//   /stream     a Server-Sent Events stream
//   /framing    an answer with hostile framing headers
//   /close      close() from inside requestReceived
//   /delete     delete from inside requestReceived
class TestServer : public QObject
{
public:
    struct Held
    {
        QPointer<HttpConnection> connection;
        IncomingRequest request;
    };

    explicit TestServer(const HttpLimits &limits = testLimits())
        : limits(limits)
    {
        connect(&server, &QTcpServer::newConnection, this, [this] { accept(); });
        listening = server.listen(QHostAddress::LocalHost, 0);
    }

    quint16 port() const { return server.serverPort(); }

    void answerHeld(bool reverse)
    {
        QList<Held> list = std::exchange(held, {});
        if (reverse)
            std::reverse(list.begin(), list.end());
        for (const Held &h : list) {
            if (h.connection)
                h.connection->respond(h.request.sequence, echo(h.request));
        }
    }

    HttpLimits limits;
    QTcpServer server;
    bool listening = false;
    bool deleteOnClose = true;
    std::optional<Response> rejectWith;
    QList<QPointer<HttpConnection>> connections;
    QList<IncomingRequest> requests;
    QList<Held> held;
    int closedCount = 0;
    QPointer<HttpConnection> streamConnection;
    quint64 streamSequence = 0;

private:
    void accept()
    {
        while (QTcpSocket *socket = server.nextPendingConnection()) {
            auto *connection = new HttpConnection(socket, limits, this);
            connections.append(connection);
            connect(connection, &HttpConnection::requestReceived, this,
                    [this, connection](const IncomingRequest &request) { handle(connection, request); });
            connect(connection, &HttpConnection::closed, this, [this, connection] {
                ++closedCount;
                if (deleteOnClose)
                    connection->deleteLater();
            });
            if (rejectWith)
                connection->rejectAndClose(*rejectWith);
        }
    }

    void handle(HttpConnection *connection, const IncomingRequest &request)
    {
        requests.append(request);
        if (request.target.startsWith("/hold")) {
            held.append({connection, request});
        } else if (request.target == "/stream") {
            Response head;
            head.status = 200;
            head.headers.add("Content-Type", "text/event-stream");
            connection->startStream(request.sequence, head);
            connection->writeStreamData(request.sequence, "data: one\n\n");
            streamConnection = connection;
            streamSequence = request.sequence;
        } else if (request.target == "/framing") {
            Response response;
            response.status = 200;
            response.headers = {{"Content-Length", "999"},
                                {"Transfer-Encoding", "chunked"},
                                {"Connection", "keep-alive"},
                                {"X-Evil", "a\r\nInjected: yes"},
                                {"X-Fine", "yes"}};
            response.body = "abc";
            connection->respond(request.sequence, response);
        } else if (request.target == "/close") {
            connection->close();
        } else if (request.target == "/delete") {
            connections.removeAll(connection);
            delete connection;
        } else {
            connection->respond(request.sequence, echo(request));
        }
    }
};

struct Reply
{
    int status = 0;
    QByteArray reason;
    QList<QPair<QByteArray, QByteArray>> fields;
    QByteArray body;

    QByteArray header(QByteArrayView name) const
    {
        for (const auto &f : fields) {
            if (f.first.compare(name, Qt::CaseInsensitive) == 0)
                return f.second;
        }
        return {};
    }
    bool has(QByteArrayView name) const
    {
        return std::any_of(fields.begin(), fields.end(), [&](const auto &f) {
            return f.first.compare(name, Qt::CaseInsensitive) == 0;
        });
    }
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
    QString error() const { return json().value(QStringLiteral("error")).toString(); }
    QString target() const { return json().value(QStringLiteral("target")).toString(); }
};

// A raw HTTP/1.1 client: bytes in, Content-Length framed answers out.
class RawClient
{
public:
    explicit RawClient(quint16 port)
    {
        QObject::connect(&socket, &QIODevice::readyRead, [this] {
            const QByteArray data = socket.readAll();
            raw += data;
            buffer += data;
            parse();
        });
        socket.connectToHost(QHostAddress::LocalHost, port);
        // The kernel completes the handshake (listen backlog) without the
        // server's event loop, so this does not dead-lock the single thread.
        socket.waitForConnected(5000);
    }

    bool isConnected() const { return socket.state() == QAbstractSocket::ConnectedState; }
    bool isClosed() const { return socket.state() == QAbstractSocket::UnconnectedState; }
    void send(const QByteArray &bytes)
    {
        socket.write(bytes);
        socket.flush();
    }

    QTcpSocket socket;
    QByteArray raw;     // everything received
    QByteArray buffer;  // not yet parsed
    QList<Reply> replies;
    int headsExpected = 0; // the next N final answers answer HEAD requests

private:
    void parse()
    {
        for (;;) {
            const qsizetype end = buffer.indexOf("\r\n\r\n");
            if (end < 0)
                return;
            Reply reply;
            const QList<QByteArray> lines = buffer.left(end).split('\n');
            const QList<QByteArray> statusLine = lines.first().trimmed().split(' ');
            if (statusLine.size() < 2)
                return;
            reply.status = statusLine.at(1).toInt();
            const QByteArray first = lines.first().trimmed();
            const qsizetype reasonAt = first.indexOf(' ', first.indexOf(' ') + 1);
            reply.reason = reasonAt > 0 ? first.mid(reasonAt + 1) : QByteArray();
            for (qsizetype i = 1; i < lines.size(); ++i) {
                const QByteArray line = lines.at(i).trimmed();
                const qsizetype colon = line.indexOf(':');
                if (colon > 0)
                    reply.fields.append({line.left(colon), line.mid(colon + 1).trimmed()});
            }
            qsizetype bodyLength = 0;
            const bool interim = reply.status < 200;
            const bool bodyless = interim || reply.status == 204 || reply.status == 304
                                  || headsExpected > 0;
            if (!bodyless) {
                if (!reply.has("Content-Length"))
                    return; // chunked or until close: read from `raw`
                bodyLength = reply.header("Content-Length").toLongLong();
            }
            if (buffer.size() < end + 4 + bodyLength)
                return;
            if (!interim && headsExpected > 0)
                --headsExpected;
            reply.body = buffer.mid(end + 4, bodyLength);
            buffer.remove(0, end + 4 + bodyLength);
            replies.append(reply);
        }
    }
};

QByteArray get(const QByteArray &target, const QByteArray &extra = {})
{
    return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

} // namespace

class TestHttpConnection : public QObject
{
    Q_OBJECT
private slots:
    void keepAliveServesTwoRequests();
    void pipelinedAnswersGoOutInRequestOrder();
    void manyPipelinedRequestsAreAllAnswered();
    void chunkedBodyIsDechunked();
    void bodySplitAcrossWritesIsJoined();
    void largeBodyIsReceivedWhole();
    void requestSentByteByByteIsParsed();
    void expectContinueGetsInterimAnswer();
    void expectContinueWithTooLargeBodyGets413();
    void headAnswerHasLengthButNoBody();
    void http10ClosesUnlessKeepAlive();
    void callerFramingHeadersAreReplaced();
    void smugglingIsRefused_data();
    void smugglingIsRefused();
    void malformedRequestIsRefused_data();
    void malformedRequestIsRefused();
    void oversizedHeaderBlockGets431_data();
    void oversizedHeaderBlockGets431();
    void oversizedBodyGets413_data();
    void oversizedBodyGets413();
    void slowHeadersGet408();
    void silentClientGets408();
    void idleConnectionIsClosedSilently();
    void peerDisconnectEmitsClosedOnce();
    void errorAfterPendingRequestKeepsOrder();
    void badClientDoesNotDisturbOthers();
    void streamIsChunkedAndEndsOnClose();
    void streamWaitsForEarlierAnswers();
    void rejectAndCloseAnswersAndCloses();
    void handlerMayCloseOrDeleteInsideRequestSignal();
    void countersTrackBytes();
};

void TestHttpConnection::keepAliveServesTwoRequests()
{
    TestServer server;
    QVERIFY(server.listening);
    RawClient client(server.port());
    client.send(get("/a", "X-Test: first\r\n"));
    QTRY_COMPARE(client.replies.size(), 1);
    client.send(get("/b"));
    QTRY_COMPARE(client.replies.size(), 2);

    QCOMPARE(client.replies[0].status, 200);
    QCOMPARE(client.replies[0].reason, QByteArray("OK"));
    QCOMPARE(client.replies[0].target(), QStringLiteral("/a"));
    QCOMPARE(client.replies[0].json().value("xTest").toString(), QStringLiteral("first"));
    QCOMPARE(client.replies[0].json().value("method").toString(), QStringLiteral("GET"));
    QCOMPARE(client.replies[1].target(), QStringLiteral("/b"));
    QVERIFY(!client.replies[1].has("Connection"));
    QCOMPARE(server.connections.size(), 1);
    QCOMPARE(server.requests[0].sequence, 1u);
    QCOMPARE(server.requests[1].sequence, 2u);
    QVERIFY(client.isConnected());
    QCOMPARE(server.closedCount, 0);
    QVERIFY(server.connections[0]->isOpen());
}

void TestHttpConnection::pipelinedAnswersGoOutInRequestOrder()
{
    TestServer server;
    RawClient client(server.port());
    client.send(get("/hold/1") + get("/hold/2") + get("/hold/3"));
    QTRY_COMPARE(server.held.size(), 3);
    QVERIFY(client.raw.isEmpty());
    server.answerHeld(/*reverse=*/true);
    QTRY_COMPARE(client.replies.size(), 3);
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(client.replies[i].status, 200);
        QCOMPARE(client.replies[i].target(), QStringLiteral("/hold/%1").arg(i + 1));
        QCOMPARE(client.replies[i].header("X-Seq"), QByteArray::number(i + 1));
    }
    QVERIFY(client.isConnected());
}

void TestHttpConnection::manyPipelinedRequestsAreAllAnswered()
{
    // More than maxPipelinedRequests: the connection pauses reading and resumes.
    HttpLimits limits = testLimits();
    limits.maxPipelinedRequests = 8;
    TestServer server(limits);
    RawClient client(server.port());
    QByteArray burst;
    const int count = 200;
    for (int i = 0; i < count; ++i)
        burst += get("/n/" + QByteArray::number(i));
    client.send(burst);
    QTRY_COMPARE(client.replies.size(), count);
    for (int i = 0; i < count; ++i)
        QCOMPARE(client.replies[i].target(), QStringLiteral("/n/%1").arg(i));
    QVERIFY(client.isConnected());
}

void TestHttpConnection::chunkedBodyIsDechunked()
{
    TestServer server;
    RawClient client(server.port());
    client.send("POST /up HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
                "Content-Type: text/plain\r\n\r\n"
                "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
    QTRY_COMPARE(client.replies.size(), 1);
    const QJsonObject o = client.replies[0].json();
    QCOMPARE(o.value("method").toString(), QStringLiteral("POST"));
    QCOMPARE(o.value("bodyLength").toInt(), 11);
    QCOMPARE(o.value("body").toString(), QStringLiteral("hello world"));
    QCOMPARE(o.value("contentType").toString(), QStringLiteral("text/plain"));
    // Trailer fields are not merged into the header block.
    QVERIFY(!server.requests[0].headers.contains("X-Trailer"));
    // The connection goes on.
    client.send(get("/after"));
    QTRY_COMPARE(client.replies.size(), 2);
    QCOMPARE(client.replies[1].target(), QStringLiteral("/after"));
}

void TestHttpConnection::bodySplitAcrossWritesIsJoined()
{
    TestServer server;
    RawClient client(server.port());
    const QByteArray head = "POST /split HTTP/1.1\r\nHost: test\r\nContent-Length: 11\r\n\r\nhel";
    client.send(head);
    QTRY_COMPARE(server.connections.size(), 1);
    QTRY_COMPARE(server.connections[0]->bytesReceived(), qint64(head.size()));
    QVERIFY(server.requests.isEmpty());
    client.send("lo wo");
    QTRY_COMPARE(server.connections[0]->bytesReceived(), qint64(head.size() + 5));
    QVERIFY(server.requests.isEmpty());
    client.send("rld");
    QTRY_COMPARE(client.replies.size(), 1);
    QCOMPARE(client.replies[0].json().value("body").toString(), QStringLiteral("hello world"));
    QCOMPARE(server.requests[0].body, QByteArray("hello world"));
}

void TestHttpConnection::largeBodyIsReceivedWhole()
{
    TestServer server;
    RawClient client(server.port());
    const int size = 1024 * 1024 + 17;
    QByteArray body(size, 'x');
    for (int i = 0; i < size; i += 4096)
        body[i] = char('a' + (i / 4096) % 26);
    client.send("PUT /big HTTP/1.1\r\nHost: test\r\nContent-Length: " + QByteArray::number(size)
                + "\r\n\r\n");
    for (int i = 0; i < size; i += 64 * 1024)
        client.send(body.mid(i, 64 * 1024));
    QTRY_COMPARE(client.replies.size(), 1);
    QCOMPARE(client.replies[0].json().value("bodyLength").toInt(), size);
    QCOMPARE(server.requests[0].body, body);
}

void TestHttpConnection::requestSentByteByByteIsParsed()
{
    // Every possible split point of URL, field names and values across reads.
    TestServer server;
    RawClient client(server.port());
    const QByteArray request = "POST /by/te?x=1 HTTP/1.1\r\nHost: test\r\nX-Test: split value\r\n"
                               "Content-Type: text/plain\r\nContent-Length: 4\r\n\r\nbody";
    QTRY_COMPARE(server.connections.size(), 1);
    for (qsizetype i = 0; i < request.size(); ++i) {
        client.send(request.mid(i, 1));
        QTRY_COMPARE(server.connections[0]->bytesReceived(), qint64(i + 1));
    }
    QTRY_COMPARE(client.replies.size(), 1);
    const QJsonObject o = client.replies[0].json();
    QCOMPARE(o.value("target").toString(), QStringLiteral("/by/te?x=1"));
    QCOMPARE(o.value("xTest").toString(), QStringLiteral("split value"));
    QCOMPARE(o.value("contentType").toString(), QStringLiteral("text/plain"));
    QCOMPARE(o.value("body").toString(), QStringLiteral("body"));
    QCOMPARE(server.requests[0].headers.size(), 4);
}

void TestHttpConnection::expectContinueGetsInterimAnswer()
{
    TestServer server;
    RawClient client(server.port());
    client.send("POST /exp HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    QTRY_COMPARE(client.replies.size(), 1);
    QCOMPARE(client.replies[0].status, 100);
    QVERIFY(client.raw.startsWith("HTTP/1.1 100 Continue\r\n\r\n"));
    QVERIFY(server.requests.isEmpty());
    client.send("hello");
    QTRY_COMPARE(client.replies.size(), 2);
    QCOMPARE(client.replies[1].status, 200);
    QCOMPARE(client.replies[1].json().value("body").toString(), QStringLiteral("hello"));
}

void TestHttpConnection::expectContinueWithTooLargeBodyGets413()
{
    TestServer server;
    RawClient client(server.port());
    client.send("POST /exp HTTP/1.1\r\nHost: test\r\nContent-Length: 99999999\r\n"
                "Expect: 100-continue\r\n\r\n");
    QTRY_COMPARE(client.replies.size(), 1);
    QCOMPARE(client.replies[0].status, 413);
    QCOMPARE(client.replies[0].error(), QStringLiteral("body_too_large"));
    QCOMPARE(client.replies[0].header("Connection"), QByteArray("close"));
    QVERIFY(!client.raw.contains("100 Continue"));
    QTRY_VERIFY(client.isClosed());
    QTRY_COMPARE(server.closedCount, 1);
    QVERIFY(server.requests.isEmpty());
}

void TestHttpConnection::headAnswerHasLengthButNoBody()
{
    TestServer server;
    RawClient client(server.port());
    client.headsExpected = 1;
    client.send("HEAD /h HTTP/1.1\r\nHost: test\r\n\r\n" + get("/after-head"));
    QTRY_COMPARE(client.replies.size(), 2);
    QCOMPARE(client.replies[0].status, 200);
    QVERIFY(client.replies[0].header("Content-Length").toInt() > 0);
    QVERIFY(client.replies[0].body.isEmpty());
    QCOMPARE(server.requests[0].method, QByteArray("HEAD"));
    // Had body bytes followed the HEAD answer, this one would be garbled.
    QCOMPARE(client.replies[1].status, 200);
    QCOMPARE(client.replies[1].target(), QStringLiteral("/after-head"));
    QVERIFY(client.buffer.isEmpty());
}

void TestHttpConnection::http10ClosesUnlessKeepAlive()
{
    TestServer server;
    {
        RawClient client(server.port());
        client.send("GET /old HTTP/1.0\r\n\r\n");
        QTRY_COMPARE(client.replies.size(), 1);
        QCOMPARE(client.replies[0].header("Connection"), QByteArray("close"));
        QCOMPARE(client.replies[0].json().value("keepAlive").toBool(), false);
        QTRY_VERIFY(client.isClosed());
    }
    {
        RawClient client(server.port());
        client.send("GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        QTRY_COMPARE(client.replies.size(), 1);
        QCOMPARE(client.replies[0].header("Connection"), QByteArray("keep-alive"));
        client.send("GET /ka2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        QTRY_COMPARE(client.replies.size(), 2);
        QVERIFY(client.isConnected());
    }
    {
        RawClient client(server.port());
        client.send(get("/bye", "Connection: close\r\n") + get("/never"));
        QTRY_COMPARE(client.replies.size(), 1);
        QCOMPARE(client.replies[0].header("Connection"), QByteArray("close"));
        QTRY_VERIFY(client.isClosed());
        QCOMPARE(client.replies.size(), 1);
    }
    QTRY_COMPARE(server.closedCount, 3);
    QCOMPARE(server.requests.size(), 4); // "/never" is not read
}

void TestHttpConnection::callerFramingHeadersAreReplaced()
{
    TestServer server;
    RawClient client(server.port());
    client.send(get("/framing") + get("/next"));
    QTRY_COMPARE(client.replies.size(), 2);
    const Reply &r = client.replies[0];
    QCOMPARE(r.header("Content-Length"), QByteArray("3"));
    QCOMPARE(r.body, QByteArray("abc"));
    QVERIFY(!r.has("Transfer-Encoding"));
    QVERIFY(!r.has("Connection"));
    QVERIFY(!r.has("Injected"));
    QVERIFY(!r.has("X-Evil"));
    QCOMPARE(r.header("X-Fine"), QByteArray("yes"));
    QCOMPARE(client.replies[1].target(), QStringLiteral("/next"));
}

void TestHttpConnection::smugglingIsRefused_data()
{
    QTest::addColumn<QByteArray>("request");
    const QByteArray start = "POST /s HTTP/1.1\r\nHost: test\r\n";
    QTest::newRow("content-length then transfer-encoding")
        << start + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    QTest::newRow("transfer-encoding then content-length")
        << start + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n";
    QTest::newRow("two different content-lengths")
        << start + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    QTest::newRow("two identical content-lengths")
        << start + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello";
    QTest::newRow("content-length list") << start + "Content-Length: 5, 5\r\n\r\nhello";
    QTest::newRow("negative content-length") << start + "Content-Length: -1\r\n\r\n";
    QTest::newRow("signed content-length") << start + "Content-Length: +5\r\n\r\nhello";
    QTest::newRow("empty content-length") << start + "Content-Length: \r\n\r\n";
    QTest::newRow("transfer-encoding gzip") << start + "Transfer-Encoding: gzip\r\n\r\n";
    QTest::newRow("transfer-encoding identity") << start + "Transfer-Encoding: identity\r\n\r\n";
    QTest::newRow("transfer-encoding gzip, chunked")
        << start + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n";
    QTest::newRow("transfer-encoding twice")
        << start + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    QTest::newRow("transfer-encoding chunked, chunked")
        << start + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n";
    QTest::newRow("space before colon")
        << start + "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello";
    QTest::newRow("space before colon, alone")
        << start + "Transfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    QTest::newRow("space before name") << start + " Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    QTest::newRow("bad chunk size") << start + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
}

void TestHttpConnection::smugglingIsRefused()
{
    QFETCH(QByteArray, request);
    TestServer server;
    RawClient client(server.port());
    client.send(request + get("/smuggled"));
    QTRY_COMPARE(client.replies.size(), 1);
    QCOMPARE(client.replies[0].status, 400);
    QCOMPARE(client.replies[0].error(), QStringLiteral("bad_request"));
    QVERIFY(!client.replies[0].json().value("message").toString().isEmpty());
    QCOMPARE(client.replies[0].header("Connection"), QByteArray("close"));
    QCOMPARE(client.replies[0].header("Content-Type"), QByteArray("application/json"));
    QTRY_VERIFY(client.isClosed());
    QTRY_COMPARE(server.closedCount, 1);
    QCOMPARE(client.replies.size(), 1);
    QVERIFY(server.requests.isEmpty());
}

void TestHttpConnection::malformedRequestIsRefused_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status");
    QTest::newRow("garbage") << QByteArray("HELLO THERE\r\n\r\n") << 400;
    QTest::newRow("unknown method") << QByteArray("FETCH / HTTP/1.1\r\nHost: t\r\n\r\n") << 400;
    QTest::newRow("no version (HTTP/0.9)") << QByteArray("GET /\r\n\r\n") << 400;
    QTest::newRow("bad version") << QByteArray("GET / HTTP/x.1\r\n\r\n") << 400;
    QTest::newRow("space in target") << QByteArray("GET /a b HTTP/1.1\r\nHost: t\r\n\r\n") << 400;
    QTest::newRow("header without colon") << QByteArray("GET / HTTP/1.1\r\nHost t\r\n\r\n") << 400;
    QTest::newRow("space before colon") << QByteArray("GET / HTTP/1.1\r\nHost : t\r\n\r\n") << 400;
    QTest::newRow("folded line") << QByteArray("GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n") << 400;
    QTest::newRow("bare CR") << QByteArray("GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n") << 400;
    QTest::newRow("control character in value")
        << QByteArray("GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x01z\r\n\r\n") << 400;
    static const char withNul[] = "GET /a\0b HTTP/1.1\r\n\r\n";
    QTest::newRow("nul in target") << QByteArray(withNul, sizeof withNul - 1) << 400;
    QTest::newRow("HTTP/2.0 framing") << QByteArray("GET / HTTP/2.0\r\nHost: t\r\n\r\n") << 505;
}

void TestHttpConnection::malformedRequestIsRefused()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);
    TestServer server;
    RawClient client(server.port());
    client.send(request);
    QTRY_COMPARE(client.replies.size(), 1);
    QCOMPARE(client.replies[0].status, status);
    QVERIFY(!client.replies[0].error().isEmpty());
    QCOMPARE(client.replies[0].header("Connection"), QByteArray("close"));
    QTRY_VERIFY(client.isClosed());
    QTRY_COMPARE(server.closedCount, 1);
    QVERIFY(server.requests.isEmpty());
}

void TestHttpConnection::oversizedHeaderBlockGets431_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::newRow("one long field") << get("/", "X-Big: " + QByteArray(3000, 'a') + "\r\n");
    QByteArray many;
    for (int i = 0; i < 300; ++i)
        many += "X-" + QByteArray::number(i) + ": v\r\n";
    QTest::newRow("many fields") << get("/", many);
    QTest::newRow("long target") << get("/" + QByteArray(3000, 'p'));
    // Never finished: refused as soon as the limit is crossed.
    QTest::newRow("unterminated") << QByteArray("GET / HTTP/1.1\r\nX-Big: " + QByteArray(5000, 'b'));
}

void TestHttpConnection::oversizedHeaderBlockGets431()
{
    QFETCH(QByteArray, request);
    TestServer server; // maxHeaderBytes 2048
    RawClient client(server.port());
    client.send(request);
    QTRY_COMPARE(client.replies.size(), 1);
    QCOMPARE(client.replies[0].status, 431);
    QCOMPARE(client.replies[0].error(), QStringLiteral("headers_too_large"));
    QCOMPARE(client.replies[0].header("Connection"), QByteArray("close"));
    QTRY_VERIFY(client.isClosed());
    QTRY_COMPARE(server.closedCount, 1);
    QVERIFY(server.requests.isEmpty());
}

void TestHttpConnection::oversizedBodyGets413_data()
{
    QTest::addColumn<QByteArray>("request");
    const QByteArray start = "POST /b HTTP/1.1\r\nHost: test\r\n";
    QTest::newRow("content-length") << start + "Content-Length: 1001\r\n\r\n" + QByteArray(1001, 'x');
    QTest::newRow("one big chunk") << start + "Transfer-Encoding: chunked\r\n\r\n3e9\r\n";
    QByteArray chunks;
    for (int i = 0; i < 30; ++i)
        chunks += "40\r\n" + QByteArray(64, 'c') + "\r\n";
    QTest::newRow("many chunks") << start + "Transfer-Encoding: chunked\r\n\r\n" + chunks + "0\r\n\r\n";
}

void TestHttpConnection::oversizedBodyGets413()
{
    QFETCH(QByteArray, request);
    HttpLimits limits = testLimits();
    limits.maxBodyBytes = 1000;
    TestServer server(limits);
    RawClient client(server.port());
    client.send(request);
    QTRY_COMPARE(client.replies.size(), 1);
    QCOMPARE(client.replies[0].status, 413);
    QCOMPARE(client.replies[0].error(), QStringLiteral("body_too_large"));
    QCOMPARE(client.replies[0].header("Connection"), QByteArray("close"));
    QTRY_VERIFY(client.isClosed());
    QTRY_COMPARE(server.closedCount, 1);
    QVERIFY(server.requests.isEmpty());
}

void TestHttpConnection::slowHeadersGet408()
{
    HttpLimits limits = testLimits();
    limits.headerTimeoutMs = 300;
    TestServer server(limits);
    RawClient client(server.port());
    QTRY_VERIFY(client.isConnected());
    QElapsedTimer clock;
    clock.start();
    client.send("GET /slow HTTP/1.1\r\nHost: test\r\n");
    QTRY_COMPARE(client.replies.size(), 1);
    QVERIFY2(clock.elapsed() >= 250, QByteArray::number(clock.elapsed()));
    QCOMPARE(client.replies[0].status, 408);
    QCOMPARE(client.replies[0].error(), QStringLiteral("request_timeout"));
    QCOMPARE(client.replies[0].header("Connection"), QByteArray("close"));
    QTRY_VERIFY(client.isClosed());
    QTRY_COMPARE(server.closedCount, 1);
}

void TestHttpConnection::silentClientGets408()
{
    HttpLimits limits = testLimits();
    limits.headerTimeoutMs = 300;
    TestServer server(limits);
    RawClient client(server.port());
    QTRY_COMPARE(client.replies.size(), 1);
    QCOMPARE(client.replies[0].status, 408);
    QTRY_VERIFY(client.isClosed());
    QTRY_COMPARE(server.closedCount, 1);
}

void TestHttpConnection::idleConnectionIsClosedSilently()
{
    HttpLimits limits = testLimits();
    limits.headerTimeoutMs = 200;
    limits.idleTimeoutMs = 700;
    TestServer server(limits);
    RawClient client(server.port());
    client.send(get("/once"));
    QTRY_COMPARE(client.replies.size(), 1);
    QElapsedTimer clock;
    clock.start();
    // Idle, not reading headers: the header timeout does not apply.
    QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), 5000);
    QVERIFY2(clock.elapsed() >= 550, QByteArray::number(clock.elapsed()));
    QCOMPARE(client.replies.size(), 1);
    QVERIFY(client.buffer.isEmpty());
    QTRY_COMPARE(server.closedCount, 1);
}

void TestHttpConnection::peerDisconnectEmitsClosedOnce()
{
    TestServer server;
    server.deleteOnClose = false;
    {
        RawClient client(server.port());
        client.send(get("/hold/gone"));
        QTRY_COMPARE(server.held.size(), 1);
        client.socket.abort();
    }
    QTRY_COMPARE(server.closedCount, 1);
    HttpConnection *connection = server.connections.value(0);
    QVERIFY(connection);
    QVERIFY(!connection->isOpen());
    const qint64 sent = connection->bytesSent();
    server.answerHeld(false); // respond() after closed(): a no-op
    connection->close();
    connection->startStream(1, Response{200, {}, {}, {}});
    QCoreApplication::processEvents();
    QCOMPARE(server.closedCount, 1);
    QCOMPARE(connection->bytesSent(), sent);
    delete connection;
}

void TestHttpConnection::errorAfterPendingRequestKeepsOrder()
{
    TestServer server;
    RawClient client(server.port());
    client.send(get("/hold/first") + "BROKEN\r\n\r\n");
    QTRY_COMPARE(server.held.size(), 1);
    server.answerHeld(false);
    QTRY_COMPARE(client.replies.size(), 2);
    QCOMPARE(client.replies[0].status, 200);
    QCOMPARE(client.replies[0].target(), QStringLiteral("/hold/first"));
    QVERIFY(!client.replies[0].has("Connection"));
    QCOMPARE(client.replies[1].status, 400);
    QCOMPARE(client.replies[1].header("Connection"), QByteArray("close"));
    QTRY_VERIFY(client.isClosed());
}

void TestHttpConnection::badClientDoesNotDisturbOthers()
{
    HttpLimits limits = testLimits();
    limits.headerTimeoutMs = 400;
    TestServer server(limits);
    RawClient good(server.port());
    good.send(get("/good/1"));
    QTRY_COMPARE(good.replies.size(), 1);

    RawClient garbage(server.port());
    RawClient huge(server.port());
    RawClient slow(server.port());
    RawClient smuggler(server.port());
    garbage.send("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello?\r\n\r\n");
    huge.send(get("/", "X-Big: " + QByteArray(10000, 'h') + "\r\n"));
    slow.send("GET /slow HTTP/1.1\r\n");
    smuggler.send("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");

    good.send(get("/good/2"));
    QTRY_COMPARE(good.replies.size(), 2);
    QTRY_COMPARE(garbage.replies.size(), 1);
    QTRY_COMPARE(huge.replies.size(), 1);
    QTRY_COMPARE(smuggler.replies.size(), 1);
    QTRY_COMPARE(slow.replies.size(), 1);
    QCOMPARE(garbage.replies[0].status, 400);
    QCOMPARE(huge.replies[0].status, 431);
    QCOMPARE(smuggler.replies[0].status, 400);
    QCOMPARE(slow.replies[0].status, 408);
    QTRY_VERIFY(garbage.isClosed() && huge.isClosed() && slow.isClosed() && smuggler.isClosed());

    good.send(get("/good/3"));
    QTRY_COMPARE(good.replies.size(), 3);
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(good.replies[i].status, 200);
        QCOMPARE(good.replies[i].target(), QStringLiteral("/good/%1").arg(i + 1));
    }
    QVERIFY(good.isConnected());
    QTRY_COMPARE(server.closedCount, 4);
}

void TestHttpConnection::streamIsChunkedAndEndsOnClose()
{
    TestServer server;
    RawClient client(server.port());
    client.send(get("/stream") + get("/after-stream"));
    QTRY_VERIFY(client.raw.contains("b\r\ndata: one\n\n\r\n"));
    QVERIFY(client.raw.startsWith("HTTP/1.1 200 OK\r\n"));
    QVERIFY(client.raw.contains("Transfer-Encoding: chunked\r\n"));
    QVERIFY(client.raw.contains("Content-Type: text/event-stream\r\n"));
    QVERIFY(!client.raw.contains("Content-Length"));
    QVERIFY(server.streamConnection);
    server.streamConnection->writeStreamData(server.streamSequence, "data: two\n\n");
    QTRY_VERIFY(client.raw.contains("b\r\ndata: two\n\n\r\n"));
    server.streamConnection->close();
    QTRY_VERIFY(client.raw.endsWith("\r\n0\r\n\r\n"));
    QTRY_VERIFY(client.isClosed());
    QTRY_COMPARE(server.closedCount, 1);
    // The request pipelined behind the stream is never answered.
    QVERIFY(!client.raw.contains("after-stream"));
}

void TestHttpConnection::streamWaitsForEarlierAnswers()
{
    TestServer server;
    RawClient client(server.port());
    client.send(get("/hold/before") + get("/stream"));
    QTRY_VERIFY(server.streamConnection);
    server.streamConnection->writeStreamData(server.streamSequence, "data: two\n\n");
    QVERIFY(client.raw.isEmpty());
    server.answerHeld(false);
    QTRY_VERIFY(client.raw.contains("b\r\ndata: two\n\n\r\n"));
    const qsizetype first = client.raw.indexOf("/hold/before");
    const qsizetype stream = client.raw.indexOf("text/event-stream");
    const qsizetype one = client.raw.indexOf("data: one");
    const qsizetype two = client.raw.indexOf("data: two");
    QVERIFY(first > 0);
    QVERIFY(first < stream);
    QVERIFY(stream < one);
    QVERIFY(one < two);
    server.streamConnection->close();
    QTRY_VERIFY(client.isClosed());
}

void TestHttpConnection::rejectAndCloseAnswersAndCloses()
{
    TestServer server;
    server.rejectWith = jsonError(503, QStringLiteral("too_many_clients"), QStringLiteral("Full."));
    RawClient client(server.port());
    client.send(get("/x"));
    QTRY_COMPARE(client.replies.size(), 1);
    QCOMPARE(client.replies[0].status, 503);
    QCOMPARE(client.replies[0].error(), QStringLiteral("too_many_clients"));
    QCOMPARE(client.replies[0].header("Connection"), QByteArray("close"));
    QTRY_VERIFY(client.isClosed());
    QTRY_COMPARE(server.closedCount, 1);
    QVERIFY(server.requests.isEmpty());
}

void TestHttpConnection::handlerMayCloseOrDeleteInsideRequestSignal()
{
    TestServer server;
    {
        RawClient client(server.port());
        client.send(get("/a") + get("/close") + get("/b"));
        QTRY_VERIFY(client.isClosed());
        QTRY_COMPARE(server.closedCount, 1);
        QCOMPARE(client.replies.size(), 1); // "/a" was answered before the close
    }
    {
        RawClient client(server.port());
        client.send(get("/delete") + get("/b"));
        QTRY_VERIFY(client.isClosed());
        QCOMPARE(server.requests.last().target, QByteArray("/delete"));
    }
    // Still serving.
    RawClient client(server.port());
    client.send(get("/alive"));
    QTRY_COMPARE(client.replies.size(), 1);
}

void TestHttpConnection::countersTrackBytes()
{
    TestServer server;
    RawClient client(server.port());
    const QByteArray request = get("/count");
    client.send(request);
    QTRY_COMPARE(client.replies.size(), 1);
    HttpConnection *connection = server.connections.value(0);
    QVERIFY(connection);
    QCOMPARE(connection->bytesReceived(), qint64(request.size()));
    QTRY_COMPARE(connection->bytesSent(), qint64(client.raw.size()));
    QVERIFY(connection->id() > 0);
    QCOMPARE(connection->peerAddress(), QHostAddress(QHostAddress::LocalHost));
    QCOMPARE(connection->peerPort(), client.socket.localPort());
}

QTEST_GUILESS_MAIN(TestHttpConnection)
#include "tst_httpconnection.moc"
