// DefaultHandler and its pipeline against the fake upstream: the cache as
// the contract describes it, coalescing, cancellation, upstream faults and
// the process-wide shared pipeline.
#include "FakeReddit.h"
#include "HttpConnection.h"

#include "prawmp/DefaultHandler.h"
#include "prawmp/JsonResponses.h"
#include "prawmp/RequestPipeline.h"
#include "prawmp/ResponseCache.h"
#include "prawmp/Upstream.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>

#include <memory>
#include <vector>

using namespace prawmp;
using prawmp::test::Fault;
using prawmp::test::FakeReddit;

Q_DECLARE_METATYPE(prawmp::Error::Kind)

namespace {

const QString kDomain = QStringLiteral("127.0.0.1");

PipelineConfig testConfig()
{
    PipelineConfig config;
    config.rate.mode = RateMode::Fixed;
    config.rate.delaySeconds = 0; // pacing is tst_ratelimiter's business
    config.upstreamTimeoutSeconds = 10;
    return config;
}

Request get(const QUrl &url, const QString &clientId = {})
{
    Request request;
    request.method = "GET";
    request.url = url;
    request.clientId = clientId;
    return request;
}

// Counts finished() on the reply itself, so a test can wait for it
// without racing a QSignalSpy created too late.
Reply *tracked(Reply *reply)
{
    QObject::connect(reply, &Reply::finished, reply, [reply] {
        reply->setProperty("finishedCount", reply->property("finishedCount").toInt() + 1);
    });
    return reply;
}

int finishedCount(const Reply *reply)
{
    return reply->property("finishedCount").toInt();
}

// Sends through the handler and waits for finished(); the caller owns the reply.
std::unique_ptr<Reply> fetch(Handler &handler, const Request &request, int timeoutMs = 5000)
{
    std::unique_ptr<Reply> reply(tracked(handler.request(request)));
    if (!QTest::qWaitFor([&] { return finishedCount(reply.get()) > 0; }, timeoutMs))
        qWarning("no answer within %d ms for %s", timeoutMs, qPrintable(request.url.toString()));
    return reply;
}

int serialOf(const Reply &reply)
{
    return QJsonDocument::fromJson(reply.response().body).object().value("serial").toInt(-1);
}

// Lets queued invocations (a second finished(), say) run before asserting they did not.
void drainEvents()
{
    for (int i = 0; i < 3; ++i) {
        QCoreApplication::sendPostedEvents();
        QCoreApplication::processEvents();
    }
}

// A minimal origin whose one URL answers GET with a version number and
// counts POSTs, so a successful write to a cached URL can be observed
// (the fake's write endpoints have no GET twin).
class VersionedOrigin : public QObject
{
public:
    bool listen()
    {
        if (!m_server.listen(QHostAddress::LocalHost))
            return false;
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection()) {
                auto *connection = new HttpConnection(socket, HttpLimits{}, this);
                connect(connection, &HttpConnection::closed, connection, &QObject::deleteLater);
                connect(connection, &HttpConnection::requestReceived, this,
                        [this, connection](const IncomingRequest &request) {
                            answer(connection, request);
                        });
            }
        });
        return true;
    }
    QUrl url(const QString &path) const
    {
        return QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_server.serverPort()).arg(path));
    }
    int gets = 0;
    int posts = 0;
    int postStatus = 200;

private:
    void answer(HttpConnection *connection, const IncomingRequest &request)
    {
        Response response;
        if (request.method == "POST") {
            ++posts;
            response.status = postStatus;
        } else {
            ++gets;
            response.status = 200;
        }
        response.reason = reasonPhrase(response.status);
        response.headers.set("Content-Type", "application/json");
        response.body = QJsonDocument(QJsonObject{{"serial", gets}, {"posts", posts}}).toJson(QJsonDocument::Compact);
        connection->respond(request.sequence, response);
    }

    QTcpServer m_server;
};

} // namespace

class TestDefaultHandler : public QObject
{
    Q_OBJECT
private slots:
    void init();
    void cleanup();

