// needs: praw-multiprocess
// MultiprocessHandler against the real daemon process and against stand-ins
// that misbehave: keep-alive, requests in flight, cache status, control
// calls, the proxy token, the connect back-off and its log line, the three
// attempts on broken connections, writes never resent, the event stream's
// states, back-off, give-up rules and silence timeout, and several client
// processes that survive the daemon being SIGKILLed and restarted.
//
// The client processes of clientsSurviveDaemonRestarts are this executable
// started again with --load-client (see runLoadClient()), so the suite
// needs no helper program of its own.
#include "FakeReddit.h"
#include "ProcessFixture.h"
#include "TestPorts.h"
#include "TestPrograms.h"

#include "prawmp/MultiprocessHandler.h"
#include "prawmp/Reply.h"
#include "prawmp/Request.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMutex>
#include <QRegularExpression>
#include <QSet>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include <sys/socket.h>

using namespace prawmp;
using namespace std::chrono_literals;
using prawmp::test::FakeReddit;
using prawmp::test::ProcessFixture;

namespace {

const QString kRetryMessage = QStringLiteral("Cannot connect to multiprocess server. Is it running? Retrying in %1 seconds.");

// Log lines of the "prawmp.client" category, for the back-off assertions.
QMutex g_logMutex;
QStringList g_clientLog;
QtMessageHandler g_previousHandler = nullptr;

void recordingHandler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (context.category && QByteArrayView(context.category) == "prawmp.client") {
        QMutexLocker lock(&g_logMutex);
        g_clientLog.append(message);
    }
    if (g_previousHandler)
        g_previousHandler(type, context, message);
}

QStringList clientLog()
{
    QMutexLocker lock(&g_logMutex);
    return g_clientLog;
}

Request get(const QString &urlOrPath)
{
    Request r;
    r.method = "GET";
    r.url = QUrl(urlOrPath);
    return r;
}

// Runs the event loop until the reply is finished.
bool waitFor(Reply *reply, int timeoutMs = 10'000)
{
    return QTest::qWaitFor([reply] { return reply->isFinished(); }, timeoutMs);
}

QJsonObject jsonOf(const Reply *reply)
{
    return QJsonDocument::fromJson(reply->response().body).object();
}

QString describe(const Reply *reply)
{
    if (reply->error())
        return QStringLiteral("error %1: %2").arg(reply->error().code(), reply->error().message);
    return QStringLiteral("HTTP %1 %2").arg(reply->response().status).arg(QString::fromUtf8(reply->response().body.left(300)));
}

// A daemon stand-in that accepts connections, reads one request head, then
// misbehaves: resets the connection, closes it mid-answer, or never answers.
class MisbehavingDaemon : public QObject
{
public:
    enum class Mode {
        Reset,
        CloseMidAnswer,
        CloseBeforeAnswer,
        Hang,
        Unavailable,  // 503 and close, as a daemon that is stopping
        SilentStream, // an event stream's head, then nothing
    };

    explicit MisbehavingDaemon(Mode mode) : m_mode(mode)
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection()) {
                ++connections;
                socket->setParent(this);
                connect(socket, &QTcpSocket::readyRead, this, [this, socket] { onData(socket); });
                connect(socket, &QTcpSocket::disconnected, this, [this] { ++closedByPeer; });
            }
        });
    }

    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    quint16 port() const { return m_server.serverPort(); }

    int connections = 0;
    int requests = 0;
    int closedByPeer = 0;

private:
    void onData(QTcpSocket *socket)
    {
        QByteArray &buffer = m_buffers[socket];
        buffer += socket->readAll();
        if (!buffer.contains("\r\n\r\n") || m_answered.contains(socket))
            return;
        m_answered.insert(socket);
        ++requests;
        switch (m_mode) {
        case Mode::Reset: {
            // SO_LINGER 0: close() sends RST instead of FIN.
            const linger l{1, 0};
            ::setsockopt(int(socket->socketDescriptor()), SOL_SOCKET, SO_LINGER, &l, sizeof l);
            socket->abort();
            break;
        }
        case Mode::CloseMidAnswer:
            socket->write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"half\":");
            socket->disconnectFromHost();
            break;
        case Mode::CloseBeforeAnswer:
            socket->disconnectFromHost();
            break;
        case Mode::Hang:
            break;
        case Mode::Unavailable: {
            const QByteArray body = R"({"error":"unavailable","message":"stopping"})";
            socket->write("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
                          "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
            socket->disconnectFromHost();
            break;
        }
        case Mode::SilentStream:
            socket->write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n");
            break;
        }
    }

    Mode m_mode;
    QTcpServer m_server;
    QHash<QTcpSocket *, QByteArray> m_buffers;
    QSet<QTcpSocket *> m_answered;
};

} // namespace

Q_DECLARE_METATYPE(MisbehavingDaemon::Mode)

