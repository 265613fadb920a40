#include "BudgetView.h"

#include <QTimer>

namespace prawmp {

PublishedBudgetView::PublishedBudgetView(const RateLimiter &limiter, QObject *parent)
    : QObject(parent), m_limiter(limiter)
{
    publish();
    m_timer = new QTimer(this);
    connect(m_timer, &QTimer::timeout, this, &PublishedBudgetView::publish);
    m_timer->start(kPublishIntervalMs);
}

DomainState PublishedBudgetView::state(const QString &domain) const
{
    std::shared_ptr<const QHash<QString, DomainState>> states;
    {
        std::lock_guard lock(m_mutex);
        states = m_states;
    }
    const auto it = states->constFind(domain);
    if (it != states->constEnd())
        return *it;
    DomainState unknown; // not seen by the limiter yet: as RateLimiter::state() answers
    unknown.domain = domain;
    return unknown;
}

void PublishedBudgetView::publish()
{
    auto states = std::make_shared<QHash<QString, DomainState>>();
    for (DomainState &s : m_limiter.states())
        states->insert(s.domain, std::move(s));
    std::lock_guard lock(m_mutex);
    m_states = std::move(states);
}

} // namespace prawmp
