// serial
// The rate limiter, alone and inside the pipeline against the fake
// upstream: fixed spacing, the adaptive budget, fairness between clients,
// cancellation, 429 pauses and fail-fast waits. Timing-sensitive, so CTest
// runs it alone (the "// serial" line above).
#include "FakeReddit.h"

#include "prawmp/RateLimiter.h"
#include "prawmp/RequestPipeline.h"
#include "prawmp/Upstream.h"

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QPointer>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <functional>
#include <memory>
#include <vector>

using namespace prawmp;
using prawmp::test::FakeReddit;

namespace {

const QString kDomain = QStringLiteral("127.0.0.1");

PipelineConfig fixedConfig(double delaySeconds)
{
    PipelineConfig config;
    config.rate.mode = RateMode::Fixed;
    config.rate.delaySeconds = delaySeconds;
    config.upstreamTimeoutSeconds = 10;
    return config;
}

PipelineConfig adaptiveConfig()
{
    PipelineConfig config;
    config.rate.mode = RateMode::Adaptive;
    config.upstreamTimeoutSeconds = 10;
    return config;
}

Request get(const FakeReddit &fake, const QString &pathAndQuery, const QString &clientId = {})
{
    Request request;
    request.url = fake.url(pathAndQuery);
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

// The fake's log entry for a path+query (nullptr when it never arrived).
const test::RequestRecord *arrival(const QList<test::RequestRecord> &log, const QByteArray &target)
{
    for (const auto &record : log)
        if (record.target == target)
            return &record;
    return nullptr;
}

} // namespace

class TestRateLimiter : public QObject
{
    Q_OBJECT
private slots:
    void initTestCase();

    // The limiter alone.
    void waitingRequestsAreServedRoundRobinPerClient();
    void grantedTicketCannotBeCancelled();
    void waiterWhoseContextIsGoneSpendsNothing();
    void rateHeadersAreReadAsRedditSendsThem_data();
    void rateHeadersAreReadAsRedditSendsThem();
    void answerWithoutHeadersStillCountsAsOne();
    void windowEndIsBoundedUnderEveryRounding();
    void counterFallingBackStartsTheNextWindow();
    void answersOfAnEndedWindowGiveTheirShareBack();

