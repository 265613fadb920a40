// The fake Reddit upstream and the process fixture every later test builds on.
#include "FakeReddit.h"
#include "ProcessFixture.h"
#include "TestPorts.h"
#include "TestPrograms.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QPointer>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTest>
#include <QUrlQuery>

#include <algorithm>
#include <csignal>
#include <memory>
#include <vector>

using namespace prawmp::test;

namespace {

struct HttpResult
{
    bool finished = false;
    QNetworkReply::NetworkError error = QNetworkReply::NoError;
    QString errorString;
    int status = 0;
    QByteArray body;
    QList<QNetworkReply::RawHeaderPair> headers;

    QByteArray header(const QByteArray &name) const
    {
        for (const auto &h : headers) {
            if (h.first.compare(name, Qt::CaseInsensitive) == 0)
                return h.second;
        }
        return {};
    }
    bool hasHeader(const QByteArray &name) const
    {
        for (const auto &h : headers) {
            if (h.first.compare(name, Qt::CaseInsensitive) == 0)
                return true;
        }
        return false;
    }
    const QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
};

struct RequestSpec
{
    QByteArray verb = "GET";
    QList<QPair<QByteArray, QByteArray>> headers;
    QByteArray body;
    int transferTimeoutMs = 0;
};

// One request through QNetworkAccessManager, waiting on the event loop.
HttpResult fetch(QNetworkAccessManager &nam, const QUrl &url, const RequestSpec &spec = {},
                 int timeoutMs = 10'000)
{
    QNetworkRequest request(url);
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    for (const auto &h : spec.headers)
        request.setRawHeader(h.first, h.second);
    if (spec.transferTimeoutMs > 0)
        request.setTransferTimeout(spec.transferTimeoutMs);
    if (!spec.body.isEmpty() && !request.hasRawHeader("Content-Type"))
        request.setHeader(QNetworkRequest::ContentTypeHeader, "application/x-www-form-urlencoded");
    QNetworkReply *reply = nam.sendCustomRequest(request, spec.verb, spec.body);
    HttpResult result;
    QSignalSpy finished(reply, &QNetworkReply::finished);
    result.finished = reply->isFinished() || finished.wait(timeoutMs);
    result.error = reply->error();
    result.errorString = reply->errorString();
    result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (reply->isOpen())
        result.body = reply->readAll();
    result.headers = reply->rawHeaderPairs();
    if (!result.finished)
        reply->abort();
    reply->deleteLater();
    return result;
}

QByteArray basicAuth(const QByteArray &id, const QByteArray &secret)
{
    return "Basic " + (id + ':' + secret).toBase64();
}

struct RawResult
{
    QByteArray data;
    bool closedByServer = false;
};

// Writes `request` on a fresh socket and collects what comes back until the
// server closes (or `timeoutMs`).
RawResult rawExchange(quint16 port, const QByteArray &request, int timeoutMs = 5'000)
{
    QTcpSocket socket;
    RawResult result;
    QSignalSpy connected(&socket, &QTcpSocket::connected);
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!connected.wait(5'000))
        return result;
    socket.write(request);
    QObject::connect(&socket, &QTcpSocket::readyRead, [&] { result.data += socket.readAll(); });
    QSignalSpy disconnected(&socket, &QTcpSocket::disconnected);
    result.closedByServer = socket.state() == QAbstractSocket::UnconnectedState
                            || disconnected.wait(timeoutMs);
    result.data += socket.readAll();
    return result;
}

QByteArray getRequest(const QByteArray &target, bool close = true)
{
    return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: tst_fakereddit\r\n"
           + (close ? "Connection: close\r\n" : "") + "\r\n";
}

} // namespace

class TestFakeReddit : public QObject
{
    Q_OBJECT

private slots:
    void budgetHeadersAndRetryAfter();
    void windowRollsOverAndRefillsBudget();
    void unlimitedBudgetSendsNoRateLimitHeaders();
    void listingShapeAndPaging();
    void serialCountsPerUrl();
    void subredditAbout();
    void tokenGrantAndMePerToken();
    void tokenGrantRejections_data();
    void tokenGrantRejections();
    void commentsNeverRepeat();
    void redirectIs302WithLocation();
    void unknownPathIs404Json();
    void faultsOnRawSocket_data();
    void faultsOnRawSocket();
    void globalFaultModeAppliesToNextRequests();
    void faultsSeenByNetworkAccessManager_data();
    void faultsSeenByNetworkAccessManager();
    void latencyDelaysAnswers();
    void resetConventionRoundsTheTimeLeft_data();
    void resetConventionRoundsTheTimeLeft();
    void resetConventionReachesTheHeaders_data();
    void resetConventionReachesTheHeaders();
    void jitterLetsAnswersOvertakeEachOther();
    void heldAnswersAreReleasedTogether();
    void logRecordsEveryRequest();
    void controlEndpointsConfigureAndReset();
    void windowStatsHelper();
    void listensOnIpv6WhenAsked();
    void executableAnswersThroughProcessFixture();
    void processFixtureUsesGivenPort();
    void processFixtureReportsFailures();
    void processFixtureCleansUpOnDestruction();
};

void TestFakeReddit::budgetHeadersAndRetryAfter()
{
    FakeReddit reddit({.budget = 3, .windowSeconds = 60});
    QVERIFY2(reddit.listen(), qPrintable(reddit.errorString()));
    QNetworkAccessManager nam;

    // Every request counts: listings, 404s and the token endpoint alike.
    const HttpResult a = fetch(nam, reddit.url("/r/python/hot.json?limit=2"));
    QCOMPARE(a.status, 200);
    QCOMPARE(a.header("X-Ratelimit-Used"), "1");
    QCOMPARE(a.header("X-Ratelimit-Remaining"), "2.0");
    const int reset = a.header("X-Ratelimit-Reset").toInt();
    QVERIFY2(reset >= 58 && reset <= 59, a.header("X-Ratelimit-Reset").constData());

    const HttpResult b = fetch(nam, reddit.url("/no/such/thing"));
    QCOMPARE(b.status, 404);
    QCOMPARE(b.header("X-Ratelimit-Used"), "2");
    QCOMPARE(b.header("X-Ratelimit-Remaining"), "1.0");

    // Control paths are free.
    QCOMPARE(fetch(nam, reddit.url("/__log")).status, 200);
    QCOMPARE(fetch(nam, reddit.url("/__stats")).status, 200);

    const HttpResult c = fetch(nam, reddit.url("/api/v1/access_token"),
                               {.verb = "POST",
                                .headers = {{"Authorization", basicAuth("id", "secret")}},
                                .body = "grant_type=client_credentials"});
    QCOMPARE(c.status, 200);
    QCOMPARE(c.header("X-Ratelimit-Used"), "3");
    QCOMPARE(c.header("X-Ratelimit-Remaining"), "0.0");
    QCOMPARE(reddit.usedInCurrentWindow(), 3);

    const HttpResult d = fetch(nam, reddit.url("/r/python/hot.json?limit=2"));
    QCOMPARE(d.status, 429);
    QCOMPARE(d.header("X-Ratelimit-Used"), "3");
    QCOMPARE(d.header("X-Ratelimit-Remaining"), "0.0");
    QVERIFY(d.hasHeader("X-Ratelimit-Reset"));
    const int retryAfter = d.header("Retry-After").toInt();
    QVERIFY2(retryAfter >= 1 && retryAfter <= 60, d.header("Retry-After").constData());
    QCOMPARE(d.json().value("error").toInt(), 429);

    QCOMPARE(reddit.requestCount(), 4);
    const WindowStats stats = reddit.windowStats();
    QCOMPARE(stats.requestsPerWindow.value(0), 4);
    QCOMPARE(stats.tooManyRequests, 1);
    QVERIFY(!stats.withinBudget(3));
    QVERIFY(reddit.log().last().rejected);
    QCOMPARE(reddit.log().last().status, 429);
}

void TestFakeReddit::windowRollsOverAndRefillsBudget()
{
    FakeReddit reddit;
    QVERIFY(reddit.listen());
    reddit.setBudget(2, 1.0);
    QNetworkAccessManager nam;
    QTRY_COMPARE(reddit.currentWindow(), 0);

    QCOMPARE(fetch(nam, reddit.url("/r/a/hot.json")).status, 200);
    QCOMPARE(fetch(nam, reddit.url("/r/a/hot.json")).status, 200);
    const HttpResult over = fetch(nam, reddit.url("/r/a/hot.json"));
    QCOMPARE(over.status, 429);
    QCOMPARE(over.header("Retry-After"), "1"); // rounded up, never 0
    QCOMPARE(over.header("X-Ratelimit-Reset"), "0"); // rounded down

    QTRY_COMPARE_WITH_TIMEOUT(reddit.currentWindow(), 1, 2'000);
    const HttpResult fresh = fetch(nam, reddit.url("/r/a/hot.json"));
    QCOMPARE(fresh.status, 200);
    QCOMPARE(fresh.header("X-Ratelimit-Used"), "1");
    QCOMPARE(fresh.header("X-Ratelimit-Remaining"), "1.0");

    const WindowStats stats = reddit.windowStats();
    QCOMPARE(stats.requestsPerWindow.value(0), 3);
    QCOMPARE(stats.rejectedPerWindow.value(0), 1);
    QCOMPARE(stats.requestsPerWindow.value(1), 1);
    QCOMPARE(stats.maxPerWindow, 3);
    QCOMPARE(stats.busiestWindow, 0);
    QCOMPARE(reddit.log().last().window, 1);
}

void TestFakeReddit::unlimitedBudgetSendsNoRateLimitHeaders()
{
    FakeReddit reddit;
    QVERIFY(reddit.listen());
    QNetworkAccessManager nam;
    for (int i = 0; i < 5; ++i) {
        const HttpResult r = fetch(nam, reddit.url("/r/a/new.json"));
        QCOMPARE(r.status, 200);
        QVERIFY(!r.hasHeader("X-Ratelimit-Remaining"));
    }
    QVERIFY(reddit.windowStats().withinBudget(0));
}

void TestFakeReddit::listingShapeAndPaging()
{
    FakeReddit reddit;
    QVERIFY(reddit.listen());
    QNetworkAccessManager nam;

    const HttpResult first = fetch(nam, reddit.url("/r/python/hot.json?limit=3&raw_json=1"));
    QCOMPARE(first.status, 200);
    QVERIFY(first.header("Content-Type").startsWith("application/json"));
    const QJsonObject page1 = first.json();
    QCOMPARE(page1.value("kind").toString(), "Listing");
    QCOMPARE(page1.value("sub").toString(), "python");
    QCOMPARE(page1.value("query").toString(), "limit=3&raw_json=1");
    QCOMPARE(page1.value("serial").toInt(), 1);
    const QJsonObject data1 = page1.value("data").toObject();
    const QJsonArray children1 = data1.value("children").toArray();
    QCOMPARE(children1.size(), 3);
    for (const QJsonValue &child : children1) {
        QCOMPARE(child["kind"].toString(), "t3");
        const QJsonObject d = child["data"].toObject();
        QCOMPARE(d["name"].toString(), "t3_" + d["id"].toString());
        QCOMPARE(d["subreddit"].toString(), "python");
        QVERIFY(!d["title"].toString().isEmpty());
    }
    const QString after = data1.value("after").toString();
    QCOMPARE(after, children1.last()["data"]["name"].toString());

    // The next page continues where the first stopped, deterministically.
    const QJsonObject page2 = fetch(nam, reddit.url("/r/python/hot.json?limit=3&after=" + after)).json();
    const QJsonArray children2 = page2["data"]["children"].toArray();
    QCOMPARE(children2.size(), 3);
    QCOMPARE(children2.first()["data"]["position"].toInt(), 3);
    const QJsonObject both = fetch(nam, reddit.url("/r/python/hot.json?limit=6")).json();
    QCOMPARE(both["data"]["children"][3]["data"]["id"], children2.first()["data"]["id"]);

    // Defaults and bounds; PRAW's paths without ".json" work too.
    QCOMPARE(int(fetch(nam, reddit.url("/r/python/hot.json")).json()["data"]["children"].toArray().size()), 25);
    QCOMPARE(int(fetch(nam, reddit.url("/r/python/hot?limit=500")).json()["data"]["children"].toArray().size()), 100);
    QCOMPARE(int(fetch(nam, reddit.url("/r/python/hot.json?after=t3_zzzzzz")).json()["data"]["children"].toArray().size()), 0);

    // new is another listing than hot, other subs other items.
    const QJsonObject newer = fetch(nam, reddit.url("/r/python/new.json?limit=3")).json();
    QVERIFY(newer["data"]["children"][0]["data"]["id"] != children1.first()["data"]["id"]);
    const QJsonObject other = fetch(nam, reddit.url("/r/cpp/hot.json?limit=3")).json();
    QCOMPARE(other["data"]["children"][0]["data"]["subreddit"].toString(), "cpp");
    QVERIFY(other["data"]["children"][0]["data"]["id"] != children1.first()["data"]["id"]);
}

void TestFakeReddit::serialCountsPerUrl()
{
    FakeReddit reddit;
    QVERIFY(reddit.listen());
    QNetworkAccessManager nam;

    const HttpResult a1 = fetch(nam, reddit.url("/r/python/hot.json?limit=5"));
    const HttpResult a2 = fetch(nam, reddit.url("/r/python/hot.json?limit=5"));
    const HttpResult b1 = fetch(nam, reddit.url("/r/python/hot.json?limit=6"));
    const HttpResult a3 = fetch(nam, reddit.url("/r/python/hot.json?limit=5"));
    QCOMPARE(a1.json()["serial"].toInt(), 1);
    QCOMPARE(a2.json()["serial"].toInt(), 2);
    QCOMPARE(b1.json()["serial"].toInt(), 1);
    QCOMPARE(a3.json()["serial"].toInt(), 3);
    QCOMPARE(a3.header("X-Fake-Serial"), "3");
    QCOMPARE(reddit.servedCount("/r/python/hot.json?limit=5"), 3);
    QCOMPARE(reddit.targetCount("/r/python/hot.json?limit=5"), 3);
    QCOMPARE(reddit.pathCount("/r/python/hot.json"), 4);

    // Apart from the serial the answers are identical.
    QJsonObject o1 = a1.json();
    QJsonObject o2 = a2.json();
    o1.remove("serial");
    o2.remove("serial");
    QCOMPARE(o1, o2);
}

void TestFakeReddit::subredditAbout()
{
    FakeReddit reddit;
    QVERIFY(reddit.listen());
    QNetworkAccessManager nam;
    const HttpResult r = fetch(nam, reddit.url("/r/Python/about.json?raw_json=1"));
    QCOMPARE(r.status, 200);
    const QJsonObject o = r.json();
    QCOMPARE(o["kind"].toString(), "t5");
    QCOMPARE(o["data"]["display_name"].toString(), "Python");
    QVERIFY(o["data"]["name"].toString().startsWith("t5_"));
    QCOMPARE(o["serial"].toInt(), 1);
    QCOMPARE(fetch(nam, reddit.url("/r/Python/about")).status, 200);
}

void TestFakeReddit::tokenGrantAndMePerToken()
{
    FakeReddit reddit;
    QVERIFY(reddit.listen());
    QNetworkAccessManager nam;

    auto grant = [&](const QByteArray &user) {
        return fetch(nam, reddit.url("/api/v1/access_token"),
                     {.verb = "POST",
                      .headers = {{"Authorization", basicAuth("client-id", "client-secret")}},
                      .body = "grant_type=password&username=" + user + "&password=hunter2"});
    };
    const HttpResult alice = grant("alice");
    QCOMPARE(alice.status, 200);
    const QJsonObject aliceToken = alice.json();
    QCOMPARE(aliceToken["token_type"].toString(), "bearer");
    QCOMPARE(aliceToken["expires_in"].toInt(), 86400);
    QCOMPARE(aliceToken["scope"].toString(), "*");
    const QByteArray aliceBearer = aliceToken["access_token"].toString().toLatin1();
    const QByteArray bobBearer = grant("bob").json()["access_token"].toString().toLatin1();
    const QByteArray alice2Bearer = grant("alice").json()["access_token"].toString().toLatin1();
    QVERIFY(!aliceBearer.isEmpty());
    QVERIFY(aliceBearer != bobBearer);
    QVERIFY(aliceBearer != alice2Bearer);

    auto me = [&](const QByteArray &token) {
        RequestSpec spec;
        if (!token.isNull())
            spec.headers = {{"Authorization", "bearer " + token}};
        return fetch(nam, reddit.url("/api/v1/me?raw_json=1"), spec);
    };
    QCOMPARE(me(aliceBearer).json()["name"].toString(), "alice");
    QCOMPARE(me(bobBearer).json()["name"].toString(), "bob");
    QCOMPARE(me(alice2Bearer).json()["name"].toString(), "alice");

    const HttpResult anonymous = me(QByteArray());
    QCOMPARE(anonymous.status, 401);
    QCOMPARE(anonymous.json()["error"].toInt(), 401);
    QCOMPARE(me("not-a-token").status, 401);

    // Application-only tokens have no "me".
    const QByteArray app = fetch(nam, reddit.url("/api/v1/access_token"),
                                 {.verb = "POST",
                                  .headers = {{"Authorization", basicAuth("client-id", "")}},
                                  .body = "grant_type=client_credentials"})
                               .json()["access_token"].toString().toLatin1();
    QVERIFY(reddit.isValidToken(QString::fromLatin1(app)));
    QCOMPARE(me(app).status, 403);

    // Revoked tokens stop working.
    const HttpResult revoke = fetch(nam, reddit.url("/api/v1/revoke_token"),
                                    {.verb = "POST",
                                     .headers = {{"Authorization", basicAuth("client-id", "client-secret")}},
                                     .body = "token=" + bobBearer + "&token_type_hint=access_token"});
    QCOMPARE(revoke.status, 204);
    QCOMPARE(me(bobBearer).status, 401);

    // Tokens can be made in-process too.
    QCOMPARE(me(reddit.issueToken("carol").toLatin1()).json()["name"].toString(), "carol");
}

void TestFakeReddit::tokenGrantRejections_data()
{
    QTest::addColumn<QByteArray>("authorization");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("error");

    const QByteArray basic = basicAuth("client-id", "client-secret");
    QTest::newRow("no basic auth") << QByteArray() << QByteArray("grant_type=client_credentials") << 401 << QString();
    QTest::newRow("bearer instead of basic") << QByteArray("bearer x") << QByteArray("grant_type=client_credentials") << 401 << QString();
    QTest::newRow("unknown grant") << basic << QByteArray("grant_type=magic") << 400 << "unsupported_grant_type";
    QTest::newRow("no grant") << basic << QByteArray() << 400 << "unsupported_grant_type";
    QTest::newRow("no password") << basic << QByteArray("grant_type=password&username=alice") << 400 << "invalid_request";
    QTest::newRow("wrong password") << basic << QByteArray("grant_type=password&username=alice&password=wrong") << 400 << "invalid_grant";
}

void TestFakeReddit::tokenGrantRejections()
{
    QFETCH(QByteArray, authorization);
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(QString, error);

    FakeReddit reddit;
    QVERIFY(reddit.listen());
    QNetworkAccessManager nam;
    RequestSpec spec{.verb = "POST", .body = body};
    if (!authorization.isEmpty())
        spec.headers = {{"Authorization", authorization}};
    const HttpResult r = fetch(nam, reddit.url("/api/v1/access_token"), spec);
    QCOMPARE(r.status, status);
    QVERIFY(!r.json().contains("access_token"));
    if (!error.isEmpty())
        QCOMPARE(r.json()["error"].toString(), error);
}

void TestFakeReddit::commentsNeverRepeat()
{
    FakeReddit reddit;
    QVERIFY(reddit.listen());
    QNetworkAccessManager nam;
    const QByteArray token = reddit.issueToken("alice").toLatin1();
    const RequestSpec spec{.verb = "POST",
                           .headers = {{"Authorization", "bearer " + token}},
                           .body = "thing_id=t3_abcdef&text=Hello+there%21&api_type=json"};

    QSet<QString> ids;
    int lastSerial = 0;
    for (int i = 0; i < 3; ++i) {
        const HttpResult r = fetch(nam, reddit.url("/api/comment"), spec);
        QCOMPARE(r.status, 200);
        const QJsonObject json = r.json()["json"].toObject();
        QVERIFY(json["errors"].toArray().isEmpty());
        const QJsonObject thing = json["data"]["things"][0].toObject();
        QCOMPARE(thing["kind"].toString(), "t1");
        const QJsonObject data = thing["data"].toObject();
        QCOMPARE(data["body"].toString(), "Hello there!");
        QCOMPARE(data["author"].toString(), "alice");
        QCOMPARE(data["parent_id"].toString(), "t3_abcdef");
        QCOMPARE(data["name"].toString(), "t1_" + data["id"].toString());
        QVERIFY(!ids.contains(data["id"].toString()));
        ids.insert(data["id"].toString());
        QVERIFY(data["serial"].toInt() > lastSerial);
        lastSerial = data["serial"].toInt();
    }

    QCOMPARE(fetch(nam, reddit.url("/api/comment"), {.verb = "POST", .body = spec.body}).status, 401);
    const HttpResult missing = fetch(nam, reddit.url("/api/comment"),
                                     {.verb = "POST", .headers = spec.headers, .body = "text=x"});
    QCOMPARE(missing.status, 200);
    QCOMPARE(missing.json()["json"]["errors"].toArray().first().toArray().first().toString(), "NO_THING_ID");
}

void TestFakeReddit::redirectIs302WithLocation()
{
    FakeReddit reddit;
    QVERIFY(reddit.listen());
    QNetworkAccessManager nam;
    const HttpResult r = fetch(nam, reddit.url("/redirect"));
    QCOMPARE(r.status, 302);
    QCOMPARE(r.header("Location"), "/r/redirected/hot.json");
    QCOMPARE(r.header("X-Fake-Serial"), "1");
    const HttpResult to = fetch(nam, reddit.url("/redirect?to=%2Fr%2Fcpp%2Fabout.json"));
    QCOMPARE(to.status, 302);
    QCOMPARE(to.header("Location"), "/r/cpp/about.json");
}

void TestFakeReddit::unknownPathIs404Json()
{
    FakeReddit reddit({.budget = 100});
    QVERIFY(reddit.listen());
    QNetworkAccessManager nam;
    const HttpResult r = fetch(nam, reddit.url("/api/v1/nothing/here?x=1"));
    QCOMPARE(r.status, 404);
    QCOMPARE(r.json()["error"].toInt(), 404);
    QCOMPARE(r.json()["message"].toString(), "Not Found");
    QCOMPARE(r.header("X-Ratelimit-Used"), "1");
    QCOMPARE(fetch(nam, reddit.url("/r/python/hot.json"), {.verb = "DELETE"}).status, 404);
    QCOMPARE(fetch(nam, reddit.url("/__nothing")).status, 404);
    QCOMPARE(reddit.requestCount(), 2); // control paths are not recorded
}

void TestFakeReddit::faultsOnRawSocket_data()
{
    QTest::addColumn<QByteArray>("fault");
    QTest::newRow("drop") << QByteArray("drop");
    QTest::newRow("500") << QByteArray("500");
    QTest::newRow("hang") << QByteArray("hang");
    QTest::newRow("garbage") << QByteArray("garbage");
    QTest::newRow("partial") << QByteArray("partial");
}

void TestFakeReddit::faultsOnRawSocket()
{
    QFETCH(QByteArray, fault);
    FakeReddit reddit({.budget = 10});
    QVERIFY(reddit.listen());

    const QByteArray target = "/r/python/hot.json?limit=5&__fault=" + fault;
    if (fault == "hang") {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, reddit.port());
        QTRY_COMPARE(socket.state(), QAbstractSocket::ConnectedState);
        socket.write(getRequest(target, false));
        QTRY_COMPARE(reddit.requestCount(), 1);
        // Proving an absence takes a bounded wait.
        QVERIFY(!QTest::qWaitFor([&] { return socket.bytesAvailable() > 0
                                              || socket.state() != QAbstractSocket::ConnectedState; },
                                 300));
        QCOMPARE(reddit.connectionCount(), 1);
        QCOMPARE(reddit.log().first().status, 0);
        QCOMPARE(reddit.log().first().fault, Fault::Hang);
        socket.abort();
        QTRY_COMPARE(reddit.connectionCount(), 0);
        return;
    }

    const RawResult r = rawExchange(reddit.port(), getRequest(target));
    QVERIFY2(r.closedByServer || fault == "500", r.data.constData());
    QCOMPARE(reddit.requestCount(), 1);
    const RequestRecord record = reddit.log().first();
    QCOMPARE(faultName(record.fault), fault);
    QVERIFY(record.window == 0);

    if (fault == "drop") {
        QVERIFY2(r.data.isEmpty(), r.data.constData());
        QCOMPARE(record.status, 0);
    } else if (fault == "500") {
        QVERIFY2(r.data.startsWith("HTTP/1.1 500"), r.data.constData());
        QVERIFY(r.data.contains("X-Ratelimit-Remaining: 9.0"));
        QCOMPARE(record.status, 500);
    } else if (fault == "garbage") {
        QVERIFY(!r.data.isEmpty());
        QVERIFY(!r.data.startsWith("HTTP/"));
        QCOMPARE(record.status, 0);
    } else if (fault == "partial") {
        QVERIFY2(r.data.startsWith("HTTP/1.1 200"), r.data.constData());
        const qsizetype split = r.data.indexOf("\r\n\r\n");
        QVERIFY(split > 0);
        const QByteArray head = r.data.left(split);
        const qsizetype cl = head.indexOf("Content-Length: ");
        QVERIFY(cl > 0);
        const int announced = head.mid(cl + 16, head.indexOf("\r\n", cl) - cl - 16).toInt();
        const qsizetype got = r.data.size() - split - 4;
        QVERIFY2(got > 0 && got < announced, qPrintable(QString("%1 of %2").arg(got).arg(announced)));
        QCOMPARE(record.status, 200);
    }
}

void TestFakeReddit::globalFaultModeAppliesToNextRequests()
{
    FakeReddit reddit;
    QVERIFY(reddit.listen());
    QNetworkAccessManager nam;

    reddit.setFault(Fault::ServerError, 2);
    QCOMPARE(fetch(nam, reddit.url("/r/a/hot.json")).status, 500);
    QCOMPARE(fetch(nam, reddit.url("/r/a/hot.json")).status, 500);
    QCOMPARE(fetch(nam, reddit.url("/r/a/hot.json")).status, 200);
    QCOMPARE(reddit.pendingFault(), Fault::None);

    // Over HTTP, for a fake-reddit process; control paths do not use it up.
    const HttpResult set = fetch(nam, reddit.url("/__fault?kind=drop&count=1"), {.verb = "POST"});
    QCOMPARE(set.status, 200);
    QCOMPARE(set.json()["fault"].toString(), "drop");
    QCOMPARE(fetch(nam, reddit.url("/__stats")).status, 200);
    const RawResult dropped = rawExchange(reddit.port(), getRequest("/r/a/hot.json"));
    QVERIFY(dropped.closedByServer);
    QVERIFY(dropped.data.isEmpty());
    const RawResult fine = rawExchange(reddit.port(),
                                       "GET /r/a/hot.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    QVERIFY2(fine.data.startsWith("HTTP/1.1 200"), fine.data.constData());

    // Until cleared.
    reddit.setFault(Fault::ServerError, -1);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(fetch(nam, reddit.url("/r/a/hot.json")).status, 500);
    QCOMPARE(fetch(nam, reddit.url("/__fault?kind=none"), {.verb = "POST"}).status, 200);
    QCOMPARE(fetch(nam, reddit.url("/r/a/hot.json")).status, 200);
    QCOMPARE(fetch(nam, reddit.url("/__fault?kind=bogus"), {.verb = "POST"}).status, 400);
}

void TestFakeReddit::faultsSeenByNetworkAccessManager_data()
{
    QTest::addColumn<QByteArray>("fault");
    QTest::newRow("drop") << QByteArray("drop");
    QTest::newRow("500") << QByteArray("500");
    QTest::newRow("hang") << QByteArray("hang");
    QTest::newRow("garbage") << QByteArray("garbage");
    QTest::newRow("partial") << QByteArray("partial");
}

void TestFakeReddit::faultsSeenByNetworkAccessManager()
{
    QFETCH(QByteArray, fault);
    FakeReddit reddit;
    QVERIFY(reddit.listen());
    QNetworkAccessManager nam;
    const HttpResult r = fetch(nam, reddit.url("/r/python/hot.json?__fault=" + fault),
                               {.transferTimeoutMs = fault == "hang" ? 300 : 0});
    QVERIFY(r.finished);
    QVERIFY2(r.error != QNetworkReply::NoError, qPrintable(r.errorString));
    if (fault == "500") {
        QCOMPARE(r.status, 500);
        QCOMPARE(r.error, QNetworkReply::InternalServerError);
    } else if (fault == "hang") {
        QCOMPARE(r.error, QNetworkReply::OperationCanceledError);
    } else {
        QVERIFY2(r.status == 0 || fault == "partial", qPrintable(r.errorString));
    }
    // QNetworkAccessManager may silently resend a request whose connection
    // dropped before any answer: the fake sees every attempt.
    QVERIFY(reddit.requestCount() >= 1);
}

void TestFakeReddit::latencyDelaysAnswers()
{
    FakeReddit reddit;
    QVERIFY(reddit.listen());
    QNetworkAccessManager nam;
    QCOMPARE(fetch(nam, reddit.url("/r/a/hot.json")).status, 200); // warm connection

    QElapsedTimer timer;
    timer.start();
    QCOMPARE(fetch(nam, reddit.url("/r/a/hot.json?__delay_ms=250")).status, 200);
    QVERIFY2(timer.elapsed() >= 250, qPrintable(QString::number(timer.elapsed())));

    reddit.setLatencyMs(150);
    timer.restart();
    QCOMPARE(fetch(nam, reddit.url("/r/a/hot.json")).status, 200);
    QVERIFY2(timer.elapsed() >= 150, qPrintable(QString::number(timer.elapsed())));
    timer.restart();
    QCOMPARE(fetch(nam, reddit.url("/r/a/hot.json?__delay_ms=0")).status, 200);
    QVERIFY2(timer.elapsed() < 150, qPrintable(QString::number(timer.elapsed())));

    const RequestRecord last = reddit.log().last();
    QVERIFY(last.answeredMs >= last.arrivalMs);
}

void TestFakeReddit::resetConventionRoundsTheTimeLeft_data()
{
    QTest::addColumn<QByteArray>("convention");
    QTest::addColumn<double>("secondsLeft");
    QTest::addColumn<int>("reset");
    // A 4 s window: the time left is in (0, 4].
    QTest::newRow("down, window start") << QByteArray("down") << 4.0 << 3;
    QTest::newRow("down, middle") << QByteArray("down") << 2.5 << 2;
    QTest::newRow("down, last second") << QByteArray("down") << 0.4 << 0;
    QTest::newRow("up, window start") << QByteArray("up") << 4.0 << 4;
    QTest::newRow("up, middle") << QByteArray("up") << 2.5 << 3;
    QTest::newRow("up, last second") << QByteArray("up") << 0.4 << 1;
    QTest::newRow("down-never-0, window start") << QByteArray("down-never-0") << 4.0 << 3;
    QTest::newRow("down-never-0, middle") << QByteArray("down-never-0") << 2.5 << 2;
    QTest::newRow("down-never-0, second to last") << QByteArray("down-never-0") << 1.5 << 1;
    QTest::newRow("down-never-0, last second") << QByteArray("down-never-0") << 0.4 << 1;
}

void TestFakeReddit::resetConventionRoundsTheTimeLeft()
{
    QFETCH(QByteArray, convention);
    QFETCH(double, secondsLeft);
    QFETCH(int, reset);
    ResetConvention c = ResetConvention::Down;
    QVERIFY(resetConventionFromName(convention, &c));
    QCOMPARE(resetConventionName(c), convention);
    QCOMPARE(resetSeconds(secondsLeft, c), reset);
}

void TestFakeReddit::resetConventionReachesTheHeaders_data()
{
    QTest::addColumn<QByteArray>("convention");
    QTest::addColumn<int>("lowest");
    QTest::addColumn<int>("highest");
    QTest::newRow("down") << QByteArray("down") << 0 << 1;
    QTest::newRow("up") << QByteArray("up") << 1 << 2;
    QTest::newRow("down-never-0") << QByteArray("down-never-0") << 1 << 1;
}

// Over a 2 s window, as set through POST /__config like the benchmarks do.
void TestFakeReddit::resetConventionReachesTheHeaders()
{
    QFETCH(QByteArray, convention);
    QFETCH(int, lowest);
    QFETCH(int, highest);
    FakeReddit reddit;
    QVERIFY(reddit.listen());
    QNetworkAccessManager nam;
    RequestSpec post;
    post.verb = "POST";
    const HttpResult config = fetch(nam, reddit.url("/__config?budget=1000&window=2&reset=" + QString::fromLatin1(convention)), post);
    QCOMPARE(config.status, 200);
    QCOMPARE(config.json().value(u"reset_convention").toString(), QString::fromLatin1(convention));
    int low = 1000, high = -1;
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < 2200) { // a little more than one window: every value shows
        const HttpResult r = fetch(nam, reddit.url("/r/a/hot.json"));
        QCOMPARE(r.status, 200);
        const int reset = r.header("X-Ratelimit-Reset").toInt();
        low = std::min(low, reset);
        high = std::max(high, reset);
        QTest::qWait(20);
    }
    QCOMPARE(low, lowest);
    QCOMPARE(high, highest);
}

void TestFakeReddit::jitterLetsAnswersOvertakeEachOther()
{
    FakeReddit reddit;
    QVERIFY(reddit.listen());
    reddit.setJitterMs(300);
    QList<quint64> finished;
    connect(&reddit, &FakeReddit::requestFinished, this,
            [&](const RequestRecord &record) { finished << record.id; });
    // Twelve requests on twelve connections, sent in order.
    std::vector<std::unique_ptr<QNetworkAccessManager>> nams;
    for (int i = 0; i < 12; ++i) {
        nams.push_back(std::make_unique<QNetworkAccessManager>());
        nams.back()->get(QNetworkRequest(reddit.url(QStringLiteral("/r/a/hot.json?i=%1").arg(i))));
        QTRY_COMPARE(reddit.requestCount(), i + 1);
    }
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 12, 5000);
    QList<quint64> sorted = finished;
    std::sort(sorted.begin(), sorted.end());
    // In order only with probability 1/12!: the jitter reorders them.
    QVERIFY2(finished != sorted, "answers came back in the order the requests arrived");
}

void TestFakeReddit::heldAnswersAreReleasedTogether()
{
    FakeReddit reddit;
    QVERIFY(reddit.listen());
    reddit.setHoldMs(600);
    std::vector<std::unique_ptr<QNetworkAccessManager>> nams;
    for (int i = 0; i < 3; ++i) {
        nams.push_back(std::make_unique<QNetworkAccessManager>());
        nams.back()->get(QNetworkRequest(reddit.url(QStringLiteral("/r/a/hot.json?i=%1").arg(i))));
        QTRY_COMPARE(reddit.requestCount(), i + 1);
        QTest::qWait(50);
    }
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(reddit.log().cbegin(), reddit.log().cend(),
                                         [](const RequestRecord &r) { return r.answeredMs >= 0; }),
                             5000);
    const QList<RequestRecord> log = reddit.log();
    // All three left at once, when the first had waited the hold.
    QVERIFY(log[2].arrivalMs - log[0].arrivalMs >= 100);
    QVERIFY(std::abs(log[0].answeredMs - log[2].answeredMs) <= 5);
    QVERIFY(std::abs(log[1].answeredMs - log[2].answeredMs) <= 5);
    QVERIFY2(log[0].answeredMs - log[0].arrivalMs >= 600, qPrintable(QString::number(log[0].answeredMs - log[0].arrivalMs)));
    QVERIFY(log[2].answeredMs - log[2].arrivalMs < 600);
}

void TestFakeReddit::logRecordsEveryRequest()
{
    FakeReddit reddit({.budget = 50, .windowSeconds = 60});
    QVERIFY(reddit.listen());
    QNetworkAccessManager nam;
    const QByteArray token = reddit.issueToken("alice").toLatin1();
    const qint64 before = QDateTime::currentMSecsSinceEpoch();

    QCOMPARE(fetch(nam, reddit.url("/r/python/hot.json?limit=2"),
                   {.headers = {{"User-Agent", "tst_fakereddit/1.0"}, {"X-Test", "one"}}})
                 .status, 200);
    const QByteArray form = "thing_id=t3_x&text=hi";
    QCOMPARE(fetch(nam, reddit.url("/api/comment"),
                   {.verb = "POST", .headers = {{"Authorization", "bearer " + token}}, .body = form})
                 .status, 200);

    const HttpResult logReply = fetch(nam, reddit.url("/__log"));
    QCOMPARE(logReply.status, 200);
    const QJsonArray log = QJsonDocument::fromJson(logReply.body).array();
    QCOMPARE(log.size(), 2); // /__log itself is not recorded

    const QJsonObject get = log[0].toObject();
    QCOMPARE(get["method"].toString(), "GET");
    QCOMPARE(get["target"].toString(), "/r/python/hot.json?limit=2");
    QCOMPARE(get["path"].toString(), "/r/python/hot.json");
    QCOMPARE(get["headers"]["x-test"].toString(), "one");
    QCOMPARE(get["headers"]["user-agent"].toString(), "tst_fakereddit/1.0");
    QCOMPARE(get["status"].toInt(), 200);
    QCOMPARE(get["window"].toInt(), 0);
    QCOMPARE(get["fault"].toString(), QString());
    QVERIFY(get["epoch_ms"].toInteger() >= before);
    QVERIFY(get["epoch_ms"].toInteger() <= QDateTime::currentMSecsSinceEpoch());

    const QJsonObject post = log[1].toObject();
    QCOMPARE(post["method"].toString(), "POST");
    QCOMPARE(post["body_size"].toInt(), int(form.size()));
    QCOMPARE(post["headers"]["authorization"].toString(), "bearer " + QString::fromLatin1(token));
    QVERIFY(post["t_ms"].toInteger() >= get["t_ms"].toInteger());
    QVERIFY(post["id"].toInteger() > get["id"].toInteger());

    // The in-process view is the same, and round-trips through JSON.
    const RequestRecord record = RequestRecord::fromJson(get);
    QCOMPARE(record.target, reddit.log().first().target);
    QCOMPARE(record.headers.value("X-Test"), "one");
    QCOMPARE(record.arrivalMs, reddit.log().first().arrivalMs);

    const QJsonObject stats = fetch(nam, reddit.url("/__stats")).json();
    QCOMPARE(stats["budget"].toInt(), 50);
    QCOMPARE(stats["window_seconds"].toDouble(), 60.0);
    QCOMPARE(stats["total"].toInt(), 2);
    QCOMPARE(stats["too_many_requests"].toInt(), 0);
    QCOMPARE(stats["used"].toInt(), 2);
    QCOMPARE(stats["windows"][0]["requests"].toInt(), 2);
    QCOMPARE(stats["paths"]["/api/comment"].toInt(), 1);
    QCOMPARE(computeWindowStats(log).total, 2);

    QSignalSpy received(&reddit, &FakeReddit::requestReceived);
    QSignalSpy finished(&reddit, &FakeReddit::requestFinished);
    QCOMPARE(fetch(nam, reddit.url("/r/python/new.json")).status, 200);
    QCOMPARE(received.size(), 1);
    QCOMPARE(finished.size(), 1);
    QCOMPARE(finished.first().first().value<RequestRecord>().status, 200);

    const HttpResult reset = fetch(nam, reddit.url("/__reset"), {.verb = "POST"});
    QCOMPARE(reset.status, 200);
    QCOMPARE(reset.json()["cleared"].toInt(), 3);
    QCOMPARE(reddit.requestCount(), 0);
    QCOMPARE(QJsonDocument::fromJson(fetch(nam, reddit.url("/__log")).body).array().size(), 0);
    // The budget is Reddit's memory, not the log's.
    QCOMPARE(reddit.usedInCurrentWindow(), 3);

    reddit.clearLog();
    QCOMPARE(reddit.requestCount(), 0);
}

void TestFakeReddit::controlEndpointsConfigureAndReset()
{
    FakeReddit reddit;
    QVERIFY(reddit.listen());
    QNetworkAccessManager nam;
    QCOMPARE(fetch(nam, reddit.url("/r/a/hot.json")).json()["serial"].toInt(), 1);

    const HttpResult config = fetch(nam, reddit.url("/__config?budget=1&window=30&latency_ms=0"),
                                    {.verb = "POST"});
    QCOMPARE(config.status, 200);
    QCOMPARE(config.json()["budget"].toInt(), 1);
    QCOMPARE(reddit.budget(), 1);
    QCOMPARE(reddit.windowSeconds(), 30.0);
    QCOMPARE(fetch(nam, reddit.url("/r/a/hot.json")).status, 200);
    QCOMPARE(fetch(nam, reddit.url("/r/a/hot.json")).status, 429);

    QCOMPARE(fetch(nam, reddit.url("/__reset?budget=1&serials=1"), {.verb = "POST"}).status, 200);
    const HttpResult again = fetch(nam, reddit.url("/r/a/hot.json"));
    QCOMPARE(again.status, 200);
    QCOMPARE(again.json()["serial"].toInt(), 1);
    QCOMPARE(fetch(nam, reddit.url("/__reset")).status, 405);
}

void TestFakeReddit::windowStatsHelper()
{
    QList<RequestRecord> log;
    auto add = [&](qint64 window, int status) {
        RequestRecord r;
        r.window = window;
        r.status = status;
        r.rejected = status == 429;
        log.append(r);
    };
    add(0, 200);
    add(0, 200);
    add(2, 200);
    add(2, 200);
    add(2, 429);
    add(3, 200);
    const WindowStats stats = computeWindowStats(log);
    QCOMPARE(stats.total, 6);
    QCOMPARE(stats.requestsPerWindow, (QMap<qint64, int>{{0, 2}, {2, 3}, {3, 1}}));
    QCOMPARE(stats.maxPerWindow, 3);
    QCOMPARE(stats.busiestWindow, 2);
    QCOMPARE(stats.tooManyRequests, 1);
    QCOMPARE(stats.rejectedPerWindow.value(2), 1);
    QVERIFY(!stats.withinBudget(3)); // a 429 means the budget was overshot
    QVERIFY(stats.describe().contains("429s: 1"));

    log.removeAt(4);
    QVERIFY(computeWindowStats(log).withinBudget(2));
    QVERIFY(!computeWindowStats(log).withinBudget(1));
    QJsonArray json;
    for (const RequestRecord &r : log)
        json.append(r.toJson());
    QCOMPARE(computeWindowStats(json).requestsPerWindow, computeWindowStats(log).requestsPerWindow);
    QVERIFY(computeWindowStats(QList<RequestRecord>{}).withinBudget(1));
}

void TestFakeReddit::listensOnIpv6WhenAsked()
{
    FakeReddit reddit({.alsoIpv6 = true});
    QVERIFY(reddit.listen());
    if (!reddit.isListeningIpv6())
        QSKIP("no IPv6 loopback here");
    QNetworkAccessManager nam;
    QUrl url = reddit.url("/r/a/about.json");
    url.setHost(QStringLiteral("::1"));
    QCOMPARE(fetch(nam, url).status, 200);
    QCOMPARE(fetch(nam, reddit.url("/r/a/about.json")).status, 200);
    QCOMPARE(reddit.requestCount(), 2);
}

void TestFakeReddit::executableAnswersThroughProcessFixture()
{
    ProcessFixture reddit;
    QVERIFY2(reddit.start(fakeRedditProgram(), {"--port", "0", "--budget", "5", "--window", "60",
                                                "--latency-ms", "1"}),
             qPrintable(reddit.describe()));
    QVERIFY(reddit.isRunning());
    QVERIFY(reddit.port() != 0);
    QCOMPARE(reddit.host(), "127.0.0.1");
    QVERIFY(reddit.standardOutput().contains(QStringLiteral("Listening on 127.0.0.1 port %1").arg(reddit.port())));

    QNetworkAccessManager nam;
    const HttpResult r = fetch(nam, reddit.baseUrl().resolved(QUrl("/r/python/hot.json?limit=2")));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("X-Ratelimit-Remaining"), "4.0");
    QCOMPARE(int(r.json()["data"]["children"].toArray().size()), 2);

