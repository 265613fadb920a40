// needs: praw-multiprocess fake-reddit
// prawmp::NetworkAccessManager as Qt applications meet it: code written
// against QNetworkAccessManager's API, run against the real daemon process
// and the fake upstream (and in-process through DefaultHandler). Where QNAM
// has an answer of its own (error codes for statuses, transfer timeouts),
// plain QNAM is asked the same thing and the two must agree.
#include "DaemonTestKit.h"
#include "FakeReddit.h"
#include "ProcessFixture.h"
#include "TestPorts.h"

#include "prawmp/DefaultHandler.h"
#include "prawmp/NetworkAccessManager.h"
#include "prawmp/RateBudget.h"
#include "prawmp/RequestPipeline.h"

#include <QBuffer>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTimer>
#include <QTest>

#include <memory>

using prawmp::test::FakeReddit;
using prawmp::test::ProcessFixture;
using namespace Qt::Literals::StringLiterals;

namespace {

bool waitFinished(QNetworkReply *reply, int timeoutMs = 15'000)
{
    return QTest::qWaitFor([reply] { return reply->isFinished(); }, timeoutMs);
}

QString describe(QNetworkReply *reply)
{
    return QStringLiteral("%1 -> error %2 (%3), status %4, X-Cache %5")
        .arg(reply->url().toString())
        .arg(int(reply->error()))
        .arg(reply->errorString())
        .arg(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt())
        .arg(QString::fromLatin1(reply->rawHeader("X-Cache")));
}

// The names of a reply's signals in the order they came.
struct SignalLog
{
    QStringList names;
    qint64 bytesAtReadyRead = -1;

    explicit SignalLog(QNetworkReply *reply)
    {
        QObject::connect(reply, &QNetworkReply::metaDataChanged, reply, [this] { names.append(u"metaDataChanged"_s); });
        QObject::connect(reply, &QNetworkReply::readyRead, reply, [this, reply] {
            names.append(u"readyRead"_s);
            bytesAtReadyRead = reply->bytesAvailable();
        });
        QObject::connect(reply, &QNetworkReply::downloadProgress, reply, [this] { names.append(u"downloadProgress"_s); });
        QObject::connect(reply, &QNetworkReply::errorOccurred, reply, [this] { names.append(u"errorOccurred"_s); });
        QObject::connect(reply, &QNetworkReply::finished, reply, [this] { names.append(u"finished"_s); });
    }
};

// A sequential body (a pipe, a socket): its bytes come in pieces, later,
// and its end is readChannelFinished().
class TrickleDevice : public QIODevice
{
public:
    explicit TrickleDevice(const QByteArray &data) : m_data(data)
    {
        open(QIODevice::ReadOnly);
        m_timer.setInterval(20);
        QObject::connect(&m_timer, &QTimer::timeout, this, [this] {
            m_available += 4;
            emit readyRead();
            if (m_available >= m_data.size()) {
                m_timer.stop();
                emit readChannelFinished();
            }
        });
        m_timer.start();
    }
    bool isSequential() const override { return true; }
    qint64 bytesAvailable() const override
    {
        return std::min<qint64>(m_available, m_data.size()) - m_pos + QIODevice::bytesAvailable();
    }

protected:
    qint64 readData(char *data, qint64 maxSize) override
    {
        const qint64 n = std::min<qint64>(maxSize, std::min<qint64>(m_available, m_data.size()) - m_pos);
        memcpy(data, m_data.constData() + m_pos, size_t(n));
        m_pos += n;
        return n;
    }
    qint64 writeData(const char *, qint64) override { return -1; }

private:
    QByteArray m_data;
    qint64 m_available = 0;
    qint64 m_pos = 0;
    QTimer m_timer;
};

prawmp::PipelineConfig unpacedConfig(double delaySeconds = 0)
{
    prawmp::PipelineConfig config;
    config.rate.mode = prawmp::RateMode::Fixed;
    config.rate.delaySeconds = delaySeconds;
    config.upstreamTimeoutSeconds = 10;
    return config;
}

// A port nothing listens on.
quint16 closedPort()
{
    QTcpServer server;
    if (!server.listen(QHostAddress::LocalHost, 0))
        return 0;
    const quint16 port = server.serverPort();
    server.close();
    return port;
}

} // namespace

class TestNetworkAccessManager : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<FakeReddit> m_reddit;
    std::unique_ptr<ProcessFixture> m_daemon;

    // A manager that shares through the suite's daemon (the default
    // constructor, pointed there by $PRAWMP_SERVER as a user would).
    std::unique_ptr<prawmp::NetworkAccessManager> daemonManager()
    {
        qputenv("PRAWMP_SERVER", QByteArray("127.0.0.1:") + QByteArray::number(m_daemon->port()));
        auto nam = std::make_unique<prawmp::NetworkAccessManager>();
        qunsetenv("PRAWMP_SERVER");
        nam->setRoutedHosts({u"127.0.0.1"_s});
        return nam;
    }