    // Through the pipeline, against the fake upstream.
    void fixedPolicySpacesUpstreamArrivals();
    void adaptivePolicyNeverExceedsBudget();
    void fairnessFlooderDoesNotStarveOthers();
    void cancelledQueuedRequestNeverReachesUpstream_data();
    void cancelledQueuedRequestNeverReachesUpstream();
    void requestAbandonedBetweenGrantAndSendReleasesTheGrant_data();
    void requestAbandonedBetweenGrantAndSendReleasesTheGrant();
    void tooManyRequestsPausesDomainUntilRetryAfter_data();
    void tooManyRequestsPausesDomainUntilRetryAfter();
    void maxWaitFailsFastWhenTheQueueIsLonger_data();
    void maxWaitFailsFastWhenTheQueueIsLonger();
    void maxWaitAlsoBoundsAWaitThatGrowsLater();
};

void TestRateLimiter::initTestCase()
{
    // One line per dropped request of a 50-request flood drowns the results.
    QLoggingCategory::setFilterRules(QStringLiteral("prawmp.*.debug=false"));
}

void TestRateLimiter::waitingRequestsAreServedRoundRobinPerClient()
{
    RateLimiter limiter({RateMode::Fixed, 0.02});
    QStringList order;
    const auto ask = [&](const QString &client, const QString &name) {
        auto ticket = std::make_shared<RateLimiter::Ticket>();
        *ticket = limiter.acquire("example.com", client, this, [&, name, ticket] {
            order << name;
            limiter.complete(*ticket, 200, {});
        });
    };
    ask("a", "a1"); // leaves at once
    ask("a", "a2");
    ask("a", "a3");
    ask("a", "a4");
    ask("b", "b1");
    ask("c", "c1");
    ask("b", "b2");
    QCOMPARE(limiter.state("example.com").queued, 6);
    QTRY_COMPARE_WITH_TIMEOUT(order.size(), 7, 5000);
    QCOMPARE(order, (QStringList{"a1", "a2", "b1", "c1", "a3", "b2", "a4"}));
    const DomainState state = limiter.state("example.com");
    QCOMPARE(state.granted, 7u);
    QCOMPARE(state.queued, 0);
    QCOMPARE(state.inFlight, 0);
}

void TestRateLimiter::grantedTicketCannotBeCancelled()
{
    RateLimiter limiter({RateMode::Fixed, 10.0});
    int grants = 0;
    const auto first = limiter.acquire("example.com", "a", this, [&] { ++grants; });
    const auto second = limiter.acquire("example.com", "a", this, [&] { ++grants; });
    QVERIFY(!limiter.cancel(first)); // already granted: the budget is spent
    QVERIFY(limiter.cancel(second));
    QVERIFY(!limiter.cancel(second));
    QCOMPARE(limiter.state("example.com").queued, 0);
    QTRY_COMPARE(grants, 1);
    limiter.complete(first, 200, {});
    QCOMPARE(limiter.state("example.com").inFlight, 0);
    QCOMPARE(limiter.state("example.com").granted, 1u);
}

void TestRateLimiter::waiterWhoseContextIsGoneSpendsNothing()
{
    RateLimiter limiter({RateMode::Fixed, 0.05});
    int grants = 0;
    const auto first = limiter.acquire("example.com", "a", this, [&] { ++grants; });
    auto *context = new QObject;
    limiter.acquire("example.com", "b", context, [&] { ++grants; });
    delete context;
    const auto third = limiter.acquire("example.com", "c", this, [&] { ++grants; });
    QTRY_COMPARE_WITH_TIMEOUT(grants, 2, 5000);
    limiter.complete(first, 200, {});
    limiter.complete(third, 200, {});
    const DomainState state = limiter.state("example.com");
    QCOMPARE(state.granted, 2u);
    QCOMPARE(state.inFlight, 0);
    QCOMPARE(state.queued, 0);
}

void TestRateLimiter::rateHeadersAreReadAsRedditSendsThem_data()
{
    // Header lines "Name: value", one per line; expected readings (-1: absent).
    QTest::addColumn<QByteArray>("lines");
    QTest::addColumn<double>("used");
    QTest::addColumn<double>("remaining");
    QTest::addColumn<double>("reset");
    QTest::addColumn<double>("retryAfter");
    QTest::newRow("integers") << QByteArray("X-Ratelimit-Used: 4\nX-Ratelimit-Remaining: 96\nX-Ratelimit-Reset: 300")
                              << 4.0 << 96.0 << 300.0 << -1.0;
    QTest::newRow("remaining as float") << QByteArray("x-ratelimit-used: 1\nx-ratelimit-remaining: 599.0\nx-ratelimit-reset: 59")
                                        << 1.0 << 599.0 << 59.0 << -1.0;
    QTest::newRow("comma-joined: most used, least remaining, latest reset")
        << QByteArray("X-Ratelimit-Used: 991, 98\nX-Ratelimit-Remaining: 9.0, 902.0\nX-Ratelimit-Reset: 12, 400")
        << 991.0 << 9.0 << 400.0 << -1.0;
    QTest::newRow("repeated headers: the same")
        << QByteArray("X-Ratelimit-Used: 98\nX-Ratelimit-Used: 991\nX-Ratelimit-Remaining: 902\n"
                      "X-Ratelimit-Remaining: 9\nX-Ratelimit-Reset: 400\nX-Ratelimit-Reset: 12")
        << 991.0 << 9.0 << 400.0 << -1.0;
    QTest::newRow("retry-after, repeated") << QByteArray("Retry-After: 3\nRetry-After: 7, 5")
                                           << -1.0 << -1.0 << -1.0 << 7.0;
    QTest::newRow("missing") << QByteArray("Content-Type: application/json") << -1.0 << -1.0 << -1.0 << -1.0;
    QTest::newRow("garbage is absent, numbers beside it count")
        << QByteArray("X-Ratelimit-Used: lots\nX-Ratelimit-Remaining: nan, 5\nX-Ratelimit-Reset: ")
        << -1.0 << 5.0 << -1.0 << -1.0;
}

void TestRateLimiter::rateHeadersAreReadAsRedditSendsThem()
{
    QFETCH(QByteArray, lines);
    QFETCH(double, used);
    QFETCH(double, remaining);
    QFETCH(double, reset);
    QFETCH(double, retryAfter);
    HttpHeaders headers;
    for (const QByteArray &line : lines.split('\n')) {
        const qsizetype colon = line.indexOf(':');
        headers.add(line.left(colon), line.mid(colon + 1).trimmed());
    }
    const RateHeaders h = RateHeaders::parse(headers);
    QCOMPARE(h.hasUsed, used >= 0);
    QCOMPARE(h.hasRemaining, remaining >= 0);
    QCOMPARE(h.hasReset, reset >= 0);
    QCOMPARE(h.hasRetryAfter, retryAfter >= 0);
    if (used >= 0)
        QCOMPARE(h.used, used);
    if (remaining >= 0)
        QCOMPARE(h.remaining, remaining);
    if (reset >= 0)
        QCOMPARE(h.reset, reset);
    if (retryAfter >= 0)
        QCOMPARE(h.retryAfter, retryAfter);
}

void TestRateLimiter::answerWithoutHeadersStillCountsAsOne()
{
    RateLimiter limiter; // adaptive
    const auto grantOne = [&] {
        const RateLimiter::Ticket ticket = limiter.acquire("example.com", "c", this, [] {});
        return ticket;
    };
    const RateLimiter::Ticket first = grantOne(); // the first request leaves at once
    QCOMPARE(limiter.state("example.com").inFlight, 1);
    limiter.complete(first, 200, {{"X-Ratelimit-Used", "1"}, {"X-Ratelimit-Remaining", "9.0"},
                                  {"X-Ratelimit-Reset", "100"}});
    DomainState s = limiter.state("example.com");
    QVERIFY(s.budgetKnown);
    QCOMPARE(s.budget, 10);
    QCOMPARE(s.remaining, 9.0);
    const RateLimiter::Ticket second = grantOne(); // within the burst: at once
    QCOMPARE(limiter.state("example.com").inFlight, 1);
    QCOMPARE(limiter.state("example.com").remaining, 8.0);
    limiter.complete(second, 200, {}); // no X-Ratelimit-* at all
    s = limiter.state("example.com");
    QCOMPARE(s.inFlight, 0);
    QCOMPARE(s.remaining, 8.0);
}

// Reset 100 means an end 99..100 s away (rounded up), 100..101 s (rounded
// down, also never to 0): the limiter keeps the whole interval.
void TestRateLimiter::windowEndIsBoundedUnderEveryRounding()
{
    RateLimiter limiter;
    const RateLimiter::Ticket first = limiter.acquire("example.com", "c", this, [] {});
    limiter.complete(first, 200, {{"X-Ratelimit-Used", "1"}, {"X-Ratelimit-Remaining", "9"},
                                  {"X-Ratelimit-Reset", "100"}});
    const DomainState s = limiter.state("example.com");
    QVERIFY(s.windowEndFromAnswers);
    QCOMPARE(s.windowEvidence, 1);
    QCOMPARE(s.windowSeconds, 100.0);
    QVERIFY2(s.secondsToWindowEndLo > 98.5 && s.secondsToWindowEndLo <= 99.0, qPrintable(QString::number(s.secondsToWindowEndLo)));
    QVERIFY2(s.secondsToWindowEndHi > 100.5 && s.secondsToWindowEndHi <= 101.0, qPrintable(QString::number(s.secondsToWindowEndHi)));
    QCOMPARE(s.secondsToReset, s.secondsToWindowEndHi); // the budget renews at the late bound
}

// An answer that counts less than one of the same window seen before its
// request left was counted in a new window: the budget renews now, not at
// the late bound 100 s away.
void TestRateLimiter::counterFallingBackStartsTheNextWindow()
{
    RateLimiter limiter({RateMode::Adaptive, 2.0, 1.0}); // the whole budget may go at once
    const auto take = [&] { return limiter.acquire("example.com", "c", this, [] {}); };
    const auto answer = [](int used, int remaining) {
        return HttpHeaders{{"X-Ratelimit-Used", QByteArray::number(used)},
                           {"X-Ratelimit-Remaining", QByteArray::number(remaining) + ".0"},
                           {"X-Ratelimit-Reset", "100"}};
    };
    limiter.complete(take(), 200, answer(1, 9));
    limiter.complete(take(), 200, answer(2, 8));
    QList<RateLimiter::Ticket> tickets;
    for (int i = 0; i < 8; ++i)
        tickets << take();
    DomainState s = limiter.state("example.com");
    QCOMPARE(s.inFlight, 8);
    QCOMPARE(s.remaining, 0.0);
    const RateLimiter::Ticket waiting = take();
    QCOMPARE(limiter.state("example.com").queued, 1); // the window is spent
    // The upstream counted the next one as the first of a new window.
    limiter.complete(tickets.takeFirst(), 200, answer(1, 9));
    s = limiter.state("example.com");
    QCOMPARE(s.counterResets, 1u);
    QVERIFY(s.windowEndFromAnswers);
    // 9 announced, minus the 7 still in flight (they may count here too),
    // minus the waiting one, granted at once.
    QCOMPARE(s.queued, 0);
    QCOMPARE(s.inFlight, 8);
    QCOMPARE(s.remaining, 1.0);
    QVERIFY(s.secondsToWindowEndLo > 98.5);
    limiter.cancel(waiting);
}

// A new window began while the whole of the last one was in flight: its
// first answer's view subtracts the others (they might count here too).
// Each answer that then shows it was counted in the ended window gives its
// share back at once, not only when a newer view of this window comes.
void TestRateLimiter::answersOfAnEndedWindowGiveTheirShareBack()
{
    RateLimiter limiter({RateMode::Adaptive, 2.0, 1.0}); // the whole budget may go at once
    const auto take = [&] { return limiter.acquire("example.com", "c", this, [] {}); };
    const auto answer = [](int used, int remaining, int reset) {
        return HttpHeaders{{"X-Ratelimit-Used", QByteArray::number(used)},
                           {"X-Ratelimit-Remaining", QByteArray::number(remaining) + ".0"},
                           {"X-Ratelimit-Reset", QByteArray::number(reset)}};
    };
    limiter.complete(take(), 200, answer(1, 9, 1)); // budget 10, the window ends within 2 s
    QList<RateLimiter::Ticket> old;
    for (int i = 0; i < 9; ++i)
        old << take();
    QCOMPARE(limiter.state("example.com").remaining, 0.0);
    const RateLimiter::Ticket first = take();
    const RateLimiter::Ticket second = take();
    QCOMPARE(limiter.state("example.com").queued, 2);

    // One of the nine was counted first in a new 100 s window; the view
    // leaves 9 - 8 in flight = 1, which the first waiter takes.
    limiter.complete(old.takeFirst(), 200, answer(1, 9, 100));
    DomainState s = limiter.state("example.com");
    QVERIFY(s.windowEndFromAnswers);
    QVERIFY(s.secondsToWindowEndLo > 98);
    QCOMPARE(s.remaining, 0.0);
    QCOMPARE(s.queued, 1);

    // The other eight were counted in the ended window (a reset of 1 s).
    for (int i = 0; i < 8; ++i)
        limiter.complete(old[i], 200, answer(2 + i, 8 - i, 1));
    s = limiter.state("example.com");
    // The new window counted 1 and has the first waiter in flight: 8 left,
    // paced over its 99 s (not idle until its end, as with 0 left and
    // nothing of ours in flight had the first waiter's answer been lost).
    QCOMPARE(s.remaining, 8.0);
    QCOMPARE(s.inFlight, 1);
    QCOMPARE(s.queued, 1);
    // A new request waits for the queued one's slot and its own: two
    // intervals of 99 s / 8, not the ~100 s to the window's end.
    QVERIFY(limiter.expectedWaitMs("example.com", "c") < 2 * 99 * 1000 / 8 + 1000);
    limiter.fail(first);
    s = limiter.state("example.com");
    QCOMPARE(s.remaining, 8.0);
    limiter.cancel(second);
}

void TestRateLimiter::fixedPolicySpacesUpstreamArrivals()
{
    // The fake answers on its own thread, so an arrival is stamped when it
    // comes in, not when this thread's event loop gets round to it.
    QThread fakeThread;
    fakeThread.start();
    auto fakeGuard = qScopeGuard([&] {
        fakeThread.quit();
        fakeThread.wait();
    });
    auto *fake = new FakeReddit; // unlimited budget
    fake->moveToThread(&fakeThread);
    connect(&fakeThread, &QThread::finished, fake, &QObject::deleteLater);
    bool listening = false;
    QMetaObject::invokeMethod(fake, [&] { listening = fake->listen(); }, Qt::BlockingQueuedConnection);
    QVERIFY(listening);

    RequestPipeline pipeline(fixedConfig(0.2));
    constexpr int kRequesters = 4;
    constexpr int kEach = 5;
    std::vector<std::unique_ptr<Reply>> replies;
    QList<int> statuses;
    std::function<void(int, int)> ask = [&](int requester, int n) {
        const Request request = get(*fake, QStringLiteral("/r/fixed%1/hot.json?n=%2").arg(requester).arg(n),
                                    QStringLiteral("requester-%1").arg(requester));
        Reply *reply = tracked(pipeline.submit(request));
        replies.emplace_back(reply);
        connect(reply, &Reply::finished, this, [&, reply, requester, n] {
            statuses << (reply->error() ? -1 : reply->response().status);
            if (n + 1 < kEach)
                ask(requester, n + 1);
        });
    };
    for (int r = 0; r < kRequesters; ++r)
        ask(r, 0);
    QTRY_COMPARE_WITH_TIMEOUT(statuses.size(), kRequesters * kEach, 15000);
    QCOMPARE(statuses, QList<int>(kRequesters * kEach, 200));

    QList<test::RequestRecord> log;
    QMetaObject::invokeMethod(fake, [&] { log = fake->log(); }, Qt::BlockingQueuedConnection);
    QCOMPARE(log.size(), kRequesters * kEach);
    qint64 smallest = std::numeric_limits<qint64>::max();
    for (qsizetype i = 1; i < log.size(); ++i) {
        const qint64 gap = log[i].arrivalMs - log[i - 1].arrivalMs;
        smallest = std::min(smallest, gap);
        QVERIFY2(gap >= 200 - 5, qPrintable(QStringLiteral("gap %1 ms between arrivals %2 and %3")
                                                .arg(gap).arg(i - 1).arg(i)));
    }
    qInfo("smallest gap between upstream arrivals: %lld ms", smallest);
}

void TestRateLimiter::adaptivePolicyNeverExceedsBudget()
{
    constexpr int kBudget = 20;
    constexpr double kWindow = 4.0;
    constexpr int kRequesters = 8;
    constexpr int kWindows = 3;

    FakeReddit fake;
    QVERIFY2(fake.listen(), qPrintable(fake.errorString()));
    RequestPipeline pipeline(adaptiveConfig());
    fake.setBudget(kBudget, kWindow); // window 0 starts now

    bool running = true;
    int serial = 0;
    QList<QPointer<Reply>> outstanding;
    QList<int> statuses;
    std::function<void(int)> ask = [&](int requester) {
        // Distinct URLs: every request has to go upstream.
        const Request request = get(fake, QStringLiteral("/r/adaptive/hot.json?n=%1").arg(++serial),
                                    QStringLiteral("requester-%1").arg(requester));
        Reply *reply = pipeline.submit(request);
        outstanding << reply;
        connect(reply, &Reply::finished, this, [&, reply, requester] {
            reply->deleteLater();
            if (reply->error().kind == Error::Kind::Canceled)
                return;
            statuses << (reply->error() ? -1 : reply->response().status);
            if (running)
                ask(requester);
        });
    };
    for (int r = 0; r < kRequesters; ++r)
        ask(r);

    QTRY_VERIFY_WITH_TIMEOUT(fake.currentWindow() >= kWindows, int(kWindow * 1000 * (kWindows + 2)));
    running = false;
    for (const QPointer<Reply> &reply : outstanding)
        if (reply && !reply->isFinished())
            reply->abort();
    QTRY_COMPARE_WITH_TIMEOUT(pipeline.upstream().inFlight(), 0, 5000);
    QTRY_COMPARE(pipeline.limiter().state(kDomain).inFlight, 0);

    const test::WindowStats stats = fake.windowStats();
    for (auto it = stats.requestsPerWindow.cbegin(); it != stats.requestsPerWindow.cend(); ++it) {
        qInfo("window %lld: %d requests of %d (%.0f%% utilization)%s", it.key(), it.value(), kBudget,
              100.0 * it.value() / kBudget, it.key() >= kWindows ? " [after the run]" : "");
    }
    QVERIFY2(stats.withinBudget(kBudget), qPrintable(stats.describe()));
    QCOMPARE(stats.tooManyRequests, 0);
    QVERIFY2(stats.maxPerWindow <= kBudget, qPrintable(stats.describe()));
    for (int w = 0; w < kWindows; ++w)
        QVERIFY2(stats.requestsPerWindow.value(w) > 0, qPrintable(stats.describe()));
    QVERIFY(!statuses.isEmpty());
    QCOMPARE(statuses, QList<int>(statuses.size(), 200));

    const DomainState state = pipeline.limiter().state(kDomain);
    QVERIFY(state.budgetKnown);
    QCOMPARE(state.budget, kBudget);
    QCOMPARE(state.rejected429, 0u);
}

void TestRateLimiter::fairnessFlooderDoesNotStarveOthers()
{
    constexpr int kFlood = 50;
    constexpr int kAsks = 5; // per polite requester
    constexpr int kMaxSlots = 4;

    FakeReddit fake;
    QVERIFY2(fake.listen(), qPrintable(fake.errorString()));
    RequestPipeline pipeline(fixedConfig(0.05));

    std::vector<std::unique_ptr<Reply>> flood;
    for (int i = 0; i < kFlood; ++i)
        flood.emplace_back(pipeline.submit(get(fake, QStringLiteral("/r/flood/hot.json?n=%1").arg(i),
                                                  QStringLiteral("flooder"))));

    // A grant is one slot. The fake's record ids count arrivals, which
    // come in grant order (one request at a time, 50 ms apart), so a
    // request's slot after its ask is its id minus the grants made before.
    struct Polite
    {
        QString client;
        int asked = 0;
        quint64 grantsBeforeAsk = 0;
        QByteArray target;
        std::unique_ptr<Reply> reply;
        QList<qint64> servedAfter;
    };
    std::vector<Polite> polite(3);
    polite[0].client = "alice";
    polite[1].client = "bob";
    polite[2].client = "carol";
    int floodLeftAtLastServe = -1;

    const auto onArrival = [&](const test::RequestRecord &record) {
        for (Polite &p : polite) {
            if (record.target == p.target) {
                p.servedAfter << qint64(record.id) - qint64(p.grantsBeforeAsk);
                floodLeftAtLastServe = pipeline.limiter().state(kDomain).queued;
            }
        }
    };
    connect(&fake, &FakeReddit::requestReceived, this, onArrival);

    std::function<void(Polite &)> ask = [&](Polite &p) {
        ++p.asked;
        p.target = QStringLiteral("/r/%1/hot.json?n=%2").arg(p.client).arg(p.asked).toUtf8();
        // Before submit: submit itself may grant at once.
        p.grantsBeforeAsk = pipeline.limiter().state(kDomain).granted;
        p.reply.reset(tracked(pipeline.submit(get(fake, QString::fromUtf8(p.target), p.client))));
        connect(p.reply.get(), &Reply::finished, this, [&] {
            if (p.asked < kAsks)
                ask(p);
        });
    };
    for (Polite &p : polite)
        ask(p);

    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(polite.cbegin(), polite.cend(), [](const Polite &p) {
                                 return p.servedAfter.size() == kAsks;
                             }), 15000);
    for (const Polite &p : polite) {
        qInfo("%s served after %s slots", qPrintable(p.client),
              qPrintable([&] { QStringList s; for (qint64 n : p.servedAfter) s << QString::number(n); return s.join(','); }()));
        for (qint64 slot : p.servedAfter)
            QVERIFY2(slot >= 1 && slot <= kMaxSlots,
                     qPrintable(QStringLiteral("%1 waited %2 slots").arg(p.client).arg(slot)));
    }
    // The flooder still had a queue the whole time: the test proved something.
    QVERIFY2(floodLeftAtLastServe > 0, qPrintable(QString::number(floodLeftAtLastServe)));

