#include "RedisConnection.h"

#include <QCryptographicHash>
#include <QFile>
#include <QHostAddress>
#include <QHostInfo>
#include <QLoggingCategory>
#include <QTimer>
#include <QUrl>

#include <deque>

// hiredis' Qt adapter: a QObject declared in a system header (moc'ed by
// daemon/CMakeLists.txt). hiredis is C; the adapter header includes async.h.
#include <hiredis/adapters/qt.h>
#include <hiredis/hiredis.h>

Q_LOGGING_CATEGORY(lcRedis, "prawmp.redis")

// The scripts live in a static library: make sure its resources are linked in.
static void initLuaResources()
{
    static const bool done = [] {
        Q_INIT_RESOURCE(redis_lua);
        return true;
    }();
    Q_UNUSED(done);
}

namespace prawmp {

// ---------------------------------------------------------------------------
// RedisAddress, RedisValue, RedisScript

QString RedisAddress::parse(const QString &url, RedisAddress *address)
{
    const QUrl u(url.trimmed(), QUrl::StrictMode);
    if (!u.isValid() || u.scheme().toLower() != u"redis" || u.host().isEmpty())
        return QStringLiteral("not a redis://[:password@]host[:port][/db] URL");
    RedisAddress a;
    a.host = u.host();
    const int port = u.port(6379);
    if (port <= 0 || port > 65535)
        return QStringLiteral("bad Redis port");
    a.port = quint16(port);
    a.user = u.userName(QUrl::FullyDecoded);
    a.password = u.password(QUrl::FullyDecoded);
    const QString path = u.path();
    if (!path.isEmpty() && path != u"/") {
        bool ok = false;
        a.db = path.mid(1).toInt(&ok);
        if (!ok || a.db < 0)
            return QStringLiteral("bad Redis database number");
    }
    *address = a;
    return {};
}

QString RedisAddress::describe() const
{
    const QString h = host.contains(u':') ? u'[' + host + u']' : host;
    return QStringLiteral("%1:%2/%3").arg(h).arg(port).arg(db);
}

double RedisValue::toDouble(double fallback) const
{
    if (type == Type::Integer)
        return double(integer);
    if (type != Type::String && type != Type::Status)
        return fallback;
    bool ok = false;
    const double v = string.toDouble(&ok);
    return ok ? v : fallback;
}

QString RedisValue::describe() const
{
    switch (type) {
    case Type::None: return {};
    case Type::Nil: return QStringLiteral("(nil)");
    case Type::Integer: return QString::number(integer);
    case Type::String:
    case Type::Status:
    case Type::Error: return QString::fromUtf8(string.left(200));
    case Type::Array: return QStringLiteral("(array of %1)").arg(elements.size());
    }
    return {};
}

namespace {

RedisValue fromReply(const redisReply *r)
{
    RedisValue v;
    if (!r)
        return v;
    switch (r->type) {
    case REDIS_REPLY_STRING:
        v.type = RedisValue::Type::String;
        v.string = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_STATUS:
        v.type = RedisValue::Type::Status;
        v.string = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_ERROR:
        v.type = RedisValue::Type::Error;
        v.string = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_INTEGER:
        v.type = RedisValue::Type::Integer;
        v.integer = r->integer;
        break;
    case REDIS_REPLY_ARRAY:
        v.type = RedisValue::Type::Array;
        for (size_t i = 0; i < r->elements; ++i)
            v.elements.append(fromReply(r->element[i]));
        break;
    default:
        v.type = RedisValue::Type::Nil;
        break;
    }
    return v;
}

} // namespace

RedisScript::RedisScript(QByteArray n, QByteArray s)
    : name(std::move(n)), source(std::move(s)),
      sha1(QCryptographicHash::hash(source, QCryptographicHash::Sha1).toHex())
{
}

RedisScript RedisScript::fromResources(const QByteArray &name, const QStringList &files)
{
    initLuaResources();
    QByteArray source;
    for (const QString &file : files) {
        QFile f(QStringLiteral(":/prawmp/lua/") + file);
        if (!f.open(QIODevice::ReadOnly))
            qFatal("missing embedded Lua script %s", qPrintable(file)); // a build error, not a run-time one
        source += f.readAll();
        source += '\n';
    }
    return RedisScript(name, source);
}

// ---------------------------------------------------------------------------
// Link: one hiredis asynchronous context and its life cycle.

class RedisConnection::Link : public QObject
{
public:
    Link(RedisConnection *owner, bool events) : QObject(owner), m_owner(owner), m_events(events)
    {
        m_clock.start();
        m_retry.setSingleShot(true);
        connect(&m_retry, &QTimer::timeout, this, [this] { open(); });
        m_watchdog.setInterval(250);
        connect(&m_watchdog, &QTimer::timeout, this, [this] { checkDeadlines(); });
    }

