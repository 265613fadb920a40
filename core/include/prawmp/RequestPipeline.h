#pragma once
#include "prawmp/AppIdentities.h"
#include "prawmp/RateLimiter.h"
#include "prawmp/Reply.h"
#include "prawmp/Request.h"

#include <QObject>
#include <QStringList>
#include <memory>

namespace prawmp {

class ResponseCache;
class SharedCache;
class Upstream;

struct PRAWMP_EXPORT PipelineConfig
{
    RateLimitConfig rate;
    double cacheTtlSeconds = 30.0;
    qint64 cacheMaxBytes = 256ll * 1024 * 1024;
    double upstreamTimeoutSeconds = 45.0;
    // One rate budget per (host, OAuth app), as Reddit counts; Host: per host.
    AppIdentities::RateKey rateKey = AppIdentities::RateKey::App;
};

// One finished request, as reported to logs, /_mp/events and the GUI.
// The URL has credential-like query values redacted.
struct PRAWMP_EXPORT RequestRecord
{
    qint64 finishedAtMs = 0; // ms since the epoch
    QString clientId;
    QByteArray method;
    QString url;
    int status = 0;          // 0 when there was no upstream answer
    CacheStatus cacheStatus = CacheStatus::Miss;
    QString error;           // Error::code() when failed
    qint64 waitMs = 0;
    qint64 totalMs = 0;
    qint64 bytes = 0;

    // The one way records are made. A request answered through the pipeline
    // (`reply` finished), `totalMs` after it came:
    static RequestRecord answered(const QString &clientId, const Request &request, const Reply &reply,
                                  qint64 totalMs);
    // A cache hit answered without it (the daemon's serving threads);
    // `redactedUrl` is RequestPipeline::redactedUrl() of its URL.
    static RequestRecord hit(const QString &clientId, const QByteArray &method, const QString &redactedUrl,
                             const Response &answer);
};

struct PRAWMP_EXPORT PipelineCounters
{
    quint64 requests = 0;
    quint64 hits = 0;
    quint64 misses = 0;
    quint64 bypasses = 0;
    quint64 coalesced = 0;
    // Hits and coalesced answers that another token of the same identity
    // (app, user, scopes) had asked for: the identity cache at work.
    quint64 servedAcrossTokens = 0;
    quint64 upstreamRequests = 0;
    quint64 upstream429 = 0;
    quint64 errors = 0;
    quint64 queueRejections = 0;
    // Histogram of rate-limiter waits: counts of waits <= each bound (ms).
    QList<qint64> waitBucketBoundsMs;
    QList<quint64> waitBucketCounts; // cumulative, one per bound, last = +Inf
    double waitSumMs = 0;
};

// The chain every request goes through: cache -> coalescing of identical
// in-flight requests -> fair rate limiter -> upstream. DefaultHandler runs
// one per process; the daemon runs one for all its clients.
class PRAWMP_EXPORT RequestPipeline : public QObject
{
    Q_OBJECT
public:
    explicit RequestPipeline(const PipelineConfig &config = {}, QObject *parent = nullptr);
    ~RequestPipeline() override;

    // The caller owns the reply. Must be called in the pipeline's thread.
    Reply *submit(const Request &request);
    int evict(const QStringList &urls);
    int clear();

    // Applies new TTL, size bound, rate policy and timeout; keeps the entries.
    void reconfigure(const PipelineConfig &config);
    PipelineConfig config() const;

    // Distributed mode: consulted after a local miss, kept in step on
    // store/evict/clear (not owned; nullptr: local only).
    void setSharedCache(SharedCache *shared);

    ResponseCache &cache();
    RateLimiter &limiter();
    Upstream &upstream();
    // Which app each token belongs to, learned from the answers passing through.
    AppIdentities &identities();
    PipelineCounters counters() const;

    // Redacts query values whose names look like secrets (token, password...).
    static QString redactedUrl(const QUrl &url);
    // The same for a body shown in a log (--log-requests 2): the values of
    // form fields (a=1&b=2) and of JSON members with such names.
    static QByteArray redactedBody(const QByteArray &body);

signals:
    void requestFinished(const prawmp::RequestRecord &record);

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace prawmp
