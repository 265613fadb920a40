#include "UpstreamConnection.h"

#include <QLoggingCategory>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimer>


#include <atomic>

#ifdef Q_OS_UNIX
#include <cerrno>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#endif
#ifdef Q_OS_LINUX
#include <netinet/in.h>
#include <netinet/tcp.h>
#endif

namespace prawmp {

namespace {

// An idle connection is closed after this long: servers drop idle
// keep-alive connections on their own schedule, and a connection we closed
// ourselves can never surprise a request.
constexpr int kIdleExpiryMs = 30'000;
// An answer's status line and fields may not take more than this.
constexpr qsizetype kMaxHeadBytes = 80 * 1024;

quint64 nextSerial()
{
    // For log lines only; several Upstreams may live in several threads.
    static std::atomic<quint64> serial{0};
    return ++serial;
}

} // namespace

qint64 UpstreamConnection::nowNs()
{
    static QElapsedTimer clock = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return clock.nsecsElapsed();
}

namespace {

#ifdef Q_OS_LINUX
// The kernel's TCP state of a socket (TCP_ESTABLISHED, TCP_CLOSE_WAIT...), -1 if unknown.
int tcpState(int fd)
{
    if (fd < 0)
        return -1;
    tcp_info info{};
    socklen_t size = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0)
        return -1;
    return info.tcpi_state;
}
#endif

} // namespace

// ---- UpstreamOrigin

UpstreamOrigin UpstreamOrigin::fromUrl(const QUrl &url)
{
    UpstreamOrigin origin;
    const QString scheme = url.scheme().toLower();
    if (scheme != QLatin1String("http") && scheme != QLatin1String("https"))
        return origin;
    origin.tls = scheme == QLatin1String("https");
    origin.host = url.host().toLower();
    const int port = url.port(origin.tls ? 443 : 80);
    origin.port = port > 0 && port < 65536 ? quint16(port) : 0;
    return origin;
}

QString UpstreamOrigin::key() const
{
    return QStringLiteral("%1://%2:%3").arg(tls ? QStringLiteral("https") : QStringLiteral("http"),
                                           host, QString::number(port));
}

// ---- UpstreamConnection

UpstreamConnection::UpstreamConnection(const UpstreamOrigin &origin, const QSslConfiguration &tls,
                                       QObject *parent)
    : QObject(parent), m_origin(origin), m_tlsConfig(tls), m_serial(nextSerial()),
      m_parser(std::make_unique<wire::ResponseParser>(kMaxHeadBytes))
{
}

UpstreamConnection::~UpstreamConnection()
{
    teardown();
}

void UpstreamConnection::open()
{
    Q_ASSERT(m_state == State::Closed && !m_socket);
    m_state = State::Connecting;
    const bool wasReporting = m_reporting;
    m_reporting = true; // a connect may fail, or succeed, synchronously

    if (m_origin.tls) {
        auto *ssl = new QSslSocket(this);
        QSslConfiguration config = m_tlsConfig;
        config.setAllowedNextProtocols({QByteArray(QSslConfiguration::NextProtocolHttp1_1)});
        ssl->setSslConfiguration(config);
        // No Nagle delay for the handshake either.
        connect(ssl, &QSslSocket::connected, this,
                [ssl] { ssl->setSocketOption(QAbstractSocket::LowDelayOption, 1); });
        connect(ssl, &QSslSocket::encrypted, this, &UpstreamConnection::onConnected);
        connect(ssl, &QSslSocket::sslErrors, this, [this](const QList<QSslError> &errors) {
            QStringList texts;
            for (const QSslError &e : errors)
                texts << e.errorString();
            m_tlsErrors = texts.join(QStringLiteral("; "));
        });
        m_socket = ssl;
    } else {
        m_socket = new QTcpSocket(this);
        connect(m_socket, &QTcpSocket::connected, this, &UpstreamConnection::onConnected);
    }
    connect(m_socket, &QTcpSocket::readyRead, this, &UpstreamConnection::onReadyRead);
    connect(m_socket, &QTcpSocket::bytesWritten, this, [this](qint64 bytes) { m_written += bytes; });
    connect(m_socket, &QTcpSocket::errorOccurred, this, &UpstreamConnection::onSocketClosed);
    connect(m_socket, &QTcpSocket::disconnected, this, &UpstreamConnection::onSocketClosed);

    qCDebug(lcUpstream) << "connection" << m_serial << "opening to" << m_origin.key();
    if (auto *ssl = qobject_cast<QSslSocket *>(m_socket))
        ssl->connectToHostEncrypted(m_origin.host, m_origin.port);
    else
        m_socket->connectToHost(m_origin.host, m_origin.port);
    m_reporting = wasReporting;
}

