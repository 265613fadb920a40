#pragma once
#include "RedisConnection.h"

#include "prawmp/BudgetAuthority.h"
#include "prawmp/RequestPipeline.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QString>

#include <deque>
#include <functional>

class QTimer;

namespace prawmp {

// Distributed mode's rate budget: one budget per rate domain shared by
// every daemon that uses the same Redis and key prefix. The fixed and
// adaptive policies of RateLimiter run as atomic Lua scripts in Redis
// (daemon/lua/budget_*.lua) on the Redis clock; slots granted and not yet
// finished are leases in Redis, so in-flight accounting is global and a
// dead daemon's slots expire. The RateLimiter keeps the fair queues local
// and asks here for one slot at a time.
//
// When Redis is unreachable each daemon falls back to a conservative local
// limit (Mode::Degraded), so that together they still stay within the
// budget. With B the domain's budget per window of W seconds (last known),
// N the number of daemons seen alive through their heartbeats in the 10 s
// before the outage (this one included), S = max(1, floor(B / N)):
//   - each daemon grants at most S requests in any span of W + 2 s (its
//     grants from before the outage count);
//   - until the late end of the window under way at the outage, at most
//     floor(max(0, R - m) / N) in all, R being the shared remaining count
//     last seen and m = (N - 1) + ceil(2 B age / W) a margin for what the
//     others spent since it was seen (age in seconds);
//   - grants are smoothed: bursts of at most max(1, floor(burstFraction S)),
//     refilled at S per (W + 2) s;
//   - an answer announcing no budget left (minus our requests in flight)
//     holds grants until its window's end; a 429 pauses the domain for
//     Retry-After + 1 s;
//   - with the fixed policy, or before any budget was announced, at least
//     N x delay between two grants (adaptive: one request at a time).
// Once Redis is back, the daemon re-registers its slots in flight, drops
// the shared window view (re-learned from the next answer, which counts
// everything spent meanwhile) and keeps its local limit on top of the
// shared one for a hold of 5 s, by when every daemon has reconnected (the
// reconnect backoff stops at 2 s); then the shared budget alone decides.
//
// Owned by ProxyServer; lives in its thread, like the RateLimiter.
class RedisBudgetAuthority : public QObject, public BudgetAuthority
{
    Q_OBJECT
public:
    enum class Mode { Shared, Rejoining, Degraded };
    using ConfigSource = std::function<PipelineConfig()>;

    static constexpr int kHeartbeatMs = 1000;
    static constexpr int kHeartbeatTtlMs = 3000;
    static constexpr int kDaemonMemoryMs = 10'000; // N: the most daemons seen this long before the outage
    static constexpr int kRejoinHoldMs = 5000;
    static constexpr int kSpanMarginMs = 2000;     // W + 2 s: whole-second resets plus send jitter
    static constexpr int kPollMs = 50;             // "after an answer": ask again this soon

    // `config` is read on every decision, so SIGHUP changes apply.
    RedisBudgetAuthority(RedisConnection &redis, const QString &prefix, ConfigSource config,
                         QObject *parent = nullptr);
    ~RedisBudgetAuthority() override;

    // BudgetAuthority
    void requestSlot(const QString &domain, std::function<void(double waitSeconds)> answer) override;
    void returnSlot(const QString &domain) override;
    void slotFinished(const QString &domain, qint64 grantedAtEpochMs, int status,
                      const HttpHeaders *headers) override;
    void describe(const QString &domain, DomainState &state) const override;

