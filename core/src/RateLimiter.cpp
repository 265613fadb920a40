#include "prawmp/RateLimiter.h"

#include "prawmp/BudgetAuthority.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QHash>
#include <QLoggingCategory>
#include <QMutex>
#include <QPointer>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <cmath>
#include <deque>
#include <vector>
#include <limits>

Q_LOGGING_CATEGORY(lcLimiter, "prawmp.limiter")

namespace prawmp {

namespace {

constexpr double kNever = std::numeric_limits<double>::infinity();
// Below this many seconds to the reset we stop stretching the pace: what is
// left of the window may go, still bounded by the burst cap.
constexpr double kMinPacingSeconds = 0.25;
// Spending of others smaller than this per window is noise (a request of
// ours that crossed the window's edge), not a foreign consumer.
constexpr double kMinForeignSpend = 2;

struct Waiter
{
    RateLimiter::Ticket ticket = 0;
    QPointer<QObject> context;
    std::function<void()> granted;
    double enqueuedAt = 0;
};

struct InFlight
{
    QString domain;
    double grantedAt = 0;
    qint64 grantedAtEpochMs = 0;
    // The window (our serial) it was granted in, and the highest count the
    // upstream had announced in that window by then. An answer counted in
    // the same window counts more; one that counts less was counted in a
    // later window: the counter fell back.
    quint64 window = 0;
    double usedSeenAtGrant = -1;
};

// Every number of every instance of a header: Reddit's edge may repeat a
// header or join repeats with commas ("991, 98").
QList<double> headerNumbers(const HttpHeaders &headers, const QByteArray &name)
{
    QList<double> out;
    for (const QByteArray &value : headers.values(name)) {
        for (const QByteArray &part : value.split(',')) {
            bool ok = false;
            const double v = part.trimmed().toDouble(&ok);
            if (ok && std::isfinite(v))
                out.append(v);
        }
    }
    return out;
}

// One of our answers in the current window: what it shows of others' spending.
struct OwnAnswer
{
    int used = 0;          // X-Ratelimit-Used it announced
    double answeredAt = 0;
    int foreign = 0;       // others' requests counted before it, at least
};

// What one rate domain knows and who waits for it.
struct Domain
{
    QString name;

    // Fair queue: one FIFO per client, clients served in rotation.
    QHash<QString, std::deque<Waiter>> queues;
    std::deque<QString> rotation;
    int queued = 0;
    int inFlight = 0;

    double lastGrantAt = -kNever;   // fixed policy / fallback pacing
    double pausedUntil = 0;         // after a 429

    // Adaptive policy. Reddit does not say how X-Ratelimit-Reset is rounded
    // (down: 0..W-1; up: 1..W, as its own code does; or down but never 0),
    // so each answer places the end of its window only within an interval
    // that holds under every rounding, and answers narrow it. Pacing aims
    // at the early bound (the budget is spent before the window can end);
    // the budget renews at the late bound, or as soon as an answer proves
    // that a new window began (its count fell back, or its end lies beyond
    // the current one's).
    bool budgetKnown = false;
    int budget = 0;
    double windowSeconds = 0;       // at least this long: the largest reset seen
    double remaining = 0;           // conservative: counts our own requests in flight
    quint64 window = 0;             // our serial of the current window
    double windowStartedAt = 0;     // when we moved into it
    bool boundsKnown = false;       // its end placed by an answer, not predicted
    int evidence = 0;               // answers that placed it
    double usedSeen = -1;           // highest X-Ratelimit-Used announced in it
    quint64 counterResets = 0;
    bool hasReference = false;      // lowest Remaining announced in this window
    double referenceRemaining = 0;
    double earlyEnd = 0;
    double lateEnd = 0;
    double tokens = 0;
    double tokensAt = 0;
    // Programs outside the daemon spending the same budget: only the
    // X-Ratelimit-Used of our answers shows them (used - ours). What they
    // spent in the last window is kept free for them in this one.
    int ownInWindow = 0;            // our grants counted in this window
    int ownAtRoll = 0;              // of which in flight when it began
    int ownCountedEarlier = 0;      // of those, answers showed counted in an earlier window
    std::deque<std::pair<double, int>> grantLog; // this window: (granted at, ownInWindow after)
    double foreignSeen = 0;         // others' requests seen in this window
    double foreignLast = -1;        // in the last window; -1: no window seen yet
    double foreignSeenAt = 0;       // our last answer of this window
    std::vector<OwnAnswer> answers; // ours of this window, for the estimate of others'

