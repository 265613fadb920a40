#include "prawmp/ResponseCache.h"

#include <QElapsedTimer>
#include <QTest>
#include <QThread>
#include <atomic>

using namespace prawmp;

class TestResponseCache : public QObject
{
    Q_OBJECT
private slots:
    void storedEntryIsReturnedWithItsAge();
    void cachedEntryExpiresAfterTtl();
    void onlyGetAndHeadWith200Or302AreStored_data();
    void onlyGetAndHeadWith200Or302AreStored();
    void lruBoundIsRespectedInBytes();
    void leastRecentlyUsedGoesFirst();
    void responseLargerThanBoundIsNotStored();
    void shrinkingBoundEvictsAtOnce();
    void evictDropsEveryMethodAndCredentialOfTheUrl();
    void clearReturnsHowManyWereDropped();
    void countersTrackHitsMissesAndSize();
    void concurrentUseFromSeveralThreadsIsSafe();
};

static CacheKey key(const QString &url, const QByteArray &method = "GET",
                    const QByteArray &credentials = {})
{
    return CacheKey(method, CacheKey::normalizeUrl(QUrl(url)), credentials);
}

static Response response(int status = 200, const QByteArray &body = "{}")
{
    return Response{status, "OK", {}, body};
}

// What one entry costs in the bound: the response plus its key.
static qint64 cost(const CacheKey &k, const Response &r)
{
    return r.byteSize() + k.method().size() + k.normalizedUrl().size() + k.credentials().size();
}

void TestResponseCache::storedEntryIsReturnedWithItsAge()
{
    ResponseCache cache(30, 1 << 20);
    const Response r{200, "OK", HttpHeaders{{"X-A", "1"}}, "hello"};
    QVERIFY(cache.store(key("https://a.com/x"), r));
    const auto entry = cache.lookup(key("https://A.com:443/x"));
    QVERIFY(entry);
    QCOMPARE(entry->response, r);
    QCOMPARE(entry->ageSeconds, 0);
}

void TestResponseCache::cachedEntryExpiresAfterTtl()
{
    ResponseCache cache(0.2, 1 << 20);
    QVERIFY(cache.store(key("https://a.com/x"), response()));
    QElapsedTimer timer;
    timer.start();
    QVERIFY(cache.lookup(key("https://a.com/x")));
    QTRY_VERIFY_WITH_TIMEOUT(!cache.lookup(key("https://a.com/x")), 2000);
    QVERIFY(timer.elapsed() >= 190); // not before the TTL
    const auto c = cache.counters();
    QCOMPARE(c.entries, 0u); // dropped on lookup
    QCOMPARE(c.bytes, 0u);
    QVERIFY(c.evictions >= 1);
}

void TestResponseCache::onlyGetAndHeadWith200Or302AreStored_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<int>("status");
    QTest::addColumn<bool>("stored");
    QTest::newRow("GET 200") << QByteArray("GET") << 200 << true;
    QTest::newRow("GET 302") << QByteArray("GET") << 302 << true;
    QTest::newRow("HEAD 200") << QByteArray("HEAD") << 200 << true;
    QTest::newRow("HEAD 302") << QByteArray("HEAD") << 302 << true;
    QTest::newRow("GET 301") << QByteArray("GET") << 301 << false;
    QTest::newRow("GET 304") << QByteArray("GET") << 304 << false;
    QTest::newRow("GET 404") << QByteArray("GET") << 404 << false;
    QTest::newRow("GET 429") << QByteArray("GET") << 429 << false;
    QTest::newRow("GET 500") << QByteArray("GET") << 500 << false;
    QTest::newRow("POST 200") << QByteArray("POST") << 200 << false;
    QTest::newRow("PUT 200") << QByteArray("PUT") << 200 << false;
    QTest::newRow("DELETE 200") << QByteArray("DELETE") << 200 << false;
}

