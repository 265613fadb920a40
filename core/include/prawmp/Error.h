#pragma once
#include "prawmp/Export.h"

#include <QString>

namespace prawmp {

// Why a request produced no upstream response. Each kind maps to one
// HTTP status in the daemon (see httpStatus()).
struct PRAWMP_EXPORT Error
{
    enum class Kind {
        None,
        ConnectionFailed,  // upstream refused / reset / unreachable -> 502
        BadResponse,       // upstream sent something that is not HTTP -> 502
        Timeout,           // upstream did not answer in time -> 504
        Canceled,          // the requester went away
        QueueTimeout,      // expected wait longer than the requester allows -> 503
        NotAllowed,        // host not on the allow-list -> 403
        DaemonUnavailable, // MultiprocessHandler gave up on the daemon
    };

    Kind kind = Kind::None;
    QString message;
    // For QueueTimeout: when asking again makes sense (Retry-After).
    double retryAfterSeconds = 0;

    bool isError() const { return kind != Kind::None; }
    explicit operator bool() const { return isError(); }
    // Stable machine-readable name, used as the JSON "error" code.
    QString code() const;
    int httpStatus() const;
};

} // namespace prawmp
