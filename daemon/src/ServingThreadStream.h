#pragma once
#include "EventStream.h"
#include "prawmp/Response.h"

#include <QList>

#include <atomic>
#include <mutex>

namespace prawmp {

// The /_mp/events stream of a connection a serving thread holds: the main
// thread (EventSubscribers) writes frames here, and the serving thread that
// holds the connection takes them and writes them there, as it writes every
// other answer. So watching the daemon never moves a connection.
//
// The main thread calls the EventStream side; the serving thread calls
// take(), setUnwritten() and ended(). `notify` (main thread) tells the
// serving thread there is something to take: at most once until it takes it.
class ServingThreadStream final : public EventStream,
                                  public std::enable_shared_from_this<ServingThreadStream>
{
public:
    using Notify = std::function<void(std::shared_ptr<ServingThreadStream>)>;

    ServingThreadStream(quint64 connection, quint64 sequence, Notify notify);

    // EventStream, main thread.
    void start(const Response &head, int sendBufferBytes) override;
    void write(const QByteArray &data) override;
    qint64 backlog() const override;
    bool isOpen() const override;
    void close() override;
    void setClosedHandler(std::function<void()> handler) override;

    quint64 connection() const { return m_connection; }
    quint64 sequence() const { return m_sequence; }

    // Serving thread: what the main thread gave since the last take().
    struct News
    {
        bool started = false; // the head, once
        Response head;
        int sendBufferBytes = 0;
        QList<QByteArray> data;
        bool closeAsked = false;
    };
    News take();
    // The bytes the serving thread holds that the socket has not taken.
    void setUnwritten(qint64 bytes);
    // The connection is gone: isOpen() turns false, and the closed handler
    // runs on the main thread.
    void ended();

private:
    void notifyOnce();

    const quint64 m_connection;
    const quint64 m_sequence;
    const Notify m_notify;
    mutable std::mutex m_mutex;
    News m_news;
    std::function<void()> m_closedHandler;
    bool m_notified = false; // under m_mutex
    std::atomic<bool> m_open{true};
    std::atomic<qint64> m_queuedBytes{0};  // written here, not taken yet
    std::atomic<qint64> m_unwritten{0};    // taken, not yet in the kernel
};

} // namespace prawmp
