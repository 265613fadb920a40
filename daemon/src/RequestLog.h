#pragma once
#include "prawmp/RequestPipeline.h"

#include <QByteArray>
#include <QString>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace prawmp {

// --log-requests: one line per request (category prawmp.requests), written
// by a thread of its own, so that neither the serving threads nor the main
// thread wait for the terminal or the journal.
//
// Any thread hands over an entry; formatting, redaction of the bodies and
// the write happen on the log thread. At most kMaxQueued entries wait: past
// that they are dropped and counted, and the log says how many before the
// next line it writes. Owned by ProxyServer; outlives the serving threads.
class RequestLog
{
public:
    static constexpr size_t kMaxQueued = 65536;

    struct Entry
    {
        RequestRecord record;    // url already redacted
        QByteArray requestBody;  // --log-requests 2 only; redacted when written
        QByteArray responseBody;
    };

    RequestLog();
    // Writes what is still queued, then stops the thread.
    ~RequestLog();

    // 0: off, 1: one line per request, 2: with the bodies (first 2 KiB).
    void setLevel(int level) { m_level.store(level, std::memory_order_relaxed); }
    int level() const { return m_level.load(std::memory_order_relaxed); }

    // Any thread.
    void write(Entry &&entry);

    // "HIT GET <url> 200 HIT wait=0ms total=0ms", plus the bodies at level 2.
    static QString format(const Entry &entry, int level);

private:
    void run();

    std::atomic<int> m_level{0};
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<Entry> m_queue;
    quint64 m_dropped = 0;
    bool m_quit = false;
    std::thread m_thread;
};

} // namespace prawmp
