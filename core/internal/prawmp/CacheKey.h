#pragma once
#include "prawmp/Request.h"

#include <QString>
#include <QUrl>

namespace prawmp {

class AppIdentities;

// The identity of a cacheable answer: method + normalized URL + who may see
// it, so one user never receives another's cached response, + the accepted
// content codings (Accept-Encoding passes to the upstream, so a gzip answer
// must never reach a client that did not ask for gzip).
//
// "Who may see it" is the Reddit identity of a bearer token the daemon has
// learned (app, user, granted scopes: one user's tokens share answers), and
// otherwise a hash of the credentials themselves (one token, one cache).
class PRAWMP_EXPORT CacheKey
{
public:
    // Lower-case scheme and host, default port dropped, empty path -> "/",
    // query parameters sorted (stable for equal names), fragment dropped.
    static QString normalizeUrl(const QUrl &url);
    // Hex SHA-256 prefix of Authorization + Cookie; empty when neither is set.
    static QByteArray credentialsHash(const HttpHeaders &headers);
    // The credentials part of a key: "id:" + a hash of the identity when
    // `identities` knows the one bearer token of a cookie-less request,
    // else credentialsHash().
    static QByteArray credentialsPart(const HttpHeaders &headers, const AppIdentities *identities);
    // Accept-Encoding as a set: codings (with their parameters) lower-cased,
    // spaces dropped, sorted, joined by ","; empty when absent.
    static QByteArray acceptedEncodings(const HttpHeaders &headers);
    // The one way a request's key is built (pipeline and serving threads).
    static CacheKey forRequest(const Request &request, const AppIdentities *identities = nullptr);

    CacheKey() = default;
    CacheKey(QByteArray method, QString normalizedUrl, QByteArray credentials, QByteArray encodings = {});

    const QByteArray &method() const { return m_method; }
    const QString &normalizedUrl() const { return m_url; }
    const QByteArray &credentials() const { return m_credentials; }
    const QByteArray &encodings() const { return m_encodings; }
    // credentialsHash() of the asker's own credentials. Not part of the
    // key's identity (==, qHash, toString ignore it): it only tells whether
    // an answer was shared across tokens of one identity.
    const QByteArray &requester() const { return m_requester; }
    void setRequester(QByteArray requester) { m_requester = std::move(requester); }
    // Whether `other` was asked by different credentials (both known).
    bool askedByOtherCredentials(const CacheKey &other) const
    {
        return !m_requester.isEmpty() && !other.m_requester.isEmpty() && m_requester != other.m_requester;
    }
    // One string holding all the parts, usable as a map or Redis key.
    QString toString() const;

    bool operator==(const CacheKey &other) const
    {
        return m_method == other.m_method && m_url == other.m_url && m_credentials == other.m_credentials
               && m_encodings == other.m_encodings;
    }

private:
    QByteArray m_method;
    QString m_url;
    QByteArray m_credentials;
    QByteArray m_encodings;
    QByteArray m_requester;
};

PRAWMP_EXPORT size_t qHash(const CacheKey &key, size_t seed = 0);

} // namespace prawmp
