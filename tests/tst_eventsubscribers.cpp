// needs: prawmp_server
// EventSubscribers, the daemon's /_mp/events subscribers, with small limits
// over real loopback sockets: a subscriber that does not read gets stats
// frames only once past the first limit (its request events held back and
// counted in its stats frames), gets request events again once it catches
// up, and is disconnected past the second limit; a subscriber that reads is
// served all along. The batch timer runs only while anybody subscribes.
#include "EventSubscribers.h"
#include "HttpConnection.h"
#include "RequestEventFeed.h"
#include "StatsSink.h"
#include "StalledSubscriber.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <algorithm>
#include <memory>


using namespace prawmp;
using prawmp::test::StalledSubscriber;

namespace {

const QByteArray kSubscribe = "GET /_mp/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";

struct Frame
{
    QByteArray name;
    QJsonObject json;
};

// The frames in the raw bytes of a chunked event stream. Each frame is
// written in one chunk, so the chunk framing never cuts one.
QList<Frame> framesIn(const QByteArray &raw)
{
    static const QRegularExpression re(QStringLiteral("event: (\\w+)\ndata: ([^\n]*)\n\n"));
    QList<Frame> frames;
    const QString text = QString::fromUtf8(raw);
    for (auto it = re.globalMatch(text); it.hasNext();) {
        const QRegularExpressionMatch m = it.next();
        frames.append({m.captured(1).toUtf8(), QJsonDocument::fromJson(m.captured(2).toUtf8()).object()});
    }
    return frames;
}

bool hasRequest(const QList<Frame> &frames, const QString &url)
{
    return std::any_of(frames.cbegin(), frames.cend(),
                       [&](const Frame &f) { return f.name == "request" && f.json["url"].toString() == url; });
}

// The last stats frame with this "tick", or an empty object.
QJsonObject statsTick(const QList<Frame> &frames, int tick)
{
    for (auto it = frames.crbegin(); it != frames.crend(); ++it)
        if (it->name == "stats" && it->json["tick"].toInt() == tick)
            return it->json;
    return {};
}

// The daemon side: a listening socket whose connections subscribe on
// GET /_mp/events, as ControlEndpoints does.
class Server : public QObject
{
public:
    Server(EventSubscribers &subscribers) : m_subscribers(subscribers)
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection()) {
                auto *connection = new HttpConnection(socket, HttpLimits(), this);
                connections.append(connection);
                connect(connection, &HttpConnection::requestReceived, this, [this, connection](const IncomingRequest &r) {
                    m_subscribers.add(connection->eventStream(r.sequence), QJsonObject{{"tick", 0}, {"requestEventsNotSent", 0}});
                });
                connect(connection, &HttpConnection::closed, connection, &QObject::deleteLater);
            }
        });
    }

    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    quint16 port() const { return m_server.serverPort(); }
    HttpConnection *connectionFrom(quint16 peerPort) const
    {
        for (const QPointer<HttpConnection> &c : connections)
            if (c && c->peerPort() == peerPort)
                return c;
        return nullptr;
    }

    QList<QPointer<HttpConnection>> connections;

private:
    EventSubscribers &m_subscribers;
    QTcpServer m_server;
};

// A subscriber that reads everything as it comes.
class ReadingSubscriber : public QObject
{
public:
    ReadingSubscriber(quint16 port)
    {
        connect(&socket, &QTcpSocket::connected, this, [this] { socket.write(kSubscribe); });
        connect(&socket, &QTcpSocket::readyRead, this, [this] {
            // Frames as they complete; the rest waits for more bytes.
            m_pending += socket.readAll();
            const qsizetype end = m_pending.lastIndexOf("\n\n");
            if (end < 0)
                return;
            m_frames += framesIn(m_pending.left(end + 2));
            m_pending.remove(0, end + 2);
        });
        socket.connectToHost(QHostAddress::LocalHost, port);
    }

    const QList<Frame> &frames() const { return m_frames; }

    QTcpSocket socket;

private:
    QByteArray m_pending;
    QList<Frame> m_frames;
};

RequestRecord record(const QString &url)
{
    RequestRecord r;
    r.method = "GET";
    r.url = url;
    r.status = 200;
    r.clientId = QStringLiteral("tst-eventsubscribers");
    return r;
}

} // namespace

