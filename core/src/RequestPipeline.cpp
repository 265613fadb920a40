#include "prawmp/RequestPipeline.h"

#include "prawmp/AppIdentities.h"
#include "prawmp/CacheKey.h"
#include "prawmp/JsonResponses.h"
#include "prawmp/ResponseCache.h"
#include "prawmp/SharedCache.h"
#include "prawmp/Upstream.h"

#include "ReplyPrivate.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QHash>
#include <QLoggingCategory>
#include <QMetaMethod>
#include <QPointer>
#include <QRegularExpression>
#include <QTimer>
#include <QUrlQuery>

#include <algorithm>
#include <chrono>
#include <cmath>

Q_LOGGING_CATEGORY(lcPipeline, "prawmp.pipeline")

namespace prawmp {

namespace {

const QList<qint64> kWaitBoundsMs = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000};

// The answers that tell which app, user and scopes a token stands for.
bool isTokenEndpoint(const QUrl &url) { return url.path().endsWith(QLatin1String("/api/v1/access_token")); }
bool isMeEndpoint(const QUrl &url) { return url.path() == QLatin1String("/api/v1/me"); }

} // namespace

// One upstream call and everyone waiting for its answer.
struct Flight
{
    Request request;
    CacheKey key;
    bool coalescable = false;
    QList<QPointer<Reply>> waiters;
    QList<qint64> startedMs; // per waiter, on the pipeline clock
    QStringList clientIds;   // per waiter: a coalesced request is its own client's
    QString domain;          // rate domain: host + app
    RateLimiter::Ticket ticket = 0;
    // Tells this flight from a later one allocated at the same address,
    // for a grant still queued when its own flight went away.
    quint64 serial = 0;
    quint64 upstreamId = 0;
    bool dispatched = false;
    qint64 queuedAtMs = 0;
    qint64 waitMs = 0;
};

struct RequestPipeline::Private
{
    RequestPipeline *q = nullptr;
    PipelineConfig config;
    ResponseCache cache;
    SharedCache *shared = nullptr;
    RateLimiter *limiter = nullptr;
    Upstream *upstream = nullptr;
    QElapsedTimer clock;
    QHash<CacheKey, Flight *> coalescing;
    QHash<Flight *, bool> flights; // owned
    quint64 nextFlightSerial = 0;
    PipelineCounters counters;
    AppIdentities identities;
    quint64 coalescedAcrossTokens = 0;

    explicit Private(const PipelineConfig &c)
        : config(c), cache(c.cacheTtlSeconds, c.cacheMaxBytes), identities(c.rateKey)
    {
        counters.waitBucketBoundsMs = kWaitBoundsMs;
        counters.waitBucketCounts = QList<quint64>(kWaitBoundsMs.size() + 1, 0);
        clock.start();
    }

    void recordWait(qint64 ms)
    {
        for (int i = 0; i < kWaitBoundsMs.size(); ++i)
            if (ms <= kWaitBoundsMs[i])
                ++counters.waitBucketCounts[i];
        ++counters.waitBucketCounts.last();
        counters.waitSumMs += double(ms);
    }

    void report(const Request &request, const Reply &reply, qint64 startedMs, const QString &clientId)
    {
        if (!q->isSignalConnected(QMetaMethod::fromSignal(&RequestPipeline::requestFinished)))
            return;
        emit q->requestFinished(answeredRecord(clientId, request, reply, clock.elapsed() - startedMs));
    }

    QString rateDomain(const Request &request) const
    {
        return identities.rateDomain(request.url.host(), request.headers);
    }

    Flight *createFlight(const Request &request, const CacheKey &key, bool coalescable)
    {
        auto *flight = new Flight;
        flight->request = request;
        flight->domain = rateDomain(request);
        // Answers the identities learn from are asked for uncompressed, so
        // that they can be read.
        if (isTokenEndpoint(request.url) || isMeEndpoint(request.url))
            flight->request.headers.remove("Accept-Encoding");
        flight->key = key;
        flight->coalescable = coalescable;
        flight->queuedAtMs = clock.elapsed();
        flight->serial = ++nextFlightSerial;
        flights.insert(flight, true);
        if (coalescable)
            coalescing.insert(key, flight);
        return flight;
    }

