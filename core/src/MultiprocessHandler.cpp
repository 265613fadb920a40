#include "prawmp/MultiprocessHandler.h"

#include "prawmp/JsonResponses.h"
#include "prawmp/Reply.h"

#include "DaemonEventStreamPrivate.h"
#include "HttpWire.h"
#include "ReplyPrivate.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QNetworkProxy>
#include <QPointer>
#include <QPromise>
#include <QRegularExpression>
#include <QTcpSocket>
#include <QTimer>

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace prawmp {

namespace {

// Debug lines (stale connections, connect errors) only on request:
// QT_LOGGING_RULES="prawmp.client.debug=true".
Q_LOGGING_CATEGORY(lcClient, "prawmp.client", QtInfoMsg)

using std::chrono::milliseconds;

// The head of an answer from the daemon may not take more than this.
constexpr qsizetype kMaxHeadBytes = 1024 * 1024;

QString secondsText(milliseconds delay)
{
    // "2", "64", "0.25": whole seconds as the original printed them,
    // fractions for the short delays tests use.
    return QString::number(double(delay.count()) / 1000.0, 'g', 6);
}

CacheStatus cacheStatusFromHeader(const QByteArray &value)
{
    const QByteArray v = value.trimmed().toUpper();
    if (v == "HIT")
        return CacheStatus::Hit;
    if (v == "BYPASS")
        return CacheStatus::Bypass;
    if (v == "COALESCED")
        return CacheStatus::Coalesced;
    return CacheStatus::Miss;
}

// The daemon's own answer for a request that got no upstream response
// ({"error": "<code>"} with 502/503/504/403): the Error DefaultHandler
// would have reported. Kind::None for anything else.
Error daemonError(const Response &response)
{
    const int status = response.status;
    if (status != 403 && status != 502 && status != 503 && status != 504)
        return {};
    if (!response.headers.value("content-type").contains("json"))
        return {};
    const QJsonObject object = QJsonDocument::fromJson(response.body).object();
    const QJsonValue code = object.value(QLatin1String("error"));
    if (!code.isString())
        return {};
    static const QList<Error::Kind> kinds = {Error::Kind::ConnectionFailed, Error::Kind::BadResponse,
                                              Error::Kind::Timeout, Error::Kind::QueueTimeout,
                                              Error::Kind::NotAllowed};
    for (Error::Kind kind : kinds) {
        Error error{kind, {}};
        if (error.code() != code.toString() || error.httpStatus() != status)
            continue;
        error.message = object.value(QLatin1String("message")).toString();
        if (kind == Error::Kind::QueueTimeout)
            error.retryAfterSeconds = response.headers.value("retry-after").trimmed().toDouble();
        return error;
    }
    return {};
}

using StreamFailure = DaemonEventStream::Failure;

// Why a connect to the daemon failed, as an event stream reports it.
StreamFailure connectFailure(QAbstractSocket::SocketError error, const QString &reason)
{
    switch (error) {
    case QAbstractSocket::ConnectionRefusedError:
        return {StreamFailure::Reason::Refused, 0, reason};
    case QAbstractSocket::HostNotFoundError:
        return {StreamFailure::Reason::HostNotFound, 0, reason};
    case QAbstractSocket::SocketTimeoutError:
        return {StreamFailure::Reason::Timeout, 0, reason};
    default:
        return {StreamFailure::Reason::Network, 0, reason};
    }
}

// What the daemon said in an error answer: its JSON "message", else the reason phrase.
QString answerMessage(const Response &response)
{
    const QString message = QJsonDocument::fromJson(response.body).object().value(QLatin1String("message")).toString();
    if (!message.isEmpty())
        return message;
    return response.reason.isEmpty() ? QString::fromUtf8(response.body.left(200)) : QString::fromUtf8(response.reason);
}

} // namespace

// ---------------------------------------------------------------------------

ClientException::ClientException(const Error &error, int httpStatus)
    : m_error(error), m_httpStatus(httpStatus), m_what(error.message.toUtf8())
{
}

// ---------------------------------------------------------------------------

namespace {

// One request on its way to the daemon, from request() until its answer
// is delivered. Moves between the handler's queue and a connection.
struct Exchange
{
    quint64 id = 0;
    QByteArray method;
    QString url;          // for messages
    QByteArray wire;      // the serialized request
    bool unsafe = false;  // a write: never resent once it may have arrived
    bool headRequest = false;
    int failures = 0;     // consecutive failures on established connections

    std::function<void(const Response &)> onResponse;
    std::function<void(const Error &)> onError;

    // Event streams.
    bool isStream = false;
    QPointer<DaemonEventStream> stream; // null once the caller deleted it
    SseParser sse;
    bool streamOpen = false;
};

// One TCP connection to the daemon. Deleted with deleteLater(); the
// socket is its child.
class Connection : public QObject
{
public:
    using QObject::QObject;

    QTcpSocket *socket = nullptr;
    QTimer connectTimer;
    QTimer silenceTimer;                // event streams: DaemonEventStream::silenceTimeout()
    std::unique_ptr<Exchange> exchange; // the request it carries, if any
    wire::ResponseParser reader{kMaxHeadBytes};
    int served = 0;                     // answers completed on it
    bool established = false;
    bool dead = false;
    bool stream = false;                // carries an event stream: never pooled
};

} // namespace

class MultiprocessHandler::Private : public QObject
{
public:
    Private(const QString &daemonHost, quint16 daemonPort) : host(daemonHost), port(daemonPort)
    {
        retryTimer.setSingleShot(true);
        connect(&retryTimer, &QTimer::timeout, this, &Private::dispatch);
    }

    ~Private() override
    {
        destroying = true;
        const Error canceled{Error::Kind::Canceled, QStringLiteral("The handler was destroyed")};
        std::deque<std::unique_ptr<Exchange>> pending;
        pending.swap(queue);
        for (Connection *c : std::as_const(connections)) {
            disconnect(c->socket, nullptr, c, nullptr);
            if (c->exchange)
                pending.push_back(std::move(c->exchange));
            c->socket->abort();
            delete c;
        }
        connections.clear();
        for (auto &[id, ex] : parkedStreams)
            pending.push_back(std::move(ex));
        parkedStreams.clear();
        for (auto &ex : pending)
            deliverError(std::move(ex), canceled);
    }

    QString address() const { return QStringLiteral("%1:%2").arg(host).arg(port); }

    std::unique_ptr<Exchange> makeExchange(const Request &request) const;
    void enqueue(std::unique_ptr<Exchange> ex);
    void dispatch();
    void cancel(quint64 id);

    Connection *openConnection(std::unique_ptr<Exchange> ex, bool stream);
    void send(Connection *c);
    void onConnected(Connection *c);
    void onReadyRead(Connection *c);
    void onClosed(Connection *c, const QString &reason, bool connecting, QAbstractSocket::SocketError error);
    void complete(Connection *c);
    void removeConnection(Connection *c);
    int requestConnections() const;

    void connectFailed(std::unique_ptr<Exchange> ex, const QString &reason);
    void connectionLost(std::unique_ptr<Exchange> ex, bool stale, const QString &reason);
    void deliverError(std::unique_ptr<Exchange> ex, const Error &error);
    void streamBody(Connection *c, Exchange *e, const QByteArray &bytes);

    // Event streams: an attempt failed or an open stream ended; waits
    // (parked) for the next attempt, or gives up.
    void streamEnded(std::unique_ptr<Exchange> ex, const DaemonEventStream::Failure &failure);
    void parkStream(std::unique_ptr<Exchange> ex, milliseconds delay);
    void resumeStream(quint64 id);
    void onStreamSilent(Connection *c);

    // A control call (/_mp/evict, /_mp/clear, /_mp/stats): `read` takes what
    // the caller wants from a 200 JSON answer (nothing when it is missing);
    // any other outcome fails the future with ClientException.
    template <typename T>
    QFuture<T> control(const QByteArray &method, const QByteArray &path, const QByteArray &body,
                       std::function<std::optional<T>(const QJsonObject &)> read);

    // Settings.
    QString host;
    quint16 port = 0;
    QString token;
    milliseconds initialDelay{2000};
    milliseconds maxDelay{64000};
    milliseconds connectTimeout{10000};
    milliseconds controlTimeout{10000};
    int maxConnectAttempts = 0;
    int maxAttempts = 3;
    int maxConnections = 8;
    bool retryUnsafe = false;

    // State.
    std::deque<std::unique_ptr<Exchange>> queue; // by id: requeued ones keep their place
    std::map<quint64, std::unique_ptr<Exchange>> parkedStreams; // event streams waiting to retry
    QList<Connection *> connections;
    QTimer retryTimer;
    milliseconds nextDelay{2000};
    int connectFailures = 0;                     // failed connect rounds in a row
    quint64 nextId = 1;
    bool destroying = false;
};

std::unique_ptr<Exchange> MultiprocessHandler::Private::makeExchange(const Request &request) const
{
    auto ex = std::make_unique<Exchange>();
    ex->id = 0;
    ex->method = request.method.trimmed().toUpper();
    if (ex->method.isEmpty())
        ex->method = "GET";
    ex->unsafe = request.isWriteMethod() || !(ex->method == "GET" || ex->method == "HEAD"
                                                || ex->method == "OPTIONS" || ex->method == "PURGE");
    ex->headRequest = ex->method == "HEAD";

    // Absolute URLs in absolute-form (forwarded to that host when allowed),
    // relative ones in origin-form (routed by the daemon).
    const QUrl url = request.url.adjusted(QUrl::RemoveFragment);
    const bool absolute = !url.isRelative() && !url.host().isEmpty();
    QByteArray target;
    QByteArray hostField;
    if (absolute) {
        target = url.adjusted(QUrl::RemoveUserInfo).toEncoded();
        hostField = url.adjusted(QUrl::RemoveUserInfo).authority(QUrl::FullyEncoded).toUtf8();
    } else {
        target = url.toEncoded(QUrl::RemoveScheme | QUrl::RemoveAuthority);
        if (!target.startsWith('/'))
            target.prepend('/');
        hostField = (host.contains(u':') ? u'[' + host + u']' : host).toUtf8() + ':' + QByteArray::number(port);
    }
    ex->url = QString::fromUtf8(target);

    HttpHeaders headers = request.headers;
    if (request.maxWaitSeconds >= 0)
        headers.set("X-Mp-Max-Wait", QByteArray::number(request.maxWaitSeconds, 'g', 6));
    HttpHeaders ours;
    if (!token.isEmpty())
        ours.add("Proxy-Authorization", "Bearer " + token.toUtf8());
    ex->wire = wire::serializeRequest(ex->method, target, hostField, headers, request.body, ours);
    return ex;
}

void MultiprocessHandler::Private::enqueue(std::unique_ptr<Exchange> ex)
{
    if (ex->id == 0)
        ex->id = nextId++;
    if (ex->isStream) {
        if (!ex->stream || ex->stream->isClosed())
            return; // nobody listens any more
        DaemonEventStreamPrivate::get(ex->stream)->setState(DaemonEventStream::State::Connecting);
    }
    const auto pos = std::upper_bound(queue.begin(), queue.end(), ex->id,
                                      [](quint64 id, const std::unique_ptr<Exchange> &e) { return id < e->id; });
    queue.insert(pos, std::move(ex));
    dispatch();
}

int MultiprocessHandler::Private::requestConnections() const
{
    return int(std::count_if(connections.begin(), connections.end(), [](Connection *c) { return !c->stream; }));
}

void MultiprocessHandler::Private::dispatch()
{
    // In id order; once every request connection is busy, or while requests
    // back off, only event streams (which have connections and a back-off
    // of their own) may still go.
    bool full = false;
    for (std::size_t i = 0; i < queue.size();) {
        Exchange &next = *queue[i];
        const bool stream = next.isStream;
        if ((full || retryTimer.isActive()) && !stream) {
            ++i;
            continue;
        }
        const bool fresh = stream || (next.unsafe && !retryUnsafe);
        Connection *idle = nullptr;
        // The most recently used idle connection: the least likely to be stale.
        for (auto it = connections.rbegin(); it != connections.rend(); ++it) {
            Connection *c = *it;
            if (!c->stream && c->established && !c->exchange && !c->dead
                && c->socket->state() == QAbstractSocket::ConnectedState) {
                idle = c;
                break;
            }
        }
        if (idle && !fresh) {
            // Back to the end: the list stays ordered by last use.
            connections.removeOne(idle);
            connections.append(idle);
            idle->exchange = std::move(queue[i]);
            queue.erase(queue.begin() + qsizetype(i));
            send(idle);
            continue;
        }
        if (!stream && requestConnections() >= maxConnections) {
            if (!idle) {
                full = true; // wait for a connection to come free
                ++i;
                continue;
            }
            removeConnection(idle); // make room for the fresh one a write needs
        }
        std::unique_ptr<Exchange> ex = std::move(queue[i]);
        queue.erase(queue.begin() + qsizetype(i));
        openConnection(std::move(ex), stream);
    }
}

Connection *MultiprocessHandler::Private::openConnection(std::unique_ptr<Exchange> ex, bool stream)
{
    auto *c = new Connection(this);
    c->stream = stream;
    c->exchange = std::move(ex);
    c->socket = new QTcpSocket(c);
    // The daemon is the proxy: an application-wide proxy meant for the
    // app's other traffic must not sit in between.
    c->socket->setProxy(QNetworkProxy::NoProxy);
    connections.append(c);
    QTcpSocket *socket = c->socket;
    connect(socket, &QTcpSocket::connected, c, [this, c] { onConnected(c); });
    connect(socket, &QTcpSocket::readyRead, c, [this, c] { onReadyRead(c); });
    connect(socket, &QTcpSocket::disconnected, c, [this, c] {
        onClosed(c, QStringLiteral("the server closed the connection"), false, QAbstractSocket::RemoteHostClosedError);
    });
    connect(socket, &QTcpSocket::errorOccurred, c, [this, c](QAbstractSocket::SocketError error) {
        onClosed(c, c->socket->errorString(), !c->established, error);
    });
    c->connectTimer.setSingleShot(true);
    connect(&c->connectTimer, &QTimer::timeout, c, [this, c] {
        onClosed(c, QStringLiteral("connection timed out"), true, QAbstractSocket::SocketTimeoutError);
    });
    c->silenceTimer.setSingleShot(true);
    connect(&c->silenceTimer, &QTimer::timeout, c, [this, c] { onStreamSilent(c); });
    c->connectTimer.start(connectTimeout);
    socket->connectToHost(host, port);
    return c;
}

void MultiprocessHandler::Private::onConnected(Connection *c)
{
    if (c->dead)
        return;
    c->connectTimer.stop();
    c->established = true;
    c->socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    // The daemon is back: the next outage starts the back-off afresh.
    connectFailures = 0;
    nextDelay = initialDelay;
    if (retryTimer.isActive())
        retryTimer.stop();
    if (c->exchange)
        send(c);
    dispatch();
}

void MultiprocessHandler::Private::send(Connection *c)
{
    Exchange &ex = *c->exchange;
    c->reader.reset(ex.headRequest);
    if (ex.isStream) {
        Exchange *e = &ex;
        c->reader.onHead = [this, c, e] {
            const Response &head = c->reader.response();
            if (head.status != 200 || !head.headers.value("content-type").trimmed().startsWith("text/event-stream"))
                return; // a refusal, or not a daemon: read it whole, then decide
            c->reader.onBody = [this, c, e](const QByteArray &bytes) { streamBody(c, e, bytes); };
            e->streamOpen = true;
            e->failures = 0;
            e->sse = SseParser();
            const QPointer<DaemonEventStream> stream = e->stream;
            if (!stream)
                return;
            DaemonEventStreamPrivate::get(stream)->markConnected();
            if (!stream->isClosed()) // a stateChanged() receiver may have closed it
                emit stream->connected();
        };
        if (e->stream && e->stream->silenceTimeout() > milliseconds(0))
            c->silenceTimer.start(e->stream->silenceTimeout());
    }
    c->socket->write(ex.wire);
}

void MultiprocessHandler::Private::streamBody(Connection *c, Exchange *e, const QByteArray &bytes)
{
    // A receiver may close the stream from its slot, which ends the exchange.
    const auto stillOpen = [c, e] { return !c->dead && c->exchange.get() == e && e->stream; };
    if (!stillOpen())
        return;
    const QList<SseParser::Event> events = e->sse.feed(bytes);
    const QPointer<DaemonEventStream> stream = e->stream;
    for (const SseParser::Event &event : events) {
        if (!stillOpen())
            return;
        emit stream->eventReceived(event);
    }
}

void MultiprocessHandler::Private::onReadyRead(Connection *c)
{
    if (c->dead)
        return;
    const QByteArray data = c->socket->readAll();
    if (c->silenceTimer.isActive() && !data.isEmpty())
        c->silenceTimer.start(); // the stream is alive
    if (!c->exchange) {
        // Nothing was asked on this connection: whatever it is (a 408 before
        // an idle close), the connection cannot be trusted any more.
        if (!data.isEmpty())
            removeConnection(c);
        return;
    }
    const wire::ResponseParser::Status status = c->reader.feed(data);
    if (c->dead)
        return; // a stream consumer closed it
    if (status == wire::ResponseParser::Status::Complete) {
        complete(c);
    } else if (status == wire::ResponseParser::Status::Error) {
        const QString reason = QStringLiteral("bad answer from the server: %1").arg(c->reader.errorString());
        std::unique_ptr<Exchange> ex = std::move(c->exchange);
        removeConnection(c);
        if (ex->isStream)
            streamEnded(std::move(ex), {StreamFailure::Reason::Network, 0, reason});
        else
            connectionLost(std::move(ex), false, reason);
        dispatch();
    }
}

void MultiprocessHandler::Private::complete(Connection *c)
{
    std::unique_ptr<Exchange> ex = std::move(c->exchange);
    const Response response = c->reader.response();
    ++c->served;
    if (c->reader.keepAlive() && !c->stream && c->socket->state() == QAbstractSocket::ConnectedState)
        c->reader.reset(false); // idle, ready for the next request
    else
        removeConnection(c);

    if (ex->isStream) {
        StreamFailure failure;
        if (ex->streamOpen) // the daemon ended the stream (shutting down)
            failure = {StreamFailure::Reason::Closed, 0, QStringLiteral("the server ended the event stream")};
        else if (response.status == 200)
            failure = {StreamFailure::Reason::NotAnEventStream, 200,
                       QStringLiteral("the answer is not an event stream (Content-Type: %1)")
                           .arg(QString::fromUtf8(response.headers.value("content-type")))};
        else
            failure = {StreamFailure::Reason::HttpStatus, response.status, answerMessage(response)};
        streamEnded(std::move(ex), failure);
    } else if (ex->onResponse) {
        ex->onResponse(response);
    }
    dispatch();
}

void MultiprocessHandler::Private::onClosed(Connection *c, const QString &reason, bool connecting,
                                           QAbstractSocket::SocketError error)
{
    if (c->dead)
        return;
    if (c->established && c->exchange && c->socket->bytesAvailable() > 0) {
        onReadyRead(c); // what arrived before the close may complete the answer
        if (c->dead || !c->exchange)
            return;
    }
    std::unique_ptr<Exchange> ex = std::move(c->exchange);
    if (ex && c->established && c->reader.finishAtEof() == wire::ResponseParser::Status::Complete) {
        c->exchange = std::move(ex);
        complete(c);
        return;
    }
    const bool stale = c->served > 0 && !c->reader.sawBytes();
    const bool established = c->established && !connecting;
    removeConnection(c);
    if (!ex)
        return; // an idle connection went away
    if (ex->isStream) {
        const StreamFailure failure = !established ? connectFailure(error, reason)
                                      : ex->streamOpen ? StreamFailure{StreamFailure::Reason::Closed, 0, reason}
                                                       : StreamFailure{StreamFailure::Reason::Network, 0, reason};
        streamEnded(std::move(ex), failure);
        dispatch();
        return;
    }
    if (established)
        connectionLost(std::move(ex), stale, reason);
    else
        connectFailed(std::move(ex), reason);
    dispatch();
}

void MultiprocessHandler::Private::removeConnection(Connection *c)
{
    if (c->dead)
        return;
    c->dead = true;
    c->connectTimer.stop();
    c->silenceTimer.stop();
    connections.removeOne(c);
    disconnect(c->socket, nullptr, c, nullptr);
    c->socket->abort();
    c->deleteLater();
}

void MultiprocessHandler::Private::connectFailed(std::unique_ptr<Exchange> ex, const QString &reason)
{
    // Nothing reached the daemon: the request waits for the next round.
    const bool roundAlreadyFailed = retryTimer.isActive();
    queue.insert(std::upper_bound(queue.begin(), queue.end(), ex->id,
                                  [](quint64 id, const std::unique_ptr<Exchange> &e) { return id < e->id; }),
                 std::move(ex));
    if (roundAlreadyFailed)
        return;
    ++connectFailures;
    if (maxConnectAttempts > 0 && connectFailures >= maxConnectAttempts) {
        const Error error{Error::Kind::DaemonUnavailable,
                          QStringLiteral("Cannot connect to multiprocess server at %1: %2").arg(address(), reason)};
        std::deque<std::unique_ptr<Exchange>> failed;
        failed.swap(queue);
        for (auto &e : failed)
            deliverError(std::move(e), error);
        return;
    }
    const milliseconds delay = nextDelay;
    nextDelay = std::min(maxDelay, nextDelay * 2);
    qCWarning(lcClient).noquote() << QStringLiteral("Cannot connect to multiprocess server. Is it running? Retrying in %1 seconds.")
                                         .arg(secondsText(delay));
    qCDebug(lcClient).noquote() << "connect to" << address() << "failed:" << reason;
    retryTimer.start(delay);
}

void MultiprocessHandler::Private::connectionLost(std::unique_ptr<Exchange> ex, bool stale, const QString &reason)
{
    if (ex->unsafe && !retryUnsafe) {
        deliverError(std::move(ex), Error{Error::Kind::DaemonUnavailable,
            QStringLiteral("The connection to the multiprocess server at %1 was lost before the answer to %2 %3 arrived "
                           "(%4). The server may have processed it, so it was not sent again "
                           "(MultiprocessHandler::setRetryUnsafeRequests allows it).")
                .arg(address(), QString::fromLatin1(ex->method), ex->url, reason)});
        return;
    }
    if (stale) {
        // A keep-alive connection closed before it carried this request.
        qCDebug(lcClient).noquote() << QStringLiteral("stale keep-alive connection to %1 (%2): sending %3 %4 again")
                                           .arg(address(), reason, QString::fromLatin1(ex->method), ex->url);
        enqueue(std::move(ex));
        return;
    }
    ++ex->failures;
    if (ex->failures >= maxAttempts) {
        deliverError(std::move(ex), Error{Error::Kind::DaemonUnavailable,
            QStringLiteral("Successive failures reading from the multiprocess server at %1: %2 attempts failed (last: %3).")
                .arg(address())
                .arg(maxAttempts)
                .arg(reason)});
        return;
    }
    qCInfo(lcClient).noquote() << QStringLiteral("Lost the connection to the multiprocess server (%1); sending %2 %3 again (attempt %4 of %5).")
                                      .arg(reason, QString::fromLatin1(ex->method), ex->url)
                                      .arg(ex->failures + 1)
                                      .arg(maxAttempts);
    enqueue(std::move(ex));
}

void MultiprocessHandler::Private::deliverError(std::unique_ptr<Exchange> ex, const Error &error)
{
    if (ex->isStream) {
        const QPointer<DaemonEventStream> stream = ex->stream;
        ex.reset();
        if (stream && !stream->isClosed()) {
            DaemonEventStreamPrivate::get(stream)->setState(DaemonEventStream::State::Failed);
            emit stream->failed(error, 0);
        }
        return;
    }
    if (ex->onError)
        ex->onError(error);
}

void MultiprocessHandler::Private::streamEnded(std::unique_ptr<Exchange> ex, const StreamFailure &failure)
{
    const QPointer<DaemonEventStream> stream = ex->stream;
    if (!stream || stream->isClosed())
        return; // nobody listens any more
    DaemonEventStreamPrivate *sd = DaemonEventStreamPrivate::get(stream);
    if (ex->streamOpen) {
        // It was flowing: the daemon restarts, or the link broke. The
        // first attempt waits the initial delay, so a daemon that keeps
        // ending streams at once is not hammered.
        ex->streamOpen = false;
        sd->lastFailure = failure;
        qCDebug(lcClient).noquote() << "event stream from" << address() << "ended:" << failure.message;
        parkStream(std::move(ex), initialDelay);
        emit stream->disconnected();
        return;
    }
    const milliseconds delay = sd->recordFailedAttempt(failure, initialDelay, maxDelay);
    // A 4xx (a missing or wrong proxy token) or an answer from something
    // that is not a daemon stays the same however often it is asked.
    const bool refused = failure.reason == StreamFailure::Reason::HttpStatus && failure.httpStatus >= 400
                         && failure.httpStatus < 500;
    const bool notADaemon = failure.reason == StreamFailure::Reason::NotAnEventStream;
    if (refused || notADaemon || sd->attemptsExhausted()) {
        ex.reset();
        QString message;
        if (refused || notADaemon)
            message = QStringLiteral("The multiprocess server at %1 refused the event stream: HTTP %2 %3")
                          .arg(address())
                          .arg(failure.httpStatus)
                          .arg(failure.message);
        else
            message = QStringLiteral("Cannot subscribe to the events of the multiprocess server at %1: %2 (%3 attempts)")
                          .arg(address(), failure.message)
                          .arg(sd->failedAttempts);
        sd->setState(DaemonEventStream::State::Failed);
        emit stream->failed(Error{Error::Kind::DaemonUnavailable, message}, failure.httpStatus);
        return;
    }
    qCDebug(lcClient).noquote() << "event stream from" << address() << "failed:" << failure.message
                                << "- retrying in" << secondsText(delay) << "s";
    parkStream(std::move(ex), delay);
    emit stream->attemptFailed(failure);
}

void MultiprocessHandler::Private::parkStream(std::unique_ptr<Exchange> ex, milliseconds delay)
{
    DaemonEventStreamPrivate *sd = DaemonEventStreamPrivate::get(ex->stream);
    sd->nextAttempt = QDeadlineTimer(delay);
    const quint64 id = ex->id;
    parkedStreams[id] = std::move(ex);
    sd->setState(DaemonEventStream::State::Retrying);
    QTimer::singleShot(delay, this, [this, id] { resumeStream(id); });
}

void MultiprocessHandler::Private::resumeStream(quint64 id)
{
    const auto it = parkedStreams.find(id);
    if (it == parkedStreams.end())
        return; // closed meanwhile
    std::unique_ptr<Exchange> ex = std::move(it->second);
    parkedStreams.erase(it);
    enqueue(std::move(ex));
}

void MultiprocessHandler::Private::onStreamSilent(Connection *c)
{
    if (c->dead || !c->exchange || !c->exchange->stream)
        return;
    const milliseconds timeout = c->exchange->stream->silenceTimeout();
    std::unique_ptr<Exchange> ex = std::move(c->exchange);
    removeConnection(c);
    streamEnded(std::move(ex), {StreamFailure::Reason::Silent, 0,
                                QStringLiteral("nothing received for %1 seconds").arg(secondsText(timeout))});
    dispatch();
}

void MultiprocessHandler::Private::cancel(quint64 id)
{
    const auto it = std::find_if(queue.begin(), queue.end(), [id](const auto &e) { return e->id == id; });
    if (it != queue.end()) {
        queue.erase(it);
        return;
    }
    if (parkedStreams.erase(id) > 0)
        return;
    for (Connection *c : std::as_const(connections)) {
        if (c->exchange && c->exchange->id == id) {
            // The answer may be half read: the connection cannot be reused.
            c->exchange.reset();
            removeConnection(c);
            dispatch();
            return;
        }
    }
}

template <typename T>
QFuture<T> MultiprocessHandler::Private::control(const QByteArray &method, const QByteArray &path, const QByteArray &body,
                                                 std::function<std::optional<T>(const QJsonObject &)> read)
{
    Request request;
    request.method = method;
    request.url = QUrl(QString::fromLatin1(path));
    if (!body.isEmpty())
        request.headers.set("Content-Type", "application/json");
    request.body = body;
    auto ex = makeExchange(request);
    ex->unsafe = false; // evicting, clearing or reading twice leaves the same cache
    ex->id = nextId++;
    const quint64 id = ex->id;
    auto promise = std::make_shared<QPromise<T>>();
    promise->start();
    QFuture<T> future = promise->future();
    // The first of answer, error and timeout settles the call; `settled` is
    // set at once, the promise finishes queued.
    auto settled = std::make_shared<bool>(false);
    // Completion is queued: continuations attached without a context run
    // where the promise finishes, and must not re-enter the handler mid-way.
    QPointer<Private> self(this);
    auto settle = [self, promise, settled](std::function<void()> work) {
        if (std::exchange(*settled, true))
            return;
        if (self && !self->destroying)
            QMetaObject::invokeMethod(self, std::move(work), Qt::QueuedConnection);
        else
            work();
    };
    ex->onResponse = [settle, promise, read, method, path](const Response &response) {
        settle([promise, read, method, path, response] {
            const QJsonObject json = QJsonDocument::fromJson(response.body).object();
            const std::optional<T> value = response.status == 200 ? read(json) : std::nullopt;
            if (value) {
                promise->addResult(*value);
            } else {
                QString message = json.value(QLatin1String("message")).toString();
                if (message.isEmpty())
                    message = QString::fromUtf8(response.body.left(200));
                promise->setException(ClientException(
                    Error{Error::Kind::BadResponse, QStringLiteral("%1 %2: HTTP %3 %4")
                                                        .arg(QString::fromLatin1(method), QString::fromLatin1(path))
                                                        .arg(response.status)
                                                        .arg(message)},
                    response.status));
            }
            promise->finish();
        });
    };
    ex->onError = [settle, promise](const Error &error) {
        settle([promise, error] {
            promise->setException(ClientException(error));
            promise->finish();
        });
    };
    if (controlTimeout > milliseconds(0)) {
        // Whatever holds it up (a daemon that accepted and went silent, the
        // connect back-off, a queue behind busy connections), the caller
        // hears within the timeout. A timer per call: a control call is rare.
        const milliseconds timeout = controlTimeout;
        QTimer::singleShot(timeout, this, [this, id, settle, settled, promise, method, path, timeout] {
            if (*settled)
                return;
            cancel(id);
            const Error error{Error::Kind::Timeout,
                              QStringLiteral("The multiprocess server at %1 did not answer %2 %3 within %4 seconds.")
                                  .arg(address(), QString::fromLatin1(method), QString::fromLatin1(path),
                                       secondsText(timeout))};
            settle([promise, error] {
                promise->setException(ClientException(error));
                promise->finish();
            });
        });
    }
    enqueue(std::move(ex));
    return future;
}

// ---------------------------------------------------------------------------

MultiprocessHandler::MultiprocessHandler(const QString &host, quint16 port)
    : d(std::make_unique<Private>(host.isEmpty() ? QStringLiteral("localhost") : host, port))
{
}

MultiprocessHandler::~MultiprocessHandler() = default;

Reply *MultiprocessHandler::request(const Request &request)
{
    auto *reply = new Reply;
    // A method that is not an HTTP token could smuggle a second request:
    // answered here as the daemon would answer it.
    if (!request.method.isEmpty() && !wire::isToken(request.method)) {
        ReplyPrivate::get(reply)->finish(
            jsonError(400, QStringLiteral("bad_request"),
                      QStringLiteral("invalid request method %1").arg(QString::fromLatin1(request.method.toPercentEncoding()))),
            CacheStatus::Bypass);
        return reply;
    }
    auto ex = d->makeExchange(request);
    ex->id = d->nextId++;
    const quint64 id = ex->id;
    QPointer<Reply> guard(reply);
    ex->onResponse = [guard](const Response &response) {
        if (!guard)
            return;
        if (const Error error = daemonError(response)) {
            ReplyPrivate::get(guard)->fail(error);
            return;
        }
        const CacheStatus status = cacheStatusFromHeader(response.headers.value("x-cache"));
        Response r = response;
        wire::removeHopByHop(r.headers); // the connection's to the daemon, not the answer's
        ReplyPrivate::get(guard)->finish(r, status, status == CacheStatus::Hit ? r.headers.value("age").trimmed().toLongLong() : 0);
    };
    ex->onError = [guard](const Error &error) {
        if (guard)
            ReplyPrivate::get(guard)->fail(error);
    };
    Private *p = d.get();
    QObject::connect(reply, &Reply::abortRequested, p, [p, id] { p->cancel(id); });
    QObject::connect(reply, &QObject::destroyed, p, [p, id] { p->cancel(id); });
    d->enqueue(std::move(ex));
    return reply;
}

namespace {

// Reads a count ("evicted", "cleared") from a control answer.
std::function<std::optional<int>(const QJsonObject &)> countIn(const QString &key)
{
    return [key](const QJsonObject &json) -> std::optional<int> {
        if (!json.value(key).isDouble())
            return std::nullopt;
        return json.value(key).toInt();
    };
}

} // namespace

QFuture<int> MultiprocessHandler::evict(const QStringList &urls)
{
    const QJsonObject body{{QStringLiteral("urls"), QJsonArray::fromStringList(urls)}};
    return d->control<int>("POST", "/_mp/evict", QJsonDocument(body).toJson(QJsonDocument::Compact),
                           countIn(QStringLiteral("evicted")));
}

QFuture<int> MultiprocessHandler::clear()
{
    return d->control<int>("POST", "/_mp/clear", "{}", countIn(QStringLiteral("cleared")));
}

QFuture<QJsonObject> MultiprocessHandler::stats()
{
    return d->control<QJsonObject>("GET", "/_mp/stats", {}, [](const QJsonObject &json) -> std::optional<QJsonObject> {
        if (json.isEmpty())
            return std::nullopt; // not the daemon's snapshot
        return json;
    });
}

DaemonEventStream *MultiprocessHandler::openEventStream(QObject *parent)
{
    auto *stream = new DaemonEventStream(parent);
    Request request;
    request.url = QUrl(QStringLiteral("/_mp/events"));
    request.headers.set("Accept", "text/event-stream");
    auto ex = d->makeExchange(request);
    ex->id = d->nextId++;
    ex->isStream = true;
    ex->stream = stream;
    const quint64 id = ex->id;
    DaemonEventStreamPrivate::get(stream)->maxAttempts = d->maxConnectAttempts;
    Private *p = d.get();
    QPointer<Private> guard(p);
    DaemonEventStreamPrivate::get(stream)->onClose = [guard, id] {
        if (guard)
            guard->cancel(id);
    };
    d->enqueue(std::move(ex));
    return stream;
}

QString MultiprocessHandler::host() const { return d->host; }
quint16 MultiprocessHandler::port() const { return d->port; }

void MultiprocessHandler::setProxyToken(const QString &token) { d->token = token; }
QString MultiprocessHandler::proxyToken() const { return d->token; }

void MultiprocessHandler::setInitialRetryDelay(milliseconds delay)
{
    d->initialDelay = std::max(milliseconds(1), delay);
    if (!d->retryTimer.isActive())
        d->nextDelay = d->initialDelay;
}
milliseconds MultiprocessHandler::initialRetryDelay() const { return d->initialDelay; }

void MultiprocessHandler::setMaxRetryDelay(milliseconds delay) { d->maxDelay = std::max(milliseconds(1), delay); }
milliseconds MultiprocessHandler::maxRetryDelay() const { return d->maxDelay; }

void MultiprocessHandler::setMaxConnectAttempts(int attempts) { d->maxConnectAttempts = std::max(0, attempts); }
int MultiprocessHandler::maxConnectAttempts() const { return d->maxConnectAttempts; }

void MultiprocessHandler::setMaxAttempts(int attempts) { d->maxAttempts = std::max(1, attempts); }
int MultiprocessHandler::maxAttempts() const { return d->maxAttempts; }

void MultiprocessHandler::setRetryUnsafeRequests(bool retry) { d->retryUnsafe = retry; }
bool MultiprocessHandler::retryUnsafeRequests() const { return d->retryUnsafe; }

void MultiprocessHandler::setMaxConnections(int connections)
{
    d->maxConnections = std::max(1, connections);
    d->dispatch();
}
int MultiprocessHandler::maxConnections() const { return d->maxConnections; }

void MultiprocessHandler::setConnectTimeout(milliseconds timeout) { d->connectTimeout = std::max(milliseconds(1), timeout); }
milliseconds MultiprocessHandler::connectTimeout() const { return d->connectTimeout; }

void MultiprocessHandler::setControlTimeout(milliseconds timeout) { d->controlTimeout = std::max(milliseconds(0), timeout); }
milliseconds MultiprocessHandler::controlTimeout() const { return d->controlTimeout; }

} // namespace prawmp
