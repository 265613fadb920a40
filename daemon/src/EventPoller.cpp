#include "EventPoller.h"

#include "EpollPoller.h"
#include "PollPoller.h"

#include <QLoggingCategory>

#include <cerrno>

namespace prawmp {

namespace {

Q_LOGGING_CATEGORY(lcIo, "prawmp.io")

// PRAWMP_IO_BACKEND=poll|epoll picks the backend of Backend::Default, so
// that the portable path can be run (tests, debugging) on Linux. Unset or
// empty: the platform's best. Anything else is logged and ignored.
EventPoller::Backend defaultBackend()
{
    const QByteArray chosen = qgetenv("PRAWMP_IO_BACKEND").trimmed().toLower();
    if (chosen == "poll")
        return EventPoller::Backend::Poll;
#ifdef __linux__
    if (chosen == "epoll")
        return EventPoller::Backend::Epoll;
#endif
    if (!chosen.isEmpty())
        qCWarning(lcIo) << "PRAWMP_IO_BACKEND:" << chosen << "is not a backend here (poll, or epoll on Linux); using the default";
#ifdef __linux__
    return EventPoller::Backend::Epoll;
#else
    return EventPoller::Backend::Poll;
#endif
}

} // namespace

std::unique_ptr<EventPoller> EventPoller::create(Backend backend)
{
    if (backend == Backend::Default)
        backend = defaultBackend();
#ifdef __linux__
    if (backend == Backend::Epoll)
        return EpollPoller::create();
#endif
#ifndef _WIN32
    if (backend == Backend::Poll)
        return PollPoller::create();
#endif
    errno = ENOSYS; // epoll off Linux; Windows (see the class comment)
    return nullptr;
}

} // namespace prawmp
