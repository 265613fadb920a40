#include "RequestLog.h"

#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcRequests, "prawmp.requests")

namespace prawmp {

namespace {
constexpr qsizetype kLoggedBodyBytes = 2048;
}

RequestLog::RequestLog() : m_thread([this] { run(); }) {}

RequestLog::~RequestLog()
{
    {
        std::lock_guard lock(m_mutex);
        m_quit = true;
    }
    m_wake.notify_one();
    m_thread.join();
}

void RequestLog::write(Entry &&entry)
{
    {
        std::lock_guard lock(m_mutex);
        if (m_queue.size() >= kMaxQueued) {
            ++m_dropped;
            return;
        }
        m_queue.push_back(std::move(entry));
    }
    m_wake.notify_one();
}

QString RequestLog::format(const Entry &entry, int level)
{
    const RequestRecord &r = entry.record;
    const bool hit = r.cacheStatus == CacheStatus::Hit;
    const QString status = r.error.isEmpty() ? QString::number(r.status) : r.error;
    QString line = QStringLiteral("%1%2 %3 %4 %5 wait=%6ms total=%7ms")
                       .arg(hit ? QStringLiteral("HIT ") : QString(), QString::fromLatin1(r.method), r.url, status,
                            QString::fromLatin1(cacheStatusName(r.cacheStatus)))
                       .arg(r.waitMs)
                       .arg(r.totalMs);
    if (level >= 2) {
        // Bodies carry secrets too (a password grant, the access_token answered).
        line += QStringLiteral("\n  request body: %1\n  response body: %2")
                    .arg(QString::fromUtf8(RequestPipeline::redactedBody(entry.requestBody.left(kLoggedBodyBytes))),
                         QString::fromUtf8(RequestPipeline::redactedBody(entry.responseBody.left(kLoggedBodyBytes))));
    }
    return line;
}

void RequestLog::run()
{
    std::unique_lock lock(m_mutex);
    for (;;) {
        m_wake.wait(lock, [this] { return m_quit || !m_queue.empty(); });
        if (m_queue.empty() && m_quit)
            return;
        std::deque<Entry> batch;
        batch.swap(m_queue);
        const quint64 dropped = std::exchange(m_dropped, 0);
        const int level = this->level();
        lock.unlock();
        if (dropped > 0)
            qCWarning(lcRequests).noquote()
                << QStringLiteral("%1 request log lines dropped (more than %2 waiting to be written)")
                       .arg(dropped).arg(kMaxQueued);
        for (const Entry &entry : batch)
            qCInfo(lcRequests).noquote() << format(entry, level);
        lock.lock();
    }
}

} // namespace prawmp