    quint64 granted = 0;
    quint64 rejected429 = 0;

    // Distributed mode: one slot request to the authority at a time.
    bool asking = false;
    double askAgainAt = 0;
};

} // namespace

RateHeaders RateHeaders::parse(const HttpHeaders &headers)
{
    RateHeaders h;
    // The most conservative reading of each: most used, least remaining,
    // the latest reset, the longest pause.
    const QList<double> used = headerNumbers(headers, "x-ratelimit-used");
    const QList<double> remaining = headerNumbers(headers, "x-ratelimit-remaining");
    const QList<double> reset = headerNumbers(headers, "x-ratelimit-reset");
    const QList<double> retry = headerNumbers(headers, "retry-after");
    if ((h.hasUsed = !used.isEmpty()))
        h.used = *std::max_element(used.begin(), used.end());
    if ((h.hasRemaining = !remaining.isEmpty()))
        h.remaining = *std::min_element(remaining.begin(), remaining.end());
    if ((h.hasReset = !reset.isEmpty()))
        h.reset = *std::max_element(reset.begin(), reset.end());
    if ((h.hasRetryAfter = !retry.isEmpty()))
        h.retryAfter = *std::max_element(retry.begin(), retry.end());
    return h;
}

struct RateLimiter::Private
{
    RateLimiter *q = nullptr;
    mutable QMutex mutex;
    RateLimitConfig config;
    QElapsedTimer clock;
    QHash<QString, Domain> domains;
    QHash<Ticket, QString> waiting;   // ticket -> domain
    QHash<Ticket, InFlight> inFlight; // granted, not yet completed
    Ticket nextTicket = 1;
    QTimer *timer = nullptr;
    BudgetAuthority *authority = nullptr;
    // From a predecessor: per domain, our requests in its window and that
    // window's end bounds on our clock.
    struct Carried { int own = 0; double earlyEnd = 0; double lateEnd = 0; };
    QHash<QString, Carried> carried;

    double now() const { return double(clock.nsecsElapsed()) / 1e9; }

    double burstCap(const Domain &dom) const
    {
        return std::max(1.0, std::floor(config.burstFraction * dom.budget));
    }

    // Moves into a new window ending within [early, late]. Requests still
    // in flight may land in it: they are counted there.
    void beginWindow(Domain &dom, double t, double early, double late, bool fromAnswer)
    {
        dom.remaining = std::max(0, dom.budget - dom.inFlight);
        dom.foreignLast = dom.foreignSeen;
        dom.foreignSeen = 0;
        dom.foreignSeenAt = t;
        dom.ownInWindow = dom.ownAtRoll = dom.inFlight;
        dom.ownCountedEarlier = 0;
        dom.grantLog.clear();
        dom.answers.clear();
        ++dom.window;
        dom.windowStartedAt = t;
        dom.earlyEnd = early;
        dom.lateEnd = late;
        dom.boundsKnown = fromAnswer;
        dom.evidence = fromAnswer ? 1 : 0;
        dom.usedSeen = -1;
        dom.hasReference = false;
        dom.tokens = std::min(burstCap(dom), available(dom, t));
        dom.tokensAt = t;
        qCDebug(lcLimiter) << dom.name << "new window, remaining" << dom.remaining << "ends in ["
                           << early - t << "," << late - t << "] s" << (fromAnswer ? "" : "(predicted)")
                           << "kept for others" << reserve(dom, t);
    }