    // Leaving drops the flooder's queue without spending budget.
    const quint64 grantsBefore = pipeline.limiter().state(kDomain).granted;
    flood.clear();
    QCOMPARE(pipeline.limiter().state(kDomain).queued, 0);
    QTRY_COMPARE(pipeline.upstream().inFlight(), 0);
    QVERIFY(pipeline.limiter().state(kDomain).granted <= grantsBefore);
    QCOMPARE(quint64(fake.requestCount()), pipeline.limiter().state(kDomain).granted);
}

void TestRateLimiter::cancelledQueuedRequestNeverReachesUpstream_data()
{
    QTest::addColumn<bool>("byDelete");
    QTest::newRow("abort") << false;
    QTest::newRow("delete") << true;
}

void TestRateLimiter::cancelledQueuedRequestNeverReachesUpstream()
{
    QFETCH(bool, byDelete);
    FakeReddit fake;
    QVERIFY2(fake.listen(), qPrintable(fake.errorString()));
    RequestPipeline pipeline(fixedConfig(1.0));

    std::unique_ptr<Reply> first(tracked(pipeline.submit(get(fake, "/r/first/hot.json", "a"))));
    QTRY_COMPARE(fake.requestCount(), 1);
    std::unique_ptr<Reply> second(tracked(pipeline.submit(get(fake, "/r/second/hot.json", "b"))));
    QCOMPARE(pipeline.limiter().state(kDomain).queued, 1);

    if (byDelete) {
        second.reset();
    } else {
        second->abort();
        QTRY_COMPARE(finishedCount(second.get()), 1);
        QCOMPARE(second->error().kind, Error::Kind::Canceled);
    }
    QCOMPARE(pipeline.limiter().state(kDomain).queued, 0);

    // The same client asks again: had the cancelled request stayed, it
    // would have gone first.
    std::unique_ptr<Reply> third(tracked(pipeline.submit(get(fake, "/r/third/hot.json", "b"))));
    QTRY_COMPARE_WITH_TIMEOUT(finishedCount(third.get()), 1, 5000);
    QCOMPARE(third->response().status, 200);

    const auto log = fake.log();
    QCOMPARE(log.size(), 2);
    QCOMPARE(log[0].target, QByteArray("/r/first/hot.json"));
    QCOMPARE(log[1].target, QByteArray("/r/third/hot.json"));
    QCOMPARE(fake.pathCount("/r/second/hot.json"), 0);
    // It spent no slot either.
    QCOMPARE(pipeline.limiter().state(kDomain).granted, 2u);
    QCOMPARE(pipeline.counters().upstreamRequests, 2u);
    if (!byDelete)
        QCOMPARE(finishedCount(second.get()), 1);
}

