#pragma once
#include <QByteArray>
#include <QtGlobal>

#include <functional>
#include <memory>

namespace prawmp {

struct Response;

// One /_mp/events subscriber's connection as EventSubscribers sees it, on
// the main thread, whichever thread holds the connection: a serving
// thread's (ServingThreadStream), or in the tests an HttpConnection's
// (HttpConnection::eventStream). The connection frames what is written
// (chunked for HTTP/1.1) and ends the stream when it closes.
class EventStream
{
public:
    virtual ~EventStream() = default;

    // Answers the subscribing request with `head`, in its turn after the
    // answers owed before it; what write() is given follows it. A positive
    // `sendBufferBytes` caps the socket's SO_SNDBUF, so that backlog() is
    // close to what the subscriber really has not taken.
    virtual void start(const Response &head, int sendBufferBytes) = 0;
    virtual void write(const QByteArray &data) = 0;
    // Bytes written here that the kernel has not taken yet.
    virtual qint64 backlog() const = 0;
    // False once the subscriber left or the stream was closed.
    virtual bool isOpen() const = 0;
    // Ends the stream at once (a subscriber too far behind).
    virtual void close() = 0;
    // Called on the main thread, later, once the stream is no longer open.
    virtual void setClosedHandler(std::function<void()> handler) = 0;
};

using EventStreamPtr = std::shared_ptr<EventStream>;

} // namespace prawmp
