#include "ProcessFixture.h"

#include <QDeadlineTimer>
#include <QEventLoop>
#include <QFileInfo>
#include <QTimer>

#include <csignal>
#include <cstdio>

#ifdef Q_OS_LINUX
#  include <sys/prctl.h>
#endif
#ifdef Q_OS_UNIX
#  include <sys/types.h>
#  include <signal.h>
#endif

namespace prawmp::test {

// Runs the event loop until done() or the timeout. Wakes on the process's
// signals, so a line is seen as soon as it arrives (QTest::qWaitFor would
// poll every 10 ms).
bool ProcessFixture::waitUntil(const std::function<bool()> &done, int timeoutMs)
{
    const QDeadlineTimer deadline(timeoutMs);
    while (!done()) {
        const qint64 remaining = deadline.remainingTime();
        if (remaining <= 0)
            return false;
        QEventLoop loop;
        QTimer tick;
        tick.setSingleShot(true);
        connect(&tick, &QTimer::timeout, &loop, &QEventLoop::quit);
        connect(this, &ProcessFixture::lineReceived, &loop, &QEventLoop::quit);
        connect(&m_process, &QProcess::stateChanged, &loop, &QEventLoop::quit);
        connect(&m_process, &QProcess::finished, &loop, &QEventLoop::quit);
        tick.start(int(std::min<qint64>(remaining, 50)));
        loop.exec();
    }
    return true;
}

ProcessFixture::ProcessFixture(QObject *parent)
    : QObject(parent)
    , m_environment(QProcessEnvironment::systemEnvironment())
    , m_readyPattern(QStringLiteral(R"(Listening on (\S+) port (\d+))"))
    , m_echo(qEnvironmentVariableIntValue("PRAWMP_TEST_ECHO") == 1)
{
    m_process.setProcessChannelMode(QProcess::SeparateChannels);
    connect(&m_process, &QProcess::readyReadStandardOutput, this,
            [this] { readChannel(QProcess::StandardOutput); });
    connect(&m_process, &QProcess::readyReadStandardError, this,
            [this] { readChannel(QProcess::StandardError); });
    connect(&m_process, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
        readChannel(QProcess::StandardOutput);
        readChannel(QProcess::StandardError);
        flushPartialLines();
        emit finished(code, status);
    });
    connect(&m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart)
            m_errorString = QStringLiteral("failed to start: ") + m_process.errorString();
    });
#ifdef Q_OS_LINUX
    // The child dies with the test, even when the test crashes or is killed.
    m_process.setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
#endif
}

ProcessFixture::~ProcessFixture()
{
    if (m_process.state() != QProcess::NotRunning) {
        m_process.terminate();
        if (!m_process.waitForFinished(3000)) {
            m_process.kill();
            m_process.waitForFinished(3000);
        }
    }
    disconnect(&m_process, nullptr, this, nullptr);
}

void ProcessFixture::setEnvironment(const QProcessEnvironment &environment)
{
    m_environment = environment;
}

void ProcessFixture::setEnv(const QString &name, const QString &value)
{
    m_environment.insert(name, value);
}

void ProcessFixture::setWorkingDirectory(const QString &directory)
{
    m_process.setWorkingDirectory(directory);
}

void ProcessFixture::setReadyPattern(const QRegularExpression &pattern)
{
    m_readyPattern = pattern;
}

void ProcessFixture::reset()
{
    m_stdout.clear();
    m_stderr.clear();
    m_partial[0].clear();
    m_partial[1].clear();
    m_lines.clear();
    m_errorString.clear();
    m_host.clear();
    m_port = 0;
    m_ready = false;
}

