#include "RequestEventFeed.h"

#include "StatsSink.h"

#include <chrono>

namespace prawmp {

bool RequestEventFeed::admit()
{
    if (!wanted())
        return false;
    const qint64 second = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::steady_clock::now().time_since_epoch()).count();
    qint64 seen = m_windowSecond.load(std::memory_order_relaxed);
    // The first thread into a new second starts its window. Two threads
    // crossing together may admit a few more than the rate: it is a sampling
    // bound, not an exact one; the counts stay exact either way.
    if (seen != second && m_windowSecond.compare_exchange_strong(seen, second, std::memory_order_relaxed))
        m_admittedInWindow.store(0, std::memory_order_relaxed);
    if (m_admittedInWindow.fetch_add(1, std::memory_order_relaxed) < kMaxEventsPerSecond)
        return true;
    m_sink.countRequestEventsNotSent(1);
    return false;
}

void RequestEventFeed::push(RequestRecord &&record)
{
    std::lock_guard lock(m_mutex);
    m_queued.append(std::move(record));
}

QList<RequestRecord> RequestEventFeed::take()
{
    std::lock_guard lock(m_mutex);
    return std::exchange(m_queued, {});
}

} // namespace prawmp
