#include "LocalDaemon.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <QStandardPaths>

namespace prawmp::gui {

namespace {
constexpr int kKeptLines = 20;
constexpr int kStopGraceMs = 3000;
} // namespace

LocalDaemon::LocalDaemon(QObject *parent) : QObject(parent)
{
    m_process.setProcessChannelMode(QProcess::MergedChannels);
    connect(&m_process, &QProcess::readyReadStandardOutput, this, [this] {
        while (m_process.canReadLine()) {
            const QString line = QString::fromLocal8Bit(m_process.readLine()).trimmed();
            m_output.append(line);
            if (m_output.size() > kKeptLines)
                m_output.removeFirst();
            static const QRegularExpression ready(QStringLiteral("^Listening on (\\S+) port (\\d+)"));
            const QRegularExpressionMatch m = ready.match(line);
            if (m.hasMatch())
                emit listening(quint16(m.captured(2).toUInt()));
        }
    });
    connect(&m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart)
            emit failed(tr("Cannot start %1: %2").arg(m_process.program(), m_process.errorString()));
    });
    connect(&m_process, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
        if (m_stopping) {
            m_stopping = false;
            emit stopped();
            return;
        }
        const QString last = m_output.isEmpty() ? QString() : m_output.last();
        emit failed(status == QProcess::CrashExit
                        ? tr("The local daemon crashed.")
                        : tr("The local daemon exited (status %1)%2").arg(code).arg(last.isEmpty() ? QStringLiteral(".")
                                                                                                   : QStringLiteral(": ") + last));
    });
}

LocalDaemon::~LocalDaemon()
{
    if (m_process.state() != QProcess::NotRunning) {
        m_process.disconnect(this);
        m_process.terminate();
        // At exit only: give in-flight requests a moment, then QProcess kills it.
        m_process.waitForFinished(kStopGraceMs);
    }
}

QString LocalDaemon::findProgram()
{
    const QString name = QStringLiteral("praw-multiprocess");
    const QString dir = QCoreApplication::applicationDirPath();
    for (const QString &candidate : {dir + QLatin1Char('/') + name, dir + QStringLiteral("/../daemon/") + name,
                                     dir + QStringLiteral("/../../daemon/") + name}) {
        const QFileInfo info(candidate);
        if (info.isFile() && info.isExecutable())
            return QDir::cleanPath(info.absoluteFilePath());
    }
    return QStandardPaths::findExecutable(name);
}

bool LocalDaemon::start(const QString &host, quint16 port)
{
    if (isRunning())
        return true;
    const QString prog = program();
    if (prog.isEmpty()) {
        emit failed(tr("praw-multiprocess was not found next to the dashboard nor in PATH."));
        return false;
    }
    m_output.clear();
    m_stopping = false;
    QStringList args{QStringLiteral("--addr"), host, QStringLiteral("--port"), QString::number(port)};
    args += m_extraArguments;
    m_process.start(prog, args);
    return true;
}

void LocalDaemon::stop()
{
    if (!isRunning())
        return;
    m_stopping = true;
    m_process.terminate();
}

bool LocalDaemon::isRunning() const
{
    return m_process.state() != QProcess::NotRunning;
}

qint64 LocalDaemon::processId() const
{
    return m_process.processId();
}

} // namespace prawmp::gui
