#pragma once
#include "RedisConnection.h"

#include "prawmp/SharedCache.h"

#include <QElapsedTimer>
#include <QObject>
#include <QStringList>

namespace prawmp {

class ResponseCache;

// Distributed mode's cache: answers stored in Redis (SET key value PX ttl)
// so that every daemon sharing the Redis and the key prefix can serve
// them. Keys: PREFIX "cache:" GENERATION ":" CacheKey::toString(); a set
// per normalized URL (PREFIX "idx:" GENERATION ":" URL) lists its entries
// for eviction. clear() bumps the generation (PREFIX "cache:gen"), which
// makes every entry unreachable at once; they expire on their own.
//
// Evictions and clears are published on PREFIX "invalidate"; every other
// daemon drops the same entries from its local ResponseCache. A daemon whose
// pub/sub link was down clears its local layer when it subscribes again
// (it may have missed some), and evictions made while Redis was
// unreachable are replayed when it is back, if the TTL has not run out.
//
// Owned by ProxyServer, in its thread.
class RedisSharedCache : public QObject, public SharedCache
{
    Q_OBJECT
public:
    RedisSharedCache(RedisConnection &redis, const QString &prefix, ResponseCache &local,
                     QObject *parent = nullptr);
    ~RedisSharedCache() override;

    // SharedCache
    void lookup(const CacheKey &key, std::function<void(std::optional<Hit>)> answer) override;
    void store(const CacheKey &key, const Response &response, double ttlSeconds) override;
    void evict(const QStringList &normalizedUrls) override;
    void clear() override;

    // The stored form of an answer (versioned) and back.
    static QByteArray serialize(const Response &response, qint64 ttlMs);
    static bool deserialize(const QByteArray &data, Response *response, qint64 *ttlMs);

private:
    void onMessage(const QByteArray &payload);
    void onConnected();
    QByteArray message(const QByteArray &operation, const QStringList &urls = {}) const;

    RedisConnection &m_redis;
    ResponseCache &m_local;
    QByteArray m_id;
    QByteArray m_generationKey;
    QByteArray m_entryPrefix;
    QByteArray m_indexPrefix;
    QByteArray m_channel;

    // Invalidations Redis could not take: replayed once it is back.
    QStringList m_pendingEvictions;
    bool m_pendingClear = false;
    QElapsedTimer m_pendingSince;

    RedisScript m_get;
    RedisScript m_store;
    RedisScript m_evict;
    RedisScript m_clear;
};

} // namespace prawmp
