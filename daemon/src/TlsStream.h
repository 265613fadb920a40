#pragma once
#include <QByteArray>
#include <QString>

#include <memory>

struct ssl_ctx_st;
struct ssl_st;

namespace prawmp {

// TLS on a non-blocking socket for the serving threads, with OpenSSL (the
// library Qt's own TLS backend loads): what a worker needs to read and write
// an HTTPS connection itself. The main thread's connections keep QSslSocket.
class TlsStream
{
public:
    using Context = std::shared_ptr<ssl_ctx_st>;

    // A server context with the PEM certificate chain and private key of
    // these files: TLS 1.2 or later, no client certificates. Null, with a
    // one-line reason, if they do not load (never the key's bytes).
    static Context serverContext(const QString &certificateFile, const QString &keyFile, QString *error);

    enum class Status {
        Done,      // all there was to do is done
        WantRead,  // wait until the socket is readable, then call again
        WantWrite, // wait until the socket is writable, then call again
        Closed,    // the peer ended the session (close_notify or EOF)
        Failed,    // a TLS or socket error: close the connection
    };

    TlsStream(const Context &context, int fd);
    ~TlsStream();
    TlsStream(const TlsStream &) = delete;
    TlsStream &operator=(const TlsStream &) = delete;

    bool handshakeDone() const { return m_handshakeDone; }
    // Server side of the handshake; Done once it is complete.
    Status handshake();
    // Appends what the peer sent, decrypted, until the socket has no more
    // (Done), the peer ended the session (Closed) or it failed.
    Status readAvailable(QByteArray &into);
    // Encrypts and sends from `data`; `*written` bytes were taken (fewer
    // than `size` with WantWrite; call again with the rest).
    Status write(const char *data, qsizetype size, qsizetype *written);
    // Sends close_notify (best effort: the socket is non-blocking).
    void shutdown();

private:
    Status status(int result);

    ssl_st *m_ssl = nullptr;
    bool m_handshakeDone = false;
};

} // namespace prawmp
