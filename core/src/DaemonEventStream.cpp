// DaemonEventStream: what a watcher of the daemon sees (state, last
// failure, back-off); MultiprocessHandler.cpp runs the subscription itself.
#include "DaemonEventStreamPrivate.h"

#include <algorithm>

namespace prawmp {

using std::chrono::milliseconds;

void DaemonEventStreamPrivate::setState(DaemonEventStream::State newState)
{
    if (state == newState || state == DaemonEventStream::State::Closed)
        return;
    state = newState;
    emit q->stateChanged(newState);
}

void DaemonEventStreamPrivate::markConnected()
{
    failedAttempts = 0;
    lastFailure = {};
    setState(DaemonEventStream::State::Connected);
}

milliseconds DaemonEventStreamPrivate::recordFailedAttempt(const DaemonEventStream::Failure &failure,
                                                           milliseconds initialDelay, milliseconds maxDelay)
{
    lastFailure = failure;
    ++failedAttempts;
    // initial, 2 x initial, 4 x initial... as the handler's connect back-off.
    milliseconds delay = initialDelay;
    for (int i = 1; i < failedAttempts && delay < maxDelay; ++i)
        delay *= 2;
    return std::min(delay, maxDelay);
}

DaemonEventStream::DaemonEventStream(QObject *parent)
    : QObject(parent), d(std::make_unique<DaemonEventStreamPrivate>(this))
{
    qRegisterMetaType<DaemonEventStream::Failure>();
    qRegisterMetaType<DaemonEventStream::State>();
}

DaemonEventStream::~DaemonEventStream()
{
    // As close(), without signals to receivers of a half-destroyed object.
    d->state = State::Closed;
    if (auto onClose = std::exchange(d->onClose, nullptr))
        onClose();
}

DaemonEventStream::State DaemonEventStream::state() const { return d->state; }
bool DaemonEventStream::isConnected() const { return d->state == State::Connected; }
bool DaemonEventStream::isClosed() const { return d->state == State::Closed; }

void DaemonEventStream::close()
{
    if (d->state == State::Closed)
        return;
    d->setState(State::Closed);
    if (auto onClose = std::exchange(d->onClose, nullptr))
        onClose();
}

DaemonEventStream::Failure DaemonEventStream::lastFailure() const { return d->lastFailure; }
int DaemonEventStream::failedAttempts() const { return d->failedAttempts; }

milliseconds DaemonEventStream::retryIn() const
{
    if (d->state != State::Retrying)
        return milliseconds(0);
    return std::max(milliseconds(0), milliseconds(d->nextAttempt.remainingTime()));
}

void DaemonEventStream::setMaxAttempts(int attempts) { d->maxAttempts = std::max(0, attempts); }
int DaemonEventStream::maxAttempts() const { return d->maxAttempts; }

void DaemonEventStream::setSilenceTimeout(milliseconds timeout) { d->silenceTimeout = std::max(milliseconds(0), timeout); }
milliseconds DaemonEventStream::silenceTimeout() const { return d->silenceTimeout; }

} // namespace prawmp
