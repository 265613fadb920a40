#include "prawmp/CacheKey.h"

#include "prawmp/AppIdentities.h"

#include <QCryptographicHash>
#include <QHash>
#include <algorithm>

namespace prawmp {

QString CacheKey::normalizeUrl(const QUrl &url)
{
    // FullyEncoded keeps reserved characters encoded as sent (%2F stays %2F);
    // QUrl only decodes unreserved ones (%7E -> ~), which RFC 3986 §6.2.2
    // says denote the same URL.
    const QString scheme = url.scheme().toLower();
    QString result = scheme + QStringLiteral("://");
    const QString userInfo = url.userInfo(QUrl::FullyEncoded);
    if (!userInfo.isEmpty())
        result += userInfo + QLatin1Char('@'); // part of the identity, like credentials
    const QString host = url.host(QUrl::FullyEncoded).toLower();
    result += host.contains(QLatin1Char(':')) ? QLatin1Char('[') + host + QLatin1Char(']') : host;

    const int port = url.port();
    const int defaultPort = scheme == QLatin1String("http") ? 80
                          : scheme == QLatin1String("https") ? 443 : -1;
    if (port != -1 && port != defaultPort)
        result += QLatin1Char(':') + QString::number(port);

    const QString path = url.path(QUrl::FullyEncoded);
    result += path.isEmpty() ? QStringLiteral("/") : path;

    // Sorted by name only, stable: "a=2&a=1" and "a=1&a=2" may mean different
    // things (ordered lists), so equal names keep their relative order.
    QStringList params = url.query(QUrl::FullyEncoded).split(QLatin1Char('&'), Qt::SkipEmptyParts);
    std::stable_sort(params.begin(), params.end(), [](const QString &a, const QString &b) {
        return a.section(QLatin1Char('='), 0, 0) < b.section(QLatin1Char('='), 0, 0);
    });
    if (!params.isEmpty())
        result += QLatin1Char('?') + params.join(QLatin1Char('&'));
    return result;
}

QByteArray CacheKey::credentialsHash(const HttpHeaders &headers)
{
    const QList<QByteArray> authorization = headers.values("Authorization");
    const QList<QByteArray> cookies = headers.values("Cookie");
    if (authorization.isEmpty() && cookies.isEmpty())
        return {};
    // Field names and separators in the hashed text keep "Authorization: x"
    // and "Cookie: x" apart.
    QCryptographicHash hash(QCryptographicHash::Sha256);
    for (const QByteArray &v : authorization)
        hash.addData(QByteArray("authorization:" + v + '\n'));
    for (const QByteArray &v : cookies)
        hash.addData(QByteArray("cookie:" + v + '\n'));
    return hash.result().toHex().left(16);
}

QByteArray CacheKey::acceptedEncodings(const HttpHeaders &headers)
{
    const QList<QByteArray> values = headers.values("Accept-Encoding");
    if (values.isEmpty())
        return {};
    QList<QByteArray> codings;
    for (const QByteArray &value : values) {
        for (const QByteArray &item : value.split(',')) {
            QByteArray coding = item.toLower();
            coding.removeIf([](char c) { return c == ' ' || c == '\t'; });
            if (!coding.isEmpty())
                codings.append(coding);
        }
    }
    std::sort(codings.begin(), codings.end());
    codings.erase(std::unique(codings.begin(), codings.end()), codings.end());
    return codings.join(',');
}

QByteArray CacheKey::credentialsPart(const HttpHeaders &headers, const AppIdentities *identities)
{
    if (identities && headers.values("Authorization").size() == 1 && headers.values("Cookie").isEmpty()) {
        const QByteArray identity = identities->cacheIdentity(headers);
        if (!identity.isEmpty())
            return "id:" + QCryptographicHash::hash(identity, QCryptographicHash::Sha256).toHex().left(16);
    }
    return credentialsHash(headers);
}

CacheKey CacheKey::forRequest(const Request &request, const AppIdentities *identities)
{
    CacheKey key(request.method, normalizeUrl(request.url), credentialsPart(request.headers, identities),
                 acceptedEncodings(request.headers));
    key.setRequester(credentialsHash(request.headers));
    return key;
}

CacheKey::CacheKey(QByteArray method, QString normalizedUrl, QByteArray credentials, QByteArray encodings)
    : m_method(std::move(method))
    , m_url(std::move(normalizedUrl))
    , m_credentials(std::move(credentials))
    , m_encodings(std::move(encodings))
{
}

QString CacheKey::toString() const
{
    // A normalized URL never holds a space, so the parts cannot run together;
    // a credentials part is hex or "id:" + hex, so it never starts with "ae=".
    QString s = QString::fromLatin1(m_method) + QLatin1Char(' ') + m_url;
    if (!m_credentials.isEmpty())
        s += QLatin1Char(' ') + QString::fromLatin1(m_credentials);
    if (!m_encodings.isEmpty())
        s += QStringLiteral(" ae=") + QString::fromLatin1(m_encodings);
    return s;
}

size_t qHash(const CacheKey &key, size_t seed)
{
    return qHashMulti(seed, key.method(), key.normalizedUrl(), key.credentials(), key.encodings());
}

} // namespace prawmp
