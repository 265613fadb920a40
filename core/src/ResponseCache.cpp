#include "prawmp/ResponseCache.h"

#include <QElapsedTimer>
#include <QHash>
#include <QLoggingCategory>
#include <QMutex>
#include <QSet>
#include <list>

Q_LOGGING_CATEGORY(lcCache, "prawmp.cache")

namespace prawmp {

struct ResponseCache::Private
{
    struct Node {
        Response response;
        qint64 storedAtNs = 0;
        qint64 bytes = 0;
        std::list<CacheKey>::iterator lruPos;
    };

    mutable QMutex mutex;
    QElapsedTimer clock; // monotonic: a wall-clock jump must not expire or revive entries
    qint64 ttlNs = 0;
    qint64 maxBytes = 0;

    QHash<CacheKey, Node> entries;
    std::list<CacheKey> lru;                  // front = most recently used
    QHash<QString, QSet<CacheKey>> byUrl;     // evict() without a full scan
    qint64 lastPurgeNs = 0;
    Counters counters;

    static qint64 keyBytes(const CacheKey &key)
    {
        return key.method().size() + key.normalizedUrl().size() + key.credentials().size();
    }

    bool isExpired(const Node &node, qint64 now) const { return now - node.storedAtNs >= ttlNs; }

    void remove(QHash<CacheKey, Node>::iterator it)
    {
        const CacheKey key = it.key();
        lru.erase(it->lruPos);
        counters.bytes -= quint64(it->bytes);
        entries.erase(it);
        auto urlIt = byUrl.find(key.normalizedUrl());
        if (urlIt != byUrl.end()) {
            urlIt->remove(key);
            if (urlIt->isEmpty())
                byUrl.erase(urlIt);
        }
        counters.entries = quint64(entries.size());
    }

    void evictOne(QHash<CacheKey, Node>::iterator it)
    {
        remove(it);
        ++counters.evictions;
    }

    void shrinkTo(qint64 bound)
    {
        while (!lru.empty() && qint64(counters.bytes) > bound)
            evictOne(entries.find(lru.back()));
    }

    // Expired entries are otherwise only dropped when looked up; sweeping at
    // most once per TTL keeps their bytes from lingering at O(1) amortized cost.
    void purgeExpiredIfDue(qint64 now)
    {
        if (now - lastPurgeNs < ttlNs)
            return;
        lastPurgeNs = now;
        QList<CacheKey> expired;
        for (auto it = entries.cbegin(); it != entries.cend(); ++it) {
            if (isExpired(*it, now))
                expired.append(it.key());
        }
        for (const CacheKey &key : expired)
            evictOne(entries.find(key));
    }
};

ResponseCache::ResponseCache(double ttlSeconds, qint64 maxBytes)
    : d(std::make_unique<Private>())
{
    d->clock.start();
    setTtl(ttlSeconds);
    setMaxBytes(maxBytes);
}

ResponseCache::~ResponseCache() = default;

bool ResponseCache::isStorable(const QByteArray &method, int status)
{
    return (method == "GET" || method == "HEAD") && (status == 200 || status == 302);
}

std::optional<ResponseCache::Entry> ResponseCache::lookup(const CacheKey &key)
{
    QMutexLocker lock(&d->mutex);
    const qint64 now = d->clock.nsecsElapsed();
    auto it = d->entries.find(key);
    if (it == d->entries.end()) {
        ++d->counters.misses;
        return std::nullopt;
    }
    if (d->isExpired(*it, now)) {
        d->evictOne(it);
        ++d->counters.misses;
        return std::nullopt;
    }
    d->lru.splice(d->lru.begin(), d->lru, it->lruPos);
    ++d->counters.hits;
    if (it.key().askedByOtherCredentials(key)) // the stored key keeps its storer
        ++d->counters.hitsAcrossTokens;
    return Entry{it->response, (now - it->storedAtNs) / 1'000'000'000};
}

bool ResponseCache::store(const CacheKey &key, const Response &response)
{
    if (!isStorable(key.method(), response.status))
        return false;
    QMutexLocker lock(&d->mutex);
    const qint64 now = d->clock.nsecsElapsed();
    d->purgeExpiredIfDue(now);

    // The new answer supersedes the old one even if it cannot be kept:
    // serving the older answer after a refresh would be going back in time.
    auto old = d->entries.find(key);
    if (old != d->entries.end())
        d->remove(old);

    const qint64 bytes = response.byteSize() + Private::keyBytes(key);
    if (d->ttlNs <= 0 || bytes > d->maxBytes) {
        qCDebug(lcCache) << "not storing" << key.toString() << bytes << "bytes";
        return false;
    }
    d->shrinkTo(d->maxBytes - bytes);

    d->lru.push_front(key);
    d->entries.insert(key, Private::Node{response, now, bytes, d->lru.begin()});
    d->byUrl[key.normalizedUrl()].insert(key);
    d->counters.bytes += quint64(bytes);
    d->counters.entries = quint64(d->entries.size());
    return true;
}

int ResponseCache::evict(const QStringList &urls)
{
    QMutexLocker lock(&d->mutex);
    int count = 0;
    for (const QString &url : urls) {
        const auto keys = d->byUrl.value(CacheKey::normalizeUrl(QUrl(url)));
        for (const CacheKey &key : keys) {
            auto it = d->entries.find(key);
            if (it != d->entries.end()) {
                d->evictOne(it);
                ++count;
            }
        }
    }
    return count;
}

int ResponseCache::clear()
{
    QMutexLocker lock(&d->mutex);
    const int count = int(d->entries.size());
    d->entries.clear();
    d->lru.clear();
    d->byUrl.clear();
    d->counters.evictions += quint64(count);
    d->counters.entries = 0;
    d->counters.bytes = 0;
    return count;
}

void ResponseCache::setTtl(double seconds)
{
    QMutexLocker lock(&d->mutex);
    // Applies to stored entries too: their age is compared with the current TTL.
    d->ttlNs = seconds > 0 ? qint64(seconds * 1e9) : 0;
}

double ResponseCache::ttl() const
{
    QMutexLocker lock(&d->mutex);
    return double(d->ttlNs) / 1e9;
}

void ResponseCache::setMaxBytes(qint64 bytes)
{
    QMutexLocker lock(&d->mutex);
    d->maxBytes = qMax<qint64>(0, bytes);
    d->shrinkTo(d->maxBytes);
}

qint64 ResponseCache::maxBytes() const
{
    QMutexLocker lock(&d->mutex);
    return d->maxBytes;
}

ResponseCache::Counters ResponseCache::counters() const
{
    QMutexLocker lock(&d->mutex);
    return d->counters;
}

} // namespace prawmp
