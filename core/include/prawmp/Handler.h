#pragma once
#include "prawmp/Reply.h"
#include "prawmp/Request.h"

#include <QFuture>
#include <QStringList>

namespace prawmp {

// What application code talks to. DefaultHandler does the work in-process;
// MultiprocessHandler asks a praw-multiprocess daemon. Switching is one line.
class PRAWMP_EXPORT Handler
{
public:
    virtual ~Handler();

    // Starts the request; the caller owns the returned reply.
    virtual Reply *request(const Request &request) = 0;
    // Drops cached answers for these URLs; resolves to how many were dropped.
    virtual QFuture<int> evict(const QStringList &urls) = 0;
    // Drops every cached answer; resolves to how many were dropped.
    // DefaultHandler clears this process's cache, MultiprocessHandler the daemon's.
    virtual QFuture<int> clear() = 0;
};

} // namespace prawmp