    void secondGetIsACacheHitWithTheSameBody();
    void noCacheRequestRefreshesTheEntry();
    void credentialsAreNotShared();
    void redirectComesBackAs302AndIsCached();
    void successfulPostIsNeverCachedAndEvictsItsUrl();
    void failedPostDoesNotEvict();
    void handlerEvictDropsTheEntry();
    void handlerClearDropsEveryEntry();
    void instancesShareTheProcessWidePipeline();
    void setSharedPipelineReplacesTheProcessWidePipeline();

    void coalescingSharesOneUpstreamCall();
    void abortingOneCoalescedWaiterKeepsTheOthers();
    void abortedInFlightRequestStillFillsTheCache();

    void upstreamFaultsGiveDistinctErrors_data();
    void upstreamFaultsGiveDistinctErrors();

private:
    std::unique_ptr<FakeReddit> m_fake;
    std::unique_ptr<RequestPipeline> m_pipeline;
};

void TestDefaultHandler::init()
{
    m_fake = std::make_unique<FakeReddit>();
    QVERIFY2(m_fake->listen(), qPrintable(m_fake->errorString()));
    m_pipeline = std::make_unique<RequestPipeline>(testConfig());
    DefaultHandler::setSharedPipeline(m_pipeline.get());
}

void TestDefaultHandler::cleanup()
{
    DefaultHandler::setSharedPipeline(nullptr);
    m_pipeline.reset();
    m_fake.reset();
}

void TestDefaultHandler::secondGetIsACacheHitWithTheSameBody()
{
    DefaultHandler handler;
    const Request request = get(m_fake->url("/r/python/hot.json?limit=5"));

    auto first = fetch(handler, request);
    QCOMPARE(finishedCount(first.get()), 1);
    QVERIFY2(!first->error(), qPrintable(first->error().message));
    QCOMPARE(first->response().status, 200);
    QCOMPARE(first->cacheStatus(), CacheStatus::Miss);
    QCOMPARE(serialOf(*first), 1);

    auto second = fetch(handler, request);
    QCOMPARE(finishedCount(second.get()), 1);
    QCOMPARE(second->cacheStatus(), CacheStatus::Hit);
    QCOMPARE(second->response().body, first->response().body);
    QCOMPARE(second->response().headers.value("X-Fake-Serial"), QByteArray("1"));
    QCOMPARE(second->ageSeconds(), 0);
    QCOMPARE(m_fake->targetCount("/r/python/hot.json?limit=5"), 1);

    // The key is normalized: another spelling of the same URL hits too.
    QUrl other = m_fake->url("/r/python/hot.json?limit=5");
    other.setScheme("HTTP");
    auto third = fetch(handler, get(other));
    QCOMPARE(third->cacheStatus(), CacheStatus::Hit);
    QCOMPARE(m_fake->requestCount(), 1);

    const PipelineCounters counters = m_pipeline->counters();
    QCOMPARE(counters.hits, 2u);
    QCOMPARE(counters.misses, 1u);
    QCOMPARE(counters.upstreamRequests, 1u);
}

void TestDefaultHandler::noCacheRequestRefreshesTheEntry()
{
    DefaultHandler handler;
    const QUrl url = m_fake->url("/r/qt/hot.json");

    auto first = fetch(handler, get(url));
    QCOMPARE(serialOf(*first), 1);

    Request fresh = get(url);
    fresh.headers.set("Cache-Control", "no-cache");
    auto refreshed = fetch(handler, fresh);
    QVERIFY(!refreshed->error());
    QCOMPARE(refreshed->cacheStatus(), CacheStatus::Bypass);
    QCOMPARE(serialOf(*refreshed), 2);

    // The refreshed answer replaced the entry.
    auto after = fetch(handler, get(url));
    QCOMPARE(after->cacheStatus(), CacheStatus::Hit);
    QCOMPARE(serialOf(*after), 2);

    // Pragma: no-cache (HTTP/1.0 spelling) bypasses as well.
    Request pragma = get(url);
    pragma.headers.set("Pragma", "no-cache");
    auto viaPragma = fetch(handler, pragma);
    QCOMPARE(viaPragma->cacheStatus(), CacheStatus::Bypass);
    QCOMPARE(serialOf(*viaPragma), 3);
    QCOMPARE(m_fake->targetCount("/r/qt/hot.json"), 3);
}

