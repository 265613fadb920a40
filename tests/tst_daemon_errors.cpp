// needs: praw-multiprocess
// Every error status of the contract, produced by the real daemon process
// from raw sockets: each answer is the JSON {"error", "message"} and a bad
// client never disturbs a good one.
#include "DaemonTestKit.h"
#include "TestPorts.h"

#include <QTcpServer>

using namespace dtk;
using prawmp::test::FakeReddit;

class TestDaemonErrors : public QObject
{
    Q_OBJECT

private:
    FakeReddit m_reddit;

    QStringList baseArgs() const { return unpacedDaemonArgs(m_reddit.port()); }

    // Sends `bytes` on a new connection; expects one error answer and the close.
    static QString refusedAndClosed(quint16 port, const QByteArray &bytes, int status, const QString &code)
    {
        RawClient client(port);
        if (!client.waitConnected())
            return QStringLiteral("cannot connect");
        client.write(bytes);
        if (!client.waitForResponses(1))
            return QStringLiteral("no answer; unparsed: %1").arg(QString::fromLatin1(client.unparsed()));
        if (QString e = checkJsonError(client.responses().first(), status, code); !e.isEmpty())
            return e;
        if (!client.waitForClosed(3000))
            return QStringLiteral("connection left open after %1").arg(status);
        if (client.responses().size() != 1)
            return QStringLiteral("%1 answers instead of 1").arg(client.responses().size());
        if (!client.responses().first().header("connection").toLower().contains("close"))
            return QStringLiteral("no Connection: close on the error answer");
        return {};
    }

private slots:
    void initTestCase()
    {
        if (prawmp::test::daemonProgram().isEmpty())
            QSKIP("praw-multiprocess is not built");
        QVERIFY(m_reddit.listen());
    }
    void init() { m_reddit.clearLog(); }

