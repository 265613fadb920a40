// Reply: the promise a handler hands back. finished() fires exactly once,
// never from inside the call that created the reply; abort() leaves with
// Canceled; the first completion wins. Completed as handlers do, through
// core's private ReplyPrivate.
#include "FakeReddit.h"

#include "prawmp/DefaultHandler.h"
#include "prawmp/Error.h"
#include "prawmp/Reply.h"
#include "prawmp/RequestPipeline.h"

#include "ReplyPrivate.h"

#include <QPointer>
#include <QSignalSpy>
#include <QTest>

#include <memory>

using namespace prawmp;

Q_DECLARE_METATYPE(prawmp::CacheStatus)
Q_DECLARE_METATYPE(prawmp::Error::Kind)

namespace {

// Lets queued invocations run, so a test can assert that a second
// finished() was not merely late.
void drainEvents()
{
    for (int i = 0; i < 3; ++i) {
        QCoreApplication::sendPostedEvents();
        QCoreApplication::processEvents();
    }
}

Response okResponse()
{
    return Response{200, "OK", HttpHeaders{{"Content-Type", "application/json"}}, "{\"a\":1}"};
}

} // namespace

class TestReply : public QObject
{
    Q_OBJECT
private slots:
    void newReplyIsPending();
    void finishIsReportedOnALaterEventLoopTurn();
    void failIsReportedOnALaterEventLoopTurn();
    void firstCompletionWins_data();
    void firstCompletionWins();
    void abortLeavesWithCanceled();
    void abortAfterFinishChangesNothing();
    void handlerMayAnswerTheAbortItself();
    void abortTwiceFinishesOnce();
    void deletingAFinishedReplyBeforeDeliveryIsSafe();
    void waitMsIsKept();
    void cacheStatusNamesFollowTheContract_data();
    void cacheStatusNamesFollowTheContract();
    void errorKindsMapToContractStatuses_data();
    void errorKindsMapToContractStatuses();
    void handlerNeverFinishesInsideRequest();
};

void TestReply::newReplyIsPending()
{
    Reply reply;
    QVERIFY(!reply.isFinished());
    QVERIFY(!reply.error());
    QCOMPARE(reply.error().kind, Error::Kind::None);
    QCOMPARE(reply.response().status, 0);
    QCOMPARE(reply.cacheStatus(), CacheStatus::Miss);
    QCOMPARE(reply.ageSeconds(), 0);
    QCOMPARE(reply.waitMs(), 0);
}

void TestReply::finishIsReportedOnALaterEventLoopTurn()
{
    Reply reply;
    QSignalSpy finished(&reply, &Reply::finished);
    ReplyPrivate::get(&reply)->finish(okResponse(), CacheStatus::Hit, 7);
    // State is visible at once; the signal waits for the event loop, so a
    // caller that connects after the call still hears it.
    QVERIFY(reply.isFinished());
    QCOMPARE(finished.count(), 0);
    QCOMPARE(reply.response(), okResponse());
    QCOMPARE(reply.cacheStatus(), CacheStatus::Hit);
    QCOMPARE(reply.ageSeconds(), 7);
    QTRY_COMPARE(finished.count(), 1);
    drainEvents();
    QCOMPARE(finished.count(), 1);
}

void TestReply::failIsReportedOnALaterEventLoopTurn()
{
    Reply reply;
    QSignalSpy finished(&reply, &Reply::finished);
    ReplyPrivate::get(&reply)->fail({Error::Kind::Timeout, QStringLiteral("too slow")});
    QVERIFY(reply.isFinished());
    QCOMPARE(finished.count(), 0);
    QTRY_COMPARE(finished.count(), 1);
    QCOMPARE(reply.error().kind, Error::Kind::Timeout);
    QCOMPARE(reply.error().message, QStringLiteral("too slow"));
    QVERIFY(bool(reply.error()));
    QCOMPARE(reply.response().status, 0);
}

void TestReply::firstCompletionWins_data()
{
    QTest::addColumn<bool>("failFirst");
    QTest::newRow("finish then fail") << false;
    QTest::newRow("fail then finish") << true;
}

