// needs: praw-multiprocess
// The proxy path of the real daemon process: pipelining, the cache
// (X-Cache, Age, no-cache, PURGE, /_mp/evict, write-eviction, credentials),
// coalescing, HEAD, request bodies, header hygiene, absolute-form and
// routing, and a queued request whose client leaves.
#include "DaemonTestKit.h"

#include <QDateTime>

#include <algorithm>

using namespace dtk;
using prawmp::test::FakeReddit;
using prawmp::test::FakeRedditOptions;

namespace {

using Fields = QList<QPair<QByteArray, QByteArray>>;

int serialOf(const RawResponse &r)
{
    return r.json()["serial"].toInt(-1);
}

} // namespace

class TestDaemonProxy : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<FakeReddit> m_reddit;
    ProcessFixture m_daemon; // fixed pace 0, upstream = m_reddit

    quint16 port() const { return m_daemon.port(); }
    QStringList argsFor(quint16 upstreamPort) const
    {
        return {QStringLiteral("--upstream"), upstreamArg(upstreamPort), QStringLiteral("--rate-mode"),
                QStringLiteral("fixed"), QStringLiteral("--delay"), QStringLiteral("0")};
    }
    QByteArray fakeBase() const { return "http://127.0.0.1:" + QByteArray::number(m_reddit->port()); }