void TestRateLimiter::requestAbandonedBetweenGrantAndSendReleasesTheGrant_data()
{
    QTest::addColumn<bool>("adaptive");
    QTest::addColumn<bool>("byDelete");
    QTest::newRow("adaptive, abort") << true << false;
    QTest::newRow("adaptive, delete") << true << true;
    QTest::newRow("fixed, abort") << false << false;
    QTest::newRow("fixed, delete") << false << true;
}

void TestRateLimiter::requestAbandonedBetweenGrantAndSendReleasesTheGrant()
{
    // An idle domain grants inside submit(); the send waits for the event
    // loop. A requester leaving in between (a daemon client hanging up)
    // must neither leave the grant open (the adaptive policy sends one
    // request at a time until it knows the budget: an open grant stalls
    // the domain for good) nor let that stale grant send another request.
    QFETCH(bool, adaptive);
    QFETCH(bool, byDelete);
    constexpr double kDelay = 0.5;
    FakeReddit fake;
    QVERIFY2(fake.listen(), qPrintable(fake.errorString()));
    RequestPipeline pipeline(adaptive ? adaptiveConfig() : fixedConfig(kDelay));

    QElapsedTimer sinceGrant;
    sinceGrant.start();
    std::unique_ptr<Reply> gone(tracked(pipeline.submit(get(fake, "/r/gone/hot.json", "a"))));
    QCOMPARE(pipeline.limiter().state(kDomain).inFlight, 1); // granted, not sent yet
    if (byDelete)
        gone.reset();
    else
        gone->abort();
    QCOMPARE(pipeline.limiter().state(kDomain).inFlight, 0);
    QCOMPARE(pipeline.limiter().state(kDomain).queued, 0);

    qint64 nextArrivalMs = -1;
    connect(&fake, &FakeReddit::requestReceived, this, [&](const test::RequestRecord &record) {
        if (record.path == "/r/next/hot.json")
            nextArrivalMs = sinceGrant.elapsed();
    });
    std::unique_ptr<Reply> next(tracked(pipeline.submit(get(fake, "/r/next/hot.json", "b"))));
    QTRY_COMPARE_WITH_TIMEOUT(finishedCount(next.get()), 1, 5000);
    QVERIFY2(!next->error(), qPrintable(next->error().message));
    QCOMPARE(next->response().status, 200);
    if (!adaptive) {
        // It had to wait for its own grant, one delay after the abandoned one.
        QVERIFY2(nextArrivalMs >= qint64(kDelay * 1000) - 5, qPrintable(QString::number(nextArrivalMs)));
    }
    QCOMPARE(fake.pathCount("/r/gone/hot.json"), 0);
    QCOMPARE(fake.requestCount(), 1);
    const DomainState state = pipeline.limiter().state(kDomain);
    QCOMPARE(state.inFlight, 0);
    QCOMPARE(state.queued, 0);
    QCOMPARE(pipeline.counters().upstreamRequests, 1u);
    if (!byDelete) {
        QCOMPARE(finishedCount(gone.get()), 1);
        QCOMPARE(gone->error().kind, Error::Kind::Canceled);
    }
}

