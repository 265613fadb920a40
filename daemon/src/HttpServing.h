#pragma once
// What every side of the daemon's HTTP serving shares: the request as it
// came off the wire, the connection limits, the connection numbers, and the
// answers the contract gives at the connection level (503, 408s, 100).
#include "HttpWire.h"
#include "prawmp/Response.h"

#include <QByteArray>

namespace prawmp {

// One request as it came off the wire, before routing: what the wire
// module parsed, numbered on its connection.
struct IncomingRequest : wire::ParsedRequest
{
    quint64 sequence = 0;      // per connection, 1, 2, 3...; answers go out in this order
};

struct HttpLimits
{
    qsizetype maxHeaderBytes = 64 * 1024;     // -> 431
    qsizetype maxBodyBytes = 32 * 1024 * 1024; // -> 413
    int headerTimeoutMs = 10'000;             // headers not complete in time -> 408
    int idleTimeoutMs = 75'000;               // keep-alive connection with nothing to do -> closed
    // Requests read ahead of their answers; beyond this the connection stops
    // reading (TCP back-pressure) until answers go out.
    int maxPipelinedRequests = 64;
};

// A process-wide connection number: the serving threads' connections (and
// the tests' HttpConnections) draw from one counter, so ids never collide.
quint64 nextConnectionId();

// The 503 for a client over --max-clients, or one that comes while the daemon stops.
Response tooManyClientsError(bool stopping, int maxClients);

// The 408 for request headers that did not come within `headerTimeoutMs`.
Response headerTimeoutError(int headerTimeoutMs);
// The 408 for a request body with no byte for `idleTimeoutMs`.
Response bodyTimeoutError(int idleTimeoutMs);
// The interim answer to "Expect: 100-continue".
const QByteArray &continueInterim();

} // namespace prawmp
