// needs: praw-multiprocess
// serial
// Load: 500 concurrent keep-alive clients send 50,000 requests through the
// real daemon process -- cache hits (GET and HEAD), misses, write methods
// (POST/PUT/PATCH/DELETE) and control calls (health, stats, metrics,
// evict) -- some of them pipelined. Every answer is checked against the
// request it answers: each request carries its identity (client, serial,
// hot key) in its URL and the upstreams echo it back, so an answer given to
// the wrong client or out of order is caught. None may be lost, and the
// daemon's memory (VmRSS) at the end stays within 20% of what it was after
// the warm-up. Bounded: well under 2 minutes on 2 cores.
#include "DaemonTestKit.h"

#include <QDir>
#include <QFile>

#include <deque>
#include <memory>
#include <vector>

using namespace dtk;
using prawmp::test::FakeReddit;

// A sanitizer build: freed memory waits in ASan's quarantine, so RSS says
// nothing about leaks there; LeakSanitizer checks the daemon at its exit.
#if defined(__SANITIZE_ADDRESS__)
#  define PRAWMP_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define PRAWMP_ASAN 1
#  endif
#endif

namespace {

constexpr int kClients = 500;
constexpr int kRequestsPerClient = 100; // 50,000 in all
constexpr int kHotKeys = 40;
constexpr int kWarmUpRequests = 10'000;
constexpr int kRunTimeoutMs = 110'000;

qint64 rssKiB(qint64 pid)
{
    QFile f(QStringLiteral("/proc/%1/status").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
}

int openFds(qint64 pid)
{
    return int(QDir(QStringLiteral("/proc/%1/fd").arg(pid)).entryList(QDir::Files | QDir::System).size());
}

enum class Kind { Hit, HeadHit, Miss, Write, Health, Stats, Metrics, Evict };

// What the answer to one request must show.
struct Expected
{
    Kind kind = Kind::Hit;
    QByteArray method;
    QByteArray target;
    QString sub;      // listing answers: the subreddit in the URL
    QString query;    // listing answers: the query string in the URL
};

struct Totals
{
    int answered = 0;
    int clientsDone = 0;
    int failures = 0;
    QStringList firstFailures;
    QHash<int, int> byKind;
    QHash<QByteArray, int> xCache;

    void fail(const QString &what)
    {
        ++failures;
        if (firstFailures.size() < 20)
            firstFailures.append(what);
    }
};

// One keep-alive client with its own deterministic mix of requests.
class LoadClient
{
public:
    LoadClient(int index, quint16 port, Totals &totals)
        : m_index(index), m_port(port), m_totals(totals), m_random(quint32(index) * 2654435761u + 1)
        , m_depth(index % 5 == 0 ? 3 : 1) // every fifth client pipelines
        , m_userAgent("load-client/" + QByteArray::number(index))
    {
        QObject::connect(&m_socket, &QTcpSocket::connected, &m_socket, [this] { fill(); });
        QObject::connect(&m_socket, &QTcpSocket::readyRead, &m_socket, [this] { read(); });
        QObject::connect(&m_socket, &QTcpSocket::disconnected, &m_socket, [this] {
            if (m_received < kRequestsPerClient)
                m_totals.fail(QStringLiteral("client %1: connection closed after %2 answers").arg(m_index).arg(m_received));
            m_closed = true;
        });
    }
    ~LoadClient() { QObject::disconnect(&m_socket, nullptr, &m_socket, nullptr); }

    void start() { m_socket.connectToHost(QHostAddress::LocalHost, m_port); }
    bool isConnected() const { return m_socket.state() == QAbstractSocket::ConnectedState; }
    bool isDone() const { return m_received >= kRequestsPerClient || m_closed; }
    void close() { m_socket.abort(); }

private:
    quint32 next()
    {
        m_random = m_random * 1664525u + 1013904223u;
        return m_random >> 8;
    }

    QByteArray request(const QByteArray &method, const QByteArray &target, const QByteArray &body = {},
                       const QByteArray &contentType = {})
    {
        QByteArray r = method + ' ' + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + m_userAgent + "\r\n";
        if (!contentType.isEmpty())
            r += "Content-Type: " + contentType + "\r\n";
        if (!body.isEmpty() || method == "POST" || method == "PUT" || method == "PATCH")
            r += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
        return r + "\r\n" + body;
    }

    void send()
    {
        const int serial = m_sent++;
        const quint32 roll = next() % 100;
        Expected e;
        QByteArray bytes;
        const QByteArray c = QByteArray::number(m_index);
        const QByteArray n = QByteArray::number(serial);
        if (roll < 57) { // a hot key: mostly cache hits
            const QByteArray k = QByteArray::number(next() % kHotKeys);
            e.kind = roll < 3 ? Kind::HeadHit : Kind::Hit;
            e.method = e.kind == Kind::HeadHit ? "HEAD" : "GET";
            e.target = "/r/hot" + k + "/hot.json?limit=1&k=" + k;
            e.sub = QStringLiteral("hot") + QString::fromLatin1(k);
            e.query = QStringLiteral("limit=1&k=") + QString::fromLatin1(k);
            bytes = request(e.method, e.target);
        } else if (roll < 80) { // a miss: this client's own serial
            e.kind = Kind::Miss;
            e.method = "GET";
            e.target = "/r/m" + c + "/new.json?limit=1&n=" + n;
            e.sub = QStringLiteral("m") + QString::fromLatin1(c);
            e.query = QStringLiteral("limit=1&n=") + QString::fromLatin1(n);
            bytes = request(e.method, e.target);
        } else if (roll < 90) { // a write method, answered by the echoing upstream
            static const QByteArray methods[] = {"POST", "PUT", "PATCH", "DELETE"};
            e.kind = Kind::Write;
            e.method = methods[next() % 4];
            e.target = "/echo/" + c + "/" + n;
            bytes = request(e.method, e.target, e.method == "DELETE" ? QByteArray() : "c=" + c + "&n=" + n,
                            e.method == "DELETE" ? QByteArray() : QByteArray("application/x-www-form-urlencoded"));
        } else if (roll < 94) {
            e.kind = Kind::Health;
            e.method = "GET";
            e.target = "/_mp/health";
            bytes = request(e.method, e.target);
        } else if (roll < 97) {
            e.kind = Kind::Evict;
            e.method = "POST";
            e.target = "/_mp/evict";
            const QByteArray url = "/r/m" + c + "/new.json?limit=1&n=" + QByteArray::number(qMax(0, serial - 1));
            bytes = request(e.method, e.target, R"({"urls": [")" + url + R"("]})", "application/json");
        } else if (roll < 99) {
            e.kind = Kind::Metrics;
            e.method = "GET";
            e.target = "/_mp/metrics";
            bytes = request(e.method, e.target);
        } else {
            e.kind = Kind::Stats;
            e.method = "GET";
            e.target = "/_mp/stats";
            bytes = request(e.method, e.target);
        }
        m_reader.expect(e.kind == Kind::HeadHit);
        m_expected.push_back(e);
        m_socket.write(bytes);
    }

    void fill()
    {
        while (m_sent < kRequestsPerClient && int(m_expected.size()) < m_depth)
            send();
    }

    void read()
    {
        m_buffer += m_socket.readAll();
        const QList<RawResponse> answers = m_reader.parse(m_buffer, false, 0);
        for (const RawResponse &r : answers) {
            if (m_expected.empty()) {
                m_totals.fail(QStringLiteral("client %1: an answer nobody asked for:\n%2").arg(m_index).arg(r.describe()));
                continue;
            }
            const Expected e = m_expected.front();
            m_expected.pop_front();
            check(e, r);
            ++m_received;
            ++m_totals.answered;
            ++m_totals.byKind[int(e.kind)];
            if (m_received == kRequestsPerClient)
                ++m_totals.clientsDone;
        }
        fill();
    }

    void check(const Expected &e, const RawResponse &r)
    {
        const auto bad = [&](const char *why) {
            m_totals.fail(QStringLiteral("client %1, %2 %3: %4\n%5")
                              .arg(m_index)
                              .arg(QString::fromLatin1(e.method), QString::fromLatin1(e.target), QLatin1String(why),
                                   r.describe()));
        };
        if (r.status != 200)
            return bad("status is not 200");
        const QJsonObject json = r.json();
        switch (e.kind) {
        case Kind::Hit:
        case Kind::Miss:
            m_totals.xCache[r.header("x-cache")] += 1;
            if (json["sub"].toString() != e.sub || json["query"].toString() != e.query)
                return bad("the listing is another request's");
            if (e.kind == Kind::Miss && r.header("x-cache") != "MISS")
                return bad("a unique URL was not a MISS");
            break;
        case Kind::HeadHit:
            m_totals.xCache[r.header("x-cache")] += 1;
            if (!r.body.isEmpty() || r.header("content-length").toLongLong() <= 0)
                return bad("HEAD answer with a body or without a length");
            break;
        case Kind::Write:
            if (json["method"].toString().toLatin1() != e.method || json["target"].toString().toLatin1() != e.target)
                return bad("the write's answer is another request's");
            if (r.header("x-cache") == "HIT")
                return bad("a write was answered from the cache");
            break;
        case Kind::Health:
            if (json["status"].toString() != QLatin1String("ok"))
                return bad("not the health answer");
            break;
        case Kind::Stats:
            if (!json["totals"].isObject() || !json["cache"].isObject())
                return bad("not the stats answer");
            break;
        case Kind::Metrics:
            if (!r.body.contains("# TYPE") || !r.header("content-type").startsWith("text/plain"))
                return bad("not the metrics answer");
            break;
        case Kind::Evict:
            if (!json.contains(QLatin1String("evicted")) || json.size() != 1)
                return bad("not the evict answer");
            break;
        }
    }

    int m_index;
    quint16 m_port;
    Totals &m_totals;
    quint32 m_random;
    int m_depth;
    QByteArray m_userAgent;
    QTcpSocket m_socket;
    ResponseReader m_reader;
    QByteArray m_buffer;
    std::deque<Expected> m_expected;
    int m_sent = 0;
    int m_received = 0;
    bool m_closed = false;
};

} // namespace

class TestLoad : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase()
    {
        if (prawmp::test::daemonProgram().isEmpty())
            QSKIP("praw-multiprocess is not built");
    }