void TestResponseCache::onlyGetAndHeadWith200Or302AreStored()
{
    QFETCH(QByteArray, method);
    QFETCH(int, status);
    QFETCH(bool, stored);
    QCOMPARE(ResponseCache::isStorable(method, status), stored);
    ResponseCache cache(30, 1 << 20);
    QCOMPARE(cache.store(key("https://a.com/x", method), response(status)), stored);
    QCOMPARE(bool(cache.lookup(key("https://a.com/x", method))), stored);
    QCOMPARE(cache.counters().entries, stored ? 1u : 0u);
}

void TestResponseCache::lruBoundIsRespectedInBytes()
{
    const Response r = response(200, QByteArray(1000, 'x'));
    const qint64 each = cost(key("https://a.com/0"), r);
    ResponseCache cache(30, each * 3 + each / 2); // room for three and a half
    for (int i = 0; i < 10; ++i) {
        QVERIFY(cache.store(key(QString("https://a.com/%1").arg(i)), r));
        QVERIFY(qint64(cache.counters().bytes) <= cache.maxBytes());
    }
    const auto c = cache.counters();
    QCOMPARE(c.entries, 3u);
    QCOMPARE(qint64(c.bytes), each * 3);
    QCOMPARE(c.evictions, 7u);
    // The three most recent survive.
    for (int i = 7; i < 10; ++i)
        QVERIFY(cache.lookup(key(QString("https://a.com/%1").arg(i))));
}

void TestResponseCache::leastRecentlyUsedGoesFirst()
{
    const Response r = response(200, QByteArray(1000, 'x'));
    ResponseCache cache(30, cost(key("https://a.com/0"), r) * 3);
    QVERIFY(cache.store(key("https://a.com/0"), r));
    QVERIFY(cache.store(key("https://a.com/1"), r));
    QVERIFY(cache.store(key("https://a.com/2"), r));
    QVERIFY(cache.lookup(key("https://a.com/0"))); // 0 is now the most recent; 1 the least
    QVERIFY(cache.store(key("https://a.com/3"), r));
    QVERIFY(!cache.lookup(key("https://a.com/1")));
    QVERIFY(cache.lookup(key("https://a.com/0")));
    QVERIFY(cache.lookup(key("https://a.com/2")));
    QVERIFY(cache.lookup(key("https://a.com/3")));
}

void TestResponseCache::responseLargerThanBoundIsNotStored()
{
    ResponseCache cache(30, 500);
    QVERIFY(cache.store(key("https://a.com/small"), response(200, "small")));
    QVERIFY(!cache.store(key("https://a.com/big"), response(200, QByteArray(600, 'x'))));
    QVERIFY(!cache.lookup(key("https://a.com/big")));
    // Nothing else was thrown out to make room for it.
    QVERIFY(cache.lookup(key("https://a.com/small")));
}

void TestResponseCache::shrinkingBoundEvictsAtOnce()
{
    const Response r = response(200, QByteArray(1000, 'x'));
    const qint64 each = cost(key("https://a.com/0"), r);
    ResponseCache cache(30, each * 4);
    for (int i = 0; i < 4; ++i)
        QVERIFY(cache.store(key(QString("https://a.com/%1").arg(i)), r));
    cache.setMaxBytes(each * 2);
    QCOMPARE(cache.counters().entries, 2u);
    QVERIFY(cache.lookup(key("https://a.com/3")));
    QVERIFY(!cache.lookup(key("https://a.com/0")));
}

