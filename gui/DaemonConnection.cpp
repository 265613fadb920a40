#include "DaemonConnection.h"

#include <QFutureWatcher>
#include <QJsonDocument>
#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcConnection, "prawmp.gui.connection", QtWarningMsg)

namespace prawmp::gui {

namespace {

// The daemon sends a stats frame every 500 ms: this many missed frames mean
// the stream is dead even if TCP has not noticed (a stopped process, a
// suspended laptop, a dropped route).
constexpr int kDefaultStaleMs = 5'000;

} // namespace

DaemonConnection::DaemonConnection(QObject *parent) : QObject(parent), m_staleMs(kDefaultStaleMs)
{
    qRegisterMetaType<Failure>();
    qRegisterMetaType<ControlResult>();
    qRegisterMetaType<StatsSnapshot>();
    qRegisterMetaType<QList<RequestRecord>>();
}

DaemonConnection::~DaemonConnection()
{
    m_state = State::Disconnected;
    dropStream();
}

void DaemonConnection::setServer(const ServerAddress &server)
{
    if (server == m_server)
        return;
    m_server = server;
    // Control requests of the previous server finish (Canceled) with its handler.
    dropStream();
    m_handler.reset();
}

MultiprocessHandler &DaemonConnection::handler()
{
    if (!m_handler) {
        // url() spells "localhost" as 127.0.0.1 (no lookup) and keeps IPv6 literals.
        m_handler = std::make_unique<MultiprocessHandler>(m_server.url(QStringLiteral("/")).host(), m_server.port);
        m_handler->setProxyToken(m_server.token);
        configureHandler();
    }
    return *m_handler;
}

void DaemonConnection::configureHandler()
{
    if (!m_handler)
        return;
    m_handler->setInitialRetryDelay(std::chrono::milliseconds(m_initialRetryMs));
    m_handler->setMaxRetryDelay(std::chrono::milliseconds(m_maxRetryMs));
    m_handler->setConnectTimeout(std::chrono::milliseconds(m_staleMs));
    m_handler->setControlTimeout(std::chrono::milliseconds(m_controlTimeoutMs));
    // A control request the user asked for fails at once when no daemon
    // listens; only the event stream keeps trying.
    m_handler->setMaxConnectAttempts(1);
    if (m_stream)
        m_stream->setSilenceTimeout(std::chrono::milliseconds(m_staleMs));
}

void DaemonConnection::open()
{
    dropStream();
    m_failure = {};
    DaemonEventStream *stream = handler().openEventStream(this);
    stream->setMaxAttempts(0); // the dashboard keeps trying until closed
    stream->setSilenceTimeout(std::chrono::milliseconds(m_staleMs));
    m_stream = stream;
    connect(stream, &DaemonEventStream::stateChanged, this, &DaemonConnection::onStreamState);
    connect(stream, &DaemonEventStream::eventReceived, this, &DaemonConnection::onEvent);
    connect(stream, &DaemonEventStream::failed, this, &DaemonConnection::onGaveUp);
    setState(State::Connecting);
}

void DaemonConnection::close()
{
    dropStream();
    m_failure = {};
    m_state = State::Disconnected;
    emit stateChanged(m_state);
}

void DaemonConnection::dropStream()
{
    if (!m_stream)
        return;
    DaemonEventStream *stream = m_stream;
    m_stream = nullptr;
    stream->disconnect(this);
    stream->close();
    stream->deleteLater();
}

int DaemonConnection::retryInMs() const
{
    return m_stream ? int(m_stream->retryIn().count()) : 0;
}

int DaemonConnection::failedAttempts() const
{
    return m_stream ? m_stream->failedAttempts() : 0;
}

void DaemonConnection::setRetryDelays(int initialMs, int maxMs)
{
    m_initialRetryMs = std::max(1, initialMs);
    m_maxRetryMs = std::max(m_initialRetryMs, maxMs);
    configureHandler();
}

void DaemonConnection::setStaleTimeoutMs(int ms)
{
    m_staleMs = std::max(100, ms);
    configureHandler();
}

void DaemonConnection::setControlTimeoutMs(int ms)
{
    m_controlTimeoutMs = std::max(1, ms);
    configureHandler();
}

QString DaemonConnection::stateName(State state)
{
    switch (state) {
    case State::Disconnected: return tr("Disconnected");
    case State::Connecting: return tr("Connecting");
    case State::Connected: return tr("Connected");
    case State::Retrying: return tr("Reconnecting");
    }
    return {};
}

void DaemonConnection::onStreamState(DaemonEventStream::State state)
{
    switch (state) {
    case DaemonEventStream::State::Connecting:
        setState(State::Connecting);
        break;
    case DaemonEventStream::State::Connected:
        m_failure = {};
        ++m_connectionsMade;
        setState(State::Connected);
        break;
    case DaemonEventStream::State::Retrying:
        // The stream has recorded why (an attempt failed or the open stream
        // ended): say it first, as the window expects, then the countdown.
        m_failure = describe(m_stream->lastFailure());
        qCInfo(lcConnection) << "stream ended:" << m_failure.message;
        emit failed(m_failure);
        if (m_stream) // a slot connected to failed() may have closed us
            setState(State::Retrying);
        break;
    case DaemonEventStream::State::Failed: // onGaveUp() reports it
    case DaemonEventStream::State::Closed: // we closed it
        break;
    }
}

void DaemonConnection::onGaveUp()
{
    if (!m_stream)
        return;
    m_failure = describe(m_stream->lastFailure());
    qCInfo(lcConnection) << "gave up:" << m_failure.message;
    dropStream();
    setState(State::Disconnected);
    emit failed(m_failure);
}

DaemonConnection::Failure DaemonConnection::describe(const DaemonEventStream::Failure &failure) const
{
    using Reason = DaemonEventStream::Failure::Reason;
    const QString where = m_server.displayName();
    switch (failure.reason) {
    case Reason::None:
        return {};
    case Reason::Refused:
        return {Failure::Kind::Refused, tr("Cannot connect to %1: connection refused. Is the daemon running?").arg(where)};
    case Reason::HostNotFound:
        return {Failure::Kind::HostNotFound, tr("Cannot connect to %1: host not found.").arg(where)};
    case Reason::Silent:
        return {Failure::Kind::Silent, tr("No data from the daemon at %1 for %2 s.").arg(where).arg(m_staleMs / 1000.0)};
    case Reason::Closed:
        return {Failure::Kind::Closed, tr("The daemon at %1 closed the connection.").arg(where)};
    case Reason::NotAnEventStream:
        return {Failure::Kind::Protocol,
                tr("%1 did not answer with an event stream: is it a praw-multiprocess daemon?").arg(where)};
    case Reason::HttpStatus:
        if (failure.httpStatus == 407)
            return {Failure::Kind::Unauthorized,
                    m_server.token.isEmpty()
                        ? tr("The daemon at %1 requires a token (407). Enter it in Connect to server.").arg(where)
                        : tr("The daemon at %1 refused the token (407).").arg(where)};
        return {Failure::Kind::Protocol,
                tr("The daemon at %1 answered HTTP %2%3")
                    .arg(where)
                    .arg(failure.httpStatus)
                    .arg(failure.message.isEmpty() ? QString(QLatin1Char('.')) : QStringLiteral(": ") + failure.message)};
    case Reason::Timeout:
    case Reason::Network:
        break;
    }
    return {Failure::Kind::Network, tr("Cannot connect to %1: %2").arg(where, failure.message)};
}

void DaemonConnection::onEvent(const SseParser::Event &event)
{
    const QJsonObject json = QJsonDocument::fromJson(event.data).object();
    if (json.isEmpty())
        return;
    if (event.name == "request") {
        m_pendingRecords.append(requestRecordFromJson(json));
    } else if (event.name == "stats") {
        // Frames that queued up behind a stall are superseded by the newest.
        m_pendingStats = json;
        ++m_statsFrames;
    } else {
        return;
    }
    // The stream hands over a read's events one by one, in one go: the
    // window gets them together once the read is done.
    if (!m_flushQueued) {
        m_flushQueued = true;
        QMetaObject::invokeMethod(this, &DaemonConnection::flushEvents, Qt::QueuedConnection);
    }
}

void DaemonConnection::flushEvents()
{
    m_flushQueued = false;
    if (!m_pendingRecords.isEmpty()) {
        const QList<RequestRecord> records = std::exchange(m_pendingRecords, {});
        m_requestEvents += quint64(records.size());
        emit requestsReceived(records);
    }
    if (!m_pendingStats.isEmpty()) {
        m_lastStatsJson = std::exchange(m_pendingStats, {});
        m_lastStats = StatsSnapshot::fromJson(m_lastStatsJson);
        m_hasStats = true;
        emit statsReceived(m_lastStats);
    }
}

void DaemonConnection::setState(State state)
{
    const bool changed = m_state != state;
    m_state = state;
    // Retrying is re-announced so the countdown in the status bar restarts.
    if (changed || state == State::Retrying)
        emit stateChanged(state);
}

template <typename T>
void DaemonConnection::report(QFuture<T> future, ControlResult::Action action,
                              std::function<void(ControlResult &, const T &)> fill)
{
    auto *watcher = new QFutureWatcher<T>(this);
    connect(watcher, &QFutureWatcher<T>::finished, this, [this, watcher, action, fill] {
        watcher->deleteLater();
        ControlResult result;
        result.action = action;
        try {
            fill(result, watcher->future().result());
            result.ok = true;
        } catch (const ClientException &e) {
            result.message = e.httpStatus() == 407 ? tr("the daemon requires a valid token (407)") : e.error().message;
        }
        emit controlFinished(result);
    });
    watcher->setFuture(future);
}

void DaemonConnection::evict(const QStringList &urls)
{
    report<int>(handler().evict(urls), ControlResult::Action::Evict, [](ControlResult &result, const int &evicted) {
        result.count = evicted;
        result.json = {{QStringLiteral("evicted"), evicted}};
    });
}

void DaemonConnection::clearCache()
{
    report<int>(handler().clear(), ControlResult::Action::Clear, [](ControlResult &result, const int &cleared) {
        result.count = cleared;
        result.json = {{QStringLiteral("cleared"), cleared}};
    });
}

void DaemonConnection::fetchStats()
{
    report<QJsonObject>(handler().stats(), ControlResult::Action::Stats,
                        [](ControlResult &result, const QJsonObject &json) { result.json = json; });
}

} // namespace prawmp::gui
