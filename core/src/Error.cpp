#include "prawmp/Error.h"

namespace prawmp {

QString Error::code() const
{
    switch (kind) {
    case Kind::None: return {};
    case Kind::ConnectionFailed: return QStringLiteral("connection_failed");
    case Kind::BadResponse: return QStringLiteral("bad_response");
    case Kind::Timeout: return QStringLiteral("upstream_timeout");
    case Kind::Canceled: return QStringLiteral("canceled");
    case Kind::QueueTimeout: return QStringLiteral("queue_timeout");
    case Kind::NotAllowed: return QStringLiteral("host_not_allowed");
    case Kind::DaemonUnavailable: return QStringLiteral("daemon_unavailable");
    }
    return QStringLiteral("unknown");
}

int Error::httpStatus() const
{
    switch (kind) {
    case Kind::None: return 200;
    case Kind::ConnectionFailed: return 502;
    case Kind::BadResponse: return 502;
    case Kind::Timeout: return 504;
    case Kind::Canceled: return 499; // nginx's "client closed request"
    case Kind::QueueTimeout: return 503;
    case Kind::NotAllowed: return 403;
    case Kind::DaemonUnavailable: return 502;
    }
    return 500;
}

} // namespace prawmp
