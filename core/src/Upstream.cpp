#include "prawmp/Upstream.h"

#include "UpstreamConnection.h"

#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QLoggingCategory>
#include <QPointer>
#include <QSslConfiguration>
#include <QTimer>

#include <optional>

// Debug lines per request and connection: QT_LOGGING_RULES="prawmp.upstream.debug=true".
Q_LOGGING_CATEGORY(lcUpstream, "prawmp.upstream", QtInfoMsg)

namespace prawmp {

namespace {

constexpr int kDefaultMaxConnectionsPerOrigin = 16;

// Path and query, exactly as encoded in the URL ("/" when empty).
QByteArray requestTarget(const QUrl &url)
{
    QByteArray target = url.toEncoded(QUrl::RemoveScheme | QUrl::RemoveAuthority | QUrl::RemoveFragment);
    if (!target.startsWith('/'))
        target.prepend('/');
    return target;
}

QByteArray hostField(const QUrl &url, const UpstreamOrigin &origin)
{
    QByteArray host = url.host(QUrl::FullyEncoded).toLatin1();
    if (host.contains(':'))
        host = '[' + host + ']'; // an IPv6 literal
    if (origin.port != (origin.tls ? 443 : 80))
        host += ':' + QByteArray::number(origin.port);
    return host;
}

QByteArray serialize(const Request &request, const UpstreamOrigin &origin)
{
    HttpHeaders headers = request.headers;
    wire::removeDaemonFields(headers);
    return wire::serializeRequest(request.method, requestTarget(request.url),
                                  hostField(request.url, origin), headers, request.body);
}

// Methods resent once when a reused connection turned out dead before the
// upstream took the request (RFC 9110 §9.2.2 would allow more; we keep to
// the ones the cache serves).
bool mayResend(const QByteArray &method)
{
    return method == "GET" || method == "HEAD";
}

} // namespace

struct Upstream::Private
{
    // One request from send() to its answer.
    struct Exchange {
        quint64 id = 0;
        UpstreamOrigin origin;
        QString originKey;
        QByteArray method;
        QByteArray wire;          // the request as written
        bool head = false;
        bool retried = false;     // resent once already (see mayResend)
        bool needsFresh = false;  // not on a connection that has been idle
        Callback done;
        QTimer *timer = nullptr;
        UpstreamConnection *connection = nullptr;
        qint64 sentAtNs = -1;     // when written (UpstreamConnection::sentAtNs)
        std::function<void()> written; // the caller's hook for that moment
    };
    // The connections to one origin and the requests waiting for one.
    struct Pool {
        QList<UpstreamConnection *> connections; // connecting, idle and busy
        QList<quint64> waiting;                  // in send() order
    };

    Upstream *q = nullptr;
    double timeoutSeconds = 45.0;
    int maxPerOrigin = kDefaultMaxConnectionsPerOrigin;
    std::optional<QSslConfiguration> tls; // loaded on first use (TLS backend start-up)
    quint64 nextId = 1;
    QHash<quint64, Exchange> exchanges;
    QHash<QString, Pool> pools;
    QHash<UpstreamConnection *, quint64> carrying; // connection -> exchange on it
    bool pumping = false;
    QList<QString> pumpAgain;

    const QSslConfiguration &tlsConfig()
    {
        if (!tls)
            tls = QSslConfiguration::defaultConfiguration();
        return *tls;
    }

    UpstreamConnection *newConnection(const UpstreamOrigin &origin, Pool &pool)
    {
        auto *conn = new UpstreamConnection(origin, origin.tls ? tlsConfig() : QSslConfiguration(), q);
        QObject::connect(conn, &UpstreamConnection::ready, q, [this](UpstreamConnection *c) {
            pump(c->origin().key());
        });
        QObject::connect(conn, &UpstreamConnection::answered, q,
                         [this](UpstreamConnection *c, const Response &r, bool reusable) {
                             onAnswered(c, r, reusable);
                         });
        QObject::connect(conn, &UpstreamConnection::written, q, [this](UpstreamConnection *c) {
            const auto it = exchanges.find(carrying.value(c));
            if (it != exchanges.end() && it->written)
                it->written();
        });
        QObject::connect(conn, &UpstreamConnection::failed, q,
                         [this](UpstreamConnection *c, const Error &e, bool mayRetry) {
                             onFailed(c, e, mayRetry);
                         });
        QObject::connect(conn, &UpstreamConnection::lost, q, [this](UpstreamConnection *c) {
            const QString key = c->origin().key();
            discard(c);
            pump(key); // a slot came free
        });
        pool.connections.append(conn);
        return conn;
    }

    // Forgets a connection and closes it (quietly, if still open).
    void discard(UpstreamConnection *c)
    {
        auto it = pools.find(c->origin().key());
        if (it != pools.end())
            it->connections.removeOne(c);
        carrying.remove(c);
        QObject::disconnect(c, nullptr, q, nullptr);
        c->close();
        c->setParent(nullptr);
        c->deleteLater(); // we may be inside one of its signals
    }

