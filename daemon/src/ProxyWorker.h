#pragma once
#include "ConnectionHost.h"
#include "DaemonOptions.h"
#include "TlsStream.h"

#include "prawmp/RateLimiter.h"
#include "prawmp/Response.h"

#include <QElapsedTimer>
#include <QObject>
#include <QTcpServer>

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

class QTimer;

namespace prawmp {

class AppIdentities;
class BudgetView;
class ProxyWorker;
class RequestEventFeed;
class RequestLog;
class ResponseCache;
class StatsSink;
struct WorkerConfig;

// What the serving threads share with the main thread: all thread-safe.
struct ServingContext
{
    ResponseCache &cache;
    const BudgetView &budget;  // the X-Ratelimit-* fields of hits
    const AppIdentities &identities;
    StatsSink &stats;          // every hit counted, before it is written
    RequestEventFeed &events;  // /_mp/events subscribers see every hit (sampled past a rate)
    RequestLog &log;           // --log-requests lines, written by the log thread
};

// Sets X-Ratelimit-Remaining/-Used/-Reset from the limiter's view of the
// answer's domain (our view of the shared budget, not the one frozen into a
// cached answer). Leaves the answer alone while the budget is unknown.
void applyBudgetHeaders(Response &response, const DomainState &state);

// The daemon's serving threads (--threads N, default: one per core).
//
// Each worker runs its own event loop (EventPoller) over the client connections it was
// given and answers, by itself, the requests the cache already holds: a
// keep-alive GET whose answer is cached, routed and keyed exactly as the
// main path would. Those need neither the main event loop nor a QTcpSocket,
// so cache hits scale with the cores and an idle connection costs a file
// descriptor and a few hundred bytes.
//
// Any other request -- a miss, a POST, a control request, a wrong token, an
// unknown route -- is passed on, whole, to the ConnectionHost (ProxyServer),
// which answers it on the main thread as it answers its own connections'
// requests. The worker writes that answer, and the connection stays here.
// Pipelined requests are passed on together and answered in order (a hit
// behind a miss waits for it); at most 64 answers are owed before the
// worker stops reading (HttpLimits::maxPipelinedRequests). A request that
// takes several reads (a slow sender, a long body, Expect: 100-continue) is
// read on in a parser of its connection's own, with the header and body
// timeouts and 408s of the contract. The /_mp/events stream comes
// back as a ServingThreadStream that this thread writes. So a connection
// never moves.
//
// A malformed request is refused here, with the status and JSON error of
// the contract.
//
// Watching does not change the path: each hit is counted in the stats sink
// before it is written, and becomes a request event (RequestEventFeed) and
// a --log-requests line (RequestLog) that other threads send and write.
//
// Owned by ProxyServer, in the main thread.
class ProxyWorkerPool : public QObject
{
    Q_OBJECT
public:
    ProxyWorkerPool(ConnectionHost &host, const ServingContext &context, const DaemonOptions &options);
    ~ProxyWorkerPool() override;

    int threadCount() const { return int(m_workers.size()); }
    // "epoll" or "poll" (EventPoller; PRAWMP_IO_BACKEND chooses).
    QString ioBackend() const;
    // A listening socket whose connections go to the workers. Over
    // --max-clients, or while stopping, a worker answers the 503 of the
    // contract and closes.
    QTcpServer *createListener(QObject *parent);
    // Connections the workers hold right now.
    int connectionCount() const { return m_held.load(std::memory_order_relaxed); }

    // --tls-cert: the workers speak HTTPS with this context (SIGHUP: a
    // renewed certificate; new connections get it).
    void setTlsContext(const TlsStream::Context &context);
    // SIGHUP: routes, token, limits and --log-requests as reloaded.
    void applyOptions(const DaemonOptions &options);
    // Stop serving: idle connections are closed, new ones go to ProxyServer.
    void shutdown();

private:
    friend class ProxyWorker;
    void dispatch(int descriptor);
    // A connection a worker closed: held, or `refused` (it got the 503).
    void release(bool refused);
    void serveRequest(ProxyWorker *worker, quint64 connection, const QString &peer,
                      const IncomingRequest &request);
    void publishConfig();
    ConnectionHost &m_host;
    ServingContext m_context;
    DaemonOptions m_options;
    // What the workers read: replaced as a whole, picked up by generation.
    std::mutex m_configMutex;
    std::shared_ptr<const WorkerConfig> m_config;
    std::atomic<quint64> m_configGeneration{0};
    bool m_stopping = false;
    TlsStream::Context m_tls;
    std::vector<std::unique_ptr<ProxyWorker>> m_workers;
    std::atomic<int> m_held{0};
    // Connections now getting their 503 (each holds a descriptor while its
    // answer drains and lingers), how many of them may, and those closed at
    // once past that.
    std::atomic<int> m_refusing{0};
    const int m_refusingCap;
    quint64 m_closedAtAccept = 0;
    QElapsedTimer m_closedAtAcceptWarned;
    size_t m_next = 0;
};

} // namespace prawmp
