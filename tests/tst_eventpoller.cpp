// needs: prawmp_server
// EventPoller, the readiness interface of the serving threads, over real
// sockets (AF_UNIX socket pairs and loopback TCP), every test run on each
// backend built here (epoll and poll on Linux): readiness to read and to
// write, level-triggered; modify() and remove(); the peer's end with and
// without interest in reading; resets; wake() from another thread, never
// reported as an fd event and never lost; thousands of fds with a few
// ready; the tags coming back; PRAWMP_IO_BACKEND.
#include "EventPoller.h"

#include <QElapsedTimer>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QSet>
#include <QTest>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace prawmp;
using Backend = EventPoller::Backend;
using Interest = EventPoller::Interest;
using Interests = EventPoller::Interests;

Q_DECLARE_METATYPE(prawmp::EventPoller::Backend)

namespace {

void setNonBlocking(int fd)
{
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// Two connected stream sockets: `mine` (non-blocking) is polled, `peer`
// plays the other end. Both closed on destruction.
struct SocketPair
{
    int mine = -1;
    int peer = -1;

    SocketPair() = default;
    SocketPair(SocketPair &&other) noexcept
        : mine(std::exchange(other.mine, -1)), peer(std::exchange(other.peer, -1)) {}
    SocketPair(const SocketPair &) = delete;
    ~SocketPair()
    {
        closePeer();
        if (mine >= 0)
            ::close(mine);
    }
    bool valid() const { return mine >= 0 && peer >= 0; }
    void closePeer()
    {
        if (peer >= 0)
            ::close(std::exchange(peer, -1));
    }
    bool peerSends(const QByteArray &bytes) const
    {
        return ::send(peer, bytes.constData(), size_t(bytes.size()), MSG_NOSIGNAL) == bytes.size();
    }
};

SocketPair unixPair()
{
    SocketPair pair;
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
        return pair;
    pair.mine = fds[0];
    pair.peer = fds[1];
    setNonBlocking(pair.mine);
    return pair;
}

SocketPair tcpPair()
{
    SocketPair pair;
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0)
        return pair;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    const int peer = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (peer >= 0 && ::bind(listener, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0
        && ::listen(listener, 1) == 0 && ::getsockname(listener, reinterpret_cast<sockaddr *>(&addr), &len) == 0
        && ::connect(peer, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0) {
        pair.peer = peer;
        pair.mine = ::accept(listener, nullptr, nullptr);
        if (pair.mine >= 0)
            setNonBlocking(pair.mine);
    } else if (peer >= 0) {
        ::close(peer);
    }
    ::close(listener);
    return pair;
}

SocketPair makePair(const QByteArray &kind)
{
    return kind == "tcp" ? tcpPair() : unixPair();
}

// Reads what is there without blocking; the byte count.
qint64 drain(int fd)
{
    char buffer[65536];
    qint64 total = 0;
    for (int i = 0; i < 100'000; ++i) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n <= 0)
            break;
        total += n;
    }
    return total;
}

// Writes until the socket takes no more; true if it got there.
bool fill(int fd)
{
    static const QByteArray chunk(65536, 'x');
    for (int i = 0; i < 4096; ++i) {
        const ssize_t n = ::send(fd, chunk.constData(), size_t(chunk.size()), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    return false;
}

// The descriptor limit, raised toward the hard one.
rlim_t raiseFdLimit()
{
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return 256;
    if (limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? std::max<rlim_t>(limit.rlim_cur, 8192) : limit.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
            limit = raised;
    }
    return limit.rlim_cur;
}

} // namespace

class TestEventPoller : public QObject
{
    Q_OBJECT

private:
    static void addBackendColumn()
    {
        QTest::addColumn<Backend>("backend");
    }
    static QList<std::pair<const char *, Backend>> backends()
    {
        QList<std::pair<const char *, Backend>> list;
#ifdef __linux__
        list.append({"epoll", Backend::Epoll});
#endif
        list.append({"poll", Backend::Poll});
        return list;
    }
    static void backendRows()
    {
        addBackendColumn();
        for (const auto &[name, backend] : backends())
            QTest::newRow(name) << backend;
    }
    static void backendAndSocketRows()
    {
        addBackendColumn();
        QTest::addColumn<QByteArray>("kind");
        for (const auto &[name, backend] : backends()) {
            for (const char *kind : {"unix", "tcp"})
                QTest::addRow("%s-%s", name, kind) << backend << QByteArray(kind);
        }
    }

private slots:
    void createsTheBackendAskedFor_data() { backendRows(); }
    void createsTheBackendAskedFor();
    void defaultBackendFollowsEnvironment();

    void readableAfterPeerWrites_data() { backendAndSocketRows(); }
    void readableAfterPeerWrites();
    void writableUntilSocketIsFull_data() { backendAndSocketRows(); }
    void writableUntilSocketIsFull();
    void modifySwitchesInterestAndTag_data() { backendRows(); }
    void modifySwitchesInterestAndTag();
    void removeStopsReports_data() { backendRows(); }
    void removeStopsReports();
    void misuseFailsWithErrno_data() { backendRows(); }
    void misuseFailsWithErrno();

    void peerEndReported_data();
    void peerEndReported();
    void unreadBytesDoNotWakePeerClosedInterest_data() { backendAndSocketRows(); }
    void unreadBytesDoNotWakePeerClosedInterest();
    void resetReportedWhateverTheInterest_data();
    void resetReportedWhateverTheInterest();

    void wakeInterruptsWaitFromAnotherThread_data() { backendRows(); }
    void wakeInterruptsWaitFromAnotherThread();
    void wakesFoldAndAreNotFdEvents_data() { backendRows(); }
    void wakesFoldAndAreNotFdEvents();
    void wakeIsNeverLost_data() { backendRows(); }
    void wakeIsNeverLost();

    void manyFdsOnlyReadyOnesReported_data() { backendRows(); }
    void manyFdsOnlyReadyOnesReported();
    void everyReadyFdReportedEventually_data() { backendRows(); }
    void everyReadyFdReportedEventually();
};

void TestEventPoller::createsTheBackendAskedFor()
{
    QFETCH(Backend, backend);
    const auto poller = EventPoller::create(backend);
    QVERIFY(poller);
    QCOMPARE(poller->backend(), backend);
    QCOMPARE(QByteArray(poller->name()), QByteArray(QTest::currentDataTag()));
}

void TestEventPoller::defaultBackendFollowsEnvironment()
{
    const QByteArray saved = qgetenv("PRAWMP_IO_BACKEND");
    const bool wasSet = qEnvironmentVariableIsSet("PRAWMP_IO_BACKEND");
    auto restore = qScopeGuard([&] {
        if (wasSet)
            qputenv("PRAWMP_IO_BACKEND", saved);
        else
            qunsetenv("PRAWMP_IO_BACKEND");
    });
#ifdef __linux__
    const Backend platform = Backend::Epoll;
#else
    const Backend platform = Backend::Poll;
#endif
    qunsetenv("PRAWMP_IO_BACKEND");
    QCOMPARE(EventPoller::create()->backend(), platform);
    qputenv("PRAWMP_IO_BACKEND", "poll");
    QCOMPARE(EventPoller::create()->backend(), Backend::Poll);
    qputenv("PRAWMP_IO_BACKEND", "POLL ");
    QCOMPARE(EventPoller::create()->backend(), Backend::Poll);
#ifdef __linux__
    qputenv("PRAWMP_IO_BACKEND", "epoll");
    QCOMPARE(EventPoller::create()->backend(), Backend::Epoll);
#endif
    qputenv("PRAWMP_IO_BACKEND", "kqueue");
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression("PRAWMP_IO_BACKEND.*kqueue.*not a backend"));
    QCOMPARE(EventPoller::create()->backend(), platform);
    // An explicit backend is not overridden.
    qputenv("PRAWMP_IO_BACKEND", "poll");
    QCOMPARE(EventPoller::create(platform)->backend(), platform);
}

void TestEventPoller::readableAfterPeerWrites()
{
    QFETCH(Backend, backend);
    QFETCH(QByteArray, kind);
    const auto poller = EventPoller::create(backend);
    QVERIFY(poller);
    SocketPair pair = makePair(kind);
    QVERIFY(pair.valid());
    int tag = 0;
    QVERIFY(poller->add(pair.mine, Interest::Readable | Interest::PeerClosed, &tag));
    std::vector<EventPoller::Event> events;
    QCOMPARE(poller->wait(events, 0), 0);
    QVERIFY(events.empty());

    QVERIFY(pair.peerSends("hello"));
    QElapsedTimer timer;
    timer.start();
    QCOMPARE(poller->wait(events, 5000), 1);
    QVERIFY(timer.elapsed() < 2000);
    QCOMPARE(events.size(), size_t(1));
    QCOMPARE(events[0].tag, static_cast<void *>(&tag));
    QVERIFY(events[0].readable);
    QVERIFY(!events[0].writable);
    QVERIFY(!events[0].peerClosed);
    QVERIFY(!events[0].error);

    // Level-triggered: reported again until read.
    QCOMPARE(poller->wait(events, 0), 1);
    QVERIFY(events[0].readable);
    QCOMPARE(drain(pair.mine), qint64(5));
    QCOMPARE(poller->wait(events, 50), 0);
}

void TestEventPoller::writableUntilSocketIsFull()
{
    QFETCH(Backend, backend);
    QFETCH(QByteArray, kind);
    const auto poller = EventPoller::create(backend);
    QVERIFY(poller);
    SocketPair pair = makePair(kind);
    QVERIFY(pair.valid());
    setNonBlocking(pair.peer);
    int tag = 0;
    QVERIFY(poller->add(pair.mine, Interest::Writable, &tag));
    std::vector<EventPoller::Event> events;
    QCOMPARE(poller->wait(events, 1000), 1);
    QCOMPARE(events[0].tag, static_cast<void *>(&tag));
    QVERIFY(events[0].writable);
    QVERIFY(!events[0].readable);

    QVERIFY(fill(pair.mine));
    QCOMPARE(poller->wait(events, 100), 0);

    // The peer reads: room again. (TCP moves what was queued meanwhile, and
    // reports room once enough of it is acknowledged: drain until then.)
    bool writable = false;
    for (int i = 0; i < 200 && !writable; ++i) {
        drain(pair.peer);
        writable = poller->wait(events, 20) == 1 && events[0].writable && events[0].tag == &tag;
    }
    QVERIFY(writable);
}

void TestEventPoller::modifySwitchesInterestAndTag()
{
    QFETCH(Backend, backend);
    const auto poller = EventPoller::create(backend);
    QVERIFY(poller);
    SocketPair pair = unixPair();
    QVERIFY(pair.valid());
    int first = 0, second = 0, third = 0;
    std::vector<EventPoller::Event> events;

    QVERIFY(poller->add(pair.mine, Interest::Readable, &first));
    QCOMPARE(poller->wait(events, 50), 0); // writable, but not asked

    QVERIFY(poller->modify(pair.mine, Interest::Writable, &second));
    QCOMPARE(poller->wait(events, 1000), 1);
    QCOMPARE(events[0].tag, static_cast<void *>(&second));
    QVERIFY(events[0].writable);
    QVERIFY(!events[0].readable);

    QVERIFY(pair.peerSends("x"));
    QVERIFY(poller->modify(pair.mine, Interest::Readable, &first));
    QCOMPARE(poller->wait(events, 1000), 1);
    QCOMPARE(events[0].tag, static_cast<void *>(&first));
    QVERIFY(events[0].readable);
    QVERIFY(!events[0].writable);

    QVERIFY(poller->modify(pair.mine, Interests(), &first));
    QCOMPARE(poller->wait(events, 50), 0); // readable and writable, nothing asked

    QVERIFY(poller->modify(pair.mine, Interest::Readable | Interest::Writable, &third));
    QCOMPARE(poller->wait(events, 1000), 1); // one event for both
    QCOMPARE(events[0].tag, static_cast<void *>(&third));
    QVERIFY(events[0].readable);
    QVERIFY(events[0].writable);
}

void TestEventPoller::removeStopsReports()
{
    QFETCH(Backend, backend);
    const auto poller = EventPoller::create(backend);
    QVERIFY(poller);
    SocketPair a = unixPair(), b = unixPair(), c = unixPair();
    QVERIFY(a.valid() && b.valid() && c.valid());
    int tagA = 0, tagB = 0, tagC = 0;
    QVERIFY(poller->add(a.mine, Interest::Readable, &tagA));
    QVERIFY(poller->add(b.mine, Interest::Readable, &tagB));
    QVERIFY(poller->add(c.mine, Interest::Readable, &tagC));
    QVERIFY(a.peerSends("a") && b.peerSends("b") && c.peerSends("c"));
    std::vector<EventPoller::Event> events;
    QCOMPARE(poller->wait(events, 1000), 3);

    // The first one out: the others keep their own tags.
    QVERIFY(poller->remove(a.mine));
    QCOMPARE(poller->wait(events, 1000), 2);
    QSet<void *> tags;
    for (const auto &e : events)
        tags.insert(e.tag);
    QCOMPARE(tags, (QSet<void *>{&tagB, &tagC}));

    QVERIFY(poller->remove(c.mine));
    QCOMPARE(poller->wait(events, 1000), 1);
    QCOMPARE(events[0].tag, static_cast<void *>(&tagB));
    QVERIFY(poller->remove(b.mine));
    QCOMPARE(poller->wait(events, 50), 0);

    // Added again, reported again.
    QVERIFY(poller->add(a.mine, Interest::Readable, &tagC));
    QCOMPARE(poller->wait(events, 1000), 1);
    QCOMPARE(events[0].tag, static_cast<void *>(&tagC));
}

void TestEventPoller::misuseFailsWithErrno()
{
    QFETCH(Backend, backend);
    const auto poller = EventPoller::create(backend);
    QVERIFY(poller);
    SocketPair pair = unixPair();
    QVERIFY(pair.valid());
    int tag = 0;
    errno = 0;
    QVERIFY(!poller->modify(pair.mine, Interest::Readable, &tag));
    QCOMPARE(errno, ENOENT);
    QVERIFY(!poller->remove(pair.mine));
    QCOMPARE(errno, ENOENT);
    QVERIFY(poller->add(pair.mine, Interest::Readable, &tag));
    QVERIFY(!poller->add(pair.mine, Interest::Readable, &tag));
    QCOMPARE(errno, EEXIST);
    QVERIFY(!poller->add(-1, Interest::Readable, &tag));
    QCOMPARE(errno, EBADF);
    const int closed = ::dup(pair.peer);
    QVERIFY(closed >= 0);
    ::close(closed);
    QVERIFY(!poller->add(closed, Interest::Readable, &tag));
    QCOMPARE(errno, EBADF);
    // The failures left the registered fd as it was.
    QVERIFY(pair.peerSends("x"));
    std::vector<EventPoller::Event> events;
    QCOMPARE(poller->wait(events, 1000), 1);
    QCOMPARE(events[0].tag, static_cast<void *>(&tag));
}

void TestEventPoller::peerEndReported_data()
{
    addBackendColumn();
    QTest::addColumn<QByteArray>("kind");
    QTest::addColumn<bool>("shutdownOnly"); // shutdown(SHUT_WR), or close()
    QTest::addColumn<bool>("reading");      // Readable | PeerClosed, or PeerClosed alone
    for (const auto &[name, backend] : backends()) {
        for (const char *kind : {"unix", "tcp"}) {
            for (bool shutdownOnly : {true, false}) {
                for (bool reading : {true, false}) {
                    QTest::addRow("%s-%s-%s-%s", name, kind, shutdownOnly ? "shutdown" : "close",
                                  reading ? "reading" : "awaiting")
                        << backend << QByteArray(kind) << shutdownOnly << reading;
                }
            }
        }
    }
}

void TestEventPoller::peerEndReported()
{
    QFETCH(Backend, backend);
    QFETCH(QByteArray, kind);
    QFETCH(bool, shutdownOnly);
    QFETCH(bool, reading);
    const auto poller = EventPoller::create(backend);
    QVERIFY(poller);
    SocketPair pair = makePair(kind);
    QVERIFY(pair.valid());
    int tag = 0;
    const Interests interest = reading ? Interest::Readable | Interest::PeerClosed : Interests(Interest::PeerClosed);
    QVERIFY(poller->add(pair.mine, interest, &tag));
    std::vector<EventPoller::Event> events;
    QCOMPARE(poller->wait(events, 50), 0);

    if (shutdownOnly)
        QCOMPARE(::shutdown(pair.peer, SHUT_WR), 0);
    else
        pair.closePeer();
    QCOMPARE(poller->wait(events, 5000), 1);
    const EventPoller::Event e = events[0];
    QCOMPARE(e.tag, static_cast<void *>(&tag));
    QVERIFY(!e.error);
    QVERIFY(!e.writable);
    if (reading) {
        // Both: readable, and the read says end of stream. Epoll also says
        // peerClosed (EPOLLRDHUP); poll only on POLLHUP.
        QVERIFY(e.readable);
        if (backend == Backend::Epoll)
            QVERIFY(e.peerClosed);
    } else {
        QVERIFY(e.peerClosed);
        QVERIFY(!e.readable); // not asked for
    }
    char byte;
    QCOMPARE(::recv(pair.mine, &byte, 1, MSG_DONTWAIT), ssize_t(0));
    // Level-triggered: still there.
    QCOMPARE(poller->wait(events, 0), 1);
}

void TestEventPoller::unreadBytesDoNotWakePeerClosedInterest()
{
    QFETCH(Backend, backend);
    QFETCH(QByteArray, kind);
    const auto poller = EventPoller::create(backend);
    QVERIFY(poller);
    SocketPair pair = makePair(kind);
    QVERIFY(pair.valid());
    int tag = 0;
    QVERIFY(poller->add(pair.mine, Interest::PeerClosed, &tag));
    QVERIFY(pair.peerSends("GET / HTTP/1.1\r\n\r\n")); // a pipelined request, say
    std::vector<EventPoller::Event> events;
    // Neither reported nor spinning: each wait sleeps its time out.
    for (int i = 0; i < 3; ++i) {
        QElapsedTimer timer;
        timer.start();
        QCOMPARE(poller->wait(events, 100), 0);
        QVERIFY2(timer.elapsed() >= 80, QByteArray::number(timer.elapsed()));
    }
    QCOMPARE(::shutdown(pair.peer, SHUT_WR), 0);
    if (backend == Backend::Epoll) {
        QCOMPARE(poller->wait(events, 5000), 1);
        QVERIFY(events[0].peerClosed);
    }
    // Either way the caller finds the end once it reads again.
    QVERIFY(poller->modify(pair.mine, Interest::Readable | Interest::PeerClosed, &tag));
    QCOMPARE(poller->wait(events, 1000), 1);
    QVERIFY(events[0].readable);
    QCOMPARE(drain(pair.mine), qint64(18));
    char byte;
    QCOMPARE(::recv(pair.mine, &byte, 1, MSG_DONTWAIT), ssize_t(0));
}

void TestEventPoller::resetReportedWhateverTheInterest_data()
{
    addBackendColumn();
    QTest::addColumn<int>("interest");
    for (const auto &[name, backend] : backends()) {
        QTest::addRow("%s-reading", name) << backend << int(Interest::Readable | Interest::PeerClosed);
        QTest::addRow("%s-writing", name) << backend << int(Interest::Writable);
        QTest::addRow("%s-nothing", name) << backend << 0;
    }
}

void TestEventPoller::resetReportedWhateverTheInterest()
{
    QFETCH(Backend, backend);
    QFETCH(int, interest);
    const auto poller = EventPoller::create(backend);
    QVERIFY(poller);
    SocketPair pair = tcpPair();
    QVERIFY(pair.valid());
    int tag = 0;
    QVERIFY(poller->add(pair.mine, Interests::fromInt(interest), &tag));
    std::vector<EventPoller::Event> events;
    if (!(Interests::fromInt(interest) & Interest::Writable))
        QCOMPARE(poller->wait(events, 50), 0);

    // Linger 0: close() sends a reset.
    const linger hard{1, 0};
    QCOMPARE(::setsockopt(pair.peer, SOL_SOCKET, SO_LINGER, &hard, sizeof hard), 0);
    pair.closePeer();
    bool reset = false;
    for (int i = 0; i < 50 && !reset; ++i) {
        QVERIFY(poller->wait(events, 100) >= 0);
        reset = !events.empty() && (events[0].error || events[0].hangUp);
    }
    QVERIFY(reset);
    QCOMPARE(events[0].tag, static_cast<void *>(&tag));
    QVERIFY(events[0].peerClosed);
    char byte;
    QCOMPARE(::recv(pair.mine, &byte, 1, MSG_DONTWAIT), ssize_t(-1));
    QCOMPARE(errno, ECONNRESET);
}

void TestEventPoller::wakeInterruptsWaitFromAnotherThread()
{
    QFETCH(Backend, backend);
    const auto poller = EventPoller::create(backend);
    QVERIFY(poller);
    // A quiet fd registered with nullptr as its tag: the wake is still no fd event.
    SocketPair pair = unixPair();
    QVERIFY(pair.valid());
    QVERIFY(poller->add(pair.mine, Interest::Readable | Interest::PeerClosed, nullptr));

    std::thread waker([&poller] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        poller->wake();
    });
    std::vector<EventPoller::Event> events;
    QElapsedTimer timer;
    timer.start();
    const int n = poller->wait(events, 10'000);
    const qint64 elapsed = timer.elapsed();
    waker.join();
    QCOMPARE(n, 0);
    QVERIFY(events.empty());
    QVERIFY2(elapsed >= 150, QByteArray::number(elapsed)); // it did wait for the wake
    QVERIFY2(elapsed < 3000, QByteArray::number(elapsed));
    // Consumed: the next wait sleeps its time out.
    timer.start();
    QCOMPARE(poller->wait(events, 100), 0);
    QVERIFY(timer.elapsed() >= 80);
}

void TestEventPoller::wakesFoldAndAreNotFdEvents()
{
    QFETCH(Backend, backend);
    const auto poller = EventPoller::create(backend);
    QVERIFY(poller);
    SocketPair pair = unixPair();
    QVERIFY(pair.valid());
    int tag = 0;
    QVERIFY(poller->add(pair.mine, Interest::Readable, &tag));
    std::vector<EventPoller::Event> events;

    // Woken before the wait: it returns at once.
    for (int i = 0; i < 1000; ++i)
        poller->wake();
    QElapsedTimer timer;
    timer.start();
    QCOMPARE(poller->wait(events, 10'000), 0);
    QVERIFY(timer.elapsed() < 2000);
    // A thousand wakes were one.
    timer.start();
    QCOMPARE(poller->wait(events, 100), 0);
    QVERIFY(timer.elapsed() >= 80);

    // A wake and a ready fd: the fd alone is reported.
    QVERIFY(pair.peerSends("x"));
    poller->wake();
    QCOMPARE(poller->wait(events, 1000), 1);
    QCOMPARE(events.size(), size_t(1));
    QCOMPARE(events[0].tag, static_cast<void *>(&tag));
    QVERIFY(events[0].readable);
}

// ProxyWorker's pattern: another thread posts work, then wakes. Every post
// must be seen within one wait, never after the 10 s timeout.
void TestEventPoller::wakeIsNeverLost()
{
    QFETCH(Backend, backend);
    const auto poller = EventPoller::create(backend);
    QVERIFY(poller);
    constexpr int kPosts = 300;
    std::atomic<int> posted{0};
    std::atomic<int> seen{0};
    std::thread poster([&] {
        for (int i = 1; i <= kPosts; ++i) {
            posted.store(i, std::memory_order_release);
            poller->wake();
            // Until the waiter saw it (bounded: 5 s).
            for (int spin = 0; spin < 5000 && seen.load(std::memory_order_acquire) < i; ++spin)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    std::vector<EventPoller::Event> events;
    qint64 slowest = 0;
    bool allEmpty = true;
    QElapsedTimer total;
    total.start();
    while (seen.load() < kPosts && total.elapsed() < 60'000) {
        QElapsedTimer timer;
        timer.start();
        const int n = poller->wait(events, 10'000);
        slowest = std::max(slowest, timer.elapsed());
        allEmpty = allEmpty && n == 0 && events.empty();
        seen.store(posted.load(std::memory_order_acquire), std::memory_order_release);
    }
    poster.join();
    QCOMPARE(seen.load(), kPosts);
    QVERIFY(allEmpty);
    QVERIFY2(slowest < 5000, QByteArray::number(slowest));
}

void TestEventPoller::manyFdsOnlyReadyOnesReported()
{
    QFETCH(Backend, backend);
    const rlim_t limit = raiseFdLimit();
    const int count = int(std::min<rlim_t>(2000, (limit - 64) / 2));
    QVERIFY2(count >= 200, QByteArray::number(qulonglong(limit)));
    const auto poller = EventPoller::create(backend);
    QVERIFY(poller);
    std::vector<SocketPair> pairs;
    pairs.reserve(size_t(count));
    std::vector<int> tags(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
        pairs.push_back(unixPair());
        QVERIFY(pairs.back().valid());
        QVERIFY(poller->add(pairs.back().mine, Interest::Readable | Interest::PeerClosed, &tags[size_t(i)]));
    }
    std::vector<EventPoller::Event> events;
    QCOMPARE(poller->wait(events, 0), 0);

    const auto reported = [&] {
        QSet<int> indexes;
        for (const auto &e : events)
            indexes.insert(int(static_cast<int *>(e.tag) - tags.data()));
        return indexes;
    };
    const QSet<int> ready{0, 7, count / 2, count - 1};
    for (int i : ready)
        QVERIFY(pairs[size_t(i)].peerSends("x"));
    QCOMPARE(poller->wait(events, 1000), int(ready.size()));
    QCOMPARE(reported(), ready);
    for (const auto &e : events)
        QVERIFY(e.readable && !e.writable && !e.peerClosed && !e.error);

    // Every even one out; the odd ones keep being reported as themselves.
    for (int i = 0; i < count; i += 2)
        QVERIFY(poller->remove(pairs[size_t(i)].mine));
    QVERIFY(pairs[8].peerSends("x"));  // removed
    pairs[9].closePeer();              // still there
    QSet<int> expected;
    for (int i : ready) {
        if (i % 2)
            expected.insert(i);
    }
    expected.insert(9);
    QCOMPARE(poller->wait(events, 1000), int(expected.size()));
    QCOMPARE(reported(), expected);
}

// More ready fds than epoll hands out per wait: none is starved.
void TestEventPoller::everyReadyFdReportedEventually()
{
    QFETCH(Backend, backend);
    const rlim_t limit = raiseFdLimit();
    const int count = int(std::min<rlim_t>(600, (limit - 64) / 2));
    QVERIFY(count >= 300);
    const auto poller = EventPoller::create(backend);
    QVERIFY(poller);
    std::vector<SocketPair> pairs;
    pairs.reserve(size_t(count));
    std::vector<int> tags(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
        pairs.push_back(unixPair());
        QVERIFY(pairs.back().valid());
        QVERIFY(poller->add(pairs.back().mine, Interest::Readable, &tags[size_t(i)]));
        QVERIFY(pairs.back().peerSends("x"));
    }
    QSet<int> seen;
    std::vector<EventPoller::Event> events;
    for (int round = 0; round < 20 && seen.size() < count; ++round) {
        QVERIFY(poller->wait(events, 1000) > 0);
        for (const auto &e : events) {
            const int i = int(static_cast<int *>(e.tag) - tags.data());
            QVERIFY(i >= 0 && i < count);
            QVERIFY(!seen.contains(i)); // read below: not reported twice
            seen.insert(i);
            QCOMPARE(drain(pairs[size_t(i)].mine), qint64(1));
        }
    }
    QCOMPARE(seen.size(), count);
    QCOMPARE(poller->wait(events, 0), 0);
}

QTEST_GUILESS_MAIN(TestEventPoller)
#include "tst_eventpoller.moc"
