#pragma once
#include "prawmp/HttpHeaders.h"
#include "prawmp/RateLimiter.h"

#include <QString>
#include <functional>

namespace prawmp {

// Decides for a RateLimiter whether one more request of a domain may leave
// now, when the budget is shared beyond this process (distributed mode:
// several daemons, one budget in Redis). The limiter keeps its fair queues
// locally and asks the authority only for slots. All calls and callbacks
// happen in the limiter's thread.
class PRAWMP_EXPORT BudgetAuthority
{
public:
    virtual ~BudgetAuthority();

    // Answers exactly once: waitSeconds <= 0 means a slot was taken for us;
    // otherwise ask again after waitSeconds.
    virtual void requestSlot(const QString &domain, std::function<void(double waitSeconds)> answer) = 0;
    // A slot granted by requestSlot() was not used after all.
    virtual void returnSlot(const QString &domain) = 0;
    // The request sent in a slot got an answer (headers non-null) or none.
    // grantedAtEpochMs: when the slot was used, on the wall clock.
    virtual void slotFinished(const QString &domain, qint64 grantedAtEpochMs, int status,
                              const HttpHeaders *headers) = 0;
    // What the authority knows of the domain's budget, for stats.
    virtual void describe(const QString &domain, DomainState &state) const = 0;
};

} // namespace prawmp
