#include "UnixSignals.h"

#include <QLoggingCategory>
#include <QSocketNotifier>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace prawmp {

Q_LOGGING_CATEGORY(lcSignals, "prawmp.signals", QtInfoMsg)

namespace {

// Process-wide, as the handlers are: [0] written by the handler, [1] read.
int g_fds[2] = {-1, -1};
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
struct sigaction g_previous[std::size(kSignals)];

extern "C" void onSignal(int signo)
{
    const int savedErrno = errno;
    const unsigned char byte = static_cast<unsigned char>(signo);
    // Non-blocking: if the pipe is somehow full, the signal is dropped
    // rather than the handler blocking.
    [[maybe_unused]] const ssize_t n = ::write(g_fds[0], &byte, 1);
    errno = savedErrno;
}

bool setNonBlockingCloexec(int fd)
{
    const int flags = ::fcntl(fd, F_GETFL);
    return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0
        && ::fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}

} // namespace

UnixSignals::UnixSignals(QObject *parent)
    : QObject(parent)
{
    if (g_fds[0] != -1) {
        m_error = QStringLiteral("another UnixSignals object is active");
        qCWarning(lcSignals) << m_error;
        return;
    }
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
        m_error = QStringLiteral("socketpair: %1").arg(QString::fromLocal8Bit(std::strerror(errno)));
        qCWarning(lcSignals) << m_error;
        return;
    }
    if (!setNonBlockingCloexec(fds[0]) || !setNonBlockingCloexec(fds[1])) {
        m_error = QStringLiteral("fcntl: %1").arg(QString::fromLocal8Bit(std::strerror(errno)));
        ::close(fds[0]);
        ::close(fds[1]);
        return;
    }
    g_fds[0] = fds[0];
    g_fds[1] = fds[1];

    m_notifier = new QSocketNotifier(g_fds[1], QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &UnixSignals::readSignals);

    struct sigaction action = {};
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (std::size_t i = 0; i < std::size(kSignals); ++i) {
        if (::sigaction(kSignals[i], &action, &g_previous[i]) != 0) {
            m_error = QStringLiteral("sigaction: %1").arg(QString::fromLocal8Bit(std::strerror(errno)));
            qCWarning(lcSignals) << m_error;
        }
    }
}

UnixSignals::~UnixSignals()
{
    if (!m_notifier)
        return;
    for (std::size_t i = 0; i < std::size(kSignals); ++i)
        ::sigaction(kSignals[i], &g_previous[i], nullptr);
    delete m_notifier;
    ::close(g_fds[0]);
    ::close(g_fds[1]);
    g_fds[0] = g_fds[1] = -1;
}

bool UnixSignals::isValid() const
{
    return m_notifier && m_error.isEmpty();
}

QString UnixSignals::errorString() const
{
    return m_error;
}

void UnixSignals::readSignals()
{
    unsigned char buffer[64];
    for (;;) {
        const ssize_t n = ::read(g_fds[1], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; ++i) {
            const int signo = buffer[i];
            qCDebug(lcSignals) << "signal" << signo;
            if (signo == SIGHUP)
                emit reloadRequested();
            else
                emit terminateRequested(signo);
        }
    }
}

} // namespace prawmp