// ---------------------------------------------------------------------------
// --load-client: one of the client processes of clientsSurviveDaemonRestarts.
// Sends COUNT GETs for distinct subreddits through one MultiprocessHandler,
// CONCURRENCY at a time, and prints one line per answer:
//   ok ID I SERIAL | bad ID I <what> | error ID I <message>
// then "done ID ok=N"; exit 0 when every answer was right.
static int runLoadClient(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    const QCommandLineOption load(QStringLiteral("load-client"));
    const QCommandLineOption port(QStringLiteral("port"), {}, QStringLiteral("PORT"));
    const QCommandLineOption id(QStringLiteral("id"), {}, QStringLiteral("ID"));
    const QCommandLineOption count(QStringLiteral("count"), {}, QStringLiteral("N"), QStringLiteral("25"));
    const QCommandLineOption concurrency(QStringLiteral("concurrency"), {}, QStringLiteral("N"), QStringLiteral("3"));
    const QCommandLineOption retryMs(QStringLiteral("retry-ms"), {}, QStringLiteral("MS"), QStringLiteral("100"));
    parser.addOptions({load, port, id, count, concurrency, retryMs});
    parser.process(app);

    auto *handler = new MultiprocessHandler(QStringLiteral("127.0.0.1"), quint16(parser.value(port).toUInt()));
    handler->setInitialRetryDelay(std::chrono::milliseconds(parser.value(retryMs).toInt()));
    handler->setMaxRetryDelay(400ms);
    handler->setMaxConnections(parser.value(concurrency).toInt());
    const QString client = parser.value(id);
    const int n = parser.value(count).toInt();
    int remaining = n;
    int ok = 0;
    for (int i = 0; i < n; ++i) {
        const QString sub = QStringLiteral("c%1n%2").arg(client).arg(i);
        Reply *reply = handler->request(get(QStringLiteral("/r/%1/about.json").arg(sub)));
        QObject::connect(reply, &Reply::finished, reply, [&, reply, sub, i] {
            QByteArray line;
            const QJsonObject json = jsonOf(reply);
            if (reply->error()) {
                line = "error " + client.toUtf8() + ' ' + QByteArray::number(i) + ' ' + reply->error().message.toUtf8();
            } else if (reply->response().status != 200 || json.value("sub").toString() != sub) {
                line = "bad " + client.toUtf8() + ' ' + QByteArray::number(i) + ' ' + describe(reply).toUtf8();
            } else {
                ++ok;
                line = "ok " + client.toUtf8() + ' ' + QByteArray::number(i) + ' '
                       + QByteArray::number(json.value("serial").toInt());
            }
            std::printf("%s\n", line.replace('\n', ' ').constData());
            std::fflush(stdout);
            reply->deleteLater();
            if (--remaining == 0) {
                std::printf("done %s ok=%d\n", qPrintable(client), ok);
                std::fflush(stdout);
                QCoreApplication::exit(ok == n ? 0 : 1);
            }
        });
    }
    const int code = QCoreApplication::exec();
    delete handler;
    return code;
}

// ---------------------------------------------------------------------------

class TestMultiprocessHandler : public QObject
{
    Q_OBJECT

private:
    FakeReddit m_reddit;
    ProcessFixture m_daemon;

    QStringList daemonArgs(quint16 port, const QStringList &extra = {}) const
    {
        return QStringList{QStringLiteral("--port"), QString::number(port), QStringLiteral("--upstream"),
                           m_reddit.baseUrl().toString(), QStringLiteral("--rate-mode"), QStringLiteral("fixed"),
                           QStringLiteral("--delay"), QStringLiteral("0")}
               + extra;
    }

    std::unique_ptr<MultiprocessHandler> handlerFor(quint16 port) const
    {
        auto handler = std::make_unique<MultiprocessHandler>(QStringLiteral("127.0.0.1"), port);
        handler->setInitialRetryDelay(100ms);
        return handler;
    }

    int statsConnections(MultiprocessHandler &handler)
    {
        std::unique_ptr<Reply> reply(handler.request(get(QStringLiteral("/_mp/stats"))));
        if (!waitFor(reply.get()))
            return -1;
        return jsonOf(reply.get()).value("connections").toInt(-1);
    }

private slots:
    void initTestCase()
    {
        if (test::daemonProgram().isEmpty())
            QSKIP("praw-multiprocess is not built");
        g_previousHandler = qInstallMessageHandler(recordingHandler);
        QVERIFY2(m_reddit.listen(), qPrintable(m_reddit.errorString()));
        QVERIFY2(m_daemon.start(test::daemonProgram(), daemonArgs(0)), qPrintable(m_daemon.describe()));
    }

    void cleanupTestCase()
    {
        qInstallMessageHandler(g_previousHandler);
    }

    void init()
    {
        m_reddit.setLatencyMs(0);
        m_reddit.clearFault();
    }

    void getGoesThroughTheDaemonAndIsCached()
    {
        auto handler = handlerFor(m_daemon.port());
        std::unique_ptr<Reply> first(handler->request(get(QStringLiteral("/r/cachedsub/about.json"))));
        QVERIFY(!first->isFinished()); // never finished inside request()
        QVERIFY(waitFor(first.get()));
        QVERIFY2(!first->error(), qPrintable(describe(first.get())));
        QCOMPARE(first->response().status, 200);
        QCOMPARE(jsonOf(first.get()).value("sub").toString(), QStringLiteral("cachedsub"));
        QCOMPARE(first->cacheStatus(), CacheStatus::Miss);
        QCOMPARE(first->response().headers.value("X-Cache"), QByteArray("MISS"));

        std::unique_ptr<Reply> second(handler->request(get(QStringLiteral("/r/cachedsub/about.json"))));
        QVERIFY(waitFor(second.get()));
        QCOMPARE(second->cacheStatus(), CacheStatus::Hit);
        QCOMPARE(second->response().body, first->response().body);
        QCOMPARE(m_reddit.targetCount("/r/cachedsub/about.json"), 1);
    }

    void absoluteUrlsAreForwarded()
    {
        auto handler = handlerFor(m_daemon.port());
        std::unique_ptr<Reply> reply(handler->request(get(m_reddit.url(QStringLiteral("/r/absolute/about.json")).toString())));
        QVERIFY(waitFor(reply.get()));
        QVERIFY2(!reply->error() && reply->response().status == 200, qPrintable(describe(reply.get())));
        QCOMPARE(jsonOf(reply.get()).value("sub").toString(), QStringLiteral("absolute"));
    }