void TestRateLimiter::tooManyRequestsPausesDomainUntilRetryAfter_data()
{
    QTest::addColumn<bool>("adaptive");
    // Fixed pace ignores the budget, so our own requests overshoot it.
    QTest::newRow("fixed, own overshoot") << false;
    // Adaptive, but another program already spent the window's budget.
    QTest::newRow("adaptive, budget spent elsewhere") << true;
}

void TestRateLimiter::tooManyRequestsPausesDomainUntilRetryAfter()
{
    QFETCH(bool, adaptive);
    constexpr int kBudget = 2;
    FakeReddit fake;
    QVERIFY2(fake.listen(), qPrintable(fake.errorString()));
    fake.setBudget(kBudget, 3.0);
    RequestPipeline pipeline(adaptive ? adaptiveConfig() : fixedConfig(0.05));
    QSignalSpy paused(&pipeline.limiter(), &RateLimiter::domainPaused);

    std::vector<std::unique_ptr<Reply>> replies;
    if (adaptive) {
        RequestPipeline elsewhere(fixedConfig(0));
        for (int i = 0; i < kBudget; ++i) {
            std::unique_ptr<Reply> r(tracked(elsewhere.submit(get(fake, QStringLiteral("/r/other/hot.json?n=%1").arg(i)))));
            QTRY_COMPARE(finishedCount(r.get()), 1);
            QCOMPARE(r->response().status, 200);
        }
        replies.emplace_back(tracked(pipeline.submit(get(fake, "/r/ours/hot.json?n=0"))));
    } else {
        for (int i = 0; i <= kBudget; ++i)
            replies.emplace_back(tracked(pipeline.submit(get(fake, QStringLiteral("/r/ours/hot.json?n=%1").arg(i)))));
    }
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(replies.cbegin(), replies.cend(),
                                         [](const auto &r) { return finishedCount(r.get()) == 1; }),
                             5000);
    Reply *rejected = replies.back().get();
    QCOMPARE(rejected->response().status, 429); // passed through
    bool ok = false;
    const int retryAfter = rejected->response().headers.value("Retry-After").toInt(&ok);
    QVERIFY(ok && retryAfter >= 1);

    DomainState state = pipeline.limiter().state(kDomain);
    QVERIFY(state.paused);
    QCOMPARE(state.rejected429, 1u);
    QCOMPARE(paused.count(), 1);
    QCOMPARE(paused.at(0).at(0).toString(), kDomain);
    QVERIFY(paused.at(0).at(1).toDouble() >= retryAfter);

    // Asked during the pause: waits for it.
    std::unique_ptr<Reply> after(tracked(pipeline.submit(get(fake, "/r/ours/hot.json?after=1"))));
    QCOMPARE(pipeline.limiter().state(kDomain).queued, 1);
    QTRY_COMPARE_WITH_TIMEOUT(finishedCount(after.get()), 1, (retryAfter + 5) * 1000);
    QCOMPARE(after->response().status, 200);
    QVERIFY(!pipeline.limiter().state(kDomain).paused);

    const auto log = fake.log();
    const auto *rejectedArrival = arrival(log, adaptive ? "/r/ours/hot.json?n=0" : "/r/ours/hot.json?n=2");
    const auto *afterArrival = arrival(log, "/r/ours/hot.json?after=1");
    QVERIFY(rejectedArrival && afterArrival);
    QVERIFY(rejectedArrival->rejected);
    const qint64 gap = afterArrival->arrivalMs - rejectedArrival->arrivalMs;
    qInfo("Retry-After %d s; next request arrived %lld ms after the 429", retryAfter, gap);
    QVERIFY2(gap >= retryAfter * 1000, qPrintable(QString::number(gap)));
    QCOMPARE(fake.tooManyRequestsCount(), 1);
}

