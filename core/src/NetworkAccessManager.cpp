#include "prawmp/NetworkAccessManager.h"

#include "HandlerNetworkReply.h"
#include "prawmp/DefaultHandler.h"
#include "prawmp/MultiprocessHandler.h"
#include "prawmp/RateBudget.h"

#include <QHash>
#include <QLoggingCategory>
#include <QPointer>
#include <QTcpSocket>
#include <QTimer>

namespace prawmp {

Q_LOGGING_CATEGORY(lcNam, "prawmp.nam", QtInfoMsg)

namespace {

struct ServerAddress
{
    QString host = QStringLiteral("localhost");
    quint16 port = MultiprocessHandler::kDefaultPort;
};

// $PRAWMP_SERVER: HOST:PORT, [V6ADDR]:PORT or HOST (default port).
ServerAddress serverFromEnvironment()
{
    ServerAddress address;
    const QString text = qEnvironmentVariable("PRAWMP_SERVER").trimmed();
    if (text.isEmpty())
        return address;
    QString host = text;
    QString port;
    if (text.startsWith(u'[')) {
        const qsizetype close = text.indexOf(u']');
        host = text.mid(1, close - 1);
        if (close > 0 && text.mid(close + 1).startsWith(u':'))
            port = text.mid(close + 2);
    } else if (text.count(u':') == 1) {
        host = text.section(u':', 0, 0);
        port = text.section(u':', 1);
    }
    bool ok = true;
    const uint number = port.isEmpty() ? address.port : port.toUInt(&ok);
    if (host.isEmpty() || !ok || number == 0 || number > 65535) {
        qCWarning(lcNam).noquote() << "PRAWMP_SERVER is not HOST:PORT:" << text << "- using localhost:10101";
        return address;
    }
    address.host = host;
    address.port = quint16(number);
    return address;
}

QByteArray methodOf(QNetworkAccessManager::Operation op, const QNetworkRequest &request)
{
    switch (op) {
    case QNetworkAccessManager::HeadOperation: return "HEAD";
    case QNetworkAccessManager::GetOperation: return "GET";
    case QNetworkAccessManager::PutOperation: return "PUT";
    case QNetworkAccessManager::PostOperation: return "POST";
    case QNetworkAccessManager::DeleteOperation: return "DELETE";
    case QNetworkAccessManager::CustomOperation:
        return request.attribute(QNetworkRequest::CustomVerbAttribute).toByteArray();
    case QNetworkAccessManager::UnknownOperation: break;
    }
    return {};
}

} // namespace

class NetworkAccessManager::Private
{
public:
    explicit Private(NetworkAccessManager *q) : q(q) {}

    Handler *current() { return fallbackActive ? inProcess.get() : handler; }
    Handler *retryHandlerFor(const Error &failure);
    void setFallbackActive(bool active);
    void probeDaemon();
    void updateBudgets(const QString &host, const HttpHeaders &headers);

    NetworkAccessManager *q;
    Handler *handler = nullptr;
    std::unique_ptr<MultiprocessHandler> owned; // first constructor
    QStringList routedHosts{QStringLiteral("www.reddit.com"), QStringLiteral("oauth.reddit.com")};

    bool fallbackEnabled = false;
    bool fallbackActive = false;
    std::unique_ptr<DefaultHandler> inProcess;
    std::chrono::milliseconds probeInterval{5000};
    QTimer probeTimer;
    QPointer<QTcpSocket> probe;

