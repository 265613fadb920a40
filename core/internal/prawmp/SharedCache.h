#pragma once
#include "prawmp/CacheKey.h"
#include "prawmp/Response.h"

#include <QStringList>
#include <functional>
#include <optional>

namespace prawmp {

// A cache shared beyond this process (distributed mode: Redis), consulted
// by RequestPipeline after its local ResponseCache misses. Eviction and
// clear must reach every process sharing it, including their local layers.
// All calls and callbacks happen in the pipeline's thread.
class PRAWMP_EXPORT SharedCache
{
public:
    struct Hit {
        Response response;
        qint64 ageSeconds = 0;
        double secondsLeft = 0; // of its time to live
    };

    virtual ~SharedCache();

    // Answers exactly once; std::nullopt on a miss or when the store is unreachable.
    virtual void lookup(const CacheKey &key, std::function<void(std::optional<Hit>)> answer) = 0;
    virtual void store(const CacheKey &key, const Response &response, double ttlSeconds) = 0;
    // Normalized URLs (CacheKey::normalizeUrl).
    virtual void evict(const QStringList &normalizedUrls) = 0;
    virtual void clear() = 0;
};

} // namespace prawmp