void TestDefaultHandler::credentialsAreNotShared()
{
    DefaultHandler handler;
    const QString alice = m_fake->issueToken("alice");
    const QString bob = m_fake->issueToken("bob");
    Request asAlice = get(m_fake->url("/api/v1/me"));
    asAlice.headers.set("Authorization", "bearer " + alice.toLatin1());
    Request asBob = asAlice;
    asBob.headers.set("Authorization", "bearer " + bob.toLatin1());

    auto a1 = fetch(handler, asAlice);
    auto b1 = fetch(handler, asBob);
    auto a2 = fetch(handler, asAlice);
    QCOMPARE(a1->cacheStatus(), CacheStatus::Miss);
    QCOMPARE(b1->cacheStatus(), CacheStatus::Miss);
    QCOMPARE(a2->cacheStatus(), CacheStatus::Hit);
    const auto name = [](const Reply &r) {
        return QJsonDocument::fromJson(r.response().body).object().value("name").toString();
    };
    QCOMPARE(name(*a1), QStringLiteral("alice"));
    QCOMPARE(name(*b1), QStringLiteral("bob"));
    QCOMPARE(name(*a2), QStringLiteral("alice"));
    QCOMPARE(m_fake->pathCount("/api/v1/me"), 2);
}

void TestDefaultHandler::redirectComesBackAs302AndIsCached()
{
    DefaultHandler handler;
    const QUrl url = m_fake->url("/redirect?to=/r/elsewhere/hot.json");
    auto first = fetch(handler, get(url));
    QVERIFY2(!first->error(), qPrintable(first->error().message));
    QCOMPARE(first->response().status, 302);
    QCOMPARE(first->response().headers.value("Location"), QByteArray("/r/elsewhere/hot.json"));
    QCOMPARE(m_fake->pathCount("/r/elsewhere/hot.json"), 0); // not followed

    auto second = fetch(handler, get(url));
    QCOMPARE(second->cacheStatus(), CacheStatus::Hit);
    QCOMPARE(second->response().status, 302);
    QCOMPARE(m_fake->requestCount(), 1);
}

void TestDefaultHandler::successfulPostIsNeverCachedAndEvictsItsUrl()
{
    VersionedOrigin origin;
    QVERIFY(origin.listen());
    DefaultHandler handler;
    const QUrl url = origin.url("/api/thing");

    auto cached = fetch(handler, get(url));
    QCOMPARE(cached->cacheStatus(), CacheStatus::Miss);
    QCOMPARE(serialOf(*cached), 1);
    QCOMPARE(fetch(handler, get(url))->cacheStatus(), CacheStatus::Hit);

    Request post = get(url);
    post.method = "POST";
    post.body = "x=1";
    post.headers.set("Content-Type", "application/x-www-form-urlencoded");
    for (int i = 1; i <= 2; ++i) {
        auto written = fetch(handler, post);
        QVERIFY2(!written->error(), qPrintable(written->error().message));
        QCOMPARE(written->response().status, 200);
        QCOMPARE(written->cacheStatus(), CacheStatus::Bypass);
        QCOMPARE(origin.posts, i); // never answered from the cache
    }

    // The write evicted the GET entry: the next GET goes upstream.
    auto after = fetch(handler, get(url));
    QCOMPARE(after->cacheStatus(), CacheStatus::Miss);
    QCOMPARE(serialOf(*after), 2);
    QCOMPARE(origin.gets, 2);
}

