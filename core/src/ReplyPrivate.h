#pragma once
#include "prawmp/Reply.h"

namespace prawmp {

// A Reply's state and what handlers do to it: the "for handlers" part of
// Reply, kept out of the public API so applications cannot finish a reply
// that a handler owns. Handlers in core (RequestPipeline,
// MultiprocessHandler) reach it with ReplyPrivate::get(reply).
class ReplyPrivate
{
public:
    static ReplyPrivate *get(Reply *reply) { return reply->d.get(); }

    explicit ReplyPrivate(Reply *reply) : q(reply) {}

    // Complete the reply: finished() follows on the next event loop turn.
    // Only the first of finish()/fail() counts.
    void finish(const Response &response, CacheStatus status, qint64 ageSeconds = 0);
    void fail(const Error &error);
    void setWaitMs(qint64 ms) { waitMs = ms; }

    Reply *q;
    Response response;
    Error error;
    CacheStatus cacheStatus = CacheStatus::Miss;
    qint64 ageSeconds = 0;
    qint64 waitMs = 0;
    bool finished = false;

private:
    void emitFinishedLater();
};

} // namespace prawmp