    // Once the late bound of the current window's end has passed, a new
    // window has surely begun. Its end is predicted from the last one until
    // an answer sent in it places it; the prediction is generously late
    // because the window may be longer than the largest reset seen.
    void rollWindow(Domain &dom, double t)
    {
        if (!dom.budgetKnown || t < dom.lateEnd)
            return;
        const double w = std::max(dom.windowSeconds, 1.0);
        double early = dom.earlyEnd, late = dom.lateEnd;
        while (late <= t) {
            early += w;
            late += 2 * w + 1;
        }
        beginWindow(dom, t, early, late, false);
    }

    // What others are expected to spend in this window after our last look
    // at it (our last answer): the rest of what they spent in the last
    // window, or what their pace so far spends until the reset, whichever is
    // more. Their spending since that look is in it: it is invisible until
    // our next answer, hence kept free too.
    double reserve(const Domain &dom, double) const
    {
        const double fromLast = dom.foreignLast >= kMinForeignSpend ? dom.foreignLast - dom.foreignSeen : 0;
        double fromPace = 0;
        if (dom.foreignSeen >= kMinForeignSpend) {
            const double w = std::max(dom.windowSeconds, 1.0);
            // Others keep spending until the window really ends, which may be
            // up to a second after its early bound (the rounding of the reset
            // is unknown); not until a predicted late bound, which is loose.
            const double end = std::min(dom.lateEnd, dom.earlyEnd + 1.0);
            const double elapsed = std::max(dom.foreignSeenAt - (dom.earlyEnd - w), w / 10);
            fromPace = dom.foreignSeen / elapsed * std::max(0.0, end - dom.foreignSeenAt);
        }
        return std::max(0.0, std::ceil(std::max(fromLast, fromPace) - 0.05));
    }

    // Our grants in this window up to time `t`.
    static int ownGrantedBy(const Domain &dom, double t)
    {
        const auto it = std::upper_bound(dom.grantLog.begin(), dom.grantLog.end(), t,
                                         [](double v, const std::pair<double, int> &g) { return v < g.first; });
        const int granted = it == dom.grantLog.begin() ? dom.ownAtRoll : std::prev(it)->second;
        return std::max(0, granted - dom.ownCountedEarlier);
    }

    // One of our answers of this window, counted `used`: how many of the
    // others' requests it shows. Ours counted before it are at most those
    // granted by its arrival (requests overtake each other between grant
    // and upstream, so the grant order proves nothing), less those that a
    // higher count of theirs shows were counted after it. Each later answer
    // refines the earlier ones: once all of ours are in, the figure is exact.
    void seeAnswer(Domain &dom, int used, double grantedAt, double t)
    {
        int countedLater = 0;
        for (OwnAnswer &a : dom.answers) {
            if (a.used > used)
                ++countedLater;
            else if (a.used < used && grantedAt <= a.answeredAt)
                dom.foreignSeen = std::max(dom.foreignSeen, double(++a.foreign)); // counted after `a`
        }
        const int foreign = used - ownGrantedBy(dom, t) + countedLater;
        dom.answers.push_back(OwnAnswer{used, t, foreign});
        dom.foreignSeen = std::max(dom.foreignSeen, double(foreign));
        dom.foreignSeenAt = t;
    }

    double available(const Domain &dom, double t) const
    {
        return std::max(0.0, dom.remaining - reserve(dom, t));
    }

    // The longest a domain with budget available may go without a grant:
    // what is available spread evenly until the window's early end.
    double paceInterval(const Domain &dom, double t) const
    {
        return std::max(dom.earlyEnd - t, kMinPacingSeconds) / std::max(available(dom, t), 1.0);
    }

    void refill(Domain &dom, double t)
    {
        const double avail = available(dom, t);
        if (t < dom.earlyEnd && dom.earlyEnd - t < kMinPacingSeconds) {
            // The window's last moments: what is left may go now, not
            // after its end (where it would count in the next window).
            dom.tokens = std::min(burstCap(dom), avail);
            dom.tokensAt = t;
            return;
        }
        const double left = std::max(dom.earlyEnd - t, kMinPacingSeconds);
        const double spare = std::max(avail - dom.tokens, 0.0);
        const double rate = spare / left;
        dom.tokens = std::min({dom.tokens + rate * (t - dom.tokensAt), burstCap(dom), avail});
        dom.tokensAt = t;
    }

