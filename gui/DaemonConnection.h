#pragma once
#include "ServerAddress.h"

#include "prawmp/SseParser.h"
#include "prawmp/StatsSnapshot.h"

#include <QElapsedTimer>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QStringList>

class QNetworkAccessManager;
class QNetworkReply;
class QNetworkRequest;
class QTimer;

namespace prawmp::gui {

// The dashboard's link to one daemon: reads the /_mp/events stream (stats
// frames and finished requests), keeps it up (reconnects with a short
// backoff when the daemon restarts or the stream goes silent) and sends the
// control requests (evict, clear, stats). Never blocks the event loop. The
// window observes it through signals; it owns nothing but its network
// objects.
class DaemonConnection : public QObject
{
    Q_OBJECT
public:
    enum class State {
        Disconnected, // not asked to connect (or closed)
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
            Unauthorized, // 407: missing or wrong token
            Silent,       // no frame for staleTimeoutMs
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

    // Connects now (again), forgetting any backoff. Keeps trying until close().
    void open();
    void close();

    State state() const { return m_state; }
    Failure lastFailure() const { return m_failure; }
    // Milliseconds until the next attempt while Retrying.
    int retryInMs() const;
    // Failed attempts since the last successful connection.
    int failedAttempts() const { return m_failedAttempts; }

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

    void evict(const QStringList &urls);
    void clearCache();
    void fetchStats();

    static QString stateName(State state);

signals:
    void stateChanged(prawmp::gui::DaemonConnection::State state);
    // An attempt failed or the open stream ended (a retry follows unless closed).
    void failed(const prawmp::gui::DaemonConnection::Failure &failure);
    void statsReceived(const prawmp::StatsSnapshot &stats);
    // Finished requests, in the order the daemon sent them, batched per read.
    void requestsReceived(const QList<prawmp::RequestRecord> &records);
    void controlFinished(const prawmp::gui::DaemonConnection::ControlResult &result);

private:
    QNetworkRequest makeRequest(const QString &path) const;
    void startAttempt();
    void onMetaData();
    void onReadyRead();
    void onStreamFinished();
    void scheduleRetry();
    void setState(State state);
    void post(ControlResult::Action action, const QString &path, const QJsonObject &body);
    void onControlFinished(QNetworkReply *reply, ControlResult::Action action);

    QNetworkAccessManager *m_network = nullptr;
    QPointer<QNetworkReply> m_stream;
    QTimer *m_retryTimer = nullptr;
    QTimer *m_staleTimer = nullptr;
    SseParser m_parser;

    ServerAddress m_server;
    State m_state = State::Disconnected;
    Failure m_failure;
    bool m_abortedAsSilent = false;
    int m_failedAttempts = 0;
    int m_initialRetryMs = 250;
    int m_maxRetryMs = 4000;

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