void UpstreamConnection::start(const QByteArray &request, bool head)
{
    // Not yet opened counts as connecting: open() may then connect and
    // write at once.
    Q_ASSERT(m_state == State::Connecting || m_state == State::Idle
             || (m_state == State::Closed && !m_socket));
    Q_ASSERT(!hasRequest());
    m_request = request;
    m_head = head;
    if (m_state == State::Idle) {
        m_reused = true;
        writeRequest();
    } else {
        m_reused = false;
    }
}

void UpstreamConnection::onConnected()
{
    if (m_state != State::Connecting)
        return;
    // Requests are small and latency-bound: no Nagle delay.
    m_socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
#ifdef Q_OS_UNIX
    if (m_spareFd < 0 && m_socket->socketDescriptor() >= 0)
        m_spareFd = ::fcntl(int(m_socket->socketDescriptor()), F_DUPFD_CLOEXEC, 0);
#endif
    qCDebug(lcUpstream) << "connection" << m_serial << "open to" << m_origin.key();
    if (hasRequest()) {
        writeRequest();
        return;
    }
    becomeIdle();
    // A preconnect: tell the pool, from the event loop.
    if (m_reporting) {
        post([this] {
            if (m_state == State::Idle && !hasRequest())
                emit ready(this);
        });
    } else {
        emit ready(this);
    }
}

void UpstreamConnection::writeRequest()
{
    m_state = State::Busy;
    if (m_idleTimer)
        m_idleTimer->stop();
    m_parser->reset(m_head);
    m_written = 0;
    m_answerBytes = 0;

    const bool wasReporting = m_reporting;
    m_reporting = true;
    // One write, handed to the kernel now rather than on the next pass of
    // the event loop.
    const qint64 accepted = m_socket->write(m_request);
    m_socket->flush();
    m_sentAtNs = nowNs();
    m_reporting = wasReporting;

    if (m_state == State::Busy && accepted != m_request.size()) {
        fail(Error::Kind::ConnectionFailed,
             QStringLiteral("upstream unreachable: could not write the request: %1")
                 .arg(m_socket ? m_socket->errorString() : QString()),
             m_reused);
        return;
    }
    if (m_state == State::Busy)
        emit written(this);
}

bool UpstreamConnection::isStillUsable() const
{
    if (m_state != State::Idle || !m_socket || m_socket->state() != QAbstractSocket::ConnectedState
        || m_socket->bytesAvailable() > 0)
        return false;
#ifdef Q_OS_UNIX
    const int fd = int(m_socket->socketDescriptor());
    if (fd < 0)
        return false;
#ifdef Q_OS_LINUX
    // A FIN (CLOSE_WAIT) or RST (CLOSE) the event loop has not seen yet.
    const int state = tcpState(fd);
    if (state >= 0 && state != TCP_ESTABLISHED)
        return false;
#endif
    if (!m_origin.tls) {
        // Bytes (an unsolicited answer such as a 408) or EOF waiting unread.
        // Not for TLS, where a session ticket may legitimately be pending.
        char byte;
        const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return false;
    }
#endif
    return true;
}

void UpstreamConnection::onReadyRead()
{
    if (!m_socket)
        return;
    if (m_state == State::Busy) {
        const QByteArray data = m_socket->readAll();
        m_answerBytes += data.size();
        feed(data.constData(), data.size());
        return;
    }
    if (m_state == State::Idle) {
        // Nobody asked: the connection cannot be trusted with a request.
        qCDebug(lcUpstream) << "connection" << m_serial << "got" << m_socket->bytesAvailable()
                            << "unsolicited bytes while idle; closing it";
        teardown();
        reportLost();
    }
}

void UpstreamConnection::feed(const char *data, qsizetype size)
{
    const auto status = m_parser->feed(data, size);
    if (status == wire::ResponseParser::Status::Error) {
        fail(Error::Kind::BadResponse,
             QStringLiteral("upstream sent an invalid answer: %1").arg(m_parser->errorString()));
        return;
    }
    if (status == wire::ResponseParser::Status::Complete)
        finishAnswer();
}

void UpstreamConnection::finishAnswer()
{
    const bool reusable = m_parser->keepAlive() && m_socket
        && m_socket->state() == QAbstractSocket::ConnectedState && m_socket->bytesAvailable() == 0
        // An early answer (a 413 while the body was still going out): the
        // rest of the request would be read as the next one.
        && m_socket->bytesToWrite() == 0;
    Response response = m_parser->takeResponse();
    m_request.clear();
    if (reusable)
        becomeIdle();
    else
        teardown();
    emit answered(this, response, reusable);
}