void TestRateLimiter::maxWaitFailsFastWhenTheQueueIsLonger_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::newRow("GET") << QByteArray("GET");
    QTest::newRow("POST") << QByteArray("POST");
}

void TestRateLimiter::maxWaitFailsFastWhenTheQueueIsLonger()
{
    QFETCH(QByteArray, method);
    FakeReddit fake;
    QVERIFY2(fake.listen(), qPrintable(fake.errorString()));
    RequestPipeline pipeline(fixedConfig(1.0));

    std::unique_ptr<Reply> first(tracked(pipeline.submit(get(fake, "/r/first/hot.json", "a"))));
    std::unique_ptr<Reply> second(tracked(pipeline.submit(get(fake, "/r/second/hot.json", "b"))));
    QCOMPARE(pipeline.limiter().state(kDomain).queued, 1); // about a second to go, then one more

    Request impatient = get(fake, "/r/impatient/hot.json", "c");
    impatient.method = method;
    impatient.maxWaitSeconds = 0.5;
    std::unique_ptr<Reply> refused(tracked(pipeline.submit(impatient)));
    // Decided inside submit(): at once, never queued.
    QVERIFY(refused->isFinished());
    QCOMPARE(refused->error().kind, Error::Kind::QueueTimeout);
    QVERIFY2(refused->error().retryAfterSeconds > 0, qPrintable(refused->error().message));
    QCOMPARE(refused->error().httpStatus(), 503);
    QCOMPARE(pipeline.limiter().state(kDomain).queued, 1);
    QTRY_COMPARE_WITH_TIMEOUT(finishedCount(refused.get()), 1, 250);
    QCOMPARE(pipeline.counters().queueRejections, 1u);

    // A patient one with the same queue ahead is served.
    Request patient = impatient;
    patient.url = fake.url("/r/patient/hot.json");
    patient.maxWaitSeconds = 10;
    std::unique_ptr<Reply> served(tracked(pipeline.submit(patient)));
    QVERIFY(!served->isFinished());
    QTRY_COMPARE_WITH_TIMEOUT(finishedCount(served.get()), 1, 8000);
    QVERIFY2(!served->error(), qPrintable(served->error().message));
    QVERIFY(served->waitMs() > 500);

    QCOMPARE(fake.pathCount("/r/impatient/hot.json"), 0);
    QCOMPARE(fake.requestCount(), 3);
}

