#pragma once
#include "ClientRegistry.h"
#include "ConnectionHost.h"
#include "DaemonOptions.h"
#include "HttpServing.h"
#include "RequestEventFeed.h"
#include "RequestLog.h"
#include "Router.h"
#include "StatsSink.h"

#include "prawmp/RequestPipeline.h"
#include "prawmp/StatsSnapshot.h"

#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QObject>
#include <memory>

class QTcpServer;
class QTimer;

namespace prawmp {

class ControlEndpoints;
class ProxyWorkerPool;
class RedisBudgetAuthority;
class RedisConnection;
class RedisSharedCache;
class TlsCertificate;

// The daemon: its serving threads (ProxyWorkerPool) accept HTTP/1.1
// clients and answer cache hits; what they pass on is answered here
// (serve()): control requests, and everything else through one
// RequestPipeline (cache, coalescing, fair rate limiting, upstream). The
// serving thread that holds the connection writes each answer.
class ProxyServer : public QObject, public ConnectionHost
{
    Q_OBJECT
public:
    explicit ProxyServer(const DaemonOptions &options, QObject *parent = nullptr);
    ~ProxyServer() override;

    // Binds the listening socket(s); on failure returns false with the reason.
    bool listen(QString *error);
    QString listeningAddress() const;
    quint16 port() const;

    // SIGHUP: applies what can change at run time, keeps connections and entries.
    void applyOptions(const DaemonOptions &options);
    const DaemonOptions &options() const { return m_options; }

    // Stops accepting, lets requests in progress finish (at most graceMs), then emits stopped().
    void shutdown(int graceMs);

    StatsSnapshot snapshot() const;
    // Every request counted so far, whichever thread answered it.
    PipelineCounters totals() const;
    // ConnectionHost: the serving threads' way in.
    bool hasRoomForConnection(int heldByServingThreads) const override;
    void serveRequest(quint64 connection, const QString &peer, const IncomingRequest &request,
                      Deliver deliver, OpenStream openStream) override;
    void abandonConnection(quint64 connection) override;
    RequestPipeline &pipeline() { return *m_pipeline; }
    const Router &router() const { return *m_router; }

signals:
    void stopped();

private:
    // Where a request came from and where its answer goes: a serving
    // thread's connection.
    struct Origin {
        quint64 connection = 0; // the serving thread's id for it
        QString peer;
        Deliver deliver;
        OpenStream openStream; // for /_mp/events, which streams on the connection
    };
    struct Pending {
        quint64 connection = 0;
        Deliver deliver;
        Request request;
        QString clientId;
        qint64 startedMs = 0;
    };

    // The one place a request becomes an answer, whichever thread read it.
    void serve(const Origin &origin, const IncomingRequest &incoming);
    void forward(const Origin &origin, const IncomingRequest &incoming, const QUrl &url);
    void answer(Reply *reply);
    bool authorized(const IncomingRequest &incoming) const;
    void decorate(Response &response, const Request &request) const;
    void logRequest(const Pending &pending, const Reply &reply, qint64 totalMs);
    void maybeFinishShutdown();

    DaemonOptions m_options;
    std::unique_ptr<Router> m_router;
    RequestPipeline *m_pipeline = nullptr;
    class IdentityStore *m_identityStore = nullptr;
    class WindowSpendingStore *m_windowStore = nullptr;
    class RedisIdentities *m_redisIdentities = nullptr; // distributed mode
    ControlEndpoints *m_control = nullptr;
    // Distributed mode (--redis); null otherwise.
    RedisConnection *m_redis = nullptr;
    RedisBudgetAuthority *m_budgetAuthority = nullptr;
    RedisSharedCache *m_sharedCache = nullptr;
    TlsCertificate *m_tls = nullptr; // --tls-cert; null for plain HTTP
    QList<QTcpServer *> m_servers;
    QHash<Reply *, Pending> m_pending;
    QHash<quint64, QList<Reply *>> m_pendingByConnection; // by Origin::connection
    // Fed by every thread; declared before m_workers, which use them.
    StatsSink m_stats;
    RequestEventFeed m_events{m_stats};
    RequestLog m_log;
    QElapsedTimer m_clock;
    bool m_stopping = false;
    QTimer *m_shutdownDeadline = nullptr;
    // What the serving threads show in the X-Ratelimit-* fields of hits.
    std::unique_ptr<class BudgetView> m_budgetView;
    // --threads: the serving threads, which hold every client connection.
    std::unique_ptr<ProxyWorkerPool> m_workers;
};

} // namespace prawmp
