#include "HandlerNetworkReply.h"

#include "prawmp/Handler.h"
#include "prawmp/Reply.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>

namespace prawmp {

Q_DECLARE_LOGGING_CATEGORY(lcNam)

namespace {

// The pipeline's answer to "Cache-Control: only-if-cached" on a miss (RFC 9111 §5.2.1.7).
bool isNotCachedAnswer(const Response &response)
{
    if (response.status != 504 || !response.headers.value("content-type").contains("json"))
        return false;
    return QJsonDocument::fromJson(response.body).object().value(QLatin1String("error")).toString()
        == QLatin1String("not_cached");
}

// A DaemonUnavailable error where nothing reached the daemon (MultiprocessHandler's wording).
bool neverReachedDaemon(const Error &error)
{
    return error.kind == Error::Kind::DaemonUnavailable
        && error.message.startsWith(QLatin1String("Cannot connect to multiprocess server"));
}

QNetworkReply::NetworkError networkError(const Error &error)
{
    switch (error.kind) {
    case Error::Kind::None: return QNetworkReply::NoError;
    case Error::Kind::ConnectionFailed: return QNetworkReply::ConnectionRefusedError;
    case Error::Kind::BadResponse: return QNetworkReply::ProtocolFailure;
    case Error::Kind::Timeout: return QNetworkReply::TimeoutError;
    case Error::Kind::Canceled: return QNetworkReply::OperationCanceledError;
    case Error::Kind::QueueTimeout: return QNetworkReply::ServiceUnavailableError;
    case Error::Kind::NotAllowed: return QNetworkReply::ContentAccessDenied;
    case Error::Kind::DaemonUnavailable:
        // The daemon stands where QNAM would see a proxy.
        return neverReachedDaemon(error) ? QNetworkReply::ProxyConnectionRefusedError
                                         : QNetworkReply::ProxyConnectionClosedError;
    }
    return QNetworkReply::UnknownNetworkError;
}

} // namespace

HandlerNetworkReply::HandlerNetworkReply(QNetworkAccessManager::Operation op, const QNetworkRequest &request,
                                         const QByteArray &method, QIODevice *outgoingData,
                                         int transferTimeoutMs, QNetworkRequest::RedirectPolicy redirectPolicy,
                                         HandlerChooser chooser, RoutePredicate routed, QObject *parent)
    : QNetworkReply(parent)
    , m_outgoing(outgoingData)
    , m_choose(std::move(chooser))
    , m_routed(std::move(routed))
    , m_redirectPolicy(redirectPolicy)
    , m_redirectsLeft(request.maximumRedirectsAllowed())
{
    setRequest(request);
    setUrl(request.url());
    setOperation(op);
    open(QIODevice::ReadOnly | QIODevice::Unbuffered);

    m_request.method = method;
    m_request.url = request.url().adjusted(QUrl::RemoveFragment);
    const QList<QByteArray> names = request.rawHeaderList();
    for (const QByteArray &name : names)
        m_request.headers.add(name, request.rawHeader(name));
    switch (request.attribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::PreferNetwork).toInt()) {
    case QNetworkRequest::AlwaysNetwork:
        m_request.headers.add("Cache-Control", "no-cache");
        break;
    case QNetworkRequest::AlwaysCache:
        m_request.headers.add("Cache-Control", "only-if-cached");
        break;
    default:
        // PreferNetwork and PreferCache: a fresh cached answer is what both would take.
        break;
    }

    if (transferTimeoutMs > 0) {
        // QNAM (6.4) aborts a transfer that made no progress for this long;
        // here the only progress is the whole answer.
        m_timeout.setSingleShot(true);
        connect(&m_timeout, &QTimer::timeout, this, [this] {
            qCDebug(lcNam) << "transfer timeout:" << url().toString(QUrl::RemoveQuery);
            abort();
        });
        m_timeout.start(transferTimeoutMs);
    }

    if (!m_outgoing) {
        send();
        return;
    }
    if (!m_outgoing->isSequential()) {
        m_request.body = m_outgoing->readAll();
        m_outgoing = nullptr;
        send();
        return;
    }
    // A pipe or socket: the body is complete when its read channel ends or
    // when the Content-Length the request announced has arrived.
    bool lengthGiven = false;
    m_expectedBodySize = request.header(QNetworkRequest::ContentLengthHeader).toLongLong(&lengthGiven);
    if (!lengthGiven)
        m_expectedBodySize = -1;
    connect(m_outgoing, &QIODevice::readyRead, this, &HandlerNetworkReply::readOutgoing);
    connect(m_outgoing, &QIODevice::readChannelFinished, this, [this] {
        readOutgoing();
        outgoingComplete();
    });
    readOutgoing();
}

void HandlerNetworkReply::outgoingComplete()
{
    if (!m_outgoing)
        return;
    disconnect(m_outgoing, nullptr, this, nullptr);
    m_outgoing = nullptr;
    send();
}