class tst_EventSubscribers : public QObject
{
    Q_OBJECT

private slots:
    void defaultLimitsAreTheDocumentedOnes()
    {
        StatsSink sink;
        RequestEventFeed feed(sink);
        EventSubscribers subscribers(feed);
        QCOMPARE(subscribers.limits().eventsBacklogBytes, 1024 * 1024);
        QCOMPARE(subscribers.limits().disconnectBacklogBytes, 8 * 1024 * 1024);
        QVERIFY(subscribers.limits().sendBufferBytes > 0);
        // Nobody subscribes: no timer, no events made.
        QVERIFY(!subscribers.isBatching());
        QVERIFY(!feed.wanted());
    }

    void slowSubscriberGetsStatsOnlyThenIsDisconnected()
    {
        StatsSink sink;
        RequestEventFeed feed(sink);
        EventSubscribers::Limits limits;
        limits.eventsBacklogBytes = 64 * 1024;
        limits.disconnectBacklogBytes = 512 * 1024;
        limits.sendBufferBytes = 16 * 1024;
        EventSubscribers subscribers(feed, limits);
        Server server(subscribers);
        QVERIFY(server.listen());
        QVERIFY(!subscribers.isBatching());

        ReadingSubscriber fast(server.port());
        StalledSubscriber slow;
        QVERIFY(slow.subscribe(server.port(), kSubscribe));
        QTRY_COMPARE(subscribers.size(), qsizetype(2));
        QVERIFY(subscribers.isBatching());
        QVERIFY(feed.wanted());
        QPointer<HttpConnection> slowConnection = server.connectionFrom(slow.localPort());
        QVERIFY(slowConnection);

        // Request events with big URLs, pushed as the serving threads do;
        // each batch is waited for at the reading subscriber, which is
        // never held back.
        const QString padding(2000, u'x');
        int pushed = 0;
        const auto pushBatch = [&](const QString &kind, int count) {
            QString last;
            for (int i = 0; i < count; ++i) {
                last = QStringLiteral("https://example.test/%1/%2/%3").arg(kind).arg(pushed++).arg(padding);
                if (!feed.admit())
                    return false; // over the rate: not expected at these numbers
                feed.push(record(last));
            }
            return QTest::qWaitFor([&] { return hasRequest(fast.frames(), last); }, 10000);
        };

        // 1. Fill the slow subscriber past the first limit with request events.
        for (int round = 0; round < 200 && slowConnection->outputBacklog() <= limits.eventsBacklogBytes; ++round)
            QVERIFY2(pushBatch(QStringLiteral("fill"), 10), "the reading subscriber missed request events");
        QVERIFY2(slowConnection->outputBacklog() > limits.eventsBacklogBytes,
                 qPrintable(QString::number(slowConnection->outputBacklog())));

        // 2. Past it: request events are held back from the slow one (its
        // backlog does not grow), the reading one still gets them all.
        const qint64 backlogBefore = slowConnection->outputBacklog();
        constexpr int kHeld = 30;
        for (int i = 0; i < kHeld / 10; ++i)
            QVERIFY(pushBatch(QStringLiteral("held"), 10));
        QVERIFY2(slowConnection->outputBacklog() <= backlogBefore,
                 qPrintable(QStringLiteral("%1 > %2").arg(slowConnection->outputBacklog()).arg(backlogBefore)));
        // Stats frames still go to both; the reading one's count is the
        // daemon's, the slow one's (below) adds what it missed.
        for (int tick = 1; tick <= 3; ++tick) {
            subscribers.sendStats({{"tick", tick}, {"requestEventsNotSent", 5}});
            QTRY_VERIFY(!statsTick(fast.frames(), tick).isEmpty());
            QCOMPARE(statsTick(fast.frames(), tick)["requestEventsNotSent"].toInteger(), 5);
        }
        QVERIFY(slowConnection->isOpen());

        // 3. It reads everything: the stats frames are there, the held
        // request events are not, and counted.
        QVERIFY(QTest::qWaitFor([&] {
            slow.read();
            return !statsTick(framesIn(slow.raw), 3).isEmpty();
        }, 10000));
        QList<Frame> slowFrames = framesIn(slow.raw);
        QVERIFY(hasRequest(slowFrames, QStringLiteral("https://example.test/fill/0/%1").arg(padding)));
        for (const Frame &f : slowFrames)
            QVERIFY2(!(f.name == "request" && f.json["url"].toString().contains(u"/held/")),
                     qPrintable(f.json["url"].toString().left(40)));
        for (int tick = 1; tick <= 3; ++tick)
            QCOMPARE(statsTick(slowFrames, tick)["requestEventsNotSent"].toInteger(), 5 + kHeld);

        // Caught up: request events reach it again.
        QVERIFY(QTest::qWaitFor([&] {
            slow.read();
            return slowConnection->outputBacklog() == 0;
        }, 10000));
        QVERIFY(pushBatch(QStringLiteral("after"), 1));
        const QString after = QStringLiteral("https://example.test/after/%1/%2").arg(pushed - 1).arg(padding);
        QVERIFY(QTest::qWaitFor([&] {
            slow.read();
            return hasRequest(framesIn(slow.raw), after);
        }, 10000));

        // 4. It stops reading again; only (big) stats frames come now. It
        // stays connected up to the second limit, and is disconnected past it.
        const QString statsPadding(32 * 1024, u's');
        // Its backlog grows only when a frame is written to it: measured
        // after each one, the highest is what any check could have seen.
        qint64 highestBacklog = 0;
        int ticksOverLimit = 0;
        for (int tick = 10; tick < 300 && slowConnection && slowConnection->isOpen(); ++tick) {
            if (highestBacklog > limits.disconnectBacklogBytes)
                ++ticksOverLimit;
            subscribers.sendStats({{"tick", tick}, {"requestEventsNotSent", 0}, {"padding", statsPadding}});
            if (slowConnection && slowConnection->isOpen())
                highestBacklog = std::max(highestBacklog, slowConnection->outputBacklog());
            // Paced by the reading subscriber, which gets every one.
            QTRY_VERIFY(!statsTick(fast.frames(), tick).isEmpty());
        }
        QVERIFY2(!slowConnection || !slowConnection->isOpen(), "never disconnected");
        QVERIFY2(highestBacklog > limits.disconnectBacklogBytes,
                 qPrintable(QStringLiteral("disconnected at a backlog of %1").arg(highestBacklog)));
        QVERIFY2(ticksOverLimit <= 1, qPrintable(QString::number(ticksOverLimit)));
        QTRY_COMPARE(subscribers.size(), qsizetype(1));
        QVERIFY(QTest::qWaitFor([&] { return !slow.read(); }, 10000));

        // The reading subscriber is still served, and the batches go on for it.
        QVERIFY(subscribers.isBatching());
        QVERIFY(pushBatch(QStringLiteral("last"), 1));
        QCOMPARE(fast.socket.state(), QAbstractSocket::ConnectedState);

        // 5. The last one leaves: no timer, no events made.
        fast.socket.disconnectFromHost();
        QTRY_VERIFY(subscribers.isEmpty());
        QVERIFY(!subscribers.isBatching());
        QVERIFY(!feed.wanted());
        QVERIFY(!feed.admit());
    }