void TestDefaultHandler::failedPostDoesNotEvict()
{
    VersionedOrigin origin;
    QVERIFY(origin.listen());
    origin.postStatus = 403;
    DefaultHandler handler;
    const QUrl url = origin.url("/api/thing");

    QCOMPARE(serialOf(*fetch(handler, get(url))), 1);
    Request post = get(url);
    post.method = "POST";
    auto refused = fetch(handler, post);
    QCOMPARE(refused->response().status, 403);
    QCOMPARE(origin.posts, 1);

    auto after = fetch(handler, get(url));
    QCOMPARE(after->cacheStatus(), CacheStatus::Hit);
    QCOMPARE(origin.gets, 1);
}

void TestDefaultHandler::handlerEvictDropsTheEntry()
{
    DefaultHandler handler;
    const QUrl url = m_fake->url("/r/evictme/hot.json?limit=3");
    QCOMPARE(serialOf(*fetch(handler, get(url))), 1);

    QFuture<int> evicted = handler.evict({url.toString()});
    QVERIFY(evicted.isFinished());
    QCOMPARE(evicted.result(), 1);
    QCOMPARE(handler.evict({url.toString()}).result(), 0);

    auto after = fetch(handler, get(url));
    QCOMPARE(after->cacheStatus(), CacheStatus::Miss);
    QCOMPARE(serialOf(*after), 2);
}

void TestDefaultHandler::handlerClearDropsEveryEntry()
{
    DefaultHandler handler;
    Handler &anyHandler = handler; // clear() is part of the interface
    const QUrl python = m_fake->url("/r/python/hot.json");
    const QUrl cpp = m_fake->url("/r/cpp/hot.json");
    fetch(handler, get(python));
    fetch(handler, get(cpp));
    QCOMPARE(fetch(handler, get(python))->cacheStatus(), CacheStatus::Hit);

    QFuture<int> cleared = anyHandler.clear();
    QVERIFY(cleared.isFinished());
    QCOMPARE(cleared.result(), 2);
    QCOMPARE(anyHandler.clear().result(), 0);

    QCOMPARE(fetch(handler, get(python))->cacheStatus(), CacheStatus::Miss);
    QCOMPARE(fetch(handler, get(cpp))->cacheStatus(), CacheStatus::Miss);
    QCOMPARE(m_fake->targetCount("/r/python/hot.json"), 2);
}

void TestDefaultHandler::instancesShareTheProcessWidePipeline()
{
    DefaultHandler one;
    DefaultHandler two;
    const QUrl url = m_fake->url("/r/shared/hot.json");
    QCOMPARE(fetch(one, get(url))->cacheStatus(), CacheStatus::Miss);
    QCOMPARE(fetch(two, get(url))->cacheStatus(), CacheStatus::Hit);
    QCOMPARE(m_pipeline->counters().requests, 2u);

    // A handler given its own pipeline does not use the shared one.
    RequestPipeline own(testConfig());
    DefaultHandler separate(&own);
    QCOMPARE(fetch(separate, get(url))->cacheStatus(), CacheStatus::Miss);
    QCOMPARE(own.counters().requests, 1u);
    QCOMPARE(m_pipeline->counters().requests, 2u);
    QCOMPARE(m_fake->requestCount(), 2);
}

void TestDefaultHandler::setSharedPipelineReplacesTheProcessWidePipeline()
{
    QCOMPARE(DefaultHandler::sharedPipeline(), m_pipeline.get());
    DefaultHandler handler; // created before the switch: must follow it
    const QUrl url = m_fake->url("/r/switch/hot.json");
    QCOMPARE(fetch(handler, get(url))->cacheStatus(), CacheStatus::Miss);

    auto replacement = std::make_unique<RequestPipeline>(testConfig());
    DefaultHandler::setSharedPipeline(replacement.get());
    QCOMPARE(DefaultHandler::sharedPipeline(), replacement.get());
    // A new budget and an empty cache: the same URL goes upstream again.
    auto again = fetch(handler, get(url));
    QCOMPARE(again->cacheStatus(), CacheStatus::Miss);
    QCOMPARE(serialOf(*again), 2);
    QCOMPARE(replacement->counters().requests, 1u);
    QCOMPARE(m_pipeline->counters().requests, 1u);

    // nullptr restores the default pipeline, which stays the same object.
    DefaultHandler::setSharedPipeline(nullptr);
    RequestPipeline *defaultPipeline = DefaultHandler::sharedPipeline();
    QVERIFY(defaultPipeline);
    QVERIFY(defaultPipeline != replacement.get());
    QVERIFY(defaultPipeline != m_pipeline.get());
    QCOMPARE(DefaultHandler::sharedPipeline(), defaultPipeline);

    // An override that is destroyed falls back to the default, not a dangling pointer.
    DefaultHandler::setSharedPipeline(replacement.get());
    replacement.reset();
    QCOMPARE(DefaultHandler::sharedPipeline(), defaultPipeline);
}

