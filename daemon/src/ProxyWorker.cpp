#include "ProxyWorker.h"
#include "FileDescriptorBudget.h"
#include "ServingThreadStream.h"

#include "BudgetView.h"
#include "ClientRegistry.h"
#include "ConstantTime.h"
#include "ControlEndpoints.h"
#include "EventPoller.h"
#include "HttpServing.h"
#include "RequestEventFeed.h"
#include "RequestLog.h"
#include "Router.h"
#include "StatsSink.h"
#include "TlsStream.h"

#include "HttpWire.h"

#include "prawmp/CacheKey.h"
#include "prawmp/JsonResponses.h"
#include "prawmp/RequestPipeline.h"
#include "prawmp/ResponseCache.h"

#include <QDateTime>
#include <QHash>
#include <QHostAddress>
#include <QLoggingCategory>
#include <QTcpSocket>

#include <QPointer>

#include <algorithm>
#include <array>
#include <optional>
#include <charconv>
#include <cmath>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcWorker, "prawmp.worker")

namespace prawmp {

void applyBudgetHeaders(Response &response, const DomainState &s)
{
    if (!s.budgetKnown)
        return;
    const double remaining = std::max(0.0, std::floor(s.remaining));
    response.headers.set("X-Ratelimit-Remaining", QByteArray::number(remaining, 'f', 1));
    response.headers.set("X-Ratelimit-Used", QByteArray::number(std::max(0, s.budget - int(remaining))));
    // Whole seconds rounded down, as Reddit does: a client that sleeps until
    // the reset (prawcore does when nothing remains) must not wake after the
    // window has opened, or it misses the turns its queue would have had.
    response.headers.set("X-Ratelimit-Reset", QByteArray::number(qint64(std::floor(s.secondsToReset))));
}

namespace {

// What a worker reads at once. A request longer than this is read on, in
// a parser of its own.
constexpr qsizetype kReadBytes = 64 * 1024;
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 // macOS: SO_NOSIGPIPE on each socket instead
#endif

// A connection waiting for its next request, and one waiting for the main
// thread's answer (reading nothing meanwhile, but told if the peer leaves).
constexpr EventPoller::Interests kReading = EventPoller::Interest::Readable | EventPoller::Interest::PeerClosed;
constexpr EventPoller::Interests kAwaiting = EventPoller::Interest::PeerClosed;
// The limiter's view in the X-Ratelimit-* fields of hits may be this old.
constexpr qint64 kBudgetViewMs = 25;
// Per-worker memo of routed targets and prepared answers.
constexpr int kMaxMemo = 4096;
constexpr qint64 kMemoUnusedMs = 10'000;
// After our last answer, drain what the peer still
// sends for this long so that the close does not turn into a reset.
constexpr qint64 kLingerMs = 2000;

qint64 monotonicMs()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return qint64(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// The peer's address as ClientRegistry counts it ("" when unknown).
QString peerAddressOf(int fd)
{
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0)
        return QString();
    return QHostAddress(reinterpret_cast<sockaddr *>(&addr)).toString();
}

using wire::appendNumber;
using wire::equalsNoCase;
using wire::hasLineBreak;

// One whole request in the read buffer, parsed by the wire module, as far
// as a worker needs it to answer a hit. The views point into the read
// buffer (the parser borrows).
struct HitCandidate
{
    QByteArrayView target;
    QByteArrayView userAgent;
    QByteArrayView proxyAuthorization;
    QVarLengthArray<QByteArrayView, 2> authorization;
    QVarLengthArray<QByteArrayView, 2> cookies;
    QVarLengthArray<QByteArrayView, 1> acceptEncoding;

    // Whether it is a keep-alive HTTP/1.1 GET asking nothing the cache
    // cannot give (no Cache-Control, Pragma, TE, Expect, Upgrade or body):
    // one a hit may answer. The others are passed on.
    bool take(const wire::RequestParser &parser)
    {
        const wire::ParsedRequest &parsed = parser.request();
        bool cacheable = parsed.method == "GET" && parsed.versionMinor == 1 && parsed.keepAlive;
        target = parser.targetView();
        for (const wire::FieldView &f : parser.fieldViews()) {
            const QByteArrayView name = f.name;
            const QByteArrayView value = f.value;
            switch (name.size()) {
            case 2:
                if (equalsNoCase(name, "te"))
                    cacheable = false;
                break;
            case 6:
                if (equalsNoCase(name, "cookie"))
                    cookies.append(value);
                else if (equalsNoCase(name, "expect"))
                    cacheable = false;
                else if (equalsNoCase(name, "pragma"))
                    cacheable = false;
                break;
            case 7:
                if (equalsNoCase(name, "upgrade"))
                    cacheable = false;
                break;
            case 10:
                if (equalsNoCase(name, "user-agent") && userAgent.isNull())
                    userAgent = value;
                break;
            case 13:
                if (equalsNoCase(name, "authorization"))
                    authorization.append(value);
                else if (equalsNoCase(name, "cache-control"))
                    cacheable = false; // may ask for a fresh answer
                break;
            case 14:
                if (equalsNoCase(name, "content-length"))
                    cacheable = false;
                break;
            case 15:
                if (equalsNoCase(name, "accept-encoding"))
                    acceptEncoding.append(value);
                break;
            case 17:
                if (equalsNoCase(name, "transfer-encoding"))
                    cacheable = false;
                break;
            case 19:
                if (equalsNoCase(name, "proxy-authorization") && proxyAuthorization.isNull())
                    proxyAuthorization = value;
                break;
            default:
                break;
            }
        }
        return cacheable;
    }
};

// The request being parsed, as the main thread's connections give theirs.
IncomingRequest copyOut(const wire::RequestParser &parser)
{
    IncomingRequest request;
    const wire::ParsedRequest &parsed = parser.request();
    request.method = parsed.method;
    request.target = parser.targetView().toByteArray();
    request.versionMinor = parsed.versionMinor;
    request.keepAlive = parsed.keepAlive;
    request.body = parsed.body; // shared, not copied
    for (const wire::FieldView &f : parser.fieldViews())
        request.headers.add(f.name.toByteArray(), f.value.toByteArray());
    return request;
}

// Cached answer, prepared for the wire: the status line and the upstream's
// fields, minus what each hit sets anew (Age, X-Ratelimit-*, X-Cache and
// the framing). `original` keeps the cache entry's buffers alive, so that
// comparing their addresses tells whether the entry is still the same one.
struct Prepared
{
    Response original;
    QByteArray head;
    QByteArray budgetFallback; // the upstream's X-Ratelimit-* lines, for an unknown budget
    bool valid = false;
};

bool sameAnswer(const Response &a, const Response &b)
{
    return a.status == b.status && a.body.constData() == b.body.constData()
        && a.body.size() == b.body.size()
        && a.headers.fields().constData() == b.headers.fields().constData()
        && a.headers.size() == b.headers.size() && a.reason == b.reason;
}

void prepare(Prepared &p, const Response &cached)
{
    p.original = cached;
    p.head.clear();
    p.budgetFallback.clear();
    // What ProxyServer::answer() and the answer framing do to a hit, in order.
    Response r = cached;
    r.headers.removeHopByHop();
    p.head.append("HTTP/1.1 ");
    appendNumber(p.head, r.status);
    p.head.append(' ');
    p.head.append(r.reason.isEmpty() || hasLineBreak(r.reason) ? wire::reasonFor(r.status) : r.reason);
    p.head.append("\r\n");
    for (const HttpHeaders::Field &f : r.headers.fields()) {
        const QByteArray &name = f.first;
        if (name.isEmpty() || hasLineBreak(name) || hasLineBreak(f.second))
            continue;
        if (wire::isFramingField(name) || equalsNoCase(name, "age") || equalsNoCase(name, "x-cache"))
            continue;
        QByteArray line = name + ": " + f.second + "\r\n";
        if (equalsNoCase(name, "x-ratelimit-remaining") || equalsNoCase(name, "x-ratelimit-used")
            || equalsNoCase(name, "x-ratelimit-reset")) {
            if (r.status != 429)
                p.budgetFallback.append(line);
            else
                p.head.append(line);
            continue;
        }
        p.head.append(line);
    }
    p.valid = true;
}

struct RouteMemo
{
    bool ok = false;
    Request keyed;            // GET, the routed URL, credentials and codings: what the key is built from
    CacheKey key;             // refreshed with the domain, as tokens are learned
    QString host;
    HttpHeaders credentials;  // what the rate domain is derived from
    QString domain;           // rate domain (host + app), refreshed with the budget view
    QString redactedUrl;      // for request events and log lines; made when first needed
    qint64 identityUntilMs = -1;
    Prepared prepared;
    qint64 lastUsedMs = 0;
};

struct BudgetMemo
{
    qint64 validUntilMs = -1;
    bool known = false;
    QByteArray lines;
};

} // namespace

// What a worker reads, swapped as a whole when the options change.
struct WorkerConfig
{
    explicit WorkerConfig(const DaemonOptions &o) : router(o) {}
    Router router;
    QByteArray expectedProxyAuthorization; // "Bearer TOKEN"; empty: no token needed
    bool stopping = false;
    int headerTimeoutMs = 10'000;
    int idleTimeoutMs = 75'000;
    qsizetype maxHeaderBytes = 64 * 1024;
    qint64 maxBodyBytes = 0; // --max-body-bytes
    size_t maxPipelinedRequests = 64; // answers owed at once (HttpLimits::maxPipelinedRequests)
    int maxClients = 0;
    TlsStream::Context tls; // --tls-cert: every connection speaks HTTPS
};

class ProxyWorker
{
public:
    ProxyWorker(ProxyWorkerPool &pool, const ServingContext &context)
        : m_pool(pool), m_cache(context.cache), m_budgetView(context.budget), m_identities(context.identities),
          m_statsSink(context.stats), m_events(context.events), m_log(context.log)
    {
        // The platform's byte I/O: epoll on Linux, poll(2) elsewhere.
        m_poller = EventPoller::create();
        if (!m_poller) {
            qCWarning(lcWorker) << "no event poller:" << strerror(errno) << "- using poll(2)";
            m_poller = EventPoller::create(EventPoller::Backend::Poll);
        }
        m_buffer.resize(kReadBytes);
        m_parser.setBorrowing(true);
        m_thread = std::thread([this] { run(); });
    }