    // Seconds from `t` until the domain may grant once more (0 = now).
    double secondsUntilGrant(Domain &dom, double t)
    {
        if (t < dom.pausedUntil)
            return dom.pausedUntil - t;
        const bool paced = config.mode == RateMode::Fixed || !dom.budgetKnown;
        if (paced) {
            // Until the first answer announces a budget, one request at a time.
            if (config.mode == RateMode::Adaptive && dom.inFlight > 0)
                return kNever; // re-evaluated when the answer arrives
            return std::max(0.0, dom.lastGrantAt + config.delaySeconds - t);
        }
        rollWindow(dom, t);
        if (dom.remaining < 1)
            return std::max(dom.lateEnd - t, 0.001);
        if (available(dom, t) < 1) // kept for others; our answers show when they spend it
            return std::max(std::min(dom.lateEnd - t, 0.1), 0.001);
        refill(dom, t);
        if (dom.tokens >= 1)
            return 0;
        // At least one available: the next token comes within the pace
        // interval, (1 - tokens) / ((available - tokens) / left) <= left / available.
        const double left = std::max(dom.earlyEnd - t, kMinPacingSeconds);
        const double rate = (available(dom, t) - dom.tokens) / left;
        return (1 - dom.tokens) / rate;
    }

    // The liveness invariant: budget available, not paused, requests
    // waiting, so the next grant is due within the pace interval. Waiting
    // longer (or for an answer) would idle with budget left.
    void checkLiveness(const Domain &dom, double t, double wait) const
    {
        Q_UNUSED(dom); Q_UNUSED(t); Q_UNUSED(wait);
        Q_ASSERT_X(!(config.mode == RateMode::Adaptive && dom.budgetKnown && t >= dom.pausedUntil
                     && dom.queued > 0 && available(dom, t) >= 1)
                       || wait <= paceInterval(dom, t) + 1e-6,
                   "RateLimiter", "idle with budget left and requests waiting");
    }

    void spend(Domain &dom, double t)
    {
        dom.lastGrantAt = t;
        ++dom.granted;
        ++dom.inFlight;
        if (dom.budgetKnown) {
            ++dom.ownInWindow;
            dom.grantLog.emplace_back(t, dom.ownInWindow);
            dom.remaining -= 1;
            dom.tokens = std::max(0.0, dom.tokens - 1);
        }
    }

    // Hands the next waiter in rotation its slot.
    void grantNext(Domain &dom, double t)
    {
            const QString client = dom.rotation.front();
            dom.rotation.pop_front();
            auto &queue = dom.queues[client];
            Waiter waiter = std::move(queue.front());
            queue.pop_front();
            if (queue.empty())
                dom.queues.remove(client);
            else
                dom.rotation.push_back(client);
            --dom.queued;
            waiting.remove(waiter.ticket);
            spend(dom, t);
            inFlight.insert(waiter.ticket, InFlight{dom.name, t, 0, dom.window, dom.usedSeen});
            if (waiter.context) {
                inFlight[waiter.ticket].grantedAtEpochMs = QDateTime::currentMSecsSinceEpoch();
                QMetaObject::invokeMethod(waiter.context, std::move(waiter.granted), Qt::QueuedConnection);
            } else {
                // Nobody left to send it: hand the slot back.
                inFlight.remove(waiter.ticket);
                unspend(dom);
                if (authority)
                    authority->returnSlot(dom.name);
            }
    }

    // Grants what may go now; returns seconds until the next evaluation.
    double serve(Domain &dom, double t)
    {
        if (authority)
            return askAuthority(dom, t);
        while (dom.queued > 0) {
            const double wait = secondsUntilGrant(dom, t);
            if (wait > 0) {
                checkLiveness(dom, t, wait);
                return wait;
            }
            grantNext(dom, t);
        }
        return kNever;
    }