    Mode mode() const { return m_mode; }
    // "ok" (sharing the budget) or "degraded" (local limit), for /_mp/health and stats.
    QString stateName() const;
    // Daemons sharing the budget, as last counted (N above).
    int daemonsAlive() const;
    QString daemonId() const { return QString::fromUtf8(m_id); }

signals:
    void modeChanged(prawmp::RedisBudgetAuthority::Mode mode);

private:
    // One slot this daemon holds.
    struct Slot
    {
        QByteArray id;
        bool registered = false; // a lease in Redis
        double grantedAt = 0;    // local ms
    };
    // The shared state as a script last returned it (Redis clock).
    struct Snapshot
    {
        bool valid = false;
        double receivedAt = 0; // local ms
        double redisNow = 0;
        bool budgetKnown = false;
        int budget = 0;
        double remaining = 0;
        double earlyEnd = 0;
        double lateEnd = 0;
        double pausedUntil = 0;
        int inFlight = 0;
        quint64 granted = 0;
        quint64 rejected429 = 0;
        double windowMs = 0;
        bool boundsKnown = false;
        int evidence = 0;
        quint64 counterResets = 0;
    };
    // What this daemon's own answers say of the window (local ms).
    struct OwnView
    {
        bool known = false;
        int budget = 0;
        double windowMs = 0;
        double remaining = 0; // announced, minus our own grants since
        double reference = 0; // lowest announced in this window
        double early = 0;
        double late = 0;
    };
    struct Domain
    {
        QString name;
        QByteArray stateKey;
        QByteArray flightKey;
        std::deque<Slot> held;
        std::deque<double> grants; // local ms of our grants, the last span's
        Snapshot shared;
        OwnView own;
        // The local limit.
        double tokens = 1;
        double tokensAt = 0;
        double lastGrantAt = -1e15;
        double pausedUntil = 0;
        bool transition = false;
        int allowance = 0;
        double transitionUntil = 0;
        quint64 rejected429 = 0;
    };

    Domain &domain(const QString &name);
    double now() const { return double(m_clock.nsecsElapsed()) / 1e6; }
    double toLocal(double redisMs) const { return redisMs - m_offset; }
    double toRedis(double localMs) const { return localMs + m_offset; }
    QList<QByteArray> policyArgs() const;
    QByteArray nextSlotId();

    void askRedis(const QString &name, std::function<void(double)> answer);
    void grant(Domain &d, double t, const QByteArray &id, bool registered);
    double localWaitMs(Domain &d, double t);
    int shareOf(const Domain &d) const;
    int budgetOf(const Domain &d) const;
    double windowOf(const Domain &d) const;
    void learnOwn(Domain &d, double grantedAt, int status, const HttpHeaders *headers, double t);
    void absorb(Domain &d, const RedisValue &reply, double sentAt);
    void updateOffset(double redisNow, double sentAt, double receivedAt);
    void scriptFailed(const char *what, const RedisValue &reply);
    void answerLater(std::function<void(double)> answer, double waitSeconds);

    void onConnected();
    void onDisconnected();
    void enterDegraded();
    void setMode(Mode mode);
    void heartbeat();

    RedisConnection &m_redis;
    QString m_prefix;
    ConfigSource m_config;
    QByteArray m_id;
    quint64 m_nextSlot = 0;
    QElapsedTimer m_clock;
    double m_offset = 0; // Redis clock minus local clock, ms
    bool m_offsetKnown = false;

    QHash<QString, Domain> m_domains;
    Mode m_mode = Mode::Degraded; // until Redis answers
    bool m_everConnected = false;
    double m_outageStart = -1;    // local ms; -1 while Redis is reachable
    std::deque<std::pair<double, int>> m_daemonCounts; // (local ms, daemons alive)
    QList<QPair<QString, QByteArray>> m_finishedWhileDown; // leases to release
    QTimer *m_heartbeat = nullptr;
    QTimer *m_hold = nullptr;
    double m_lastWarningAt = -1e15;
    int m_scriptErrors = 0;         // consecutive error answers
    bool m_degradedByErrors = false; // Redis answers, but the scripts fail

    RedisScript m_acquire;
    RedisScript m_finish;
    RedisScript m_return;
    RedisScript m_state;
    RedisScript m_rejoin;
    RedisScript m_heartbeatScript;
};

} // namespace prawmp