    ~ProxyWorker()
    {
        {
            std::lock_guard lock(m_inboxMutex);
            m_quit = true;
        }
        wake();
        if (m_thread.joinable())
            m_thread.join();
        for (auto &[fd, conn] : m_conns)
            ::close(fd);
    }

    // Main thread: a new connection for this worker. `refuse`: a client over
    // --max-clients (or one that comes while stopping), to be told so with a
    // 503 (over HTTPS once its handshake is done), not counted as held.
    void post(int fd, bool refuse = false)
    {
        {
            std::lock_guard lock(m_inboxMutex);
            m_inbox.push_back(Incoming{fd, refuse});
        }
        wake();
    }

    const char *ioBackend() const { return m_poller->name(); }

    // Main thread: the answer to a request passed on (ConnectionHost::serveRequest).
    void postAnswer(quint64 connection, quint64 sequence, const Response &response)
    {
        {
            std::lock_guard lock(m_inboxMutex);
            m_answers.push_back(Answer{connection, sequence, response});
        }
        wake();
    }

    // Main thread: a /_mp/events stream on one of this worker's connections
    // has news (its head, frames, or a close).
    void postStream(std::shared_ptr<ServingThreadStream> stream)
    {
        {
            std::lock_guard lock(m_inboxMutex);
            m_streamNews.push_back(std::move(stream));
        }
        wake();
    }

    void closeAll()
    {
        {
            std::lock_guard lock(m_inboxMutex);
            m_closeAll = true;
        }
        wake();
    }

private:
    struct Awaited
    {
        quint64 sequence = 0; // 0: a hit, ready from the start
        int versionMinor = 1;
        bool head = false;
        bool last = false;    // the client's last request (no keep-alive)
        bool ready = false;
        bool close = false;   // the connection ends after it
        QByteArray bytes;     // the answer, framed
        // /_mp/events: the stream this answer starts; what it was given
        // before its turn waits in `bytes`, framed, after the head.
        std::shared_ptr<ServingThreadStream> stream;
    };

    struct Conn
    {
        quint64 id = 0; // nextConnectionId(): the main thread knows it by this
        int fd = -1;
        QString peer;
        qint64 openedMs = 0;
        qint64 lastActiveMs = 0;
        bool served = false;
        bool lingering = false;
        qint64 lingerUntilMs = 0;
        // Requests passed on to the main thread, in order, with the hits
        // pipelined behind them: an answer waits here for those before it.
        QList<Awaited> awaited; // QList: an idle connection's empty one allocates nothing
        quint64 nextSequence = 1;
        bool lastRequestRead = false;  // no keep-alive: nothing after it is read
        bool closeAfterFlush = false;  // the answer written last ends the connection
        // Streaming /_mp/events: nothing more is read; the main thread's
        // frames come through the stream (chunked for HTTP/1.1).
        std::shared_ptr<ServingThreadStream> stream;
        bool streamChunked = false;
        // HTTPS: the session (null for plain HTTP) and whether the peer ended it.
        std::unique_ptr<TlsStream> tls;
        // Read (or decrypted) and not parsed yet: HTTPS input, or requests
        // left while too many answers were owed.
        QByteArray input;
        // A request not whole in one read goes on in a parser of its own:
        // since when (the header deadline), its last bytes (the body's),
        // whether its header block is in, and its 100 Continue.
        std::unique_ptr<wire::RequestParser> partial;
        qint64 partialSinceMs = 0;
        qint64 lastReceiveMs = 0;
        bool partialHeadersDone = false;
        bool continueSent = false;
        bool peerClosed = false;
        bool refuse = false; // its answer is the 503 (see post())
        QByteArray pending;    // output the socket did not take yet
        qsizetype pendingPos = 0;
        QByteArray userAgent;  // the last User-Agent seen and its client id
        QString clientId;
        bool hasClientId = false;
    };