    void upstreamErrorStatusIsAResponse()
    {
        auto handler = handlerFor(m_daemon.port());
        std::unique_ptr<Reply> reply(handler->request(get(QStringLiteral("/no/such/endpoint"))));
        QVERIFY(waitFor(reply.get()));
        QVERIFY2(!reply->error(), qPrintable(describe(reply.get())));
        QCOMPARE(reply->response().status, 404);
    }

    void daemonErrorsBecomeErrorKinds()
    {
        auto handler = handlerFor(m_daemon.port());
        std::unique_ptr<Reply> reply(handler->request(get(QStringLiteral("https://not-allowed.example.com/r/x.json"))));
        QVERIFY(waitFor(reply.get()));
        QCOMPARE(reply->error().kind, Error::Kind::NotAllowed);
        QVERIFY(!reply->error().message.isEmpty());
    }

    void postBodyAndHeadersReachUpstream()
    {
        auto handler = handlerFor(m_daemon.port());
        const QString token = m_reddit.issueToken(QStringLiteral("alice"));
        Request request;
        request.method = "POST";
        request.url = QUrl(QStringLiteral("/api/comment"));
        request.headers.set("Authorization", "bearer " + token.toUtf8());
        request.headers.set("Content-Type", "application/x-www-form-urlencoded");
        request.body = "thing_id=t3_abc&text=hello";
        std::unique_ptr<Reply> reply(handler->request(request));
        QVERIFY(waitFor(reply.get()));
        QVERIFY2(!reply->error() && reply->response().status == 200, qPrintable(describe(reply.get())));
        QCOMPARE(m_reddit.pathCount("/api/comment"), 1);
        const auto log = m_reddit.log();
        QCOMPARE(log.last().bodySize, request.body.size());
    }

    void invalidMethodIsRefusedLocally()
    {
        auto handler = handlerFor(m_daemon.port());
        Request request = get(QStringLiteral("/r/x/about.json"));
        request.method = "GET /evil HTTP/1.1\r\nX:";
        std::unique_ptr<Reply> reply(handler->request(request));
        QVERIFY(waitFor(reply.get()));
        QCOMPARE(reply->response().status, 400);
    }

    void keepAliveReusesOneConnection()
    {
        auto handler = handlerFor(m_daemon.port());
        for (int i = 0; i < 5; ++i) {
            std::unique_ptr<Reply> reply(handler->request(get(QStringLiteral("/r/keepalive%1/about.json").arg(i))));
            QVERIFY(waitFor(reply.get()));
            QCOMPARE(reply->response().status, 200);
        }
        // The stats request rides the same connection: the daemon sees one.
        QCOMPARE(statsConnections(*handler), 1);
    }

    void severalRequestsInFlight()
    {
        auto handler = handlerFor(m_daemon.port());
        handler->setMaxConnections(6);
        m_reddit.setLatencyMs(400);
        std::vector<std::unique_ptr<Reply>> replies;
        for (int i = 0; i < 6; ++i)
            replies.emplace_back(handler->request(get(QStringLiteral("/r/parallel%1/about.json").arg(i))));
        for (auto &reply : replies) {
            QVERIFY(waitFor(reply.get()));
            QVERIFY2(reply->response().status == 200, qPrintable(describe(reply.get())));
        }
        // All six were at the upstream before its first answer left (each is
        // held 400 ms): they travelled side by side, not one after another.
        // Judged by the upstream's arrival stamps, not by a wall-clock total
        // that a loaded machine stretches.
        QList<qint64> arrivals;
        for (const auto &record : m_reddit.log())
            if (record.path.startsWith("/r/parallel"))
                arrivals << record.arrivalMs;
        QCOMPARE(arrivals.size(), 6);
        const auto [first, last] = std::minmax_element(arrivals.cbegin(), arrivals.cend());
        QVERIFY2(*last - *first < 400, qPrintable(QString::number(*last - *first)));
    }

    void moreRequestsThanConnectionsWaitInOrder()
    {
        auto handler = handlerFor(m_daemon.port());
        handler->setMaxConnections(2);
        std::vector<std::unique_ptr<Reply>> replies;
        for (int i = 0; i < 7; ++i)
            replies.emplace_back(handler->request(get(QStringLiteral("/r/queued%1/about.json").arg(i))));
        for (int i = 0; i < 7; ++i) {
            QVERIFY(waitFor(replies[i].get()));
            QCOMPARE(jsonOf(replies[i].get()).value("sub").toString(), QStringLiteral("queued%1").arg(i));
        }
        QVERIFY(statsConnections(*handler) <= 2);
    }

    void evictAndClear()
    {
        auto handler = handlerFor(m_daemon.port());
        const QString path = QStringLiteral("/r/evictme/about.json");
        std::unique_ptr<Reply> reply(handler->request(get(path)));
        QVERIFY(waitFor(reply.get()));

        QFuture<int> evicted = handler->evict({path});
        QVERIFY(QTest::qWaitFor([&] { return evicted.isFinished(); }, 5000));
        QCOMPARE(evicted.result(), 1);

        std::unique_ptr<Reply> again(handler->request(get(path)));
        QVERIFY(waitFor(again.get()));
        QCOMPARE(again->cacheStatus(), CacheStatus::Miss);

        // Through the Handler interface, as application code holding either handler calls it.
        Handler &anyHandler = *handler;
        QFuture<int> cleared = anyHandler.clear();
        QVERIFY(QTest::qWaitFor([&] { return cleared.isFinished(); }, 5000));
        QVERIFY(cleared.result() >= 1);

        std::unique_ptr<Reply> afterClear(handler->request(get(path)));
        QVERIFY(waitFor(afterClear.get()));
        QCOMPARE(afterClear->cacheStatus(), CacheStatus::Miss);
        QFuture<int> clearedAgain = anyHandler.clear();
        QVERIFY(QTest::qWaitFor([&] { return clearedAgain.isFinished(); }, 5000));
        QCOMPARE(clearedAgain.result(), 1);
    }