    RateBudget *budget = nullptr;
    QHash<QString, RateBudget *> hostBudgets;
};

Handler *NetworkAccessManager::Private::retryHandlerFor(const Error &failure)
{
    // Only a request that never reached the daemon may be served again
    // in-process: anything else might have been sent upstream already.
    if (!fallbackEnabled || !owned || fallbackActive || failure.kind != Error::Kind::DaemonUnavailable
        || !failure.message.startsWith(QLatin1String("Cannot connect to multiprocess server")))
        return nullptr;
    setFallbackActive(true);
    return inProcess.get();
}

void NetworkAccessManager::Private::setFallbackActive(bool active)
{
    if (fallbackActive == active)
        return;
    fallbackActive = active;
    if (active) {
        if (!inProcess)
            inProcess = std::make_unique<DefaultHandler>();
        qCWarning(lcNam).noquote() << QStringLiteral("Cannot connect to multiprocess server at %1:%2; serving in this "
                                                     "process until it is back.")
                                          .arg(owned->host()).arg(owned->port());
        probeTimer.start(probeInterval);
    } else {
        qCInfo(lcNam).noquote() << QStringLiteral("Multiprocess server at %1:%2 is back; sharing through it again.")
                                       .arg(owned->host()).arg(owned->port());
        probeTimer.stop();
        if (probe) {
            probe->abort();
            probe->deleteLater();
        }
    }
    emit q->fallbackActiveChanged(active);
}

void NetworkAccessManager::Private::probeDaemon()
{
    if (!fallbackActive || probe)
        return;
    // Reachable means it accepts a connection; MultiprocessHandler handles the rest.
    probe = new QTcpSocket(q);
    QTcpSocket *socket = probe;
    QObject::connect(socket, &QTcpSocket::connected, q, [this, socket] {
        socket->abort();
        socket->deleteLater();
        setFallbackActive(false);
    });
    QObject::connect(socket, &QTcpSocket::errorOccurred, q, [this, socket] {
        socket->deleteLater();
        if (fallbackActive)
            probeTimer.start(probeInterval);
    });
    socket->connectToHost(owned->host(), owned->port());
}

void NetworkAccessManager::Private::updateBudgets(const QString &host, const HttpHeaders &headers)
{
    budget->update(headers);
    if (RateBudget *b = hostBudgets.value(host))
        b->update(headers);
}

NetworkAccessManager::NetworkAccessManager(QObject *parent)
    : QNetworkAccessManager(parent)
    , d(std::make_unique<Private>(this))
{
    const ServerAddress server = serverFromEnvironment();
    d->owned = std::make_unique<MultiprocessHandler>(server.host, server.port);
    d->handler = d->owned.get();
    d->budget = new RateBudget(QString(), this);
    d->probeTimer.setSingleShot(true);
    connect(&d->probeTimer, &QTimer::timeout, this, [this] { d->probeDaemon(); });
}

NetworkAccessManager::NetworkAccessManager(Handler *handler, QObject *parent)
    : QNetworkAccessManager(parent)
    , d(std::make_unique<Private>(this))
{
    Q_ASSERT(handler);
    d->handler = handler;
    d->budget = new RateBudget(QString(), this);
}

NetworkAccessManager::~NetworkAccessManager()
{
    // Our replies are children, deleted by ~QObject after the handler is
    // gone; end them first so that queued requests leave the handler's queue.
    qDeleteAll(findChildren<HandlerNetworkReply *>(Qt::FindDirectChildrenOnly));
    delete d->probe;
}

void NetworkAccessManager::setRoutedHosts(const QStringList &hosts)
{
    d->routedHosts.clear();
    for (const QString &h : hosts)
        d->routedHosts.append(h.trimmed().toLower());
    d->routedHosts.removeDuplicates();
}

QStringList NetworkAccessManager::routedHosts() const { return d->routedHosts; }

bool NetworkAccessManager::isRouted(const QUrl &url) const
{
    const QString scheme = url.scheme().toLower();
    return (scheme == QLatin1String("http") || scheme == QLatin1String("https"))
        && d->routedHosts.contains(url.host().toLower());
}

Handler *NetworkAccessManager::handler() const { return d->handler; }

QString NetworkAccessManager::serverAddress() const
{
    return d->owned ? QStringLiteral("%1:%2").arg(d->owned->host()).arg(d->owned->port()) : QString();
}

void NetworkAccessManager::setFallbackEnabled(bool enabled)
{
    if (!d->owned) {
        if (enabled)
            qCWarning(lcNam) << "setFallbackEnabled: only a manager that shares through the daemon itself falls back";
        return;
    }
    d->fallbackEnabled = enabled;
    // Fail at the first refused connect instead of retrying forever, so the
    // waiting request can be served in-process at once.
    d->owned->setMaxConnectAttempts(enabled ? 1 : 0);
    if (!enabled)
        d->setFallbackActive(false);
}

bool NetworkAccessManager::isFallbackEnabled() const { return d->fallbackEnabled; }
bool NetworkAccessManager::isFallbackActive() const { return d->fallbackActive; }

void NetworkAccessManager::setFallbackProbeInterval(std::chrono::milliseconds interval)
{
    d->probeInterval = std::max(interval, std::chrono::milliseconds(10));
}

std::chrono::milliseconds NetworkAccessManager::fallbackProbeInterval() const { return d->probeInterval; }

RateBudget *NetworkAccessManager::rateBudget() const { return d->budget; }

RateBudget *NetworkAccessManager::rateBudget(const QString &host)
{
    const QString key = host.toLower();
    if (key.isEmpty())
        return d->budget;
    RateBudget *&b = d->hostBudgets[key];
    if (!b)
        b = new RateBudget(key, this);
    return b;
}

QNetworkReply *NetworkAccessManager::createRequest(Operation op, const QNetworkRequest &request,
                                                   QIODevice *outgoingData)
{
    const QByteArray method = methodOf(op, request);
    if (!isRouted(request.url()) || method.isEmpty())
        return QNetworkAccessManager::createRequest(op, request, outgoingData);

    const int timeout = request.transferTimeout() > 0 ? request.transferTimeout() : transferTimeout();
    QPointer<NetworkAccessManager> self(this);
    auto choose = [self](const Error *failure) -> Handler * {
        if (!self)
            return nullptr;
        return failure ? self->d->retryHandlerFor(*failure) : self->d->current();
    };
    auto routed = [self](const QUrl &url) { return self && self->isRouted(url); };
    const QVariant policy = request.attribute(QNetworkRequest::RedirectPolicyAttribute);
    const auto redirects = policy.isValid() ? QNetworkRequest::RedirectPolicy(policy.toInt()) : redirectPolicy();
    auto *reply = new HandlerNetworkReply(op, request, method, outgoingData, timeout, redirects, choose, routed, this);
    const QString host = request.url().host().toLower();
    connect(reply, &HandlerNetworkReply::answered, this,
            [this, host](const HttpHeaders &headers) { d->updateBudgets(host, headers); });
    const bool autoDelete = request.attribute(QNetworkRequest::AutoDeleteReplyOnFinishAttribute,
                                              autoDeleteReplies()).toBool();
    // QNAM's get()/post()... emit finished(reply) themselves; autoDeleteReplies()
    // it applies in its own createRequest() only.
    if (autoDelete)
        connect(reply, &QNetworkReply::finished, reply, &QObject::deleteLater);
    qCDebug(lcNam).noquote() << "routed" << method << request.url().toString(QUrl::RemoveQuery | QUrl::RemoveUserInfo);
    return reply;
}

} // namespace prawmp