    // The malformed requests, each refused the same way whatever watches
    // the daemon: nobody, an event stream subscriber, --log-requests 1.
    void malformedRequestsAre400AndClosed_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("mode");
        const QList<QPair<const char *, QByteArray>> cases{
            {"garbage request line", QByteArray("THIS IS NOT HTTP\r\n\r\n")},
            {"no version", QByteArray("GET /r/x/hot.json\r\n\r\n")},
            {"binary", QByteArray("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15)},
            {"space in header name", QByteArray("GET /r/x/hot.json HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")},
            {"space before colon", QByteArray("GET /r/x/hot.json HTTP/1.1\r\nHost: a\r\nX-Name : x\r\n\r\n")},
            {"header without colon", QByteArray("GET /r/x/hot.json HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n")},
            {"folded header", QByteArray("GET /r/x/hot.json HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n")},
            {"folded header, tab", QByteArray("GET /r/x/hot.json HTTP/1.1\r\nHost: a\r\nX-A: one\r\n\ttwo\r\n\r\n")},
            {"HTTX version", QByteArray("GET /r/python/hot.json HTTX/1.1\r\nHost: a\r\n\r\n")},
            {"space after version", QByteArray("GET /r/python/hot.json HTTP/1.1 \r\nHost: a\r\n\r\n")},
            {"bare LF in header value", QByteArray("GET /r/python/hot.json HTTP/1.1\r\nHost: a\r\nX-A: one\ntwo\r\n\r\n")},
            {"two spaces before target", QByteArray("GET  /r/python/hot.json HTTP/1.1\r\nHost: a\r\n\r\n")},
            {"two spaces before version", QByteArray("GET /r/python/hot.json  HTTP/1.1\r\nHost: a\r\n\r\n")},
            {"smuggling CL+TE",
             QByteArray("POST /api/comment HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")},
            {"smuggling TE+CL",
             QByteArray("POST /api/comment HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                        "Content-Length: 4\r\n\r\n0\r\n\r\n")},
            {"two different Content-Length",
             QByteArray("POST /api/comment HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                        "Content-Length: 5\r\n\r\nabcde")},
            {"Content-Length list",
             QByteArray("POST /api/comment HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 5\r\n\r\nabcde")},
            {"TE not chunked",
             QByteArray("POST /api/comment HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nxx")},
            {"bad chunk size",
             QByteArray("POST /api/comment HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n")},
            {"negative Content-Length",
             QByteArray("POST /api/comment HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n")},
        };
        for (const QString &mode : {QStringLiteral("plain"), QStringLiteral("watched"), QStringLiteral("logged")}) {
            for (const auto &[name, bytes] : cases)
                QTest::addRow("%s: %s", qPrintable(mode), name) << bytes << mode;
        }
    }
    void malformedRequestsAre400AndClosed()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, mode);
        ProcessFixture daemon;
        QStringList args = baseArgs();
        if (mode == QLatin1String("logged"))
            args << QStringLiteral("--log-requests") << QStringLiteral("1");
        QVERIFY2(startDaemon(daemon, args), qPrintable(daemon.describe()));
        std::unique_ptr<EventStream> watcher;
        if (mode == QLatin1String("watched")) {
            watcher = std::make_unique<EventStream>(daemon.port());
            QVERIFY(watcher->waitForEvent([](const prawmp::SseParser::Event &e) { return e.name == "stats"; }, 5000));
        }
        const QString problem = refusedAndClosed(daemon.port(), bytes, 400, QStringLiteral("bad_request"));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        QCOMPARE(m_reddit.requestCount(), 0); // nothing of it went upstream
        QVERIFY2(daemon.isRunning(), qPrintable(daemon.describe()));
        if (watcher)
            QVERIFY(!watcher->isClosed());
    }

    // A refused request after good pipelined ones: the good ones are
    // answered first, in order, then the error, then the close.
    void errorKeepsItsPlaceInThePipeline()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs()), qPrintable(daemon.describe()));
        RawClient client(daemon.port());
        QVERIFY(client.waitConnected());
        client.write(get("/r/pipe1/about.json") + get("/r/pipe2/about.json")
                         + "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                     {false, false, false});
        QVERIFY(client.waitForResponses(3));
        QCOMPARE(client.responses()[0].status, 200);
        QCOMPARE(client.responses()[0].json()["sub"].toString(), QStringLiteral("pipe1"));
        QCOMPARE(client.responses()[1].status, 200);
        QCOMPARE(client.responses()[1].json()["sub"].toString(), QStringLiteral("pipe2"));
        const QString e = checkJsonError(client.responses()[2], 400, QStringLiteral("bad_request"));
        QVERIFY2(e.isEmpty(), qPrintable(e));
        QVERIFY(client.waitForClosed());
    }

    void oversizedHeadersAre431()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs()), qPrintable(daemon.describe()));
        // One huge field, and many ordinary ones adding up past 64 KiB.
        const QByteArray one = "GET /r/x/hot.json HTTP/1.1\r\nHost: a\r\nX-Big: " + QByteArray(70 * 1024, 'a') + "\r\n\r\n";
        QString problem = refusedAndClosed(daemon.port(), one, 431, QStringLiteral("headers_too_large"));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        QByteArray many = "GET /r/x/hot.json HTTP/1.1\r\nHost: a\r\n";
        for (int i = 0; i < 1200; ++i)
            many += "X-Field-" + QByteArray::number(i) + ": " + QByteArray(50, 'v') + "\r\n";
        many += "\r\n";
        QVERIFY(many.size() > 64 * 1024);
        problem = refusedAndClosed(daemon.port(), many, 431, QStringLiteral("headers_too_large"));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        // Just below the bound is fine.
        const QByteArray fits = get("/r/fits/about.json", {{"X-Big", QByteArray(60 * 1024, 'b')}});
        const RawResponse ok = fetch(daemon.port(), fits);
        QVERIFY2(ok.status == 200, qPrintable(ok.describe()));
        QCOMPARE(m_reddit.targetCount("/r/x/hot.json"), 0);
    }

    void oversizedBodyIs413()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs() + QStringList{"--max-body-bytes", "1000"}),
                 qPrintable(daemon.describe()));
        // Announced too large: refused before the body is read.
        QString problem = refusedAndClosed(
            daemon.port(), "POST /api/comment HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n" + QByteArray(2000, 'x'),
            413, QStringLiteral("body_too_large"));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        // Chunked, growing past the bound.
        QByteArray chunked = "POST /api/comment HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (int i = 0; i < 4; ++i)
            chunked += "190\r\n" + QByteArray(400, 'y') + "\r\n";
        chunked += "0\r\n\r\n";
        problem = refusedAndClosed(daemon.port(), chunked, 413, QStringLiteral("body_too_large"));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        QCOMPARE(m_reddit.pathCount("/api/comment"), 0);
        // At the bound: forwarded.
        const RawResponse ok = fetch(daemon.port(), httpRequest("POST", "/api/comment", {}, QByteArray(1000, 'z')));
        QVERIFY2(ok.status == 401, qPrintable(ok.describe())); // the fake's answer: no token
        QCOMPARE(m_reddit.pathCount("/api/comment"), 1);
    }

    void slowHeadersAre408()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs() + QStringList{"--header-timeout", "0.5"}),
                 qPrintable(daemon.describe()));
        RawClient slow(daemon.port());
        QVERIFY(slow.waitConnected());
        QElapsedTimer timer;
        timer.start();
        slow.writePart("GET /r/x/hot.json HTTP/1.1\r\nHost: a\r\nX-Slow: ");
        slow.expect();
        QVERIFY(slow.waitForResponses(1, 5000));
        const qint64 elapsed = timer.elapsed();
        const QString e = checkJsonError(slow.responses().first(), 408, QStringLiteral("request_timeout"));
        QVERIFY2(e.isEmpty(), qPrintable(e));
        QVERIFY2(elapsed >= 400 && elapsed < 3000, qPrintable(QString::number(elapsed)));
        QVERIFY(slow.waitForClosed());

        // Silence after connect counts as slow headers too.
        RawClient silent(daemon.port());
        QVERIFY(silent.waitConnected());
        silent.expect();
        QVERIFY(silent.waitForResponses(1, 5000));
        QCOMPARE(silent.responses().first().status, 408);
        QVERIFY(silent.waitForClosed());
        QCOMPARE(m_reddit.targetCount("/r/x/hot.json"), 0);
    }

    void connectIs405()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs()), qPrintable(daemon.describe()));
        RawClient client(daemon.port());
        QVERIFY(client.waitConnected());
        const RawResponse r = client.request("CONNECT oauth.reddit.com:443 HTTP/1.1\r\nHost: oauth.reddit.com:443\r\n\r\n");
        const QString e = checkJsonError(r, 405, QStringLiteral("method_not_allowed"));
        QVERIFY2(e.isEmpty(), qPrintable(e));
        // What would have been the tunnel is never ours to read.
        QVERIFY(client.waitForClosed());
    }

    void disallowedHostIs403_data()
    {
        QTest::addColumn<QByteArray>("target");
        QTest::newRow("other host") << QByteArray("http://evil.example.com/r/x/hot.json");
        QTest::newRow("https other host") << QByteArray("https://www.example.org/api/v1/me");
        QTest::newRow("upstream host, other port") << QByteArray("http://127.0.0.1:1/r/x/hot.json");
        QTest::newRow("reddit, not a route here") << QByteArray("https://oauth.reddit.com/api/v1/me");
    }
    void disallowedHostIs403()
    {
        QFETCH(QByteArray, target);
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs()), qPrintable(daemon.describe()));
        RawClient client(daemon.port());
        QVERIFY(client.waitConnected());
        const RawResponse r = client.request(get(target));
        const QString e = checkJsonError(r, 403, QStringLiteral("host_not_allowed"));
        QVERIFY2(e.isEmpty(), qPrintable(e));
        // Not a protocol error: the connection stays usable.
        const RawResponse next = client.request(get("/r/after403/about.json"));
        QVERIFY2(next.status == 200, qPrintable(next.describe()));
        QCOMPARE(m_reddit.requestCount(), 1);
        m_reddit.clearLog();
    }

    void missingOrWrongTokenIs407()
    {
        ProcessFixture daemon;
        const QByteArray token = "s3cret-T0ken";
        QVERIFY2(startDaemon(daemon, baseArgs() + QStringList{"--auth-token", QString::fromLatin1(token)}),
                 qPrintable(daemon.describe()));
        const quint16 port = daemon.port();
        for (const QByteArray &given : {QByteArray(), QByteArray("Bearer wrong"), QByteArray("Bearer " + token + "x"),
                                        QByteArray("Basic " + token), QByteArray(token)}) {
            QList<QPair<QByteArray, QByteArray>> fields;
            if (!given.isEmpty())
                fields.append({"Proxy-Authorization", given});
            for (const QByteArray &target : {QByteArray("/r/tok/about.json"), QByteArray("/_mp/stats")}) {
                const RawResponse r = fetch(port, get(target, fields));
                const QString e = checkJsonError(r, 407, QStringLiteral("proxy_auth_required"));
                QVERIFY2(e.isEmpty(), qPrintable(given + ' ' + target + ": " + e));
                QVERIFY(!r.header("proxy-authenticate").isEmpty());
                QVERIFY(!r.body.contains(token));
            }
        }
        QCOMPARE(m_reddit.requestCount(), 0);
        const QList<QPair<QByteArray, QByteArray>> good{{"Proxy-Authorization", "Bearer " + token}};
        const RawResponse ok = fetch(port, get("/r/tok/about.json", good));
        QVERIFY2(ok.status == 200, qPrintable(ok.describe()));
        QCOMPARE(fetch(port, get("/_mp/health", good)).status, 200);
        // The token is the daemon's business, never the upstream's.
        QCOMPARE(m_reddit.requestCount(), 1);
        QVERIFY(!m_reddit.log().first().headers.contains("proxy-authorization"));
        m_reddit.clearLog();
        for (const QString &line : daemon.lines())
            QVERIFY2(!line.contains(QString::fromLatin1(token)), qPrintable(line));
    }

    void nonLoopbackNeedsTokenOrInsecure()
    {
        // Refused at start, with a message that says what to do.
        ProcessFixture refused;
        QVERIFY(!startDaemon(refused, baseArgs() + QStringList{"--addr", "0.0.0.0"}, 5000));
        QVERIFY(refused.waitForFinished());
        QVERIFY2(refused.exitStatus() == QProcess::NormalExit && refused.exitCode() != 0,
                 qPrintable(refused.describe()));
        QVERIFY2(refused.standardError().contains(QStringLiteral("--auth-token"))
                     && refused.standardError().contains(QStringLiteral("--insecure")),
                 qPrintable(refused.describe()));
        QVERIFY(!refused.standardOutput().contains(QStringLiteral("Listening on")));

        // With a token: listens on every address; loopback clients need it too.
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs() + QStringList{"--addr", "0.0.0.0", "--auth-token", "tok-123"}),
                 qPrintable(daemon.describe()));
        QCOMPARE(daemon.host(), QStringLiteral("0.0.0.0"));
        RawResponse r = fetch(daemon.port(), get("/r/nl/about.json"));
        QString e = checkJsonError(r, 407, QStringLiteral("proxy_auth_required"));
        QVERIFY2(e.isEmpty(), qPrintable(e));
        r = fetch(daemon.port(), get("/r/nl/about.json", {{"Proxy-Authorization", "Bearer tok-123"}}));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QVERIFY(daemon.stop());
        m_reddit.clearLog();
    }

    void tooManyClientsIs503()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs() + QStringList{"--max-clients", "2"}), qPrintable(daemon.describe()));
        const quint16 port = daemon.port();
        auto a = std::make_unique<RawClient>(port);
        RawClient b(port);
        QVERIFY(a->waitConnected() && b.waitConnected());
        QCOMPARE(a->request(get("/_mp/health")).status, 200);
        QCOMPARE(b.request(get("/_mp/health")).status, 200);

        RawClient third(port);
        QVERIFY(third.waitConnected());
        third.expect();
        QVERIFY(third.waitForResponses(1));
        const QString e = checkJsonError(third.responses().first(), 503, QStringLiteral("too_many_clients"));
        QVERIFY2(e.isEmpty(), qPrintable(e));
        QVERIFY(third.waitForClosed());

        // The two admitted keep being served.
        QCOMPARE(a->request(get("/r/mc/about.json")).status, 200);
        QCOMPARE(b.request(get("/r/mc/about.json")).status, 200);

        // A freed place is taken by the next one.
        a.reset();
        // (Latched: QTRY_* evaluates again after success, which would open one more connection.)
        bool admitted = false;
        QTRY_VERIFY_WITH_TIMEOUT(admitted || (admitted = fetch(port, get("/_mp/health")).status == 200), 5000);
        m_reddit.clearLog();
    }

    void upstreamFailuresAre502And504()
    {
        // Nobody listens upstream.
        const quint16 closed = prawmp::test::freeLoopbackPort();
        ProcessFixture unreachable;
        QVERIFY2(startDaemon(unreachable, {"--upstream", upstreamArg(closed), "--rate-mode", "fixed", "--delay", "0"}),
                 qPrintable(unreachable.describe()));
        RawResponse r = fetch(unreachable.port(), get("/r/x/about.json"));
        QString e = checkJsonError(r, 502, QStringLiteral("connection_failed"));
        QVERIFY2(e.isEmpty(), qPrintable(e));
        QVERIFY(unreachable.stop());

        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs() + QStringList{"--upstream-timeout", "1"}), qPrintable(daemon.describe()));
        RawClient client(daemon.port());
        QVERIFY(client.waitConnected());
        // Not HTTP, or cut short: a bad answer.
        for (const QByteArray fault : {"garbage", "partial", "drop"}) {
            r = client.request(get("/r/bad/about.json?__fault=" + fault));
            e = checkJsonError(r, 502);
            QVERIFY2(e.isEmpty(), qPrintable(fault + ": " + e));
        }
        // No answer in time.
        QElapsedTimer timer;
        timer.start();
        r = client.request(get("/r/slow/about.json?__fault=hang"));
        e = checkJsonError(r, 504, QStringLiteral("upstream_timeout"));
        QVERIFY2(e.isEmpty(), qPrintable(e));
        QVERIFY2(timer.elapsed() >= 900 && timer.elapsed() < 3000, qPrintable(QString::number(timer.elapsed())));
        // Errors are not cached, and the client connection survived them all.
        // (QNAM itself resends a GET whose answer is not HTTP, up to 3 times:
        // count the sends of one request rather than assume 1.)
        const int sendsPerRequest = m_reddit.targetCount("/r/bad/about.json?__fault=garbage");
        QVERIFY(sendsPerRequest >= 1);
        QCOMPARE(client.request(get("/r/bad/about.json?__fault=garbage")).status, 502);
        QCOMPARE(m_reddit.targetCount("/r/bad/about.json?__fault=garbage"), 2 * sendsPerRequest);
        QVERIFY(client.isConnected());
    }

    // Bad clients of every kind while a good one works on keep-alive.
    void badClientsDoNotDisturbAGoodOne()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs() + QStringList{"--header-timeout", "1", "--max-body-bytes", "4096"}),
                 qPrintable(daemon.describe()));
        const quint16 port = daemon.port();
        RawClient good(port);
        QVERIFY(good.waitConnected());

        RawClient slowloris(port);
        QVERIFY(slowloris.waitConnected());
        slowloris.writePart("GET /r/x/hot.json HTTP/1.1\r\nHost: a\r\n");
        RawClient half(port); // a body that never completes
        QVERIFY(half.waitConnected());
        half.writePart("POST /api/comment HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc");
        std::vector<std::unique_ptr<RawClient>> bad;
        const QByteArray bads[] = {
            QByteArray("GARBAGE\r\n\r\n"),
            "GET /r/x/hot.json HTTP/1.1\r\nHost: a\r\nX-Big: " + QByteArray(70 * 1024, 'q') + "\r\n\r\n",
            QByteArray("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            QByteArray("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 99999\r\n\r\n"),
            QByteArray("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"),
            QByteArray("GET http://evil.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n"),
        };
        for (int round = 0; round < 5; ++round) {
            for (const QByteArray &b : bads) {
                bad.push_back(std::make_unique<RawClient>(port));
                bad.back()->write(b);
            }
            // A client that connects and resets at once.
            RawClient rude(port);
            QVERIFY(rude.waitConnected());
            rude.socket()->write("GET /r/");
            rude.close();

            const QElapsedTimer started = [] { QElapsedTimer t; t.start(); return t; }();
            const RawResponse r = good.request(get("/r/good" + QByteArray::number(round) + "/about.json"));
            QVERIFY2(r.status == 200, qPrintable(r.describe()));
            QVERIFY2(started.elapsed() < 1000, qPrintable(QString::number(started.elapsed())));
            QCOMPARE(r.json()["sub"].toString(), QStringLiteral("good%1").arg(round));
        }
        for (size_t i = 0; i < bad.size(); ++i) {
            const bool answered = bad[i]->waitForResponses(1);
            QVERIFY2(answered && bad[i]->responses().first().status >= 400,
                     qPrintable(QStringLiteral("bad client %1 (%2): %3 closed=%4 unparsed=%5")
                                    .arg(i).arg(QString::fromLatin1(bads[i % std::size(bads)].left(30)))
                                    .arg(answered ? bad[i]->responses().first().describe() : QStringLiteral("no answer"))
                                    .arg(bad[i]->isClosed()).arg(QString::fromLatin1(bad[i]->unparsed().left(100)))));
        }
        QVERIFY(good.isConnected());
        // The slow ones get their 408 in time; the good one is still fine.
        QVERIFY(slowloris.waitForResponses(1, 5000));
        QCOMPARE(slowloris.responses().first().status, 408);
        QVERIFY(good.request(get("/_mp/health")).status == 200);
        QVERIFY2(daemon.isRunning(), qPrintable(daemon.describe()));
        // Only the good requests went upstream.
        for (const auto &record : m_reddit.log())
            QVERIFY2(record.path.startsWith("/r/good"), record.target.constData());
        m_reddit.clearLog();
    }
};

QTEST_GUILESS_MAIN(TestDaemonErrors)
#include "tst_daemon_errors.moc"
