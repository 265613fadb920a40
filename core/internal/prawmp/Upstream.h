#pragma once
#include "prawmp/Error.h"
#include "prawmp/Request.h"
#include "prawmp/Response.h"

#include <QObject>
#include <functional>
#include <memory>

class QSslConfiguration;

namespace prawmp {

// Sends requests to the real server over our own HTTP/1.1 client: per
// origin (scheme, host, port) a small pool of keep-alive connections, one
// request at a time on each (no pipelining), https verified against the
// system's CA certificates. Lives in one thread (the pipeline's); never
// blocks it.
//
// What goes out: the method, the URL's path and query, Host from the URL,
// the request's headers except hop-by-hop ones, Host and Content-Length
// (Content-Length is set when there is a body, and always for POST, PUT and
// PATCH), the body. Accept-Encoding passes as the caller sent it; nothing is
// added. What comes back: status, reason, the headers in order with
// duplicates, the body de-chunked (Transfer-Encoding removed). Redirects are
// not followed (a 302 comes back as a 302); interim 1xx answers are skipped.
//
// A request is never sent twice behind the caller's back (the rate limiter
// counts what it dispatched), with one exception: when an idle keep-alive
// connection turns out to be dead before the request reached the upstream
// (writing failed, or the upstream reset the connection, with no byte of an
// answer), a GET or HEAD is retried once on a fresh connection; any other
// method fails with ConnectionFailed and is not resent. A connection already
// closed while idle is noticed before anything is written on it, and the
// request simply goes on a fresh connection (that is not a resend).
//
// Errors: refused, unreachable, reset, or closed before any byte of an
// answer, and an answer cut short (Content-Length not reached, chunked body
// not finished) -> ConnectionFailed ("upstream closed the connection
// mid-answer" for the latter); bytes that are not an HTTP answer ->
// BadResponse; no complete answer within timeout() (counted from send(),
// queueing for a connection included) -> Timeout.
class PRAWMP_EXPORT Upstream : public QObject
{
    Q_OBJECT
public:
    using Callback = std::function<void(const Response &, const Error &)>;

    explicit Upstream(QObject *parent = nullptr);
    ~Upstream() override;

    void setTimeout(double seconds);
    double timeout() const;

    // At most this many connections per origin (default 16); requests
    // beyond wait, in order, for one to become free.
    void setMaxConnectionsPerOrigin(int count);
    int maxConnectionsPerOrigin() const;

    // TLS settings for https (default: QSslConfiguration::defaultConfiguration(),
    // which verifies the peer against the system's CA certificates). Applies
    // to connections opened afterwards.
    void setSslConfiguration(const QSslConfiguration &configuration);
    QSslConfiguration sslConfiguration() const;

    // Sends now; `done` runs exactly once, never from inside send(), unless
    // abort() is called first. Returns an id for abort(). `written`, if set,
    // runs when the request's bytes are handed to the kernel (possibly from
    // inside send(); after a connect, later): the moment the upstream sees
    // it, which a rate limiter paces from.
    quint64 send(const Request &request, Callback done, std::function<void()> written = {});
    // Forgets the request: `done` will not run. A connection carrying it is
    // closed (its answer could not be told from the next one's).
    void abort(quint64 id);
    // Opens a connection to the URL's origin ahead of the first request (TLS
    // handshake included for https), kept in the pool like an idle one.
    void preconnect(const QUrl &url);
    // Requests sent and not yet answered, failed or aborted.
    int inFlight() const;
    // Open (or opening) upstream connections, all origins together.
    int connectionCount() const;

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace prawmp