void TestResponseCache::evictDropsEveryMethodAndCredentialOfTheUrl()
{
    ResponseCache cache(30, 1 << 20);
    QVERIFY(cache.store(key("https://a.com/x?b=2&a=1"), response()));
    QVERIFY(cache.store(key("https://a.com/x?b=2&a=1", "HEAD"), response()));
    QVERIFY(cache.store(key("https://a.com/x?b=2&a=1", "GET", "0123456789abcdef"), response()));
    QVERIFY(cache.store(key("https://a.com/y"), response()));
    // Another spelling of the same URL reaches the same entries.
    QCOMPARE(cache.evict({"HTTPS://A.COM:443/x?a=1&b=2#frag"}), 3);
    QCOMPARE(cache.counters().entries, 1u);
    QCOMPARE(cache.counters().evictions, 3u);
    QVERIFY(cache.lookup(key("https://a.com/y")));
    QCOMPARE(cache.evict({"https://a.com/x", "https://a.com/nothing"}), 0);
    QCOMPARE(cache.evict({"https://a.com/y", "https://a.com/y"}), 1);
    QCOMPARE(cache.counters().bytes, 0u);
}

void TestResponseCache::clearReturnsHowManyWereDropped()
{
    ResponseCache cache(30, 1 << 20);
    for (int i = 0; i < 5; ++i)
        QVERIFY(cache.store(key(QString("https://a.com/%1").arg(i)), response()));
    QCOMPARE(cache.clear(), 5);
    QCOMPARE(cache.counters().entries, 0u);
    QCOMPARE(cache.counters().bytes, 0u);
    QCOMPARE(cache.counters().evictions, 5u);
    QVERIFY(!cache.lookup(key("https://a.com/0")));
    QCOMPARE(cache.clear(), 0);
    // Still usable after a clear.
    QVERIFY(cache.store(key("https://a.com/0"), response()));
    QVERIFY(cache.lookup(key("https://a.com/0")));
}

void TestResponseCache::countersTrackHitsMissesAndSize()
{
    ResponseCache cache(30, 1 << 20);
    const Response r = response(200, "abc");
    QVERIFY(!cache.lookup(key("https://a.com/x")));
    QVERIFY(cache.store(key("https://a.com/x"), r));
    QVERIFY(cache.lookup(key("https://a.com/x")));
    QVERIFY(cache.lookup(key("https://a.com/x")));
    // Replacing an entry does not count twice.
    QVERIFY(cache.store(key("https://a.com/x"), r));
    const auto c = cache.counters();
    QCOMPARE(c.hits, 2u);
    QCOMPARE(c.misses, 1u);
    QCOMPARE(c.entries, 1u);
    QCOMPARE(qint64(c.bytes), cost(key("https://a.com/x"), r));
    QCOMPARE(c.evictions, 0u);
}

void TestResponseCache::concurrentUseFromSeveralThreadsIsSafe()
{
    const Response r = response(200, QByteArray(100, 'x'));
    const qint64 bound = cost(key("https://a.com/t0/00"), r) * 50;
    ResponseCache cache(30, bound);
    constexpr int threads = 6;
    constexpr int rounds = 2000;
    std::atomic<int> wrongAnswers = 0; // QVERIFY cannot be used off the test thread
    QList<QThread *> workers;
    for (int t = 0; t < threads; ++t) {
        workers.append(QThread::create([&cache, &r, &wrongAnswers, t] {
            for (int i = 0; i < rounds; ++i) {
                const CacheKey k = key(QString("https://a.com/t%1/%2").arg(t).arg(i % 97, 2, 10, QChar('0')));
                if (auto e = cache.lookup(k))
                    wrongAnswers += e->response == r ? 0 : 1;
                else
                    cache.store(k, r);
                if (i % 500 == 0)
                    cache.evict({QString("https://a.com/t%1/00").arg(t)});
            }
        }));
        workers.last()->start();
    }
    for (QThread *w : workers) {
        QVERIFY(w->wait(60000));
        delete w;
    }
    QCOMPARE(wrongAnswers.load(), 0);
    const auto c = cache.counters();
    QCOMPARE(c.hits + c.misses, quint64(threads * rounds));
    QVERIFY(qint64(c.bytes) <= bound);
    QVERIFY(c.entries > 0 && c.entries <= 50);
    QCOMPARE(cache.clear(), int(c.entries));
}

QTEST_GUILESS_MAIN(TestResponseCache)
#include "tst_responsecache.moc"
