// needs: praw-multiprocess
// serial
// (measures upstream timing: ctest -j runs it alone)
// The rate limiter as the upstream sees it, through the real daemon and
// the fake-reddit process (its own event loop records arrival times):
// fixed pacing under 50 concurrent clients, fairness, the adaptive
// policy against a small budget window, and X-Mp-Max-Wait.
#include "DaemonTestKit.h"

#include <algorithm>
#include <cstdio>

using namespace dtk;
using prawmp::test::FakeReddit;

namespace {

struct Arrival
{
    qint64 ms = 0;
    QByteArray target;
    int status = 0;
    qint64 window = -1;
};

QList<Arrival> arrivals(const QJsonArray &log)
{
    QList<Arrival> out;
    for (const QJsonValue &v : log) {
        const QJsonObject o = v.toObject();
        out.append({o["t_ms"].toInteger(), o["target"].toString().toUtf8(), o["status"].toInt(),
                    o["window"].toInteger(-1)});
    }
    std::sort(out.begin(), out.end(), [](const Arrival &a, const Arrival &b) { return a.ms < b.ms; });
    return out;
}

QJsonArray fakeLog(quint16 port)
{
    return QJsonDocument::fromJson(fetch(port, get("/__log")).body).array();
}

} // namespace

class TestDaemonRateLimit : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase()
    {
        if (prawmp::test::daemonProgram().isEmpty() || prawmp::test::fakeRedditProgram().isEmpty())
            QSKIP("praw-multiprocess or fake-reddit is not built");
    }

    void fixedDelaySpacesFiftyConcurrentClients()
    {
        ProcessFixture reddit;
        QVERIFY2(reddit.start(prawmp::test::fakeRedditProgram(), {"--port", "0"}), qPrintable(reddit.describe()));
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, {"--upstream", upstreamArg(reddit.port()), "--rate-mode", "fixed", "--delay", "0.1"}),
                 qPrintable(daemon.describe()));

        constexpr int kClients = 50;
        std::vector<std::unique_ptr<RawClient>> clients;
        for (int i = 0; i < kClients; ++i) {
            clients.push_back(std::make_unique<RawClient>(daemon.port()));
            QVERIFY(clients.back()->waitConnected());
        }
        QElapsedTimer timer;
        timer.start();
        for (int i = 0; i < kClients; ++i)
            clients[i]->write(get("/r/fixed" + QByteArray::number(i) + "/about.json",
                                  {{"User-Agent", "client-" + QByteArray::number(i)}}));
        for (auto &c : clients) {
            QVERIFY(c->waitForResponses(1, 20'000));
            QCOMPARE(c->responses().first().status, 200);
        }
        const qint64 total = timer.elapsed();

        const QList<Arrival> log = arrivals(fakeLog(reddit.port()));
        QCOMPARE(log.size(), kClients);
        qint64 minGap = std::numeric_limits<qint64>::max(), maxGap = 0;
        qsizetype minAt = 0;
        QStringList gaps;
        for (qsizetype i = 1; i < log.size(); ++i) {
            const qint64 gap = log[i].ms - log[i - 1].ms;
            gaps << QString::number(gap);
            if (gap < minGap)
                minAt = i;
            minGap = std::min(minGap, gap);
            maxGap = std::max(maxGap, gap);
        }
        if (qEnvironmentVariableIsSet("PRAWMP_TEST_GAPS"))
            std::printf("gaps: %s\n", qPrintable(gaps.join(u' ')));
        const double meanGap = double(log.last().ms - log.first().ms) / double(log.size() - 1);
        std::printf("fixed --delay 0.1, %d clients: upstream gaps min %lld ms, mean %.1f ms, max %lld ms; "
                    "all answered in %lld ms\n",
                    kClients, qlonglong(minGap), meanGap, qlonglong(maxGap), qlonglong(total));
        std::fflush(stdout);
        // Arrivals are stamped when the fake upstream gets round to reading
        // them: on a loaded machine one read late shortens the gap after it
        // by as much as it lengthens the gap before. So every two adjacent
        // gaps together must hold two delays, and no single gap may be
        // half one (two requests let go at once would show as ~0 ms).
        qint64 minPair = std::numeric_limits<qint64>::max();
        for (qsizetype i = 2; i < log.size(); ++i)
            minPair = std::min(minPair, log[i].ms - log[i - 2].ms);
        QVERIFY2(minGap >= 50 && minPair >= 190,
                 qPrintable(QStringLiteral("min gap %1 ms, between arrivals %2 and %3; min of two gaps %4 ms; gaps: %5")
                                .arg(minGap).arg(minAt - 1).arg(minAt).arg(minPair).arg(gaps.join(u' '))));
        // Paced, not starved: the slots are used back to back.
        QVERIFY2(meanGap < 130, qPrintable(QStringLiteral("mean gap %1 ms").arg(meanGap)));
        QVERIFY(daemon.stop());
        QVERIFY(reddit.stop());
    }

    // Round-robin per client: a flooder's 20 queued requests do not make
    // the others wait behind all of them.
    void flooderDoesNotStarveOthers()
    {
        ProcessFixture reddit;
        QVERIFY2(reddit.start(prawmp::test::fakeRedditProgram(), {"--port", "0"}), qPrintable(reddit.describe()));
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, {"--upstream", upstreamArg(reddit.port()), "--rate-mode", "fixed", "--delay", "0.1"}),
                 qPrintable(daemon.describe()));
        RawClient flooder(daemon.port());
        QVERIFY(flooder.waitConnected());
        QByteArray flood;
        for (int i = 0; i < 20; ++i)
            flood += get("/r/flood" + QByteArray::number(i) + "/about.json", {{"User-Agent", "flooder"}});
        flooder.write(flood, QList<bool>(20, false));
        // Let the flood be queued first.
        QTRY_VERIFY_WITH_TIMEOUT(fetchJson(daemon.port(), "/_mp/stats")["domains"].toArray().first()
                                         .toObject()["queued"].toInt() >= 15, 2000);
        std::vector<std::unique_ptr<RawClient>> others;
        for (int i = 0; i < 3; ++i) {
            others.push_back(std::make_unique<RawClient>(daemon.port()));
            QVERIFY(others.back()->waitConnected());
            others.back()->write(get("/r/polite" + QByteArray::number(i) + "/about.json",
                                     {{"User-Agent", "polite-" + QByteArray::number(i)}}));
        }
        for (auto &o : others)
            QVERIFY(o->waitForResponses(1, 5000));
        QVERIFY(flooder.waitForResponses(20, 10'000));
        const QList<Arrival> log = arrivals(fakeLog(reddit.port()));
        QCOMPARE(log.size(), 23);
        QList<int> positions;
        for (int i = 0; i < log.size(); ++i)
            if (log[i].target.startsWith("/r/polite"))
                positions.append(i);
        QStringList shown;
        for (int position : std::as_const(positions))
            shown << QString::number(position);
        std::printf("polite clients reached upstream at positions %s of 23\n", qPrintable(shown.join(u',')));
        QCOMPARE(positions.size(), 3);
        QVERIFY2(positions.last() <= 12, "the polite clients waited behind the flood");
        QVERIFY(daemon.stop());
        QVERIFY(reddit.stop());
    }

    void adaptiveModeStaysWithinTheBudget()
    {
        constexpr int kBudget = 20;
        constexpr double kWindow = 4.0;
        constexpr int kWindows = 3;
        constexpr int kClients = 16;
        ProcessFixture reddit;
        QVERIFY2(reddit.start(prawmp::test::fakeRedditProgram(),
                              {"--port", "0", "--budget", QString::number(kBudget), "--window", QString::number(kWindow)}),
                 qPrintable(reddit.describe()));
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, {"--upstream", upstreamArg(reddit.port()), "--rate-mode", "adaptive", "--delay", "0.2"}),
                 qPrintable(daemon.describe()));

        std::vector<std::unique_ptr<RawClient>> clients;
        std::vector<int> sent(kClients, 0);
        for (int i = 0; i < kClients; ++i) {
            clients.push_back(std::make_unique<RawClient>(daemon.port()));
            QVERIFY(clients.back()->waitConnected());
        }
        // Window 0 starts with the load.
        QCOMPARE(fetch(reddit.port(), httpRequest("POST", "/__reset?budget=1")).status, 200);
        QElapsedTimer timer;
        timer.start();
        int next = 0;
        const qint64 runMs = qint64(kWindow * kWindows * 1000) + 150;
        while (timer.elapsed() < runMs) {
            for (int i = 0; i < kClients; ++i) {
                if (clients[i]->responses().size() == sent[i]) {
                    if (sent[i] > 0)
                        QVERIFY2(clients[i]->responses().last().status == 200,
                                 qPrintable(clients[i]->responses().last().describe()));
                    clients[i]->write(get("/r/adaptive/about.json?n=" + QByteArray::number(next++),
                                          {{"User-Agent", "adaptive-" + QByteArray::number(i)}}));
                    ++sent[i];
                }
            }
            QTest::qWait(5);
        }
        // Stop the demand: what is still queued leaves with its clients.
        clients.clear();

        const QJsonArray log = fakeLog(reddit.port());
        const prawmp::test::WindowStats stats = prawmp::test::computeWindowStats(log);
        std::printf("adaptive, budget %d per %.0f s, %d clients, %d requests offered: %s\n", kBudget, kWindow,
                    kClients, next, qPrintable(stats.describe()));
        for (qint64 w = 0; w < kWindows; ++w) {
            const int n = stats.requestsPerWindow.value(w);
            std::printf("  window %lld: %d of %d = %.0f%% utilization\n", qlonglong(w), n, kBudget,
                        100.0 * n / kBudget);
        }
        std::fflush(stdout);
        QVERIFY2(stats.withinBudget(kBudget), qPrintable(stats.describe()));
        QCOMPARE(stats.tooManyRequests, 0);
        QVERIFY2(stats.maxPerWindow <= kBudget, qPrintable(stats.describe()));
        // Requests waited all along: the budget must not lie idle.
        for (qint64 w = 1; w < kWindows; ++w)
            QVERIFY2(stats.requestsPerWindow.value(w) >= kBudget * 3 / 4, qPrintable(stats.describe()));
        const QJsonObject totals = fetchJson(daemon.port(), "/_mp/stats")["totals"].toObject();
        QCOMPARE(totals["upstream429"].toInt(-1), 0);
        QVERIFY(daemon.stop());
        QVERIFY(reddit.stop());
    }

    // The stall of issue 15, through the daemon: 300 per 6 s, 40 clients,
    // answers held and released together, the reset rounded down but never
    // to 0. The limiter before it learned the window sat for 5 s with 282
    // left and 40 queued (it took its own answers for a foreign consumer).
    // Sampled from /_mp/stats, which also says what was learned.
    void queueIsServedWhileBudgetIsLeftWithAnswersAllAtOnce()
    {
        constexpr int kBudget = 300;
        constexpr double kWindow = 6.0;
        constexpr int kClients = 40;
        constexpr double kMaxStallSeconds = 1.0; // the pace interval here is <= 0.25 s; HTTP sampling adds jitter
        ProcessFixture reddit;
        QVERIFY2(reddit.start(prawmp::test::fakeRedditProgram(),
                              {"--port", "0", "--budget", QString::number(kBudget), "--window", QString::number(kWindow),
                               "--hold-ms", "200", "--reset", "down-never-0"}),
                 qPrintable(reddit.describe()));
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, {"--upstream", upstreamArg(reddit.port())}), qPrintable(daemon.describe()));
        std::vector<std::unique_ptr<RawClient>> clients;
        std::vector<int> sent(kClients, 0);
        for (int i = 0; i < kClients; ++i) {
            clients.push_back(std::make_unique<RawClient>(daemon.port()));
            QVERIFY(clients.back()->waitConnected());
        }
        QCOMPARE(fetch(reddit.port(), httpRequest("POST", "/__reset?budget=1")).status, 200);
        QElapsedTimer timer;
        timer.start();
        int next = 0;
        double stuckSince = -1, longest = 0;
        qint64 lastGranted = -1, lastSampleMs = -1000;
        QJsonObject learned, worst;
        while (timer.elapsed() < qint64(3 * kWindow * 1000)) {
            for (int i = 0; i < kClients; ++i) {
                if (clients[i]->responses().size() == sent[i]) {
                    clients[i]->write(get("/r/held/new.json?n=" + QByteArray::number(next++),
                                          {{"User-Agent", "held-" + QByteArray::number(i)}}));
                    ++sent[i];
                }
            }
            if (timer.elapsed() - lastSampleMs >= 50) {
                lastSampleMs = timer.elapsed();
                const double t = timer.elapsed() / 1000.0;
                for (const QJsonValue &v : fetchJson(daemon.port(), "/_mp/stats")["domains"].toArray()) {
                    const QJsonObject d = v.toObject();
                    if (!d["budgetKnown"].toBool())
                        continue;
                    learned = d;
                    const bool shouldGrant = d["remaining"].toDouble() >= 1 && d["queued"].toInt() > 0
                                             && !d["paused"].toBool();
                    const qint64 granted = d["granted"].toInteger();
                    if (shouldGrant && granted == lastGranted) {
                        if (stuckSince < 0)
                            stuckSince = t;
                        if (t - stuckSince > longest) {
                            longest = t - stuckSince;
                            worst = d;
                        }
                    } else {
                        stuckSince = shouldGrant ? t : -1;
                    }
                    lastGranted = granted;
                }
            }
            QTest::qWait(5);
        }
        clients.clear();
        const prawmp::test::WindowStats stats = prawmp::test::computeWindowStats(fakeLog(reddit.port()));
        std::printf("answers all at once, reset down-never-0: %s; longest stall with budget left %.2f s\n",
                    qPrintable(stats.describe()), longest);
        std::fflush(stdout);
        QVERIFY2(longest <= kMaxStallSeconds,
                 qPrintable(QStringLiteral("no grant for %1 s: %2").arg(longest).arg(
                     QString::fromUtf8(QJsonDocument(worst).toJson(QJsonDocument::Compact)))));
        QVERIFY2(stats.withinBudget(kBudget), qPrintable(stats.describe()));
        // What the daemon learned of the window, as an operator sees it.
        const QJsonObject window = learned["window"].toObject();
        QVERIFY2(window["fromAnswers"].toBool() || window["evidence"].toInt() == 0,
                 qPrintable(QJsonDocument(learned).toJson(QJsonDocument::Compact)));
        QVERIFY2(window["seconds"].toDouble() >= kWindow - 1 && window["seconds"].toDouble() <= kWindow,
                 qPrintable(QJsonDocument(learned).toJson(QJsonDocument::Compact)));
        QVERIFY(window["endLo"].toDouble() <= window["endHi"].toDouble());
        QVERIFY(window["endHi"].toDouble() <= 2 * kWindow + 2);
        QVERIFY(daemon.stop());
        QVERIFY(reddit.stop());
    }

    void maxWaitFailsFastWith503()
    {
        FakeReddit reddit;
        QVERIFY(reddit.listen());
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, {"--upstream", upstreamArg(reddit.port()), "--rate-mode", "fixed", "--delay", "3"}),
                 qPrintable(daemon.describe()));
        const quint16 p = daemon.port();
        QCOMPARE(fetch(p, get("/r/mw1/about.json")).status, 200); // the next slot is ~3 s away

        for (const QByteArray &request : {get("/r/mw2/about.json", {{"X-Mp-Max-Wait", "1"}}),
                                          httpRequest("POST", "/api/comment", {{"X-Mp-Max-Wait", "1"}}, "thing_id=t3_a")}) {
            QElapsedTimer timer;
            timer.start();
            const RawResponse r = fetch(p, request);
            const qint64 elapsed = timer.elapsed();
            const QString e = checkJsonError(r, 503, QStringLiteral("queue_timeout"));
            QVERIFY2(e.isEmpty(), qPrintable(request.left(40) + ": " + e));
            QVERIFY2(elapsed < 500, qPrintable(QString::number(elapsed)));
            bool ok = false;
            const int retryAfter = r.header("retry-after").toInt(&ok);
            QVERIFY2(ok && retryAfter >= 2 && retryAfter <= 4, r.header("retry-after").constData());
        }
        QCOMPARE(reddit.targetCount("/r/mw2/about.json"), 0);
        QCOMPARE(reddit.pathCount("/api/comment"), 0);

        // Willing to wait long enough: queued, answered, and the header stays ours.
        QElapsedTimer timer;
        timer.start();
        const RawResponse patient = fetch(p, get("/r/mw3/about.json", {{"X-Mp-Max-Wait", "10"}}));
        QCOMPARE(patient.status, 200);
        QVERIFY2(timer.elapsed() > 1500, qPrintable(QString::number(timer.elapsed())));
        QCOMPARE(reddit.requestCount(), 2);
        QVERIFY(!reddit.log().last().headers.contains("x-mp-max-wait"));
        // A cache hit never waits.
        const RawResponse hit = fetch(p, get("/r/mw1/about.json", {{"X-Mp-Max-Wait", "0"}}));
        QCOMPARE(hit.header("x-cache"), QByteArray("HIT"));
        QVERIFY(daemon.stop());
    }

    // prawcore sleeps until X-Ratelimit-Reset when X-Ratelimit-Remaining is
    // 0. If the daemon announced a later reset than its own queue's next
    // grant, such a client would wake after the window opened and lose the
    // turns the others took meanwhile (seen as one PRAW bot of four getting
    // a fifth of their rounds). So: after "0 remaining, reset R", the next
    // request is never answered sooner than R seconds later.
    void budgetHeadersNeverAnnounceALaterResetThanTheQueueGrants()
    {
        constexpr int kBudget = 4;
        FakeReddit reddit;
        reddit.setBudget(kBudget, 2.0);
        QVERIFY(reddit.listen());
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, {"--upstream", upstreamArg(reddit.port())}), qPrintable(daemon.describe()));

        int checked = 0;
        int lastReset = -1;
        QElapsedTimer sinceExhausted;
        QElapsedTimer run;
        run.start();
        for (int i = 0; i < 40 && checked < 4 && run.elapsed() < 20'000; ++i) {
            const RawResponse r = fetch(daemon.port(), get("/r/reset/about.json?n=" + QByteArray::number(i)));
            QCOMPARE(r.status, 200);
            if (lastReset >= 0) {
                const qint64 waited = sinceExhausted.elapsed();
                QVERIFY2(lastReset * 1000 <= waited + 100,
                         qPrintable(QStringLiteral("announced reset %1 s, next request answered after %2 ms")
                                        .arg(lastReset)
                                        .arg(waited)));
                ++checked;
                lastReset = -1;
            }
            bool okRemaining = false, okReset = false, okUsed = false;
            const double remaining = r.header("x-ratelimit-remaining").toDouble(&okRemaining);
            const int reset = r.header("x-ratelimit-reset").toInt(&okReset);
            const int used = r.header("x-ratelimit-used").toInt(&okUsed);
            if (i == 0 && !okRemaining)
                continue; // the budget is learnt from the first answer
            QVERIFY2(okRemaining && okReset && okUsed, qPrintable(r.describe()));
            QVERIFY2(reset >= 0 && reset < 2, qPrintable(r.describe())); // whole seconds left of a 2 s window
            QCOMPARE(used + int(remaining), kBudget);
            if (remaining == 0) {
                lastReset = reset;
                sinceExhausted.start();
            }
        }
        QVERIFY2(checked >= 2, qPrintable(QString::number(checked)));
        QVERIFY(reddit.windowStats().withinBudget(kBudget));
        QVERIFY(daemon.stop());
    }

    void maxQueueWaitIsTheDefaultBound()
    {
        FakeReddit reddit;
        QVERIFY(reddit.listen());
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, {"--upstream", upstreamArg(reddit.port()), "--rate-mode", "fixed", "--delay", "3",
                                      "--max-queue-wait", "1"}),
                 qPrintable(daemon.describe()));
        QCOMPARE(fetch(daemon.port(), get("/r/mq1/about.json")).status, 200);
        QElapsedTimer timer;
        timer.start();
        const RawResponse r = fetch(daemon.port(), get("/r/mq2/about.json"));
        const QString e = checkJsonError(r, 503, QStringLiteral("queue_timeout"));
        QVERIFY2(e.isEmpty(), qPrintable(e));
        QVERIFY(timer.elapsed() < 500);
        QVERIFY(!r.header("retry-after").isEmpty());
        QCOMPARE(reddit.requestCount(), 1);
        QVERIFY(daemon.stop());
    }
};

QTEST_GUILESS_MAIN(TestDaemonRateLimit)
#include "tst_daemon_ratelimit.moc"
