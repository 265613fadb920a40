#include "PollPoller.h"

#ifndef _WIN32

#include <algorithm>
#include <cerrno>
#include <chrono>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace prawmp {

namespace {

short pollEvents(EventPoller::Interests interest, bool muted)
{
    short events = 0;
    if ((interest & EventPoller::Interest::Readable)
        || ((interest & EventPoller::Interest::PeerClosed) && !muted))
        events |= POLLIN;
    if (interest & EventPoller::Interest::Writable)
        events |= POLLOUT;
    return events;
}

bool setNonBlockingCloseOnExec(int fd)
{
    const int flags = ::fcntl(fd, F_GETFL);
    const int fdFlags = ::fcntl(fd, F_GETFD);
    return flags != -1 && fdFlags != -1 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0
        && ::fcntl(fd, F_SETFD, fdFlags | FD_CLOEXEC) == 0;
}

} // namespace

std::unique_ptr<PollPoller> PollPoller::create()
{
    // pipe2() is not on macOS.
    int fds[2];
    if (::pipe(fds) != 0)
        return nullptr;
    std::unique_ptr<PollPoller> poller(new PollPoller(fds[0], fds[1]));
    if (!setNonBlockingCloseOnExec(fds[0]) || !setNonBlockingCloseOnExec(fds[1]))
        return nullptr; // the destructor closes both
    return poller;
}

PollPoller::PollPoller(int wakeRead, int wakeWrite) : m_wakeRead(wakeRead), m_wakeWrite(wakeWrite)
{
    m_fds.push_back(pollfd{wakeRead, POLLIN, 0});
    m_entries.push_back(Entry{});
}

PollPoller::~PollPoller()
{
    const int saved = errno;
    ::close(m_wakeRead);
    ::close(m_wakeWrite);
    errno = saved;
}

bool PollPoller::add(int fd, Interests interest, void *tag)
{
    if (fd < 0 || ::fcntl(fd, F_GETFD) == -1) {
        errno = EBADF;
        return false;
    }
    if (m_index.count(fd)) {
        errno = EEXIST;
        return false;
    }
    m_index.emplace(fd, m_fds.size());
    m_fds.push_back(pollfd{fd, pollEvents(interest, false), 0});
    m_entries.push_back(Entry{tag, interest, false});
    return true;
}

bool PollPoller::modify(int fd, Interests interest, void *tag)
{
    const auto it = m_index.find(fd);
    if (it == m_index.end()) {
        errno = ENOENT;
        return false;
    }
    m_entries[it->second] = Entry{tag, interest, false};
    m_fds[it->second].events = pollEvents(interest, false);
    return true;
}

bool PollPoller::remove(int fd)
{
    const auto it = m_index.find(fd);
    if (it == m_index.end()) {
        errno = ENOENT;
        return false;
    }
    // The last one takes its place.
    const size_t place = it->second;
    const size_t last = m_fds.size() - 1;
    m_index.erase(it);
    if (place != last) {
        m_fds[place] = m_fds[last];
        m_entries[place] = m_entries[last];
        m_index[m_fds[place].fd] = place;
    }
    m_fds.pop_back();
    m_entries.pop_back();
    return true;
}

int PollPoller::wait(std::vector<Event> &out, int timeoutMs)
{
    out.clear();
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeoutMs, 0));
    // Again when all poll() found was bytes on fds watched for their end
    // alone (muted now, see collect()): to the caller, nothing happened.
    for (int remaining = timeoutMs;;) {
        const int n = ::poll(m_fds.data(), nfds_t(m_fds.size()), remaining);
        if (n < 0)
            return errno == EINTR ? 0 : -1;
        if (n == 0)
            return 0;
        bool woken = false;
        if (m_fds[0].revents) {
            drainWake();
            woken = true;
        }
        collect(out);
        if (!out.empty() || woken || timeoutMs == 0)
            return int(out.size());
        if (timeoutMs > 0) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0)
                return 0;
            remaining = int(left);
        }
    }
}

void PollPoller::collect(std::vector<Event> &out)
{
    for (size_t i = 1; i < m_fds.size(); ++i) {
        pollfd &p = m_fds[i];
        const short r = p.revents;
        if (!r)
            continue;
        Entry &entry = m_entries[i];
        Event e;
        e.tag = entry.tag;
        e.writable = r & POLLOUT;
        e.hangUp = r & POLLHUP;
        e.peerClosed = e.hangUp;
        e.error = r & (POLLERR | POLLNVAL);
        if (r & POLLIN) {
            if (entry.interest & Interest::Readable) {
                e.readable = true;
            } else {
                // PeerClosed alone: is it the end of the stream, or bytes?
                char byte;
                const ssize_t got = ::recv(p.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
                if (got == 0) {
                    e.peerClosed = true;
                } else if (got > 0 || errno == ENOTSOCK) {
                    entry.muted = true;
                    p.events = pollEvents(entry.interest, true);
                } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    e.error = true; // ECONNRESET and the like
                }
            }
        }
        if (e.readable || e.writable || e.peerClosed || e.error)
            out.push_back(e);
    }
}

void PollPoller::drainWake()
{
    // Bounded: wakes that come in meanwhile are left for the next wait().
    char buffer[256];
    for (int i = 0; i < 16; ++i) {
        if (::read(m_wakeRead, buffer, sizeof buffer) < ssize_t(sizeof buffer))
            return;
    }
}

void PollPoller::wake()
{
    // EAGAIN: the pipe is full, the poller woken already.
    const char one = 1;
    const int saved = errno;
    [[maybe_unused]] const ssize_t n = ::write(m_wakeWrite, &one, 1);
    errno = saved;
}

} // namespace prawmp

#endif // _WIN32
