#pragma once
#include "prawmp/HttpHeaders.h"
#include "prawmp/PipelineStats.h"

#include <QDateTime>
#include <QObject>
#include <QString>
#include <functional>
#include <memory>

namespace prawmp {

enum class RateMode { Adaptive, Fixed };

struct PRAWMP_EXPORT RateLimitConfig
{
    RateMode mode = RateMode::Adaptive;
    // Fixed policy: seconds between two upstream requests of one domain.
    // Adaptive policy: the pace used until the upstream announces a budget.
    double delaySeconds = 2.0;
    // Adaptive policy: share of a window's budget that may leave at once
    // after an idle spell; the rest is paced to last until the reset.
    double burstFraction = 0.5;
};

// The rate-limit headers of one answer, read as Reddit sends them:
// X-Ratelimit-Remaining as a float ("599.0"); a repeated header or a
// comma-joined value ("991, 98") takes the most conservative reading
// (most used, least remaining, latest reset, longest Retry-After).
struct PRAWMP_EXPORT RateHeaders
{
    bool hasUsed = false, hasRemaining = false, hasReset = false, hasRetryAfter = false;
    double used = 0;
    double remaining = 0;
    double reset = 0;
    double retryAfter = 0;

    static RateHeaders parse(const HttpHeaders &headers);
};

// Decides when each upstream request may leave, per rate domain (the
// upstream host). Waiting requests are served round-robin per client.
// Never blocks: a grant is a callback run in the context object's thread.
// Thread-safe.
// What one domain spent of the window under way (adaptive policy), handed
// from a daemon to the one that replaces it: without it, the successor
// reads its predecessor's requests in the announced count as another
// program's spending and keeps that much free for it in the next window.
struct PRAWMP_EXPORT WindowSpending
{
    QString domain;
    int own = 0;           // our requests counted in that window
    QDateTime earlyEnd;    // the window ends within [earlyEnd, lateEnd]
    QDateTime lateEnd;
};

class PRAWMP_EXPORT RateLimiter : public QObject
{
    Q_OBJECT
public:
    using Ticket = quint64;

    explicit RateLimiter(const RateLimitConfig &config = {}, QObject *parent = nullptr);
    ~RateLimiter() override;

    void setConfig(const RateLimitConfig &config);
    RateLimitConfig config() const;

    // Distributed mode: slots come from this authority (not owned; must
    // outlive the limiter or be unset). nullptr: the budget is local.
    void setAuthority(class BudgetAuthority *authority);

    // Queues a request; `granted` runs (in `context`'s thread, unless the
    // context is gone) when it may be sent. Every granted ticket must later
    // be closed with complete() or fail().
    Ticket acquire(const QString &domain, const QString &clientId, QObject *context,
                   std::function<void()> granted);
    // Removes a waiting ticket; returns false if it was already granted.
    bool cancel(Ticket ticket);

    // The granted request leaves now. The fixed pace counts from here rather
    // than from the grant: its dispatch may have waited behind other events.
    void sent(Ticket ticket);
    // The granted request got an answer: learn the budget from its headers.
    void complete(Ticket ticket, int status, const HttpHeaders &headers);
    // The granted request got no answer (it may still have been counted).
    void fail(Ticket ticket);

    // Milliseconds a new request from this client would wait, estimated.
    qint64 expectedWaitMs(const QString &domain, const QString &clientId) const;
    DomainState state(const QString &domain) const;
    QList<DomainState> states() const;

    // Our spending in each domain's window under way (windows that may not
    // have ended yet), and the same handed on to a new limiter: a domain's
    // first answer, if it falls in that window, counts those as ours.
    QList<WindowSpending> windowSpending() const;
    void carryWindowSpending(const QList<WindowSpending> &spending);

signals:
    // Emitted after a 429 pauses a domain.
    void domainPaused(const QString &domain, double seconds);

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace prawmp
