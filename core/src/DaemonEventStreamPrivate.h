#pragma once
#include "prawmp/MultiprocessHandler.h"

#include <QDeadlineTimer>

#include <chrono>
#include <functional>

namespace prawmp {

// A DaemonEventStream's state, written by MultiprocessHandler (which runs
// the subscription) and read through the stream's accessors. Setters that
// change what observers see emit the stream's signals.
class DaemonEventStreamPrivate
{
public:
    static DaemonEventStreamPrivate *get(DaemonEventStream *stream) { return stream->d.get(); }

    explicit DaemonEventStreamPrivate(DaemonEventStream *stream) : q(stream) {}

    void setState(DaemonEventStream::State state);
    // The daemon accepted: the back-off starts afresh next time.
    void markConnected();
    // Records an attempt that failed and returns the wait before the next
    // one: the handler's back-off for the n-th failure in a row.
    std::chrono::milliseconds recordFailedAttempt(const DaemonEventStream::Failure &failure,
                                                  std::chrono::milliseconds initialDelay,
                                                  std::chrono::milliseconds maxDelay);
    bool attemptsExhausted() const { return maxAttempts > 0 && failedAttempts >= maxAttempts; }

    DaemonEventStream *q;
    DaemonEventStream::State state = DaemonEventStream::State::Connecting;
    DaemonEventStream::Failure lastFailure;
    int failedAttempts = 0;
    int maxAttempts = 0;
    std::chrono::milliseconds silenceTimeout{0};
    QDeadlineTimer nextAttempt; // while Retrying
    std::function<void()> onClose; // ends the subscription in the handler
};

} // namespace prawmp