    ~Link() override
    {
        m_destroying = true;
        if (m_lookup >= 0)
            QHostInfo::abortHostLookup(m_lookup);
        drop(QString(), false);
    }

    bool isReady() const { return m_ready; }
    const char *name() const { return m_events ? "pub/sub" : "command"; }

    void open()
    {
        if (m_ac || m_lookup >= 0)
            return;
        ++m_generation;
        const RedisAddress &a = m_owner->address();
        if (QHostAddress(a.host).isNull()) {
            // hiredis would resolve the name with a blocking getaddrinfo().
            m_lookup = QHostInfo::lookupHost(a.host, this, [this](const QHostInfo &info) {
                m_lookup = -1;
                QHostAddress chosen;
                for (const QHostAddress &address : info.addresses()) {
                    if (chosen.isNull() || (address.protocol() == QAbstractSocket::IPv4Protocol
                                            && chosen.protocol() != QAbstractSocket::IPv4Protocol))
                        chosen = address; // IPv4 first, as hiredis does
                }
                if (chosen.isNull())
                    scheduleRetry(QStringLiteral("cannot resolve %1: %2").arg(m_owner->address().host, info.errorString()));
                else
                    connectTo(chosen.toString());
            });
            return;
        }
        connectTo(a.host);
    }

    void connectTo(const QString &ip)
    {
        const RedisAddress &a = m_owner->address();
        redisAsyncContext *ac = redisAsyncConnect(ip.toUtf8().constData(), a.port);
        if (!ac) {
            scheduleRetry(QStringLiteral("out of memory"));
            return;
        }
        if (ac->err) {
            const QString reason = QString::fromUtf8(ac->errstr);
            redisAsyncFree(ac);
            scheduleRetry(reason);
            return;
        }
        ac->data = this;
        m_adapter = new RedisQtAdapter;
        m_adapter->setContext(ac);
        m_ac = ac;
        // Must follow setContext(): it asks the adapter to watch for writability.
        redisAsyncSetConnectCallback(ac, &Link::onConnect);
        redisAsyncSetDisconnectCallback(ac, &Link::onDisconnect);
        m_phase = Phase::Connecting;
        m_phaseSince = m_clock.elapsed();
        m_watchdog.start();
    }

    // Sends a command; `handler` runs later (queued), exactly once.
    void send(const QList<QByteArray> &args, Handler handler, bool flush)
    {
        if (!m_ac || m_phase == Phase::Connecting) {
            deliver(std::move(handler), RedisValue());
            return;
        }
        std::vector<const char *> argv;
        std::vector<size_t> lengths;
        argv.reserve(size_t(args.size()));
        lengths.reserve(size_t(args.size()));
        for (const QByteArray &a : args) {
            argv.push_back(a.constData());
            lengths.push_back(size_t(a.size()));
        }
        auto *pending = new Handler(std::move(handler));
        if (redisAsyncCommandArgv(m_ac, &Link::onReply, pending, int(args.size()), argv.data(), lengths.data())
            != REDIS_OK) {
            deliver(std::move(*pending), RedisValue());
            delete pending;
            return;
        }
        m_sent.push_back(m_clock.elapsed());
        // Hand the command to the socket now, not on the next loop turn: a
        // cache entry stored (or evicted) before the client sees our answer
        // must be visible to the next daemon it asks.
        if (flush && !m_inHiredis)
            redisAsyncHandleWrite(m_ac);
    }

    void subscribeAll()
    {
        if (!m_ac)
            return;
        for (auto it = m_owner->m_subscriptions.cbegin(); it != m_owner->m_subscriptions.cend(); ++it)
            subscribe(it.key());
    }

