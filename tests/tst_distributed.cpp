// needs: praw-multiprocess
// serial
//
// Distributed mode: three `praw-multiprocess` processes share one
// redis-server (started here on a free loopback port) and one fake upstream
// (FakeReddit, in this process, so its request log is at hand): one budget,
// one cache, and a Redis outage in the middle of the traffic.
#include "FakeReddit.h"
#include "ProcessFixture.h"
#include "TestPorts.h"
#include "TestPrograms.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonArray>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QScopeGuard>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTest>
#include <QTimer>

#include <memory>

using namespace prawmp::test;

namespace {

constexpr int kBudget = 30;
constexpr double kWindowSeconds = 3.0;
constexpr int kDaemons = 3;
constexpr int kClients = 30;

// One HTTP/1.1 answer read off a socket.
struct Answer
{
    int status = 0; // 0: none
    QList<QPair<QByteArray, QByteArray>> headers;
    QByteArray body;

    QByteArray header(const QByteArray &name) const
    {
        for (const auto &h : headers)
            if (h.first.compare(name, Qt::CaseInsensitive) == 0)
                return h.second;
        return {};
    }
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
};

// Takes one complete answer off the front of `buffer`, if there is one.
bool takeAnswer(QByteArray &buffer, Answer *answer)
{
    const qsizetype headEnd = buffer.indexOf("\r\n\r\n");
    if (headEnd < 0)
        return false;
    Answer a;
    const QList<QByteArray> lines = buffer.left(headEnd).split('\n');
    a.status = lines.value(0).split(' ').value(1).toInt();
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const qsizetype colon = lines[i].indexOf(':');
        if (colon > 0)
            a.headers.append({lines[i].left(colon).trimmed(), lines[i].mid(colon + 1).trimmed()});
    }
    qsizetype pos = headEnd + 4;
    if (a.header("transfer-encoding").toLower().contains("chunked")) {
        for (;;) {
            const qsizetype lineEnd = buffer.indexOf("\r\n", pos);
            if (lineEnd < 0)
                return false;
            const qsizetype size = buffer.mid(pos, lineEnd - pos).trimmed().toLongLong(nullptr, 16);
            if (buffer.size() < lineEnd + 2 + size + 2)
                return false;
            a.body += buffer.mid(lineEnd + 2, size);
            pos = lineEnd + 2 + size + 2;
            if (size == 0)
                break;
        }
    } else {
        const qsizetype length = a.header("content-length").toLongLong();
        if (buffer.size() < pos + length)
            return false;
        a.body = buffer.mid(pos, length);
        pos += length;
    }
    buffer.remove(0, pos);
    *answer = a;
    return true;
}

// One request on a fresh connection, with extra header lines ("Name: value\r\n") and a body.
Answer request(quint16 port, const QByteArray &method, const QByteArray &target, int timeoutMs = 10'000,
               const QByteArray &extraHeaders = {}, const QByteArray &body = {})
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    QByteArray buffer;
    Answer answer;
    bool done = false;
    QObject::connect(&socket, &QTcpSocket::connected, [&] {
        socket.write(method + ' ' + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: tst_distributed\r\n"
                     + extraHeaders + "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
    });
    QObject::connect(&socket, &QTcpSocket::readyRead, [&] {
        buffer += socket.readAll();
        done = done || takeAnswer(buffer, &answer);
    });
    (void)QTest::qWaitFor([&] { return done || socket.state() == QAbstractSocket::UnconnectedState; }, timeoutMs);
    return answer;
}

// A client that sends GET requests one after another on a keep-alive
// connection until its deadline; every request has a new URL (no cache hit).
class LoadClient
{
public:
    LoadClient(int index, quint16 port, const QByteArray &phase) : m_index(index), m_port(port), m_phase(phase)
    {
        m_socket = std::make_unique<QTcpSocket>();
        QTcpSocket *s = m_socket.get();
        QObject::connect(s, &QTcpSocket::connected, s, [this] { sendNext(); });
        QObject::connect(s, &QTcpSocket::readyRead, s, [this] { read(); });
        QObject::connect(s, &QTcpSocket::disconnected, s, [this] {
            if (m_waiting) {
                ++m_failures; // the request in flight is lost
                m_waiting = false;
            }
            if (!m_stopped)
                QTimer::singleShot(100, m_socket.get(), [this] { connectNow(); });
        });
    }
    ~LoadClient() { QObject::disconnect(m_socket.get(), nullptr, nullptr, nullptr); }