    // Distributed mode: the shared budget decides, the local queue orders.
    double askAuthority(Domain &dom, double t)
    {
        if (dom.queued == 0 || dom.asking)
            return kNever;
        if (t < dom.askAgainAt)
            return dom.askAgainAt - t;
        dom.asking = true;
        const QString name = dom.name;
        authority->requestSlot(name, [this, name](double waitSeconds) {
            QMutexLocker lock(&mutex);
            Domain &d = domains[name];
            d.asking = false;
            const double now = this->now();
            if (waitSeconds > 0) {
                d.askAgainAt = now + waitSeconds;
            } else if (d.queued > 0) {
                grantNext(d, now);
            } else {
                authority->returnSlot(name); // the waiter left meanwhile
            }
            serveAll();
        });
        return kNever;
    }

    void unspend(Domain &dom)
    {
        --dom.inFlight;
        --dom.granted;
        if (dom.budgetKnown) {
            dom.remaining += 1;
            --dom.ownInWindow;
        }
    }

    void serveAll()
    {
        const double t = now();
        double next = kNever;
        for (auto &dom : domains)
            next = std::min(next, serve(dom, t));
        if (next == kNever) {
            timer->stop();
        } else {
            const int ms = int(std::ceil(std::min(next, 3600.0) * 1000.0));
            timer->start(std::max(ms, 1));
        }
    }

    // Serve now when called in our thread; otherwise post it.
    void kick()
    {
        if (QThread::currentThread() == q->thread())
            serveAll();
        else
            QMetaObject::invokeMethod(q, [this] { QMutexLocker lock(&mutex); serveAll(); },
                                      Qt::QueuedConnection);
    }

