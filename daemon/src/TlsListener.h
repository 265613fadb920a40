#pragma once
#include "DaemonOptions.h"
#include "TlsStream.h"

#include <QList>
#include <QObject>
#include <QPointer>
#include <QSslConfiguration>

class QSslServer;
class QTcpServer;

namespace prawmp {

// The HTTPS side of the daemon (--tls-cert, --tls-key): Qt's QSslServer
// listeners that hand a connection over, as QTcpServer does, once its TLS
// handshake is done, so ProxyServer and HttpConnection serve it like any
// other. A daemon reachable over a network then does not expose proxy tokens
// and Reddit credentials in clear. Owns the certificate and key as loaded;
// owned by ProxyServer.
class TlsListener : public QObject
{
    Q_OBJECT
public:
    explicit TlsListener(QObject *parent = nullptr);

    // Reads the PEM certificate chain and private key the options name.
    // False with a one-line reason (never the key's contents).
    bool load(const DaemonOptions &options, QString *error);
    // A server that will speak TLS with what load() read (not listening yet).
    QTcpServer *createServer(QObject *parent);
    // SIGHUP: re-reads the files (a renewed certificate); new connections
    // get it. On error the servers keep the certificate they have.
    bool reload(const DaemonOptions &options, QString *error);

    // The same certificate and key for the serving threads' OpenSSL sessions.
    TlsStream::Context serverContext() const { return m_serverContext; }

    // What the loaded certificate is for, for the log: "CN=..., expires ...".
    QString describe() const;

private:
    static bool read(const DaemonOptions &options, QSslConfiguration *configuration,
                     TlsStream::Context *serverContext, QString *error);

    QSslConfiguration m_configuration;
    TlsStream::Context m_serverContext;
    int m_handshakeTimeoutMs = 10'000;
    QList<QPointer<QSslServer>> m_servers;
};

} // namespace prawmp
