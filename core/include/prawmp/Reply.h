#pragma once
#include "prawmp/Error.h"
#include "prawmp/Response.h"

#include <QObject>

#include <memory>

namespace prawmp {

enum class CacheStatus { Miss, Hit, Bypass, Coalesced };
PRAWMP_EXPORT QByteArray cacheStatusName(CacheStatus status); // "HIT", "MISS", ...

class ReplyPrivate;

// The pending answer to one request, owned by whoever asked (delete it or
// call deleteLater() after finished()). Like QNetworkReply: finished() is
// emitted exactly once, never from inside Handler::request(). Handlers
// complete it through core's private ReplyPrivate.
class PRAWMP_EXPORT Reply : public QObject
{
    Q_OBJECT
public:
    explicit Reply(QObject *parent = nullptr);
    ~Reply() override;

    bool isFinished() const;
    const Response &response() const;
    const Error &error() const;
    CacheStatus cacheStatus() const;
    // Seconds the answer spent in the cache (hits only).
    qint64 ageSeconds() const;
    // Time spent queued for the rate limiter.
    qint64 waitMs() const;

    // Gives up on the request: a queued request leaves the queue without
    // spending budget. finished() is emitted with Error::Kind::Canceled
    // unless the reply had already finished.
    void abort();

signals:
    void finished();
    // Emitted by abort() before the reply fails: the handler that owns the
    // request drops it (leaves the queue, closes the connection).
    void abortRequested();

private:
    friend class ReplyPrivate;
    std::unique_ptr<ReplyPrivate> d;
};

} // namespace prawmp