    void wake()
    {
        m_poller->wake();
    }

    struct Answer
    {
        quint64 connection = 0;
        quint64 sequence = 0;
        Response response;
    };

    void run();
    void takeInbox(qint64 now);
    bool readTls(Conn *c, qint64 now);
    void writeAndClose(Conn *c, const Response &response, qint64 now);
    void sendLast(Conn *c, std::vector<QByteArray> &out, qint64 now);
    void passOn(Conn *c, IncomingRequest request);
    void writeAnswer(Conn *c, quint64 sequence, const Response &response, qint64 now);
    void takeStreamNews(ServingThreadStream &stream, qint64 now);
    void endStream(Conn *c, qint64 now);
    void noteUnwritten(Conn *c);
    void flushAwaited(Conn *c, qint64 now);
    void refuse(Conn *c, const wire::RequestParser &parser, std::vector<QByteArray> &out);
    void endWith(Conn *c, const Response &answer, const wire::ResponseFraming &framing, std::vector<QByteArray> &out);
    void rejectPartial(Conn *c, qint64 now);
    void queuePassOn(Conn *c, IncomingRequest request, std::vector<IncomingRequest> &passed);
    void sendContinue(Conn *c, std::vector<QByteArray> &out);
    static wire::RequestParser::Result parseRequest(wire::RequestParser &parser, const char *data, qsizetype size,
                                                    qsizetype *used, bool *headersSeen);
    // Whether the connection reads its next requests now (see Conn::awaited).
    bool reading(const Conn *c) const;
    void refreshConfig();
    void onEvent(Conn *c, const EventPoller::Event &event, qint64 now);
    void serve(Conn *c, qint64 now);
    bool answerHit(Conn *c, const HitCandidate &request, qint64 now, std::vector<QByteArray> &out,
                   StatsSink::HitBatch &counted);
    void report(RouteMemo &memo, const Conn &c, const Response &answer);
    QByteArray budgetLines(const QString &domain, qint64 now, const Prepared &prepared);
    bool flush(Conn *c);
    void send(Conn *c, std::vector<QByteArray> &out);
    void closeConn(Conn *c, bool countClosed = true);
    void retire(Conn *c);
    void beginLinger(Conn *c, qint64 now);
    void timeoutSweep(qint64 now);
    void rejectSilent(Conn *c, qint64 now);
    void setInterest(Conn *c, EventPoller::Interests interest);

    ProxyWorkerPool &m_pool;
    ResponseCache &m_cache;
    const BudgetView &m_budgetView;
    const AppIdentities &m_identities;
    StatsSink &m_statsSink;
    RequestEventFeed &m_events;
    RequestLog &m_log;
    std::unique_ptr<EventPoller> m_poller;
    std::thread m_thread;

    std::mutex m_inboxMutex;
    struct Incoming
    {
        int fd = -1;
        bool refuse = false;
    };
    std::vector<Incoming> m_inbox;
    std::vector<Answer> m_answers;
    std::vector<std::shared_ptr<ServingThreadStream>> m_streamNews;
    bool m_closeAll = false;
    bool m_quit = false;

    // Worker thread only.
    std::shared_ptr<const WorkerConfig> m_config;
    quint64 m_configGeneration = 0;
    std::unordered_map<int, std::unique_ptr<Conn>> m_conns;
    std::unordered_map<quint64, Conn *> m_byId;
    // Closed during this turn of the loop; deleted at its end,
    // so that a caller up the stack never touches a deleted Conn.
    std::vector<std::unique_ptr<Conn>> m_dead;
    QByteArray m_buffer;
    wire::RequestParser m_parser;
    QHash<QByteArray, RouteMemo> m_memo;
    QHash<QString, BudgetMemo> m_budget;
    QHash<QString, QString> m_peers; // interned peer address texts
    qint64 m_lastSweepMs = 0;
};

// ------------------------------------------------------------------ worker

void ProxyWorker::run()
{
    refreshConfig();
    std::vector<EventPoller::Event> events;
    m_lastSweepMs = monotonicMs();
    for (;;) {
        m_poller->wait(events, 250);
        const qint64 now = monotonicMs();
        if (m_pool.m_configGeneration.load(std::memory_order_acquire) != m_configGeneration)
            refreshConfig();
        for (const EventPoller::Event &event : events) {
            onEvent(static_cast<Conn *>(event.tag), event, now);
        }
        {
            std::unique_lock lock(m_inboxMutex);
            if (m_quit)
                return;
            if (!m_inbox.empty() || !m_answers.empty() || !m_streamNews.empty() || m_closeAll) {
                lock.unlock();
                takeInbox(now);
            }
        }
        if (now - m_lastSweepMs >= 250) {
            m_lastSweepMs = now;
            timeoutSweep(now);
        }
        m_dead.clear();
    }
}

void ProxyWorker::refreshConfig()
{
    std::lock_guard lock(m_pool.m_configMutex);
    m_config = m_pool.m_config;
    m_configGeneration = m_pool.m_configGeneration.load(std::memory_order_acquire);
    m_memo.clear(); // routes may have changed
}

void ProxyWorker::takeInbox(qint64 now)
{
    std::vector<Incoming> fds;
    std::vector<Answer> answers;
    std::vector<std::shared_ptr<ServingThreadStream>> streams;
    bool closeAll = false;
    {
        std::lock_guard lock(m_inboxMutex);
        fds.swap(m_inbox);
        answers.swap(m_answers);
        streams.swap(m_streamNews);
        closeAll = std::exchange(m_closeAll, false);
    }
    for (const Answer &answer : answers) {
        const auto it = m_byId.find(answer.connection);
        if (it != m_byId.end())
            writeAnswer(it->second, answer.sequence, answer.response, now);
    }
    for (const auto &stream : streams)
        takeStreamNews(*stream, now);
    for (const Incoming &incoming : fds) {
        const int fd = incoming.fd;
        auto conn = std::make_unique<Conn>();
        conn->id = nextConnectionId();
        conn->fd = fd;
        if (m_config->tls)
            conn->tls = std::make_unique<TlsStream>(m_config->tls, fd);
        conn->refuse = incoming.refuse;
        conn->openedMs = conn->lastActiveMs = now;
        const QString peer = peerAddressOf(fd);
        // Many connections share a few peers: share the text too.
        auto it = m_peers.find(peer);
        if (it == m_peers.end())
            it = m_peers.insert(peer, peer);
        conn->peer = *it;
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef SO_NOSIGPIPE
        ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
        const int flags = ::fcntl(fd, F_GETFL);
        ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        if (!m_poller->add(fd, kReading, conn.get())) {
            ::close(fd);
            m_pool.release(conn->refuse);
            continue;
        }
        if (!conn->refuse)
            m_statsSink.connectionOpened(conn->peer);
        Conn *c = conn.get();
        m_byId.emplace(conn->id, c);
        m_conns.emplace(fd, std::move(conn));
        if (c->refuse && !c->tls) // HTTPS: after the handshake (readTls)
            writeAndClose(c, tooManyClientsError(m_config->stopping, m_config->maxClients), now);
    }
    if (closeAll) {
        std::vector<Conn *> all;
        all.reserve(m_conns.size());
        for (auto &[fd, conn] : m_conns)
            all.push_back(conn.get());
        for (Conn *c : all) {
            if (c->stream) {
                endStream(c, now);
                continue;
            }
            if (!c->awaited.empty())
                continue; // owed an answer: the last one closes it (flushAwaited)
            closeConn(c);
        }
    }
}

void ProxyWorker::setInterest(Conn *c, EventPoller::Interests interest)
{
    m_poller->modify(c->fd, interest, c);
}

void ProxyWorker::onEvent(Conn *c, const EventPoller::Event &event, qint64 now)
{
    if (c->fd < 0)
        return; // closed earlier in this turn
    if (c->lingering) {
        // Drop what the peer still sends; its end (or an error) ends us.
        for (;;) {
            const ssize_t n = ::recv(c->fd, m_buffer.data(), kReadBytes, MSG_DONTWAIT);
            if (n > 0)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !(event.error || event.hangUp))
                return;
            closeConn(c);
            return;
        }
    }
    if (event.error) {
        closeConn(c);
        return;
    }
    if (c->tls && !c->tls->handshakeDone()) {
        serve(c, now);
        return;
    }
    if (!c->pending.isEmpty()) {
        if (!flush(c))
            return;
        if (!c->pending.isEmpty())
            return; // still waiting for room
        if (c->closeAfterFlush) {
            beginLinger(c, now);
            return;
        }
        setInterest(c, reading(c) ? kReading : kAwaiting);
    }
    if (!reading(c)) {
        // Nothing is read meanwhile; the peer leaving withdraws its requests.
        if (event.peerClosed)
            closeConn(c);
        return;
    }
    // Requests read (or decrypted) earlier may wait in the input, not the socket.
    if (event.readable || event.peerClosed || !c->input.isEmpty())
        serve(c, now);
}

