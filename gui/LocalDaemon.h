#pragma once
#include <QObject>
#include <QProcess>
#include <QStringList>

namespace prawmp::gui {

// A praw-multiprocess the dashboard started itself on this machine (the
// user asked for it when no daemon answered on localhost). It lives as long
// as the dashboard: closing the window stops it (SIGTERM, so in-flight
// requests finish).
class LocalDaemon : public QObject
{
    Q_OBJECT
public:
    explicit LocalDaemon(QObject *parent = nullptr);
    ~LocalDaemon() override;

    // Next to the dashboard, then the build tree's daemon/, then PATH.
    static QString findProgram();
    void setProgram(const QString &program) { m_program = program; }
    QString program() const { return m_program.isEmpty() ? findProgram() : m_program; }

    // Starts `praw-multiprocess --addr HOST --port PORT` (plus extraArguments).
    bool start(const QString &host, quint16 port);
    void setExtraArguments(const QStringList &arguments) { m_extraArguments = arguments; }
    void stop();
    bool isRunning() const;
    qint64 processId() const;
    QString lastOutput() const { return m_output.join(QLatin1Char('\n')); }

signals:
    void listening(quint16 port);
    // It could not start, or it ended while we thought it running.
    void failed(const QString &message);
    void stopped();

private:
    QProcess m_process;
    QString m_program;
    QStringList m_extraArguments;
    QStringList m_output; // last lines, for the error message
    bool m_stopping = false;
};

} // namespace prawmp::gui
