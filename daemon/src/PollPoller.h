#pragma once

#include "EventPoller.h"

#ifndef _WIN32

#include <unordered_map>

struct pollfd;

namespace prawmp {

// EventPoller on POSIX poll(2), woken by a self-pipe: builds on any Unix
// (macOS, the BSDs; on Linux for tests, PRAWMP_IO_BACKEND=poll). Each wait()
// hands the kernel the whole set, so it costs O(registered fds); fine for
// the few hundred connections of a serving thread off Linux.
//
// Interest PeerClosed without Readable is emulated: the fd is polled for
// POLLIN, and when it turns readable one byte is peeked. End of stream is
// reported as peerClosed; bytes mute the fd's POLLIN until the next modify()
// (level-triggered, it would be reported again at once by every wait()).
// POLLRDHUP (Linux only) is deliberately not used, so that the Linux runs
// of this backend go the way it goes on macOS.
class PollPoller final : public EventPoller
{
public:
    // nullptr (errno set) when pipe() fails.
    static std::unique_ptr<PollPoller> create();
    ~PollPoller() override;

    Backend backend() const override { return Backend::Poll; }
    const char *name() const override { return "poll"; }
    bool add(int fd, Interests interest, void *tag) override;
    bool modify(int fd, Interests interest, void *tag) override;
    bool remove(int fd) override;
    int wait(std::vector<Event> &out, int timeoutMs) override;
    void wake() override;

private:
    struct Entry
    {
        void *tag = nullptr;
        Interests interest;
        bool muted = false; // PeerClosed alone, and unread bytes: no POLLIN
    };

    PollPoller(int wakeRead, int wakeWrite);
    void collect(std::vector<Event> &out);
    void drainWake();

    int m_wakeRead = -1;
    int m_wakeWrite = -1;
    // m_fds[0] is the self-pipe; m_fds[i] and m_entries[i] go together.
    std::vector<pollfd> m_fds;
    std::vector<Entry> m_entries;
    std::unordered_map<int, size_t> m_index; // fd -> its place in m_fds
};

} // namespace prawmp

#endif // _WIN32