    void batchTimerRunsOnlyWhileSubscribed()
    {
        StatsSink sink;
        RequestEventFeed feed(sink);
        EventSubscribers subscribers(feed);
        Server server(subscribers);
        QVERIFY(server.listen());
        QVERIFY(!subscribers.isBatching());

        auto first = std::make_unique<ReadingSubscriber>(server.port());
        QTRY_COMPARE(subscribers.size(), qsizetype(1));
        QVERIFY(subscribers.isBatching());
        QVERIFY(feed.admit());
        feed.push(record(QStringLiteral("https://example.test/first")));
        QTRY_VERIFY(hasRequest(first->frames(), QStringLiteral("https://example.test/first")));
        // A serving thread admits an event, and pushes it only after the
        // subscriber has left.
        QVERIFY(feed.admit());
        first.reset(); // closes the socket
        QTRY_VERIFY(subscribers.isEmpty());
        QVERIFY(!subscribers.isBatching());
        QVERIFY(!feed.wanted());
        feed.push(record(QStringLiteral("https://example.test/late")));
        QVERIFY(!subscribers.isBatching());

        // The next subscriber gets the events made after it came, not that one.
        ReadingSubscriber second(server.port());
        QTRY_COMPARE(subscribers.size(), qsizetype(1));
        QVERIFY(subscribers.isBatching());
        QVERIFY(feed.admit());
        feed.push(record(QStringLiteral("https://example.test/second")));
        QTRY_VERIFY(hasRequest(second.frames(), QStringLiteral("https://example.test/second")));
        QVERIFY(!hasRequest(second.frames(), QStringLiteral("https://example.test/late")));
    }
};

QTEST_GUILESS_MAIN(tst_EventSubscribers)
#include "tst_eventsubscribers.moc"
