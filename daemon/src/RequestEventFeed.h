#pragma once
#include "prawmp/RequestPipeline.h"

#include <QList>

#include <atomic>
#include <mutex>

namespace prawmp {

class StatsSink;

// The request events of /_mp/events, from every thread that answers
// requests, on their way to the main thread (EventSubscribers takes them in
// batches, every kBatchIntervalMs while anybody subscribes).
//
// Past kMaxEventsPerSecond the events of that second are not made at all,
// only counted (StatsSink::requestEventsNotSent, in every stats frame): a
// subscriber watches a sample under load and the serving threads pay for
// at most that many events. Nothing is made or counted while nobody
// subscribes. Owned by ProxyServer; outlives the serving threads.
class RequestEventFeed
{
public:
    static constexpr int kMaxEventsPerSecond = 2000;
    static constexpr int kBatchIntervalMs = 100;

    explicit RequestEventFeed(StatsSink &sink) : m_sink(sink) {}

    // Main thread: somebody subscribes (or nobody any more).
    void setWanted(bool wanted) { m_wanted.store(wanted, std::memory_order_relaxed); }
    bool wanted() const { return m_wanted.load(std::memory_order_relaxed); }

    // Any thread, before making an event: true if it is to be made and
    // push()ed; false if nobody wants it, or if it is over this second's
    // rate (then it is counted as not sent).
    bool admit();
    void push(RequestRecord &&record);

    // Main thread: the events pushed since the last call, in order.
    QList<RequestRecord> take();

private:
    StatsSink &m_sink;
    std::atomic<bool> m_wanted{false};
    // The current one-second window of the rate and what it admitted.
    std::atomic<qint64> m_windowSecond{-1};
    std::atomic<int> m_admittedInWindow{0};
    std::mutex m_mutex;
    QList<RequestRecord> m_queued;
};

} // namespace prawmp