    void proxyTokenIsSent()
    {
        ProcessFixture daemon;
        QVERIFY2(daemon.start(test::daemonProgram(), daemonArgs(0, {QStringLiteral("--auth-token"), QStringLiteral("s3cret")})),
                 qPrintable(daemon.describe()));
        auto handler = handlerFor(daemon.port());
        std::unique_ptr<Reply> refused(handler->request(get(QStringLiteral("/r/token/about.json"))));
        QVERIFY(waitFor(refused.get()));
        QCOMPARE(refused->response().status, 407);

        handler->setProxyToken(QStringLiteral("s3cret"));
        std::unique_ptr<Reply> accepted(handler->request(get(QStringLiteral("/r/token/about.json"))));
        QVERIFY(waitFor(accepted.get()));
        QCOMPARE(accepted->response().status, 200);

        // Control calls carry it too.
        QFuture<int> cleared = handler->clear();
        QVERIFY(QTest::qWaitFor([&] { return cleared.isFinished(); }, 5000));
        QVERIFY(cleared.result() >= 0);

        handler->setProxyToken({});
        QFuture<int> refusedClear = handler->clear();
        QVERIFY(QTest::qWaitFor([&] { return refusedClear.isFinished(); }, 5000));
        try {
            refusedClear.result();
            QFAIL("expected a ClientException");
        } catch (const ClientException &e) {
            QCOMPARE(e.httpStatus(), 407);
        }
    }

    void eventStreamDeliversStats()
    {
        auto handler = handlerFor(m_daemon.port());
        std::unique_ptr<DaemonEventStream> stream(handler->openEventStream());
        int stats = 0;
        int requests = 0;
        bool connected = false;
        connect(stream.get(), &DaemonEventStream::connected, this, [&] { connected = true; });
        connect(stream.get(), &DaemonEventStream::eventReceived, this, [&](const SseParser::Event &event) {
            if (event.name == "stats" && QJsonDocument::fromJson(event.data).isObject())
                ++stats;
            if (event.name == "request")
                ++requests;
        });
        QTRY_VERIFY_WITH_TIMEOUT(stats >= 1, 3000);
        QVERIFY(connected);
        std::unique_ptr<Reply> reply(handler->request(get(QStringLiteral("/r/streamed/about.json"))));
        QVERIFY(waitFor(reply.get()));
        QTRY_VERIFY_WITH_TIMEOUT(requests >= 1, 3000);
        QTRY_VERIFY_WITH_TIMEOUT(stats >= 2, 3000); // frames keep coming
        stream->close();
        const int seen = stats;
        QTest::qWait(700);
        QCOMPARE(stats, seen);
    }

    void statsReturnsTheSnapshot()
    {
        auto handler = handlerFor(m_daemon.port());
        QFuture<QJsonObject> stats = handler->stats();
        QVERIFY(QTest::qWaitFor([&] { return stats.isFinished(); }, 5000));
        const QJsonObject json = stats.result();
        QVERIFY2(json.contains(QStringLiteral("totals")) && json.contains(QStringLiteral("domains")),
                 qPrintable(QJsonDocument(json).toJson()));
        QCOMPARE(json.value(QStringLiteral("version")).toString(), QStringLiteral(PRAWMP_VERSION));
    }

    void eventStreamBacksOffWhileTheDaemonIsAway()
    {
        using Reason = DaemonEventStream::Failure::Reason;
        const quint16 port = test::freeLoopbackPort();
        auto handler = handlerFor(port); // 100 ms first
        handler->setMaxRetryDelay(400ms);
        std::unique_ptr<DaemonEventStream> stream(handler->openEventStream());
        QCOMPARE(stream->state(), DaemonEventStream::State::Connecting);
        QSignalSpy states(stream.get(), &DaemonEventStream::stateChanged);
        QElapsedTimer clock;
        clock.start();
        QList<qint64> failedAt;
        QList<Reason> reasons;
        QList<qint64> announcedWaits;
        connect(stream.get(), &DaemonEventStream::attemptFailed, this, [&](const DaemonEventStream::Failure &failure) {
            failedAt.append(clock.elapsed());
            reasons.append(failure.reason);
            announcedWaits.append(stream->retryIn().count());
        });
        QTRY_VERIFY_WITH_TIMEOUT(failedAt.size() >= 5, 5000);
        QCOMPARE(reasons.count(Reason::Refused), reasons.size());
        QVERIFY(stream->failedAttempts() >= 5);
        QVERIFY(!stream->isConnected());
        // Waits of 100, 200, 400 and 400 ms (capped) between the attempts.
        const QList<qint64> expected = {100, 200, 400, 400};
        for (int i = 0; i < expected.size(); ++i) {
            QVERIFY2(failedAt[i + 1] - failedAt[i] >= expected[i] * 9 / 10,
                     qPrintable(QStringLiteral("gap %1: %2 ms").arg(i).arg(failedAt[i + 1] - failedAt[i])));
            QVERIFY2(announcedWaits[i] <= expected[i] && announcedWaits[i] >= expected[i] / 2,
                     qPrintable(QStringLiteral("retryIn %1: %2 ms").arg(i).arg(announcedWaits[i])));
        }
        QVERIFY(states.contains(QVariantList{QVariant::fromValue(DaemonEventStream::State::Retrying)}));
        QVERIFY(states.contains(QVariantList{QVariant::fromValue(DaemonEventStream::State::Connecting)}));

        // The daemon appears: the stream connects and forgets the failures.
        ProcessFixture late;
        QVERIFY2(late.start(test::daemonProgram(), daemonArgs(port)), qPrintable(late.describe()));
        QTRY_COMPARE_WITH_TIMEOUT(stream->state(), DaemonEventStream::State::Connected, 5000);
        QCOMPARE(stream->failedAttempts(), 0);
        QCOMPARE(stream->lastFailure().reason, Reason::None);
        QCOMPARE(stream->retryIn(), 0ms);
    }

