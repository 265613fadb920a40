#include "TlsStream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace prawmp {

namespace {

// What OpenSSL's error queue says, for the log, then the queue emptied.
QString takeErrors()
{
    QString text;
    while (const unsigned long code = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        if (!text.isEmpty())
            text += QStringLiteral("; ");
        text += QString::fromLatin1(buffer);
    }
    return text;
}

} // namespace

TlsStream::Context TlsStream::serverContext(const QString &certificateFile, const QString &keyFile, QString *error)
{
    ERR_clear_error();
    Context context(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
    if (!context) {
        *error = QStringLiteral("cannot create a TLS context: %1").arg(takeErrors());
        return {};
    }
    SSL_CTX *ctx = context.get();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // Writes go out as the socket takes them, from buffers that may move
    // between retries (a worker's output buffer grows while it waits).
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    if (SSL_CTX_use_certificate_chain_file(ctx, certificateFile.toLocal8Bit().constData()) != 1) {
        *error = QStringLiteral("cannot use the TLS certificate %1: %2").arg(certificateFile, takeErrors());
        return {};
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, keyFile.toLocal8Bit().constData(), SSL_FILETYPE_PEM) != 1) {
        *error = QStringLiteral("cannot use the TLS key %1: %2").arg(keyFile, takeErrors());
        return {};
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        *error = QStringLiteral("the key in %1 does not belong to the certificate in %2").arg(keyFile, certificateFile);
        ERR_clear_error();
        return {};
    }
    return context;
}

TlsStream::TlsStream(const Context &context, int fd)
    : m_ssl(SSL_new(context.get()))
{
    SSL_set_fd(m_ssl, fd);
    SSL_set_accept_state(m_ssl);
}

TlsStream::~TlsStream()
{
    SSL_free(m_ssl);
}

TlsStream::Status TlsStream::status(int result)
{
    switch (SSL_get_error(m_ssl, result)) {
    case SSL_ERROR_WANT_READ:
        return Status::WantRead;
    case SSL_ERROR_WANT_WRITE:
        return Status::WantWrite;
    case SSL_ERROR_ZERO_RETURN:
        return Status::Closed;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return result == 0 ? Status::Closed : Status::Failed; // EOF without close_notify, or errno
    default:
        ERR_clear_error();
        return Status::Failed;
    }
}

TlsStream::Status TlsStream::handshake()
{
    if (m_handshakeDone)
        return Status::Done;
    const int r = SSL_do_handshake(m_ssl);
    if (r == 1) {
        m_handshakeDone = true;
        return Status::Done;
    }
    const Status s = status(r);
    return s == Status::Closed ? Status::Failed : s;
}

TlsStream::Status TlsStream::readAvailable(QByteArray &into)
{
    constexpr qsizetype kChunk = 16 * 1024; // one TLS record
    for (;;) {
        const qsizetype before = into.size();
        into.resize(before + kChunk);
        const int n = SSL_read(m_ssl, into.data() + before, int(kChunk));
        if (n > 0) {
            into.resize(before + n);
            continue;
        }
        into.resize(before);
        const Status s = status(n);
        return s == Status::WantRead || s == Status::WantWrite ? Status::Done : s;
    }
}

TlsStream::Status TlsStream::write(const char *data, qsizetype size, qsizetype *written)
{
    *written = 0;
    while (*written < size) {
        const int chunk = int(std::min<qsizetype>(size - *written, 1 << 30));
        const int n = SSL_write(m_ssl, data + *written, chunk);
        if (n > 0) {
            *written += n;
            continue;
        }
        return status(n);
    }
    return Status::Done;
}

void TlsStream::shutdown()
{
    if (m_handshakeDone)
        SSL_shutdown(m_ssl);
    ERR_clear_error();
}

} // namespace prawmp
