#pragma once
#include "ServerAddress.h"

#include "prawmp/MultiprocessHandler.h"
#include "prawmp/SseParser.h"
#include "prawmp/StatsSnapshot.h"

#include <QFuture>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QStringList>

#include <functional>
#include <memory>

namespace prawmp::gui {

// The dashboard's link to one daemon, over core's daemon client
// (MultiprocessHandler): its DaemonEventStream reads /_mp/events and keeps
// it up (back-off, silence timeout); its evict(), clear() and stats() are
// the control requests. What this class adds is presentation: the window's
// connection states, failure kinds with the texts the window shows, the
// decoded stats frames and request events (batched per read), and one
// result signal for the control requests. The window observes it through
// signals; it owns the handler and its stream.
class DaemonConnection : public QObject
{
    Q_OBJECT
public:
    enum class State {
        Disconnected, // not asked to connect, closed, or given up (lastFailure() says why)
        Connecting,   // a request for the stream is on its way
        Connected,    // the stream is open and frames arrive
        Retrying,     // the last attempt failed; another one is scheduled
    };
    Q_ENUM(State)

    // Why an attempt failed or the stream ended.
    struct Failure
    {
        enum class Kind {
            None,
            Refused,      // nothing listens there
            HostNotFound,
            Unauthorized, // 407: missing or wrong token (not retried)
            Silent,       // no frame for the stale timeout
            Closed,       // the daemon ended the stream (restart, shutdown)
            Protocol,     // not an event stream, or another HTTP status
            Network,      // anything else the network layer reports
        };
        Kind kind = Kind::None;
        QString message;
    };

    // What a control request (evict, clear, stats) came back with.
    struct ControlResult
    {
        enum class Action { Evict, Clear, Stats };
        Action action = Action::Stats;
        bool ok = false;
        int count = 0;     // "evicted" / "cleared"
        QJsonObject json;  // the daemon's whole answer
        QString message;   // why it failed
    };

    explicit DaemonConnection(QObject *parent = nullptr);
    ~DaemonConnection() override;

    void setServer(const ServerAddress &server);
    ServerAddress server() const { return m_server; }

    // Connects now (again), forgetting any backoff. Keeps trying until
    // close(), unless the daemon refuses the subscription (a 4xx such as a
    // wrong token) or is not a daemon.
    void open();
    void close();

    State state() const { return m_state; }
    Failure lastFailure() const { return m_failure; }
    // Milliseconds until the next attempt while Retrying.
    int retryInMs() const;
    // Failed attempts since the last successful connection.
    int failedAttempts() const;

    bool hasStats() const { return m_hasStats; }
    const StatsSnapshot &lastStats() const { return m_lastStats; }
    QJsonObject lastStatsJson() const { return m_lastStatsJson; }
    quint64 statsFrames() const { return m_statsFrames; }
    quint64 requestEvents() const { return m_requestEvents; }
    int connectionsMade() const { return m_connectionsMade; }

    // Reconnection timing: the first retry after initialMs, doubling up to
    // maxMs; a stream silent for staleMs is considered dead.
    void setRetryDelays(int initialMs, int maxMs);
    void setStaleTimeoutMs(int ms);
    // A control request (evict, clear, stats) with no answer this long
    // fails (controlFinished with ok false: "... did not answer ... within
    // N seconds"). Default 10 s (MultiprocessHandler::setControlTimeout).
    void setControlTimeoutMs(int ms);

    void evict(const QStringList &urls);
    void clearCache();
    void fetchStats();

    static QString stateName(State state);

signals:
    void stateChanged(prawmp::gui::DaemonConnection::State state);
    // An attempt failed or the open stream ended (a retry follows unless
    // the state is Disconnected).
    void failed(const prawmp::gui::DaemonConnection::Failure &failure);
    void statsReceived(const prawmp::StatsSnapshot &stats);
    // Finished requests, in the order the daemon sent them, batched per read.
    void requestsReceived(const QList<prawmp::RequestRecord> &records);
    void controlFinished(const prawmp::gui::DaemonConnection::ControlResult &result);

private:
    MultiprocessHandler &handler();
    void configureHandler();
    void dropStream();
    void onStreamState(prawmp::DaemonEventStream::State state);
    void onGaveUp();
    void onEvent(const prawmp::SseParser::Event &event);
    void flushEvents();
    Failure describe(const prawmp::DaemonEventStream::Failure &failure) const;
    void setState(State state);
    template <typename T>
    void report(QFuture<T> future, ControlResult::Action action, std::function<void(ControlResult &, const T &)> fill);

    std::unique_ptr<MultiprocessHandler> m_handler; // made for m_server; replaced when it changes
    QPointer<DaemonEventStream> m_stream;

    ServerAddress m_server;
    State m_state = State::Disconnected;
    Failure m_failure;
    int m_initialRetryMs = 250;
    int m_maxRetryMs = 4000;
    int m_staleMs;
    int m_controlTimeoutMs = 10'000;

    // Events of one read, emitted together once the read is done.
    QList<RequestRecord> m_pendingRecords;
    QJsonObject m_pendingStats;
    bool m_flushQueued = false;

    StatsSnapshot m_lastStats;
    QJsonObject m_lastStatsJson;
    bool m_hasStats = false;
    quint64 m_statsFrames = 0;
    quint64 m_requestEvents = 0;
    int m_connectionsMade = 0;
};

} // namespace prawmp::gui

Q_DECLARE_METATYPE(prawmp::gui::DaemonConnection::Failure)
Q_DECLARE_METATYPE(prawmp::gui::DaemonConnection::ControlResult)
