// needs: praw-multiprocess
// serial
// Faults around the real daemon process: an upstream that drops, hangs,
// sends garbage, closes mid-body or answers 429 storms; clients that vanish
// mid-request and mid-queue; the daemon out of file descriptors
// (`ulimit -n 256`) under 1000 connecting clients. After each: the daemon is
// alive and serves, and no client got an answer meant for another (every
// request carries its identity in its URL, which the fake upstream echoes).
#include "DaemonTestKit.h"

#include <QDir>
#include <QStandardPaths>

#include <memory>
#include <vector>

using namespace dtk;
using prawmp::test::Fault;
using prawmp::test::FakeReddit;

namespace {

// The listing answer to "/r/SUB/...": its identity as the upstream echoed it.
QString sameListing(const RawResponse &r, const QString &sub)
{
    if (r.status != 200)
        return QStringLiteral("expected 200 for r/%1, got:\n%2").arg(sub, r.describe());
    if (r.json()["sub"].toString() != sub)
        return QStringLiteral("the answer for r/%1 is another request's:\n%2").arg(sub, r.describe());
    return {};
}

int openFds(qint64 pid)
{
    return int(QDir(QStringLiteral("/proc/%1/fd").arg(pid)).entryList(QDir::Files | QDir::System).size());
}

} // namespace

class TestFaults : public QObject
{
    Q_OBJECT

private:
    FakeReddit m_reddit;

    QStringList baseArgs(const QStringList &extra = {}) const
    {
        return unpacedDaemonArgs(m_reddit.port()) + QStringList{"--upstream-timeout", "2"} + extra;
    }

    // The daemon still answers a new client, a miss and a control call.
    QString serves(quint16 port, const QString &sub)
    {
        const RawResponse r = fetch(port, get("/r/" + sub.toLatin1() + "/hot.json?limit=1"));
        if (QString e = sameListing(r, sub); !e.isEmpty())
            return e;
        const QJsonObject health = fetchJson(port, "/_mp/health");
        if (health["status"].toString() != QLatin1String("ok"))
            return QStringLiteral("health: %1").arg(QString::fromUtf8(QJsonDocument(health).toJson()));
        return {};
    }

private slots:
    void initTestCase()
    {
        if (prawmp::test::daemonProgram().isEmpty())
            QSKIP("praw-multiprocess is not built");
        QVERIFY(m_reddit.listen());
    }
    void init()
    {
        m_reddit.clearLog();
        m_reddit.clearFault();
        m_reddit.setBudget(0, 600);
    }

    // ---- the upstream misbehaves -------------------------------------

    void upstreamFaultsAreAnsweredAndNotCached_data()
    {
        QTest::addColumn<QString>("fault");
        QTest::addColumn<int>("status");
        QTest::newRow("drop") << "drop" << 502;
        QTest::newRow("hang") << "hang" << 504;
        QTest::newRow("garbage") << "garbage" << 502;
        QTest::newRow("closes mid-body") << "partial" << 502;
        QTest::newRow("500") << "500" << 500;
    }

