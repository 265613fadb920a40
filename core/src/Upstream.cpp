#include "prawmp/Upstream.h"

#include <QHash>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QPointer>
#include <QTimer>

Q_LOGGING_CATEGORY(lcUpstream, "prawmp.upstream")

namespace prawmp {

namespace {

// Headers QNAM must not be handed: it manages the connection and framing itself.
bool isManagedByQnam(const QByteArray &name)
{
    static const QByteArray managed[] = {"host", "content-length", "connection", "keep-alive",
                                         "transfer-encoding", "te", "upgrade", "trailer",
                                         "proxy-connection", "proxy-authorization", "expect"};
    for (const QByteArray &m : managed)
        if (name.compare(m, Qt::CaseInsensitive) == 0)
            return true;
    return false;
}

Error errorFor(QNetworkReply::NetworkError code, const QString &text)
{
    using E = QNetworkReply::NetworkError;
    if (code == E::TimeoutError)
        return {Error::Kind::Timeout, text};
    if (code >= E::ProtocolUnknownError && code <= E::ProtocolFailure)
        return {Error::Kind::BadResponse, QStringLiteral("upstream sent an invalid answer: %1").arg(text)};
    return {Error::Kind::ConnectionFailed, QStringLiteral("upstream unreachable: %1").arg(text)};
}

// An HTTP status came back (4xx and 5xx included): the answer is the upstream's.
bool isHttpAnswer(QNetworkReply::NetworkError code)
{
    using E = QNetworkReply::NetworkError;
    return code == E::NoError
        || (code >= E::ContentAccessDenied && code <= E::UnknownContentError)
        || (code >= E::InternalServerError && code <= E::UnknownServerError);
}

} // namespace

struct Upstream::Private
{
    struct Pending {
        QPointer<QNetworkReply> reply;
        QTimer *timer = nullptr;
        Callback done;
    };

    QNetworkAccessManager *nam = nullptr;
    double timeoutSeconds = 45.0;
    quint64 nextId = 1;
    QHash<quint64, Pending> pending;

    void finish(quint64 id, const Response &response, const Error &error)
    {
        auto it = pending.find(id);
        if (it == pending.end())
            return;
        Pending p = std::move(*it);
        pending.erase(it);
        delete p.timer;
        if (p.reply) {
            p.reply->disconnect();
            if (p.reply->isRunning())
                p.reply->abort();
            p.reply->deleteLater();
        }
        p.done(response, error);
    }
};

Upstream::Upstream(QObject *parent) : QObject(parent), d(std::make_unique<Private>())
{
    d->nam = new QNetworkAccessManager(this);
    d->nam->setRedirectPolicy(QNetworkRequest::ManualRedirectPolicy);
    d->nam->setAutoDeleteReplies(false);
}

Upstream::~Upstream()
{
    for (auto &p : d->pending) {
        delete p.timer;
        if (p.reply) {
            p.reply->disconnect();
            p.reply->abort();
            delete p.reply;
        }
    }
}

void Upstream::setTimeout(double seconds) { d->timeoutSeconds = seconds; }
double Upstream::timeout() const { return d->timeoutSeconds; }
int Upstream::inFlight() const { return int(d->pending.size()); }

quint64 Upstream::send(const Request &request, Callback done)
{
    const quint64 id = d->nextId++;
    QNetworkRequest req(request.url);
    req.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    req.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
    req.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysNetwork);
    req.setAttribute(QNetworkRequest::CookieLoadControlAttribute, QNetworkRequest::Manual);
    req.setAttribute(QNetworkRequest::CookieSaveControlAttribute, QNetworkRequest::Manual);
    for (const auto &[name, value] : request.headers.fields()) {
        if (!isManagedByQnam(name))
            req.setRawHeader(name, value);
    }
    // Without this QNAM asks for gzip and inflates it behind our back; a
    // proxy passes the client's choice through instead.
    if (!request.headers.contains("accept-encoding"))
        req.setRawHeader("Accept-Encoding", "identity");

    // QNAM only knows that an answer has no body when the request is a real
    // HEAD; sent as a custom verb it waits for Content-Length bytes that
    // never come, until the timeout.
    QNetworkReply *reply = request.method == "HEAD"
        ? d->nam->head(req)
        : d->nam->sendCustomRequest(req, request.method, request.body);
    auto *timer = new QTimer;
    timer->setSingleShot(true);
    d->pending.insert(id, Private::Pending{reply, timer, std::move(done)});

    connect(timer, &QTimer::timeout, this, [this, id] {
        d->finish(id, {}, {Error::Kind::Timeout,
                           QStringLiteral("upstream did not answer within %1 s").arg(d->timeoutSeconds)});
    });
    timer->start(int(d->timeoutSeconds * 1000));

    connect(reply, &QNetworkReply::finished, this, [this, id, reply] {
        const auto code = reply->error();
        const QVariant status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
        if (!status.isValid() || !isHttpAnswer(code)) {
            qCDebug(lcUpstream) << "request failed:" << code << reply->errorString();
            d->finish(id, {}, errorFor(code, reply->errorString()));
            return;
        }
        Response response;
        response.status = status.toInt();
        response.reason = reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toByteArray();
        for (const auto &[name, value] : reply->rawHeaderPairs())
            response.headers.add(name, value);
        response.body = reply->readAll();
        d->finish(id, response, {});
    });
    return id;
}

void Upstream::preconnect(const QUrl &url)
{
    if (url.host().isEmpty())
        return;
    if (url.scheme() == QLatin1String("https"))
        d->nam->connectToHostEncrypted(url.host(), quint16(url.port(443)));
    else
        d->nam->connectToHost(url.host(), quint16(url.port(80)));
}

void Upstream::abort(quint64 id)
{
    auto it = d->pending.find(id);
    if (it == d->pending.end())
        return;
    Private::Pending p = std::move(*it);
    d->pending.erase(it);
    delete p.timer;
    if (p.reply) {
        p.reply->disconnect();
        p.reply->abort();
        p.reply->deleteLater();
    }
}

} // namespace prawmp
