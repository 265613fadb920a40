#include "ProxyServer.h"

#include "BudgetView.h"
#include "ConstantTime.h"
#include "ControlEndpoints.h"
#include "FileDescriptorBudget.h"
#include "HttpWire.h"
#include "IdentityStore.h"
#include "WindowSpendingStore.h"
#include "ProxyWorker.h"
#include "RedisBudgetAuthority.h"
#include "RedisConnection.h"
#include "RedisIdentities.h"
#include "RedisSharedCache.h"
#include "TlsCertificate.h"

#include "prawmp/JsonResponses.h"
#include "prawmp/ResponseCache.h"
#include "prawmp/Upstream.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QTcpServer>
#include <QTimer>

#include <cmath>

Q_LOGGING_CATEGORY(lcHttp, "prawmp.http")

namespace prawmp {

namespace {

// Headers that only concern the hop between client and daemon. The
// daemon's own fields (X-Mp-*) stay for the pipeline; the upstream client
// drops them (wire::removeDaemonFields).
void stripClientOnlyHeaders(HttpHeaders &headers)
{
    wire::removeNeverForwarded(headers);
}

} // namespace

ProxyServer::ProxyServer(const DaemonOptions &options, QObject *parent)
    : QObject(parent), m_options(options), m_router(std::make_unique<Router>(options))
{
    m_clock.start();
    // Headroom in the open-file limit, so that clients over it get their 503.
    m_options.maxClients = FileDescriptorBudget::clientCapacity(options.maxClients);
    m_pipeline = new RequestPipeline(options.pipelineConfig(), this);
    m_identityStore = new IdentityStore(m_pipeline->identities(), options.stateDir, this);
    // Local mode: in distributed mode the window's counts live in Redis.
    if (options.redis.isEmpty())
        m_windowStore = new WindowSpendingStore(m_pipeline->limiter(), options.stateDir, this);
    // Distributed mode: the rate budget and the cache are shared through Redis.
    if (!options.redis.isEmpty()) {
        RedisAddress address;
        const QString error = RedisAddress::parse(options.redis, &address);
        if (!error.isEmpty()) {
            qCWarning(lcHttp).noquote() << "--redis:" << error << "- running without Redis";
        } else {
            m_redis = new RedisConnection(address, this);
            m_budgetAuthority = new RedisBudgetAuthority(*m_redis, options.redisPrefix,
                                                         [this] { return m_options.pipelineConfig(); }, this);
            m_sharedCache = new RedisSharedCache(*m_redis, options.redisPrefix, m_pipeline->cache(), this);
            m_pipeline->limiter().setAuthority(m_budgetAuthority);
            m_pipeline->setSharedCache(m_sharedCache);
            m_redisIdentities = new RedisIdentities(*m_redis, options.redisPrefix, m_pipeline->identities(), this);
            m_redis->start();
        }
    }
    m_log.setLevel(options.logRequests);
    m_control = new ControlEndpoints(*this, m_events);
    connect(m_pipeline, &RequestPipeline::requestFinished, m_control, &ControlEndpoints::onRequestFinished);
    // Plain and TLS alike (the workers speak TLS with OpenSSL). Watching
    // (event subscribers, --log-requests) does not matter: it observes the
    // one path. In distributed mode the budget view includes the Redis
    // authority, which lives on this thread: the workers read a copy of it
    // that this thread refreshes.
    if (m_redis)
        m_budgetView = std::make_unique<PublishedBudgetView>(m_pipeline->limiter(), nullptr);
    else
        m_budgetView = std::make_unique<LimiterBudgetView>(m_pipeline->limiter());
    const ServingContext context{m_pipeline->cache(), *m_budgetView, m_pipeline->identities(),
                                 m_stats, m_events, m_log};
    if (options.threads == 0)
        qCWarning(lcHttp) << "--threads 0: one serving thread holds the connections (the main thread no longer does)";
    m_workers = std::make_unique<ProxyWorkerPool>(*this, context, m_options);
}

ProxyServer::~ProxyServer()
{
    // The serving threads stop before the sink, feed and log they feed go.
    m_workers.reset();
    // The pipeline (a child, deleted after our members) may still report
    // aborted requests: not to the event feed, gone by then.
    disconnect(m_pipeline, nullptr, m_control, nullptr);
    // Saves what is still unsaved while the pipeline (a child created
    // earlier, so deleted earlier) still holds it.
    delete m_identityStore;
    delete m_windowStore;
    delete m_redisIdentities;
    // Replies are owned here; connections are children and go with us.
    for (auto it = m_pending.keyBegin(); it != m_pending.keyEnd(); ++it)
        delete *it;
}

bool ProxyServer::listen(QString *error)
{
    // What earlier runs learned (which app each token belongs to).
    if (!m_identityStore->load(error))
        return false;
    if (m_windowStore)
        m_windowStore->load();
    const QString addr = m_options.addr;
    QList<QHostAddress> addresses;
    if (addr.compare(QLatin1String("localhost"), Qt::CaseInsensitive) == 0) {
        addresses = {QHostAddress(QHostAddress::LocalHost), QHostAddress(QHostAddress::LocalHostIPv6)};
    } else if (addr == QLatin1String("*") || addr == QLatin1String("0.0.0.0")) {
        addresses = {QHostAddress(QHostAddress::Any)};
    } else {
        QHostAddress parsed;
        if (!parsed.setAddress(addr)) {
            *error = QStringLiteral("cannot listen on %1: not an IP address or localhost").arg(addr);
            return false;
        }
        addresses = {parsed};
    }
    if (m_options.usesTls()) {
        m_tls = new TlsCertificate(this);
        if (!m_tls->load(m_options, error))
            return false;
        m_workers->setTlsContext(m_tls->serverContext());
    }
    quint16 port = m_options.port;
    for (int i = 0; i < addresses.size(); ++i) {
        QTcpServer *server = m_workers->createListener(this);
        if (!server->listen(addresses[i], port)) {
            const QString reason = server->errorString();
            delete server;
            if (i > 0)
                continue; // the IPv6 loopback is a bonus, not a requirement
            *error = QStringLiteral("cannot listen on %1 port %2: %3").arg(addr).arg(port).arg(reason);
            return false;
        }
        port = server->serverPort(); // the other addresses take the same port
        m_servers.append(server);
        // Out of descriptors (EMFILE) or memory, QTcpServer stops accepting
        // for good; try again shortly, as the clients leave.
        connect(server, &QTcpServer::acceptError, this, [server](QAbstractSocket::SocketError) {
            static QElapsedTimer lastWarning;
            if (!lastWarning.isValid() || lastWarning.hasExpired(10'000)) {
                lastWarning.start();
                qCWarning(lcHttp).noquote() << "cannot accept connections:" << server->errorString()
                                            << "- retrying every 100 ms";
            }
            QTimer::singleShot(100, server, [server] { server->resumeAccepting(); });
        });
    }
    // QNAM's first request is slower by its set-up (~12 ms on loopback, a
    // TLS handshake for Reddit), which showed as a first upstream gap short
    // of --delay by as much: pay it now instead.
    for (const QUrl &target : m_router->targets())
        m_pipeline->upstream().preconnect(target);
    return true;
}

QString ProxyServer::listeningAddress() const
{
    return m_servers.isEmpty() ? QString() : m_servers.first()->serverAddress().toString();
}

quint16 ProxyServer::port() const { return m_servers.isEmpty() ? 0 : m_servers.first()->serverPort(); }

void ProxyServer::applyOptions(const DaemonOptions &options)
{
    const quint16 port = m_options.port;
    m_options = options;
    m_options.port = port;
    m_options.maxClients = FileDescriptorBudget::clientCapacity(options.maxClients);
    m_router = std::make_unique<Router>(options);
    m_pipeline->reconfigure(options.pipelineConfig());
    m_log.setLevel(options.logRequests);
    if (m_tls && options.usesTls()) {
        QString error;
        if (!m_tls->reload(options, &error))
            qCWarning(lcHttp).noquote() << "TLS certificate not reloaded, keeping the current one:" << error;
    }
    if (m_tls)
        m_workers->setTlsContext(m_tls->serverContext());
    m_workers->applyOptions(m_options);
    qCInfo(lcHttp) << "configuration reloaded";
}

bool ProxyServer::hasRoomForConnection(int heldByServingThreads) const
{
    return !m_stopping && heldByServingThreads < m_options.maxClients;
}

void ProxyServer::abandonConnection(quint64 connection)
{
    const QList<Reply *> replies = m_pendingByConnection.take(connection);
    for (Reply *reply : replies) {
        if (m_pending.contains(reply))
            reply->abort();
    }
    maybeFinishShutdown();
}

bool ProxyServer::authorized(const IncomingRequest &incoming) const
{
    if (m_options.authToken.isEmpty())
        return true;
    const QByteArray given = incoming.headers.value("proxy-authorization").trimmed();
    return constantTimeEquals(given, "Bearer " + m_options.authToken.toUtf8());
}

void ProxyServer::serveRequest(quint64 connection, const QString &peer, const IncomingRequest &request,
                               Deliver deliver, OpenStream openStream)
{
    serve(Origin{connection, peer, std::move(deliver), std::move(openStream)}, request);
}

void ProxyServer::serve(const Origin &origin, const IncomingRequest &incoming)
{
    if (!authorized(incoming)) {
        Response r = jsonError(407, QStringLiteral("proxy_auth_required"),
                               QStringLiteral("send Proxy-Authorization: Bearer <token>"));
        r.headers.set("Proxy-Authenticate", "Bearer realm=\"praw-multiprocess\"");
        origin.deliver(r);
        return;
    }
    if (incoming.method == "CONNECT") {
        origin.deliver(jsonError(405, QStringLiteral("method_not_allowed"),
                                 QStringLiteral("CONNECT is not supported: a TLS tunnel can be neither cached nor paced")));
        return;
    }
    if (incoming.method == "PURGE") {
        m_control->purge(incoming, origin.deliver);
        return;
    }
    if (ControlEndpoints::isControlTarget(incoming.target)) {
        m_control->handle(incoming, origin.deliver, origin.openStream);
        return;
    }
    const Router::Result route = m_router->resolve(incoming.target);
    if (!route.ok()) {
        origin.deliver(jsonError(route.status, route.code, route.message));
        return;
    }
    forward(origin, incoming, route.url);
}

void ProxyServer::forward(const Origin &origin, const IncomingRequest &incoming, const QUrl &url)
{
    Request request;
    request.method = incoming.method;
    request.url = url;
    request.headers = incoming.headers;
    stripClientOnlyHeaders(request.headers);
    request.body = incoming.body;
    const QByteArray userAgent = incoming.headers.value("user-agent");
    request.clientId = ClientRegistry::clientId(origin.peer, userAgent);
    request.maxWaitSeconds = m_options.maxQueueWaitSeconds;
    bool ok = false;
    const double maxWait = incoming.headers.value("x-mp-max-wait").trimmed().toDouble(&ok);
    if (ok && maxWait >= 0)
        request.maxWaitSeconds = request.maxWaitSeconds < 0 ? maxWait : std::min(maxWait, request.maxWaitSeconds);

    m_stats.requestStarted(request.clientId, origin.peer, userAgent);
    Reply *reply = m_pipeline->submit(request);
    m_pending.insert(reply, Pending{origin.connection, origin.deliver, request, request.clientId, m_clock.elapsed()});
    m_pendingByConnection[origin.connection].append(reply);
    connect(reply, &Reply::finished, this, [this, reply] { answer(reply); });
}

void ProxyServer::decorate(Response &response, const Request &request) const
{
    // Our view of the request's own budget (host + app), not the one frozen
    // into a cached answer.
    const QString domain = m_pipeline->identities().rateDomain(request.url.host(), request.headers);
    applyBudgetHeaders(response, m_pipeline->limiter().state(domain));
}

void ProxyServer::answer(Reply *reply)
{
    const auto it = m_pending.find(reply);
    if (it == m_pending.end())
        return;
    const Pending pending = *it;
    m_pending.erase(it);
    reply->deleteLater();
    // find(), not operator[]: a connection already closed has no entry to re-create.
    if (const auto byConn = m_pendingByConnection.find(pending.connection); byConn != m_pendingByConnection.end()) {
        byConn->removeOne(reply);
        if (byConn->isEmpty())
            m_pendingByConnection.erase(byConn);
    }

    Response response;
    if (reply->error()) {
        const Error &error = reply->error();
        response = jsonError(error.httpStatus(), error.code(), error.message);
        if (error.kind == Error::Kind::QueueTimeout)
            response.headers.set("Retry-After", QByteArray::number(qint64(std::ceil(error.retryAfterSeconds))));
    } else {
        response = reply->response();
        response.headers.removeHopByHop();
        // The serving thread frames the answer itself; the upstream's length
        // only serves a HEAD answer, which has no body to measure.
        if (pending.request.method != "HEAD")
            response.headers.remove("content-length");
        if (reply->cacheStatus() == CacheStatus::Hit)
            response.headers.set("Age", QByteArray::number(reply->ageSeconds()));
        if (response.status != 429)
            decorate(response, pending.request);
    }
    response.headers.set("X-Cache", cacheStatusName(reply->cacheStatus()));
    const qint64 totalMs = m_clock.elapsed() - pending.startedMs;
    m_stats.requestFinished(pending.clientId, reply->cacheStatus() == CacheStatus::Hit, response.body.size());
    logRequest(pending, *reply, totalMs);
    if (reply->error().kind != Error::Kind::Canceled)
        pending.deliver(response);
    maybeFinishShutdown();
}

void ProxyServer::logRequest(const Pending &pending, const Reply &reply, qint64 totalMs)
{
    const int level = m_log.level();
    if (level <= 0)
        return;
    RequestLog::Entry entry;
    entry.record = answeredRecord(pending.clientId, pending.request, reply, totalMs);
    if (level >= 2) {
        entry.requestBody = pending.request.body;
        entry.responseBody = reply.response().body;
    }
    m_log.write(std::move(entry));
}

void ProxyServer::shutdown(int graceMs)
{
    if (m_stopping)
        return;
    m_stopping = true;
    for (QTcpServer *server : std::as_const(m_servers))
        server->close();
    qCInfo(lcHttp) << "stopping: waiting for" << m_pending.size() << "requests in progress";
    m_shutdownDeadline = new QTimer(this);
    m_shutdownDeadline->setSingleShot(true);
    connect(m_shutdownDeadline, &QTimer::timeout, this, [this] {
        qCWarning(lcHttp) << "stopping with" << m_pending.size() << "requests unfinished";
        emit stopped();
    });
    m_shutdownDeadline->start(graceMs);
    m_workers->shutdown(); // idle connections close; the others after their last answer
    maybeFinishShutdown();
}

void ProxyServer::maybeFinishShutdown()
{
    if (!m_stopping || !m_pending.isEmpty() || !m_shutdownDeadline || !m_shutdownDeadline->isActive())
        return;
    m_shutdownDeadline->stop();
    // Let the last answers reach the sockets before the loop ends.
    QTimer::singleShot(50, this, &ProxyServer::stopped);
}

PipelineCounters ProxyServer::totals() const
{
    PipelineCounters totals = m_pipeline->counters();
    // The serving threads answer hits without the pipeline.
    const quint64 servingThreadHits = m_stats.servingThreadHits();
    totals.requests += servingThreadHits;
    totals.hits += servingThreadHits;
    return totals;
}

StatsSnapshot ProxyServer::snapshot() const
{
    StatsSnapshot s;
    s.version = QStringLiteral(PRAWMP_VERSION);
    s.timestampMs = QDateTime::currentMSecsSinceEpoch();
    s.uptimeSeconds = double(m_clock.elapsed()) / 1000.0;
    s.totals = totals();
    s.servingThreads = m_workers->threadCount();
    s.servingThreadHits = m_stats.servingThreadHits();
    s.ioBackend = m_workers->ioBackend();
    s.requestEventsNotSent = m_stats.requestEventsNotSent();
    const auto cache = m_pipeline->cache().counters();
    s.cacheEntries = cache.entries;
    s.cacheBytes = cache.bytes;
    s.cacheEvictions = cache.evictions;
    s.cacheMaxBytes = m_pipeline->cache().maxBytes();
    s.cacheTtlSeconds = m_pipeline->cache().ttl();
    s.domains = m_pipeline->limiter().states();
    for (DomainState &d : s.domains) {
        d.app = AppIdentities::appOfDomain(d.domain);
        d.label = m_options.appLabels.value(d.app);
    }
    s.clients = m_stats.clients();
    s.connections = m_workers->connectionCount();
    s.rateMode = m_options.rateMode == RateMode::Fixed ? QStringLiteral("fixed") : QStringLiteral("adaptive");
    s.redisState = m_budgetAuthority ? m_budgetAuthority->stateName() : QStringLiteral("off");
    m_control->fillRates(s);
    return s;
}

} // namespace prawmp