// One request's bytes: its header block and, in the same go, as much of its
// body as is there. `headersSeen`: the header block was completed here.
wire::RequestParser::Result ProxyWorker::parseRequest(wire::RequestParser &parser, const char *data,
                                                      qsizetype size, qsizetype *used, bool *headersSeen)
{
    auto result = parser.parse(data, size, used);
    if (result == wire::RequestParser::Result::HeadersComplete) {
        *headersSeen = true;
        qsizetype body = 0;
        result = parser.parse(data + *used, size - *used, &body);
        *used += body;
    }
    return result;
}

// Reads what the client sent and answers it: hits here, the rest passed on
// (ConnectionHost::serveRequest) and answered in order. A request not whole
// yet goes on in a parser of the connection's own (Conn::partial), however
// many reads it takes.
void ProxyWorker::serve(Conn *c, qint64 now)
{
    const char *data = nullptr;
    qsizetype n = 0;
    if (c->tls) {
        // HTTPS: what the session decrypted waits in the connection's input.
        if (!readTls(c, now))
            return;
        if (c->input.isEmpty()) {
            if (c->peerClosed && c->pending.isEmpty())
                closeConn(c);
            return;
        }
    } else if (c->input.isEmpty()) {
        const ssize_t got = ::recv(c->fd, m_buffer.data(), size_t(m_buffer.size()), MSG_DONTWAIT);
        if (got == 0) {
            closeConn(c); // the peer is gone; what it did not wait for is withdrawn
            return;
        }
        if (got < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                closeConn(c);
            return;
        }
        data = m_buffer.constData();
        n = got;
    }
    if (!data) {
        // Read before: decrypted, or left while too many answers were owed.
        data = c->input.constData();
        n = c->input.size();
    }
    c->lastActiveMs = now;
    const WorkerConfig &config = *m_config;
    const wire::RequestLimits limits{config.maxHeaderBytes, config.maxBodyBytes};
    qsizetype consumed = 0;
    std::vector<QByteArray> out;
    StatsSink::HitBatch counted;
    std::vector<IncomingRequest> passed;
    while (consumed < n && reading(c)) {
        wire::RequestParser *parser = c->partial.get();
        if (!parser) {
            m_parser.reset();
            m_parser.setLimits(limits);
            parser = &m_parser;
        }
        bool headersSeen = false;
        qsizetype parsed = 0;
        auto result = parseRequest(*parser, data + consumed, n - consumed, &parsed, &headersSeen);
        if (result == wire::RequestParser::Result::NeedMore && parser == &m_parser) {
            // Not whole yet: a parser of its own keeps what it read. (The
            // shared one only borrows from this read's buffer.)
            c->partial = std::make_unique<wire::RequestParser>(limits);
            c->partialSinceMs = c->served || c->nextSequence > 1 ? now : c->openedMs;
            c->partialHeadersDone = false;
            c->continueSent = false;
            parser = c->partial.get();
            headersSeen = false;
            result = parseRequest(*parser, data + consumed, n - consumed, &parsed, &headersSeen);
        }
        if (parser != &m_parser) {
            c->lastReceiveMs = now;
            c->partialHeadersDone = c->partialHeadersDone || headersSeen;
        }
        if (result == wire::RequestParser::Result::NeedMore) {
            consumed += parsed;
            sendContinue(c, out);
            break;
        }
        if (result == wire::RequestParser::Result::Error) {
            // Malformed or over a limit: refused as the contract says, after
            // the answers owed before it. Nothing after it is read.
            refuse(c, *parser, out);
            c->partial.reset();
            break;
        }
        consumed += parsed;
        if (parser != &m_parser) {
            // Whole at last: passed on, like every request that is not a hit.
            IncomingRequest request;
            static_cast<wire::ParsedRequest &>(request) = parser->takeRequest();
            c->partial.reset();
            queuePassOn(c, std::move(request), passed);
            continue;
        }
        HitCandidate request;
        const bool cacheable = request.take(m_parser) && !ControlEndpoints::isControlTarget(request.target);
        const size_t written = out.size();
        if (cacheable && answerHit(c, request, now, out, counted)) {
            if (!c->awaited.empty()) {
                // Behind a request passed on: it waits for that one's answer.
                Awaited &hit = c->awaited.emplace_back();
                hit.ready = true;
                for (size_t i = written; i < out.size(); ++i)
                    hit.bytes += out[i];
                out.resize(written);
            }
            if (config.stopping)
                c->lastRequestRead = true; // stopping: answered, then closed
            continue;
        }
        queuePassOn(c, copyOut(m_parser), passed);
    }
    // Keep what was read and not parsed (too many answers owed, or HTTPS
    // input); what follows a connection's last request is not ours to read.
    if (c->lastRequestRead) {
        c->input.clear();
    } else if (data == c->input.constData()) {
        c->input.remove(0, consumed);
    } else if (consumed < n) {
        c->input = QByteArray(data + consumed, n - consumed);
    }
    if (counted.hits > 0 || !passed.empty())
        c->served = true;
    if (counted.hits > 0) // counted before written: whoever has the answer finds it in /_mp/stats
        m_statsSink.countServingThreadHits(counted);
    if (config.stopping && c->awaited.empty() && c->lastRequestRead)
        c->closeAfterFlush = true;
    send(c, out); // hits, 100 Continue, a refusal
    if (c->fd < 0)
        return;
    // In order, after the answers written above (theirs come through the inbox).
    for (IncomingRequest &request : passed)
        passOn(c, std::move(request));
    if ((c->peerClosed || c->closeAfterFlush) && c->pending.isEmpty() && c->awaited.empty()) {
        beginLinger(c, now); // it will ask no more, or it was refused
        return;
    }
    if (c->pending.isEmpty())
        setInterest(c, reading(c) ? kReading : kAwaiting);
}

