#include "TlsListener.h"

#include <QFile>
#include <QLoggingCategory>
#include <QSslCertificate>
#include <QSslKey>
#include <QSslServer>
#include <QSslSocket>

namespace prawmp {

namespace {

Q_LOGGING_CATEGORY(lcTls, "prawmp.tls", QtInfoMsg)

bool readFile(const QString &path, const char *what, QByteArray *content, QString *error)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read the TLS %1 %2: %3").arg(QLatin1String(what), path, file.errorString());
        return false;
    }
    *content = file.readAll();
    return true;
}

} // namespace

TlsListener::TlsListener(QObject *parent) : QObject(parent) {}

bool TlsListener::read(const DaemonOptions &options, QSslConfiguration *configuration,
                       TlsStream::Context *serverContext, QString *error)
{
    if (!QSslSocket::supportsSsl()) {
        *error = QStringLiteral("TLS is not available: Qt has no TLS backend (OpenSSL) here");
        return false;
    }
    QByteArray pem;
    if (!readFile(options.tlsCertificateFile, "certificate", &pem, error))
        return false;
    const QList<QSslCertificate> chain = QSslCertificate::fromData(pem, QSsl::Pem);
    if (chain.isEmpty() || chain.first().isNull()) {
        *error = QStringLiteral("%1 holds no PEM certificate").arg(options.tlsCertificateFile);
        return false;
    }
    if (!readFile(options.tlsKeyFile, "key", &pem, error))
        return false;
    QSslKey key;
    for (QSsl::KeyAlgorithm algorithm : {QSsl::Rsa, QSsl::Ec, QSsl::Dsa, QSsl::Dh}) {
        key = QSslKey(pem, algorithm, QSsl::Pem, QSsl::PrivateKey);
        if (!key.isNull())
            break;
    }
    // The bytes may be a key: never echo them.
    if (key.isNull()) {
        *error = QStringLiteral("%1 holds no unencrypted PEM private key (RSA, EC or DSA)")
                     .arg(options.tlsKeyFile);
        return false;
    }
    if (chain.first().publicKey().algorithm() != key.algorithm()) {
        *error = QStringLiteral("the key in %1 does not belong to the certificate in %2")
                     .arg(options.tlsKeyFile, options.tlsCertificateFile);
        return false;
    }

    QSslConfiguration c = QSslConfiguration::defaultConfiguration();
    c.setLocalCertificateChain(chain);
    c.setPrivateKey(key);
    c.setProtocol(QSsl::TlsV1_2OrLater);
    // Clients authenticate with the proxy token, not with certificates.
    c.setPeerVerifyMode(QSslSocket::VerifyNone);
    TlsStream::Context context = TlsStream::serverContext(options.tlsCertificateFile, options.tlsKeyFile, error);
    if (!context)
        return false;
    *configuration = c;
    *serverContext = std::move(context);
    return true;
}

bool TlsListener::load(const DaemonOptions &options, QString *error)
{
    if (!read(options, &m_configuration, &m_serverContext, error))
        return false;
    m_handshakeTimeoutMs = options.httpLimits().headerTimeoutMs;
    qCInfo(lcTls).noquote() << "serving HTTPS with" << describe();
    return true;
}

QTcpServer *TlsListener::createServer(QObject *parent)
{
    auto *server = new QSslServer(parent);
    server->setSslConfiguration(m_configuration);
    // A client that connects and never finishes its handshake is dropped
    // as one that never sends its request headers is.
    server->setHandshakeTimeout(m_handshakeTimeoutMs);
    connect(server, &QSslServer::errorOccurred, this, [](QSslSocket *socket, QAbstractSocket::SocketError) {
        qCDebug(lcTls).noquote() << "handshake with" << socket->peerAddress().toString()
                                 << "failed:" << socket->errorString();
    });
    m_servers.append(server);
    return server;
}

bool TlsListener::reload(const DaemonOptions &options, QString *error)
{
    QSslConfiguration c;
    TlsStream::Context context;
    if (!read(options, &c, &context, error))
        return false;
    m_configuration = c;
    m_serverContext = std::move(context);
    m_handshakeTimeoutMs = options.httpLimits().headerTimeoutMs;
    for (const QPointer<QSslServer> &server : std::as_const(m_servers)) {
        if (server) {
            server->setSslConfiguration(m_configuration);
            server->setHandshakeTimeout(m_handshakeTimeoutMs);
        }
    }
    qCInfo(lcTls).noquote() << "TLS certificate reloaded:" << describe();
    return true;
}

QString TlsListener::describe() const
{
    const QList<QSslCertificate> chain = m_configuration.localCertificateChain();
    if (chain.isEmpty())
        return QStringLiteral("no certificate");
    const QSslCertificate &c = chain.first();
    const QString cn = c.subjectInfo(QSslCertificate::CommonName).join(QStringLiteral(", "));
    return QStringLiteral("certificate CN=%1, valid until %2%3")
        .arg(cn.isEmpty() ? QStringLiteral("(none)") : cn,
             c.expiryDate().toString(Qt::ISODate),
             c.expiryDate() < QDateTime::currentDateTimeUtc() ? QStringLiteral(" (EXPIRED)") : QString());
}

} // namespace prawmp