HandlerNetworkReply::~HandlerNetworkReply()
{
    // A request still queued leaves the queue without spending budget.
    detachHandlerReply(true);
}

void HandlerNetworkReply::readOutgoing()
{
    if (!m_outgoing)
        return;
    m_request.body += m_outgoing->readAll();
    if (m_expectedBodySize >= 0 && m_request.body.size() >= m_expectedBodySize) {
        m_request.body.truncate(m_expectedBodySize);
        outgoingComplete();
    }
}

void HandlerNetworkReply::send()
{
    if (m_done)
        return;
    if (!m_request.body.isEmpty() && !m_request.headers.contains("Content-Type")) {
        // As QNAM does for a body without a type.
        qCWarning(lcNam) << "content-type missing in HTTP POST, defaulting to application/x-www-form-urlencoded";
        m_request.headers.add("Content-Type", "application/x-www-form-urlencoded");
    }
    start(m_choose(nullptr));
}

void HandlerNetworkReply::start(Handler *handler)
{
    m_reply = handler->request(m_request);
    connect(m_reply, &Reply::finished, this, &HandlerNetworkReply::handlerFinished);
}

void HandlerNetworkReply::handlerFinished()
{
    if (m_done || !m_reply)
        return;
    const Error error = m_reply->error();
    if (error && !m_retried) {
        if (Handler *other = m_choose(&error)) {
            m_retried = true;
            detachHandlerReply(false);
            start(other);
            return;
        }
    }
    if (error)
        deliverError(error);
    else if (!followRedirect(m_reply->response()))
        deliverAnswer();
}

bool HandlerNetworkReply::followRedirect(const Response &response)
{
    // QNAM (Qt 6) follows redirects unless told not to; so do routed replies,
    // as long as the target is routed too (this reply cannot become a plain one).
    static const QList<int> redirects{301, 302, 303, 305, 307, 308};
    if (!redirects.contains(response.status) || !response.headers.contains("Location")
        || m_redirectPolicy == QNetworkRequest::ManualRedirectPolicy
        || m_redirectPolicy == QNetworkRequest::UserVerifiedRedirectPolicy)
        return false;
    const QUrl current = url();
    const QUrl target = current.resolved(QUrl::fromEncoded(response.headers.value("Location")));
    if (!target.isValid() || !m_routed(target))
        return false;
    if (m_redirectsLeft <= 0) {
        detachHandlerReply(false);
        fail(TooManyRedirectsError, tr("Too many redirects"));
        return true;
    }
    const bool downgrade = current.scheme() == QLatin1String("https") && target.scheme() == QLatin1String("http");
    const bool sameOrigin = current.scheme() == target.scheme() && current.host() == target.host()
                            && current.port() == target.port();
    if ((m_redirectPolicy == QNetworkRequest::NoLessSafeRedirectPolicy && downgrade)
        || (m_redirectPolicy == QNetworkRequest::SameOriginRedirectPolicy && !sameOrigin)) {
        detachHandlerReply(false);
        fail(InsecureRedirectError, tr("Insecure redirect"));
        return true;
    }
    --m_redirectsLeft;
    detachHandlerReply(false);
    // 301/302 of a POST and every 303 become a GET without a body (as browsers and QNAM do).
    const bool toGet = response.status == 303 ? m_request.method != "HEAD"
                                              : (response.status == 301 || response.status == 302)
                                                    && m_request.method == "POST";
    if (toGet) {
        m_request.method = "GET";
        m_request.body.clear();
        m_request.headers.remove("Content-Type");
        m_request.headers.remove("Content-Length");
        setOperation(QNetworkAccessManager::GetOperation);
    }
    if (!sameOrigin)
        m_request.headers.remove("Authorization"); // credentials stay with their origin
    m_request.url = target.adjusted(QUrl::RemoveFragment);
    setUrl(target);
    qCDebug(lcNam) << "following" << response.status << "to" << target.toString(QUrl::RemoveQuery);
    emit redirected(target);
    if (m_done) // aborted from a slot of redirected()
        return true;
    start(m_choose(nullptr));
    return true;
}

bool HandlerNetworkReply::isAlwaysCache() const
{
    return request().attribute(QNetworkRequest::CacheLoadControlAttribute).toInt() == QNetworkRequest::AlwaysCache;
}