// A whole request the cache does not answer here: its answer slot now, in
// order; it is passed on once this read's hits are written.
void ProxyWorker::queuePassOn(Conn *c, IncomingRequest request, std::vector<IncomingRequest> &passed)
{
    Awaited &slot = c->awaited.emplace_back();
    slot.sequence = request.sequence = c->nextSequence++;
    slot.versionMinor = request.versionMinor;
    slot.head = request.method == "HEAD";
    // Stopping: its answer is the connection's last.
    slot.last = !request.keepAlive || m_config->stopping;
    c->lastRequestRead = slot.last;
    passed.push_back(std::move(request));
}

// 100 Continue for the request being read, once its header block is in,
// when nothing is owed before it (flushAwaited() comes back for it).
void ProxyWorker::sendContinue(Conn *c, std::vector<QByteArray> &out)
{
    if (!c->partial || !c->partialHeadersDone || !c->partial->expectsContinue() || c->continueSent
        || !c->awaited.empty())
        return;
    out.push_back(continueInterim());
    c->continueSent = true;
}

bool ProxyWorker::reading(const Conn *c) const
{
    return !c->lastRequestRead && size_t(c->awaited.size()) < m_config->maxPipelinedRequests;
}

// HTTPS: the handshake, then whatever the session has decrypted. False
// when there is nothing to parse yet (or the connection is gone).
bool ProxyWorker::readTls(Conn *c, qint64 now)
{
    if (!c->tls->handshakeDone()) {
        switch (c->tls->handshake()) {
        case TlsStream::Status::Done:
            break;
        case TlsStream::Status::WantRead:
            setInterest(c, kReading);
            return false;
        case TlsStream::Status::WantWrite:
            setInterest(c, kReading | EventPoller::Interest::Writable);
            return false;
        case TlsStream::Status::Closed:
        case TlsStream::Status::Failed:
            closeConn(c); // not TLS (plain HTTP on the HTTPS port), or a failed handshake
            return false;
        }
        setInterest(c, kReading);
        if (c->refuse) {
            writeAndClose(c, tooManyClientsError(m_config->stopping, m_config->maxClients), now);
            return false;
        }
    }
    switch (c->tls->readAvailable(c->input)) {
    case TlsStream::Status::Closed:
        c->peerClosed = true;
        break;
    case TlsStream::Status::Failed:
        closeConn(c);
        return false;
    default:
        break;
    }
    return true;
}

// One answer, and the connection ends after it (a 408, a 503).
void ProxyWorker::writeAndClose(Conn *c, const Response &response, qint64 now)
{
    QByteArray bytes;
    wire::appendResponseHead(bytes, response, wire::ResponseFraming{1, false, true, false});
    bytes += response.body;
    std::vector<QByteArray> out{std::move(bytes)};
    sendLast(c, out, now);
}

// The connection's last bytes; it lingers once the socket has taken them.
void ProxyWorker::sendLast(Conn *c, std::vector<QByteArray> &out, qint64 now)
{
    send(c, out);
    if (c->fd < 0)
        return;
    if (c->pending.isEmpty())
        beginLinger(c, now);
    else
        c->closeAfterFlush = true;
}

bool ProxyWorker::answerHit(Conn *c, const HitCandidate &request, qint64 now, std::vector<QByteArray> &out,
                            StatsSink::HitBatch &counted)
{
    const WorkerConfig &config = *m_config;
    if (!config.expectedProxyAuthorization.isEmpty()
        && !constantTimeEquals(request.proxyAuthorization.trimmed(), config.expectedProxyAuthorization))
        return false; // passed on: the main thread answers 407

    // The memo key: target, then the credentials and codings the cache key holds.
    QByteArray memoKey;
    if (request.authorization.isEmpty() && request.cookies.isEmpty() && request.acceptEncoding.isEmpty()) {
        memoKey = QByteArray::fromRawData(request.target.data(), request.target.size());
    } else {
        memoKey = request.target.toByteArray();
        for (QByteArrayView v : request.authorization)
            memoKey.append("\0a:", 3).append(v);
        for (QByteArrayView v : request.cookies)
            memoKey.append("\0c:", 3).append(v);
        for (QByteArrayView v : request.acceptEncoding)
            memoKey.append("\0e:", 3).append(v);
    }
    // Only what the cache answered is remembered: a worker passes misses on,
    // and many distinct missed URLs would fill the memo for nothing.
    auto it = m_memo.find(memoKey);
    RouteMemo fresh;
    const bool known = it != m_memo.end();
    if (!known) {
        const QByteArray target = request.target.toByteArray();
        const Router::Result route = config.router.resolve(target);
        if (!route.ok())
            return false;
        fresh.ok = true;
        HttpHeaders credentials;
        for (QByteArrayView v : request.authorization)
            credentials.add("Authorization", v.toByteArray());
        for (QByteArrayView v : request.cookies)
            credentials.add("Cookie", v.toByteArray());
        fresh.keyed.method = QByteArrayLiteral("GET");
        fresh.keyed.url = route.url;
        fresh.keyed.headers = credentials;
        for (QByteArrayView v : request.acceptEncoding)
            fresh.keyed.headers.add("Accept-Encoding", v.toByteArray());
        fresh.host = route.url.host().toLower();
        fresh.credentials = credentials;
    }
    RouteMemo *memo = known ? &*it : &fresh;
    memo->lastUsedMs = now;
    // A token learned since this memo was made moves it to its app's domain
    // and to its identity's cache entries.
    if (now >= memo->identityUntilMs) {
        memo->key = CacheKey::forRequest(memo->keyed, &m_identities);
        memo->domain = m_identities.rateDomain(memo->host, memo->credentials);
        memo->identityUntilMs = now + kBudgetViewMs;
    }

    const std::optional<ResponseCache::Entry> entry = m_cache.lookup(memo->key);
    if (!entry)
        return false;
    if (!known) {
        if (m_memo.size() >= kMaxMemo)
            m_memo.clear();
        QByteArray stored(memoKey.constData(), memoKey.size()); // a deep copy
        memo = &*m_memo.insert(stored, std::move(fresh));
    }
    if (!memo->prepared.valid || !sameAnswer(memo->prepared.original, entry->response))
        prepare(memo->prepared, entry->response);
    const Prepared &prepared = memo->prepared;

    out.push_back(prepared.head); // shared, not copied
    QByteArray head;
    head.reserve(192);
    head.append("Age: ");
    appendNumber(head, entry->ageSeconds);
    head.append("\r\n");
    if (entry->response.status != 429) {
        head.append(budgetLines(memo->domain, now, prepared));
    }
    head.append("X-Cache: HIT\r\n");
    const bool hasBody = wire::statusHasBody(entry->response.status);
    if (hasBody) {
        head.append("Content-Length: ");
        appendNumber(head, entry->response.body.size());
        head.append("\r\n");
    }
    head.append("\r\n");
    out.push_back(std::move(head));
    if (hasBody && !entry->response.body.isEmpty())
        out.push_back(entry->response.body);

    // The client registry's view: client id = peer + User-Agent.
    const QByteArrayView ua = request.userAgent;
    if (!c->hasClientId || c->userAgent != ua) {
        c->userAgent = ua.toByteArray();
        c->clientId = ClientRegistry::clientId(c->peer, c->userAgent);
        c->hasClientId = true;
    }
    if (counted.hits > 0 && counted.clientId != c->clientId) {
        // Another User-Agent on the same connection: another client.
        m_statsSink.countServingThreadHits(counted);
        counted = {};
    }
    if (counted.hits == 0) {
        counted.clientId = c->clientId;
        counted.peer = c->peer;
        counted.userAgent = c->userAgent;
    }
    ++counted.hits;
    counted.bytes += quint64(entry->response.body.size());
    report(*memo, *c, entry->response);
    return true;
}