    void start(qint64 durationMs)
    {
        m_clock.start();
        m_durationMs = durationMs;
        connectNow();
    }
    // Sent with every request (e.g. "Authorization: bearer T\r\n").
    void setExtraHeaders(const QByteArray &lines) { m_extraHeaders = lines; }
    bool finished() const { return m_stopped && !m_waiting; }
    const QList<int> &statuses() const { return m_statuses; }
    int failures() const { return m_failures; }

private:
    void connectNow()
    {
        if (!m_stopped)
            m_socket->connectToHost(QHostAddress::LocalHost, m_port);
    }

    void sendNext()
    {
        if (m_clock.elapsed() >= m_durationMs) {
            m_stopped = true;
            m_socket->disconnectFromHost();
            return;
        }
        const QByteArray target = "/r/load" + QByteArray::number(m_index) + "/new.json?phase=" + m_phase
                                  + "&n=" + QByteArray::number(++m_sent);
        m_waiting = true;
        m_socket->write("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: load-client-"
                        + QByteArray::number(m_index) + "\r\n" + m_extraHeaders + "\r\n");
    }

    void read()
    {
        m_buffer += m_socket->readAll();
        Answer answer;
        while (takeAnswer(m_buffer, &answer)) {
            m_waiting = false;
            m_statuses.append(answer.status);
            sendNext();
        }
    }

    int m_index;
    quint16 m_port;
    QByteArray m_phase;
    QByteArray m_extraHeaders;
    std::unique_ptr<QTcpSocket> m_socket;
    QByteArray m_buffer;
    QElapsedTimer m_clock;
    qint64 m_durationMs = 0;
    int m_sent = 0;
    int m_failures = 0;
    bool m_waiting = false;
    bool m_stopped = false;
    QList<int> m_statuses;
};

// Requests FakeReddit recorded after `firstId`.
QList<RequestRecord> logSince(const FakeReddit &reddit, quint64 firstId)
{
    QList<RequestRecord> out;
    for (const RequestRecord &r : reddit.log())
        if (r.id > firstId)
            out.append(r);
    return out;
}

quint64 lastId(const FakeReddit &reddit)
{
    const QList<RequestRecord> log = reddit.log();
    return log.isEmpty() ? 0 : log.last().id;
}

} // namespace

class tst_Distributed : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void budgetIsSharedAcrossDaemons();
    void everyFullWindowIsUsedUnderEveryResetConvention_data();
    void everyFullWindowIsUsedUnderEveryResetConvention();
    void listingFetchedThroughOneDaemonIsHitThroughAnother();
    void localLayerHitsAreAnsweredOnServingThreads();
    void twoAppsKeepTheirOwnBudgetsAcrossDaemons();
    void oneUsersTokensShareAnswersAcrossDaemons();
    void redisOutageDegradesAndRecovers();

private:
    bool startRedis(QString *why);
    bool tokensOfTwoApps(QByteArray *tokenA, QByteArray *tokenB);
    QString redisState(int daemon);
    // Runs kClients clients over the daemons for `durationMs`; calls
    // `midway` once after `midwayMs` (if set). Returns false with a message
    // when a client request did not complete.
    bool runLoad(const QByteArray &phase, qint64 durationMs, QString *why, qint64 midwayMs = -1,
                 const std::function<void()> &midway = {},
                 const std::function<QByteArray(int client)> &headersOf = {});

    FakeReddit m_reddit;
    quint16 m_redisPort = 0;
    std::unique_ptr<ProcessFixture> m_redis;
    std::unique_ptr<ProcessFixture> m_daemons[kDaemons];
    QList<int> m_statuses;
};