    // Hands waiting requests of one origin to connections. Re-entrant calls
    // (from a callback) are queued behind the running one.
    void pump(const QString &key)
    {
        if (pumping) {
            if (!pumpAgain.contains(key))
                pumpAgain.append(key);
            return;
        }
        pumping = true;
        pumpOrigin(key);
        while (!pumpAgain.isEmpty())
            pumpOrigin(pumpAgain.takeFirst());
        pumping = false;
    }

    void pumpOrigin(const QString &key)
    {
        auto poolIt = pools.find(key);
        if (poolIt == pools.end())
            return;
        Pool &pool = *poolIt;
        while (!pool.waiting.isEmpty()) {
            const quint64 id = pool.waiting.first();
            auto exIt = exchanges.find(id);
            if (exIt == exchanges.end()) {
                pool.waiting.removeFirst();
                continue;
            }
            Exchange &ex = *exIt;
            UpstreamConnection *c = nullptr;
            if (!ex.needsFresh) {
                c = takeIdle(pool);
                if (!c) {
                    // A preconnect under way: the request goes out as soon as it is open.
                    for (UpstreamConnection *candidate : std::as_const(pool.connections)) {
                        if (candidate->state() == UpstreamConnection::State::Connecting
                            && !candidate->hasRequest()) {
                            c = candidate;
                            break;
                        }
                    }
                }
            }
            bool opening = false;
            if (!c) {
                if (pool.connections.size() >= maxPerOrigin && ex.needsFresh) {
                    // Make room by closing an idle connection, if there is one.
                    for (UpstreamConnection *candidate : std::as_const(pool.connections)) {
                        if (candidate->state() == UpstreamConnection::State::Idle) {
                            discard(candidate);
                            break;
                        }
                    }
                }
                if (pool.connections.size() >= maxPerOrigin)
                    return; // all busy: wait for one to come free
                c = newConnection(ex.origin, pool);
                opening = true;
            }
            pool.waiting.removeFirst();
            ex.connection = c;
            carrying.insert(c, id);
            c->start(ex.wire, ex.head);
            if (opening)
                c->open();
            ex.sentAtNs = c->sentAtNs(); // -1 while connecting; set again when written
        }
    }

    // The most recently used idle connection that is still usable; idle
    // connections found dead on the way are closed (nothing was sent on them).
    UpstreamConnection *takeIdle(Pool &pool)
    {
        for (qsizetype i = pool.connections.size() - 1; i >= 0; --i) {
            UpstreamConnection *c = pool.connections.at(i);
            if (c->state() != UpstreamConnection::State::Idle)
                continue;
            if (c->isStillUsable())
                return c;
            qCDebug(lcUpstream) << "connection" << c->serial() << "to" << c->origin().key()
                                << "found closed while idle; not used";
            discard(c);
            // discard() removed index i; the indexes below are unchanged.
        }
        return nullptr;
    }

    void noteSent(quint64 id, const UpstreamConnection *c)
    {
        auto it = exchanges.find(id);
        if (it != exchanges.end())
            it->sentAtNs = c->sentAtNs();
    }

    void onAnswered(UpstreamConnection *c, const Response &response, bool reusable)
    {
        const QString key = c->origin().key();
        const quint64 id = carrying.take(c);
        noteSent(id, c);
        if (!reusable)
            discard(c);
        pump(key);
        finish(id, response, {});
    }

    void onFailed(UpstreamConnection *c, const Error &error, bool mayRetry)
    {
        const QString key = c->origin().key();
        const quint64 id = carrying.take(c);
        noteSent(id, c);
        discard(c);
        auto it = exchanges.find(id);
        if (it == exchanges.end()) {
            pump(key);
            return;
        }
        Exchange &ex = *it;
        ex.connection = nullptr;
        if (mayRetry && mayResend(ex.method) && !ex.retried) {
            qCDebug(lcUpstream) << "request" << id << "resent once on a fresh connection:"
                                << error.message;
            ex.retried = true;
            ex.needsFresh = true;
            pools[key].waiting.prepend(id);
            pump(key);
            return;
        }
        Error reported = error;
        if (mayRetry) {
            reported.message += mayResend(ex.method)
                ? QStringLiteral(" (already resent once)")
                : QStringLiteral("; a %1 is not resent").arg(QString::fromLatin1(ex.method));
        }
        pump(key);
        finish(id, {}, reported);
    }

    void onTimeout(quint64 id)
    {
        auto it = exchanges.find(id);
        if (it == exchanges.end())
            return;
        const QString key = it->originKey;
        detach(*it);
        pump(key);
        finish(id, {}, {Error::Kind::Timeout,
                        QStringLiteral("upstream did not answer within %1 s").arg(timeoutSeconds)});
    }

    // Takes the request off its connection (closed: the answer half read
    // cannot be told from the next) or out of the waiting line.
    void detach(Exchange &ex)
    {
        if (UpstreamConnection *c = ex.connection) {
            ex.connection = nullptr;
            discard(c);
        } else {
            auto poolIt = pools.find(ex.originKey);
            if (poolIt != pools.end())
                poolIt->waiting.removeOne(ex.id);
        }
    }