    void subscribe(const QByteArray &channel)
    {
        if (!m_ac || !m_ready)
            return;
        const char *argv[] = {"SUBSCRIBE", channel.constData()};
        const size_t lengths[] = {9, size_t(channel.size())};
        redisAsyncCommandArgv(m_ac, &Link::onMessage, nullptr, 2, argv, lengths);
        if (!m_inHiredis)
            redisAsyncHandleWrite(m_ac);
    }

    // Closes the link (if open); reconnects later when asked to.
    void drop(const QString &reason, bool reconnect)
    {
        if (m_ac) {
            redisAsyncContext *ac = m_ac;
            m_ac = nullptr;
            releaseAdapter(ac);
            // Pending callbacks run now with no reply; when called from inside
            // a hiredis callback, hiredis frees the context once it returns.
            redisAsyncFree(ac);
        }
        m_sent.clear();
        m_watchdog.stop();
        const bool wasReady = m_ready;
        m_ready = false;
        m_phase = Phase::Closed;
        if (m_destroying)
            return;
        if (reconnect)
            scheduleRetry(reason);
        else if (wasReady)
            notifyLost(reason);
    }

private:
    enum class Phase { Closed, Connecting, Handshake, Ready };

    // The adapter must go while the context is alive: its destructor writes
    // into the context. Its socket notifiers go first.
    void releaseAdapter(redisAsyncContext *ac)
    {
        if (ac->ev.cleanup)
            ac->ev.cleanup(ac->ev.data);
        ac->ev.addRead = nullptr;
        ac->ev.delRead = nullptr;
        ac->ev.addWrite = nullptr;
        ac->ev.delWrite = nullptr;
        ac->ev.cleanup = nullptr;
        delete m_adapter; // clears ac->ev.data
        m_adapter = nullptr;
    }

    void scheduleRetry(const QString &reason)
    {
        if (m_destroying || m_retry.isActive())
            return;
        notifyLost(reason);
        // Once per distinct reason (and now and then), not at every retry.
        if (reason != m_lastReason || m_failures % 50 == 0)
            qCWarning(lcRedis).noquote() << "Redis" << m_owner->address().describe() << name() << "link:"
                                          << reason << "- retrying in" << m_backoffMs << "ms";
        m_lastReason = reason;
        ++m_failures;
        m_retry.start(m_backoffMs);
        m_backoffMs = std::min(m_backoffMs * 2, kMaxBackoffMs);
    }

    void deliver(Handler handler, const RedisValue &value)
    {
        if (!handler || m_destroying)
            return;
        QMetaObject::invokeMethod(m_owner, [handler = std::move(handler), value] { handler(value); },
                                  Qt::QueuedConnection);
    }

    void notifyLost(const QString &reason)
    {
        QMetaObject::invokeMethod(m_owner, [owner = m_owner, self = this, reason] { owner->linkLost(self, reason); },
                                  Qt::QueuedConnection);
    }

    void checkDeadlines()
    {
        const qint64 now = m_clock.elapsed();
        if (m_phase == Phase::Connecting && now - m_phaseSince > kConnectTimeoutMs) {
            drop(QStringLiteral("connect timed out"), true);
        } else if (!m_sent.empty() && now - m_sent.front() > kCommandTimeoutMs) {
            drop(QStringLiteral("no answer within %1 ms").arg(kCommandTimeoutMs), true);
        }
    }

