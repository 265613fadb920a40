#pragma once
#include "prawmp/CacheKey.h"
#include "prawmp/Response.h"

#include <QStringList>
#include <memory>
#include <optional>

namespace prawmp {

// A bounded, TTL'd store of upstream answers. Thread-safe: every method
// may be called from any thread.
class PRAWMP_EXPORT ResponseCache
{
public:
    struct Entry {
        Response response;
        qint64 ageSeconds = 0;
    };
    struct Counters {
        quint64 hits = 0;
        quint64 misses = 0;
        quint64 evictions = 0; // by evict()/clear()/LRU bound/expiry
        // Hits on an entry another token of the same identity stored
        // (CacheKey::requester() of the lookup and of the store differ).
        quint64 hitsAcrossTokens = 0;
        quint64 entries = 0;
        quint64 bytes = 0;
    };

    explicit ResponseCache(double ttlSeconds = 30.0, qint64 maxBytes = 256ll * 1024 * 1024);
    ~ResponseCache();

    // Only 200/302 answers to GET/HEAD are stored; returns whether it was.
    static bool isStorable(const QByteArray &method, int status);

    std::optional<Entry> lookup(const CacheKey &key);
    bool store(const CacheKey &key, const Response &response);
    // Drops every entry (all methods, all credentials) of these URLs.
    int evict(const QStringList &urls);
    int clear();

    void setTtl(double seconds);
    double ttl() const;
    void setMaxBytes(qint64 bytes);
    qint64 maxBytes() const;
    Counters counters() const;

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace prawmp
