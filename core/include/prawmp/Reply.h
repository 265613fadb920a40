#pragma once
#include "prawmp/Error.h"
#include "prawmp/Response.h"

#include <QObject>

namespace prawmp {

enum class CacheStatus { Miss, Hit, Bypass, Coalesced };
PRAWMP_EXPORT QByteArray cacheStatusName(CacheStatus status); // "HIT", "MISS", ...

// The pending answer to one request, owned by whoever asked (delete it or
// call deleteLater() after finished()). Like QNetworkReply: finished() is
// emitted exactly once, never from inside Handler::request().
class PRAWMP_EXPORT Reply : public QObject
{
    Q_OBJECT
public:
    explicit Reply(QObject *parent = nullptr);
    ~Reply() override;

    bool isFinished() const { return m_finished; }
    const Response &response() const { return m_response; }
    const Error &error() const { return m_error; }
    CacheStatus cacheStatus() const { return m_cacheStatus; }
    // Seconds the answer spent in the cache (hits only).
    qint64 ageSeconds() const { return m_ageSeconds; }
    // Time spent queued for the rate limiter.
    qint64 waitMs() const { return m_waitMs; }

    // Gives up on the request: a queued request leaves the queue without
    // spending budget. finished() is emitted with Error::Kind::Canceled
    // unless the reply had already finished.
    void abort();

    // For handlers: complete the reply (emits finished() on the next event loop turn).
    void finish(const Response &response, CacheStatus status, qint64 ageSeconds = 0);
    void fail(const Error &error);
    void setWaitMs(qint64 ms) { m_waitMs = ms; }

signals:
    void finished();
    // Internal: tells the handler the requester gave up.
    void abortRequested();

private:
    void emitFinishedLater();

    Response m_response;
    Error m_error;
    CacheStatus m_cacheStatus = CacheStatus::Miss;
    qint64 m_ageSeconds = 0;
    qint64 m_waitMs = 0;
    bool m_finished = false;
};

} // namespace prawmp
