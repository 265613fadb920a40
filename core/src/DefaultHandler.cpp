#include "prawmp/DefaultHandler.h"

#include "prawmp/RequestPipeline.h"

#include <QCoreApplication>
#include <QPointer>
#include <QPromise>

namespace prawmp {

namespace {
QPointer<RequestPipeline> g_override;
QPointer<RequestPipeline> g_default;
} // namespace

DefaultHandler::DefaultHandler() = default;
DefaultHandler::DefaultHandler(RequestPipeline *pipeline) : m_pipeline(pipeline) {}

RequestPipeline *DefaultHandler::sharedPipeline()
{
    if (g_override)
        return g_override;
    if (!g_default) {
        // Lives as long as the application, like the original's module-level state.
        g_default = new RequestPipeline({}, QCoreApplication::instance());
    }
    return g_default;
}

void DefaultHandler::setSharedPipeline(RequestPipeline *pipeline) { g_override = pipeline; }

Reply *DefaultHandler::request(const Request &request)
{
    RequestPipeline *pipeline = m_pipeline ? m_pipeline : sharedPipeline();
    return pipeline->submit(request);
}

namespace {

// The pipeline answers at once: a future that is already finished.
QFuture<int> finishedWith(int count)
{
    QPromise<int> promise;
    promise.start();
    promise.addResult(count);
    promise.finish();
    return promise.future();
}

} // namespace

QFuture<int> DefaultHandler::evict(const QStringList &urls)
{
    RequestPipeline *pipeline = m_pipeline ? m_pipeline : sharedPipeline();
    return finishedWith(pipeline->evict(urls));
}

QFuture<int> DefaultHandler::clear()
{
    RequestPipeline *pipeline = m_pipeline ? m_pipeline : sharedPipeline();
    return finishedWith(pipeline->clear());
}

} // namespace prawmp