void UpstreamConnection::onSocketClosed()
{
    if (m_state == State::Closed || !m_socket)
        return;
    // What arrived before the close first: the answer may be complete.
    if (m_state == State::Busy && m_socket->bytesAvailable() > 0) {
        onReadyRead();
        if (m_state != State::Busy)
            return;
    }
    switch (m_state) {
    case State::Connecting: {
        QString why = describeSocketError();
        if (!hasRequest()) {
            qCDebug(lcUpstream) << "connection" << m_serial << "to" << m_origin.key() << "failed:" << why;
            teardown();
            reportLost();
            return;
        }
        fail(Error::Kind::ConnectionFailed, QStringLiteral("upstream unreachable: %1").arg(why));
        return;
    }
    case State::Idle:
        qCDebug(lcUpstream) << "connection" << m_serial << "closed by upstream while idle";
        teardown();
        reportLost();
        return;
    case State::Busy:
        break;
    case State::Closed:
        return;
    }

    if (m_answerBytes == 0) {
        // Nothing of an answer. Safe to resend only if the upstream
        // demonstrably did not take the request: the write failed, or it
        // reset the connection (a server that closes a socket with unread
        // data, or receives data on a socket it already closed, answers
        // RST). A plain FIN after our request may follow a request that was
        // processed: never resent.
        // (With TLS the plaintext count is no sure sign of what reached the
        // kernel: only the reset tells there.)
        const bool writeFailed = !m_origin.tls && m_written < m_request.size();
        const bool notTaken = writeFailed || peerResetConnection();
        const bool mayRetry = m_reused && notTaken;
        fail(Error::Kind::ConnectionFailed,
             mayRetry ? QStringLiteral("upstream closed the reused connection before taking the request")
                      : QStringLiteral("upstream closed the connection without answering (%1)")
                            .arg(describeSocketError()),
             mayRetry);
        return;
    }
    // Part of an answer came: it is complete only if the close delimits the body.
    if (m_parser->finishAtEof() == wire::ResponseParser::Status::Complete) {
        finishAnswer();
        return;
    }
    // A valid but truncated answer (Content-Length not reached, chunked not
    // finished, head cut short): the connection failed, the upstream did not
    // speak nonsense.
    fail(Error::Kind::ConnectionFailed, QStringLiteral("upstream closed the connection mid-answer"));
}

bool UpstreamConnection::peerResetConnection() const
{
#ifdef Q_OS_LINUX
    return tcpState(m_spareFd) == TCP_CLOSE;
#else
    return false;
#endif
}

QString UpstreamConnection::describeSocketError() const
{
    if (!m_socket)
        return QStringLiteral("connection closed");
    QString text = m_socket->errorString();
    if (!m_tlsErrors.isEmpty())
        text += QStringLiteral(" (%1)").arg(m_tlsErrors);
    return text;
}

void UpstreamConnection::fail(Error::Kind kind, const QString &message, bool mayRetry)
{
    qCDebug(lcUpstream) << "connection" << m_serial << "to" << m_origin.key() << "failed:" << message
                        << (mayRetry ? "(may retry)" : "");
    teardown();
    const Error error{kind, message};
    if (m_reporting)
        post([this, error, mayRetry] { emit failed(this, error, mayRetry); });
    else
        emit failed(this, error, mayRetry);
}

void UpstreamConnection::becomeIdle()
{
    m_state = State::Idle;
    m_request.clear();
    if (!m_idleTimer) {
        m_idleTimer = new QTimer(this);
        m_idleTimer->setSingleShot(true);
        m_idleTimer->setTimerType(Qt::CoarseTimer);
        connect(m_idleTimer, &QTimer::timeout, this, [this] {
            if (m_state != State::Idle)
                return;
            qCDebug(lcUpstream) << "connection" << m_serial << "idle for" << kIdleExpiryMs << "ms; closing";
            teardown();
            reportLost();
        });
    }
    m_idleTimer->start(kIdleExpiryMs);
}

void UpstreamConnection::close()
{
    teardown();
}

void UpstreamConnection::teardown()
{
    m_state = State::Closed;
    if (m_idleTimer)
        m_idleTimer->stop();
    if (QTcpSocket *socket = m_socket) {
        m_socket = nullptr;
        QObject::disconnect(socket, nullptr, this, nullptr);
        socket->abort();
        // Never deleted synchronously: we may be inside one of its signals.
        socket->deleteLater();
    }
#ifdef Q_OS_UNIX
    // Only now does the kernel close the connection (the duplicate kept it).
    if (m_spareFd >= 0) {
        ::close(m_spareFd);
        m_spareFd = -1;
    }
#endif
}

void UpstreamConnection::reportLost()
{
    if (m_reporting)
        post([this] { emit lost(this); });
    else
        emit lost(this);
}

void UpstreamConnection::post(std::function<void()> report)
{
    QMetaObject::invokeMethod(this, std::move(report), Qt::QueuedConnection);
}

} // namespace prawmp
