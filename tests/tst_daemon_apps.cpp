// needs: praw-multiprocess
// serial
// One rate budget per OAuth app (client id), as Reddit counts since 2023:
// the real daemon in front of the fake upstream counting per client id.
// Each app gets its token through the daemon, which learns which app the
// token belongs to; then the apps' budgets are used separately, a 429 for
// one app never pauses another, and what was learned survives a restart.
// Timing-sensitive (budget windows): CTest runs it alone.
#include "DaemonTestKit.h"
#include "FakeReddit.h"
#include "ProcessFixture.h"
#include "TestPrograms.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QTemporaryDir>
#include <QTest>

#include <memory>
#include <vector>

using namespace dtk;
using prawmp::test::FakeReddit;
using prawmp::test::ProcessFixture;
using prawmp::test::ResetConvention;
using prawmp::test::WindowStats;
using namespace Qt::Literals::StringLiterals;

namespace {

QByteArray basicAuth(const QByteArray &id, const QByteArray &secret)
{
    return "Basic " + (id + ':' + secret).toBase64();
}

// A token for `clientId`, asked for through the daemon.
QByteArray tokenThroughDaemon(quint16 port, const QByteArray &clientId, const QByteArray &secret,
                              const QByteArray &form = "grant_type=client_credentials")
{
    const RawResponse r = fetch(port, httpRequest("POST", "/api/v1/access_token",
                                                  {{"Authorization", basicAuth(clientId, secret)},
                                                   {"Content-Type", "application/x-www-form-urlencoded"}},
                                                  form));
    return r.status == 200 ? r.json().value(u"access_token"_s).toString().toUtf8() : QByteArray();
}

// Clients that each keep one distinct request (never a cache hit) in
// flight through the daemon, with their app's bearer token.
class GreedyClients
{
public:
    void add(quint16 port, const QByteArray &token, const QByteArray &name)
    {
        auto c = std::make_unique<Client>();
        c->raw = std::make_unique<RawClient>(port);
        c->token = token;
        c->name = name;
        m_clients.push_back(std::move(c));
    }

    // Runs for `ms`; returns false if a client lost its connection.
    bool run(int ms)
    {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < ms) {
            for (auto &c : m_clients) {
                if (c->raw->isClosed())
                    return false;
                if (c->raw->responses().size() >= c->sent) {
                    ++c->sent;
                    c->raw->write(get("/r/apps/new.json?c=" + c->name + "&n=" + QByteArray::number(c->sent),
                                      {{"Authorization", "bearer " + c->token},
                                       {"User-Agent", "greedy/" + c->name}}));
                }
            }
            QTest::qWait(2);
        }
        return true;
    }

    int answered(int status) const
    {
        int n = 0;
        for (const auto &c : m_clients)
            for (const RawResponse &r : c->raw->responses())
                n += r.status == status ? 1 : 0;
        return n;
    }

private:
    struct Client
    {
        std::unique_ptr<RawClient> raw;
        QByteArray token;
        QByteArray name;
        qsizetype sent = 0;
    };
    std::vector<std::unique_ptr<Client>> m_clients;
};

QJsonObject domainNamed(const QJsonObject &stats, const QString &domainSuffix)
{
    for (const QJsonValue &v : stats.value(u"domains"_s).toArray())
        if (v.toObject().value(u"domain"_s).toString().endsWith(domainSuffix))
            return v.toObject();
    return {};
}

} // namespace

class TestDaemonApps : public QObject
{
    Q_OBJECT

    std::unique_ptr<FakeReddit> m_fake;
    QTemporaryDir m_state;

    std::unique_ptr<FakeReddit> startFake(int budget, double window, ResetConvention convention)
    {
        prawmp::test::FakeRedditOptions o;
        o.budget = budget;
        o.windowSeconds = window;
        o.resetConvention = convention;
        o.perClientId = true;
        auto fake = std::make_unique<FakeReddit>(o);
        fake->addClient(u"appA"_s, u"secretA"_s);
        fake->addClient(u"appB"_s, u"secretB"_s);
        fake->addUser(u"alice"_s, u"pwA"_s);
        fake->addUser(u"bob"_s, u"pwB"_s);
        if (!fake->listen())
            return {};
        return fake;
    }