    // Connected: authenticate, select the database, load the scripts, then PING.
    void handshake()
    {
        m_phase = Phase::Handshake;
        m_handshakeError.clear();
        const RedisAddress &a = m_owner->address();
        const quint64 generation = m_generation;
        const auto check = [this, generation](const char *what) {
            return [this, what, generation](const RedisValue &v) {
                if (generation != m_generation)
                    return; // an answer (or none) for an earlier connection
                if ((v.isError() || !v.isAnswer()) && m_handshakeError.isEmpty())
                    m_handshakeError = QStringLiteral("%1 failed: %2").arg(QLatin1String(what), v.describe());
            };
        };
        if (!a.password.isEmpty()) {
            QList<QByteArray> auth{"AUTH"};
            if (!a.user.isEmpty())
                auth.append(a.user.toUtf8());
            auth.append(a.password.toUtf8());
            send(auth, check("AUTH"), false);
        }
        if (a.db != 0 && !m_events)
            send({"SELECT", QByteArray::number(a.db)}, check("SELECT"), false);
        if (!m_events) {
            for (const RedisScript &s : std::as_const(m_owner->m_scripts))
                send({"SCRIPT", "LOAD", s.source}, check("SCRIPT LOAD"), false);
        }
        send({"PING"}, [this, generation](const RedisValue &v) {
            if (m_phase != Phase::Handshake || generation != m_generation)
                return;
            if (m_handshakeError.isEmpty() && !v.isAnswer())
                return; // the link dropped meanwhile: already handled
            if (!m_handshakeError.isEmpty() || v.isError()) {
                const QString reason = m_handshakeError.isEmpty() ? v.describe() : m_handshakeError;
                drop(reason, true);
                return;
            }
            m_phase = Phase::Ready;
            m_ready = true;
            m_backoffMs = kMinBackoffMs;
            if (m_failures > 0)
                qCInfo(lcRedis).noquote() << "Redis" << m_owner->address().describe() << name() << "link is back";
            m_failures = 0;
            m_lastReason.clear();
            if (m_events)
                subscribeAll();
            m_owner->linkReady(this);
        }, false);
    }

    static Link *linkOf(const redisAsyncContext *ac) { return static_cast<Link *>(ac->data); }

    static void onConnect(const redisAsyncContext *ac, int status)
    {
        Link *self = linkOf(ac);
        if (!self || self->m_ac != ac)
            return;
        if (status != REDIS_OK) {
            // hiredis frees the context when we return.
            const QString reason = QString::fromUtf8(ac->errstr);
            self->releaseAdapter(const_cast<redisAsyncContext *>(ac));
            self->m_ac = nullptr;
            self->m_watchdog.stop();
            self->m_phase = Phase::Closed;
            self->scheduleRetry(reason.isEmpty() ? QStringLiteral("cannot connect") : reason);
            return;
        }
        self->m_inHiredis = true;
        self->handshake();
        self->m_inHiredis = false;
    }

    static void onDisconnect(const redisAsyncContext *ac, int status)
    {
        Link *self = linkOf(ac);
        if (!self || self->m_ac != ac)
            return; // we closed it ourselves
        // hiredis frees the context when we return; the adapter's notifiers are gone.
        const QString reason = status == REDIS_OK ? QStringLiteral("connection closed")
                                                  : QString::fromUtf8(ac->errstr);
        self->releaseAdapter(const_cast<redisAsyncContext *>(ac));
        self->m_ac = nullptr;
        self->drop(reason, true);
    }

    static void onReply(redisAsyncContext *ac, void *reply, void *privdata)
    {
        std::unique_ptr<Handler> handler(static_cast<Handler *>(privdata));
        Link *self = linkOf(ac);
        if (!self)
            return;
        if (reply && !self->m_sent.empty())
            self->m_sent.pop_front();
        self->deliver(std::move(*handler), fromReply(static_cast<redisReply *>(reply)));
    }

    static void onMessage(redisAsyncContext *ac, void *reply, void *)
    {
        Link *self = linkOf(ac);
        const auto *r = static_cast<redisReply *>(reply);
        if (!self || !r || r->type != REDIS_REPLY_ARRAY || r->elements < 3)
            return;
        const RedisValue v = fromReply(r);
        if (v.elements[0].string != "message" || self->m_destroying)
            return;
        // At once rather than queued: an invalidation must win the race
        // against the next client request on this daemon.
        self->m_owner->deliverMessage(v.elements[1].string, v.elements[2].string);
    }