    void eventStreamGivesUpAfterMaxAttempts()
    {
        const quint16 port = test::freeLoopbackPort();
        auto handler = handlerFor(port);
        std::unique_ptr<DaemonEventStream> stream(handler->openEventStream());
        stream->setMaxAttempts(3);
        QSignalSpy attempts(stream.get(), &DaemonEventStream::attemptFailed);
        QList<Error> errors;
        QList<int> statuses;
        connect(stream.get(), &DaemonEventStream::failed, this, [&](const Error &error, int status) {
            errors.append(error);
            statuses.append(status);
        });
        QTRY_COMPARE_WITH_TIMEOUT(errors.size(), 1, 5000);
        QCOMPARE(attempts.size(), 2); // the third failure is the give-up
        QCOMPARE(stream->failedAttempts(), 3);
        QCOMPARE(stream->state(), DaemonEventStream::State::Failed);
        QCOMPARE(errors.first().kind, Error::Kind::DaemonUnavailable);
        QCOMPARE(statuses.first(), 0);
        QTest::qWait(500); // no more attempts
        QCOMPARE(attempts.size(), 2);
        QCOMPARE(errors.size(), 1);
    }

    void eventStreamGivesUpOnAWrongToken()
    {
        ProcessFixture daemon;
        QVERIFY2(daemon.start(test::daemonProgram(), daemonArgs(0, {QStringLiteral("--auth-token"), QStringLiteral("s3cret")})),
                 qPrintable(daemon.describe()));
        auto handler = handlerFor(daemon.port());
        handler->setProxyToken(QStringLiteral("wrong"));
        std::unique_ptr<DaemonEventStream> refused(handler->openEventStream());
        QSignalSpy attempts(refused.get(), &DaemonEventStream::attemptFailed);
        QList<int> statuses;
        connect(refused.get(), &DaemonEventStream::failed, this, [&](const Error &, int status) { statuses.append(status); });
        QTRY_COMPARE_WITH_TIMEOUT(statuses.size(), 1, 5000);
        QCOMPARE(statuses.first(), 407);
        QCOMPARE(attempts.size(), 0); // retrying cannot make a wrong token right
        QCOMPARE(refused->state(), DaemonEventStream::State::Failed);
        QCOMPARE(refused->lastFailure().reason, DaemonEventStream::Failure::Reason::HttpStatus);
        QCOMPARE(refused->lastFailure().httpStatus, 407);

        // The other control calls say the same.
        QFuture<QJsonObject> stats = handler->stats();
        QVERIFY(QTest::qWaitFor([&] { return stats.isFinished(); }, 5000));
        try {
            stats.result();
            QFAIL("expected a ClientException");
        } catch (const ClientException &e) {
            QCOMPARE(e.httpStatus(), 407);
        }

        handler->setProxyToken(QStringLiteral("s3cret"));
        std::unique_ptr<DaemonEventStream> accepted(handler->openEventStream());
        QTRY_COMPARE_WITH_TIMEOUT(accepted->state(), DaemonEventStream::State::Connected, 5000);
    }

    void eventStreamRetriesABusyDaemon()
    {
        MisbehavingDaemon standIn(MisbehavingDaemon::Mode::Unavailable);
        QVERIFY(standIn.listen());
        auto handler = handlerFor(standIn.port());
        std::unique_ptr<DaemonEventStream> stream(handler->openEventStream());
        QList<DaemonEventStream::Failure> failures;
        int gaveUp = 0;
        connect(stream.get(), &DaemonEventStream::attemptFailed, this,
                [&](const DaemonEventStream::Failure &failure) { failures.append(failure); });
        connect(stream.get(), &DaemonEventStream::failed, this, [&] { ++gaveUp; });
        QTRY_VERIFY_WITH_TIMEOUT(failures.size() >= 3, 5000);
        QCOMPARE(gaveUp, 0);
        QCOMPARE(failures.first().reason, DaemonEventStream::Failure::Reason::HttpStatus);
        QCOMPARE(failures.first().httpStatus, 503);
        QCOMPARE(failures.first().message, QStringLiteral("stopping"));
    }

