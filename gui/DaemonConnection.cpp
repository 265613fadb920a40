#include "DaemonConnection.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTimer>

Q_LOGGING_CATEGORY(lcConnection, "prawmp.gui.connection", QtWarningMsg)

namespace prawmp::gui {

namespace {

// Control requests are small and local; a daemon that takes longer is stuck.
constexpr int kControlTimeoutMs = 10'000;
// The daemon sends a stats frame every 500 ms: this many missed frames mean
// the stream is dead even if TCP has not noticed (a stopped process, a
// suspended laptop, a dropped route).
constexpr int kDefaultStaleMs = 5'000;
// How much of a non-event-stream answer is kept for the error message.
constexpr qsizetype kMaxErrorBody = 4096;

QString messageFromBody(const QByteArray &body)
{
    const QJsonObject json = QJsonDocument::fromJson(body).object();
    return json.value(QStringLiteral("message")).toString();
}

} // namespace

DaemonConnection::DaemonConnection(QObject *parent) : QObject(parent)
{
    qRegisterMetaType<Failure>();
    qRegisterMetaType<ControlResult>();
    qRegisterMetaType<StatsSnapshot>();
    qRegisterMetaType<QList<RequestRecord>>();

    m_network = new QNetworkAccessManager(this);
    // The daemon is reached directly, whatever http_proxy says.
    m_network->setProxy(QNetworkProxy::NoProxy);

    m_retryTimer = new QTimer(this);
    m_retryTimer->setSingleShot(true);
    connect(m_retryTimer, &QTimer::timeout, this, &DaemonConnection::startAttempt);

    m_staleTimer = new QTimer(this);
    m_staleTimer->setSingleShot(true);
    m_staleTimer->setInterval(kDefaultStaleMs);
    connect(m_staleTimer, &QTimer::timeout, this, [this] {
        if (!m_stream)
            return;
        qCInfo(lcConnection) << "no frame for" << m_staleTimer->interval() << "ms, reconnecting";
        m_abortedAsSilent = true;
        m_stream->abort();
    });
}

DaemonConnection::~DaemonConnection()
{
    m_state = State::Disconnected;
    if (m_stream) {
        m_stream->disconnect(this);
        m_stream->abort();
    }
}

void DaemonConnection::setServer(const ServerAddress &server)
{
    m_server = server;
}

void DaemonConnection::open()
{
    m_failedAttempts = 0;
    startAttempt();
}

void DaemonConnection::close()
{
    m_retryTimer->stop();
    m_staleTimer->stop();
    m_state = State::Disconnected; // before abort(): its finished() must not schedule a retry
    if (m_stream) {
        QNetworkReply *stream = m_stream;
        m_stream = nullptr;
        stream->disconnect(this);
        stream->abort();
        stream->deleteLater();
    }
    emit stateChanged(m_state);
}

int DaemonConnection::retryInMs() const
{
    return m_retryTimer->isActive() ? m_retryTimer->remainingTime() : 0;
}

void DaemonConnection::setRetryDelays(int initialMs, int maxMs)
{
    m_initialRetryMs = std::max(1, initialMs);
    m_maxRetryMs = std::max(m_initialRetryMs, maxMs);
}

void DaemonConnection::setStaleTimeoutMs(int ms)
{
    m_staleTimer->setInterval(std::max(100, ms));
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

QNetworkRequest DaemonConnection::makeRequest(const QString &path) const
{
    QNetworkRequest request(m_server.url(path));
    request.setHeader(QNetworkRequest::UserAgentHeader,
                      QByteArrayLiteral("praw-multiprocess-gui/" PRAWMP_VERSION));
    if (!m_server.token.isEmpty())
        request.setRawHeader("Proxy-Authorization", "Bearer " + m_server.token.toUtf8());
    request.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysNetwork);
    request.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    return request;
}

void DaemonConnection::startAttempt()
{
    m_retryTimer->stop();
    if (m_stream) {
        QNetworkReply *old = m_stream;
        m_stream = nullptr;
        old->disconnect(this);
        old->abort();
        old->deleteLater();
    }
    m_parser = SseParser();
    m_abortedAsSilent = false;
    setState(State::Connecting);

    QNetworkRequest request = makeRequest(QStringLiteral("/_mp/events"));
    request.setRawHeader("Accept", "text/event-stream");
    request.setRawHeader("Cache-Control", "no-cache");
    request.setTransferTimeout(0); // the stream is meant to last; the stale timer watches it
    QNetworkReply *reply = m_network->get(request);
    reply->setReadBufferSize(0);
    m_stream = reply;
    connect(reply, &QNetworkReply::metaDataChanged, this, &DaemonConnection::onMetaData);
    connect(reply, &QNetworkReply::readyRead, this, &DaemonConnection::onReadyRead);
    connect(reply, &QNetworkReply::finished, this, &DaemonConnection::onStreamFinished);
    m_staleTimer->start(); // also bounds the connection attempt itself
}

void DaemonConnection::onMetaData()
{
    if (!m_stream || m_state == State::Connected)
        return;
    const int status = m_stream->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    const QByteArray type = m_stream->header(QNetworkRequest::ContentTypeHeader).toByteArray();
    if (status == 200 && type.startsWith("text/event-stream")) {
        m_failedAttempts = 0;
        m_failure = {};
        ++m_connectionsMade;
        setState(State::Connected);
    }
}

void DaemonConnection::onReadyRead()
{
    if (!m_stream)
        return;
    if (m_state != State::Connected) {
        // An error answer: keep its start for the message, drop the rest.
        const QByteArray bytes = m_stream->readAll();
        const QByteArray kept = m_stream->property("errorBody").toByteArray();
        if (kept.size() < kMaxErrorBody)
            m_stream->setProperty("errorBody", QByteArray(kept + bytes).left(kMaxErrorBody));
        return;
    }
    m_staleTimer->start();
    const QList<SseParser::Event> events = m_parser.feed(m_stream->readAll());
    if (m_parser.overflowed()) {
        qCWarning(lcConnection) << "event stream overflowed its buffer, reconnecting";
        m_stream->abort();
        return;
    }
    QList<RequestRecord> records;
    QJsonObject statsJson;
    bool gotStats = false;
    for (const SseParser::Event &event : events) {
        if (event.name == "request") {
            const QJsonObject json = QJsonDocument::fromJson(event.data).object();
            if (!json.isEmpty())
                records.append(requestRecordFromJson(json));
        } else if (event.name == "stats") {
            const QJsonObject json = QJsonDocument::fromJson(event.data).object();
            if (!json.isEmpty()) {
                // Frames that queued up behind a stall are superseded by the newest.
                statsJson = json;
                gotStats = true;
                ++m_statsFrames;
            }
        }
    }
    if (!records.isEmpty()) {
        m_requestEvents += quint64(records.size());
        emit requestsReceived(records);
    }
    if (gotStats) {
        m_lastStatsJson = statsJson;
        m_lastStats = StatsSnapshot::fromJson(statsJson);
        m_hasStats = true;
        emit statsReceived(m_lastStats);
    }
}

void DaemonConnection::onStreamFinished()
{
    auto *reply = qobject_cast<QNetworkReply *>(sender());
    if (!reply)
        return;
    reply->deleteLater();
    if (reply != m_stream)
        return;
    m_stream = nullptr;
    m_staleTimer->stop();
    if (m_state == State::Disconnected)
        return;

    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    const QNetworkReply::NetworkError error = reply->error();
    const QString where = m_server.displayName();
    Failure f;
    if (m_abortedAsSilent) {
        f = {Failure::Kind::Silent, tr("No data from the daemon at %1 for %2 s.")
                                        .arg(where).arg(m_staleTimer->interval() / 1000.0)};
    } else if (status == 407 || error == QNetworkReply::ProxyAuthenticationRequiredError) {
        f = {Failure::Kind::Unauthorized,
             m_server.token.isEmpty()
                 ? tr("The daemon at %1 requires a token (407). Enter it in Connect to server.").arg(where)
                 : tr("The daemon at %1 refused the token (407).").arg(where)};
    } else if (error == QNetworkReply::ConnectionRefusedError) {
        f = {Failure::Kind::Refused, tr("Cannot connect to %1: connection refused. Is the daemon running?").arg(where)};
    } else if (error == QNetworkReply::HostNotFoundError) {
        f = {Failure::Kind::HostNotFound, tr("Cannot connect to %1: host not found.").arg(where)};
    } else if (m_state == State::Connected
               && (error == QNetworkReply::NoError || error == QNetworkReply::RemoteHostClosedError)) {
        f = {Failure::Kind::Closed, tr("The daemon at %1 closed the connection.").arg(where)};
    } else if (status != 0 && status != 200) {
        const QString message = messageFromBody(reply->property("errorBody").toByteArray());
        f = {Failure::Kind::Protocol, tr("The daemon at %1 answered HTTP %2%3")
                                          .arg(where).arg(status)
                                          .arg(message.isEmpty() ? QString(QLatin1Char('.')) : QStringLiteral(": ") + message)};
    } else if (status == 200 && m_state != State::Connected) {
        f = {Failure::Kind::Protocol, tr("%1 did not answer with an event stream: is it a praw-multiprocess daemon?").arg(where)};
    } else {
        f = {Failure::Kind::Network, tr("Cannot connect to %1: %2").arg(where, reply->errorString())};
    }
    m_failure = f;
    qCInfo(lcConnection) << "stream ended:" << f.message;
    emit failed(f);
    if (m_state != State::Disconnected) // a slot connected to failed() may have closed us
        scheduleRetry();
}

void DaemonConnection::scheduleRetry()
{
    // A stream that was up retries at once-ish (the daemon is restarting);
    // repeated failures back off so a stopped daemon is not hammered.
    const int shift = std::min(m_failedAttempts, 16);
    const qint64 delay = std::min<qint64>(qint64(m_initialRetryMs) << shift, m_maxRetryMs);
    ++m_failedAttempts;
    m_retryTimer->start(int(delay));
    setState(State::Retrying);
}

void DaemonConnection::setState(State state)
{
    const bool changed = m_state != state;
    m_state = state;
    // Retrying is re-announced so the countdown in the status bar restarts.
    if (changed || state == State::Retrying)
        emit stateChanged(state);
}

void DaemonConnection::evict(const QStringList &urls)
{
    QJsonArray array;
    for (const QString &url : urls)
        array.append(url);
    post(ControlResult::Action::Evict, QStringLiteral("/_mp/evict"), {{QStringLiteral("urls"), array}});
}

void DaemonConnection::clearCache()
{
    post(ControlResult::Action::Clear, QStringLiteral("/_mp/clear"), {});
}

void DaemonConnection::fetchStats()
{
    QNetworkRequest request = makeRequest(QStringLiteral("/_mp/stats"));
    request.setTransferTimeout(kControlTimeoutMs);
    QNetworkReply *reply = m_network->get(request);
    connect(reply, &QNetworkReply::finished, this,
            [this, reply] { onControlFinished(reply, ControlResult::Action::Stats); });
}

void DaemonConnection::post(ControlResult::Action action, const QString &path, const QJsonObject &body)
{
    QNetworkRequest request = makeRequest(path);
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    request.setTransferTimeout(kControlTimeoutMs);
    QNetworkReply *reply = m_network->post(request, QJsonDocument(body).toJson(QJsonDocument::Compact));
    connect(reply, &QNetworkReply::finished, this, [this, reply, action] { onControlFinished(reply, action); });
}

void DaemonConnection::onControlFinished(QNetworkReply *reply, ControlResult::Action action)
{
    reply->deleteLater();
    ControlResult result;
    result.action = action;
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    const QByteArray body = reply->readAll();
    result.json = QJsonDocument::fromJson(body).object();
    if (status == 200 && !result.json.isEmpty()) {
        result.ok = true;
        if (action == ControlResult::Action::Evict)
            result.count = result.json.value(QStringLiteral("evicted")).toInt();
        else if (action == ControlResult::Action::Clear)
            result.count = result.json.value(QStringLiteral("cleared")).toInt();
    } else if (status == 407 || reply->error() == QNetworkReply::ProxyAuthenticationRequiredError) {
        result.message = tr("the daemon requires a valid token (407)");
    } else if (status != 0) {
        const QString message = result.json.value(QStringLiteral("message")).toString();
        result.message = message.isEmpty() ? tr("HTTP %1").arg(status) : message;
    } else {
        result.message = reply->errorString();
    }
    emit controlFinished(result);
}

} // namespace prawmp::gui
