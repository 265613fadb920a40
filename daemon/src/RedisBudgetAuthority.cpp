#include "RedisBudgetAuthority.h"

#include <QCoreApplication>
#include <QRandomGenerator>
#include <QSysInfo>
#include <QTimer>

#include <algorithm>
#include <cmath>

namespace prawmp {

namespace {

QByteArray num(double v) { return QByteArray::number(v, 'f', 3); }

// A header as the scripts want it: the conservative reading, "" when absent.
QByteArray field(bool present, double value)
{
    return present ? QByteArray::number(value, 'g', 12) : QByteArray();
}

} // namespace

RedisBudgetAuthority::RedisBudgetAuthority(RedisConnection &redis, const QString &prefix, ConfigSource config,
                                           QObject *parent)
    : QObject(parent), m_redis(redis), m_prefix(prefix), m_config(std::move(config))
{
    m_clock.start();
    m_id = QStringLiteral("%1:%2:%3")
               .arg(QSysInfo::machineHostName())
               .arg(QCoreApplication::applicationPid())
               .arg(QRandomGenerator::global()->generate(), 8, 16, QLatin1Char('0'))
               .toUtf8();

    const auto budgetScript = [](const char *name) {
        return RedisScript::fromResources(QByteArray("budget_") + name,
                                          {QStringLiteral("budget_common.lua"),
                                           QStringLiteral("budget_%1.lua").arg(QLatin1String(name))});
    };
    m_acquire = budgetScript("acquire");
    m_finish = budgetScript("finish");
    m_return = budgetScript("return");
    m_state = budgetScript("state");
    m_rejoin = budgetScript("rejoin");
    m_heartbeatScript = RedisScript::fromResources("heartbeat", {QStringLiteral("heartbeat.lua")});
    for (const RedisScript *s : {&m_acquire, &m_finish, &m_return, &m_state, &m_rejoin, &m_heartbeatScript})
        m_redis.registerScript(*s);

    m_heartbeat = new QTimer(this);
    m_heartbeat->setInterval(kHeartbeatMs);
    connect(m_heartbeat, &QTimer::timeout, this, &RedisBudgetAuthority::heartbeat);
    m_heartbeat->start();

    m_hold = new QTimer(this);
    m_hold->setSingleShot(true);
    connect(m_hold, &QTimer::timeout, this, [this] {
        if (m_mode == Mode::Rejoining && m_redis.isOk())
            setMode(Mode::Shared);
    });

    connect(&m_redis, &RedisConnection::connected, this, &RedisBudgetAuthority::onConnected);
    connect(&m_redis, &RedisConnection::stateChanged, this, [this](RedisConnection::State state) {
        if (state != RedisConnection::State::Ok)
            onDisconnected();
    });
    if (m_redis.isOk())
        onConnected();
}

RedisBudgetAuthority::~RedisBudgetAuthority() = default;

QString RedisBudgetAuthority::stateName() const
{
    return m_mode == Mode::Shared && m_redis.isOk() ? QStringLiteral("ok") : QStringLiteral("degraded");
}

RedisBudgetAuthority::Domain &RedisBudgetAuthority::domain(const QString &name)
{
    auto it = m_domains.find(name);
    if (it == m_domains.end()) {
        Domain d;
        d.name = name;
        d.stateKey = (m_prefix + QStringLiteral("budget:") + name).toUtf8();
        d.flightKey = (m_prefix + QStringLiteral("inflight:") + name).toUtf8();
        d.tokensAt = now();
        it = m_domains.insert(name, d);
    }
    return *it;
}

QList<QByteArray> RedisBudgetAuthority::policyArgs() const
{
    const PipelineConfig c = m_config();
    // A slot whose answer never came back is forgotten after the upstream
    // timeout plus a margin (its daemon died, or lost Redis meanwhile).
    const double leaseMs = (std::max(c.upstreamTimeoutSeconds, 1.0) + 15.0) * 1000.0;
    return {c.rate.mode == RateMode::Fixed ? QByteArray("fixed") : QByteArray("adaptive"),
            num(c.rate.delaySeconds * 1000.0), num(c.rate.burstFraction), num(leaseMs)};
}

QByteArray RedisBudgetAuthority::nextSlotId()
{
    return m_id + '#' + QByteArray::number(++m_nextSlot);
}

void RedisBudgetAuthority::answerLater(std::function<void(double)> answer, double waitSeconds)
{
    // Never answer from inside requestSlot(): the limiter holds its lock there.
    QMetaObject::invokeMethod(this, [answer = std::move(answer), waitSeconds] { answer(waitSeconds); },
                              Qt::QueuedConnection);
}

// ---------------------------------------------------------------------------
// BudgetAuthority

void RedisBudgetAuthority::requestSlot(const QString &name, std::function<void(double)> answer)
{
    Domain &d = domain(name);
    const double t = now();
    if (m_mode != Mode::Shared) {
        const double wait = localWaitMs(d, t);
        if (wait > 0) {
            answerLater(std::move(answer), std::max(wait, 1.0) / 1000.0);
            return;
        }
        if (m_mode == Mode::Degraded || !m_redis.isOk()) {
            grant(d, t, nextSlotId(), false);
            answerLater(std::move(answer), 0);
            return;
        }
        // Rejoining: the local limit allows it; the shared budget must too.
    }
    askRedis(name, std::move(answer));
}

void RedisBudgetAuthority::askRedis(const QString &name, std::function<void(double)> answer)
{
    Domain &d = domain(name);
    const QByteArray id = nextSlotId();
    const double sentAt = now();
    QList<QByteArray> args = policyArgs();
    args.append(id);
    m_redis.eval(m_acquire, {d.stateKey, d.flightKey}, args,
                 [this, name, id, sentAt, answer = std::move(answer)](const RedisValue &v) {
        Domain &d = domain(name);
        if (v.type != RedisValue::Type::Array || v.elements.size() < 14) {
            // It may have been granted all the same: release it once back.
            m_finishedWhileDown.append({name, id});
            scriptFailed("acquire", v);
            const double t = now();
            const double wait = localWaitMs(d, t);
            if (wait > 0) {
                answer(std::max(wait, 1.0) / 1000.0);
            } else {
                grant(d, t, nextSlotId(), false);
                answer(0);
            }
            return;
        }
        m_scriptErrors = 0;
        absorb(d, v, sentAt);
        if (v.elements[0].integer == 1) {
            grant(d, now(), id, true);
            answer(0);
            return;
        }
        const double wait = v.elements[1].toDouble(kPollMs);
        answer((wait < 0 ? kPollMs : std::max(wait, 1.0)) / 1000.0);
    });
}

void RedisBudgetAuthority::grant(Domain &d, double t, const QByteArray &id, bool registered)
{
    d.held.push_back(Slot{id, registered, t});
    d.grants.push_back(t);
    d.lastGrantAt = t;
    if (m_mode != Mode::Shared) {
        d.tokens = std::max(0.0, d.tokens - 1);
        if (d.transition)
            --d.allowance;
    }
    if (d.own.known)
        d.own.remaining -= 1;
}

void RedisBudgetAuthority::returnSlot(const QString &name)
{
    Domain &d = domain(name);
    if (d.held.empty())
        return;
    const Slot slot = d.held.back();
    d.held.pop_back();
    // Not sent after all: it does not count against the local limit either.
    const auto g = std::find(d.grants.rbegin(), d.grants.rend(), slot.grantedAt);
    if (g != d.grants.rend())
        d.grants.erase(std::next(g).base());
    if (m_mode != Mode::Shared) {
        d.tokens += 1;
        if (d.transition)
            ++d.allowance;
    }
    if (d.own.known)
        d.own.remaining += 1;
    if (!slot.registered)
        return;
    if (!m_redis.isOk()) {
        m_finishedWhileDown.append({name, slot.id});
        return;
    }
    const double sentAt = now();
    m_redis.eval(m_return, {d.stateKey, d.flightKey}, policyArgs() << slot.id,
                 [this, name, id = slot.id, sentAt](const RedisValue &v) {
        if (v.type == RedisValue::Type::Array && v.elements.size() >= 14)
            absorb(domain(name), v, sentAt);
        else
            m_finishedWhileDown.append({name, id});
    });
}

void RedisBudgetAuthority::slotFinished(const QString &name, qint64, int status, const HttpHeaders *headers)
{
    Domain &d = domain(name);
    const double t = now();
    // Slots are interchangeable: the oldest goes (its lease ends first).
    Slot slot{QByteArray(), false, t};
    if (!d.held.empty()) {
        slot = d.held.front();
        d.held.pop_front();
    }
    learnOwn(d, slot.grantedAt, status, headers, t);
    // A slot granted on the local limit alone has nothing to release, and its
    // answer is not shared: the shared count never subtracted it.
    if (!slot.registered)
        return;
    if (!m_redis.isOk()) {
        m_finishedWhileDown.append({name, slot.id});
        return;
    }
    const RateHeaders h = headers ? RateHeaders::parse(*headers) : RateHeaders();
    QList<QByteArray> args = policyArgs();
    args << slot.id << num(toRedis(slot.grantedAt)) << QByteArray::number(headers ? status : 0)
         << field(h.hasUsed, h.used) << field(h.hasRemaining, h.remaining)
         << field(h.hasReset, h.reset) << field(h.hasRetryAfter, h.retryAfter);
    const double sentAt = now();
    m_redis.eval(m_finish, {d.stateKey, d.flightKey}, args, [this, name, id = slot.id, sentAt](const RedisValue &v) {
        if (v.type == RedisValue::Type::Array && v.elements.size() >= 14) {
            m_scriptErrors = 0;
            absorb(domain(name), v, sentAt);
        } else {
            m_finishedWhileDown.append({name, id});
            scriptFailed("finish", v);
        }
    });
}

void RedisBudgetAuthority::describe(const QString &name, DomainState &state) const
{
    const auto it = m_domains.constFind(name);
    if (it == m_domains.constEnd())
        return;
    const Domain &d = *it;
    const double t = now();
    if (m_mode != Mode::Degraded && d.shared.valid) {
        const Snapshot &s = d.shared;
        const double redisNow = toRedis(t);
        state.budgetKnown = s.budgetKnown;
        state.budget = s.budget;
        state.remaining = s.remaining;
        state.secondsToReset = std::max(0.0, s.lateEnd - redisNow) / 1000.0;
        state.windowSeconds = s.windowMs / 1000.0;
        state.secondsToWindowEndLo = std::max(0.0, s.earlyEnd - redisNow) / 1000.0;
        state.secondsToWindowEndHi = state.secondsToReset;
        state.windowEvidence = s.evidence;
        state.windowEndFromAnswers = s.boundsKnown;
        state.counterResets = s.counterResets;
        state.reserved = 0; // the shared budget keeps nothing for others
        if (s.budgetKnown && redisNow >= s.lateEnd) {
            // The window rolled since: what the next grant will see.
            state.remaining = std::max(0, s.budget - s.inFlight);
            state.secondsToReset = 0;
        }
        state.inFlight = s.inFlight;
        state.paused = redisNow < s.pausedUntil;
        state.rejected429 = s.rejected429;
        return;
    }
    // The local limit: this daemon's share.
    const int share = shareOf(d);
    const double span = windowOf(d) + kSpanMarginMs;
    const auto first = std::lower_bound(d.grants.cbegin(), d.grants.cend(), t - span);
    const int recent = int(std::distance(first, d.grants.cend()));
    double remaining = std::max(0, share - recent);
    if (d.transition && t < d.transitionUntil)
        remaining = std::min(remaining, double(std::max(d.allowance, 0)));
    state.budgetKnown = budgetOf(d) > 0;
    state.budget = share;
    state.remaining = remaining;
    state.secondsToReset = first != d.grants.cend() ? std::max(0.0, *first + span - t) / 1000.0 : 0;
    state.inFlight = int(d.held.size());
    state.paused = t < d.pausedUntil;
    state.rejected429 = d.rejected429;
    // A sliding window of this daemon's share, not the upstream's window.
    state.windowSeconds = windowOf(d) / 1000.0;
    state.secondsToWindowEndLo = state.secondsToWindowEndHi = state.secondsToReset;
    state.windowEvidence = 0;
    state.windowEndFromAnswers = false;
    state.reserved = 0;
}

// ---------------------------------------------------------------------------
// The local limit (degraded mode, and on top of the shared one while rejoining)

int RedisBudgetAuthority::daemonsAlive() const
{
    const double reference = m_outageStart >= 0 ? m_outageStart : now();
    int n = 1;
    for (const auto &[at, count] : m_daemonCounts)
        if (at >= reference - kDaemonMemoryMs)
            n = std::max(n, count);
    return n;
}

int RedisBudgetAuthority::budgetOf(const Domain &d) const
{
    const int shared = d.shared.valid ? d.shared.budget : 0;
    const int own = d.own.budget;
    if (shared > 0 && own > 0)
        return std::min(shared, own);
    return std::max(shared, own);
}

double RedisBudgetAuthority::windowOf(const Domain &d) const
{
    // The largest reset seen is the window, or one second less when the
    // upstream rounds down: the local limit assumes the longer.
    const double largestReset = std::max(d.shared.valid ? d.shared.windowMs : 0.0, d.own.windowMs);
    return std::max(largestReset + 1000.0, 1000.0);
}

int RedisBudgetAuthority::shareOf(const Domain &d) const
{
    return std::max(1, budgetOf(d) / daemonsAlive());
}

double RedisBudgetAuthority::localWaitMs(Domain &d, double t)
{
    const PipelineConfig config = m_config();
    const RateLimitConfig &rate = config.rate;
    double paused = d.pausedUntil;
    if (d.shared.valid)
        paused = std::max(paused, toLocal(d.shared.pausedUntil));
    if (t < paused)
        return paused - t;

    const int n = daemonsAlive();
    const int budget = budgetOf(d);
    if (rate.mode == RateMode::Fixed || budget <= 0) {
        if (rate.mode == RateMode::Adaptive && !d.held.empty())
            return kPollMs; // one at a time until an answer announces the budget
        return std::max(0.0, d.lastGrantAt + rate.delaySeconds * 1000.0 * n - t);
    }

    const int share = shareOf(d);
    const double span = windowOf(d) + kSpanMarginMs;
    while (!d.grants.empty() && d.grants.front() <= t - span)
        d.grants.pop_front();
    double wait = 0;
    // At most `share` grants in any span.
    if (qsizetype(d.grants.size()) >= share)
        wait = std::max(wait, d.grants[d.grants.size() - size_t(share)] + span - t);
    // What is left of the window under way at the outage.
    if (d.transition) {
        if (t >= d.transitionUntil)
            d.transition = false;
        else if (d.allowance <= 0)
            wait = std::max(wait, d.transitionUntil - t);
    }
    // Our own answers say the window is spent.
    if (d.own.known && t < d.own.late && d.own.remaining < 1)
        wait = std::max(wait, d.own.late - t);
    // Smoothing: bounded bursts, then a steady pace.
    const double cap = std::max(1.0, std::floor(rate.burstFraction * share));
    const double perMs = share / span;
    d.tokens = std::min(cap, d.tokens + perMs * std::max(0.0, t - d.tokensAt));
    d.tokensAt = t;
    if (d.tokens < 1)
        wait = std::max(wait, (1 - d.tokens) / perMs);
    return wait;
}

void RedisBudgetAuthority::learnOwn(Domain &d, double grantedAt, int status, const HttpHeaders *headers, double t)
{
    const RateHeaders h = headers ? RateHeaders::parse(*headers) : RateHeaders();
    if (headers && status == 429) {
        ++d.rejected429;
        double pause = h.hasRetryAfter ? h.retryAfter
                                       : h.hasReset ? h.reset : std::max(m_config().rate.delaySeconds, 1.0);
        d.pausedUntil = std::max(d.pausedUntil, t + std::max(pause, 0.0) * 1000.0 + 1000.0);
        d.own.remaining = 0;
    }
    if (!(h.hasRemaining && h.hasReset))
        return;
    const double reset = std::max(h.reset, 0.0);
    const double remaining = h.remaining;
    const bool okUsed = h.hasUsed;
    const int used = int(std::ceil(h.used));
    // Within bounds that hold under every rounding of the reset (see
    // RateLimiter::Private::learn).
    const double early = grantedAt + std::max(reset - 1, 0.0) * 1000.0;
    const double late = t + reset * 1000.0 + 1000.0;
    const double announced = std::floor(remaining);
    if (okUsed)
        d.own.budget = used + int(announced);
    d.own.windowMs = std::max(d.own.windowMs, reset * 1000.0);
    const double inFlight = double(d.held.size());
    if (!d.own.known || t >= d.own.late || early > d.own.late) {
        d.own.known = true;
        d.own.early = early;
        d.own.late = late;
        d.own.reference = announced;
        d.own.remaining = std::max(0.0, announced - inFlight);
    } else if (late >= d.own.early) {
        d.own.early = std::max(d.own.early, early);
        d.own.late = std::max(std::min(d.own.late, late), d.own.early);
        if (announced < d.own.reference) {
            d.own.reference = announced;
            d.own.remaining = std::max(0.0, announced - inFlight);
        }
    }
}

// ---------------------------------------------------------------------------
// Shared state

void RedisBudgetAuthority::updateOffset(double redisNow, double sentAt, double receivedAt)
{
    const double rtt = receivedAt - sentAt;
    if (m_offsetKnown && rtt > 200)
        return; // too slow an answer to place the Redis clock
    const double sample = redisNow - (sentAt + receivedAt) / 2;
    m_offset = m_offsetKnown ? m_offset + 0.2 * (sample - m_offset) : sample;
    m_offsetKnown = true;
}

void RedisBudgetAuthority::absorb(Domain &d, const RedisValue &v, double sentAt)
{
    const auto at = [&v](int i) { return v.elements[i].toDouble(); };
    const double t = now();
    updateOffset(at(2), sentAt, t);
    Snapshot &s = d.shared;
    s.valid = true;
    s.receivedAt = t;
    s.redisNow = at(2);
    s.budgetKnown = at(3) != 0;
    s.budget = int(at(4));
    s.remaining = at(5);
    s.earlyEnd = at(6);
    s.lateEnd = at(7);
    s.pausedUntil = at(8);
    s.inFlight = int(at(9));
    s.granted = quint64(std::max(0.0, at(10)));
    s.rejected429 = quint64(std::max(0.0, at(11)));
    s.windowMs = at(12);
    if (v.elements.size() >= 17) {
        s.boundsKnown = at(14) != 0;
        s.evidence = int(at(15));
        s.counterResets = quint64(std::max(0.0, at(16)));
    }
}

void RedisBudgetAuthority::scriptFailed(const char *what, const RedisValue &v)
{
    const double t = now();
    if (t - m_lastWarningAt > 5000) {
        m_lastWarningAt = t;
        qCWarning(lcRedis).noquote() << "budget script" << what << "got no usable answer"
                                     << (v.isAnswer() ? v.describe() : QStringLiteral("(connection lost)"))
                                     << "- the local limit decides meanwhile";
    }
    if (!v.isAnswer()) {
        enterDegraded(); // the link is gone; its state change follows
        return;
    }
    if (++m_scriptErrors >= 3 && m_mode != Mode::Degraded) {
        m_degradedByErrors = true;
        enterDegraded();
    }
}

void RedisBudgetAuthority::heartbeat()
{
    if (!m_redis.isOk())
        return;
    const double sentAt = now();
    m_redis.eval(m_heartbeatScript, {(m_prefix + QStringLiteral("daemons")).toUtf8()},
                 {m_id, QByteArray::number(kHeartbeatTtlMs)}, [this, sentAt](const RedisValue &v) {
        if (v.type != RedisValue::Type::Array || v.elements.size() < 2) {
            if (v.isError())
                scriptFailed("heartbeat", v);
            return;
        }
        const double t = now();
        updateOffset(v.elements[1].toDouble(), sentAt, t);
        m_daemonCounts.emplace_back(t, int(v.elements[0].integer));
        if (m_outageStart < 0) {
            while (m_daemonCounts.size() > 1 && m_daemonCounts.front().first < t - kDaemonMemoryMs)
                m_daemonCounts.pop_front();
        }
        if (m_degradedByErrors && m_mode == Mode::Degraded) {
            m_degradedByErrors = false;
            m_scriptErrors = 0;
            onConnected();
            return;
        }
        // Keep the shared view fresh for stats and for the start of degraded mode.
        for (auto it = m_domains.begin(); it != m_domains.end(); ++it) {
            if (t - it->shared.receivedAt < kHeartbeatMs / 2)
                continue;
            const QString name = it.key();
            m_redis.eval(m_state, {it->stateKey, it->flightKey}, policyArgs(), [this, name, t](const RedisValue &r) {
                if (r.type == RedisValue::Type::Array && r.elements.size() >= 14)
                    absorb(domain(name), r, t);
            });
        }
    });
}

// ---------------------------------------------------------------------------
// Mode changes

void RedisBudgetAuthority::onConnected()
{
    const bool first = !m_everConnected;
    m_everConnected = true;
    heartbeat();
    if (first && m_domains.isEmpty()) {
        // Nothing was granted without Redis: share the budget at once.
        setMode(Mode::Shared);
        return;
    }
    if (m_mode == Mode::Shared)
        return;
    // Our slots still in flight become leases again; finished ones are released.
    for (auto it = m_domains.begin(); it != m_domains.end(); ++it) {
        Domain &d = *it;
        QList<QByteArray> adopt;
        for (Slot &slot : d.held) {
            if (!slot.registered) {
                adopt.append(slot.id);
                slot.registered = true;
            }
        }
        QList<QByteArray> args = policyArgs();
        args.append(QByteArray::number(adopt.size()));
        args += adopt;
        for (const auto &[domainName, id] : std::as_const(m_finishedWhileDown))
            if (domainName == d.name)
                args.append(id);
        const QString name = d.name;
        const double sentAt = now();
        m_redis.eval(m_rejoin, {d.stateKey, d.flightKey}, args, [this, name, sentAt](const RedisValue &v) {
            if (v.type == RedisValue::Type::Array && v.elements.size() >= 14)
                absorb(domain(name), v, sentAt);
        });
    }
    m_finishedWhileDown.clear();
    setMode(Mode::Rejoining);
    m_hold->start(kRejoinHoldMs);
}

void RedisBudgetAuthority::onDisconnected()
{
    if (m_mode != Mode::Degraded)
        enterDegraded();
}

void RedisBudgetAuthority::enterDegraded()
{
    if (m_mode == Mode::Degraded)
        return;
    m_hold->stop();
    const double t = now();
    if (m_outageStart < 0)
        m_outageStart = t;
    const int n = daemonsAlive();
    for (Domain &d : m_domains) {
        d.tokens = 1;
        d.tokensAt = t;
        d.transition = false;
        d.allowance = 0;
        const int budget = budgetOf(d);
        if (budget <= 0)
            continue; // paced at N x delay
        const double w = windowOf(d);
        const double age = (t - d.shared.receivedAt) / 1000.0;
        const double lateEnd = toLocal(d.shared.lateEnd);
        d.transition = true;
        if (d.shared.valid && d.shared.budgetKnown && lateEnd > t && age < 2.0) {
            // Split what the window under way has left, minus what the
            // others may have spent since we last looked.
            const double margin = (n - 1) + std::ceil(2.0 * budget * age / (w / 1000.0));
            d.allowance = int(std::floor(std::max(0.0, d.shared.remaining - margin) / n));
            d.transitionUntil = lateEnd;
        } else {
            // The window under way is unknown: wait it out.
            d.allowance = 0;
            d.transitionUntil = t + w + 1000.0;
        }
    }
    setMode(Mode::Degraded);
}

void RedisBudgetAuthority::setMode(Mode mode)
{
    if (mode == m_mode)
        return;
    m_mode = mode;
    switch (mode) {
    case Mode::Shared:
        m_outageStart = -1;
        qCInfo(lcRedis).noquote() << "sharing the rate budget through Redis";
        break;
    case Mode::Rejoining:
        qCInfo(lcRedis).noquote() << "Redis is back: rejoining the shared budget in" << kRejoinHoldMs / 1000
                                  << "s, local limit until then";
        break;
    case Mode::Degraded: {
        QStringList shares;
        for (const Domain &d : std::as_const(m_domains)) {
            if (budgetOf(d) > 0)
                shares << QStringLiteral("%1: %2 per %3 s").arg(d.name).arg(shareOf(d))
                              .arg((windowOf(d) + kSpanMarginMs) / 1000.0);
        }
        qCWarning(lcRedis).noquote() << "Redis unreachable: degraded mode, local limit budget /" << daemonsAlive()
                                     << "daemons per window + 2 s"
                                     << (shares.isEmpty() ? QString() : u'(' + shares.join(QLatin1String(", ")) + u')');
        break;
    }
    }
    emit modeChanged(mode);
}

} // namespace prawmp