    void enqueue(Flight *flight)
    {
        flight->queuedAtMs = clock.elapsed();
        flight->ticket = limiter->acquire(flight->domain, flight->request.clientId, q,
                                          [this, flight, serial = flight->serial] { dispatch(flight, serial); });
    }

    // Distributed mode: another daemon may have the answer already.
    void lookUpShared(Flight *flight)
    {
        shared->lookup(flight->key, [this, flight, serial = flight->serial](std::optional<SharedCache::Hit> hit) {
            if (!flights.contains(flight) || flight->serial != serial)
                return; // every waiter left meanwhile
            if (!hit) {
                enqueue(flight);
                return;
            }
            for (int i = 0; i < flight->waiters.size(); ++i) {
                Reply *reply = flight->waiters[i];
                if (!reply || reply->isFinished())
                    continue;
                // Counted as a miss (or coalesced) on arrival; a hit after all.
                if (i == 0)
                    --counters.misses;
                else
                    --counters.coalesced;
                ++counters.hits;
                ReplyPrivate::get(reply)->finish(hit->response, CacheStatus::Hit, hit->ageSeconds);
                report(flight->request, *reply, flight->startedMs[i], flight->clientIds[i]);
            }
            drop(flight);
        });
    }

    void dispatch(Flight *flight, quint64 serial)
    {
        if (!flights.contains(flight) || flight->serial != serial)
            return;
        flight->dispatched = true;
        flight->waitMs = clock.elapsed() - flight->queuedAtMs;
        ++counters.upstreamRequests;
        limiter->sent(flight->ticket);
        const RateLimiter::Ticket ticket = flight->ticket;
        flight->upstreamId = upstream->send(
            flight->request,
            [this, flight](const Response &response, const Error &error) { answered(flight, response, error); },
            // Pace from the moment the upstream sees the request: a connect
            // before the write would otherwise shorten the next gap.
            [this, ticket] { limiter->sent(ticket); });
    }

    void answered(Flight *flight, const Response &response, const Error &error)
    {
        if (error) {
            limiter->fail(flight->ticket);
        } else {
            limiter->complete(flight->ticket, response.status, response.headers);
            if (response.status == 429)
                ++counters.upstream429;
            if (isTokenEndpoint(flight->request.url))
                identities.learnFromTokenAnswer(flight->request, response.status, response.body);
            else if (isMeEndpoint(flight->request.url))
                identities.learnFromMeAnswer(flight->request, response.status, response.body);
            if (flight->request.isCacheableMethod()) {
                if (cache.store(flight->key, response) && shared)
                    shared->store(flight->key, response, cache.ttl());
            } else if (flight->request.isWriteMethod() && response.status < 400) {
                cache.evict({flight->request.url.toString()});
                if (shared)
                    shared->evict({CacheKey::normalizeUrl(flight->request.url)});
            }
        }
        const bool fresh = flight->request.isCacheableMethod() && flight->request.wantsFreshAnswer();
        const CacheStatus first = !flight->request.isCacheableMethod() || fresh ? CacheStatus::Bypass
                                                                                 : CacheStatus::Miss;
        for (int i = 0; i < flight->waiters.size(); ++i) {
            Reply *reply = flight->waiters[i];
            if (!reply || reply->isFinished())
                continue;
            ReplyPrivate::get(reply)->setWaitMs(flight->waitMs);
            recordWait(flight->waitMs);
            if (error) {
                ++counters.errors;
                ReplyPrivate::get(reply)->fail(error);
            } else {
                ReplyPrivate::get(reply)->finish(response, i == 0 ? first : CacheStatus::Coalesced);
            }
            report(flight->request, *reply, flight->startedMs[i], flight->clientIds[i]);
        }
        drop(flight);
    }

    void drop(Flight *flight)
    {
        if (flight->coalescable && coalescing.value(flight->key) == flight)
            coalescing.remove(flight->key);
        flights.remove(flight);
        delete flight;
    }