    void finish(quint64 id, const Response &response, const Error &error)
    {
        auto it = exchanges.find(id);
        if (it == exchanges.end())
            return;
        Exchange ex = std::move(*it);
        exchanges.erase(it);
        dropTimer(ex);
        if (lcUpstream().isDebugEnabled()) {
            const double ms = ex.sentAtNs < 0 ? -1.0 : (UpstreamConnection::nowNs() - ex.sentAtNs) / 1e6;
            qCDebug(lcUpstream).nospace().noquote()
                << "request " << id << " " << ex.method << " " << ex.originKey << ": "
                << (error ? error.message : QString::number(response.status)) << ", "
                << ms << " ms after sending";
        }
        if (ex.done)
            ex.done(response, error);
    }

    static void dropTimer(Exchange &ex)
    {
        if (ex.timer) {
            ex.timer->stop();
            // We may be inside its timeout(), and the callback may yet
            // destroy the Upstream: no longer its child.
            ex.timer->setParent(nullptr);
            ex.timer->deleteLater();
            ex.timer = nullptr;
        }
    }
};

Upstream::Upstream(QObject *parent) : QObject(parent), d(std::make_unique<Private>())
{
    d->q = this;
}

Upstream::~Upstream()
{
    // No callback runs any more. Connections are closed now but deleted
    // later: a callback may destroy us from inside one of their signals.
    for (auto &ex : d->exchanges)
        delete ex.timer;
    d->exchanges.clear();
    for (auto &pool : d->pools) {
        for (UpstreamConnection *c : std::as_const(pool.connections)) {
            QObject::disconnect(c, nullptr, this, nullptr);
            c->close();
            c->setParent(nullptr);
            c->deleteLater();
        }
    }
    d->pools.clear();
}

void Upstream::setTimeout(double seconds) { d->timeoutSeconds = seconds; }
double Upstream::timeout() const { return d->timeoutSeconds; }

void Upstream::setMaxConnectionsPerOrigin(int count) { d->maxPerOrigin = std::max(1, count); }
int Upstream::maxConnectionsPerOrigin() const { return d->maxPerOrigin; }

void Upstream::setSslConfiguration(const QSslConfiguration &configuration) { d->tls = configuration; }
QSslConfiguration Upstream::sslConfiguration() const { return d->tlsConfig(); }

int Upstream::inFlight() const { return int(d->exchanges.size()); }

int Upstream::connectionCount() const
{
    int count = 0;
    for (const auto &pool : d->pools)
        count += int(pool.connections.size());
    return count;
}

quint64 Upstream::send(const Request &request, Callback done, std::function<void()> written)
{
    const quint64 id = d->nextId++;
    Private::Exchange ex;
    ex.id = id;
    ex.origin = UpstreamOrigin::fromUrl(request.url);
    ex.originKey = ex.origin.key();
    ex.method = request.method;
    ex.head = request.method == "HEAD";
    ex.done = std::move(done);
    ex.written = std::move(written);
    ex.timer = new QTimer(this);
    ex.timer->setSingleShot(true);
    // Coarse timers may fire 5% early: a timeout is a promise to wait that long.
    ex.timer->setTimerType(Qt::PreciseTimer);
    connect(ex.timer, &QTimer::timeout, this, [this, id] { d->onTimeout(id); });
    ex.timer->start(int(std::clamp(d->timeoutSeconds * 1000.0, 0.0, 2.0e9)));

    if (!ex.origin.isValid()) {
        const Error error{Error::Kind::ConnectionFailed,
                          QStringLiteral("upstream unreachable: cannot send to \"%1\" (http or https URL with a host expected)")
                              .arg(request.url.toString())};
        d->exchanges.insert(id, std::move(ex));
        // Never from inside send().
        QTimer::singleShot(0, this, [this, id, error] { d->finish(id, {}, error); });
        return id;
    }
    ex.wire = serialize(request, ex.origin);
    const QString key = ex.originKey;
    d->exchanges.insert(id, std::move(ex));
    d->pools[key].waiting.append(id);
    d->pump(key);
    return id;
}

void Upstream::abort(quint64 id)
{
    auto it = d->exchanges.find(id);
    if (it == d->exchanges.end())
        return;
    Private::Exchange ex = std::move(*it);
    d->exchanges.erase(it);
    Private::dropTimer(ex);
    d->detach(ex);
    d->pump(ex.originKey); // a slot may have come free
}

void Upstream::preconnect(const QUrl &url)
{
    const UpstreamOrigin origin = UpstreamOrigin::fromUrl(url);
    if (!origin.isValid())
        return;
    Private::Pool &pool = d->pools[origin.key()];
    for (UpstreamConnection *c : std::as_const(pool.connections)) {
        if (c->state() == UpstreamConnection::State::Idle
            || (c->state() == UpstreamConnection::State::Connecting && !c->hasRequest()))
            return; // one is ready, or on its way
    }
    if (pool.connections.size() >= d->maxPerOrigin)
        return;
    d->newConnection(origin, pool)->open();
}

} // namespace prawmp
