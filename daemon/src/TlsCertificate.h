#pragma once
#include "DaemonOptions.h"
#include "TlsStream.h"

#include <QList>
#include <QObject>
#include <QSslCertificate>

namespace prawmp {

// The daemon's HTTPS certificate and key (--tls-cert, --tls-key), checked
// with a one-line reason for what is wrong, and made into the OpenSSL
// context the serving threads' TLS sessions (TlsStream) use. A daemon
// reachable over a network then does not expose proxy tokens and Reddit
// credentials in clear. Owned by ProxyServer.
class TlsCertificate : public QObject
{
    Q_OBJECT
public:
    explicit TlsCertificate(QObject *parent = nullptr);

    // Reads the PEM certificate chain and private key the options name.
    // False with a one-line reason (never the key's contents).
    bool load(const DaemonOptions &options, QString *error);
    // SIGHUP: re-reads the files (a renewed certificate); new connections
    // get it. On error the current one stays.
    bool reload(const DaemonOptions &options, QString *error);

    // For the serving threads' OpenSSL sessions.
    TlsStream::Context serverContext() const { return m_serverContext; }

    // What the loaded certificate is for, for the log: "CN=..., expires ...".
    QString describe() const;

private:
    static bool read(const DaemonOptions &options, QList<QSslCertificate> *chain,
                     TlsStream::Context *serverContext, QString *error);

    QList<QSslCertificate> m_chain;
    TlsStream::Context m_serverContext;
};

} // namespace prawmp