    void learn(Domain &dom, const InFlight &flight, int status, const HttpHeaders &headers, double t)
    {
        const RateHeaders h = RateHeaders::parse(headers);

        if (status == 429) {
            ++dom.rejected429;
            double pause = h.hasRetryAfter ? h.retryAfter
                                           : h.hasReset ? h.reset : std::max(config.delaySeconds, 1.0);
            pause = std::max(pause, 0.0) + 1.0; // either rounding
            dom.pausedUntil = std::max(dom.pausedUntil, t + pause);
            if (dom.budgetKnown) {
                dom.remaining = 0;
                // The window ends by then: the budget renews once the pause is over.
                if (dom.pausedUntil < dom.lateEnd)
                    dom.lateEnd = std::max(dom.pausedUntil, dom.earlyEnd);
            }
            qCWarning(lcLimiter) << dom.name << "answered 429; pausing for" << pause << "s";
            emit q->domainPaused(dom.name, pause);
        }
        // Without the headers the request still counted as one: its grant took it.
        if (!(h.hasRemaining && h.hasReset))
            return;

        const double reset = std::max(h.reset, 0.0);
        const double announced = std::floor(h.remaining);
        const int used = int(std::ceil(h.used));
        if (h.hasUsed)
            dom.budget = used + int(announced);
        dom.windowSeconds = std::max(dom.windowSeconds, reset);

        // The upstream counted the request between its grant and now; what
        // its reset says of the end under each rounding (down: [r, r+1)
        // after the count; up: (r-1, r]; down but never 0: 1 for (0, 2)),
        // all of them at once: after grant + r - 1 (never before the count),
        // before now + r + 1.
        const double early = flight.grantedAt + std::max(reset - 1, 0.0);
        const double late = t + reset + 1;

        // Our other requests in flight may or may not be in the announced
        // count; assume not, and give each back when its own answer shows
        // it was counted before (see below).
        const auto adoptView = [&] {
            dom.referenceRemaining = announced;
            dom.hasReference = true;
            // Below zero when more of ours are in flight than the view
            // leaves: each one shown counted before it hands one back
            // (below), so the debt must be kept, not rounded up to zero.
            dom.remaining = std::min(announced - dom.inFlight, double(std::max(dom.budget, 0)));
            dom.tokens = std::clamp(dom.tokens, 0.0, std::max(dom.remaining, 0.0));
        };
        // The answer was counted in a window that has ended. If its request
        // was in flight when the current window began, the current view
        // subtracted it (it might have counted here): give it back. Without
        // this, a window whose start found the last one's requests in flight
        // kept them as spent until a newer view came, and with none of ours
        // left in flight to bring one, idled to its end with budget left.
        const auto countedInEndedWindow = [&] {
            if (flight.window >= dom.window)
                return;
            dom.remaining = std::min(dom.remaining + 1, double(dom.budget));
            ++dom.ownCountedEarlier;
        };
        // This answer is the first of a window we now move into.
        const auto beginWindowAt = [&] {
            beginWindow(dom, t, early, late, true);
            adoptView();
            dom.ownInWindow = dom.ownAtRoll = 1 + dom.inFlight;
        };

        if (!dom.budgetKnown) {
            dom.budgetKnown = true;
            beginWindowAt();
            adoptCarriedSpending(dom, early, late);
            dom.tokens = std::min(burstCap(dom), std::max(dom.remaining, 0.0));
            dom.tokensAt = t;
            qCInfo(lcLimiter) << dom.name << "budget" << dom.budget << "per window of at least"
                              << dom.windowSeconds << "s";
        } else {
            rollWindow(dom, t);
            if (h.hasUsed && flight.window == dom.window && used < flight.usedSeenAtGrant) {
                // Counted after an answer of this window that came before its
                // grant, yet counting less: the counter fell back, a new
                // window began before now.
                ++dom.counterResets;
                beginWindowAt();
            } else if (!dom.boundsKnown) {
                // Only an answer sent after we moved into the window surely
                // belongs to it; earlier ones may be the last window's.
                if (flight.grantedAt < dom.windowStartedAt) {
                    // A predicted window's early end is still a lower bound.
                    if (late < dom.earlyEnd)
                        countedInEndedWindow();
                    return;
                }
                dom.boundsKnown = true;
                dom.evidence = 1;
                dom.earlyEnd = early;
                dom.lateEnd = late;
                adoptView();
            } else if (early > dom.lateEnd) {
                // Its window ends after the current one can: a new window
                // began before this answer was counted.
                beginWindowAt();
            } else if (late < dom.earlyEnd) {
                countedInEndedWindow(); // a late answer from a window that ended
                return;
            } else {
                // Same window: the bounds only tighten. Evidence that does
                // not fit (a clock step upstream) widens them instead.
                double lo = std::max(dom.earlyEnd, early);
                double hi = std::min(dom.lateEnd, late);
                if (lo > hi) {
                    lo = std::min(dom.earlyEnd, early);
                    hi = std::max(dom.lateEnd, late);
                }
                dom.earlyEnd = lo;
                dom.lateEnd = hi;
                ++dom.evidence;
                if (!dom.hasReference || announced < dom.referenceRemaining) {
                    adoptView(); // the newest view of the upstream's count
                } else if (announced > dom.referenceRemaining) {
                    // Counted before the reference view, yet subtracted as in
                    // flight when that view was adopted: hand it back.
                    dom.remaining = std::min(dom.remaining + 1, double(dom.budget));
                }
            }
        }
        if (h.hasUsed) {
            dom.usedSeen = std::max(dom.usedSeen, double(used));
            seeAnswer(dom, used, flight.grantedAt, t);
        }
    }

    // A predecessor's requests in the window this first answer belongs to
    // are ours, not another program's (1 s slack: wall clocks converted).
    void adoptCarriedSpending(Domain &dom, double early, double late)
    {
        const auto it = carried.constFind(dom.name);
        if (it == carried.constEnd())
            return;
        const Carried c = *it;
        carried.erase(it);
        if (c.lateEnd + 1.0 < early || c.earlyEnd - 1.0 > late)
            return; // another window by now
        dom.ownInWindow += c.own;
        dom.ownAtRoll += c.own;
        qCInfo(lcLimiter) << dom.name << c.own << "requests of the window under way were ours (before a restart)";
    }