bool tst_Distributed::startRedis(QString *why)
{
    m_redis = std::make_unique<ProcessFixture>();
    m_redis->setReadyPattern(QRegularExpression(QStringLiteral("Ready to accept connections")));
    const QStringList args{QStringLiteral("--port"), QString::number(m_redisPort), QStringLiteral("--bind"),
                           QStringLiteral("127.0.0.1"), QStringLiteral("--save"), QString(),
                           QStringLiteral("--appendonly"), QStringLiteral("no")};
    if (m_redis->start(QStandardPaths::findExecutable(QStringLiteral("redis-server")), args))
        return true;
    *why = m_redis->describe();
    return false;
}

QString tst_Distributed::redisState(int daemon)
{
    return request(m_daemons[daemon]->port(), "GET", "/_mp/health", 2000).json().value("redis").toString();
}

void tst_Distributed::initTestCase()
{
    if (daemonProgram().isEmpty())
        QSKIP("praw-multiprocess is not built");
    if (QStandardPaths::findExecutable(QStringLiteral("redis-server")).isEmpty())
        QSKIP("redis-server is not installed (scripts/install-deps installs it)");

    m_reddit.setBudget(kBudget, kWindowSeconds);
    QVERIFY2(m_reddit.listen(), qPrintable(m_reddit.errorString()));

    QString why;
    for (int attempt = 0; attempt < 3 && !m_redis; ++attempt) {
        m_redisPort = freeLoopbackPort();
        if (!startRedis(&why))
            m_redis.reset();
    }
    QVERIFY2(m_redis, qPrintable(why));

    // A prefix of our own: nothing left over from another run counts.
    const QString prefix = QStringLiteral("tst%1:").arg(QRandomGenerator::global()->generate(), 0, 16);
    for (auto &daemon : m_daemons) {
        daemon = std::make_unique<ProcessFixture>();
        daemon->setEnv(QStringLiteral("QT_LOGGING_RULES"), QStringLiteral("prawmp.redis.info=true"));
        const QStringList args{QStringLiteral("--port"), QStringLiteral("0"),
                               QStringLiteral("--upstream"), m_reddit.baseUrl().toString(),
                               QStringLiteral("--redis"), QStringLiteral("redis://127.0.0.1:%1/0").arg(m_redisPort),
                               QStringLiteral("--redis-prefix"), prefix};
        QVERIFY2(daemon->start(daemonProgram(), args), qPrintable(daemon->describe()));
    }
    for (int i = 0; i < kDaemons; ++i)
        QTRY_COMPARE_WITH_TIMEOUT(redisState(i), QStringLiteral("ok"), 10'000);
    // Every daemon has counted the others through their heartbeats.
    QTest::qWait(1500);
}

bool tst_Distributed::runLoad(const QByteArray &phase, qint64 durationMs, QString *why, qint64 midwayMs,
                              const std::function<void()> &midway,
                              const std::function<QByteArray(int client)> &headersOf)
{
    std::vector<std::unique_ptr<LoadClient>> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.push_back(std::make_unique<LoadClient>(i, m_daemons[i % kDaemons]->port(), phase));
        if (headersOf)
            clients.back()->setExtraHeaders(headersOf(i));
    }
    QElapsedTimer clock;
    clock.start();
    for (auto &c : clients)
        c->start(durationMs);
    if (midway) {
        QTest::qWait(int(midwayMs));
        midway();
    }
    const auto allDone = [&] {
        return std::all_of(clients.begin(), clients.end(), [](const auto &c) { return c->finished(); });
    };
    // Whatever is queued when the clients stop still gets its answer.
    if (!QTest::qWaitFor(allDone, int(durationMs + 30'000 - clock.elapsed()))) {
        *why = QStringLiteral("clients still waiting for answers after %1 ms").arg(clock.elapsed());
        return false;
    }
    m_statuses.clear();
    int failures = 0;
    for (const auto &c : clients) {
        m_statuses += c->statuses();
        failures += c->failures();
    }
    if (failures > 0) {
        *why = QStringLiteral("%1 requests got no answer").arg(failures);
        return false;
    }
    for (int status : std::as_const(m_statuses)) {
        if (status != 200) {
            *why = QStringLiteral("a client got status %1").arg(status);
            return false;
        }
    }
    return true;
}

// A token for app A through daemon 0 and one for app B through daemon 1;
// true once daemon 2, which saw neither issued, knows them from Redis.
bool tst_Distributed::tokensOfTwoApps(QByteArray *tokenA, QByteArray *tokenB)
{
    const auto token = [this](int daemon, const QByteArray &clientId) {
        const Answer a = request(m_daemons[daemon]->port(), "POST", "/api/v1/access_token", 10'000,
                                 "Authorization: Basic " + (clientId + ":secret").toBase64()
                                     + "\r\nContent-Type: application/x-www-form-urlencoded\r\n",
                                 "grant_type=client_credentials");
        return a.json().value("access_token").toString().toUtf8();
    };
    *tokenA = token(0, "appA");
    *tokenB = token(1, "appB");
    if (tokenA->isEmpty() || tokenB->isEmpty())
        return false;
    return QTest::qWaitFor(
        [&] {
            request(m_daemons[2]->port(), "GET", "/r/probe/about.json", 5000,
                    "Authorization: bearer " + *tokenA + "\r\n");
            const QJsonArray domains = request(m_daemons[2]->port(), "GET", "/_mp/stats").json()["domains"].toArray();
            return std::any_of(domains.begin(), domains.end(), [](const QJsonValue &d) {
                return d.toObject()["app"].toString() == QLatin1String("appA");
            });
        },
        5000);
}

void tst_Distributed::budgetIsSharedAcrossDaemons()
{
    const quint64 before = lastId(m_reddit);
    QString why;
    // Four windows of demand far above the budget, from three daemons.
    QVERIFY2(runLoad("budget", qint64(4 * kWindowSeconds * 1000), &why), qPrintable(why));
    const WindowStats stats = computeWindowStats(logSince(m_reddit, before));
    qInfo().noquote() << "upstream per window:" << stats.describe();
    QVERIFY2(stats.withinBudget(kBudget), qPrintable(stats.describe()));
    QCOMPARE(stats.tooManyRequests, 0);
    // One budget, not three: and it is used, not wasted.
    QVERIFY2(stats.total >= 3 * kBudget, qPrintable(stats.describe()));
    for (int i = 0; i < kDaemons; ++i) {
        const QJsonObject s = request(m_daemons[i]->port(), "GET", "/_mp/stats").json();
        QCOMPARE(s.value("redis").toString(), QStringLiteral("ok"));
    }
}

void tst_Distributed::everyFullWindowIsUsedUnderEveryResetConvention_data()
{
    QTest::addColumn<int>("convention");
    for (ResetConvention c : {ResetConvention::Down, ResetConvention::Up, ResetConvention::DownNever0})
        QTest::newRow(resetConventionName(c).constData()) << int(c);
}

// The shared limiter (daemon/lua) learns the window as the local one does:
// 20 per 4 s under each rounding of X-Ratelimit-Reset, every full window
// used (>= 95 %), none over, no 429.
void tst_Distributed::everyFullWindowIsUsedUnderEveryResetConvention()
{
    QFETCH(int, convention);
    constexpr int kSmallBudget = 20;
    constexpr double kSmallWindow = 4.0;
    constexpr int kFull = 3; // windows 1..3 judged; window 0 is the learning one
    // Back to the suite's budget afterwards, whatever happens here.
    const auto restore = qScopeGuard([this] {
        m_reddit.setResetConvention(ResetConvention::Down);
        m_reddit.setBudget(kBudget, kWindowSeconds);
    });
    m_reddit.setResetConvention(ResetConvention(convention));
    const quint64 before = lastId(m_reddit);
    m_reddit.setBudget(kSmallBudget, kSmallWindow); // window 0 starts now
    QString why;
    QVERIFY2(runLoad("conv" + QByteArray::number(convention), qint64((kFull + 1.5) * kSmallWindow * 1000), &why),
             qPrintable(why));
    const WindowStats stats = computeWindowStats(logSince(m_reddit, before));
    qInfo().noquote() << "reset" << resetConventionName(ResetConvention(convention)) << "upstream per window:"
                      << stats.describe();
    QVERIFY2(stats.withinBudget(kSmallBudget), qPrintable(stats.describe()));
    for (int w = 1; w <= kFull; ++w)
        QVERIFY2(stats.requestsPerWindow.value(w) >= 19, qPrintable(stats.describe()));
}

void tst_Distributed::listingFetchedThroughOneDaemonIsHitThroughAnother()
{
    const quint16 a = m_daemons[0]->port();
    const quint16 b = m_daemons[1]->port();
    const QByteArray target = "/r/distributed/hot.json?limit=5";

    const Answer first = request(a, "GET", target);
    QCOMPARE(first.status, 200);
    QCOMPARE(first.header("x-cache"), QByteArray("MISS"));
    const Answer second = request(b, "GET", target);
    QCOMPARE(second.status, 200);
    QCOMPARE(second.header("x-cache"), QByteArray("HIT"));
    QCOMPARE(second.body, first.body);
    QCOMPARE(m_reddit.targetCount(target), 1);

    // PURGE through B reaches A's local layer too.
    const Answer purge = request(b, "PURGE", target);
    QCOMPARE(purge.status, 200);
    const Answer third = request(a, "GET", target);
    QCOMPARE(third.status, 200);
    QCOMPARE(third.header("x-cache"), QByteArray("MISS"));
    QCOMPARE(m_reddit.targetCount(target), 2);
}

// Hits of the local cache layer are answered on the serving threads in
// distributed mode too, with the shared budget in their X-Ratelimit-* fields.
void tst_Distributed::localLayerHitsAreAnsweredOnServingThreads()
{
    const quint16 port = m_daemons[0]->port();
    const QByteArray target = "/r/servingthreads/hot.json";
    QCOMPARE(request(port, "GET", target).header("x-cache"), QByteArray("MISS"));
    const QJsonObject before = request(port, "GET", "/_mp/stats").json();

    // Keep-alive GETs without a body: what the serving threads answer.
    constexpr int kHits = 50;
    QTcpSocket socket;
    QByteArray buffer;
    QList<Answer> answers;
    QObject::connect(&socket, &QTcpSocket::readyRead, [&] {
        buffer += socket.readAll();
        Answer a;
        while (takeAnswer(buffer, &a))
            answers.append(a);
    });
    QObject::connect(&socket, &QTcpSocket::connected, [&] {
        QByteArray batch;
        for (int i = 0; i < kHits; ++i)
            batch += "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: tst_distributed\r\n\r\n";
        socket.write(batch);
    });
    socket.connectToHost(QHostAddress::LocalHost, port);
    QTRY_COMPARE_WITH_TIMEOUT(answers.size(), kHits, 10'000);
    for (const Answer &a : std::as_const(answers)) {
        QCOMPARE(a.status, 200);
        QCOMPARE(a.header("x-cache"), QByteArray("HIT"));
        QVERIFY2(!a.header("x-ratelimit-remaining").isEmpty(), "no shared budget in a hit");
    }

    const QJsonObject after = request(port, "GET", "/_mp/stats").json();
    const auto servingThreadHits = [](const QJsonObject &s) {
        return s["engine"].toObject()["servingThreadHits"].toInteger();
    };
    const auto hits = [](const QJsonObject &s) { return s["totals"].toObject()["hits"].toInteger(); };
    QCOMPARE(servingThreadHits(after) - servingThreadHits(before), kHits);
    QCOMPARE(hits(after) - hits(before), kHits);
    QCOMPARE(m_reddit.targetCount(target), 1);
}

// Per-app budgets in distributed mode: app A gets its token through daemon
// 0, app B through daemon 1; every daemon learns both through Redis, and
// the clients of both apps, spread over all three daemons, use each app's
// own budget (the fake counts per client id): every full window >= 95 %,
// none over, no 429.
void tst_Distributed::twoAppsKeepTheirOwnBudgetsAcrossDaemons()
{
    constexpr int kAppBudget = 20;
    constexpr double kAppWindow = 4.0;
    const auto restore = qScopeGuard([this] {
        m_reddit.setPerClientId(false);
        m_reddit.setBudget(kBudget, kWindowSeconds);
    });
    m_reddit.setPerClientId(true);
    // Window 0 starts now and is the learning one (tokens, probe): the
    // daemons never see the upstream change its budget under them.
    const quint64 before = lastId(m_reddit);
    m_reddit.setBudget(kAppBudget, kAppWindow);
    QByteArray tokenA, tokenB;
    QVERIFY(tokensOfTwoApps(&tokenA, &tokenB));

    // The three windows after the one the load starts in are judged.
    const qint64 first = m_reddit.currentWindow() + 1;
    QString why;
    QVERIFY2(runLoad("apps", qint64(4.5 * kAppWindow * 1000), &why, -1, {},
                     [&](int client) { return "Authorization: bearer " + (client % 2 ? tokenB : tokenA) + "\r\n"; }),
             qPrintable(why));
    for (const char *app : {"app:appA", "app:appB"}) {
        QList<RequestRecord> records;
        for (const RequestRecord &r : logSince(m_reddit, before))
            if (r.bucket == QLatin1String(app))
                records.append(r);
        const WindowStats stats = computeWindowStats(records);
        qInfo().noquote() << app << "upstream per window:" << stats.describe();
        QVERIFY2(stats.withinBudget(kAppBudget), qPrintable(stats.describe()));
        for (qint64 w = first; w < first + 3; ++w)
            QVERIFY2(stats.requestsPerWindow.value(w) >= 19, qPrintable(QLatin1String(app) + u' ' + stats.describe()));
    }
}

// The identity cache in distributed mode: a user's token issued through
// one daemon and another issued through a second daemon share the answer
// the first fetched, from Redis, at a third daemon that saw neither issued.
void tst_Distributed::oneUsersTokensShareAnswersAcrossDaemons()
{
    const auto login = [this](int daemon, const QByteArray &user) {
        const Answer a = request(m_daemons[daemon]->port(), "POST", "/api/v1/access_token", 10'000,
                                 "Authorization: Basic " + QByteArray("appU:secret").toBase64()
                                     + "\r\nContent-Type: application/x-www-form-urlencoded\r\n",
                                 "grant_type=password&username=" + user + "&password=pw");
        return a.json().value("access_token").toString().toUtf8();
    };
    const QByteArray first = login(0, "uma");
    const QByteArray second = login(1, "uma");
    const QByteArray other = login(1, "vic");
    QVERIFY(!first.isEmpty() && !second.isEmpty() && !other.isEmpty());
    const QByteArray target = "/r/identity/hot.json?limit=7";
    const auto read = [&](int daemon, const QByteArray &token) {
        return request(m_daemons[daemon]->port(), "GET", target, 10'000, "Authorization: bearer " + token + "\r\n");
    };
    const Answer a = read(0, first);
    QCOMPARE(a.status, 200);
    QCOMPARE(a.header("x-cache"), QByteArray("MISS"));
    // Daemon 2 learns the tokens through Redis (until then `second` counts
    // as unidentified there).
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            request(m_daemons[2]->port(), "GET", "/r/probe/about.json", 5000,
                    "Authorization: bearer " + second + "\r\n");
            const QJsonArray domains = request(m_daemons[2]->port(), "GET", "/_mp/stats").json()["domains"].toArray();
            return std::any_of(domains.begin(), domains.end(), [](const QJsonValue &d) {
                return d.toObject()["app"].toString() == QLatin1String("appU");
            });
        }(),
        5000);
    const Answer shared = read(2, second);
    QCOMPARE(shared.status, 200);
    QCOMPARE(shared.header("x-cache"), QByteArray("HIT"));
    QCOMPARE(shared.body, a.body);
    QCOMPARE(m_reddit.targetCount(target), 1);
    // Another user never shares it.
    const Answer b = read(2, other);
    QCOMPARE(b.status, 200);
    QCOMPARE(b.header("x-cache"), QByteArray("MISS"));
    QCOMPARE(m_reddit.targetCount(target), 2);
}

// Redis dies under load of two apps (the fake counting per client id):
// every daemon falls back to a local limit per app, its share of that
// app's budget, and rejoins when Redis is back.
void tst_Distributed::redisOutageDegradesAndRecovers()
{
    const auto restore = qScopeGuard([this] { m_reddit.setPerClientId(false); });
    m_reddit.setPerClientId(true);
    QByteArray tokenA, tokenB;
    QVERIFY(tokensOfTwoApps(&tokenA, &tokenB));
    const auto headersOf = [&](int client) {
        return "Authorization: bearer " + (client % 2 ? tokenB : tokenA) + "\r\n";
    };
    const auto judge = [this](quint64 since, const char *what) -> QString {
        for (const char *app : {"app:appA", "app:appB"}) {
            QList<RequestRecord> records;
            for (const RequestRecord &r : logSince(m_reddit, since))
                if (r.bucket == QLatin1String(app))
                    records.append(r);
            const WindowStats stats = computeWindowStats(records);
            qInfo().noquote() << app << "upstream per window," << what << ":" << stats.describe();
            if (!stats.withinBudget(kBudget) || records.isEmpty())
                return QLatin1String(app) + u' ' + stats.describe();
        }
        return QString();
    };

    const quint64 before = lastId(m_reddit);
    QString why;
    bool killed = false;
    // Redis dies (SIGKILL) a third of the way through five windows of load.
    const bool ok = runLoad("outage", qint64(5 * kWindowSeconds * 1000), &why, 5000, [&] {
        m_redis->kill();
        killed = true;
        for (int i = 0; i < kDaemons; ++i)
            QTRY_COMPARE_WITH_TIMEOUT(redisState(i), QStringLiteral("degraded"), 5000);
    }, headersOf);
    QVERIFY(killed);
    QVERIFY2(ok, qPrintable(why));
    // The degraded limit: each daemon takes at most floor(budget / 3) of each
    // app's budget per window + 2 s, and the window under way at the outage
    // keeps its remaining count split: together never more than each app's
    // budget, and no 429.
    const QString degraded = judge(before, "Redis killed after 5 s");
    QVERIFY2(degraded.isEmpty(), qPrintable(degraded));
    QCOMPARE(m_reddit.tooManyRequestsCount(), 0);
    for (int i = 0; i < kDaemons; ++i) {
        const QJsonObject s = request(m_daemons[i]->port(), "GET", "/_mp/stats").json();
        QCOMPARE(s.value("redis").toString(), QStringLiteral("degraded"));
    }

    // Redis back on the same port: the daemons rejoin (reconnect backoff
    // at most 2 s, then a 5 s hold on the local limit).
    QVERIFY2(startRedis(&why), qPrintable(why));
    for (int i = 0; i < kDaemons; ++i)
        QTRY_COMPARE_WITH_TIMEOUT(redisState(i), QStringLiteral("ok"), 15'000);

    // And share each app's budget again.
    const quint64 after = lastId(m_reddit);
    QVERIFY2(runLoad("rejoined", qint64(2 * kWindowSeconds * 1000), &why, -1, {}, headersOf), qPrintable(why));
    const QString rejoined = judge(after, "rejoined");
    QVERIFY2(rejoined.isEmpty(), qPrintable(rejoined));
    QCOMPARE(m_reddit.tooManyRequestsCount(), 0);
}

QTEST_GUILESS_MAIN(tst_Distributed)
#include "tst_distributed.moc"