    // A waiter went away: a flight nobody waits for leaves the queue unspent.
    void waiterGone(Flight *flight, Reply *reply)
    {
        if (!flights.contains(flight))
            return;
        for (auto &w : flight->waiters)
            if (w == reply)
                w = nullptr;
        const bool anyone = std::any_of(flight->waiters.cbegin(), flight->waiters.cend(),
                                        [](const QPointer<Reply> &w) { return !w.isNull() && !w->isFinished(); });
        if (anyone || flight->dispatched)
            return; // an answer already paid for still fills the cache
        // Granted but not yet sent (the send is queued): close the grant,
        // or the limiter counts it in flight for good.
        if (!limiter->cancel(flight->ticket))
            limiter->fail(flight->ticket);
        qCDebug(lcPipeline) << "dropped queued request" << redactedUrl(flight->request.url);
        drop(flight);
    }

    // X-Mp-Max-Wait: fails the reply at once when the expected queueing is
    // longer than the requester allows, whatever the method.
    // "Cache-Control: only-if-cached" (RFC 9111 5.2.1.7) after a local miss:
    // another daemon's entry in distributed mode, else 504; never the upstream.
    void answerCachedOnly(const Request &request, const CacheKey &key, Reply *reply, qint64 startedMs)
    {
        auto notCached = [this, request, startedMs](Reply *r) {
            ++counters.misses;
            ReplyPrivate::get(r)->finish(jsonError(504, QStringLiteral("not_cached"),
                                                   QStringLiteral("only-if-cached: no cached answer for this request")),
                                         CacheStatus::Miss);
            report(request, *r, startedMs, request.clientId);
        };
        if (!shared || request.wantsFreshAnswer()) {
            notCached(reply);
            return;
        }
        shared->lookup(key, [this, guard = QPointer<Reply>(reply), notCached, request,
                             startedMs](std::optional<SharedCache::Hit> hit) {
            if (!guard || guard->isFinished())
                return;
            if (!hit) {
                notCached(guard);
                return;
            }
            ++counters.hits;
            ReplyPrivate::get(guard)->finish(hit->response, CacheStatus::Hit, hit->ageSeconds);
            report(request, *guard, startedMs, request.clientId);
        });
    }

    bool refuseLongWait(const Request &request, Reply *reply, qint64 startedMs)
    {
        if (request.maxWaitSeconds < 0)
            return false;
        const qint64 expected = limiter->expectedWaitMs(rateDomain(request), request.clientId);
        if (expected <= qint64(request.maxWaitSeconds * 1000))
            return false;
        ++counters.queueRejections;
        ReplyPrivate::get(reply)->fail({Error::Kind::QueueTimeout,
                     QStringLiteral("expected wait %1 s exceeds the allowed %2 s")
                         .arg(double(expected) / 1000.0, 0, 'f', 1)
                         .arg(request.maxWaitSeconds),
                     std::ceil(double(expected) / 1000.0)});
        report(request, *reply, startedMs, request.clientId);
        return true;
    }

    void attach(Flight *flight, Reply *reply, const Request &request)
    {
        flight->waiters.append(reply);
        flight->startedMs.append(clock.elapsed());
        flight->clientIds.append(request.clientId);
        QObject::connect(reply, &Reply::abortRequested, q, [this, flight, reply] { waiterGone(flight, reply); });
        QObject::connect(reply, &QObject::destroyed, q, [this, flight, reply] { waiterGone(flight, reply); });
        if (request.maxWaitSeconds >= 0) {
            const auto ms = qint64(std::ceil(std::min(request.maxWaitSeconds, 1.0e6) * 1000.0));
            QTimer::singleShot(std::chrono::milliseconds(ms), Qt::PreciseTimer, reply,
                               [this, flight, serial = flight->serial, reply, request, started = clock.elapsed()] {
                                   waitedTooLong(flight, serial, reply, request, started);
                               });
        }
    }

