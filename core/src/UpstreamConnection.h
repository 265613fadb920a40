#pragma once
#include "HttpWire.h"
#include "prawmp/Error.h"
#include "prawmp/Response.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QObject>
#include <QPointer>
#include <QSslConfiguration>
#include <QString>
#include <QUrl>

#include <functional>
#include <memory>

class QTcpSocket;
class QTimer;

Q_DECLARE_LOGGING_CATEGORY(lcUpstream)

namespace prawmp {

// Where a connection goes: Upstream keeps one pool per origin.
struct UpstreamOrigin
{
    bool tls = false;
    QString host; // as QUrl::host() gives it (no brackets around IPv6)
    quint16 port = 0;

    // Empty host when the URL is not http(s) with a host.
    static UpstreamOrigin fromUrl(const QUrl &url);
    bool isValid() const { return !host.isEmpty() && port != 0; }
    // "https://oauth.reddit.com:443": the pool key.
    QString key() const;
};

// One keep-alive HTTP/1.1 connection to an upstream origin (QTcpSocket, or
// QSslSocket for https), carrying one request at a time: no pipelining, so
// that a failure is always one request's. Answers are parsed by the wire
// module (wire::ResponseParser). Owned and driven by Upstream's pool, in Upstream's thread.
//
// It reports every outcome by exactly one signal, after which it is Closed
// (failed, lost) or Idle again (answered with keep-alive); the signals come
// from the event loop, never from inside open(), start() or close().
class UpstreamConnection : public QObject
{
    Q_OBJECT
public:
    enum class State {
        Connecting, // TCP connect / TLS handshake in progress
        Idle,       // open, nothing in flight, reusable
        Busy,       // a request was written, its answer is being read
        Closed,
    };

    UpstreamConnection(const UpstreamOrigin &origin, const QSslConfiguration &tls,
                       QObject *parent = nullptr);
    ~UpstreamConnection() override;

    const UpstreamOrigin &origin() const { return m_origin; }
    State state() const { return m_state; }
    quint64 serial() const { return m_serial; }
    // A request was handed over while connecting (it is written once connected).
    bool hasRequest() const { return !m_request.isEmpty(); }

    void open();
    // Sends `request` (the complete wire bytes, one write) when Idle, or as
    // soon as connected when Connecting or not opened yet (then call open()).
    // `head`: the answer has no body.
    void start(const QByteArray &request, bool head);
    // Idle only. Whether the peer may still take a request: it has not closed
    // or reset the connection, and sent nothing unsolicited, while it sat
    // idle. A connection failing this must be closed; nothing was sent on it.
    bool isStillUsable() const;
    // Drops the connection at once (RST-free close); no signal follows.
    void close();

    // When the current (or last) request was handed to the kernel
    // (monotonic, ns); -1 before the first.
    qint64 sentAtNs() const { return m_sentAtNs; }
    // The clock of sentAtNs().
    static qint64 nowNs();

signals:
    // Connected with no request handed over (a preconnect): now Idle.
    void ready(prawmp::UpstreamConnection *connection);
    // A complete final answer. `reusable`: the connection is Idle again;
    // otherwise it is Closed.
    void answered(prawmp::UpstreamConnection *connection, const prawmp::Response &response,
                  bool reusable);
    // The request failed; the connection is Closed. `mayRetry`: it had been
    // idle, and the upstream demonstrably did not take the request (the
    // write failed, or the peer reset the connection) before any answer
    // byte came; resending is then safe for an idempotent method.
    void failed(prawmp::UpstreamConnection *connection, const prawmp::Error &error,
                bool mayRetry);
    // The request was handed to the kernel (sentAtNs() is its time). Emitted
    // synchronously; a receiver must not close or delete the connection.
    void written(prawmp::UpstreamConnection *connection);
    // Closed while nobody's request was on it (idle expiry, peer close,
    // a preconnect that failed).
    void lost(prawmp::UpstreamConnection *connection);

private:
    void onConnected();
    void onReadyRead();
    void onSocketClosed();
    void writeRequest();
    void feed(const char *data, qsizetype size);
    void finishAnswer();
    void fail(Error::Kind kind, const QString &message, bool mayRetry = false);
    void becomeIdle();
    void teardown();
    bool peerResetConnection() const;
    QString describeSocketError() const;
    void reportLost();
    void post(std::function<void()> report);

    UpstreamOrigin m_origin;
    QSslConfiguration m_tlsConfig;
    quint64 m_serial = 0;
    State m_state = State::Closed;

    QTcpSocket *m_socket = nullptr;
    QTimer *m_idleTimer = nullptr;
    // A duplicate of the socket's descriptor, kept so that the TCP state can
    // still be read after Qt has closed its own descriptor on EOF/RST (Qt
    // reports both as RemoteHostClosedError). -1 when none.
    int m_spareFd = -1;
    QString m_tlsErrors;

    // The request in flight.
    QByteArray m_request;
    bool m_head = false;
    bool m_reused = false;        // written on a connection that had been idle
    qint64 m_written = 0;         // bytes of m_request handed to the kernel
    qint64 m_sentAtNs = -1;
    qint64 m_answerBytes = 0;     // bytes received since the request was written
    bool m_reporting = false;     // inside open()/start(): reports are posted

    std::unique_ptr<wire::ResponseParser> m_parser;
};

} // namespace prawmp