// The hit as a request event and a --log-requests line, when somebody
// watches: made here, sent and written by other threads.
void ProxyWorker::report(RouteMemo &memo, const Conn &c, const Response &answer)
{
    const int logLevel = m_log.level();
    const bool event = m_events.admit();
    if (!event && logLevel <= 0)
        return;
    if (memo.redactedUrl.isEmpty())
        memo.redactedUrl = RequestPipeline::redactedUrl(memo.keyed.url);
    RequestRecord record = hitRecord(c.clientId, memo.keyed.method, memo.redactedUrl, answer);
    if (logLevel > 0)
        m_log.write(RequestLog::Entry{record, {}, logLevel >= 2 ? answer.body : QByteArray()});
    if (event)
        m_events.push(std::move(record));
}

QByteArray ProxyWorker::budgetLines(const QString &domain, qint64 now, const Prepared &prepared)
{
    BudgetMemo &memo = m_budget[domain];
    if (now >= memo.validUntilMs) {
        const DomainState state = m_budgetView.state(domain);
        memo.known = state.budgetKnown;
        memo.lines.clear();
        if (state.budgetKnown) {
            Response r;
            applyBudgetHeaders(r, state);
            for (const HttpHeaders::Field &f : r.headers.fields())
                memo.lines.append(f.first + ": " + f.second + "\r\n");
        }
        memo.validUntilMs = now + kBudgetViewMs;
    }
    return memo.known ? memo.lines : prepared.budgetFallback;
}

bool ProxyWorker::flush(Conn *c)
{
    if (c->tls) {
        qsizetype written = 0;
        const TlsStream::Status status = c->tls->write(c->pending.constData() + c->pendingPos,
                                                       c->pending.size() - c->pendingPos, &written);
        c->pendingPos += written;
        if (status == TlsStream::Status::Failed || status == TlsStream::Status::Closed) {
            closeConn(c);
            return false;
        }
        if (c->pendingPos >= c->pending.size()) {
            c->pending.clear();
            c->pendingPos = 0;
        }
        noteUnwritten(c);
        return true;
    }
    while (c->pendingPos < c->pending.size()) {
        const ssize_t n = ::send(c->fd, c->pending.constData() + c->pendingPos,
                                 size_t(c->pending.size() - c->pendingPos), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->pendingPos += n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            noteUnwritten(c);
            return true;
        }
        if (n < 0 && errno == EINTR)
            continue;
        closeConn(c);
        return false;
    }
    c->pending.clear();
    c->pendingPos = 0;
    noteUnwritten(c);
    return true;
}

// A subscriber's backlog, as EventSubscribers reads it: what the socket has not taken.
void ProxyWorker::noteUnwritten(Conn *c)
{
    if (c->stream)
        c->stream->setUnwritten(c->pending.size() - c->pendingPos);
}

// What the main thread gave a /_mp/events stream: its head (the answer to
// the subscribing request, in its turn), frames, or the order to end it.
void ProxyWorker::takeStreamNews(ServingThreadStream &stream, qint64 now)
{
    const auto it = m_byId.find(stream.connection());
    ServingThreadStream::News news = stream.take();
    if (it == m_byId.end()) {
        stream.ended(); // the subscriber left first
        return;
    }
    Conn *c = it->second;
    if (news.closeAsked) {
        closeConn(c); // too far behind: what it has not taken is dropped with it
        return;
    }
    if (c->stream.get() == &stream) {
        std::vector<QByteArray> out(1);
        for (const QByteArray &piece : std::as_const(news.data))
            wire::appendStreamPiece(out.front(), piece, c->streamChunked);
        if (!out.front().isEmpty())
            send(c, out);
        return;
    }
    const auto slot = std::find_if(c->awaited.begin(), c->awaited.end(),
                                   [&](const Awaited &a) { return a.sequence == stream.sequence(); });
    if (slot == c->awaited.end()) {
        stream.ended(); // the connection will not answer that request any more
        return;
    }
    if (news.started && !slot->ready) {
        if (news.sendBufferBytes > 0)
            ::setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &news.sendBufferBytes, sizeof news.sendBufferBytes);
        // Nothing after the stream is answered or read: Connection: close.
        // (Only a GET gets a stream.)
        wire::appendResponseHead(slot->bytes, news.head, wire::ResponseFraming{slot->versionMinor, false, true, true});
        slot->stream = stream.shared_from_this();
        slot->ready = true;
        c->awaited.erase(std::next(slot), c->awaited.end());
        c->lastRequestRead = true;
    }
    if (slot->ready && slot->stream) {
        for (const QByteArray &piece : std::as_const(news.data))
            wire::appendStreamPiece(slot->bytes, piece, slot->versionMinor >= 1);
        stream.setUnwritten(slot->bytes.size()); // its backlog while it waits for its turn
    }
    flushAwaited(c, now);
}

// Stopping: the stream's last chunk, then the close.
void ProxyWorker::endStream(Conn *c, qint64 now)
{
    std::vector<QByteArray> out;
    if (c->streamChunked)
        out.push_back(wire::lastChunk().toByteArray());
    c->stream->ended();
    c->stream.reset();
    sendLast(c, out, now);
}

