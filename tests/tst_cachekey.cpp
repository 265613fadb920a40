#include "prawmp/CacheKey.h"
#include "prawmp/ResponseCache.h"

#include <QTest>

using namespace prawmp;

class TestCacheKey : public QObject
{
    Q_OBJECT
private slots:
    void normalizeUrlGivesOneFormPerResource_data();
    void normalizeUrlGivesOneFormPerResource();
    void noCredentialsGiveEmptyHash();
    void differentAuthorizationGivesSeparateEntries();
    void differentCookieGivesSeparateEntries();
    void authorizationAndCookieDoNotCollide();
    void keyIncludesMethod();
    void toStringHoldsAllParts();
    void acceptedEncodingsAreASet();
    void differentAcceptEncodingGivesSeparateEntries();
};

void TestCacheKey::normalizeUrlGivesOneFormPerResource_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("normalized");
    QTest::newRow("scheme and host case")
        << "HTTPS://OAuth.Reddit.COM/r/Python" << "https://oauth.reddit.com/r/Python";
    QTest::newRow("https default port") << "https://a.com:443/x" << "https://a.com/x";
    QTest::newRow("http default port") << "http://a.com:80/x" << "http://a.com/x";
    QTest::newRow("https on port 80 kept") << "https://a.com:80/x" << "https://a.com:80/x";
    QTest::newRow("other port kept") << "http://127.0.0.1:8080/x" << "http://127.0.0.1:8080/x";
    QTest::newRow("empty path") << "https://a.com" << "https://a.com/";
    QTest::newRow("empty path with query") << "https://a.com?b=1" << "https://a.com/?b=1";
    QTest::newRow("query sorted") << "https://a.com/x?limit=5&after=t3_x&raw_json=1"
                                  << "https://a.com/x?after=t3_x&limit=5&raw_json=1";
    QTest::newRow("equal names keep order") << "https://a.com/x?id=2&b=1&id=1"
                                            << "https://a.com/x?b=1&id=2&id=1";
    // Long enough that an unstable sort would reorder the equal names.
    QStringList many, sorted;
    for (int i = 0; i < 40; ++i)
        many << QString("id=%1").arg(39 - i) << QString("a=%1").arg(i);
    for (int i = 0; i < 40; ++i)
        sorted << QString("a=%1").arg(i);
    for (int i = 0; i < 40; ++i)
        sorted << QString("id=%1").arg(39 - i);
    QTest::newRow("many equal names keep order")
        << "https://a.com/x?" + many.join('&') << "https://a.com/x?" + sorted.join('&');
    QTest::newRow("fragment dropped") << "https://a.com/x?a=1#top" << "https://a.com/x?a=1";
    QTest::newRow("empty query dropped") << "https://a.com/x?" << "https://a.com/x";
    QTest::newRow("encoded slash kept") << "https://a.com/a%2Fb?q=a%26b"
                                        << "https://a.com/a%2Fb?q=a%26b";
    QTest::newRow("plus kept") << "https://a.com/s?q=a+b" << "https://a.com/s?q=a+b";
    QTest::newRow("path case kept") << "https://a.com/R/Python" << "https://a.com/R/Python";
}

void TestCacheKey::normalizeUrlGivesOneFormPerResource()
{
    QFETCH(QString, url);
    QFETCH(QString, normalized);
    QCOMPARE(CacheKey::normalizeUrl(QUrl(url)), normalized);
}

void TestCacheKey::noCredentialsGiveEmptyHash()
{
    QCOMPARE(CacheKey::credentialsHash(HttpHeaders{{"User-Agent", "bot"}}), QByteArray());
    const QByteArray hash = CacheKey::credentialsHash(HttpHeaders{{"authorization", "bearer x"}});
    QCOMPARE(hash.size(), 16);
    QVERIFY(QByteArray::fromHex(hash).toHex() == hash);
    // The header name's case is not part of the identity.
    QCOMPARE(CacheKey::credentialsHash(HttpHeaders{{"Authorization", "bearer x"}}), hash);
}

static Request requestWith(const QByteArray &header, const QByteArray &value)
{
    Request r;
    r.url = QUrl("https://oauth.reddit.com/api/v1/me");
    r.headers.add(header, value);
    return r;
}

static Response okResponse(const QByteArray &body)
{
    return Response{200, "OK", HttpHeaders{{"Content-Type", "application/json"}}, body};
}

