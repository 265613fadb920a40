#include "ReplyPrivate.h"

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
    : QObject(parent), d(std::make_unique<ReplyPrivate>(this))
{
}

Reply::~Reply() = default;

bool Reply::isFinished() const { return d->finished; }
const Response &Reply::response() const { return d->response; }
const Error &Reply::error() const { return d->error; }
CacheStatus Reply::cacheStatus() const { return d->cacheStatus; }
qint64 Reply::ageSeconds() const { return d->ageSeconds; }
qint64 Reply::waitMs() const { return d->waitMs; }

void Reply::abort()
{
    if (d->finished)
        return;
    // The handler reacts first (leaves the queue, aborts upstream); it may
    // even finish the reply itself, in which case fail() below is a no-op.
    emit abortRequested();
    d->fail({Error::Kind::Canceled, QStringLiteral("Request canceled")});
}

void ReplyPrivate::finish(const Response &answer, CacheStatus status, qint64 age)
{
    if (finished)
        return;
    response = answer;
    cacheStatus = status;
    ageSeconds = age;
    emitFinishedLater();
}

void ReplyPrivate::fail(const Error &reason)
{
    if (finished)
        return;
    error = reason;
    emitFinishedLater();
}

void ReplyPrivate::emitFinishedLater()
{
    // Queued so that finished() never fires inside Handler::request(), before
    // the caller had a chance to connect (the QNetworkReply promise).
    finished = true;
    Reply *reply = q;
    QMetaObject::invokeMethod(reply, [reply] { emit reply->finished(); }, Qt::QueuedConnection);
}

} // namespace prawmp