    void silentEventStreamIsResubscribed()
    {
        MisbehavingDaemon standIn(MisbehavingDaemon::Mode::SilentStream);
        QVERIFY(standIn.listen());
        auto handler = handlerFor(standIn.port());
        std::unique_ptr<DaemonEventStream> stream(handler->openEventStream());
        stream->setSilenceTimeout(300ms);
        int connects = 0;
        QList<DaemonEventStream::Failure::Reason> endings;
        connect(stream.get(), &DaemonEventStream::connected, this, [&] { ++connects; });
        connect(stream.get(), &DaemonEventStream::disconnected, this,
                [&] { endings.append(stream->lastFailure().reason); });
        QTRY_COMPARE_WITH_TIMEOUT(connects, 1, 3000);
        QElapsedTimer silence;
        silence.start();
        QTRY_COMPARE_WITH_TIMEOUT(endings.size(), 1, 3000);
        QVERIFY2(silence.elapsed() >= 250, qPrintable(QString::number(silence.elapsed())));
        QCOMPARE(endings.first(), DaemonEventStream::Failure::Reason::Silent);
        // It subscribes again on a new connection.
        QTRY_COMPARE_WITH_TIMEOUT(connects, 2, 3000);
        QCOMPARE(standIn.connections, 2);
        QTRY_VERIFY_WITH_TIMEOUT(standIn.closedByPeer >= 1, 3000); // the silent one was closed
    }

    void silentAttemptIsRetried()
    {
        MisbehavingDaemon standIn(MisbehavingDaemon::Mode::Hang);
        QVERIFY(standIn.listen());
        auto handler = handlerFor(standIn.port());
        std::unique_ptr<DaemonEventStream> stream(handler->openEventStream());
        stream->setSilenceTimeout(200ms);
        QList<DaemonEventStream::Failure::Reason> reasons;
        connect(stream.get(), &DaemonEventStream::attemptFailed, this,
                [&](const DaemonEventStream::Failure &failure) { reasons.append(failure.reason); });
        QTRY_VERIFY_WITH_TIMEOUT(reasons.size() >= 2, 5000);
        QCOMPARE(reasons.first(), DaemonEventStream::Failure::Reason::Silent);
        QVERIFY(standIn.requests >= 2);
    }

    void eventStreamDoesNotWaitForBusyConnections()
    {
        auto handler = handlerFor(m_daemon.port());
        handler->setMaxConnections(1);
        m_reddit.setLatencyMs(1500);
        std::vector<std::unique_ptr<Reply>> replies;
        for (int i = 0; i < 3; ++i)
            replies.emplace_back(handler->request(get(QStringLiteral("/r/busy%1/about.json").arg(i))));
        std::unique_ptr<DaemonEventStream> stream(handler->openEventStream());
        bool connected = false;
        connect(stream.get(), &DaemonEventStream::connected, this, [&] { connected = true; });
        QTRY_VERIFY_WITH_TIMEOUT(connected, 1000);
        QVERIFY(!replies.front()->isFinished());
        replies.clear(); // abandoned: their connection is closed
    }

    void waitsForTheDaemonToAppear()
    {
        const quint16 port = test::freeLoopbackPort();
        QVERIFY(port != 0);
        auto handler = handlerFor(port);
        const qsizetype logFrom = clientLog().size();
        std::unique_ptr<Reply> reply(handler->request(get(QStringLiteral("/r/latecomer/about.json"))));
        // The original's message, with the back-off doubling.
        QTRY_VERIFY_WITH_TIMEOUT(clientLog().mid(logFrom).contains(kRetryMessage.arg(QStringLiteral("0.2"))), 3000);
        QVERIFY(clientLog().mid(logFrom).contains(kRetryMessage.arg(QStringLiteral("0.1"))));
        QVERIFY(!reply->isFinished());

        ProcessFixture late;
        QVERIFY2(late.start(test::daemonProgram(), daemonArgs(port)), qPrintable(late.describe()));
        QVERIFY(waitFor(reply.get(), 5000));
        QVERIFY2(!reply->error() && reply->response().status == 200, qPrintable(describe(reply.get())));
        QCOMPARE(jsonOf(reply.get()).value("sub").toString(), QStringLiteral("latecomer"));
    }

    void noRetryFailsAtOnce()
    {
        const quint16 port = test::freeLoopbackPort();
        auto handler = handlerFor(port);
        handler->setMaxConnectAttempts(1);
        QElapsedTimer timer;
        timer.start();
        std::unique_ptr<Reply> a(handler->request(get(QStringLiteral("/r/a/about.json"))));
        std::unique_ptr<Reply> b(handler->request(get(QStringLiteral("/r/b/about.json"))));
        QVERIFY(waitFor(a.get(), 3000));
        QVERIFY(waitFor(b.get(), 3000));
        QVERIFY(timer.elapsed() < 2000);
        QCOMPARE(a->error().kind, Error::Kind::DaemonUnavailable);
        QCOMPARE(b->error().kind, Error::Kind::DaemonUnavailable);
        QVERIFY2(a->error().message.startsWith(QStringLiteral("Cannot connect to multiprocess server")),
                 qPrintable(a->error().message));

        QFuture<int> evicted = handler->evict({QStringLiteral("/x")});
        QVERIFY(QTest::qWaitFor([&] { return evicted.isFinished(); }, 3000));
        try {
            evicted.result();
            QFAIL("expected a ClientException");
        } catch (const ClientException &e) {
            QCOMPARE(e.error().kind, Error::Kind::DaemonUnavailable);
        }
    }