    // X-Mp-Max-Wait bounds the whole wait, not only the estimate on arrival:
    // a 429 pause or a burst from a foreign consumer can come later.
    void waitedTooLong(Flight *flight, quint64 serial, Reply *reply, const Request &request, qint64 startedMs)
    {
        if (!flights.contains(flight) || flight->serial != serial || flight->dispatched || reply->isFinished())
            return;
        ++counters.queueRejections;
        const qint64 expected = limiter->expectedWaitMs(rateDomain(request), request.clientId);
        ReplyPrivate::get(reply)->fail({Error::Kind::QueueTimeout,
                     QStringLiteral("still queued after the allowed %1 s").arg(request.maxWaitSeconds),
                     std::max(1.0, std::ceil(double(expected) / 1000.0))});
        report(request, *reply, startedMs, request.clientId);
        waiterGone(flight, reply);
    }
};

RequestRecord answeredRecord(const QString &clientId, const Request &request, const Reply &reply,
                            qint64 totalMs)
{
    RequestRecord r;
    r.finishedAtMs = QDateTime::currentMSecsSinceEpoch();
    r.clientId = clientId;
    r.method = request.method;
    r.url = RequestPipeline::redactedUrl(request.url);
    r.status = reply.response().status;
    r.cacheStatus = reply.cacheStatus();
    r.error = reply.error() ? reply.error().code() : QString();
    r.waitMs = reply.waitMs();
    r.totalMs = totalMs;
    r.bytes = reply.response().body.size();
    return r;
}

RequestRecord hitRecord(const QString &clientId, const QByteArray &method, const QString &redactedUrl,
                        const Response &answer)
{
    RequestRecord r;
    r.finishedAtMs = QDateTime::currentMSecsSinceEpoch();
    r.clientId = clientId;
    r.method = method;
    r.url = redactedUrl;
    r.status = answer.status;
    r.cacheStatus = CacheStatus::Hit;
    r.bytes = answer.body.size();
    return r;
}

RequestPipeline::RequestPipeline(const PipelineConfig &config, QObject *parent)
    : QObject(parent), d(std::make_unique<Private>(config))
{
    d->q = this;
    d->limiter = new RateLimiter(config.rate, this);
    d->upstream = new Upstream(this);
    d->upstream->setTimeout(config.upstreamTimeoutSeconds);
}

RequestPipeline::~RequestPipeline()
{
    for (auto it = d->flights.keyBegin(); it != d->flights.keyEnd(); ++it)
        delete *it;
}

Reply *RequestPipeline::submit(const Request &request)
{
    auto *reply = new Reply;
    ++d->counters.requests;
    const qint64 started = d->clock.elapsed();

    if (!request.isCacheableMethod()) {
        ++d->counters.bypasses;
        if (d->refuseLongWait(request, reply, started))
            return reply;
        Flight *flight = d->createFlight(request, CacheKey(), false);
        d->attach(flight, reply, request);
        d->enqueue(flight);
    } else {
        const CacheKey key = CacheKey::forRequest(request, &d->identities);
        const bool fresh = request.wantsFreshAnswer();
        if (!fresh) {
            if (auto entry = d->cache.lookup(key)) {
                ++d->counters.hits;
                ReplyPrivate::get(reply)->finish(entry->response, CacheStatus::Hit, entry->ageSeconds);
                d->report(request, *reply, started, request.clientId);
                return reply;
            }
            if (request.onlyIfCached()) {
                d->answerCachedOnly(request, key, reply, started);
                return reply;
            }
            if (Flight *flight = d->coalescing.value(key)) {
                ++d->counters.coalesced;
                if (flight->key.askedByOtherCredentials(key))
                    ++d->coalescedAcrossTokens;
                d->attach(flight, reply, request);
                return reply;
            }
            ++d->counters.misses;
        } else if (request.onlyIfCached()) {
            // no-cache and only-if-cached: no answer is acceptable.
            d->answerCachedOnly(request, key, reply, started);
            return reply;
        } else {
            ++d->counters.bypasses;
        }
        if (d->refuseLongWait(request, reply, started))
            return reply;
        Flight *flight = d->createFlight(request, key, !fresh);
        d->attach(flight, reply, request);
        if (d->shared && !fresh)
            d->lookUpShared(flight);
        else
            d->enqueue(flight);
    }
    return reply;
}

