#pragma once
#include "prawmp/Request.h"

#include <QString>
#include <QUrl>

namespace prawmp {

// The identity of a cacheable answer: method + normalized URL + a hash of
// the credentials, so one user never receives another's cached response,
// + the accepted content codings (Accept-Encoding passes to the upstream, so
// a gzip answer must never reach a client that did not ask for gzip).
class PRAWMP_EXPORT CacheKey
{
public:
    // Lower-case scheme and host, default port dropped, empty path -> "/",
    // query parameters sorted (stable for equal names), fragment dropped.
    static QString normalizeUrl(const QUrl &url);
    // Hex SHA-256 prefix of Authorization + Cookie; empty when neither is set.
    static QByteArray credentialsHash(const HttpHeaders &headers);
    // Accept-Encoding as a set: codings (with their parameters) lower-cased,
    // spaces dropped, sorted, joined by ","; empty when absent.
    static QByteArray acceptedEncodings(const HttpHeaders &headers);
    static CacheKey forRequest(const Request &request);

    CacheKey() = default;
    CacheKey(QByteArray method, QString normalizedUrl, QByteArray credentials, QByteArray encodings = {});

    const QByteArray &method() const { return m_method; }
    const QString &normalizedUrl() const { return m_url; }
    const QByteArray &credentials() const { return m_credentials; }
    const QByteArray &encodings() const { return m_encodings; }
    // One string holding all the parts, usable as a map or Redis key.
    QString toString() const;

    bool operator==(const CacheKey &other) const = default;

private:
    QByteArray m_method;
    QString m_url;
    QByteArray m_credentials;
    QByteArray m_encodings;
};

PRAWMP_EXPORT size_t qHash(const CacheKey &key, size_t seed = 0);

} // namespace prawmp
