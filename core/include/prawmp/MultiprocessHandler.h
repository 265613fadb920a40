#pragma once
#include "prawmp/Error.h"
#include "prawmp/Handler.h"
#include "prawmp/SseParser.h"

#include <QException>
#include <QObject>
#include <QString>

#include <chrono>
#include <functional>
#include <memory>

namespace prawmp {

class DaemonEventStream;

// What MultiprocessHandler's futures (evict(), clear()) fail with: the
// original's ClientException. error().kind is DaemonUnavailable when the
// daemon could not be reached or kept dropping the connection; httpStatus()
// is set when the daemon answered with an error status (407, 400...).
class PRAWMP_EXPORT ClientException : public QException
{
public:
    explicit ClientException(const Error &error, int httpStatus = 0);

    const Error &error() const { return m_error; }
    int httpStatus() const { return m_httpStatus; }

    const char *what() const noexcept override { return m_what.constData(); }
    void raise() const override { throw *this; }
    ClientException *clone() const override { return new ClientException(*this); }

private:
    Error m_error;
    int m_httpStatus = 0;
    QByteArray m_what;
};

// Sends every request to a praw-multiprocess daemon instead of doing the
// work in this process: the daemon caches, coalesces and paces the requests
// of all its clients against one budget. Same Handler interface as
// DefaultHandler, so switching is one line:
//
//   prawmp::MultiprocessHandler handler;            // localhost:10101
//   prawmp::Reply *reply = handler.request(request);
//
// Talks HTTP/1.1 with keep-alive; up to maxConnections() requests are in
// flight at once, the rest wait in order. Absolute request URLs are sent in
// absolute-form (the daemon forwards them to allowed hosts), relative ones
// ("/r/python/hot.json") in origin-form (the daemon routes them).
//
// Resilience (the original's promise, so a daemon can be restarted under
// running clients):
//  - The daemon cannot be reached (connection refused, connect timeout):
//    nothing was sent, so the requests wait and the handler tries again
//    after 2, 4, 8... up to 64 seconds, logging on "prawmp.client":
//    "Cannot connect to multiprocess server. Is it running? Retrying in N seconds."
//    It retries forever unless setMaxConnectAttempts() says otherwise.
//  - An established connection fails before the whole answer arrived
//    (reset, closed mid-answer): the request is sent again at once on a new
//    connection; the third such failure in a row ends it with
//    Error::Kind::DaemonUnavailable ("Successive failures reading from the
//    multiprocess server"). A keep-alive connection found closed before a
//    single byte of the answer is a stale connection, not a failure: the
//    request is sent again without counting it.
//  - Writes are never sent twice behind the caller's back: a POST, PUT,
//    PATCH or DELETE whose answer was lost after the daemon may have
//    received it fails at once with DaemonUnavailable (the message says it
//    may have been processed), unless setRetryUnsafeRequests(true). Writes
//    always go on a fresh connection so a stale keep-alive connection
//    cannot cost them their only attempt.
//
// Answers the daemon generates for a failed request (502/503/504/403 with
// the contract's JSON error) end the reply with the same Error kinds
// DefaultHandler reports; every other answer, 4xx/5xx included, is a
// Response. cacheStatus() and ageSeconds() come from X-Cache and Age.
//
// Lives in the thread that creates it (which must run an event loop).
// Replies still pending when the handler is destroyed finish with Canceled.
class PRAWMP_EXPORT MultiprocessHandler : public Handler
{
public:
    static constexpr quint16 kDefaultPort = 10101;

    explicit MultiprocessHandler(const QString &host = QStringLiteral("localhost"),
                                 quint16 port = kDefaultPort);
    ~MultiprocessHandler() override;
    MultiprocessHandler(const MultiprocessHandler &) = delete;
    MultiprocessHandler &operator=(const MultiprocessHandler &) = delete;

    Reply *request(const Request &request) override;
    // POST /_mp/evict; fails with ClientException.
    QFuture<int> evict(const QStringList &urls) override;
    // POST /_mp/clear: drops the daemon's whole cache; fails with ClientException.
    QFuture<int> clear();
    // GET /_mp/events as a live stream (the caller owns it). It reconnects
    // with the same back-off when the daemon goes away.
    DaemonEventStream *openEventStream(QObject *parent = nullptr);

    QString host() const;
    quint16 port() const;

    // Sent as "Proxy-Authorization: Bearer TOKEN" (daemon's --auth-token).
    void setProxyToken(const QString &token);
    QString proxyToken() const;

    // First wait after a failed connect; doubles up to maxRetryDelay().
    // Defaults: 2 s and 64 s.
    void setInitialRetryDelay(std::chrono::milliseconds delay);
    std::chrono::milliseconds initialRetryDelay() const;
    void setMaxRetryDelay(std::chrono::milliseconds delay);
    std::chrono::milliseconds maxRetryDelay() const;

    // Failed connects in a row after which waiting requests fail with
    // DaemonUnavailable. 0 (default): retry forever; 1: no retry.
    void setMaxConnectAttempts(int attempts);
    int maxConnectAttempts() const;

    // Attempts a request gets when established connections keep failing
    // under it (default 3, the original's).
    void setMaxAttempts(int attempts);
    int maxAttempts() const;

    // Opt-in: send a write method again when its answer was lost (only
    // when the request is idempotent in your application). Default false.
    void setRetryUnsafeRequests(bool retry);
    bool retryUnsafeRequests() const;

    // Connections to the daemon, i.e. requests in flight (default 8).
    void setMaxConnections(int connections);
    int maxConnections() const;

    // A connect that has not completed by then counts as failed (default 10 s).
    void setConnectTimeout(std::chrono::milliseconds timeout);
    std::chrono::milliseconds connectTimeout() const;

private:
    class Private;
    std::unique_ptr<Private> d;
    friend class DaemonEventStream;
};

// The daemon's /_mp/events stream (Server-Sent Events: "stats" frames at
// least every 500 ms, one "request" event per finished request). Created by
// MultiprocessHandler::openEventStream(), owned by the caller; deleting it
// or calling close() ends the subscription.
class PRAWMP_EXPORT DaemonEventStream : public QObject
{
    Q_OBJECT
public:
    ~DaemonEventStream() override;

    bool isConnected() const { return m_connected; }
    // close() was called: no more signals.
    bool isClosed() const { return m_closed; }
    void close();

signals:
    // The daemon accepted the subscription (again, after a reconnect).
    void connected();
    void eventReceived(const prawmp::SseParser::Event &event);
    // The stream broke; the handler reconnects on its own.
    void disconnected();
    // Given up (daemon refused the subscription, retries exhausted): no
    // more events. httpStatus is the daemon's answer, 0 when there was none.
    void failed(const prawmp::Error &error, int httpStatus);

private:
    explicit DaemonEventStream(QObject *parent);
    friend class MultiprocessHandler;

    bool m_connected = false;
    bool m_closed = false;
    std::function<void()> m_onClose;
};

} // namespace prawmp
