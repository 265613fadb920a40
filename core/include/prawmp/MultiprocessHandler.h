#pragma once
#include "prawmp/Error.h"
#include "prawmp/Handler.h"
#include "prawmp/SseParser.h"

#include <QException>
#include <QJsonObject>
#include <QObject>
#include <QString>

#include <chrono>
#include <functional>
#include <memory>

namespace prawmp {

class DaemonEventStream;

// What MultiprocessHandler's futures (evict(), clear(), stats()) fail with:
// the original's ClientException. error().kind is DaemonUnavailable when the
// daemon could not be reached or kept dropping the connection, Timeout when
// no answer came within controlTimeout(); httpStatus() is set when the
// daemon answered with an error status (407, 400...).
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
    QFuture<int> clear() override;
    // GET /_mp/stats: the daemon's snapshot (StatsSnapshot::fromJson reads
    // it); fails with ClientException.
    QFuture<QJsonObject> stats();
    // GET /_mp/events as a live stream (the caller owns it). It reconnects
    // with the same back-off when the daemon goes away (see DaemonEventStream).
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

    // evict(), clear() and stats() that have no answer this long after the
    // call fail with ClientException, error().kind Timeout ("did not answer
    // ... within N seconds"), whatever held them up: a daemon that accepted
    // the connection and never answered, connect retries, a full pool. The
    // connection is dropped. Default 10 s; 0: wait forever. Calls already
    // made keep the timeout they started with. Requests and event streams
    // have their own rules (above, DaemonEventStream::setSilenceTimeout).
    void setControlTimeout(std::chrono::milliseconds timeout);
    std::chrono::milliseconds controlTimeout() const;

private:
    class Private;
    std::unique_ptr<Private> d;
    friend class DaemonEventStream;
};

class DaemonEventStreamPrivate;

// The daemon's /_mp/events stream (Server-Sent Events: "stats" frames at
// least every 500 ms, one "request" event per finished request). Created by
// MultiprocessHandler::openEventStream(), owned by the caller; deleting it
// or calling close() ends the subscription.
//
// It keeps itself up, so a watcher (the dashboard, `stats --watch`) survives
// daemon restarts:
//  - an attempt that fails (refused, timed out, a 5xx answer, silence) is
//    reported by attemptFailed() and tried again after the handler's
//    back-off (initialRetryDelay(), doubling up to maxRetryDelay());
//  - an open stream that breaks (the daemon stopped, the connection
//    dropped, silence) is reported by disconnected() and subscribed again
//    after initialRetryDelay();
//  - it gives up, with failed(), when the daemon refuses the subscription
//    with a 4xx (a missing or wrong proxy token is 407: retrying cannot
//    help), when a 200 answer is not an event stream (not a daemon), or
//    after maxAttempts() failed attempts in a row.
class PRAWMP_EXPORT DaemonEventStream : public QObject
{
    Q_OBJECT
public:
    enum class State {
        Connecting, // an attempt to subscribe is on its way
        Connected,  // the daemon accepted; events flow
        Retrying,   // the last attempt failed or the stream broke; next attempt in retryIn()
        Failed,     // given up: failed() was emitted, no more attempts
        Closed,     // close() was called
    };
    Q_ENUM(State)

    // Why the last attempt failed or the open stream ended.
    struct Failure
    {
        enum class Reason {
            None,
            Refused,          // nothing listens there
            HostNotFound,
            Timeout,          // the connect did not complete within connectTimeout()
            Network,          // another socket error, or an answer that is not HTTP
            HttpStatus,       // the daemon answered httpStatus instead of the stream
            NotAnEventStream, // a 200 that is not text/event-stream: not a daemon
            Silent,           // nothing arrived for silenceTimeout()
            Closed,           // the daemon ended or dropped the open stream
        };
        Reason reason = Reason::None;
        int httpStatus = 0;
        // The daemon's JSON "message", or the socket's error text.
        QString message;
    };

    ~DaemonEventStream() override;

    State state() const;
    bool isConnected() const;
    // close() was called: no more signals.
    bool isClosed() const;
    void close();

    Failure lastFailure() const;
    // Attempts that failed in a row since the stream was last connected.
    int failedAttempts() const;
    // While Retrying: how long until the next attempt; 0 otherwise.
    std::chrono::milliseconds retryIn() const;

    // Failed attempts in a row after which the stream gives up (failed()).
    // 0: never. Defaults to the handler's maxConnectAttempts() when opened.
    void setMaxAttempts(int attempts);
    int maxAttempts() const;

    // A stream, or an attempt, that receives nothing for this long is
    // dropped and tried again (a stopped process or a suspended machine
    // does not always close TCP). The daemon sends a stats frame at least
    // every 500 ms, so a few seconds is safe. 0 (default): no limit.
    void setSilenceTimeout(std::chrono::milliseconds timeout);
    std::chrono::milliseconds silenceTimeout() const;

signals:
    void stateChanged(prawmp::DaemonEventStream::State state);
    // The daemon accepted the subscription (again, after a reconnect).
    void connected();
    void eventReceived(const prawmp::SseParser::Event &event);
    // The open stream broke (lastFailure() says how); it subscribes again.
    void disconnected();
    // An attempt failed; the next one follows in retryIn().
    void attemptFailed(const prawmp::DaemonEventStream::Failure &failure);
    // Given up: no more events. httpStatus is the daemon's answer, 0 when
    // there was none. error.kind is Canceled when the handler was destroyed.
    void failed(const prawmp::Error &error, int httpStatus);

private:
    explicit DaemonEventStream(QObject *parent);
    friend class MultiprocessHandler;
    friend class DaemonEventStreamPrivate;

    std::unique_ptr<DaemonEventStreamPrivate> d;
};

} // namespace prawmp

Q_DECLARE_METATYPE(prawmp::DaemonEventStream::Failure)