int RequestPipeline::evict(const QStringList &urls)
{
    if (d->shared) {
        QStringList normalized;
        for (const QString &url : urls)
            normalized.append(CacheKey::normalizeUrl(QUrl(url)));
        d->shared->evict(normalized);
    }
    return d->cache.evict(urls);
}

int RequestPipeline::clear()
{
    if (d->shared)
        d->shared->clear();
    return d->cache.clear();
}

void RequestPipeline::setSharedCache(SharedCache *shared) { d->shared = shared; }

void RequestPipeline::reconfigure(const PipelineConfig &config)
{
    d->config = config;
    d->cache.setTtl(config.cacheTtlSeconds);
    d->cache.setMaxBytes(config.cacheMaxBytes);
    d->limiter->setConfig(config.rate);
    d->upstream->setTimeout(config.upstreamTimeoutSeconds);
    d->identities.setRateKey(config.rateKey);
}

PipelineConfig RequestPipeline::config() const { return d->config; }
ResponseCache &RequestPipeline::cache() { return d->cache; }
RateLimiter &RequestPipeline::limiter() { return *d->limiter; }
Upstream &RequestPipeline::upstream() { return *d->upstream; }
PipelineCounters RequestPipeline::counters() const
{
    PipelineCounters counters = d->counters;
    counters.servedAcrossTokens = d->coalescedAcrossTokens + d->cache.counters().hitsAcrossTokens;
    return counters;
}
AppIdentities &RequestPipeline::identities() { return d->identities; }

namespace {

// Names of query parameters, form fields and JSON members whose values are
// not shown: passwords, tokens (access_token, refresh_token), API keys,
// OAuth codes, sessions, signatures.
bool looksSecret(const QString &name)
{
    static const QStringList secretish = {"token", "password", "passwd", "secret", "key", "auth", "code",
                                          "session", "sig"};
    const QString lower = name.toLower();
    return std::any_of(secretish.cbegin(), secretish.cend(), [&](const QString &s) { return lower.contains(s); });
}

} // namespace

QString RequestPipeline::redactedUrl(const QUrl &url)
{
    QUrl copy = url;
    copy.setUserInfo({});
    if (copy.hasQuery()) {
        QUrlQuery query(copy);
        auto items = query.queryItems(QUrl::FullyEncoded);
        for (auto &[name, value] : items) {
            if (looksSecret(name))
                value = QStringLiteral("REDACTED");
        }
        query.setQueryItems(items);
        copy.setQuery(query);
    }
    return copy.toString(QUrl::FullyEncoded);
}

QByteArray RequestPipeline::redactedBody(const QByteArray &body)
{
    const QByteArray trimmed = body.trimmed();
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
        // JSON, possibly cut short by the log's length bound: each "name": value.
        static const QRegularExpression member(
            QStringLiteral(R"re("((?:[^"\\]|\\.)*)"\s*:\s*("(?:[^"\\]|\\.)*"?|[^,}\]\s]*))re"));
        QString text = QString::fromUtf8(body);
        qsizetype offset = 0;
        for (;;) {
            const QRegularExpressionMatch m = member.match(text, offset);
            if (!m.hasMatch())
                break;
            offset = m.capturedEnd(0);
            const QString value = m.captured(2);
            if (!looksSecret(m.captured(1)) || value.isEmpty() || value.startsWith(u'{') || value.startsWith(u'['))
                continue; // objects and arrays: their own members are looked at
            const QString replacement = QStringLiteral("\"REDACTED\"");
            text.replace(m.capturedStart(2), m.capturedLength(2), replacement);
            offset = m.capturedStart(2) + replacement.size();
        }
        return text.toUtf8();
    }
    if (!body.contains('=') || body.contains('\n'))
        return body;
    // application/x-www-form-urlencoded: name=value&name=value.
    QList<QByteArray> pairs = body.split('&');
    for (QByteArray &pair : pairs) {
        const qsizetype eq = pair.indexOf('=');
        if (eq > 0 && looksSecret(QUrl::fromPercentEncoding(pair.left(eq))))
            pair = pair.left(eq + 1) + "REDACTED";
    }
    return pairs.join('&');
}

} // namespace prawmp
