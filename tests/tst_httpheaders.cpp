#include "prawmp/HttpHeaders.h"
#include "prawmp/JsonResponses.h"
#include "prawmp/Request.h"

#include <QJsonDocument>
#include <QTest>

using namespace prawmp;

class TestHttpHeaders : public QObject
{
    Q_OBJECT
private slots:
    void lookupIgnoresNameCase();
    void duplicatesAndOrderAreKept();
    void setReplacesAllFieldsOfThatName();
    void hopByHopFieldsAreRemoved();
    void fieldsNamedByConnectionAreRemoved();
    void noCacheRequestsAFreshAnswer_data();
    void noCacheRequestsAFreshAnswer();
    void jsonErrorHasContractShape();
};

void TestHttpHeaders::lookupIgnoresNameCase()
{
    HttpHeaders h{{"Content-Type", "text/plain"}};
    QCOMPARE(h.value("content-type"), QByteArray("text/plain"));
    QCOMPARE(h.value("CONTENT-TYPE"), QByteArray("text/plain"));
    QVERIFY(h.contains("cOnTeNt-TyPe"));
    QVERIFY(!h.contains("Content-Length"));
    QCOMPARE(h.value("Content-Length"), QByteArray());
}

void TestHttpHeaders::duplicatesAndOrderAreKept()
{
    HttpHeaders h;
    h.add("Set-Cookie", "a=1");
    h.add("X-Other", "x");
    h.add("set-cookie", "b=2");
    QCOMPARE(h.values("Set-Cookie"), (QList<QByteArray>{"a=1", "b=2"}));
    QCOMPARE(h.fields().at(1).first, QByteArray("X-Other"));
    QCOMPARE(h.remove("SET-COOKIE"), 2);
    QCOMPARE(h.size(), 1);
}

void TestHttpHeaders::setReplacesAllFieldsOfThatName()
{
    HttpHeaders h{{"A", "1"}, {"B", "2"}, {"a", "3"}};
    h.set("A", "9");
    QCOMPARE(h.values("a"), QList<QByteArray>{"9"});
    // The replaced field stays where the first one was.
    QCOMPARE(h.fields().first(), HttpHeaders::Field("A", "9"));
    QCOMPARE(h.size(), 2);
}

void TestHttpHeaders::hopByHopFieldsAreRemoved()
{
    HttpHeaders h{{"Connection", "keep-alive"}, {"Keep-Alive", "timeout=5"},
                  {"Proxy-Connection", "close"}, {"Proxy-Authenticate", "Basic"},
                  {"Proxy-Authorization", "Bearer t"}, {"TE", "trailers"},
                  {"Trailer", "X"}, {"Transfer-Encoding", "chunked"}, {"Upgrade", "h2c"},
                  {"Authorization", "bearer user"}, {"User-Agent", "bot/1.0"}};
    h.removeHopByHop();
    // End-to-end fields, credentials included, pass through the proxy.
    QCOMPARE(h, (HttpHeaders{{"Authorization", "bearer user"}, {"User-Agent", "bot/1.0"}}));
}

void TestHttpHeaders::fieldsNamedByConnectionAreRemoved()
{
    HttpHeaders h{{"Connection", "close, X-Private ,x-other"}, {"x-private", "1"},
                  {"X-Other", "2"}, {"X-Kept", "3"}};
    h.removeHopByHop();
    QCOMPARE(h, (HttpHeaders{{"X-Kept", "3"}}));
}

void TestHttpHeaders::noCacheRequestsAFreshAnswer_data()
{
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<QByteArray>("value");
    QTest::addColumn<bool>("fresh");
    QTest::newRow("no-cache") << QByteArray("Cache-Control") << QByteArray("no-cache") << true;
    QTest::newRow("among others") << QByteArray("cache-control") << QByteArray("max-age=5, No-Cache") << true;
    QTest::newRow("pragma") << QByteArray("Pragma") << QByteArray("no-cache") << true;
    QTest::newRow("max-age only") << QByteArray("Cache-Control") << QByteArray("max-age=5") << false;
    QTest::newRow("unrelated") << QByteArray("Accept") << QByteArray("no-cache") << false;
}

void TestHttpHeaders::noCacheRequestsAFreshAnswer()
{
    QFETCH(QByteArray, name);
    QFETCH(QByteArray, value);
    QFETCH(bool, fresh);
    Request r;
    r.headers.add(name, value);
    QCOMPARE(r.wantsFreshAnswer(), fresh);
}

void TestHttpHeaders::jsonErrorHasContractShape()
{
    const Response r = jsonError(403, "host_not_allowed", "evil.example is not allowed");
    QCOMPARE(r.status, 403);
    QCOMPARE(r.reason, QByteArray("Forbidden"));
    QCOMPARE(r.headers.value("content-type"), QByteArray("application/json"));
    const QJsonObject o = QJsonDocument::fromJson(r.body).object();
    QCOMPARE(o.value("error").toString(), QString("host_not_allowed"));
    QCOMPARE(o.value("message").toString(), QString("evil.example is not allowed"));
    QCOMPARE(reasonPhrase(431), QByteArray("Request Header Fields Too Large"));
    QCOMPARE(reasonPhrase(799), QByteArray("Unknown"));
}

QTEST_GUILESS_MAIN(TestHttpHeaders)
#include "tst_httpheaders.moc"