bool ProcessFixture::launch(const QString &program, const QStringList &arguments)
{
    if (isRunning()) {
        m_errorString = QStringLiteral("already running");
        return false;
    }
    reset();
    m_program = program;
    m_arguments = arguments;
    if (program.isEmpty()) {
        m_errorString = QStringLiteral("no program given (not built?)");
        return false;
    }
    m_process.setProcessEnvironment(m_environment);
    m_process.start(program, arguments);
    // A loopback fork/exec: at most a moment.
    if (!m_process.waitForStarted(10'000)) {
        if (m_errorString.isEmpty())
            m_errorString = QStringLiteral("failed to start: ") + m_process.errorString();
        return false;
    }
    return true;
}

bool ProcessFixture::start(const QString &program, const QStringList &arguments, int timeoutMs)
{
    if (!launch(program, arguments))
        return false;
    if (waitForReady(timeoutMs))
        return true;
    // Leave nothing behind; keep the output for describe().
    if (isRunning())
        kill();
    return false;
}

bool ProcessFixture::waitForReady(int timeoutMs)
{
    waitUntil([this] { return m_ready || m_process.state() == QProcess::NotRunning; },
                    timeoutMs);
    if (m_ready)
        return true;
    if (m_process.state() == QProcess::NotRunning) {
        if (m_errorString.isEmpty()) {
            m_errorString = QStringLiteral("exited before it was ready (exit code %1, %2)")
                                .arg(m_process.exitCode())
                                .arg(m_process.exitStatus() == QProcess::NormalExit
                                         ? QStringLiteral("normal exit")
                                         : QStringLiteral("crashed"));
        }
    } else {
        m_errorString = QStringLiteral("no line matching /%1/ within %2 ms")
                            .arg(m_readyPattern.pattern())
                            .arg(timeoutMs);
    }
    return false;
}

QRegularExpressionMatch ProcessFixture::waitForOutput(const QRegularExpression &pattern,
                                                      int timeoutMs, qsizetype fromLine)
{
    QRegularExpressionMatch match;
    qsizetype next = std::max<qsizetype>(0, fromLine);
    auto scan = [&] {
        for (; next < m_lines.size(); ++next) {
            match = pattern.match(m_lines.at(next));
            if (match.hasMatch())
                return true;
        }
        return false;
    };
    waitUntil([&] { return scan() || m_process.state() == QProcess::NotRunning; },
                    timeoutMs);
    if (!match.hasMatch())
        scan(); // lines flushed at exit
    return match;
}

bool ProcessFixture::waitForFinished(int timeoutMs)
{
    if (m_process.state() == QProcess::NotRunning)
        return true;
    return waitUntil([this] { return m_process.state() == QProcess::NotRunning; },
                           timeoutMs);
}

bool ProcessFixture::stop(int timeoutMs)
{
    if (m_process.state() == QProcess::NotRunning) {
        return m_process.exitStatus() == QProcess::NormalExit && m_process.exitCode() == 0;
    }
    m_process.terminate();
    if (!waitForFinished(timeoutMs)) {
        m_errorString = QStringLiteral("did not exit within %1 ms of SIGTERM; killed").arg(timeoutMs);
        kill();
        return false;
    }
    if (m_process.exitStatus() != QProcess::NormalExit || m_process.exitCode() != 0) {
        m_errorString = QStringLiteral("SIGTERM: exit code %1, %2")
                            .arg(m_process.exitCode())
                            .arg(m_process.exitStatus() == QProcess::NormalExit
                                     ? QStringLiteral("normal exit")
                                     : QStringLiteral("crashed"));
        return false;
    }
    return true;
}

void ProcessFixture::kill()
{
    if (m_process.state() == QProcess::NotRunning)
        return;
    m_process.kill();
    if (!waitForFinished(5'000))
        m_process.waitForFinished(5'000);
}

bool ProcessFixture::sendSignal(int signal)
{
#ifdef Q_OS_UNIX
    const qint64 id = pid();
    return id > 0 && ::kill(pid_t(id), signal) == 0;
#else
    Q_UNUSED(signal);
    return false;
#endif
}

bool ProcessFixture::isRunning() const
{
    return m_process.state() != QProcess::NotRunning;
}

qint64 ProcessFixture::pid() const
{
    return m_process.processId();
}

QUrl ProcessFixture::baseUrl() const
{
    QString host = m_host;
    if (host.isEmpty() || host == u"localhost" || host == u"0.0.0.0" || host == u"*"
        || host == u"any")
        host = QStringLiteral("127.0.0.1");
    else if (host == u"::")
        host = QStringLiteral("::1");
    QUrl url;
    url.setScheme(QStringLiteral("http"));
    url.setHost(host);
    url.setPort(m_port);
    url.setPath(QStringLiteral("/"));
    return url;
}

int ProcessFixture::exitCode() const
{
    return m_process.exitCode();
}

QProcess::ExitStatus ProcessFixture::exitStatus() const
{
    return m_process.exitStatus();
}

QString ProcessFixture::describe(int lastLines) const
{
    QString text = QStringLiteral("%1 %2").arg(QFileInfo(m_program).fileName(),
                                                m_arguments.join(u' '));
    if (isRunning())
        text += QStringLiteral(" [running, pid %1]").arg(pid());
    else if (m_process.exitStatus() == QProcess::CrashExit)
        text += QStringLiteral(" [crashed]");
    else
        text += QStringLiteral(" [exited %1]").arg(m_process.exitCode());
    if (!m_errorString.isEmpty())
        text += QStringLiteral(": ") + m_errorString;
    const qsizetype from = std::max<qsizetype>(0, m_lines.size() - lastLines);
    text += QStringLiteral("\n--- output (%1 lines, last %2) ---\n")
                .arg(m_lines.size())
                .arg(m_lines.size() - from);
    for (qsizetype i = from; i < m_lines.size(); ++i)
        text += m_lines.at(i) + u'\n';
    for (const QByteArray &partial : m_partial) {
        if (!partial.isEmpty())
            text += QString::fromLocal8Bit(partial) + QStringLiteral(" [no newline]\n");
    }
    text += QStringLiteral("---");
    return text;
}

void ProcessFixture::readChannel(QProcess::ProcessChannel channel)
{
    const QByteArray data = channel == QProcess::StandardOutput ? m_process.readAllStandardOutput()
                                                                : m_process.readAllStandardError();
    if (data.isEmpty())
        return;
    (channel == QProcess::StandardOutput ? m_stdout : m_stderr) += QString::fromLocal8Bit(data);
    QByteArray &partial = m_partial[channel == QProcess::StandardOutput ? 0 : 1];
    partial += data;
    qsizetype newline;
    while ((newline = partial.indexOf('\n')) >= 0) {
        QByteArray line = partial.left(newline);
        partial.remove(0, newline + 1);
        if (line.endsWith('\r'))
            line.chop(1);
        addLine(QString::fromLocal8Bit(line), channel);
    }
}

void ProcessFixture::flushPartialLines()
{
    for (int i = 0; i < 2; ++i) {
        if (!m_partial[i].isEmpty()) {
            const QString line = QString::fromLocal8Bit(m_partial[i]);
            m_partial[i].clear();
            addLine(line, i == 0 ? QProcess::StandardOutput : QProcess::StandardError);
        }
    }
}

void ProcessFixture::addLine(const QString &line, QProcess::ProcessChannel channel)
{
    m_lines.append(line);
    if (m_echo) {
        std::fprintf(stderr, "[%s%s] %s\n", qPrintable(QFileInfo(m_program).fileName()),
                     channel == QProcess::StandardError ? " err" : "", qPrintable(line));
        std::fflush(stderr);
    }
    emit lineReceived(line, channel);
    if (!m_ready) {
        const QRegularExpressionMatch match = m_readyPattern.match(line);
        if (match.hasMatch()) {
            // Last capture is the port; a first one, if any, the host.
            const int last = match.lastCapturedIndex();
            m_host = last >= 2 ? match.captured(1) : QString();
            m_port = quint16(match.captured(last).toUInt());
            m_ready = true;
            emit ready(m_port);
        }
    }
}

} // namespace prawmp::test