    QStringList daemonArgs(quint16 upstreamPort, const QString &stateDir) const
    {
        return {u"--upstream"_s, upstreamArg(upstreamPort), u"--rate-mode"_s, u"adaptive"_s,
                u"--delay"_s, u"0.05"_s, u"--state-dir"_s, stateDir, u"--app-label"_s, u"appA=Alpha"_s};
    }

private slots:
    void twoAppsEachUseTheirOwnBudget_data()
    {
        QTest::addColumn<ResetConvention>("convention");
        QTest::newRow("reset rounded down") << ResetConvention::Down;
        QTest::newRow("reset rounded up (Reddit's code)") << ResetConvention::Up;
        QTest::newRow("reset rounded down, never 0") << ResetConvention::DownNever0;
    }

    void twoAppsEachUseTheirOwnBudget()
    {
        QFETCH(ResetConvention, convention);
        const int budget = 20;
        const double window = 2.0;
        auto fake = startFake(budget, window, convention);
        QVERIFY(fake);
        QTemporaryDir state;
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, daemonArgs(fake->port(), state.path())), qPrintable(daemon.describe()));

        const QByteArray tokenA = tokenThroughDaemon(daemon.port(), "appA", "secretA");
        const QByteArray tokenB = tokenThroughDaemon(daemon.port(), "appB", "secretB");
        QVERIFY(!tokenA.isEmpty() && !tokenB.isEmpty());
        GreedyClients clients;
        for (int i = 0; i < 4; ++i) {
            clients.add(daemon.port(), tokenA, "a" + QByteArray::number(i));
            clients.add(daemon.port(), tokenB, "b" + QByteArray::number(i));
        }
        QVERIFY2(clients.run(int(window * 1000 * 5.5)), qPrintable(daemon.describe()));
        QCOMPARE(clients.answered(429), 0);

        const WindowStats a = fake->windowStats(u"app:appA"_s);
        const WindowStats b = fake->windowStats(u"app:appB"_s);
        qInfo("appA: %s", qPrintable(a.describe()));
        qInfo("appB: %s", qPrintable(b.describe()));
        const QString errorA = a.saturationShortfall(budget, 0.95);
        QVERIFY2(errorA.isEmpty(), qPrintable(u"appA: "_s + errorA));
        const QString errorB = b.saturationShortfall(budget, 0.95);
        QVERIFY2(errorB.isEmpty(), qPrintable(u"appB: "_s + errorB));
        QCOMPARE(fake->windowStats(u"anonymous"_s).requestsPerWindow.size(), 0);

        // The stats show one domain per app, by client id and label, never a token.
        const QJsonObject stats = fetchJson(daemon.port(), "/_mp/stats");
        const QJsonObject domainA = domainNamed(stats, u" app:appA"_s);
        QCOMPARE(domainA.value(u"app"_s).toString(), u"appA"_s);
        QCOMPARE(domainA.value(u"label"_s).toString(), u"Alpha"_s);
        QCOMPARE(domainNamed(stats, u" app:appB"_s).value(u"app"_s).toString(), u"appB"_s);
        QVERIFY(domainNamed(stats, u" unidentified"_s).isEmpty());
        const RawResponse metrics = fetch(daemon.port(), get("/_mp/metrics"));
        QVERIFY(metrics.body.contains("app=\"appA\""));
        for (const QByteArray &text : {QJsonDocument(stats).toJson(), metrics.body}) {
            QVERIFY(!text.contains(tokenA));
            QVERIFY(!text.contains(tokenB));
        }
        QVERIFY(daemon.stop());
    }

    void tooManyRequestsForOneAppDoesNotPauseAnother()
    {
        auto fake = startFake(10, 4.0, ResetConvention::Up);
        QVERIFY(fake);
        QTemporaryDir state;
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, daemonArgs(fake->port(), state.path())), qPrintable(daemon.describe()));
        const QByteArray tokenA = tokenThroughDaemon(daemon.port(), "appA", "secretA");
        const QByteArray tokenB = tokenThroughDaemon(daemon.port(), "appB", "secretB");
        QVERIFY(!tokenA.isEmpty() && !tokenB.isEmpty());

        // Another program spends app A's whole window behind the daemon's back.
        for (int i = 0; i < 12; ++i)
            fetch(fake->port(), get("/r/elsewhere/new.json?n=" + QByteArray::number(i),
                                    {{"Authorization", "bearer " + tokenA}}));
        const RawResponse a = fetch(daemon.port(), get("/r/a/new.json", {{"Authorization", "bearer " + tokenA}}));
        QCOMPARE(a.status, 429);

        const QJsonObject stats = fetchJson(daemon.port(), "/_mp/stats");
        QVERIFY2(domainNamed(stats, u" app:appA"_s).value(u"paused"_s).toBool(), qPrintable(QJsonDocument(stats).toJson()));
        QVERIFY(!domainNamed(stats, u" app:appB"_s).value(u"paused"_s).toBool());

        // B is answered at once while A waits for its reset.
        QElapsedTimer t;
        t.start();
        const RawResponse b = fetch(daemon.port(), get("/r/b/new.json", {{"Authorization", "bearer " + tokenB}}));
        QCOMPARE(b.status, 200);
        QVERIFY2(t.elapsed() < 1000, qPrintable(QString::number(t.elapsed())));
        QVERIFY(daemon.stop());
    }

    void learnedAppsSurviveARestart()
    {
        auto fake = startFake(1000, 60.0, ResetConvention::Down);
        QVERIFY(fake);
        QTemporaryDir state;
        QByteArray alice, bob, appB;
        {
            ProcessFixture daemon;
            QVERIFY2(startDaemon(daemon, daemonArgs(fake->port(), state.path())), qPrintable(daemon.describe()));
            // Two users of app A (password grants) and app B.
            alice = tokenThroughDaemon(daemon.port(), "appA", "secretA",
                                       "grant_type=password&username=alice&password=pwA");
            bob = tokenThroughDaemon(daemon.port(), "appA", "secretA",
                                     "grant_type=password&username=bob&password=pwB");
            appB = tokenThroughDaemon(daemon.port(), "appB", "secretB");
            QVERIFY(!alice.isEmpty() && !bob.isEmpty() && !appB.isEmpty());
            QVERIFY(daemon.stop());
        }
        const QString file = state.filePath(u"identities.json"_s);
        QVERIFY(QFileInfo::exists(file));
        QCOMPARE(QFileInfo(file).permissions() & (QFileDevice::ReadGroup | QFileDevice::ReadOther),
                 QFileDevice::Permissions());
        QFile f(file);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray saved = f.readAll();
        for (const QByteArray &token : {alice, bob, appB})
            QVERIFY2(!saved.contains(token), "a token was written to the state file");

        // A new daemon, the same state dir: the old tokens still count in their apps.
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, daemonArgs(fake->port(), state.path())), qPrintable(daemon.describe()));
        for (const QByteArray &token : {alice, bob, appB})
            QCOMPARE(fetch(daemon.port(), get("/r/after/new.json?t=" + token.left(4),
                                              {{"Authorization", "bearer " + token}})).status, 200);
        const QJsonObject stats = fetchJson(daemon.port(), "/_mp/stats");
        QCOMPARE(domainNamed(stats, u" app:appA"_s).value(u"granted"_s).toInt(), 2); // alice + bob: one app
        QCOMPARE(domainNamed(stats, u" app:appB"_s).value(u"granted"_s).toInt(), 1);
        QVERIFY(domainNamed(stats, u" unidentified"_s).isEmpty());

        // A token it never saw issued: the shared unidentified domain, unless named.
        QCOMPARE(fetch(daemon.port(), get("/r/x/new.json", {{"Authorization", "bearer unknown-token"}})).status,
                 200);
        QVERIFY(!domainNamed(fetchJson(daemon.port(), "/_mp/stats"), u" unidentified"_s).isEmpty());
        fetch(daemon.port(), get("/r/y/new.json", {{"Authorization", "bearer other-token"}, {"X-Mp-App", "appC"}}));
        QVERIFY(!domainNamed(fetchJson(daemon.port(), "/_mp/stats"), u" app:appC"_s).isEmpty());
        // X-Mp-App stays with the daemon.
        QVERIFY(!fake->log().last().headers.contains("X-Mp-App"));
        QVERIFY(daemon.stop());
    }

    // Cached answers are keyed by identity (app, user, granted scopes) for
    // tokens the daemon saw issued: one user's tokens share, nobody else does.
    void identityCacheSharesOnlyWithinOneIdentity()
    {
        auto fake = startFake(1000, 60.0, ResetConvention::Down);
        QVERIFY(fake);
        QTemporaryDir state;
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, daemonArgs(fake->port(), state.path())), qPrintable(daemon.describe()));
        const quint16 port = daemon.port();
        const QByteArray aliceForm = "grant_type=password&username=alice&password=pwA";
        const QByteArray alice1 = tokenThroughDaemon(port, "appA", "secretA", aliceForm);
        const QByteArray alice2 = tokenThroughDaemon(port, "appA", "secretA", aliceForm);
        const QByteArray aliceRead = tokenThroughDaemon(port, "appA", "secretA", aliceForm + "&scope=read");
        const QByteArray bob = tokenThroughDaemon(port, "appA", "secretA",
                                                  "grant_type=password&username=bob&password=pwB");
        const QByteArray aliceOfB = tokenThroughDaemon(port, "appB", "secretB", aliceForm);
        const QByteArray appOnly1 = tokenThroughDaemon(port, "appA", "secretA");
        const QByteArray appOnly2 = tokenThroughDaemon(port, "appA", "secretA");
        for (const QByteArray &t : {alice1, alice2, aliceRead, bob, aliceOfB, appOnly1, appOnly2})
            QVERIFY(!t.isEmpty());
        const QList<QByteArray> strangers{"never-issued-1", "never-issued-2"};

        auto read = [&](const QByteArray &token, const QByteArray &target) {
            return fetch(port, get(target, {{"Authorization", "bearer " + token}}));
        };
        // In turn, so that each later token finds the earlier one's entry.
        QHash<QByteArray, QByteArray> cacheStatus;
        for (const QByteArray &t : {alice1, alice2, aliceRead, bob, aliceOfB, appOnly1, appOnly2, strangers[0],
                                    strangers[1]}) {
            const RawResponse r = read(t, "/r/shared/hot.json?limit=5");
            QCOMPARE(r.status, 200);
            cacheStatus.insert(t, r.header("X-Cache"));
        }
        QCOMPARE(cacheStatus.value(alice1), "MISS");
        QCOMPARE(cacheStatus.value(alice2), "HIT");     // same app, user and scopes
        QCOMPARE(cacheStatus.value(aliceRead), "MISS"); // other scopes
        QCOMPARE(cacheStatus.value(bob), "MISS");       // other user
        QCOMPARE(cacheStatus.value(aliceOfB), "MISS");  // other app
        QCOMPARE(cacheStatus.value(appOnly1), "MISS");
        QCOMPARE(cacheStatus.value(appOnly2), "HIT");   // app-only tokens of one app
        QCOMPARE(cacheStatus.value(strangers[0]), "MISS");
        QCOMPARE(cacheStatus.value(strangers[1]), "MISS"); // unknown tokens: one cache each
        QCOMPARE(fake->targetCount("/r/shared/hot.json?limit=5"), 7);

        // /api/v1/me answers each token's own user, one upstream call per user.
        for (const QByteArray &t : {alice1, alice2, bob}) {
            const RawResponse r = read(t, "/api/v1/me");
            QCOMPARE(r.status, 200);
            QCOMPARE(r.json().value(u"name"_s).toString(), t == bob ? u"bob"_s : u"alice"_s);
        }
        QCOMPARE(fake->pathCount("/api/v1/me"), 2);

        // Coalescing follows the same key: two of alice's tokens asking at once
        // make one upstream request.
        RawClient first(port), second(port);
        first.write(get("/r/slow/new.json?__delay_ms=400", {{"Authorization", "bearer " + alice1}}));
        QTest::qWait(100);
        second.write(get("/r/slow/new.json?__delay_ms=400", {{"Authorization", "bearer " + alice2}}));
        QTRY_VERIFY_WITH_TIMEOUT(first.responses().size() == 1 && second.responses().size() == 1, 10'000);
        QCOMPARE(second.responses().first().header("X-Cache"), "COALESCED");
        QCOMPARE(fake->pathCount("/r/slow/new.json"), 1);

        // alice2's listing and me, appOnly2's listing, alice2's coalesced one.
        const QJsonObject totals = fetchJson(port, "/_mp/stats").value(u"totals"_s).toObject();
        QCOMPARE(totals.value(u"servedAcrossTokens"_s).toInt(-1), 4);
        QVERIFY(daemon.stop());
    }

    // Restarted mid-run with the same state dir, clients keeping their
    // tokens: both apps go on using their own budgets. Only the window of the
    // restart itself may fall short (the new daemon learns it afresh).
    void restartMidRunKeepsEachAppsBudget()
    {
        // A restarted daemon learns the window under way from its first few
        // answers (the reset's rounding leaves up to 2 s of doubt): windows
        // long enough that this doubt and the pacing fit in one, as Reddit's
        // 600 s do.
        const int budget = 20;
        const double window = 4.0;
        auto fake = startFake(budget, window, ResetConvention::Up);
        QVERIFY(fake);
        QTemporaryDir state;
        QByteArray tokenA, tokenB;
        {
            ProcessFixture daemon;
            QVERIFY2(startDaemon(daemon, daemonArgs(fake->port(), state.path())), qPrintable(daemon.describe()));
            tokenA = tokenThroughDaemon(daemon.port(), "appA", "secretA");
            tokenB = tokenThroughDaemon(daemon.port(), "appB", "secretB");
            QVERIFY(!tokenA.isEmpty() && !tokenB.isEmpty());
            GreedyClients before;
            for (int i = 0; i < 4; ++i) {
                before.add(daemon.port(), tokenA, "a" + QByteArray::number(i));
                before.add(daemon.port(), tokenB, "b" + QByteArray::number(i));
            }
            QVERIFY(before.run(int(window * 1000 * 1.3)));
            QVERIFY(daemon.stop());
        }
        const qint64 restartedAtMs = fake->log().isEmpty() ? 0 : fake->log().last().arrivalMs;
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, daemonArgs(fake->port(), state.path())), qPrintable(daemon.describe()));
        GreedyClients after;
        for (int i = 0; i < 4; ++i) {
            after.add(daemon.port(), tokenA, "a" + QByteArray::number(i));
            after.add(daemon.port(), tokenB, "b" + QByteArray::number(i));
        }
        QVERIFY2(after.run(int(window * 1000 * 4.5)), qPrintable(daemon.describe()));
        QCOMPARE(after.answered(429), 0);
        QCOMPARE(fake->tooManyRequestsCount(), 0);
        for (const QString &app : {u"appA"_s, u"appB"_s}) {
            QList<prawmp::test::RequestRecord> sinceRestart;
            for (const auto &r : fake->log())
                if (r.arrivalMs > restartedAtMs && r.bucket == u"app:"_s + app)
                    sinceRestart.append(r);
            const WindowStats w = prawmp::test::computeWindowStats(sinceRestart);
            qInfo("%s after the restart: %s", qPrintable(app), qPrintable(w.describe()));
            const QString shortfall = w.saturationShortfall(budget, 0.95);
            QVERIFY2(shortfall.isEmpty(), qPrintable(app + u": "_s + shortfall));
        }
        // Nothing fell into the shared "unidentified" domain.
        QVERIFY(domainNamed(fetchJson(daemon.port(), "/_mp/stats"), u" unidentified"_s).isEmpty());
        QVERIFY(daemon.stop());
    }

    void hostRateKeyKeepsOneBudgetPerHost()
    {
        auto fake = startFake(1000, 60.0, ResetConvention::Down);
        QVERIFY(fake);
        QTemporaryDir state;
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, daemonArgs(fake->port(), state.path()) + QStringList{u"--rate-key"_s, u"host"_s}),
                 qPrintable(daemon.describe()));
        const QByteArray tokenA = tokenThroughDaemon(daemon.port(), "appA", "secretA");
        const QByteArray tokenB = tokenThroughDaemon(daemon.port(), "appB", "secretB");
        fetch(daemon.port(), get("/r/a/new.json", {{"Authorization", "bearer " + tokenA}}));
        fetch(daemon.port(), get("/r/b/new.json", {{"Authorization", "bearer " + tokenB}}));
        const QJsonArray domains = fetchJson(daemon.port(), "/_mp/stats").value(u"domains"_s).toArray();
        QCOMPARE(domains.size(), 1);
        QCOMPARE(domains.first().toObject().value(u"domain"_s).toString(), u"127.0.0.1"_s);
        QCOMPARE(domains.first().toObject().value(u"granted"_s).toInt(), 4);
        QVERIFY(daemon.stop());
    }
};

QTEST_GUILESS_MAIN(TestDaemonApps)
#include "tst_daemon_apps.moc"