void ProxyWorker::send(Conn *c, std::vector<QByteArray> &out)
{
    if (out.empty())
        return;
    if (!c->pending.isEmpty() && !c->tls) {
        // Behind what the socket has not taken yet: in order, once it has room.
        if (c->pendingPos > 0) {
            c->pending.remove(0, c->pendingPos);
            c->pendingPos = 0;
        }
        for (const QByteArray &piece : out)
            c->pending.append(piece);
        noteUnwritten(c);
        return;
    }
    if (c->tls) {
        // One buffer, so that the session writes full records.
        for (const QByteArray &piece : out)
            c->pending.append(piece);
        if (!flush(c))
            return;
        if (!c->pending.isEmpty())
            setInterest(c, EventPoller::Interest::Writable);
        return;
    }
    std::array<iovec, 64> iov;
    size_t first = 0;
    while (first < out.size()) {
        const size_t count = std::min(out.size() - first, iov.size());
        size_t total = 0;
        for (size_t i = 0; i < count; ++i) {
            iov[i].iov_base = const_cast<char *>(out[first + i].constData());
            iov[i].iov_len = size_t(out[first + i].size());
            total += iov[i].iov_len;
        }
        msghdr msg{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = count;
        ssize_t n = ::sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            closeConn(c);
            return;
        }
        if (n < 0)
            n = 0;
        if (size_t(n) == total) {
            first += count;
            continue;
        }
        // The socket is full: keep the rest, wait for room.
        size_t skip = size_t(n);
        for (size_t i = first; i < out.size(); ++i) {
            const size_t len = size_t(out[i].size());
            if (skip >= len) {
                skip -= len;
                continue;
            }
            c->pending.append(out[i].constData() + skip, qsizetype(len - skip));
            skip = 0;
        }
        c->pendingPos = 0;
        setInterest(c, EventPoller::Interest::Writable);
        noteUnwritten(c);
        return;
    }
    noteUnwritten(c); // all taken
}

void ProxyWorker::passOn(Conn *c, IncomingRequest request)
{
    ProxyWorkerPool *pool = &m_pool;
    QMetaObject::invokeMethod(pool, [pool, worker = this, id = c->id, peer = c->peer,
                                     request = std::move(request)] {
        pool->serveRequest(worker, id, peer, request);
    }, Qt::QueuedConnection);
}

// The answer to a request passed on, framed by the wire module as the main
// thread's connections frame theirs; written when those before it are.
void ProxyWorker::writeAnswer(Conn *c, quint64 sequence, const Response &response, qint64 now)
{
    const auto it = std::find_if(c->awaited.begin(), c->awaited.end(),
                                 [sequence](const Awaited &a) { return a.sequence == sequence; });
    if (it == c->awaited.end() || it->ready)
        return;
    // While stopping, the last answer owed ends the connection.
    it->close = it->last || (m_config->stopping && std::next(it) == c->awaited.end());
    wire::appendResponseHead(it->bytes, response,
                             wire::ResponseFraming{it->versionMinor, it->head, it->close, false});
    if (!it->head && wire::statusHasBody(response.status))
        it->bytes += response.body;
    it->ready = true;
    flushAwaited(c, now);
}

// The wire module's error for the request being parsed, after the answers
// owed before it; the connection ends after it.
void ProxyWorker::refuse(Conn *c, const wire::RequestParser &parser, std::vector<QByteArray> &out)
{
    const wire::WireError &error = parser.error();
    endWith(c, jsonError(error.status, error.code, error.message), wire::refusalFraming(parser.request()), out);
}

// The connection's last answer: into `out` when nothing is owed before it,
// else in its turn. Nothing after it is read.
void ProxyWorker::endWith(Conn *c, const Response &answer, const wire::ResponseFraming &framing,
                          std::vector<QByteArray> &out)
{
    QByteArray bytes;
    wire::appendResponseHead(bytes, answer, framing);
    if (!framing.headRequest)
        bytes += answer.body;
    c->lastRequestRead = true;
    c->input.clear();
    if (c->awaited.empty()) {
        out.push_back(std::move(bytes));
        c->closeAfterFlush = true;
        return;
    }
    Awaited &slot = c->awaited.emplace_back();
    slot.ready = true;
    slot.close = true;
    slot.bytes = std::move(bytes);
}

void ProxyWorker::flushAwaited(Conn *c, qint64 now)
{
    std::vector<QByteArray> out;
    bool close = false;
    while (!c->awaited.empty() && c->awaited.front().ready && !close) {
        Awaited &front = c->awaited.front();
        out.push_back(std::move(front.bytes));
        close = front.close;
        if (front.stream) {
            // The stream's turn: it ends the pipeline (nothing after it is
            // answered or read) and from now on its frames go straight out.
            c->stream = std::move(front.stream);
            c->streamChunked = front.versionMinor >= 1;
            c->awaited.clear();
            c->lastRequestRead = true;
            c->input.clear();
            break;
        }
        c->awaited.pop_front();
    }
    if (out.empty())
        return;
    c->served = true;
    c->lastActiveMs = now;
    send(c, out);
    if (c->fd < 0)
        return;
    if (c->stream && !close) {
        if (c->pending.isEmpty())
            setInterest(c, kAwaiting); // told when the subscriber leaves
        return;
    }
    if (close || (c->awaited.empty() && m_config->stopping)) {
        c->awaited.clear();
        if (c->pending.isEmpty())
            beginLinger(c, now);
        else
            c->closeAfterFlush = true; // onEvent() goes on once the socket took it
        return;
    }
    if (!c->pending.isEmpty())
        return; // onEvent() goes on once the socket took it
    if (c->awaited.empty() && c->partial) {
        std::vector<QByteArray> interim;
        sendContinue(c, interim); // held back behind the answers just written
        send(c, interim);
        if (c->fd < 0)
            return;
    }
    setInterest(c, reading(c) ? kReading : kAwaiting); // the requests after them, if any
    if (!c->input.isEmpty() && reading(c))
        serve(c, now); // read already: no readiness will announce them
}

void ProxyWorker::closeConn(Conn *c, bool countClosed)
{
    if (!c->awaited.empty()) {
        ProxyWorkerPool *pool = &m_pool;
        QMetaObject::invokeMethod(pool, [pool, id = c->id] { pool->m_host.abandonConnection(id); },
                                  Qt::QueuedConnection);
    }
    const int fd = c->fd;
    m_poller->remove(fd);
    ::close(fd);
    if (countClosed && !c->refuse)
        m_statsSink.connectionClosed(c->peer);
    m_pool.release(c->refuse);
    retire(c);
}

void ProxyWorker::retire(Conn *c)
{
    if (c->stream)
        c->stream->ended();
    for (const Awaited &a : std::as_const(c->awaited))
        if (a.stream)
            a.stream->ended();
    m_byId.erase(c->id);
    const auto it = m_conns.find(c->fd);
    c->fd = -1;
    if (it == m_conns.end())
        return;
    m_dead.push_back(std::move(it->second));
    m_conns.erase(it);
}

void ProxyWorker::beginLinger(Conn *c, qint64 now)
{
    if (c->tls)
        c->tls->shutdown(); // close_notify first
    ::shutdown(c->fd, SHUT_WR);
    c->lingering = true;
    c->lingerUntilMs = now + kLingerMs;
    setInterest(c, kReading);
}

// Silence after connect: the 408, then close. (An HTTPS client silent
// before its handshake is done cannot be answered: it is closed.)
void ProxyWorker::rejectSilent(Conn *c, qint64 now)
{
    if (c->tls && !c->tls->handshakeDone()) {
        closeConn(c);
        return;
    }
    writeAndClose(c, headerTimeoutError(m_config->headerTimeoutMs), now);
}