    void fiveHundredClientsFiftyThousandRequests()
    {
        FakeReddit reddit;
        QVERIFY(reddit.listen());
        ScriptedUpstream echo; // answers the write methods with their method and target
        QVERIFY(echo.listen());

        ProcessFixture daemon;
        // A bounded cache, so that memory reaches its steady state during
        // the warm-up; no pacing: this is about the daemon, not the budget.
        QVERIFY2(startDaemon(daemon, {"--upstream", upstreamArg(reddit.port()), "--route",
                                      "/echo=" + QString::fromLatin1(echo.base()), "--rate-mode", "fixed",
                                      "--delay", "0", "--cache-max-bytes", "2M"}),
                 qPrintable(daemon.describe()));
        const qint64 pid = daemon.pid();
        QVERIFY(pid > 0);
        const qint64 rssAtStart = rssKiB(pid);

        QElapsedTimer clock;
        clock.start();
        Totals totals;
        std::vector<std::unique_ptr<LoadClient>> clients;
        clients.reserve(kClients);
        for (int i = 0; i < kClients; ++i) {
            clients.push_back(std::make_unique<LoadClient>(i, daemon.port(), totals));
            clients.back()->start();
        }
        QVERIFY2(QTest::qWaitFor([&] {
                     return std::all_of(clients.begin(), clients.end(),
                                        [](const auto &c) { return c->isConnected() || c->isDone(); });
                 }, 30'000),
                 "not every client could connect");
        const qint64 connectedMs = clock.elapsed();

        QVERIFY2(QTest::qWaitFor([&] { return totals.answered >= kWarmUpRequests || totals.failures > 0; },
                                 kRunTimeoutMs),
                 qPrintable(QStringLiteral("warm-up: %1 answers").arg(totals.answered)));
        const qint64 rssAfterWarmUp = rssKiB(pid);
        const int fdsAfterWarmUp = openFds(pid);
        const qint64 warmUpMs = clock.elapsed();

        // RSS along the way, for the log: a steady state, or a trend.
        QStringList rssTrail;
        int nextSample = kWarmUpRequests + 5000;
        const bool finished = QTest::qWaitFor([&] {
            if (totals.answered >= nextSample) {
                rssTrail << QStringLiteral("%1k:%2").arg(nextSample / 1000).arg(rssKiB(pid));
                nextSample += 5000;
            }
            return std::all_of(clients.begin(), clients.end(), [](const auto &c) { return c->isDone(); });
        }, kRunTimeoutMs - int(clock.elapsed()));
        const qint64 runMs = clock.elapsed();
        const qint64 rssAtEnd = rssKiB(pid);
        const int fdsAtEnd = openFds(pid);

        const QJsonObject stats = fetchJson(daemon.port(), "/_mp/stats");
        qInfo().noquote() << QStringLiteral(
            "load: %1 answers from %2 clients in %3 ms (connected after %4 ms, warm-up %5 ms), %6 req/s; "
            "daemon RSS %7 KiB at start, %8 KiB after warm-up, %9 KiB at the end; fds %10 -> %11")
            .arg(totals.answered).arg(kClients).arg(runMs).arg(connectedMs).arg(warmUpMs)
            .arg(qint64(totals.answered * 1000.0 / qMax<qint64>(1, runMs)))
            .arg(rssAtStart).arg(rssAfterWarmUp).arg(rssAtEnd).arg(fdsAfterWarmUp).arg(fdsAtEnd);
        qInfo().noquote() << "load: daemon RSS (KiB) after N answers:" << rssTrail.join(u' ');
        QStringList cacheCounts;
        for (auto it = totals.xCache.cbegin(); it != totals.xCache.cend(); ++it)
            cacheCounts << QString::fromLatin1(it.key()) + u'=' + QString::number(it.value());
        qInfo().noquote() << "load: X-Cache of listings:" << cacheCounts.join(u", ")
                          << "| upstream requests:" << reddit.requestCount() << "listings," << echo.count() << "writes"
                          << "| daemon totals:" << QJsonDocument(stats["totals"].toObject()).toJson(QJsonDocument::Compact).left(300);

        for (auto &c : clients)
            c->close();

        QVERIFY2(totals.failures == 0, qPrintable(QStringLiteral("%1 wrong or missing answers; first:\n%2")
                                                      .arg(totals.failures).arg(totals.firstFailures.join(u"\n---\n"))));
        QVERIFY2(finished, qPrintable(QStringLiteral("only %1 of %2 answers within %3 ms")
                                          .arg(totals.answered).arg(kClients * kRequestsPerClient).arg(kRunTimeoutMs)));
        QCOMPARE(totals.answered, kClients * kRequestsPerClient);
        QCOMPARE(totals.clientsDone, kClients);
        // Every kind of request was part of the mix.
        for (int kind = int(Kind::Hit); kind <= int(Kind::Evict); ++kind)
            QVERIFY2(totals.byKind.value(kind) > 0, qPrintable(QStringLiteral("kind %1 never sent").arg(kind)));
        QVERIFY2(totals.xCache.value("HIT") > kClients * kRequestsPerClient / 4,
                 qPrintable(QStringLiteral("only %1 cache hits").arg(totals.xCache.value("HIT"))));

        QVERIFY(rssAfterWarmUp > 0 && rssAtEnd > 0);
#ifndef PRAWMP_ASAN
        QVERIFY2(rssAtEnd <= rssAfterWarmUp * 12 / 10,
                 qPrintable(QStringLiteral("daemon RSS grew from %1 KiB after warm-up to %2 KiB")
                                .arg(rssAfterWarmUp).arg(rssAtEnd)));
#else
        qInfo("load: sanitizer build, the RSS bound is not checked (LeakSanitizer checks the daemon at its exit)");
#endif
        QVERIFY2(daemon.isRunning(), qPrintable(daemon.describe()));
        QVERIFY2(daemon.stop(10'000), qPrintable(daemon.describe()));
    }
};

QTEST_GUILESS_MAIN(TestLoad)
#include "tst_load.moc"