private slots:
    void initTestCase()
    {
        if (prawmp::test::daemonProgram().isEmpty())
            QSKIP("praw-multiprocess is not built");
        FakeRedditOptions options;
        options.alsoIpv6 = true; // "localhost" may resolve to ::1 first
        m_reddit = std::make_unique<FakeReddit>(options);
        QVERIFY(m_reddit->listen());
        QVERIFY2(startDaemon(m_daemon, argsFor(m_reddit->port())), qPrintable(m_daemon.describe()));
    }
    void init() { m_reddit->clearLog(); }
    void cleanupTestCase()
    {
        if (m_daemon.isRunning())
            QVERIFY2(m_daemon.stop(), qPrintable(m_daemon.describe()));
    }

    // The serving threads' byte I/O is the backend PRAWMP_IO_BACKEND names
    // (this suite runs again as tst_daemon_proxy_poll), epoll by default.
    void servingThreadsUseTheChosenIoBackend()
    {
        const QString wanted = qEnvironmentVariable("PRAWMP_IO_BACKEND", QStringLiteral("epoll"));
        const QJsonObject engine = fetchJson(port(), "/_mp/stats")["engine"].toObject();
        QVERIFY(engine["servingThreads"].toInt() > 0);
        QCOMPARE(engine["ioBackend"].toString(), wanted);
    }

    void pipelinedRequestsAreAnsweredInOrder()
    {
        RawClient client(port());
        QVERIFY(client.waitConnected());
        // The first is the slowest upstream: the daemon must hold the others back.
        client.write(get("/r/pipeA/about.json?__delay_ms=300") + get("/r/pipeB/about.json?__delay_ms=100")
                         + get("/r/pipeC/about.json"),
                     {false, false, false});
        QVERIFY(client.waitForResponses(3));
        QCOMPARE(client.responses().size(), 3);
        const QStringList subs{QStringLiteral("pipeA"), QStringLiteral("pipeB"), QStringLiteral("pipeC")};
        for (int i = 0; i < 3; ++i) {
            const RawResponse &r = client.responses()[i];
            QVERIFY2(r.status == 200, qPrintable(r.describe()));
            QCOMPARE(r.json()["sub"].toString(), subs[i]);
        }
        // They were sent upstream together, not one after another.
        QCOMPARE(m_reddit->requestCount(), 3);
        QVERIFY(client.isConnected());
        // And the connection goes on.
        QCOMPARE(client.request(get("/r/pipeD/about.json")).json()["sub"].toString(), QStringLiteral("pipeD"));
    }

    void secondGetIsAHitWithTheSameBody()
    {
        RawClient client(port());
        QVERIFY(client.waitConnected());
        const RawResponse first = client.request(get("/r/cache1/hot.json?limit=3&t=day"));
        QVERIFY2(first.status == 200, qPrintable(first.describe()));
        QCOMPARE(first.header("x-cache"), QByteArray("MISS"));
        QVERIFY(!first.headers.contains("age"));
        QCOMPARE(serialOf(first), 1);

        QTest::qWait(1100); // so that Age is at least 1
        const RawResponse second = client.request(get("/r/cache1/hot.json?limit=3&t=day"));
        QVERIFY2(second.status == 200, qPrintable(second.describe()));
        QCOMPARE(second.header("x-cache"), QByteArray("HIT"));
        QCOMPARE(second.body, first.body);
        QCOMPARE(second.header("x-fake-serial"), QByteArray("1"));
        bool ok = false;
        const int age = second.header("age").toInt(&ok);
        QVERIFY2(ok && age >= 1 && age <= 3, second.header("age").constData());
        // Same URL, parameters in another order: the same entry.
        const RawResponse third = fetch(port(), get("/r/cache1/hot.json?t=day&limit=3"));
        QCOMPARE(third.header("x-cache"), QByteArray("HIT"));
        QCOMPARE(third.body, first.body);
        QCOMPARE(m_reddit->requestCount(), 1);
    }

    void noCacheRefreshesTheEntry()
    {
        const QByteArray target = "/r/cache2/about.json";
        QCOMPARE(serialOf(fetch(port(), get(target))), 1);
        QCOMPARE(fetch(port(), get(target)).header("x-cache"), QByteArray("HIT"));

        const RawResponse fresh = fetch(port(), get(target, {{"Cache-Control", "no-cache"}}));
        QVERIFY2(fresh.status == 200, qPrintable(fresh.describe()));
        QCOMPARE(fresh.header("x-cache"), QByteArray("BYPASS"));
        QCOMPARE(serialOf(fresh), 2);
        // The entry now holds the refreshed answer.
        const RawResponse after = fetch(port(), get(target));
        QCOMPARE(after.header("x-cache"), QByteArray("HIT"));
        QCOMPARE(serialOf(after), 2);
        // Pragma: no-cache is the HTTP/1.0 spelling.
        QCOMPARE(serialOf(fetch(port(), get(target, {{"Pragma", "no-cache"}}))), 3);
        QCOMPARE(m_reddit->targetCount(target), 3);
    }

    void purgeAndEvictReturnCountsAndTheNextGetMisses()
    {
        const QByteArray c = "/r/purge1/about.json";
        const QByteArray d = "/r/purge2/about.json";
        QCOMPARE(fetch(port(), get(c)).header("x-cache"), QByteArray("MISS"));
        QCOMPARE(fetch(port(), get(c)).header("x-cache"), QByteArray("HIT"));

        // PURGE, origin-form.
        RawResponse r = fetch(port(), httpRequest("PURGE", c));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json()["evicted"].toInt(-1), 1);
        r = fetch(port(), get(c));
        QCOMPARE(r.header("x-cache"), QByteArray("MISS"));
        QCOMPARE(serialOf(r), 2);
        // Nothing left to purge twice... after a second purge.
        QCOMPARE(fetch(port(), httpRequest("PURGE", c)).json()["evicted"].toInt(-1), 1);
        QCOMPARE(fetch(port(), httpRequest("PURGE", c)).json()["evicted"].toInt(-1), 0);

        // PURGE, absolute-form.
        QCOMPARE(fetch(port(), get(c)).header("x-cache"), QByteArray("MISS"));
        r = fetch(port(), httpRequest("PURGE", fakeBase() + c));
        QCOMPARE(r.json()["evicted"].toInt(-1), 1);
        QCOMPARE(fetch(port(), get(c)).header("x-cache"), QByteArray("MISS"));

        // POST /_mp/evict with both forms; every credential variant goes.
        QCOMPARE(fetch(port(), get(d, {{"Authorization", "bearer one"}})).header("x-cache"), QByteArray("MISS"));
        QCOMPARE(fetch(port(), get(d, {{"Authorization", "bearer two"}})).header("x-cache"), QByteArray("MISS"));
        QCOMPARE(fetch(port(), get(c)).header("x-cache"), QByteArray("HIT"));
        // (No raw string here: moc 6.4 loses the class after R"(", ")".)
        const QByteArray body = "{\"urls\": [\"" + c + "\", \"" + fakeBase() + d + "\"]}";
        r = fetch(port(), httpRequest("POST", "/_mp/evict", {{"Content-Type", "application/json"}}, body));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json()["evicted"].toInt(-1), 3);
        QCOMPARE(fetch(port(), get(c)).header("x-cache"), QByteArray("MISS"));
        QCOMPARE(fetch(port(), get(d, {{"Authorization", "bearer one"}})).header("x-cache"), QByteArray("MISS"));

        // A bad evict body is the contract's 400.
        r = fetch(port(), httpRequest("POST", "/_mp/evict", {}, "not json"));
        const QString e = checkJsonError(r, 400);
        QVERIFY2(e.isEmpty(), qPrintable(e));
        // /_mp/clear empties everything and says how much.
        r = fetch(port(), httpRequest("POST", "/_mp/clear"));
        QVERIFY(r.json()["cleared"].toInt(-1) >= 2);
        QCOMPARE(fetch(port(), get(c)).header("x-cache"), QByteArray("MISS"));
    }

    void writeMethodsEvictTheirUrl()
    {
        ScriptedUpstream upstream;
        QVERIFY(upstream.listen());
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, argsFor(upstream.port())), qPrintable(daemon.describe()));
        const quint16 p = daemon.port();
        const QByteArray target = "/things/1?x=1";

        QCOMPARE(fetch(p, get(target)).header("x-cache"), QByteArray("MISS"));
        QCOMPARE(fetch(p, get(target)).header("x-cache"), QByteArray("HIT"));
        for (const QByteArray &method : {QByteArray("POST"), QByteArray("PUT"), QByteArray("PATCH"), QByteArray("DELETE")}) {
            const RawResponse w = fetch(p, httpRequest(method, target, {}, "a=b"));
            QVERIFY2(w.status == 200, qPrintable(w.describe()));
            QCOMPARE(w.header("x-cache"), QByteArray("BYPASS"));
            QCOMPARE(w.json()["method"].toString(), QString::fromLatin1(method));
            QVERIFY2(fetch(p, get(target)).header("x-cache") == "MISS", method.constData());
            QCOMPARE(fetch(p, get(target)).header("x-cache"), QByteArray("HIT"));
        }
        // A failed write changes nothing upstream: the entry stays.
        upstream.setStatus(403);
        QCOMPARE(fetch(p, httpRequest("POST", target, {}, "a=b")).status, 403);
        upstream.setStatus(200);
        QCOMPARE(fetch(p, get(target)).header("x-cache"), QByteArray("HIT"));
        // Writes are never cached.
        const int before = upstream.count();
        fetch(p, httpRequest("POST", "/things/2", {}, "x"));
        fetch(p, httpRequest("POST", "/things/2", {}, "x"));
        QCOMPARE(upstream.count(), before + 2);
        QVERIFY(daemon.stop());
    }

    void differentCredentialsNeverShareAnEntry()
    {
        const QString alice = m_reddit->issueToken(QStringLiteral("alice"));
        const QString bob = m_reddit->issueToken(QStringLiteral("bob"));
        const QByteArray target = "/r/private/hot.json?limit=2";
        const Fields asAlice{{"Authorization", "bearer " + alice.toLatin1()}};
        const Fields asBob{{"Authorization", "bearer " + bob.toLatin1()}};

        RawResponse a = fetch(port(), get(target, asAlice));
        QCOMPARE(a.header("x-cache"), QByteArray("MISS"));
        QCOMPARE(a.json()["user"].toString(), QStringLiteral("alice"));
        RawResponse b = fetch(port(), get(target, asBob));
        QCOMPARE(b.header("x-cache"), QByteArray("MISS"));
        QCOMPARE(b.json()["user"].toString(), QStringLiteral("bob"));
        RawResponse anon = fetch(port(), get(target));
        QCOMPARE(anon.header("x-cache"), QByteArray("MISS"));
        QVERIFY(anon.json()["user"].isNull());
        RawResponse cookie = fetch(port(), get(target, {{"Cookie", "reddit_session=abc"}}));
        QCOMPARE(cookie.header("x-cache"), QByteArray("MISS"));

        a = fetch(port(), get(target, asAlice));
        QCOMPARE(a.header("x-cache"), QByteArray("HIT"));
        QCOMPARE(a.json()["user"].toString(), QStringLiteral("alice"));
        b = fetch(port(), get(target, asBob));
        QCOMPARE(b.header("x-cache"), QByteArray("HIT"));
        QCOMPARE(b.json()["user"].toString(), QStringLiteral("bob"));
        anon = fetch(port(), get(target));
        QCOMPARE(anon.header("x-cache"), QByteArray("HIT"));
        QVERIFY(anon.json()["user"].isNull());
        QCOMPARE(m_reddit->targetCount(target), 4);
    }

    void differentAcceptEncodingNeverSharesAnEntry()
    {
        // Accept-Encoding passes to the upstream, so a gzip answer is kept
        // apart from a plain one; the same set of codings shares an entry,
        // on the main thread and on the serving threads alike.
        const QByteArray target = "/r/encodings/hot.json?limit=2";
        const RawResponse gzipFirst = fetch(port(), get(target, {{"Accept-Encoding", "gzip, deflate"}}));
        QCOMPARE(gzipFirst.header("x-cache"), QByteArray("MISS"));
        const RawResponse plainFirst = fetch(port(), get(target));
        QCOMPARE(plainFirst.header("x-cache"), QByteArray("MISS"));
        QVERIFY(gzipFirst.body != plainFirst.body); // the fake's serial tells them apart
        for (int i = 0; i < 3; ++i) {
            const RawResponse gzip = fetch(port(), get(target, {{"Accept-Encoding", "deflate,GZIP"}}));
            QCOMPARE(gzip.header("x-cache"), QByteArray("HIT"));
            QCOMPARE(gzip.body, gzipFirst.body);
            const RawResponse plain = fetch(port(), get(target));
            QCOMPARE(plain.header("x-cache"), QByteArray("HIT"));
            QCOMPARE(plain.body, plainFirst.body);
        }
        QCOMPARE(fetch(port(), get(target, {{"Accept-Encoding", "br"}})).header("x-cache"), QByteArray("MISS"));
        QCOMPARE(m_reddit->targetCount(target), 3);
    }

    void identicalRequestsInFlightShareOneUpstreamCall()
    {
        const QByteArray target = "/r/coalesce/about.json?__delay_ms=400";
        std::vector<std::unique_ptr<RawClient>> clients;
        for (int i = 0; i < 5; ++i) {
            clients.push_back(std::make_unique<RawClient>(port()));
            QVERIFY(clients.back()->waitConnected());
        }
        for (auto &c : clients)
            c->write(get(target, {{"User-Agent", "coalescer"}}));
        QByteArrayList statuses;
        QByteArray body;
        for (auto &c : clients) {
            QVERIFY(c->waitForResponses(1));
            const RawResponse &r = c->responses().first();
            QCOMPARE(r.status, 200);
            if (body.isEmpty())
                body = r.body;
            QCOMPARE(r.body, body);
            statuses << r.header("x-cache");
        }
        QCOMPARE(statuses.count("MISS"), 1);
        QCOMPARE(statuses.count("COALESCED"), 4);
        QCOMPARE(m_reddit->targetCount(target), 1);
    }

    void headIsAnsweredWithoutABody()
    {
        const QByteArray target = "/r/headsub/about.json";
        RawClient client(port());
        QVERIFY(client.waitConnected());
        QElapsedTimer timer;
        timer.start();
        const RawResponse head = client.request(httpRequest("HEAD", target), true, 5000);
        QVERIFY2(head.status == 200, qPrintable(QStringLiteral("after %1 ms: ").arg(timer.elapsed()) + head.describe()));
        QVERIFY(head.body.isEmpty());
        QCOMPARE(head.header("x-cache"), QByteArray("MISS"));
        QCOMPARE(m_reddit->log().last().method, QByteArray("HEAD"));

        // A GET after it is not served the body-less answer...
        const RawResponse full = client.request(get(target));
        QVERIFY2(full.status == 200, qPrintable(full.describe()));
        QCOMPARE(full.header("x-cache"), QByteArray("MISS"));
        QVERIFY(!full.body.isEmpty());
        // ...and the HEAD answer announced the length the GET has.
        QCOMPARE(head.header("content-length"), QByteArray::number(full.body.size()));
        // HEAD answers are cached too; no body bytes leak onto the connection.
        const RawResponse again = client.request(httpRequest("HEAD", target), true);
        QCOMPARE(again.header("x-cache"), QByteArray("HIT"));
        QCOMPARE(again.header("content-length"), QByteArray::number(full.body.size()));
        QCOMPARE(client.request(get("/r/afterhead/about.json")).json()["sub"].toString(), QStringLiteral("afterhead"));
        QVERIFY(client.unparsed().isEmpty());
    }

    void chunkedRequestBodyIsForwarded()
    {
        const QString token = m_reddit->issueToken(QStringLiteral("carol"));
        const QByteArray form = "thing_id=t3_abc&text=hello+chunked+world";
        QByteArray request = "POST /api/comment HTTP/1.1\r\nHost: a\r\nAuthorization: bearer " + token.toLatin1()
                             + "\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (qsizetype i = 0; i < form.size(); i += 7) {
            const QByteArray piece = form.mid(i, 7);
            request += QByteArray::number(piece.size(), 16) + "\r\n" + piece + "\r\n";
        }
        request += "0\r\n\r\n";
        RawClient client(port());
        QVERIFY(client.waitConnected());
        const RawResponse r = client.request(request);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.header("x-cache"), QByteArray("BYPASS"));
        const QJsonObject comment = r.json()["json"].toObject()["data"].toObject()["things"].toArray()
                                        .first().toObject()["data"].toObject();
        QCOMPARE(comment["body"].toString(), QStringLiteral("hello chunked world"));
        QCOMPARE(comment["author"].toString(), QStringLiteral("carol"));
        const auto record = m_reddit->log().last();
        QCOMPARE(record.bodySize, form.size());
    }

    void expectContinueIsHonoured()
    {
        const QString token = m_reddit->issueToken(QStringLiteral("dave"));
        const QByteArray form = "thing_id=t3_xyz&text=after+continue";
        RawClient client(port());
        QVERIFY(client.waitConnected());
        client.writePart("POST /api/comment HTTP/1.1\r\nHost: a\r\nAuthorization: bearer " + token.toLatin1()
                         + "\r\nContent-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\n"
                           "Content-Length: " + QByteArray::number(form.size()) + "\r\n\r\n");
        client.expect();
        // The body is only sent once the daemon asked for it.
        QTRY_VERIFY_WITH_TIMEOUT(client.pendingInterim().contains(100), 3000);
        QCOMPARE(m_reddit->requestCount(), 0);
        client.writePart(form);
        QVERIFY(client.waitForResponses(1));
        const RawResponse r = client.responses().first();
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.interim, QList<int>{100});
        QVERIFY(r.body.contains("after continue"));
        const auto record = m_reddit->log().last();
        QCOMPARE(record.bodySize, form.size());
        QVERIFY(!record.headers.contains("expect"));
    }

    void hopByHopHeadersAreStrippedBothWays()
    {
        // Client -> upstream.
        const Fields fields{{"Connection", "keep-alive, X-Hop-Secret"},
                            {"X-Hop-Secret", "must-not-pass"},
                            {"Keep-Alive", "timeout=5"},
                            {"Proxy-Authorization", "Basic Zm9vOmJhcg=="},
                            {"Proxy-Connection", "keep-alive"},
                            {"TE", "trailers"},
                            {"Upgrade", "h2c"},
                            {"X-Mp-Max-Wait", "30"},
                            {"User-Agent", "dtk-hop/1.0"},
                            {"Authorization", "bearer e2e-token"},
                            {"Cookie", "a=b"},
                            {"Accept-Language", "fr"},
                            {"X-End-To-End", "kept"}};
        const RawResponse r = fetch(port(), get("/r/hop/about.json", fields));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(m_reddit->requestCount(), 1);
        const HttpHeaders got = m_reddit->log().first().headers;
        QString all;
        for (const auto &f : got.fields())
            all += QString::fromLatin1(f.first + ": " + f.second + "\n");
        for (const QByteArray &hop : {"x-hop-secret", "keep-alive", "proxy-authorization", "proxy-connection", "te",
                                      "upgrade", "x-mp-max-wait", "expect"})
            QVERIFY2(!got.contains(hop), qPrintable(QString::fromLatin1(hop) + " reached upstream:\n" + all));
        QVERIFY2(!got.value("connection").toLower().contains("x-hop-secret"), qPrintable(all));
        QCOMPARE(got.value("user-agent"), QByteArray("dtk-hop/1.0"));
        QCOMPARE(got.value("authorization"), QByteArray("bearer e2e-token"));
        QCOMPARE(got.value("cookie"), QByteArray("a=b"));
        QCOMPARE(got.value("accept-language"), QByteArray("fr"));
        QCOMPARE(got.value("x-end-to-end"), QByteArray("kept"));

        // Upstream -> client.
        ScriptedUpstream upstream;
        QVERIFY(upstream.listen());
        upstream.setExtraFields({{"Connection", "X-Resp-Hop"},
                                 {"X-Resp-Hop", "secret"},
                                 {"Keep-Alive", "timeout=5, max=100"},
                                 {"Proxy-Authenticate", "Basic realm=\"up\""},
                                 {"Proxy-Connection", "keep-alive"},
                                 {"Set-Cookie", "s=1"},
                                 {"X-Resp-E2E", "kept"}});
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, argsFor(upstream.port())), qPrintable(daemon.describe()));
        RawClient client(daemon.port());
        QVERIFY(client.waitConnected());
        const RawResponse back = client.request(get("/anything"));
        QVERIFY2(back.status == 200, qPrintable(back.describe()));
        for (const QByteArray &hop : {"x-resp-hop", "keep-alive", "proxy-authenticate", "proxy-connection"})
            QVERIFY2(!back.headers.contains(hop), qPrintable(QString::fromLatin1(hop) + " reached the client:\n" + back.describe()));
        QVERIFY2(!back.header("connection").toLower().contains("x-resp-hop"), qPrintable(back.describe()));
        QCOMPARE(back.header("x-resp-e2e"), QByteArray("kept"));
        QCOMPARE(back.header("set-cookie"), QByteArray("s=1"));
        // The connection is still ours to use (upstream's Connection did not leak into framing).
        QCOMPARE(client.request(get("/anything-else")).status, 200);
        QVERIFY(daemon.stop());
    }

    void absoluteFormReachesAnAllowedHost()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, argsFor(m_reddit->port()) + QStringList{"--allow-host", "localhost"}),
                 qPrintable(daemon.describe()));
        RawClient client(daemon.port());
        QVERIFY(client.waitConnected());
        // What curl -x sends: absolute-form, Proxy-Connection.
        const QByteArray viaRoute = "GET " + fakeBase() + "/r/abs1/about.json HTTP/1.1\r\nHost: 127.0.0.1:"
                                    + QByteArray::number(m_reddit->port())
                                    + "\r\nUser-Agent: curl/7.88.1\r\nProxy-Connection: Keep-Alive\r\n\r\n";
        RawResponse r = client.request(viaRoute);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json()["sub"].toString(), QStringLiteral("abs1"));
        const QByteArray viaAllowHost = "GET http://localhost:" + QByteArray::number(m_reddit->port())
                                        + "/r/abs2/about.json?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n";
        r = client.request(viaAllowHost);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json()["sub"].toString(), QStringLiteral("abs2"));
        // Upstream got origin-form requests, no proxy fields.
        QCOMPARE(m_reddit->requestCount(), 2);
        QCOMPARE(m_reddit->log()[0].target, QByteArray("/r/abs1/about.json"));
        QCOMPARE(m_reddit->log()[1].target, QByteArray("/r/abs2/about.json?x=1"));
        QVERIFY(!m_reddit->log()[0].headers.contains("proxy-connection"));
        // Not allowed: 403, nothing sent.
        r = client.request(get("http://127.0.0.2:" + QByteArray::number(m_reddit->port()) + "/r/abs3/about.json"));
        QCOMPARE(r.status, 403);
        QCOMPARE(m_reddit->requestCount(), 2);
        QVERIFY(daemon.stop());
    }

    void routePrefixesPickTheLongest()
    {
        FakeReddit b, c;
        QVERIFY(b.listen() && c.listen());
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, argsFor(m_reddit->port())
                                         + QStringList{"--route", "/r/sp=" + upstreamArg(b.port()),
                                                       "--route", "/r/special=" + upstreamArg(c.port())}),
                 qPrintable(daemon.describe()));
        const quint16 p = daemon.port();
        QCOMPARE(fetch(p, get("/r/special/about.json")).json()["sub"].toString(), QStringLiteral("special"));
        QCOMPARE(fetch(p, get("/r/sp/about.json")).json()["sub"].toString(), QStringLiteral("sp"));
        QCOMPARE(fetch(p, get("/r/other/about.json")).json()["sub"].toString(), QStringLiteral("other"));
        // --upstream also carries the token route.
        QCOMPARE(fetch(p, httpRequest("POST", "/api/v1/access_token", {}, "grant_type=client_credentials")).status, 401);
        QCOMPARE(c.requestCount(), 1);
        QCOMPARE(c.log().first().target, QByteArray("/r/special/about.json"));
        QCOMPARE(b.requestCount(), 1);
        QCOMPARE(b.log().first().target, QByteArray("/r/sp/about.json"));
        QCOMPARE(m_reddit->requestCount(), 2);
        QCOMPARE(m_reddit->log()[0].target, QByteArray("/r/other/about.json"));
        QCOMPARE(m_reddit->log()[1].target, QByteArray("/api/v1/access_token"));
        // The route targets are allowed hosts for absolute-form requests.
        const RawResponse abs = fetch(p, get(upstreamArg(b.port()).toLatin1() + "/r/absb/about.json"));
        QCOMPARE(abs.status, 200);
        QCOMPARE(b.requestCount(), 2);
        QVERIFY(daemon.stop());
    }

    void upstreamStatusesPassThroughUnchanged()
    {
        RawResponse r = fetch(port(), get("/no/such/endpoint"));
        QCOMPARE(r.status, 404);
        QCOMPARE(r.header("x-cache"), QByteArray("MISS"));
        r = fetch(port(), get("/no/such/endpoint"));
        QCOMPARE(r.status, 404);
        QCOMPARE(r.header("x-cache"), QByteArray("MISS")); // 404 is not cached
        r = fetch(port(), get("/r/err/about.json?__fault=500"));
        QCOMPARE(r.status, 500);
        QCOMPARE(r.header("x-cache"), QByteArray("MISS"));
        // A 302 is passed through (not followed) and cached.
        r = fetch(port(), get("/redirect?to=/r/target/hot.json"));
        QCOMPARE(r.status, 302);
        QCOMPARE(r.header("location"), QByteArray("/r/target/hot.json"));
        r = fetch(port(), get("/redirect?to=/r/target/hot.json"));
        QCOMPARE(r.status, 302);
        QCOMPARE(r.header("x-cache"), QByteArray("HIT"));
        QCOMPARE(m_reddit->requestCount(), 4);
    }

    void clientDisconnectingWhileQueuedNeverReachesUpstream()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, {"--upstream", upstreamArg(m_reddit->port()), "--rate-mode", "fixed",
                                      "--delay", "1.5"}),
                 qPrintable(daemon.describe()));
        const quint16 p = daemon.port();
        QCOMPARE(fetch(p, get("/r/q1/about.json")).status, 200); // spends the slot

        auto leaving = std::make_unique<RawClient>(p);
        QVERIFY(leaving->waitConnected());
        leaving->write(get("/r/q2/about.json", {{"User-Agent", "leaver"}}));
        const auto queued = [p] {
            const QJsonArray domains = fetchJson(p, "/_mp/stats")["domains"].toArray();
            return domains.isEmpty() ? -1 : domains.first().toObject()["queued"].toInt();
        };
        QTRY_COMPARE_WITH_TIMEOUT(queued(), 1, 1000);
        leaving.reset(); // gone while queued
        QTRY_COMPARE_WITH_TIMEOUT(queued(), 0, 1000);

        // The next request takes the slot the leaver would have had.
        const qint64 q3SentAt = QDateTime::currentMSecsSinceEpoch();
        const RawResponse r = fetch(p, get("/r/q3/about.json", {{"User-Agent", "stayer"}}), false, 5000);
        QCOMPARE(r.status, 200);
        QTest::qWait(300);
        QCOMPARE(m_reddit->targetCount("/r/q2/about.json"), 0);
        QCOMPARE(m_reddit->targetCount("/r/q3/about.json"), 1);
        const auto log = m_reddit->log();
        QCOMPARE(log.size(), 2);
        const qint64 gap = log[1].arrivalEpochMs - log[0].arrivalEpochMs;
        // One slot (1.5 s) after q1, or at once if this test sent q3 later
        // than that, and never two slots: the leaver's slot was not spent.
        // (Pacing precision is tst_daemon_ratelimit's business; q1 here also
        // carries QNAM's first-request warm-up.)
        const qint64 sent = q3SentAt - log[0].arrivalEpochMs;
        QVERIFY2(gap >= 1000 && gap < std::max<qint64>(sent, 1500) + 1000,
                 qPrintable(QStringLiteral("gap %1 ms, q3 sent %2 ms after q1 arrived").arg(gap).arg(sent)));
        QVERIFY(daemon.stop());
    }
};

QTEST_GUILESS_MAIN(TestDaemonProxy)
#include "tst_daemon_proxy.moc"