    void close(Ticket ticket, int status, const HttpHeaders *headers)
    {
        const auto it = inFlight.constFind(ticket);
        if (it == inFlight.constEnd())
            return;
        const InFlight flight = *it;
        inFlight.erase(it);
        auto dit = domains.find(flight.domain);
        if (dit == domains.end())
            return;
        --dit->inFlight;
        if (authority)
            authority->slotFinished(flight.domain, flight.grantedAtEpochMs, status, headers);
        else if (headers)
            learn(*dit, flight, status, *headers, now());
        kick();
    }
};

RateLimiter::RateLimiter(const RateLimitConfig &config, QObject *parent)
    : QObject(parent), d(std::make_unique<Private>())
{
    d->q = this;
    d->config = config;
    d->clock.start();
    d->timer = new QTimer(this);
    d->timer->setSingleShot(true);
    d->timer->setTimerType(Qt::PreciseTimer);
    connect(d->timer, &QTimer::timeout, this, [this] {
        QMutexLocker lock(&d->mutex);
        d->serveAll();
    });
}

RateLimiter::~RateLimiter() = default;

void RateLimiter::setConfig(const RateLimitConfig &config)
{
    QMutexLocker lock(&d->mutex);
    d->config = config;
    d->kick();
}

void RateLimiter::setAuthority(BudgetAuthority *authority)
{
    QMutexLocker lock(&d->mutex);
    d->authority = authority;
    d->kick();
}

RateLimitConfig RateLimiter::config() const
{
    QMutexLocker lock(&d->mutex);
    return d->config;
}

RateLimiter::Ticket RateLimiter::acquire(const QString &domain, const QString &clientId,
                                         QObject *context, std::function<void()> granted)
{
    QMutexLocker lock(&d->mutex);
    const Ticket ticket = d->nextTicket++;
    Domain &dom = d->domains[domain];
    dom.name = domain;
    auto &queue = dom.queues[clientId];
    if (queue.empty())
        dom.rotation.push_back(clientId);
    queue.push_back(Waiter{ticket, context, std::move(granted), d->now()});
    ++dom.queued;
    d->waiting.insert(ticket, domain);
    d->kick();
    return ticket;
}

bool RateLimiter::cancel(Ticket ticket)
{
    QMutexLocker lock(&d->mutex);
    const auto it = d->waiting.find(ticket);
    if (it == d->waiting.end())
        return false;
    Domain &dom = d->domains[*it];
    d->waiting.erase(it);
    for (auto qit = dom.queues.begin(); qit != dom.queues.end(); ++qit) {
        auto &queue = qit.value();
        const auto w = std::find_if(queue.begin(), queue.end(),
                                    [ticket](const Waiter &x) { return x.ticket == ticket; });
        if (w == queue.end())
            continue;
        queue.erase(w);
        --dom.queued;
        if (queue.empty()) {
            const QString client = qit.key();
            dom.queues.erase(qit);
            dom.rotation.erase(std::remove(dom.rotation.begin(), dom.rotation.end(), client),
                               dom.rotation.end());
        }
        return true;
    }
    return true;
}

void RateLimiter::complete(Ticket ticket, int status, const HttpHeaders &headers)
{
    QMutexLocker lock(&d->mutex);
    d->close(ticket, status, &headers);
}

void RateLimiter::sent(Ticket ticket)
{
    QMutexLocker lock(&d->mutex);
    const auto it = d->inFlight.constFind(ticket);
    if (it == d->inFlight.constEnd())
        return;
    const auto dit = d->domains.find(it->domain);
    if (dit != d->domains.end())
        dit->lastGrantAt = std::max(dit->lastGrantAt, d->now());
    // The next grant's timer re-evaluates when it fires and waits the rest.
}

void RateLimiter::fail(Ticket ticket)
{
    QMutexLocker lock(&d->mutex);
    d->close(ticket, 0, nullptr);
}

qint64 RateLimiter::expectedWaitMs(const QString &domain, const QString &clientId) const
{
    QMutexLocker lock(&d->mutex);
    const auto it = d->domains.find(domain);
    if (it == d->domains.end())
        return 0;
    Domain &dom = *it;
    const double t = d->now();
    // Slots served before a new request of this client, in rotation order.
    const qsizetype own = dom.queues.value(clientId).size();
    qint64 ahead = 0;
    for (auto qit = dom.queues.cbegin(); qit != dom.queues.cend(); ++qit)
        ahead += std::min<qsizetype>(qit.value().size(), own + 1);
    double first = d->secondsUntilGrant(dom, t);
    if (first == kNever)
        first = d->config.delaySeconds;
    double perSlot = d->config.delaySeconds;
    if (d->config.mode == RateMode::Adaptive && dom.budgetKnown) {
        const double left = std::max(dom.earlyEnd - t, kMinPacingSeconds);
        if (ahead < dom.remaining) {
            perSlot = left / std::max(dom.remaining, 1.0);
            ahead = std::max<qint64>(0, ahead - qint64(dom.tokens));
        } else {
            // Beyond this window's budget: the next windows, at their pace.
            const qint64 later = ahead - qint64(dom.remaining);
            const double w = std::max(dom.windowSeconds, 1.0);
            return qint64(1000 * (std::max(dom.lateEnd - t, 0.0)
                                  + w * double(later) / std::max(dom.budget, 1)));
        }
    }
    return qint64(1000 * (first + perSlot * double(ahead)));
}

DomainState RateLimiter::state(const QString &domain) const
{
    QMutexLocker lock(&d->mutex);
    DomainState s;
    s.domain = domain;
    const auto it = d->domains.find(domain);
    if (it == d->domains.end())
        return s;
    Domain &dom = *it;
    const double t = d->now();
    d->rollWindow(dom, t);
    s.budgetKnown = dom.budgetKnown;
    s.budget = dom.budget;
    s.remaining = std::max(dom.remaining, 0.0);
    s.secondsToReset = dom.budgetKnown ? std::max(0.0, dom.lateEnd - t) : 0;
    if (dom.budgetKnown) {
        s.reserved = std::min(d->reserve(dom, t), s.remaining);
        s.windowSeconds = dom.windowSeconds;
        s.secondsToWindowEndLo = std::max(0.0, dom.earlyEnd - t);
        s.secondsToWindowEndHi = std::max(0.0, dom.lateEnd - t);
        s.windowEvidence = dom.evidence;
        s.windowEndFromAnswers = dom.boundsKnown;
    }
    s.counterResets = dom.counterResets;
    s.queued = dom.queued;
    s.inFlight = dom.inFlight;
    s.paused = t < dom.pausedUntil;
    s.granted = dom.granted;
    s.rejected429 = dom.rejected429;
    if (d->authority)
        d->authority->describe(domain, s);
    return s;
}

QList<DomainState> RateLimiter::states() const
{
    QStringList names;
    {
        QMutexLocker lock(&d->mutex);
        names = d->domains.keys();
    }
    names.sort();
    QList<DomainState> out;
    for (const QString &name : names)
        out.append(state(name));
    return out;
}

QList<WindowSpending> RateLimiter::windowSpending() const
{
    QMutexLocker lock(&d->mutex);
    const double t = d->now();
    const QDateTime wallNow = QDateTime::currentDateTimeUtc();
    const auto wall = [&](double at) { return wallNow.addMSecs(qint64((at - t) * 1000.0)); };
    QList<WindowSpending> out;
    for (const Domain &dom : std::as_const(d->domains)) {
        if (!dom.budgetKnown || dom.lateEnd <= t || dom.ownInWindow - dom.ownCountedEarlier <= 0)
            continue;
        out.append({dom.name, dom.ownInWindow - dom.ownCountedEarlier, wall(dom.earlyEnd), wall(dom.lateEnd)});
    }
    return out;
}

void RateLimiter::carryWindowSpending(const QList<WindowSpending> &spending)
{
    QMutexLocker lock(&d->mutex);
    const double t = d->now();
    const QDateTime wallNow = QDateTime::currentDateTimeUtc();
    for (const WindowSpending &w : spending) {
        const double early = t + double(wallNow.msecsTo(w.earlyEnd)) / 1000.0;
        const double late = t + double(wallNow.msecsTo(w.lateEnd)) / 1000.0;
        const auto dom = d->domains.constFind(w.domain);
        if (w.own > 0 && late > t && (dom == d->domains.constEnd() || !dom->budgetKnown))
            d->carried.insert(w.domain, {w.own, early, late});
    }
}

} // namespace prawmp