    QUrl url(const QString &pathAndQuery) const { return m_reddit->url(pathAndQuery); }

private slots:
    void initTestCase()
    {
        m_reddit = std::make_unique<FakeReddit>();
        QVERIFY(m_reddit->listen());
        m_daemon = std::make_unique<ProcessFixture>();
        QVERIFY2(dtk::startDaemon(*m_daemon, dtk::unpacedDaemonArgs(m_reddit->port())),
                 qPrintable(m_daemon->describe()));
    }

    void cleanupTestCase()
    {
        if (m_daemon)
            QVERIFY2(m_daemon->stop(), qPrintable(m_daemon->describe()));
    }

    void defaultsAreRedditsHosts()
    {
        prawmp::NetworkAccessManager nam;
        QCOMPARE(nam.routedHosts(), (QStringList{u"www.reddit.com"_s, u"oauth.reddit.com"_s}));
        QVERIFY(nam.isRouted(QUrl(u"https://OAUTH.reddit.com/api/v1/me"_s)));
        QVERIFY(!nam.isRouted(QUrl(u"https://example.org/"_s)));
        QCOMPARE(nam.serverAddress(), u"localhost:10101"_s);
        qputenv("PRAWMP_SERVER", "[::1]:10111");
        prawmp::NetworkAccessManager v6;
        qunsetenv("PRAWMP_SERVER");
        QCOMPARE(v6.serverAddress(), u"::1:10111"_s);
    }

    void getIsMissThenHitWithTheSameBody()
    {
        auto nam = daemonManager();
        const QUrl target = url(u"/r/qnam/hot.json?limit=3"_s);

        QNetworkReply *first = nam->get(QNetworkRequest(target));
        SignalLog log(first);
        QSignalSpy managerFinished(nam.get(), &QNetworkAccessManager::finished);
        QVERIFY(!first->isFinished());
        QVERIFY(waitFinished(first));
        QCOMPARE(first->error(), QNetworkReply::NoError);
        QCOMPARE(first->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        QCOMPARE(first->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toByteArray(), QByteArray("OK"));
        QCOMPARE(first->rawHeader("X-Cache"), QByteArray("MISS"));
        QCOMPARE(first->attribute(QNetworkRequest::SourceIsFromCacheAttribute).toBool(), false);
        QVERIFY2(first->header(QNetworkRequest::ContentTypeHeader).toString().startsWith(u"application/json"_s),
                 qPrintable(first->header(QNetworkRequest::ContentTypeHeader).toString()));
        QCOMPARE(log.names, (QStringList{u"metaDataChanged"_s, u"readyRead"_s, u"downloadProgress"_s, u"finished"_s}));
        QVERIFY(log.bytesAtReadyRead > 0);
        QCOMPARE(managerFinished.count(), 1);
        QCOMPARE(managerFinished.at(0).at(0).value<QNetworkReply *>(), first);

        // Partial reads: peek, a few bytes, then the rest.
        const qint64 size = first->bytesAvailable();
        QVERIFY(size > 10);
        const QByteArray peeked = first->peek(5);
        const QByteArray head = first->read(5);
        QCOMPARE(head, peeked);
        QCOMPARE(first->bytesAvailable(), size - 5);
        const QByteArray body = head + first->readAll();
        QCOMPARE(body.size(), size);
        QCOMPARE(first->bytesAvailable(), 0);
        QCOMPARE(QJsonDocument::fromJson(body).object().value(u"kind"_s).toString(), u"Listing"_s);

        QNetworkReply *second = nam->get(QNetworkRequest(target));
        QVERIFY(waitFinished(second));
        QCOMPARE(second->error(), QNetworkReply::NoError);
        QCOMPARE(second->rawHeader("X-Cache"), QByteArray("HIT"));
        QVERIFY(second->hasRawHeader("Age"));
        QCOMPARE(second->attribute(QNetworkRequest::SourceIsFromCacheAttribute).toBool(), true);
        QCOMPARE(second->readAll(), body);
        QCOMPARE(m_reddit->targetCount("/r/qnam/hot.json?limit=3"), 1);
        delete first;
        delete second;
    }

    void alwaysNetworkIsNotAnsweredFromTheCache()
    {
        auto nam = daemonManager();
        const QUrl target = url(u"/r/qnam/new.json"_s);
        QNetworkReply *first = nam->get(QNetworkRequest(target));
        QVERIFY(waitFinished(first));
        QCOMPARE(first->rawHeader("X-Fake-Serial"), QByteArray("1"));

        QNetworkRequest fresh(target);
        fresh.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysNetwork);
        QNetworkReply *second = nam->get(fresh);
        QVERIFY(waitFinished(second));
        QCOMPARE(second->error(), QNetworkReply::NoError);
        QCOMPARE(second->attribute(QNetworkRequest::SourceIsFromCacheAttribute).toBool(), false);
        QCOMPARE(second->rawHeader("X-Fake-Serial"), QByteArray("2"));
        QCOMPARE(m_reddit->targetCount("/r/qnam/new.json"), 2);

        // The fresh answer refreshed the entry.
        QNetworkReply *third = nam->get(QNetworkRequest(target));
        QVERIFY(waitFinished(third));
        QCOMPARE(third->rawHeader("X-Cache"), QByteArray("HIT"));
        QCOMPARE(third->rawHeader("X-Fake-Serial"), QByteArray("2"));
        delete first;
        delete second;
        delete third;
    }

