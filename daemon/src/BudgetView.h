#pragma once
#include "prawmp/RateLimiter.h"

#include <QHash>
#include <QObject>

#include <memory>
#include <mutex>

class QTimer;

namespace prawmp {

// The limiter's view of a rate domain, as the X-Ratelimit-* fields of a hit
// show it, readable from any thread (the serving threads).
class BudgetView
{
public:
    virtual ~BudgetView() = default;
    virtual DomainState state(const QString &domain) const = 0;
};

// Local mode: the limiter itself, which is thread-safe.
class LimiterBudgetView : public BudgetView
{
public:
    explicit LimiterBudgetView(const RateLimiter &limiter) : m_limiter(limiter) {}
    DomainState state(const QString &domain) const override { return m_limiter.state(domain); }

private:
    const RateLimiter &m_limiter;
};

// Distributed mode: the limiter's view includes the Redis budget authority,
// which lives on the main thread. The main thread copies every domain's
// state every kPublishIntervalMs; the serving threads read the copy. Hits
// show a view at most that much older than the main thread's (the serving
// threads keep theirs for as long again in local mode).
class PublishedBudgetView : public QObject, public BudgetView
{
    Q_OBJECT
public:
    static constexpr int kPublishIntervalMs = 25;

    PublishedBudgetView(const RateLimiter &limiter, QObject *parent);
    DomainState state(const QString &domain) const override;

private:
    void publish();

    const RateLimiter &m_limiter;
    QTimer *m_timer = nullptr;
    mutable std::mutex m_mutex;
    std::shared_ptr<const QHash<QString, DomainState>> m_states;
};

} // namespace prawmp
