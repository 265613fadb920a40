#pragma once
#include "prawmp/HttpHeaders.h"

#include <QByteArray>
#include <QString>
#include <QUrl>

namespace prawmp {

// One HTTP request as the handlers see it: absolute URL, end-to-end headers.
struct PRAWMP_EXPORT Request
{
    QByteArray method = "GET";
    QUrl url;
    HttpHeaders headers;
    QByteArray body;
    // Who is asking, for fair queueing (the daemon uses peer address +
    // User-Agent). Empty means "this process".
    QString clientId;
    // Fail fast with Error::Kind::QueueTimeout instead of queueing longer
    // than this (the X-Mp-Max-Wait header). Negative: wait as long as needed.
    double maxWaitSeconds = -1;

    // GET and HEAD may be answered from the cache.
    bool isCacheableMethod() const;
    // POST, PUT, PATCH, DELETE: never cached, evict their URL on success.
    bool isWriteMethod() const;
    // The request asked to skip the cache lookup (Cache-Control/Pragma: no-cache).
    bool wantsFreshAnswer() const;
    // The request accepts a cached answer only (Cache-Control: only-if-cached,
    // RFC 9111 5.2.1.7): a miss is answered 504 without going upstream.
    bool onlyIfCached() const;
};

} // namespace prawmp