void HandlerNetworkReply::deliverAnswer()
{
    Response response = m_reply->response();
    const CacheStatus cacheStatus = m_reply->cacheStatus();
    // The daemon labels its answers; an in-process handler's get the same
    // labels, so that application code reads them one way.
    if (!response.headers.contains("X-Cache")) {
        response.headers.add("X-Cache", cacheStatusName(cacheStatus));
        if (cacheStatus == CacheStatus::Hit && !response.headers.contains("Age"))
            response.headers.add("Age", QByteArray::number(m_reply->ageSeconds()));
    }
    detachHandlerReply(false);
    m_timeout.stop();

    if (isAlwaysCache() && isNotCachedAnswer(response)) {
        // QNAM's answer when AlwaysCache finds nothing: no HTTP status, no data.
        fail(ContentNotFoundError, tr("Error transferring %1 - not in the cache").arg(url().toString()));
        return;
    }

    if (!m_request.body.isEmpty())
        emit uploadProgress(m_request.body.size(), m_request.body.size());

    setAttribute(QNetworkRequest::HttpStatusCodeAttribute, response.status);
    setAttribute(QNetworkRequest::HttpReasonPhraseAttribute, response.reason);
    setAttribute(QNetworkRequest::SourceIsFromCacheAttribute, cacheStatus == CacheStatus::Hit);
    setAttribute(QNetworkRequest::ConnectionEncryptedAttribute, false);
    // One raw header per name, repeated fields joined as QNAM joins them.
    QList<QByteArray> order;
    QHash<QByteArray, QByteArray> joined;
    for (const auto &[name, value] : response.headers.fields()) {
        const QByteArray key = name.toLower();
        if (!joined.contains(key)) {
            order.append(name);
            joined.insert(key, value);
        } else {
            joined[key] += (key == "set-cookie" ? "\n" : ", ") + value;
        }
    }
    for (const QByteArray &name : std::as_const(order))
        setRawHeader(name, joined.value(name.toLower()));
    if (response.status >= 300 && response.status < 400 && response.headers.contains("Location"))
        setAttribute(QNetworkRequest::RedirectionTargetAttribute,
                     QUrl::fromEncoded(response.headers.value("Location")));

    m_body = operation() == QNetworkAccessManager::HeadOperation ? QByteArray() : response.body;
    m_readPos = 0;
    const qint64 size = m_body.size();

    m_done = true;
    emit metaDataChanged();
    emit answered(response.headers);
    if (size > 0)
        emit readyRead();
    emit downloadProgress(size, size);
    if (response.status >= 400) {
        const NetworkError code = errorForStatus(response.status);
        // QNAM's texts: 401 is reported by its authentication handling.
        setError(code, response.status == 401
                           ? tr("Host requires authentication")
                           : tr("Error transferring %1 - server replied: %2")
                                 .arg(url().toString(), QString::fromLatin1(response.reason)));
        emit errorOccurred(code);
    }
    setFinished(true);
    emit finished();
}

void HandlerNetworkReply::deliverError(const Error &error)
{
    detachHandlerReply(false);
    fail(networkError(error), error.message);
}

void HandlerNetworkReply::fail(NetworkError code, const QString &message)
{
    m_done = true;
    m_timeout.stop();
    setError(code, message);
    emit errorOccurred(code);
    setFinished(true);
    emit finished();
}

void HandlerNetworkReply::abort()
{
    if (m_done)
        return;
    // Before the signals: the handler takes the request out of its queue
    // (or drops the connection carrying it) so that it is never sent.
    detachHandlerReply(true);
    if (m_outgoing)
        disconnect(m_outgoing, nullptr, this, nullptr);
    m_outgoing = nullptr;
    QNetworkReply::close();
    // QNAM emits these synchronously from abort().
    fail(OperationCanceledError, tr("Operation canceled"));
}

void HandlerNetworkReply::detachHandlerReply(bool abortIt)
{
    if (!m_reply)
        return;
    Reply *reply = m_reply;
    m_reply = nullptr;
    disconnect(reply, nullptr, this, nullptr);
    if (abortIt && !reply->isFinished())
        reply->abort();
    reply->deleteLater();
}

qint64 HandlerNetworkReply::bytesAvailable() const
{
    return m_body.size() - m_readPos + QNetworkReply::bytesAvailable();
}

qint64 HandlerNetworkReply::readData(char *data, qint64 maxSize)
{
    const qint64 left = m_body.size() - m_readPos;
    if (left <= 0)
        return isFinished() ? -1 : 0;
    const qint64 n = std::min(left, maxSize);
    if (n <= 0)
        return 0; // a zero-length read may come with no buffer at all
    memcpy(data, m_body.constData() + m_readPos, size_t(n));
    m_readPos += n;
    return n;
}

QNetworkReply::NetworkError HandlerNetworkReply::errorForStatus(int status)
{
    // qtbase src/network/access/qhttpthreaddelegate.cpp, statusCodeFromHttp() (6.4).
    switch (status) {
    case 400: return ProtocolInvalidOperationError;
    case 401: return AuthenticationRequiredError;
    case 403: return ContentAccessDenied;
    case 404: return ContentNotFoundError;
    case 405: return ContentOperationNotPermittedError;
    case 407: return ProxyAuthenticationRequiredError;
    case 409: return ContentConflictError;
    case 410: return ContentGoneError;
    case 418: return ProtocolInvalidOperationError;
    case 500: return InternalServerError;
    case 501: return OperationNotImplementedError;
    case 503: return ServiceUnavailableError;
    default:
        if (status > 500)
            return UnknownServerError;
        if (status >= 400)
            return UnknownContentError;
        return ProtocolFailure;
    }
}

} // namespace prawmp
