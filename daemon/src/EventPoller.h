#pragma once

#include <QFlags>

#include <memory>
#include <vector>

namespace prawmp {

// The byte I/O readiness of the serving threads (ProxyWorker), behind one
// small interface so that the serving logic is written once: epoll on Linux
// (EpollPoller), poll(2) elsewhere (PollPoller). Level-triggered: an fd is
// reported by every wait() for as long as it is ready for what it was
// registered for, as epoll without EPOLLET.
//
// Owned and used by one thread (add, modify, remove, wait); only wake() may
// be called from any thread, for as long as the poller lives.
//
// Picking the backend: create(Backend::Default) is epoll on Linux and poll
// elsewhere; the environment variable PRAWMP_IO_BACKEND=poll|epoll overrides
// that default (for tests and debugging: the portable path runs on Linux too).
//
// Peer close. Interest PeerClosed is what EPOLLRDHUP is on Linux; it has no
// portable equivalent, so the caller must:
//  - when it asked for Readable, treat recv() returning 0 as the peer's end.
//    Epoll reports a peer's shutdown(SHUT_WR) or close() as readable and
//    peerClosed; poll reports it as readable, and peerClosed only once the
//    connection is down in both directions (POLLHUP).
//  - when it asked for PeerClosed without Readable (ProxyWorker: a request
//    passed on to the main thread, nothing read until its answer is
//    written), rely on peerClosed for a peer that ends its side while nothing
//    unread is waiting: both backends report it (poll by peeking one byte
//    when the socket turns readable). Unread bytes are not reported either
//    way; after them, only epoll still notices the peer's end: poll stops
//    watching the fd for reading until the next modify(), so as not to spin,
//    and the caller finds the end when it reads again.
//
// Windows: not implemented. It would need a WSAPoll backend (same shape as
// PollPoller, over SOCKETs, with a connected loopback socket pair instead of
// the self-pipe for wake()); the serving threads also use POSIX sockets
// directly, so a Windows build would leave them out (daemon/CMakeLists.txt)
// rather than build them on this interface.
class EventPoller
{
public:
    enum class Interest {
        Readable = 0x1,   // EPOLLIN / POLLIN
        Writable = 0x2,   // EPOLLOUT / POLLOUT
        PeerClosed = 0x4, // EPOLLRDHUP; emulated by poll, see above
    };
    Q_DECLARE_FLAGS(Interests, Interest)

    enum class Backend {
        Default, // epoll on Linux, poll elsewhere; PRAWMP_IO_BACKEND overrides
        Epoll,   // Linux only
        Poll,    // any Unix
    };

    // One ready fd of one wait(). Errors and hang-ups are reported whatever
    // the interest, as epoll and poll do.
    struct Event
    {
        void *tag = nullptr;     // as given to add() or the last modify()
        bool readable = false;
        bool writable = false;
        bool peerClosed = false; // the peer sends nothing more (RDHUP, or HUP)
        bool hangUp = false;     // down in both directions (HUP); implies peerClosed
        bool error = false;      // EPOLLERR / POLLERR / POLLNVAL
    };

    virtual ~EventPoller() = default;

    // nullptr when the backend is not available here (Epoll but not Linux)
    // or its descriptors could not be made (errno says why).
    static std::unique_ptr<EventPoller> create(Backend backend = Backend::Default);

    virtual Backend backend() const = 0;
    virtual const char *name() const = 0; // "epoll", "poll": for the log

    // false with errno set on failure (EEXIST: already added; ENOENT: not
    // added; EBADF: not an open descriptor). Call remove() before close(fd):
    // poll would report the closed fd as an error, or a later fd of the same
    // number under the old tag.
    virtual bool add(int fd, Interests interest, void *tag) = 0;
    virtual bool modify(int fd, Interests interest, void *tag) = 0;
    virtual bool remove(int fd) = 0;

    // Waits up to timeoutMs (-1: no limit, 0: just looks) for ready fds or a
    // wake(), and replaces the contents of `out` with the ready fds. Returns
    // their number, 0 on timeout, wake() or EINTR, -1 with errno on failure.
    // A wake() is never reported as an event; nor, with poll, are the bytes
    // that mute an fd watched for PeerClosed alone (the wait goes on).
    //
    // The events are a snapshot: an fd removed while handling an earlier
    // event of the same batch may still come later in it, so its tag must
    // stay valid until the batch is done (ProxyWorker's m_dead does that).
    //
    // From epoll's events: EPOLLIN is readable, EPOLLOUT writable, EPOLLERR
    // error, EPOLLHUP hangUp, and EPOLLHUP | EPOLLRDHUP peerClosed.
    virtual int wait(std::vector<Event> &out, int timeoutMs) = 0;

    // Any thread: makes a concurrent wait() return, or the next one if none
    // is waiting. Wakes before a wait() fold into one.
    virtual void wake() = 0;

protected:
    EventPoller() = default;
    EventPoller(const EventPoller &) = delete;
    EventPoller &operator=(const EventPoller &) = delete;

    // Epoll reports at most this many fds per wait() (the rest stay ready
    // for the next one); poll reports all it found.
    static constexpr int kMaxEventsPerWait = 256;
};

} // namespace prawmp

Q_DECLARE_OPERATORS_FOR_FLAGS(prawmp::EventPoller::Interests)
