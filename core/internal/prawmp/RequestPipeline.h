#pragma once
#include "prawmp/AppIdentities.h"
#include "prawmp/PipelineStats.h"
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

// The one way request records are made. A request answered through the
// pipeline (`reply` finished), `totalMs` after it came:
PRAWMP_EXPORT RequestRecord answeredRecord(const QString &clientId, const Request &request, const Reply &reply,
                                           qint64 totalMs);
// A cache hit answered without it (the daemon's serving threads);
// `redactedUrl` is RequestPipeline::redactedUrl() of its URL.
PRAWMP_EXPORT RequestRecord hitRecord(const QString &clientId, const QByteArray &method, const QString &redactedUrl,
                                      const Response &answer);

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