void TestDefaultHandler::coalescingSharesOneUpstreamCall()
{
    m_fake->setLatencyMs(300);
    DefaultHandler handler;
    const Request request = get(m_fake->url("/r/popular/hot.json?limit=10"));

    std::vector<std::unique_ptr<Reply>> replies;
    for (int i = 0; i < 10; ++i)
        replies.emplace_back(tracked(handler.request(request)));
    for (const auto &reply : replies)
        QTRY_COMPARE_WITH_TIMEOUT(finishedCount(reply.get()), 1, 5000);

    QCOMPARE(m_fake->requestCount(), 1);
    int misses = 0;
    int coalesced = 0;
    for (const auto &reply : replies) {
        QVERIFY2(!reply->error(), qPrintable(reply->error().message));
        QCOMPARE(reply->response(), replies.front()->response());
        misses += reply->cacheStatus() == CacheStatus::Miss;
        coalesced += reply->cacheStatus() == CacheStatus::Coalesced;
    }
    QCOMPARE(serialOf(*replies.front()), 1);
    QCOMPARE(misses, 1);
    QCOMPARE(coalesced, 9);
    QCOMPARE(m_pipeline->counters().coalesced, 9u);
    QCOMPARE(m_pipeline->counters().upstreamRequests, 1u);
}

void TestDefaultHandler::abortingOneCoalescedWaiterKeepsTheOthers()
{
    // A slow pace keeps the flight queued behind a first request.
    m_pipeline->reconfigure([] {
        PipelineConfig c = testConfig();
        c.rate.delaySeconds = 0.5;
        return c;
    }());
    DefaultHandler handler;
    auto opener = std::unique_ptr<Reply>(tracked(handler.request(get(m_fake->url("/r/first/hot.json")))));
    const Request request = get(m_fake->url("/r/queued/hot.json"));
    std::unique_ptr<Reply> leaving(tracked(handler.request(request)));
    std::unique_ptr<Reply> staying(tracked(handler.request(request)));
    QCOMPARE(m_pipeline->limiter().state(kDomain).queued, 1);

    leaving->abort();
    QCOMPARE(m_pipeline->limiter().state(kDomain).queued, 1); // someone still waits
    QTRY_COMPARE(finishedCount(leaving.get()), 1);
    QCOMPARE(leaving->error().kind, Error::Kind::Canceled);

    QTRY_COMPARE_WITH_TIMEOUT(finishedCount(staying.get()), 1, 5000);
    QVERIFY2(!staying->error(), qPrintable(staying->error().message));
    QCOMPARE(staying->response().status, 200);
    QCOMPARE(m_fake->targetCount("/r/queued/hot.json"), 1);
    drainEvents();
    QCOMPARE(finishedCount(leaving.get()), 1);
}