    // A daemon that accepts the connection and never answers: evict, clear
    // and stats fail with Timeout after controlTimeout(), and the
    // connections they used are dropped.
    void controlCallsTimeOutOnASilentDaemon()
    {
        MisbehavingDaemon standIn(MisbehavingDaemon::Mode::Hang);
        QVERIFY(standIn.listen());
        auto handler = handlerFor(standIn.port());
        QCOMPARE(handler->controlTimeout(), std::chrono::milliseconds(10s));
        handler->setControlTimeout(3s); // long enough for all three to arrive on a loaded machine
        QFuture<int> evicted = handler->evict({QStringLiteral("/r/x/about.json")});
        QFuture<int> cleared = handler->clear();
        QFuture<QJsonObject> stats = handler->stats();
        // All three reached it; none has an answer.
        QTRY_COMPARE_WITH_TIMEOUT(standIn.requests, 3, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(evicted.isFinished() && cleared.isFinished() && stats.isFinished(), 10000);
        const auto failureOf = [](auto future) -> Error {
            try {
                future.waitForFinished();
            } catch (const ClientException &e) {
                return e.error();
            }
            return {};
        };
        const QString prefix = QStringLiteral("The multiprocess server at 127.0.0.1:%1 did not answer ").arg(standIn.port());
        const struct {
            Error error;
            QString call;
        } outcomes[] = {{failureOf(evicted), QStringLiteral("POST /_mp/evict")},
                        {failureOf(cleared), QStringLiteral("POST /_mp/clear")},
                        {failureOf(stats), QStringLiteral("GET /_mp/stats")}};
        for (const auto &outcome : outcomes) {
            QCOMPARE(outcome.error.kind, Error::Kind::Timeout);
            QCOMPARE(outcome.error.message, prefix + outcome.call + QStringLiteral(" within 3 seconds."));
        }
        // Given up on, not sent again.
        QTRY_COMPARE(standIn.closedByPeer, 3);
        QCOMPARE(standIn.connections, 3);
        QCOMPARE(standIn.requests, 3);
    }

    void brokenConnectionsFailAfterThreeAttempts_data()
    {
        QTest::addColumn<MisbehavingDaemon::Mode>("mode");
        QTest::newRow("reset") << MisbehavingDaemon::Mode::Reset;
        QTest::newRow("closed mid-answer") << MisbehavingDaemon::Mode::CloseMidAnswer;
        QTest::newRow("closed before answer") << MisbehavingDaemon::Mode::CloseBeforeAnswer;
    }

    void brokenConnectionsFailAfterThreeAttempts()
    {
        QFETCH(MisbehavingDaemon::Mode, mode);
        MisbehavingDaemon standIn(mode);
        QVERIFY(standIn.listen());
        auto handler = handlerFor(standIn.port());
        std::unique_ptr<Reply> reply(handler->request(get(QStringLiteral("/r/doomed/about.json"))));
        QVERIFY(waitFor(reply.get(), 5000));
        QCOMPARE(reply->error().kind, Error::Kind::DaemonUnavailable);
        QVERIFY2(reply->error().message.startsWith(QStringLiteral("Successive failures reading from the multiprocess server")),
                 qPrintable(reply->error().message));
        QCOMPARE(standIn.requests, 3);
        QCOMPARE(standIn.connections, 3);
        QTest::qWait(200); // nothing more arrives
        QCOMPARE(standIn.connections, 3);
    }

    void lostWriteIsNotResent_data()
    {
        QTest::addColumn<bool>("optIn");
        QTest::addColumn<int>("attempts");
        QTest::newRow("default") << false << 1;
        QTest::newRow("opted in") << true << 3;
    }

    void lostWriteIsNotResent()
    {
        QFETCH(bool, optIn);
        QFETCH(int, attempts);
        MisbehavingDaemon standIn(MisbehavingDaemon::Mode::CloseBeforeAnswer);
        QVERIFY(standIn.listen());
        auto handler = handlerFor(standIn.port());
        handler->setRetryUnsafeRequests(optIn);
        Request request;
        request.method = "POST";
        request.url = QUrl(QStringLiteral("/api/comment"));
        request.body = "text=once";
        std::unique_ptr<Reply> reply(handler->request(request));
        QVERIFY(waitFor(reply.get(), 5000));
        QCOMPARE(reply->error().kind, Error::Kind::DaemonUnavailable);
        if (!optIn)
            QVERIFY2(reply->error().message.contains(QStringLiteral("was not sent again")), qPrintable(reply->error().message));
        QCOMPARE(standIn.requests, attempts);
        QTest::qWait(200);
        QCOMPARE(standIn.requests, attempts);
    }

    void abortClosesTheConnection()
    {
        MisbehavingDaemon standIn(MisbehavingDaemon::Mode::Hang);
        QVERIFY(standIn.listen());
        auto handler = handlerFor(standIn.port());
        std::unique_ptr<Reply> reply(handler->request(get(QStringLiteral("/r/slow/about.json"))));
        QTRY_COMPARE_WITH_TIMEOUT(standIn.requests, 1, 3000);
        reply->abort();
        QVERIFY(waitFor(reply.get()));
        QCOMPARE(reply->error().kind, Error::Kind::Canceled);
        QTRY_COMPARE_WITH_TIMEOUT(standIn.closedByPeer, 1, 3000);

        // A reply deleted unfinished does the same.
        Reply *dropped = handler->request(get(QStringLiteral("/r/slow2/about.json")));
        QTRY_COMPARE_WITH_TIMEOUT(standIn.requests, 2, 3000);
        delete dropped;
        QTRY_COMPARE_WITH_TIMEOUT(standIn.closedByPeer, 2, 3000);
    }

    void survivesOneDaemonRestart()
    {
        const quint16 port = test::freeLoopbackPort();
        ProcessFixture daemon;
        QVERIFY2(daemon.start(test::daemonProgram(), daemonArgs(port)), qPrintable(daemon.describe()));
        auto handler = handlerFor(port);
        std::unique_ptr<Reply> before(handler->request(get(QStringLiteral("/r/before/about.json"))));
        QVERIFY(waitFor(before.get()));
        QCOMPARE(before->response().status, 200);
        std::unique_ptr<DaemonEventStream> stream(handler->openEventStream());
        int connects = 0;
        int disconnects = 0;
        DaemonEventStream::Failure ending;
        DaemonEventStream::State stateAfterEnding = DaemonEventStream::State::Connected;
        connect(stream.get(), &DaemonEventStream::connected, this, [&] { ++connects; });
        connect(stream.get(), &DaemonEventStream::disconnected, this, [&] {
            ++disconnects;
            ending = stream->lastFailure();
            stateAfterEnding = stream->state();
        });
        QTRY_COMPARE_WITH_TIMEOUT(connects, 1, 3000);

        // A request in flight when the daemon dies is sent again to the next one.
        m_reddit.setLatencyMs(500);
        std::unique_ptr<Reply> during(handler->request(get(QStringLiteral("/r/during/about.json"))));
        QTRY_COMPARE_WITH_TIMEOUT(m_reddit.targetCount("/r/during/about.json"), 1, 3000);
        daemon.kill();
        QTest::qWait(150);
        QVERIFY2(daemon.start(test::daemonProgram(), daemonArgs(port)), qPrintable(daemon.describe()));
        QVERIFY(waitFor(during.get(), 5000));
        QVERIFY2(!during->error() && during->response().status == 200, qPrintable(describe(during.get())));
        QCOMPARE(jsonOf(during.get()).value("sub").toString(), QStringLiteral("during"));
        // The event stream came back by itself.
        QCOMPARE(disconnects, 1);
        QCOMPARE(ending.reason, DaemonEventStream::Failure::Reason::Closed);
        QCOMPARE(stateAfterEnding, DaemonEventStream::State::Retrying);
        QTRY_COMPARE_WITH_TIMEOUT(connects, 2, 3000);
        QCOMPARE(stream->state(), DaemonEventStream::State::Connected);
    }

    void clientsSurviveDaemonRestarts()
    {
        constexpr int kClients = 4;
        constexpr int kRequests = 25;
        const quint16 port = test::freeLoopbackPort();
        ProcessFixture daemon;
        QVERIFY2(daemon.start(test::daemonProgram(), daemonArgs(port)), qPrintable(daemon.describe()));
        m_reddit.setLatencyMs(120);

        std::vector<std::unique_ptr<ProcessFixture>> clients;
        for (int k = 0; k < kClients; ++k) {
            auto client = std::make_unique<ProcessFixture>();
            QVERIFY2(client->launch(QCoreApplication::applicationFilePath(),
                                    {QStringLiteral("--load-client"), QStringLiteral("--port"), QString::number(port),
                                     QStringLiteral("--id"), QString::number(k), QStringLiteral("--count"),
                                     QString::number(kRequests), QStringLiteral("--concurrency"), QStringLiteral("3")}),
                     qPrintable(client->describe()));
            clients.push_back(std::move(client));
        }
        const auto completed = [&] {
            int n = 0;
            for (const auto &c : clients)
                for (const QString &line : c->lines())
                    n += line.startsWith(QStringLiteral("ok ")) ? 1 : 0;
            return n;
        };
        const auto describeAll = [&] {
            QString text = daemon.describe(10);
            for (const auto &c : clients)
                text += u'\n' + c->describe(10);
            return text;
        };

        // Two SIGKILLs while requests are in flight, each followed by a restart on the same port.
        for (int threshold : {20, 55}) {
            QVERIFY2(QTest::qWaitFor([&] { return completed() >= threshold; }, 20'000), qPrintable(describeAll()));
            QVERIFY2(completed() < kClients * kRequests, "the clients finished before the daemon could be killed");
            daemon.kill();
            QTest::qWait(300);
            QVERIFY2(daemon.start(test::daemonProgram(), daemonArgs(port)), qPrintable(daemon.describe()));
        }

        for (const auto &c : clients)
            QVERIFY2(c->waitForFinished(30'000), qPrintable(describeAll()));
        QMap<QString, int> answers;
        for (const auto &c : clients) {
            QVERIFY2(c->exitStatus() == QProcess::NormalExit && c->exitCode() == 0, qPrintable(c->describe()));
            for (const QString &line : c->lines()) {
                static const QRegularExpression answer(QStringLiteral("^(ok|bad|error) (\\d+) (\\d+)"));
                const QRegularExpressionMatch m = answer.match(line);
                if (m.hasMatch())
                    ++answers[m.captured(2) + u'/' + m.captured(3)];
                QVERIFY2(!line.startsWith(QStringLiteral("error ")) && !line.startsWith(QStringLiteral("bad ")), qPrintable(line));
            }
        }
        // Every request answered exactly once, with its own body.
        QCOMPARE(answers.size(), kClients * kRequests);
        for (auto it = answers.cbegin(); it != answers.cend(); ++it)
            QVERIFY2(it.value() == 1, qPrintable(it.key()));
        // And every one of them reached the upstream.
        for (int k = 0; k < kClients; ++k)
            for (int i = 0; i < kRequests; ++i)
                QVERIFY(m_reddit.targetCount(QStringLiteral("/r/c%1n%2/about.json").arg(k).arg(i).toUtf8()) >= 1);
        // The clients said what they were waiting for.
        bool sawRetry = false;
        for (const auto &c : clients)
            sawRetry = sawRetry || c->standardError().contains(QStringLiteral("Cannot connect to multiprocess server. Is it running? Retrying in"));
        QVERIFY2(sawRetry, qPrintable(describeAll()));
    }
};

int main(int argc, char *argv[])
{
    if (argc > 1 && qstrcmp(argv[1], "--load-client") == 0)
        return runLoadClient(argc, argv);
    QCoreApplication app(argc, argv);
    TestMultiprocessHandler test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_multiprocesshandler.moc"