void TestReply::firstCompletionWins()
{
    QFETCH(bool, failFirst);
    Reply reply;
    QSignalSpy finished(&reply, &Reply::finished);
    const Error error{Error::Kind::ConnectionFailed, QStringLiteral("reset")};
    if (failFirst) {
        ReplyPrivate::get(&reply)->fail(error);
        ReplyPrivate::get(&reply)->finish(okResponse(), CacheStatus::Hit, 3);
        ReplyPrivate::get(&reply)->fail({Error::Kind::Timeout, QStringLiteral("later")});
    } else {
        ReplyPrivate::get(&reply)->finish(okResponse(), CacheStatus::Coalesced);
        ReplyPrivate::get(&reply)->fail(error);
        ReplyPrivate::get(&reply)->finish(Response{500, "Oops", {}, "x"}, CacheStatus::Miss);
    }
    QTRY_COMPARE(finished.count(), 1);
    drainEvents();
    QCOMPARE(finished.count(), 1);
    if (failFirst) {
        QCOMPARE(reply.error().kind, Error::Kind::ConnectionFailed);
        QCOMPARE(reply.error().message, QStringLiteral("reset"));
        QCOMPARE(reply.response().status, 0);
        QCOMPARE(reply.ageSeconds(), 0);
    } else {
        QVERIFY(!reply.error());
        QCOMPARE(reply.response(), okResponse());
        QCOMPARE(reply.cacheStatus(), CacheStatus::Coalesced);
    }
}

void TestReply::abortLeavesWithCanceled()
{
    Reply reply;
    QSignalSpy aborted(&reply, &Reply::abortRequested);
    QSignalSpy finished(&reply, &Reply::finished);
    reply.abort();
    QCOMPARE(aborted.count(), 1); // the handler hears it at once, to leave the queue
    QVERIFY(reply.isFinished());
    QCOMPARE(reply.error().kind, Error::Kind::Canceled);
    QCOMPARE(reply.error().code(), QStringLiteral("canceled"));
    QCOMPARE(finished.count(), 0);
    QTRY_COMPARE(finished.count(), 1);
}

void TestReply::abortAfterFinishChangesNothing()
{
    Reply reply;
    QSignalSpy aborted(&reply, &Reply::abortRequested);
    QSignalSpy finished(&reply, &Reply::finished);
    ReplyPrivate::get(&reply)->finish(okResponse(), CacheStatus::Miss);
    reply.abort();
    QCOMPARE(aborted.count(), 0);
    QTRY_COMPARE(finished.count(), 1);
    reply.abort();
    drainEvents();
    QCOMPARE(aborted.count(), 0);
    QCOMPARE(finished.count(), 1);
    QVERIFY(!reply.error());
    QCOMPARE(reply.response(), okResponse());
}

void TestReply::handlerMayAnswerTheAbortItself()
{
    Reply reply;
    QSignalSpy finished(&reply, &Reply::finished);
    connect(&reply, &Reply::abortRequested, this, [&reply] {
        ReplyPrivate::get(&reply)->fail({Error::Kind::Canceled, QStringLiteral("left the queue")});
    });
    reply.abort();
    QTRY_COMPARE(finished.count(), 1);
    drainEvents();
    QCOMPARE(finished.count(), 1);
    QCOMPARE(reply.error().kind, Error::Kind::Canceled);
    QCOMPARE(reply.error().message, QStringLiteral("left the queue"));
}

void TestReply::abortTwiceFinishesOnce()
{
    Reply reply;
    QSignalSpy aborted(&reply, &Reply::abortRequested);
    QSignalSpy finished(&reply, &Reply::finished);
    reply.abort();
    reply.abort();
    QCOMPARE(aborted.count(), 1);
    QTRY_COMPARE(finished.count(), 1);
    drainEvents();
    QCOMPARE(finished.count(), 1);
}

void TestReply::deletingAFinishedReplyBeforeDeliveryIsSafe()
{
    int heard = 0;
    {
        auto *reply = new Reply;
        connect(reply, &Reply::finished, this, [&heard] { ++heard; });
        ReplyPrivate::get(reply)->finish(okResponse(), CacheStatus::Miss);
        delete reply; // the pending delivery must die with it
    }
    drainEvents();
    QCOMPARE(heard, 0);

    // deleteLater() in the finished() slot, the usual pattern.
    QPointer<Reply> reply = new Reply;
    connect(reply, &Reply::finished, reply, &QObject::deleteLater);
    ReplyPrivate::get(reply)->fail({Error::Kind::BadResponse, QStringLiteral("junk")});
    QTRY_VERIFY(reply.isNull());
}