    RedisConnection *m_owner;
    const bool m_events;
    redisAsyncContext *m_ac = nullptr;
    RedisQtAdapter *m_adapter = nullptr;
    Phase m_phase = Phase::Closed;
    qint64 m_phaseSince = 0;
    bool m_ready = false;
    bool m_inHiredis = false;
    bool m_destroying = false;
    QString m_handshakeError;
    QString m_lastReason;
    int m_lookup = -1; // host name lookup under way
    std::deque<qint64> m_sent; // when each command awaiting an answer was sent
    QElapsedTimer m_clock;
    QTimer m_retry;
    QTimer m_watchdog;
    int m_backoffMs = kMinBackoffMs;
    int m_failures = 0;
    quint64 m_generation = 0;
};

// ---------------------------------------------------------------------------
// RedisConnection

RedisConnection::RedisConnection(const RedisAddress &address, QObject *parent)
    : QObject(parent), m_address(address)
{
    m_commands = std::make_unique<Link>(this, false);
}

RedisConnection::~RedisConnection()
{
    // Links first: their hiredis callbacks refer to us.
    m_events.reset();
    m_commands.reset();
}

void RedisConnection::start()
{
    if (m_started)
        return;
    m_started = true;
    qCInfo(lcRedis).noquote() << "connecting to Redis at" << m_address.describe();
    m_commands->open();
    if (m_events)
        m_events->open();
}

QString RedisConnection::stateName(State state)
{
    switch (state) {
    case State::Ok: return QStringLiteral("ok");
    case State::Connecting: return QStringLiteral("connecting");
    case State::Down: return QStringLiteral("down");
    }
    return {};
}

void RedisConnection::command(const QList<QByteArray> &args, Handler handler)
{
    m_commands->send(args, std::move(handler), true);
}

void RedisConnection::eval(const RedisScript &script, const QList<QByteArray> &keys,
                           const QList<QByteArray> &args, Handler handler)
{
    QList<QByteArray> tail{QByteArray::number(keys.size())};
    tail += keys;
    tail += args;
    QList<QByteArray> evalsha{"EVALSHA", script.sha1};
    evalsha += tail;
    // Redis forgot the script (restart, SCRIPT FLUSH): send it whole.
    auto retry = [this, source = script.source, tail, handler = std::move(handler)](const RedisValue &v) mutable {
        if (v.isError() && v.string.startsWith("NOSCRIPT")) {
            QList<QByteArray> full{"EVAL", source};
            full += tail;
            m_commands->send(full, std::move(handler), true);
            return;
        }
        if (handler)
            handler(v);
    };
    m_commands->send(evalsha, std::move(retry), true);
}

void RedisConnection::registerScript(const RedisScript &script)
{
    m_scripts.append(script);
    if (m_commands->isReady())
        m_commands->send({"SCRIPT", "LOAD", script.source}, {}, true);
}

void RedisConnection::subscribe(const QByteArray &channel, MessageHandler handler)
{
    const bool known = m_subscriptions.contains(channel);
    m_subscriptions.insert(channel, std::move(handler));
    if (!m_events) {
        m_events = std::make_unique<Link>(this, true);
        if (m_started) {
            m_events->open();
            updateState();
        }
        return;
    }
    if (!known)
        m_events->subscribe(channel);
}

qint64 RedisConnection::readyForMs() const
{
    return m_state == State::Ok && m_readySince.isValid() ? m_readySince.elapsed() : -1;
}

void RedisConnection::linkReady(Link *link)
{
    if (link == m_events.get())
        emit subscribed();
    updateState();
}

void RedisConnection::linkLost(Link *, const QString &reason)
{
    const State before = m_state;
    m_failed = true;
    updateState();
    if (before == State::Ok && m_state != State::Ok)
        emit disconnected(reason);
}

void RedisConnection::updateState()
{
    const bool ok = m_commands->isReady() && (!m_events || m_events->isReady());
    // Connecting until the first link is ready or the first attempt fails.
    const State next = ok ? State::Ok : (m_failed || m_state == State::Ok ? State::Down : State::Connecting);
    if (next == m_state)
        return;
    m_state = next;
    if (ok) {
        m_failed = false;
        m_readySince.start();
        qCInfo(lcRedis).noquote() << "Redis" << m_address.describe() << "is ready";
        emit connected();
    } else {
        qCWarning(lcRedis).noquote() << "Redis" << m_address.describe() << "is unreachable";
    }
    emit stateChanged(m_state);
}

void RedisConnection::deliverMessage(const QByteArray &channel, const QByteArray &payload)
{
    const auto it = m_subscriptions.constFind(channel);
    if (it != m_subscriptions.constEnd() && *it)
        (*it)(payload);
}

} // namespace prawmp
