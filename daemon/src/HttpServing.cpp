#include "HttpServing.h"

#include "prawmp/JsonResponses.h"

#include <atomic>

namespace prawmp {

quint64 nextConnectionId()
{
    static std::atomic<quint64> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
}

Response tooManyClientsError(bool stopping, int maxClients)
{
    return jsonError(503, QStringLiteral("too_many_clients"),
                     stopping ? QStringLiteral("the daemon is shutting down")
                              : QStringLiteral("too many clients connected (--max-clients %1)").arg(maxClients));
}

Response bodyTimeoutError(int idleTimeoutMs)
{
    return jsonError(408, QStringLiteral("request_timeout"),
                     QStringLiteral("The request body stalled for %1 ms.").arg(idleTimeoutMs));
}

const QByteArray &continueInterim()
{
    static const QByteArray line = QByteArrayLiteral("HTTP/1.1 100 Continue\r\n\r\n");
    return line;
}

Response headerTimeoutError(int headerTimeoutMs)
{
    return jsonError(408, QStringLiteral("request_timeout"),
                     QStringLiteral("The request headers did not arrive within %1 ms.").arg(headerTimeoutMs));
}

} // namespace prawmp