void TestRateLimiter::maxWaitAlsoBoundsAWaitThatGrowsLater()
{
    // Admitted with a short expected wait, then a 429 pauses the domain for
    // the rest of the window: the request fails when its bound is up, with
    // a 503 and Retry-After, rather than waiting out the pause.
    FakeReddit fake;
    QVERIFY2(fake.listen(), qPrintable(fake.errorString()));
    fake.setBudget(1, 6.0);
    RequestPipeline pipeline(fixedConfig(0.2));

    std::unique_ptr<Reply> first(tracked(pipeline.submit(get(fake, "/r/first/hot.json", "a"))));
    std::unique_ptr<Reply> overBudget(tracked(pipeline.submit(get(fake, "/r/second/hot.json", "b"))));
    Request impatient = get(fake, "/r/impatient/hot.json", "c");
    impatient.maxWaitSeconds = 1.0;
    QElapsedTimer clock;
    clock.start();
    std::unique_ptr<Reply> bounded(tracked(pipeline.submit(impatient)));
    QVERIFY(!bounded->isFinished()); // about 0.4 s expected: admitted

    QTRY_COMPARE_WITH_TIMEOUT(finishedCount(overBudget.get()), 1, 3000);
    QCOMPARE(overBudget->response().status, 429);
    QVERIFY(pipeline.limiter().state(kDomain).paused);

    QTRY_COMPARE_WITH_TIMEOUT(finishedCount(bounded.get()), 1, 3000);
    const qint64 waited = clock.elapsed();
    QVERIFY2(waited >= 1000 && waited < 2500, qPrintable(QString::number(waited)));
    QCOMPARE(bounded->error().kind, Error::Kind::QueueTimeout);
    QCOMPARE(bounded->error().httpStatus(), 503);
    QVERIFY2(bounded->error().retryAfterSeconds >= 1, qPrintable(bounded->error().message));
    QCOMPARE(pipeline.counters().queueRejections, 1u);
    QCOMPARE(pipeline.limiter().state(kDomain).queued, 0);
    QTest::qWait(300);
    QCOMPARE(fake.pathCount("/r/impatient/hot.json"), 0);
}

QTEST_GUILESS_MAIN(TestRateLimiter)
#include "tst_ratelimiter.moc"
