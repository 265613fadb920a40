#pragma once

#include "EventPoller.h"

#ifdef __linux__

namespace prawmp {

// EventPoller on Linux epoll, level-triggered, woken by an eventfd. Interest
// PeerClosed is EPOLLRDHUP itself.
class EpollPoller final : public EventPoller
{
public:
    // nullptr (errno set) when epoll_create1() or eventfd() fails.
    static std::unique_ptr<EpollPoller> create();
    ~EpollPoller() override;

    Backend backend() const override { return Backend::Epoll; }
    const char *name() const override { return "epoll"; }
    bool add(int fd, Interests interest, void *tag) override;
    bool modify(int fd, Interests interest, void *tag) override;
    bool remove(int fd) override;
    int wait(std::vector<Event> &out, int timeoutMs) override;
    void wake() override;

private:
    EpollPoller(int epollFd, int wakeFd);

    int m_epoll = -1;
    int m_wake = -1; // eventfd, registered with m_wake's address as its tag
};

} // namespace prawmp

#endif // __linux__
