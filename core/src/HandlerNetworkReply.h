#pragma once
// Private to core: the QNetworkReply that NetworkAccessManager returns for a
// routed request. It turns the QNetworkRequest into a prawmp::Request, hands
// it to a Handler, and presents the prawmp::Reply the way QNAM presents an
// HTTP answer (signals, attributes, error codes).
#include "prawmp/Error.h"
#include "prawmp/Request.h"
#include "prawmp/Response.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QPointer>
#include <QTimer>

#include <functional>

namespace prawmp {

class Handler;
class Reply;
class HttpHeaders;

class HandlerNetworkReply : public QNetworkReply
{
    Q_OBJECT
public:
    // Chooses the handler when the request is ready to go (body read), and
    // again when a handler failed: given that error, returns the handler to
    // try once more, or nullptr to report the error.
    using HandlerChooser = std::function<Handler *(const Error *failure)>;
    // Whether a URL goes through a handler at all (redirects elsewhere are not followed).
    using RoutePredicate = std::function<bool(const QUrl &url)>;

    HandlerNetworkReply(QNetworkAccessManager::Operation op, const QNetworkRequest &request,
                        const QByteArray &method, QIODevice *outgoingData, int transferTimeoutMs,
                        QNetworkRequest::RedirectPolicy redirectPolicy, HandlerChooser chooser,
                        RoutePredicate routed, QObject *parent);
    ~HandlerNetworkReply() override;

    void abort() override;
    qint64 bytesAvailable() const override;
    bool isSequential() const override { return true; }

    // The QNAM error for an HTTP status >= 400 (qhttpthreaddelegate.cpp's table).
    static NetworkError errorForStatus(int status);

signals:
    // The answer's end-to-end header fields (for the manager's RateBudget).
    void answered(const prawmp::HttpHeaders &headers);

protected:
    qint64 readData(char *data, qint64 maxSize) override;
    qint64 writeData(const char *, qint64) override { return -1; }

private:
    void readOutgoing();
    void outgoingComplete();
    void send();
    void handlerFinished();
    // Follows a redirect as QNAM's policy says; false: deliver the 3xx itself.
    bool followRedirect(const Response &response);
    void start(Handler *handler);
    void deliverAnswer();
    void deliverError(const Error &error);
    void fail(NetworkError code, const QString &message);
    void detachHandlerReply(bool abortIt);
    bool isAlwaysCache() const;

    Request m_request;
    QPointer<QIODevice> m_outgoing;
    HandlerChooser m_choose;
    RoutePredicate m_routed;
    QNetworkRequest::RedirectPolicy m_redirectPolicy = QNetworkRequest::ManualRedirectPolicy;
    int m_redirectsLeft = 0;
    QPointer<Reply> m_reply;
    QTimer m_timeout;
    QByteArray m_body;
    qint64 m_readPos = 0;
    qint64 m_expectedBodySize = -1; // Content-Length of a sequential body, -1: until its end
    bool m_done = false;
    bool m_retried = false;
};

} // namespace prawmp
