#include "Router.h"

#include <algorithm>

namespace prawmp {

namespace {

const QUrl kRedditOAuth(QStringLiteral("https://oauth.reddit.com"));
const QUrl kRedditWww(QStringLiteral("https://www.reddit.com"));

// Route targets are allowed exactly: same scheme, host and port, so that
// http://oauth.reddit.com cannot carry a bearer token in clear.
QString origin(const QUrl &url)
{
    const int defaultPort = url.scheme() == QLatin1String("https") ? 443 : 80;
    return url.scheme().toLower() + QLatin1String("://") + url.host().toLower() + QLatin1Char(':')
           + QString::number(url.port(defaultPort));
}

} // namespace

Router::Router(const DaemonOptions &options)
{
    const bool custom = !options.upstream.isEmpty();
    const QUrl catchAll = custom ? options.upstream : kRedditOAuth;
    const QUrl tokens = custom ? options.upstream : kRedditWww;
    m_routes = options.routes;
    m_routes.append({QStringLiteral("/api/v1/access_token"), tokens});
    m_routes.append({QStringLiteral("/api/v1/revoke_token"), tokens});
    m_routes.append({QStringLiteral("/"), catchAll});
    // Longest prefix wins; among equal prefixes the one given first (--route before defaults).
    std::stable_sort(m_routes.begin(), m_routes.end(),
                     [](const RouteSpec &a, const RouteSpec &b) { return a.prefix.size() > b.prefix.size(); });
    for (const RouteSpec &r : std::as_const(m_routes))
        m_allowedOrigins.append(origin(r.target));
    m_allowedOrigins.removeDuplicates();
    for (const QString &h : options.allowHosts)
        m_allowedHosts.append(h.toLower());
    m_allowedHosts.removeDuplicates();
}

QUrl Router::defaultTarget() const { return m_routes.isEmpty() ? QUrl() : m_routes.last().target; }

QList<QUrl> Router::targets() const
{
    QList<QUrl> out;
    for (const RouteSpec &r : m_routes)
        if (!out.contains(r.target))
            out.append(r.target);
    return out;
}

bool Router::isAllowed(const QUrl &url) const
{
    if (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https"))
        return false;
    return m_allowedOrigins.contains(origin(url)) || m_allowedHosts.contains(url.host().toLower());
}

QUrl Router::join(const QUrl &base, const QUrl &relative) const
{
    QUrl url = base;
    QString basePath = base.path();
    if (basePath.endsWith(QLatin1Char('/')))
        basePath.chop(1);
    url.setPath(basePath + relative.path(QUrl::FullyEncoded), QUrl::TolerantMode);
    url.setQuery(relative.query(QUrl::FullyEncoded), QUrl::TolerantMode);
    return url;
}

Router::Result Router::resolve(const QByteArray &target) const
{
    Result result;
    if (target.startsWith('/')) {
        const QUrl relative = QUrl::fromEncoded(target, QUrl::StrictMode);
        if (!relative.isValid() || target.startsWith("//")) {
            result = {QUrl(), 400, QStringLiteral("bad_request"),
                      QStringLiteral("malformed request-target")};
            return result;
        }
        const QString path = relative.path();
        for (const RouteSpec &route : m_routes) {
            if (path.startsWith(route.prefix)) {
                result.url = join(route.target, relative);
                return result;
            }
        }
        return {QUrl(), 404, QStringLiteral("no_route"), QStringLiteral("no route for %1").arg(path)};
    }
    const QUrl url = QUrl::fromEncoded(target, QUrl::StrictMode);
    if (!url.isValid() || url.host().isEmpty()) {
        return {QUrl(), 400, QStringLiteral("bad_request"), QStringLiteral("malformed request-target")};
    }
    if (!isAllowed(url)) {
        return {QUrl(), 403, QStringLiteral("host_not_allowed"),
                QStringLiteral("host %1 is not allowed (see --allow-host)").arg(url.host())};
    }
    result.url = url;
    return result;
}

} // namespace prawmp