void TestDefaultHandler::abortedInFlightRequestStillFillsTheCache()
{
    DefaultHandler handler;
    const QUrl url = m_fake->url("/r/slow/hot.json?__delay_ms=300");
    std::unique_ptr<Reply> reply(tracked(handler.request(get(url))));
    QTRY_COMPARE(m_fake->requestCount(), 1); // on its way: the budget is spent
    reply->abort();
    QTRY_COMPARE(finishedCount(reply.get()), 1);
    QCOMPARE(reply->error().kind, Error::Kind::Canceled);

    // The answer that was paid for lands in the cache anyway.
    QTRY_VERIFY_WITH_TIMEOUT(m_pipeline->cache().counters().entries == 1, 5000);
    auto later = fetch(handler, get(url));
    QCOMPARE(later->cacheStatus(), CacheStatus::Hit);
    QCOMPARE(serialOf(*later), 1);
    QCOMPARE(m_fake->requestCount(), 1);
    QCOMPARE(finishedCount(reply.get()), 1);
}

void TestDefaultHandler::upstreamFaultsGiveDistinctErrors_data()
{
    QTest::addColumn<QString>("fault");
    QTest::addColumn<Error::Kind>("kind");
    QTest::addColumn<int>("status"); // an upstream status passed through (no error)

    QTest::newRow("drop") << "drop" << Error::Kind::ConnectionFailed << 0;
    QTest::newRow("500") << "500" << Error::Kind::None << 500;
    QTest::newRow("hang") << "hang" << Error::Kind::Timeout << 0;
    QTest::newRow("garbage") << "garbage" << Error::Kind::BadResponse << 0;
    QTest::newRow("partial") << "partial" << Error::Kind::ConnectionFailed << 0;
}

void TestDefaultHandler::upstreamFaultsGiveDistinctErrors()
{
    QFETCH(QString, fault);
    QFETCH(Error::Kind, kind);
    QFETCH(int, status);

    PipelineConfig config = testConfig();
    config.upstreamTimeoutSeconds = 1.0;
    m_pipeline->reconfigure(config);
    DefaultHandler handler;

    // A warm connection first: faults on a reused keep-alive connection are
    // the ones a client library is most tempted to paper over.
    auto warm = fetch(handler, get(m_fake->url("/r/warm/hot.json")));
    QCOMPARE(warm->response().status, 200);

    const QString target = "/r/faulty/hot.json?__fault=" + fault;
    QElapsedTimer timer;
    timer.start();
    std::unique_ptr<Reply> reply(tracked(handler.request(get(m_fake->url(target)))));
    QTRY_COMPARE_WITH_TIMEOUT(finishedCount(reply.get()), 1, 5000);
    const qint64 elapsed = timer.elapsed();
    qInfo("fault %s -> %s (%s) after %lld ms, %d upstream arrival(s)", qPrintable(fault),
          qPrintable(reply->error().code()), qPrintable(reply->error().message), elapsed,
          m_fake->targetCount(target.toUtf8()));

    QCOMPARE(reply->error().kind, kind);
    if (kind == Error::Kind::None) {
        QCOMPARE(reply->response().status, status);
        QCOMPARE(reply->cacheStatus(), CacheStatus::Miss);
    } else {
        QVERIFY(!reply->error().message.isEmpty());
        QCOMPARE(reply->response().status, 0);
        QVERIFY(reply->response().body.isEmpty()); // no half answer passes as a whole one
    }
    if (kind == Error::Kind::Timeout) {
        QVERIFY2(elapsed >= 950, qPrintable(QString::number(elapsed)));
        QCOMPARE(reply->error().httpStatus(), 504);
    }
    // The upstream saw the request exactly once: nothing was resent behind
    // the limiter's back.
    QCOMPARE(m_fake->targetCount(target.toUtf8()), 1);
    // Nothing of the failure is cached.
    QCOMPARE(m_pipeline->cache().counters().entries, 1u);

    // The handler keeps working.
    auto after = fetch(handler, get(m_fake->url("/r/after/hot.json")));
    QVERIFY2(!after->error(), qPrintable(after->error().message));
    QCOMPARE(after->response().status, 200);
    QCOMPARE(after->cacheStatus(), CacheStatus::Miss);
    QCOMPARE(m_pipeline->limiter().state(kDomain).inFlight, 0);
    QCOMPARE(m_pipeline->upstream().inFlight(), 0);
}

QTEST_GUILESS_MAIN(TestDefaultHandler)
#include "tst_defaulthandler.moc"