void TestReply::waitMsIsKept()
{
    Reply reply;
    ReplyPrivate::get(&reply)->setWaitMs(1234);
    ReplyPrivate::get(&reply)->finish(okResponse(), CacheStatus::Miss);
    QCOMPARE(reply.waitMs(), 1234);
}

void TestReply::cacheStatusNamesFollowTheContract_data()
{
    QTest::addColumn<CacheStatus>("status");
    QTest::addColumn<QByteArray>("name");
    QTest::newRow("hit") << CacheStatus::Hit << QByteArray("HIT");
    QTest::newRow("miss") << CacheStatus::Miss << QByteArray("MISS");
    QTest::newRow("bypass") << CacheStatus::Bypass << QByteArray("BYPASS");
    QTest::newRow("coalesced") << CacheStatus::Coalesced << QByteArray("COALESCED");
}

void TestReply::cacheStatusNamesFollowTheContract()
{
    QFETCH(CacheStatus, status);
    QFETCH(QByteArray, name);
    QCOMPARE(cacheStatusName(status), name);
}

void TestReply::errorKindsMapToContractStatuses_data()
{
    QTest::addColumn<Error::Kind>("kind");
    QTest::addColumn<int>("status");
    QTest::newRow("connection failed") << Error::Kind::ConnectionFailed << 502;
    QTest::newRow("bad response") << Error::Kind::BadResponse << 502;
    QTest::newRow("timeout") << Error::Kind::Timeout << 504;
    QTest::newRow("queue timeout") << Error::Kind::QueueTimeout << 503;
    QTest::newRow("not allowed") << Error::Kind::NotAllowed << 403;
}

void TestReply::errorKindsMapToContractStatuses()
{
    QFETCH(Error::Kind, kind);
    QFETCH(int, status);
    const Error error{kind, QStringLiteral("m")};
    QCOMPARE(error.httpStatus(), status);
    QVERIFY(bool(error));
    QVERIFY(!error.code().isEmpty());
}

void TestReply::handlerNeverFinishesInsideRequest()
{
    // Answers decided inside request() (a cache hit, a fail-fast) still
    // reach a caller that connects after the call returns.
    prawmp::test::FakeReddit fake;
    QVERIFY(fake.listen());
    PipelineConfig config;
    config.rate.mode = RateMode::Fixed;
    config.rate.delaySeconds = 5;
    RequestPipeline pipeline(config);
    DefaultHandler handler(&pipeline);

    Request request;
    request.url = fake.url("/r/promise/hot.json");
    std::unique_ptr<Reply> miss(handler.request(request));
    QSignalSpy missFinished(miss.get(), &Reply::finished);
    QTRY_COMPARE(missFinished.count(), 1);

    std::unique_ptr<Reply> hit(handler.request(request));
    QVERIFY(hit->isFinished());
    QCOMPARE(hit->cacheStatus(), CacheStatus::Hit);
    QSignalSpy hitFinished(hit.get(), &Reply::finished);
    QCOMPARE(hitFinished.count(), 0);
    QTRY_COMPARE(hitFinished.count(), 1);

    // The 5 s pace makes the next request wait; it refuses to.
    Request impatient;
    impatient.url = fake.url("/r/promise/new.json");
    impatient.maxWaitSeconds = 0.1;
    std::unique_ptr<Reply> refused(handler.request(impatient));
    QVERIFY(refused->isFinished());
    QSignalSpy refusedFinished(refused.get(), &Reply::finished);
    QCOMPARE(refusedFinished.count(), 0);
    QTRY_COMPARE(refusedFinished.count(), 1);
    QCOMPARE(refused->error().kind, Error::Kind::QueueTimeout);
    QCOMPARE(fake.requestCount(), 1);
}

QTEST_GUILESS_MAIN(TestReply)
#include "tst_reply.moc"