    void alwaysCacheAnswersFromTheCacheOnly()
    {
        auto nam = daemonManager();
        const QUrl cached = url(u"/r/qnam/about.json"_s);
        QNetworkReply *warm = nam->get(QNetworkRequest(cached));
        QVERIFY(waitFinished(warm));

        QNetworkRequest fromCache(cached);
        fromCache.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysCache);
        QNetworkReply *hit = nam->get(fromCache);
        QVERIFY(waitFinished(hit));
        QCOMPARE(hit->error(), QNetworkReply::NoError);
        QCOMPARE(hit->attribute(QNetworkRequest::SourceIsFromCacheAttribute).toBool(), true);
        QCOMPARE(hit->readAll(), warm->readAll());

        // Nothing cached: QNAM's answer (ContentNotFoundError, no data), and
        // the upstream never sees the request.
        const QUrl uncached = url(u"/r/qnam_never/about.json"_s);
        QNetworkRequest onlyCache(uncached);
        onlyCache.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysCache);
        QNetworkReply *miss = nam->get(onlyCache);
        QVERIFY(waitFinished(miss));
        QCOMPARE(miss->error(), QNetworkReply::ContentNotFoundError);
        QCOMPARE(miss->bytesAvailable(), 0);
        QCOMPARE(m_reddit->pathCount("/r/qnam_never/about.json"), 0);
        delete warm;
        delete hit;
        delete miss;
    }

    void alwaysCacheWorksInProcessToo()
    {
        // The same request attribute through DefaultHandler: RequestPipeline
        // answers only-if-cached for both.
        prawmp::RequestPipeline pipeline(unpacedConfig());
        prawmp::DefaultHandler handler(&pipeline);
        prawmp::NetworkAccessManager nam(&handler);
        nam.setRoutedHosts({u"127.0.0.1"_s});
        QNetworkRequest onlyCache(url(u"/r/inproc_cache/hot.json"_s));
        onlyCache.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysCache);

        QNetworkReply *miss = nam.get(onlyCache);
        QVERIFY(waitFinished(miss));
        QCOMPARE(miss->error(), QNetworkReply::ContentNotFoundError);
        QCOMPARE(m_reddit->pathCount("/r/inproc_cache/hot.json"), 0);

        QNetworkReply *fill = nam.get(QNetworkRequest(onlyCache.url()));
        QVERIFY(waitFinished(fill));
        QCOMPARE(fill->rawHeader("X-Cache"), QByteArray("MISS"));
        QNetworkReply *hit = nam.get(onlyCache);
        QVERIFY(waitFinished(hit));
        QCOMPARE(hit->error(), QNetworkReply::NoError);
        QCOMPARE(hit->attribute(QNetworkRequest::SourceIsFromCacheAttribute).toBool(), true);
        QCOMPARE(hit->readAll(), fill->readAll());
        QCOMPARE(m_reddit->pathCount("/r/inproc_cache/hot.json"), 1);
        for (QNetworkReply *r : {miss, fill, hit})
            delete r;
    }

    void headHasHeadersAndNoBody()
    {
        auto nam = daemonManager();
        QNetworkReply *reply = nam->head(QNetworkRequest(url(u"/r/qnam_head/hot.json"_s)));
        QVERIFY(waitFinished(reply));
        QCOMPARE(reply->error(), QNetworkReply::NoError);
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        QVERIFY(reply->header(QNetworkRequest::ContentTypeHeader).isValid());
        QCOMPARE(reply->bytesAvailable(), 0);
        QCOMPARE(m_reddit->log().last().method, QByteArray("HEAD"));
        delete reply;
    }

    void onlyIfCachedIsAnsweredByTheDaemon()
    {
        // The daemon behaviour AlwaysCache relies on, as any HTTP client sees it.
        const dtk::RawResponse miss = dtk::fetch(
            m_daemon->port(), dtk::get(url(u"/r/only_if/hot.json"_s).toEncoded(), {{"Cache-Control", "only-if-cached"}}));
        QCOMPARE(dtk::checkJsonError(miss, 504, u"not_cached"_s), QString());
        QCOMPARE(m_reddit->pathCount("/r/only_if/hot.json"), 0);
        const dtk::RawResponse fill = dtk::fetch(m_daemon->port(), dtk::get(url(u"/r/only_if/hot.json"_s).toEncoded()));
        QCOMPARE(fill.status, 200);
        const dtk::RawResponse hit = dtk::fetch(
            m_daemon->port(), dtk::get(url(u"/r/only_if/hot.json"_s).toEncoded(), {{"Cache-Control", "only-if-cached"}}));
        QCOMPARE(hit.status, 200);
        QCOMPARE(hit.header("x-cache"), QByteArray("HIT"));
        QCOMPARE(hit.body, fill.body);
        QCOMPARE(m_reddit->pathCount("/r/only_if/hot.json"), 1);
    }

    void notFoundKeepsItsBodyReadable()
    {
        auto nam = daemonManager();
        QNetworkReply *reply = nam->get(QNetworkRequest(url(u"/no/such/thing"_s)));
        SignalLog log(reply);
        QSignalSpy errors(reply, &QNetworkReply::errorOccurred);
        QVERIFY(waitFinished(reply));
        QCOMPARE(reply->error(), QNetworkReply::ContentNotFoundError);
        QCOMPARE(errors.count(), 1);
        QCOMPARE(errors.at(0).at(0).value<QNetworkReply::NetworkError>(), QNetworkReply::ContentNotFoundError);
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 404);
        const QByteArray body = reply->readAll();
        QVERIFY2(!body.isEmpty() && QJsonDocument::fromJson(body).isObject(), body.constData());
        // As QNAM: the data first, then the error, then finished.
        QCOMPARE(log.names, (QStringList{u"metaDataChanged"_s, u"readyRead"_s, u"downloadProgress"_s,
                                         u"errorOccurred"_s, u"finished"_s}));
        delete reply;
    }

    void writesCarryTheirBodiesAndBypassTheCache_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::newRow("post QByteArray") << u"post"_s;
        QTest::newRow("put QIODevice") << u"put"_s;
        QTest::newRow("post sequential QIODevice") << u"trickle"_s;
        QTest::newRow("custom PATCH") << u"patch"_s;
        QTest::newRow("deleteResource") << u"delete"_s;
    }

    void writesCarryTheirBodiesAndBypassTheCache()
    {
        QFETCH(QString, kind);
        auto nam = daemonManager();
        const QByteArray body = "thing_id=t3_1&text=" + kind.toLatin1();
        QNetworkRequest request(url(u"/api/qnam_"_s + kind));
        request.setHeader(QNetworkRequest::ContentTypeHeader, "application/x-www-form-urlencoded");
        QBuffer device;
        device.setData(body);
        QVERIFY(device.open(QIODevice::ReadOnly));
        QByteArray method;
        QNetworkReply *reply = nullptr;
        if (kind == u"post") {
            reply = nam->post(request, body);
            method = "POST";
        } else if (kind == u"put") {
            reply = nam->put(request, &device);
            method = "PUT";
        } else if (kind == u"trickle") {
            auto *trickle = new TrickleDevice(body);
            reply = nam->post(request, trickle);
            trickle->setParent(reply); // lives as long as the reply, as QNAM asks
            method = "POST";
        } else if (kind == u"patch") {
            reply = nam->sendCustomRequest(request, "PATCH", body);
            method = "PATCH";
        } else {
            reply = nam->deleteResource(request);
            method = "DELETE";
        }
        QVERIFY(waitFinished(reply));
        QCOMPARE(reply->rawHeader("X-Cache"), QByteArray("BYPASS"));
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 404); // FakeReddit knows no /api/qnam_*
        QVERIFY(!reply->readAll().isEmpty());
        const auto log = m_reddit->log();
        QVERIFY(!log.isEmpty());
        QCOMPARE(log.last().method, method);
        QCOMPARE(log.last().path, "/api/qnam_" + kind.toLatin1());
        QCOMPARE(log.last().bodySize, method == "DELETE" ? 0 : body.size());
        delete reply;
    }

    void postAnswerIsReadable()
    {
        // A write FakeReddit answers: a comment with a user's token.
        auto nam = daemonManager();
        const QString token = m_reddit->issueToken(u"qnam_user"_s);
        QNetworkRequest request(url(u"/api/comment"_s));
        request.setRawHeader("Authorization", "bearer " + token.toLatin1());
        request.setHeader(QNetworkRequest::ContentTypeHeader, "application/x-www-form-urlencoded");
        QNetworkReply *reply = nam->post(request, QByteArray("thing_id=t3_abc&text=hello"));
        QVERIFY(waitFinished(reply));
        QVERIFY2(reply->error() == QNetworkReply::NoError, qPrintable(describe(reply)));
        QCOMPARE(reply->rawHeader("X-Cache"), QByteArray("BYPASS"));
        const QByteArray answer = reply->readAll();
        QVERIFY2(answer.contains("hello"), answer.constData());
        delete reply;
    }

    void unroutedHostsGoThroughPlainQnam()
    {
        auto nam = daemonManager();
        const quint16 port = closedPort();
        QVERIFY(port != 0);
        // "localhost" is not routed (only 127.0.0.1 is): plain QNAM, refused.
        QNetworkReply *reply = nam->get(QNetworkRequest(QUrl(QStringLiteral("http://localhost:%1/x").arg(port))));
        QVERIFY(waitFinished(reply));
        QCOMPARE(reply->error(), QNetworkReply::ConnectionRefusedError);
        QVERIFY(!reply->inherits("prawmp::HandlerNetworkReply"));
        delete reply;
    }

    void transferTimeoutEndsAsQnamEndsIt()
    {
        // The same hanging request through plain QNAM (directly) and through
        // the manager (daemon); both give up after the transfer timeout.
        QNetworkAccessManager plain;
        auto nam = daemonManager();
        const QUrl hanging = url(u"/r/hang/hot.json?__fault=hang"_s);
        QNetworkRequest request(hanging);
        request.setTransferTimeout(300);
        QNetworkReply *expected = plain.get(request);
        QVERIFY(waitFinished(expected, 10'000));
        QElapsedTimer timer;
        timer.start();
        QNetworkReply *reply = nam->get(request);
        QVERIFY(waitFinished(reply, 10'000));
        QVERIFY2(timer.elapsed() >= 250, qPrintable(QString::number(timer.elapsed())));
        QCOMPARE(reply->error(), expected->error());
        QCOMPARE(reply->errorString(), expected->errorString());

        // The manager-wide timeout as well.
        nam->setTransferTimeout(300);
        QNetworkReply *managerWide = nam->get(QNetworkRequest(url(u"/r/hang2/hot.json?__fault=hang"_s)));
        QVERIFY(waitFinished(managerWide, 10'000));
        QCOMPARE(managerWide->error(), expected->error());
        delete expected;
        delete reply;
        delete managerWide;
    }

    void abortFinishesAtOnceLikeQnam()
    {
        auto nam = daemonManager();
        QNetworkReply *reply = nam->get(QNetworkRequest(url(u"/r/qnam_abort/hot.json?__delay_ms=2000"_s)));
        SignalLog log(reply);
        reply->abort();
        QVERIFY(reply->isFinished());
        QCOMPARE(reply->error(), QNetworkReply::OperationCanceledError);
        QCOMPARE(log.names, (QStringList{u"errorOccurred"_s, u"finished"_s}));
        reply->abort(); // a second abort changes nothing
        QCOMPARE(log.names.size(), 2);
        QTest::qWait(100);
        QCOMPARE(log.names.size(), 2);
        delete reply;
    }

    void abortOfAQueuedRequestMeansItIsNeverSent()
    {
        // A daemon of its own, pacing 2 s apart: the second request waits.
        ProcessFixture paced;
        QVERIFY2(dtk::startDaemon(paced, {u"--upstream"_s, dtk::upstreamArg(m_reddit->port()), u"--rate-mode"_s,
                                          u"fixed"_s, u"--delay"_s, u"2"_s}),
                 qPrintable(paced.describe()));
        qputenv("PRAWMP_SERVER", QByteArray("127.0.0.1:") + QByteArray::number(paced.port()));
        prawmp::NetworkAccessManager nam;
        qunsetenv("PRAWMP_SERVER");
        nam.setRoutedHosts({u"127.0.0.1"_s});

        QNetworkReply *first = nam.get(QNetworkRequest(url(u"/r/paced_first/hot.json"_s)));
        QVERIFY(waitFinished(first));
        QNetworkReply *queued = nam.get(QNetworkRequest(url(u"/r/paced_aborted/hot.json"_s)));
        QTest::qWait(300);
        QVERIFY(!queued->isFinished());
        queued->abort();
        QCOMPARE(queued->error(), QNetworkReply::OperationCanceledError);
        // Past the moment it would have been sent; a later request goes and
        // is answered, the aborted one never reached the upstream.
        QTest::qWait(2500);
        QNetworkReply *later = nam.get(QNetworkRequest(url(u"/r/paced_later/hot.json"_s)));
        QVERIFY(waitFinished(later));
        QCOMPARE(later->error(), QNetworkReply::NoError);
        QCOMPARE(m_reddit->pathCount("/r/paced_aborted/hot.json"), 0);
        QCOMPARE(m_reddit->pathCount("/r/paced_later/hot.json"), 1);
        QVERIFY2(paced.stop(), qPrintable(paced.describe()));
        delete first;
        delete queued;
        delete later;
    }

    void redirectsAreFollowedAsQnamFollowsThem()
    {
        // FakeReddit's /redirect answers 302 to /r/redirected/hot.json.
        QNetworkAccessManager plain;
        auto nam = daemonManager();
        const QUrl start = url(u"/redirect"_s);
        QNetworkReply *expected = plain.get(QNetworkRequest(start));
        QVERIFY(waitFinished(expected));
        QNetworkReply *reply = nam->get(QNetworkRequest(start));
        QSignalSpy redirected(reply, &QNetworkReply::redirected);
        QVERIFY(waitFinished(reply));
        QCOMPARE(reply->error(), QNetworkReply::NoError);
        QCOMPARE(reply->url(), expected->url());
        QCOMPARE(reply->url().path(), u"/r/redirected/hot.json"_s);
        QCOMPARE(redirected.count(), 1);
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        QVERIFY(QJsonDocument::fromJson(reply->readAll()).isObject());

        // Manual: the 302 is the answer, as QNAM gives it.
        QNetworkRequest manual(start);
        manual.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
        QNetworkReply *plainManual = plain.get(manual);
        QNetworkReply *ourManual = nam->get(manual);
        QVERIFY(waitFinished(plainManual));
        QVERIFY(waitFinished(ourManual));
        QCOMPARE(ourManual->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 302);
        QCOMPARE(ourManual->error(), plainManual->error());
        QCOMPARE(ourManual->attribute(QNetworkRequest::RedirectionTargetAttribute).toUrl(),
                 plainManual->attribute(QNetworkRequest::RedirectionTargetAttribute).toUrl());

        // Too many: QNAM's error.
        QNetworkRequest limited(start);
        limited.setMaximumRedirectsAllowed(0);
        QNetworkReply *plainLimited = plain.get(limited);
        QNetworkReply *ourLimited = nam->get(limited);
        QVERIFY(waitFinished(plainLimited));
        QVERIFY(waitFinished(ourLimited));
        QCOMPARE(ourLimited->error(), plainLimited->error());
        for (QNetworkReply *r : {expected, reply, plainManual, ourManual, plainLimited, ourLimited})
            delete r;
    }

    void autoDeleteRepliesIsHonoured()
    {
        auto nam = daemonManager();
        nam->setAutoDeleteReplies(true);
        QPointer<QNetworkReply> reply = nam->get(QNetworkRequest(url(u"/r/qnam_autodelete/hot.json"_s)));
        QTRY_VERIFY_WITH_TIMEOUT(reply.isNull(), 10'000);
    }

    void errorCodesMapAsQnamMapsThem_data()
    {
        QTest::addColumn<int>("status");
        QTest::addColumn<QNetworkReply::NetworkError>("expected");
        QTest::newRow("400") << 400 << QNetworkReply::ProtocolInvalidOperationError;
        QTest::newRow("401") << 401 << QNetworkReply::AuthenticationRequiredError;
        QTest::newRow("403") << 403 << QNetworkReply::ContentAccessDenied;
        QTest::newRow("404") << 404 << QNetworkReply::ContentNotFoundError;
        QTest::newRow("405") << 405 << QNetworkReply::ContentOperationNotPermittedError;
        QTest::newRow("409") << 409 << QNetworkReply::ContentConflictError;
        QTest::newRow("410") << 410 << QNetworkReply::ContentGoneError;
        QTest::newRow("422") << 422 << QNetworkReply::UnknownContentError;
        QTest::newRow("429") << 429 << QNetworkReply::UnknownContentError;
        QTest::newRow("500") << 500 << QNetworkReply::InternalServerError;
        QTest::newRow("501") << 501 << QNetworkReply::OperationNotImplementedError;
        QTest::newRow("502") << 502 << QNetworkReply::UnknownServerError;
        QTest::newRow("503") << 503 << QNetworkReply::ServiceUnavailableError;
        QTest::newRow("504") << 504 << QNetworkReply::UnknownServerError;
    }

    void errorCodesMapAsQnamMapsThem()
    {
        QFETCH(int, status);
        QFETCH(QNetworkReply::NetworkError, expected);
        dtk::ScriptedUpstream upstream;
        QVERIFY(upstream.listen());
        upstream.setStatus(status);
        const QUrl target(QString::fromLatin1(upstream.base() + "/status"));

        QNetworkAccessManager plain;
        QNetworkReply *qnam = plain.get(QNetworkRequest(target));
        QVERIFY(waitFinished(qnam));

        prawmp::RequestPipeline pipeline(unpacedConfig());
        prawmp::DefaultHandler handler(&pipeline);
        prawmp::NetworkAccessManager nam(&handler);
        nam.setRoutedHosts({u"127.0.0.1"_s});
        QNetworkReply *ours = nam.get(QNetworkRequest(target));
        QVERIFY(waitFinished(ours));

        QCOMPARE(qnam->error(), expected);
        QCOMPARE(ours->error(), expected);
        QCOMPARE(ours->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), status);
        QCOMPARE(ours->errorString(), qnam->errorString());
        // The same scripted body (it numbers the requests: 1 for QNAM's, 2 for ours).
        QCOMPARE(ours->readAll(), qnam->readAll().replace("\"n\":1", "\"n\":2"));
        QCOMPARE(upstream.count(), 2);
        delete qnam;
        delete ours;
    }

    void twoManagersShareOneBudgetAndCacheInProcess()
    {
        // No daemon: DefaultHandler's process-wide pipeline, paced 1 s apart.
        prawmp::RequestPipeline pipeline(unpacedConfig(1.0));
        prawmp::DefaultHandler::setSharedPipeline(&pipeline);
        auto restore = qScopeGuard([] { prawmp::DefaultHandler::setSharedPipeline(nullptr); });
        prawmp::DefaultHandler handlerA;
        prawmp::DefaultHandler handlerB;
        prawmp::NetworkAccessManager a(&handlerA);
        prawmp::NetworkAccessManager b(&handlerB);
        a.setRoutedHosts({u"127.0.0.1"_s});
        b.setRoutedHosts({u"127.0.0.1"_s});

        // One cache: what A fetched, B gets from it.
        QNetworkReply *fromA = a.get(QNetworkRequest(url(u"/r/shared_cache/hot.json"_s)));
        QVERIFY(waitFinished(fromA));
        QCOMPARE(fromA->rawHeader("X-Cache"), QByteArray("MISS"));
        QNetworkReply *fromB = b.get(QNetworkRequest(url(u"/r/shared_cache/hot.json"_s)));
        QVERIFY(waitFinished(fromB));
        QCOMPARE(fromB->rawHeader("X-Cache"), QByteArray("HIT"));
        QCOMPARE(fromB->attribute(QNetworkRequest::SourceIsFromCacheAttribute).toBool(), true);
        QCOMPARE(fromB->readAll(), fromA->readAll());
        QCOMPARE(m_reddit->pathCount("/r/shared_cache/hot.json"), 1);

        // One budget: A's and B's misses are paced against each other.
        QNetworkReply *missA = a.get(QNetworkRequest(url(u"/r/shared_budget_a/hot.json"_s)));
        QNetworkReply *missB = b.get(QNetworkRequest(url(u"/r/shared_budget_b/hot.json"_s)));
        QVERIFY(waitFinished(missA));
        QVERIFY(waitFinished(missB));
        qint64 arrivalA = -1, arrivalB = -1;
        for (const auto &r : m_reddit->log()) {
            if (r.path == "/r/shared_budget_a/hot.json")
                arrivalA = r.arrivalMs;
            if (r.path == "/r/shared_budget_b/hot.json")
                arrivalB = r.arrivalMs;
        }
        QVERIFY(arrivalA >= 0 && arrivalB >= 0);
        QVERIFY2(std::abs(arrivalB - arrivalA) >= 900, qPrintable(QString::number(arrivalB - arrivalA)));
        for (QNetworkReply *r : {fromA, fromB, missA, missB})
            delete r;
    }

    void rateBudgetFollowsTheAnswers()
    {
        FakeReddit limited;
        QVERIFY(limited.listen());
        limited.setBudget(50, 600);
        prawmp::RequestPipeline pipeline(unpacedConfig());
        prawmp::DefaultHandler handler(&pipeline);
        prawmp::NetworkAccessManager nam(&handler);
        nam.setRoutedHosts({u"127.0.0.1"_s});
        prawmp::RateBudget *budget = nam.rateBudget();
        prawmp::RateBudget *host = nam.rateBudget(u"127.0.0.1"_s);
        QCOMPARE(nam.rateBudget(u"127.0.0.1"_s), host);
        QCOMPARE(nam.property("rateBudget").value<prawmp::RateBudget *>(), budget);
        QVERIFY(!budget->isKnown());
        QSignalSpy changed(budget, &prawmp::RateBudget::changed);

        for (int i = 1; i <= 2; ++i) {
            QNetworkReply *reply = nam.get(QNetworkRequest(limited.url(QStringLiteral("/r/budget%1/hot.json").arg(i))));
            QVERIFY(waitFinished(reply));
            QVERIFY(reply->hasRawHeader("X-Ratelimit-Remaining"));
            QCOMPARE(budget->used(), i);
            QCOMPARE(budget->remaining(), 50 - i);
            delete reply;
        }
        QCOMPARE(changed.count(), 2);
        QVERIFY(budget->isKnown());
        QCOMPARE(budget->budget(), 50);
        QVERIFY(budget->resetSeconds() > 0 && budget->resetSeconds() <= 600);
        QVERIFY(budget->resetTime() > QDateTime::currentDateTime());
        // Through the property system too (what QML bindings read).
        QCOMPARE(budget->property("remaining").toInt(), 48);
        QCOMPARE(host->property("used").toInt(), 2);
        QCOMPARE(host->host(), u"127.0.0.1"_s);
    }

    void fallbackServesInProcessUntilTheDaemonIsBack()
    {
        const quint16 port = prawmp::test::freeLoopbackPort();
        QVERIFY(port != 0);
        qputenv("PRAWMP_SERVER", QByteArray("127.0.0.1:") + QByteArray::number(port));
        prawmp::NetworkAccessManager nam;
        qunsetenv("PRAWMP_SERVER");
        nam.setRoutedHosts({u"127.0.0.1"_s});
        nam.setFallbackEnabled(true);
        nam.setFallbackProbeInterval(std::chrono::milliseconds(200));
        QSignalSpy active(&nam, &prawmp::NetworkAccessManager::fallbackActiveChanged);

        prawmp::RequestPipeline pipeline(unpacedConfig());
        prawmp::DefaultHandler::setSharedPipeline(&pipeline);
        auto restore = qScopeGuard([] { prawmp::DefaultHandler::setSharedPipeline(nullptr); });

        QNetworkReply *offline = nam.get(QNetworkRequest(url(u"/r/fallback1/hot.json"_s)));
        QVERIFY(waitFinished(offline));
        QVERIFY2(offline->error() == QNetworkReply::NoError, qPrintable(describe(offline)));
        QCOMPARE(offline->rawHeader("X-Cache"), QByteArray("MISS"));
        QVERIFY(nam.isFallbackActive());
        QCOMPARE(active.count(), 1);
        QCOMPARE(active.at(0).at(0).toBool(), true);
        QCOMPARE(pipeline.counters().requests, quint64(1)); // served by this process's pipeline

        // The daemon comes up on that port: the manager goes back to it.
        ProcessFixture daemon;
        QVERIFY2(daemon.start(prawmp::test::daemonProgram(),
                              QStringList{u"--port"_s, QString::number(port)} + dtk::unpacedDaemonArgs(m_reddit->port())),
                 qPrintable(daemon.describe()));
        QTRY_VERIFY_WITH_TIMEOUT(!nam.isFallbackActive(), 10'000);
        QCOMPARE(active.count(), 2);
        QCOMPARE(active.at(1).at(0).toBool(), false);
        QNetworkReply *online = nam.get(QNetworkRequest(url(u"/r/fallback2/hot.json"_s)));
        QVERIFY(waitFinished(online));
        QVERIFY2(online->error() == QNetworkReply::NoError, qPrintable(describe(online)));
        QCOMPARE(pipeline.counters().requests, quint64(1)); // not in-process this time
        QCOMPARE(m_reddit->pathCount("/r/fallback2/hot.json"), 1);
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
        delete offline;
        delete online;
    }

    void fallbackStartsWhenTheDaemonStops()
    {
        ProcessFixture daemon;
        QVERIFY2(dtk::startDaemon(daemon, dtk::unpacedDaemonArgs(m_reddit->port())), qPrintable(daemon.describe()));
        qputenv("PRAWMP_SERVER", QByteArray("127.0.0.1:") + QByteArray::number(daemon.port()));
        prawmp::NetworkAccessManager nam;
        qunsetenv("PRAWMP_SERVER");
        nam.setRoutedHosts({u"127.0.0.1"_s});
        nam.setFallbackEnabled(true);
        QSignalSpy active(&nam, &prawmp::NetworkAccessManager::fallbackActiveChanged);
        prawmp::RequestPipeline pipeline(unpacedConfig());
        prawmp::DefaultHandler::setSharedPipeline(&pipeline);
        auto restore = qScopeGuard([] { prawmp::DefaultHandler::setSharedPipeline(nullptr); });

        QNetworkReply *before = nam.get(QNetworkRequest(url(u"/r/stops1/hot.json"_s)));
        QVERIFY(waitFinished(before));
        QCOMPARE(before->error(), QNetworkReply::NoError);
        QCOMPARE(active.count(), 0);
        QCOMPARE(pipeline.counters().requests, quint64(0));

        // The keep-alive connection to the daemon dies with it.
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
        QNetworkReply *after = nam.get(QNetworkRequest(url(u"/r/stops2/hot.json"_s)));
        QVERIFY(waitFinished(after));
        QVERIFY2(after->error() == QNetworkReply::NoError, qPrintable(describe(after)));
        QVERIFY(nam.isFallbackActive());
        QCOMPARE(active.count(), 1);
        QCOMPARE(pipeline.counters().requests, quint64(1));
        QCOMPARE(m_reddit->pathCount("/r/stops2/hot.json"), 1);
        delete before;
        delete after;
    }

    void withoutFallbackRequestsWaitForTheDaemon()
    {
        const quint16 port = prawmp::test::freeLoopbackPort();
        qputenv("PRAWMP_SERVER", QByteArray("127.0.0.1:") + QByteArray::number(port));
        prawmp::NetworkAccessManager nam;
        qunsetenv("PRAWMP_SERVER");
        nam.setRoutedHosts({u"127.0.0.1"_s});
        QNetworkReply *reply = nam.get(QNetworkRequest(url(u"/r/waits/hot.json"_s)));
        QTest::qWait(500);
        QVERIFY(!reply->isFinished()); // MultiprocessHandler keeps retrying, as the original
        QVERIFY(!nam.isFallbackActive());
        QCOMPARE(m_reddit->pathCount("/r/waits/hot.json"), 0);
        delete reply;
    }
};

QTEST_GUILESS_MAIN(TestNetworkAccessManager)
#include "tst_networkaccessmanager.moc"
