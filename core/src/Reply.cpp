#include "prawmp/Reply.h"

namespace prawmp {

QByteArray cacheStatusName(CacheStatus status)
{
    switch (status) {
    case CacheStatus::Miss: return "MISS";
    case CacheStatus::Hit: return "HIT";
    case CacheStatus::Bypass: return "BYPASS";
    case CacheStatus::Coalesced: return "COALESCED";
    }
    return "MISS";
}

Reply::Reply(QObject *parent)
    : QObject(parent)
{
}

Reply::~Reply() = default;

void Reply::abort()
{
    if (m_finished)
        return;
    // The handler reacts first (leaves the queue, aborts upstream); it may
    // even finish the reply itself, in which case fail() below is a no-op.
    emit abortRequested();
    fail({Error::Kind::Canceled, QStringLiteral("Request canceled")});
}

void Reply::finish(const Response &response, CacheStatus status, qint64 ageSeconds)
{
    if (m_finished)
        return;
    m_response = response;
    m_cacheStatus = status;
    m_ageSeconds = ageSeconds;
    emitFinishedLater();
}

void Reply::fail(const Error &error)
{
    if (m_finished)
        return;
    m_error = error;
    emitFinishedLater();
}

void Reply::emitFinishedLater()
{
    // Queued so that finished() never fires inside Handler::request(), before
    // the caller had a chance to connect (the QNetworkReply promise).
    m_finished = true;
    QMetaObject::invokeMethod(this, [this] { emit finished(); }, Qt::QueuedConnection);
}

} // namespace prawmp
