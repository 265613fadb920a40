#include "EpollPoller.h"

#ifdef __linux__

#include <array>
#include <cerrno>
#include <cstdint>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace prawmp {

namespace {

uint32_t epollEvents(EventPoller::Interests interest)
{
    uint32_t events = 0;
    if (interest & EventPoller::Interest::Readable)
        events |= EPOLLIN;
    if (interest & EventPoller::Interest::Writable)
        events |= EPOLLOUT;
    if (interest & EventPoller::Interest::PeerClosed)
        events |= EPOLLRDHUP;
    return events;
}

} // namespace

std::unique_ptr<EpollPoller> EpollPoller::create()
{
    const int epollFd = epoll_create1(EPOLL_CLOEXEC);
    if (epollFd < 0)
        return nullptr;
    const int wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wakeFd < 0) {
        const int saved = errno;
        ::close(epollFd);
        errno = saved;
        return nullptr;
    }
    std::unique_ptr<EpollPoller> poller(new EpollPoller(epollFd, wakeFd));
    // The wake fd's tag is the address of m_wake: no caller's tag can be it,
    // not even nullptr.
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &poller->m_wake;
    if (epoll_ctl(epollFd, EPOLL_CTL_ADD, wakeFd, &ev) != 0)
        return nullptr; // the destructor closes both
    return poller;
}

EpollPoller::EpollPoller(int epollFd, int wakeFd) : m_epoll(epollFd), m_wake(wakeFd) {}

EpollPoller::~EpollPoller()
{
    const int saved = errno;
    ::close(m_wake);
    ::close(m_epoll);
    errno = saved;
}

bool EpollPoller::add(int fd, Interests interest, void *tag)
{
    epoll_event ev{};
    ev.events = epollEvents(interest);
    ev.data.ptr = tag;
    return epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EpollPoller::modify(int fd, Interests interest, void *tag)
{
    epoll_event ev{};
    ev.events = epollEvents(interest);
    ev.data.ptr = tag;
    return epoll_ctl(m_epoll, EPOLL_CTL_MOD, fd, &ev) == 0;
}

bool EpollPoller::remove(int fd)
{
    return epoll_ctl(m_epoll, EPOLL_CTL_DEL, fd, nullptr) == 0;
}

int EpollPoller::wait(std::vector<Event> &out, int timeoutMs)
{
    out.clear();
    std::array<epoll_event, kMaxEventsPerWait> events;
    const int n = epoll_wait(m_epoll, events.data(), int(events.size()), timeoutMs);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; ++i) {
        const epoll_event &ev = events[size_t(i)];
        if (ev.data.ptr == &m_wake) {
            uint64_t count = 0;
            [[maybe_unused]] const ssize_t r = ::read(m_wake, &count, sizeof count);
            continue;
        }
        Event e;
        e.tag = ev.data.ptr;
        e.readable = ev.events & EPOLLIN;
        e.writable = ev.events & EPOLLOUT;
        e.hangUp = ev.events & EPOLLHUP;
        e.peerClosed = ev.events & (EPOLLRDHUP | EPOLLHUP);
        e.error = ev.events & EPOLLERR;
        out.push_back(e);
    }
    return int(out.size());
}

void EpollPoller::wake()
{
    // EAGAIN only at a counter near 2^64: woken already.
    const uint64_t one = 1;
    const int saved = errno;
    [[maybe_unused]] const ssize_t n = ::write(m_wake, &one, sizeof one);
    errno = saved;
}

} // namespace prawmp

#endif // __linux__