    const QJsonObject stats = fetch(nam, reddit.baseUrl().resolved(QUrl("/__stats"))).json();
    QCOMPARE(stats["budget"].toInt(), 5);
    QCOMPARE(stats["total"].toInt(), 1);
    QCOMPARE(stats["latency_ms"].toInt(), 1);

    QVERIFY2(reddit.stop(), qPrintable(reddit.describe()));
    QVERIFY(!reddit.isRunning());
    QCOMPARE(reddit.exitCode(), 0);
    QCOMPARE(reddit.exitStatus(), QProcess::NormalExit);
}

void TestFakeReddit::processFixtureUsesGivenPort()
{
    const quint16 port = freeLoopbackPort();
    QVERIFY(port != 0);
    ProcessFixture reddit;
    QVERIFY2(reddit.start(fakeRedditProgram(), {"--port", QString::number(port)}),
             qPrintable(reddit.describe()));
    QCOMPARE(reddit.port(), port);
    QVERIFY(isPortOpen(port));

    // SIGINT ends it cleanly too.
    QVERIFY(reddit.sendSignal(SIGINT));
    QVERIFY(reddit.waitForFinished(5'000));
    QCOMPARE(reddit.exitCode(), 0);
    QCOMPARE(reddit.exitStatus(), QProcess::NormalExit);
}

void TestFakeReddit::processFixtureReportsFailures()
{
    // A port already taken: exit 1 with the reason, reported by start().
    FakeReddit occupant;
    QVERIFY(occupant.listen());
    {
        ProcessFixture reddit;
        QVERIFY(!reddit.start(fakeRedditProgram(), {"--port", QString::number(occupant.port())}));
        QVERIFY(!reddit.isRunning());
        QCOMPARE(reddit.exitCode(), 1);
        QVERIFY2(reddit.describe().contains("cannot listen"), qPrintable(reddit.describe()));
        QVERIFY(reddit.errorString().contains("exited before it was ready"));
    }
    // A program that never gets ready is killed after the timeout; its
    // output is kept for the failure message.
    {
        ProcessFixture silent;
        QElapsedTimer timer;
        timer.start();
        QVERIFY(!silent.start("/bin/sh", {"-c", "echo hello from sh; exec sleep 30"}, 500));
        QVERIFY(timer.elapsed() < 5'000);
        QVERIFY(!silent.isRunning());
        QVERIFY2(silent.describe().contains("hello from sh"), qPrintable(silent.describe()));
        QVERIFY(silent.errorString().contains("within 500 ms"));
    }
    // A program that does not exist.
    {
        ProcessFixture missing;
        QVERIFY(!missing.start("/nonexistent/program"));
        QVERIFY(missing.errorString().contains("failed to start"));
    }
    // waitForOutput sees lines on either channel; launch() does not wait.
    {
        ProcessFixture talker;
        QVERIFY(talker.launch("/bin/sh", {"-c", "echo one; echo two >&2; echo three"}));
        QVERIFY(talker.waitForOutput(QRegularExpression("^two$")).hasMatch());
        QVERIFY(talker.waitForFinished());
        QCOMPARE(talker.lineCount(), 3);
        QVERIFY(talker.standardError().contains("two"));
        QVERIFY(!talker.standardOutput().contains("two"));
        QVERIFY(talker.stop()); // already exited with 0
    }
}

void TestFakeReddit::processFixtureCleansUpOnDestruction()
{
    auto reddit = std::make_unique<ProcessFixture>();
    QVERIFY2(reddit->start(fakeRedditProgram(), {"--port", "0"}), qPrintable(reddit->describe()));
    const quint16 port = reddit->port();
    const qint64 pid = reddit->pid();
    QVERIFY(pid > 0);
    QVERIFY(isPortOpen(port));
    reddit.reset();
    QCOMPARE(::kill(pid_t(pid), 0), -1); // gone (and reaped)
    QVERIFY(!isPortOpen(port, QHostAddress::LocalHost, 500));
}

QTEST_GUILESS_MAIN(TestFakeReddit)
#include "tst_fakereddit.moc"