static void checkSeparateEntries(const QByteArray &header)
{
    const CacheKey alice = CacheKey::forRequest(requestWith(header, "token-alice"));
    const CacheKey bob = CacheKey::forRequest(requestWith(header, "token-bob"));
    QCOMPARE(alice.normalizedUrl(), bob.normalizedUrl());
    QVERIFY(alice != bob);
    QVERIFY(alice.toString() != bob.toString());

    ResponseCache cache(30, 1 << 20);
    QVERIFY(cache.store(alice, okResponse("{\"name\":\"alice\"}")));
    QVERIFY(!cache.lookup(bob)); // bob must never see alice's answer
    QVERIFY(cache.store(bob, okResponse("{\"name\":\"bob\"}")));
    QCOMPARE(cache.counters().entries, 2u);
    QCOMPARE(cache.lookup(alice)->response.body, QByteArray("{\"name\":\"alice\"}"));
    QCOMPARE(cache.lookup(bob)->response.body, QByteArray("{\"name\":\"bob\"}"));
}

void TestCacheKey::differentAuthorizationGivesSeparateEntries()
{
    checkSeparateEntries("Authorization");
}

void TestCacheKey::differentCookieGivesSeparateEntries()
{
    checkSeparateEntries("Cookie");
}

void TestCacheKey::authorizationAndCookieDoNotCollide()
{
    QVERIFY(CacheKey::credentialsHash(HttpHeaders{{"Authorization", "x"}})
            != CacheKey::credentialsHash(HttpHeaders{{"Cookie", "x"}}));
}

void TestCacheKey::keyIncludesMethod()
{
    Request get;
    get.url = QUrl("https://a.com/x");
    Request head = get;
    head.method = "HEAD";
    QVERIFY(CacheKey::forRequest(get) != CacheKey::forRequest(head));
    QCOMPARE(qHash(CacheKey::forRequest(get)), qHash(CacheKey::forRequest(get)));
}

void TestCacheKey::toStringHoldsAllParts()
{
    const CacheKey key("GET", "https://a.com/x", "0123456789abcdef");
    QCOMPARE(key.toString(), QString("GET https://a.com/x 0123456789abcdef"));
    QCOMPARE(CacheKey("GET", "https://a.com/x", {}).toString(), QString("GET https://a.com/x"));
}

void TestCacheKey::acceptedEncodingsAreASet()
{
    QCOMPARE(CacheKey::acceptedEncodings(HttpHeaders{}), QByteArray());
    const QByteArray requestsLib = CacheKey::acceptedEncodings(HttpHeaders{{"Accept-Encoding", "gzip, deflate"}});
    QCOMPARE(requestsLib, QByteArray("deflate,gzip"));
    // Order, case, spaces and repetition (across fields too) do not matter.
    QCOMPARE(CacheKey::acceptedEncodings(HttpHeaders{{"Accept-Encoding", "Deflate"}, {"accept-encoding", " GZIP ,gzip"}}),
             requestsLib);
    // Weights are part of the meaning.
    QCOMPARE(CacheKey::acceptedEncodings(HttpHeaders{{"Accept-Encoding", "gzip;q=0, identity"}}),
             QByteArray("gzip;q=0,identity"));
}

void TestCacheKey::differentAcceptEncodingGivesSeparateEntries()
{
    // Accept-Encoding passes to the upstream: a gzip answer stored for one
    // client must not reach one that asked for none (curl, by default).
    Request plain;
    plain.url = QUrl("https://oauth.reddit.com/r/python/hot.json");
    Request gzip = plain;
    gzip.headers.add("Accept-Encoding", "gzip, deflate");
    Request gzipAgain = plain;
    gzipAgain.headers.add("Accept-Encoding", "deflate,GZIP");
    const CacheKey plainKey = CacheKey::forRequest(plain);
    const CacheKey gzipKey = CacheKey::forRequest(gzip);
    QVERIFY(plainKey != gzipKey);
    QCOMPARE(CacheKey::forRequest(gzipAgain), gzipKey);
    QCOMPARE(qHash(CacheKey::forRequest(gzipAgain)), qHash(gzipKey));
    QCOMPARE(gzipKey.toString(), QString("GET https://oauth.reddit.com/r/python/hot.json ae=deflate,gzip"));

    ResponseCache cache(30, 1 << 20);
    Response compressed = okResponse("\x1f\x8b...");
    compressed.headers.set("Content-Encoding", "gzip");
    QVERIFY(cache.store(gzipKey, compressed));
    QVERIFY(!cache.lookup(plainKey));
    QVERIFY(cache.lookup(CacheKey::forRequest(gzipAgain)));
    QCOMPARE(cache.evict({plain.url.toString()}), 1); // eviction by URL reaches every variant
}

QTEST_GUILESS_MAIN(TestCacheKey)
#include "tst_cachekey.moc"