// A request that came too slowly: its 408 after the answers owed before it.
void ProxyWorker::rejectPartial(Conn *c, qint64 now)
{
    const Response answer = c->partialHeadersDone ? bodyTimeoutError(m_config->idleTimeoutMs)
                                                  : headerTimeoutError(m_config->headerTimeoutMs);
    const wire::ResponseFraming framing = wire::refusalFraming(c->partial->request());
    c->partial.reset();
    std::vector<QByteArray> out;
    endWith(c, answer, framing, out);
    send(c, out);
    if (c->fd >= 0 && c->closeAfterFlush && c->pending.isEmpty())
        beginLinger(c, now);
}

void ProxyWorker::timeoutSweep(qint64 now)
{
    const WorkerConfig &config = *m_config;
    std::vector<Conn *> expired;
    for (auto &[fd, conn] : m_conns) {
        Conn *c = conn.get();
        if (c->lingering) {
            if (now >= c->lingerUntilMs)
                expired.push_back(c);
        } else if (c->stream) {
            continue; // a subscriber: EventSubscribers minds its backlog
        } else if (c->partial) {
            // A request coming in pieces: its header block in time, then no
            // gap in its body longer than the idle timeout.
            if (c->partialHeadersDone ? now - c->lastReceiveMs >= config.idleTimeoutMs
                                      : now - c->partialSinceMs >= config.headerTimeoutMs)
                expired.push_back(c);
        } else if (!c->pending.isEmpty() || !c->awaited.empty()) {
            continue; // waiting for the peer to read, or for the main thread (its timeouts)
        } else if (!c->served ? now - c->openedMs >= config.headerTimeoutMs
                              : now - c->lastActiveMs >= config.idleTimeoutMs) {
            expired.push_back(c);
        }
    }
    for (Conn *c : expired) {
        if (c->lingering)
            closeConn(c);
        else if (c->partial)
            rejectPartial(c, now);
        else if (!c->served)
            rejectSilent(c, now);
        else
            beginLinger(c, now); // idle keep-alive connection: closed
    }
    // Forget what has not been asked for in a while (and the cache
    // entries' buffers it keeps alive).
    for (auto it = m_memo.begin(); it != m_memo.end();) {
        if (now - it->lastUsedMs > kMemoUnusedMs)
            it = m_memo.erase(it);
        else
            ++it;
    }
    if (m_budget.size() > 1024)
        m_budget.clear();
}

// ------------------------------------------------------------------ pool

namespace {

// Accepts on the main thread and gives each connection to a worker.
class WorkerListener : public QTcpServer
{
public:
    WorkerListener(std::function<void(qintptr)> dispatch, QObject *parent)
        : QTcpServer(parent), m_dispatch(std::move(dispatch))
    {
    }

protected:
    void incomingConnection(qintptr descriptor) override { m_dispatch(descriptor); }

private:
    std::function<void(qintptr)> m_dispatch;
};

} // namespace

ProxyWorkerPool::ProxyWorkerPool(ConnectionHost &host, const ServingContext &context, const DaemonOptions &options)
    : m_host(host), m_context(context), m_options(options), m_refusingCap(FileDescriptorBudget::rejectionCapacity())
{
    publishConfig();
    const int threads = std::max(1, options.threads);
    for (int i = 0; i < threads; ++i)
        m_workers.push_back(std::make_unique<ProxyWorker>(*this, m_context));
    qCDebug(lcWorker) << threads << "serving threads";
}

ProxyWorkerPool::~ProxyWorkerPool()
{
    m_workers.clear(); // joins the threads, closes their connections
}

QString ProxyWorkerPool::ioBackend() const
{
    return QString::fromLatin1(m_workers.front()->ioBackend());
}

QTcpServer *ProxyWorkerPool::createListener(QObject *parent)
{
    return new WorkerListener([this](qintptr fd) { dispatch(int(fd)); }, parent);
}

void ProxyWorkerPool::dispatch(int descriptor)
{
    const bool refuse = m_stopping || !m_host.hasRoomForConnection(connectionCount());
    if (refuse && m_refusing.load(std::memory_order_relaxed) >= m_refusingCap) {
        // A crowd beyond --max-clients: a lingering 503 for each would take
        // every descriptor the upstream and the event loop need. The rest
        // are closed at once, as nginx does past worker_connections.
        ::close(descriptor);
        ++m_closedAtAccept;
        if (!m_closedAtAcceptWarned.isValid() || m_closedAtAcceptWarned.hasExpired(10'000)) {
            m_closedAtAcceptWarned.start();
            qCWarning(lcWorker).noquote()
                << QStringLiteral("too many clients: %1 already getting their 503; closing the next ones "
                                  "at once (%2 so far)").arg(m_refusing.load()).arg(m_closedAtAccept);
        }
        return;
    }
    (refuse ? m_refusing : m_held).fetch_add(1, std::memory_order_relaxed);
    m_workers[m_next++ % m_workers.size()]->post(descriptor, refuse);
}

void ProxyWorkerPool::release(bool refused)
{
    (refused ? m_refusing : m_held).fetch_sub(1, std::memory_order_relaxed);
}

void ProxyWorkerPool::setTlsContext(const TlsStream::Context &context)
{
    m_tls = context;
    publishConfig();
}

void ProxyWorkerPool::serveRequest(ProxyWorker *worker, quint64 connection, const QString &peer,
                                   const IncomingRequest &request)
{
    const QPointer<ProxyWorkerPool> pool(this);
    const quint64 sequence = request.sequence;
    m_host.serveRequest(
        connection, peer, request,
        [pool, worker, connection, sequence](const Response &response) {
            if (pool) // the workers go before the pool does
                worker->postAnswer(connection, sequence, response);
        },
        [pool, worker, connection, sequence]() -> EventStreamPtr {
            return std::make_shared<ServingThreadStream>(
                connection, sequence, [pool, worker](std::shared_ptr<ServingThreadStream> stream) {
                    if (pool)
                        worker->postStream(std::move(stream));
                    else
                        stream->ended();
                });
        });
}

void ProxyWorkerPool::publishConfig()
{
    auto config = std::make_shared<WorkerConfig>(m_options);
    if (!m_options.authToken.isEmpty())
        config->expectedProxyAuthorization = "Bearer " + m_options.authToken.toUtf8();
    config->stopping = m_stopping;
    const HttpLimits limits = m_options.httpLimits();
    config->headerTimeoutMs = limits.headerTimeoutMs;
    config->idleTimeoutMs = limits.idleTimeoutMs;
    config->maxHeaderBytes = limits.maxHeaderBytes;
    config->maxBodyBytes = limits.maxBodyBytes;
    config->maxPipelinedRequests = size_t(qMax(1, limits.maxPipelinedRequests));
    config->maxClients = m_options.maxClients;
    config->tls = m_tls;
    std::lock_guard lock(m_configMutex);
    m_config = std::move(config);
    m_configGeneration.fetch_add(1, std::memory_order_release);
}

void ProxyWorkerPool::applyOptions(const DaemonOptions &options)
{
    m_options = options;
    publishConfig();
}

void ProxyWorkerPool::shutdown()
{
    if (m_stopping)
        return;
    m_stopping = true;
    publishConfig();
    for (auto &w : m_workers)
        w->closeAll();
}

} // namespace prawmp