    void upstreamFaultsAreAnsweredAndNotCached()
    {
        QFETCH(QString, fault);
        QFETCH(int, status);
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs()), qPrintable(daemon.describe()));
        const quint16 port = daemon.port();

        // Faulty and sound requests at once, on separate connections.
        std::vector<std::unique_ptr<RawClient>> faulty;
        std::vector<std::unique_ptr<RawClient>> sound;
        for (int i = 0; i < 6; ++i) {
            faulty.push_back(std::make_unique<RawClient>(port));
            faulty.back()->write(get("/r/bad" + QByteArray::number(i) + "/hot.json?limit=1&__fault=" + fault.toLatin1()));
            sound.push_back(std::make_unique<RawClient>(port));
            sound.back()->write(get("/r/good" + QByteArray::number(i) + "/hot.json?limit=1"));
        }
        for (int i = 0; i < 6; ++i) {
            QVERIFY2(sound[i]->waitForResponses(1, 10'000), qPrintable(daemon.describe()));
            const QString e = sameListing(sound[i]->responses().first(), QStringLiteral("good%1").arg(i));
            QVERIFY2(e.isEmpty(), qPrintable(e));
        }
        for (int i = 0; i < 6; ++i) {
            QVERIFY2(faulty[i]->waitForResponses(1, 10'000), qPrintable(daemon.describe()));
            const RawResponse &r = faulty[i]->responses().first();
            if (status == 500) {
                QCOMPARE(r.status, 500); // upstream statuses pass through
            } else {
                const QString e = checkJsonError(r, status);
                QVERIFY2(e.isEmpty(), qPrintable(e));
            }
            QCOMPARE(faulty[i]->responses().size(), 1);
        }

        // The next request for a URL whose answer failed is not served from
        // the cache: a fault once, then the sound answer, in full.
        if (fault != QLatin1String("500")) {
            m_reddit.setFault(prawmp::test::faultFromName(fault.toLatin1()), 1);
            const QByteArray target = "/r/once" + fault.toLatin1() + "/hot.json?limit=50";
            const RawResponse first = fetch(port, get(target));
            QVERIFY2(first.status == status || first.status == 200, qPrintable(first.describe()));
            const RawResponse second = fetch(port, get(target));
            const QString e = sameListing(second, "once" + fault);
            QVERIFY2(e.isEmpty(), qPrintable(e));
            QCOMPARE(second.json()["data"].toObject()["dist"].toInt(), 50);
            if (first.status != 200)
                QCOMPARE(second.header("x-cache"), QByteArray("MISS"));
        }

        QVERIFY2(daemon.isRunning(), qPrintable(daemon.describe()));
        const QString e = serves(port, "after" + fault);
        QVERIFY2(e.isEmpty(), qPrintable(e + u'\n' + daemon.describe()));
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }

    // The budget is spent by someone else: the upstream answers 429 to the
    // daemon. It passes the 429 on, pauses the domain instead of hammering,
    // and serves every waiting client once the window renews.
    void budgetSpentElsewhereGives429StormThatTheDaemonRidesOut()
    {
        m_reddit.setBudget(8, 3);
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, {"--upstream", upstreamArg(m_reddit.port()), "--delay", "0.05",
                                      "--max-queue-wait", "20"}),
                 qPrintable(daemon.describe()));
        // Another program spends the whole window.
        for (int i = 0; i < 8; ++i) {
            const RawResponse r = fetch(m_reddit.port(), get("/r/elsewhere/hot.json?limit=1&i=" + QByteArray::number(i)));
            QCOMPARE(r.status, 200);
        }
        QElapsedTimer t;
        t.start();
        std::vector<std::unique_ptr<RawClient>> clients;
        for (int i = 0; i < 16; ++i) {
            clients.push_back(std::make_unique<RawClient>(daemon.port()));
            clients.back()->write(get("/r/storm" + QByteArray::number(i) + "/hot.json?limit=1"));
        }
        int served = 0;
        int passed429 = 0;
        for (int i = 0; i < 16; ++i) {
            QVERIFY2(clients[i]->waitForResponses(1, 30'000), qPrintable(daemon.describe()));
            const RawResponse &r = clients[i]->responses().first();
            if (r.status == 429) {
                ++passed429;
                continue;
            }
            const QString e = sameListing(r, QStringLiteral("storm%1").arg(i));
            QVERIFY2(e.isEmpty(), qPrintable(e));
            ++served;
        }
        const auto stats = m_reddit.windowStats();
        qInfo("429 storm: %d served, %d got the 429, %d upstream 429s, %lld ms", served, passed429,
              stats.tooManyRequests, t.elapsed());
        // After a 429 the domain pauses until the reset: only the requests
        // already on their way when the first 429 came back can meet one.
        QVERIFY2(stats.tooManyRequests <= 4, qPrintable(stats.describe()));
        QVERIFY2(served >= 12, qPrintable(QString::number(served)));
        const QString e = serves(daemon.port(), QStringLiteral("afterstorm"));
        QVERIFY2(e.isEmpty(), qPrintable(e));
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }

    // An upstream that answers nothing but 429 for a while. Each 429 is
    // passed on to its own client and pauses the domain (Retry-After + 1 s):
    // the daemon probes with one request per pause instead of hammering;
    // clients that would rather fail fast (X-Mp-Max-Wait) get 503 +
    // Retry-After at once while it is paused; it serves again as soon as
    // the upstream recovers.
    void persistent429StormIsBoundedAndRecovers()
    {
        ScriptedUpstream upstream;
        QVERIFY(upstream.listen());
        upstream.setStatus(429);
        upstream.setExtraFields({{"Retry-After", "1"}});
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, {"--upstream", QString::fromLatin1(upstream.base()), "--delay", "0"}),
                 qPrintable(daemon.describe()));
        const quint16 port = daemon.port();
        QElapsedTimer t;
        t.start();

        RawResponse first = fetch(port, get("/storm/first"));
        QCOMPARE(first.status, 429);
        QCOMPARE(first.json()["target"].toString(), QStringLiteral("/storm/first"));

        // Paused: the impatient fail fast, nothing reaches the upstream.
        std::vector<std::unique_ptr<RawClient>> impatient;
        for (int i = 0; i < 30; ++i) {
            impatient.push_back(std::make_unique<RawClient>(port));
            impatient.back()->write(get("/storm/fast" + QByteArray::number(i), {{"X-Mp-Max-Wait", "0.5"}}));
        }
        for (int i = 0; i < 30; ++i) {
            QVERIFY2(impatient[i]->waitForResponses(1, 1500), qPrintable(daemon.describe()));
            const RawResponse &r = impatient[i]->responses().first();
            const QString e = checkJsonError(r, 503);
            QVERIFY2(e.isEmpty(), qPrintable(e));
            QVERIFY2(r.header("retry-after").toInt() >= 1, qPrintable(r.describe()));
        }
        QCOMPARE(upstream.count(), 1);

        // The patient wait; each gets its own 429, one upstream probe per pause.
        std::vector<std::unique_ptr<RawClient>> patient;
        for (int i = 0; i < 3; ++i) {
            patient.push_back(std::make_unique<RawClient>(port));
            patient.back()->write(get("/storm/slow" + QByteArray::number(i)));
        }
        for (int i = 0; i < 3; ++i) {
            QVERIFY2(patient[i]->waitForResponses(1, 15'000), qPrintable(daemon.describe()));
            const RawResponse &r = patient[i]->responses().first();
            QCOMPARE(r.status, 429);
            QCOMPARE(r.json()["target"].toString(), QStringLiteral("/storm/slow%1").arg(i));
        }
        QCOMPARE(upstream.count(), 4);
        const qint64 stormMs = t.elapsed();
        // Three pauses of Retry-After + 1 s each.
        QVERIFY2(stormMs >= 5500, qPrintable(QString::number(stormMs)));

        upstream.setStatus(200);
        upstream.setExtraFields({});
        RawResponse r;
        QVERIFY2(QTest::qWaitFor([&] {
                     r = fetch(port, get("/recovered"));
                     return r.status == 200;
                 }, 10'000),
                 qPrintable(r.describe()));
        QCOMPARE(r.json()["target"].toString(), QStringLiteral("/recovered"));
        qInfo("persistent 429s: %d upstream requests for 35 clients, storm over after %lld ms, served again after %lld ms",
              upstream.count(), stormMs, t.elapsed());
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }

    // ---- clients misbehave -------------------------------------------

    void clientsVanishingMidRequestDisturbNoOne()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs()), qPrintable(daemon.describe()));
        const quint16 port = daemon.port();

        // Two clients wait for the same slow answer (coalesced); one leaves.
        const QByteArray slow = get("/r/shared/hot.json?limit=1&__delay_ms=600");
        RawClient leaver(port);
        RawClient stayer(port);
        RawClient other(port);
        leaver.write(slow);
        stayer.write(slow);
        other.write(get("/r/other/hot.json?limit=1&__delay_ms=300"));
        QTest::qWait(150);
        leaver.close();
        QVERIFY(stayer.waitForResponses(1));
        QVERIFY2(sameListing(stayer.responses().first(), "shared").isEmpty(), qPrintable(stayer.responses().first().describe()));
        QVERIFY(other.waitForResponses(1));
        QVERIFY2(sameListing(other.responses().first(), "other").isEmpty(), qPrintable(other.responses().first().describe()));

        // Half a head, half a body, a pipeline cut short, a big answer never read.
        RawClient halfHead(port);
        halfHead.writePart("GET /r/half/hot.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Par");
        RawClient halfBody(port);
        halfBody.writePart("POST /api/comment HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nthing_id=t3_");
        RawClient pipeline(port);
        pipeline.write(get("/r/p1/hot.json?limit=100&__delay_ms=200") + get("/r/p2/hot.json?limit=100"), {false, false});
        RawClient bigUnread(port);
        bigUnread.write(get("/r/big/hot.json?limit=100"));
        QTest::qWait(100);
        for (RawClient *c : {&halfHead, &halfBody, &pipeline, &bigUnread, &stayer, &other})
            c->close();

        QVERIFY2(daemon.isRunning(), qPrintable(daemon.describe()));
        const QString e = serves(port, QStringLiteral("aftervanish"));
        QVERIFY2(e.isEmpty(), qPrintable(e));
        // Their connections are gone from the daemon's books (the stats
        // request's own is the one left).
        QJsonObject stats;
        QVERIFY2(QTest::qWaitFor([&] {
                     stats = fetchJson(port, "/_mp/stats");
                     return stats["connections"].toInt() == 1;
                 }, 5000),
                 qPrintable(QString::fromUtf8(QJsonDocument(stats).toJson())));
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }

    // A request whose client leaves while it waits for its turn leaves the
    // queue before it spends budget.
    void clientsVanishingMidQueueSpendNoBudget()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, {"--upstream", upstreamArg(m_reddit.port()), "--rate-mode", "fixed",
                                      "--delay", "0.5"}),
                 qPrintable(daemon.describe()));
        const quint16 port = daemon.port();
        std::vector<std::unique_ptr<RawClient>> stay;
        std::vector<std::unique_ptr<RawClient>> leave;
        for (int i = 0; i < 4; ++i) {
            stay.push_back(std::make_unique<RawClient>(port));
            stay.back()->write(get("/r/stay" + QByteArray::number(i) + "/hot.json?limit=1"));
        }
        QVERIFY(QTest::qWaitFor([&] { return m_reddit.requestCount() >= 1; }, 5000));
        for (int i = 0; i < 6; ++i) {
            leave.push_back(std::make_unique<RawClient>(port));
            leave.back()->write(get("/r/leave" + QByteArray::number(i) + "/hot.json?limit=1"));
        }
        QTest::qWait(200);
        for (auto &c : leave)
            c->close();
        for (int i = 0; i < 4; ++i) {
            QVERIFY2(stay[i]->waitForResponses(1, 10'000), qPrintable(daemon.describe()));
            const QString e = sameListing(stay[i]->responses().first(), QStringLiteral("stay%1").arg(i));
            QVERIFY2(e.isEmpty(), qPrintable(e));
        }
        // Their turns (0.5 s apart) come and go: nothing reaches the upstream.
        QTest::qWait(3500);
        for (int i = 0; i < 6; ++i)
            QCOMPARE(m_reddit.targetCount("/r/leave" + QByteArray::number(i) + "/hot.json?limit=1"), 0);
        QCOMPARE(m_reddit.requestCount(), 4);
        const QString e = serves(port, QStringLiteral("afterqueue"));
        QVERIFY2(e.isEmpty(), qPrintable(e));
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }

    // ---- the daemon runs out of file descriptors -----------------------

    void outOfFileDescriptorsUnderThousandClients()
    {
        const QString sh = QStandardPaths::findExecutable(QStringLiteral("sh"));
        QVERIFY(!sh.isEmpty());
        ProcessFixture daemon;
        QStringList args{"-c", "ulimit -n 256 && exec \"$0\" \"$@\"", prawmp::test::daemonProgram(), "--port", "0"};
        args += baseArgs();
        QVERIFY2(daemon.start(sh, args), qPrintable(daemon.describe()));
        const quint16 port = daemon.port();
        const qint64 pid = daemon.pid();

        // Ten hot entries, so that most clients can be answered from the cache.
        for (int k = 0; k < 10; ++k) {
            const RawResponse r = fetch(port, get("/r/fd" + QByteArray::number(k) + "/hot.json?limit=1"));
            QVERIFY2(sameListing(r, QStringLiteral("fd%1").arg(k)).isEmpty(), qPrintable(r.describe()));
        }

        constexpr int kClients = 1000;
        std::vector<std::unique_ptr<RawClient>> clients;
        clients.reserve(kClients);
        QElapsedTimer t;
        t.start();
        for (int i = 0; i < kClients; ++i) {
            clients.push_back(std::make_unique<RawClient>(port));
            // Every third one a miss of its own, the rest hits.
            const QByteArray target = i % 3 == 0 ? "/r/own" + QByteArray::number(i) + "/hot.json?limit=1"
                                                 : "/r/fd" + QByteArray::number(i % 10) + "/hot.json?limit=1";
            clients.back()->write(get(target));
        }
        // Each ends with an answer or a closed (or never opened) connection.
        (void)QTest::qWaitFor([&] { // the counts below tell what did not end
            return std::all_of(clients.begin(), clients.end(), [](const auto &c) {
                return !c->responses().isEmpty() || c->isClosed();
            });
        }, 20'000);
        int ok = 0;
        int refused = 0;
        int noAnswer = 0;
        QHash<int, int> statuses;
        QStringList wrong;
        for (int i = 0; i < kClients; ++i) {
            const RawClient &c = *clients[i];
            if (c.responses().isEmpty()) {
                (c.isClosed() ? refused : noAnswer) += 1;
                continue;
            }
            const RawResponse &r = c.responses().first();
            ++statuses[r.status];
            const QString sub = i % 3 == 0 ? QStringLiteral("own%1").arg(i) : QStringLiteral("fd%1").arg(i % 10);
            if (r.status == 200) {
                if (QString e = sameListing(r, sub); !e.isEmpty())
                    wrong << e;
                else
                    ++ok;
            } else if (r.status == 502 || r.status == 503 || r.status == 504) {
                if (QString e = checkJsonError(r, r.status); !e.isEmpty())
                    wrong << e;
            } else {
                wrong << QStringLiteral("client %1: unexpected\n%2").arg(i).arg(r.describe());
            }
        }
        QStringList statusText;
        for (auto it = statuses.cbegin(); it != statuses.cend(); ++it)
            statusText << QStringLiteral("%1x%2").arg(it.key()).arg(it.value());
        qInfo().noquote() << QStringLiteral("ulimit -n 256, %1 clients in %2 ms: %3 served, statuses %4, "
                                            "%5 closed or refused without answer, %6 still waiting; daemon fds %7")
                                 .arg(kClients).arg(t.elapsed()).arg(ok).arg(statusText.join(u' '))
                                 .arg(refused).arg(noAnswer).arg(openFds(pid));
        QVERIFY2(daemon.isRunning(), qPrintable(daemon.describe()));
        QVERIFY2(wrong.isEmpty(), qPrintable(wrong.mid(0, 5).join(u"\n---\n")));
        // The daemon fills every client slot (176 fit in 256 descriptors) and
        // keeps descriptors for its upstream: before the cap on lingering
        // 503s, a crowd took them all and only ~60 clients were served.
        QVERIFY2(ok >= 150, qPrintable(QString::number(ok)));

        // Everyone leaves; the daemon recovers and serves new clients.
        clients.clear();
        QString e;
        QVERIFY2(QTest::qWaitFor([&] {
                     e = serves(port, QStringLiteral("recovered"));
                     return e.isEmpty();
                 }, 15'000),
                 qPrintable(e + u'\n' + daemon.describe()));
        QVERIFY2(QTest::qWaitFor([&] { return openFds(pid) < 64; }, 10'000),
                 qPrintable(QString::number(openFds(pid))));
        QVERIFY2(daemon.stop(10'000), qPrintable(daemon.describe()));
    }
};

QTEST_GUILESS_MAIN(TestFaults)
#include "tst_faults.moc"
