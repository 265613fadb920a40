#include "TlsCertificate.h"

#include <QFile>
#include <QLoggingCategory>
#include <QSslCertificate>
#include <QSslKey>
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

TlsCertificate::TlsCertificate(QObject *parent) : QObject(parent) {}

bool TlsCertificate::read(const DaemonOptions &options, QList<QSslCertificate> *certificates,
                          TlsStream::Context *serverContext, QString *error)
{
    if (!QSslSocket::supportsSsl()) {
        *error = QStringLiteral("TLS is not available: Qt has no TLS backend (OpenSSL) to read certificates with");
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
    TlsStream::Context context = TlsStream::serverContext(options.tlsCertificateFile, options.tlsKeyFile, error);
    if (!context)
        return false;
    *certificates = chain;
    *serverContext = std::move(context);
    return true;
}

bool TlsCertificate::load(const DaemonOptions &options, QString *error)
{
    if (!read(options, &m_chain, &m_serverContext, error))
        return false;
    qCInfo(lcTls).noquote() << "serving HTTPS with" << describe();
    return true;
}

bool TlsCertificate::reload(const DaemonOptions &options, QString *error)
{
    QList<QSslCertificate> chain;
    TlsStream::Context context;
    if (!read(options, &chain, &context, error))
        return false;
    m_chain = chain;
    m_serverContext = std::move(context);
    qCInfo(lcTls).noquote() << "TLS certificate reloaded:" << describe();
    return true;
}

QString TlsCertificate::describe() const
{
    if (m_chain.isEmpty())
        return QStringLiteral("no certificate");
    const QSslCertificate &c = m_chain.first();
    const QString cn = c.subjectInfo(QSslCertificate::CommonName).join(QStringLiteral(", "));
    return QStringLiteral("certificate CN=%1, valid until %2%3")
        .arg(cn.isEmpty() ? QStringLiteral("(none)") : cn,
             c.expiryDate().toString(Qt::ISODate),
             c.expiryDate() < QDateTime::currentDateTimeUtc() ? QStringLiteral(" (EXPIRED)") : QString());
}

} // namespace prawmp
