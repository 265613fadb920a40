#pragma once
#include "DaemonOptions.h"

#include <QByteArray>
#include <QList>
#include <QString>
#include <QUrl>

namespace prawmp {

// Turns a request-target into the upstream URL it stands for, or refuses:
// origin-form by longest path prefix over the routes, absolute-form only
// to allowed hosts. The daemon is never an open proxy.
class Router
{
public:
    struct Result {
        QUrl url;
        int status = 0;   // non-zero: refuse with this status
        QString code;
        QString message;
        bool ok() const { return status == 0; }
    };

    explicit Router(const DaemonOptions &options);

    Result resolve(const QByteArray &target) const;
    bool isAllowed(const QUrl &url) const;
    // The default (catch-all) upstream base, for display.
    QUrl defaultTarget() const;
    // Every route's target, each once.
    QList<QUrl> targets() const;

private:
    QUrl join(const QUrl &base, const QUrl &relative) const;

    QList<RouteSpec> m_routes;    // longest prefix first
    QStringList m_allowedOrigins; // route targets: "scheme://host:port"
    QStringList m_allowedHosts;   // --allow-host names: any scheme and port
};

} // namespace prawmp
