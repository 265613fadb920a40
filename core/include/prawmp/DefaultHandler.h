#pragma once
#include "prawmp/Handler.h"

namespace prawmp {

class RequestPipeline;

// Does the work in this process: cache, coalescing, rate limiting, upstream.
// As in the original PRAW, every DefaultHandler of a process shares one
// pipeline (one budget, one cache).
class PRAWMP_EXPORT DefaultHandler : public Handler
{
public:
    DefaultHandler();
    // Uses this pipeline instead of the process-wide one (not owned).
    // RequestPipeline is one of core's internal headers (not installed):
    // these pipeline hooks serve the project's own tests and daemon.
    explicit DefaultHandler(RequestPipeline *pipeline);

    Reply *request(const Request &request) override;
    QFuture<int> evict(const QStringList &urls) override;
    // Empties the pipeline's cache (shared by every DefaultHandler using it).
    QFuture<int> clear() override;

    // The process-wide pipeline, created on first use in the calling thread.
    static RequestPipeline *sharedPipeline();
    // Replaces the process-wide pipeline (tests); not owned. nullptr restores the default.
    static void setSharedPipeline(RequestPipeline *pipeline);

private:
    RequestPipeline *m_pipeline = nullptr;
};

} // namespace prawmp
