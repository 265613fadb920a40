#pragma once
#include <QByteArray>

#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace prawmp::test {

// An event-stream subscriber that reads only when told to: a plain socket
// whose receive buffer is made small before it connects, so the kernel
// takes little of what the server sends it and the rest stays the
// server's to hold (what its slow-subscriber limits measure).
class StalledSubscriber
{
public:
    StalledSubscriber() = default;
    StalledSubscriber(const StalledSubscriber &) = delete;
    StalledSubscriber &operator=(const StalledSubscriber &) = delete;
    ~StalledSubscriber()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }

    // Connects to 127.0.0.1:`port` and sends `request` (the subscription).
    bool subscribe(quint16 port, const QByteArray &request)
    {
        m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        const int size = 4096;
        ::setsockopt(m_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(m_fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0)
            return false;
        ::fcntl(m_fd, F_SETFL, ::fcntl(m_fd, F_GETFL) | O_NONBLOCK);
        sockaddr_in local{};
        socklen_t length = sizeof local;
        ::getsockname(m_fd, reinterpret_cast<sockaddr *>(&local), &length);
        m_localPort = ntohs(local.sin_port);
        return ::send(m_fd, request.constData(), size_t(request.size()), 0) == request.size();
    }

    quint16 localPort() const { return m_localPort; }

    // Takes what the kernel holds now into `raw`; false once the server
    // closed (EOF or reset).
    bool read()
    {
        char buffer[65536];
        for (int i = 0; i < 4096; ++i) {
            const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, 0);
            if (n > 0) {
                raw.append(buffer, n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return true;
            return false;
        }
        return true;
    }

    QByteArray raw;

private:
    int m_fd = -1;
    quint16 m_localPort = 0;
};

} // namespace prawmp::test
