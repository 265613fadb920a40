#pragma once
#include <QObject>
#include <QProcess>
#include <QProcessEnvironment>
#include <QRegularExpression>
#include <QString>
#include <QStringList>
#include <QUrl>

#include <functional>

namespace prawmp::test {

// One program (daemon, fake-reddit, client...) started by a test as a real
// process. start() waits, running the event loop, for the "Listening on
// ADDR port PORT" line the programs print once ready and exposes the port.
// Output is captured for failure messages (describe()). The destructor
// always cleans up: SIGTERM, then SIGKILL; on Linux the child also gets
// SIGKILL if the test process dies, so a crashed test leaves nothing behind.
//
//   ProcessFixture reddit;
//   QVERIFY2(reddit.start(fakeRedditProgram(), {"--port", "0"}), qPrintable(reddit.describe()));
//   ... reddit.port() ...
//   QVERIFY2(reddit.stop(), qPrintable(reddit.describe()));
class ProcessFixture : public QObject
{
    Q_OBJECT
public:
    explicit ProcessFixture(QObject *parent = nullptr);
    ~ProcessFixture() override;

    // Before start(). The environment defaults to the test's own.
    void setEnvironment(const QProcessEnvironment &environment);
    void setEnv(const QString &name, const QString &value);
    void setWorkingDirectory(const QString &directory);
    // The line that means "ready"; the last capture is the port, capture 1
    // the host when there are two.
    void setReadyPattern(const QRegularExpression &pattern);
    // Copy every output line to the test's stderr as it arrives
    // (default: on when PRAWMP_TEST_ECHO=1 in the environment).
    void setEcho(bool echo) { m_echo = echo; }

    // Starts the program and waits for the ready line. False when it
    // cannot start, exits first, or is not ready within timeoutMs;
    // errorString()/describe() say why. A failed start leaves no process.
    bool start(const QString &program, const QStringList &arguments = {}, int timeoutMs = 10'000);
    // Starts without waiting for a ready line (clients, one-shot commands).
    bool launch(const QString &program, const QStringList &arguments = {});
    bool waitForReady(int timeoutMs = 10'000);
    // Waits until a complete output line (stdout or stderr) at or after
    // line index `fromLine` matches; returns the match (no match on
    // timeout or exit). lineCount() gives the index to wait from.
    QRegularExpressionMatch waitForOutput(const QRegularExpression &pattern, int timeoutMs = 10'000,
                                          qsizetype fromLine = 0);
    // Waits for the process to end by itself.
    bool waitForFinished(int timeoutMs = 10'000);

    // SIGTERM and wait; SIGKILL if it has not exited in time. True when it
    // exited by itself within timeoutMs after SIGTERM with status 0.
    bool stop(int timeoutMs = 5'000);
    // SIGKILL and wait.
    void kill();
    // Any signal (SIGHUP for reload...). False when not running.
    bool sendSignal(int signal);

    bool isRunning() const;
    qint64 pid() const;
    bool isReady() const { return m_ready; }
    QString host() const { return m_host; }   // as printed in the ready line
    quint16 port() const { return m_port; }
    QUrl baseUrl() const;                     // http://HOST:PORT/ (127.0.0.1 for "localhost")
    QString program() const { return m_program; }
    QStringList arguments() const { return m_arguments; }

    int exitCode() const;
    QProcess::ExitStatus exitStatus() const;

    QString standardOutput() const { return m_stdout; }
    QString standardError() const { return m_stderr; }
    // Complete lines of both channels in arrival order.
    QStringList lines() const { return m_lines; }
    qsizetype lineCount() const { return m_lines.size(); }
    QString errorString() const { return m_errorString; }
    // Program, arguments, state, exit status, error and the last output
    // lines: the message for QVERIFY2 when something went wrong.
    QString describe(int lastLines = 40) const;

    QProcess *process() { return &m_process; }

signals:
    void lineReceived(const QString &line, QProcess::ProcessChannel channel);
    void ready(quint16 port);
    void finished(int exitCode, QProcess::ExitStatus status);

private:
    bool waitUntil(const std::function<bool()> &done, int timeoutMs);
    void readChannel(QProcess::ProcessChannel channel);
    void flushPartialLines();
    void addLine(const QString &line, QProcess::ProcessChannel channel);
    void reset();

    QProcess m_process;
    QProcessEnvironment m_environment;
    QRegularExpression m_readyPattern;
    QString m_program;
    QStringList m_arguments;
    QString m_stdout;
    QString m_stderr;
    QByteArray m_partial[2];
    QStringList m_lines;
    QString m_errorString;
    QString m_host;
    quint16 m_port = 0;
    bool m_ready = false;
    bool m_echo = false;
    bool m_started = false;
};

} // namespace prawmp::test
