// needs: praw-multiprocess
// The daemon process's life: the ready line, --help, a bind failure,
// SIGHUP reloading the config file under open connections, and SIGTERM
// letting requests in flight finish.
#include "DaemonTestKit.h"
#include "TestPorts.h"

#include <QFile>
#include <QTemporaryDir>

#include <csignal>

using namespace dtk;
using prawmp::test::FakeReddit;

namespace {

bool writeFile(const QString &path, const QByteArray &content)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return false;
    return f.write(content) == content.size();
}

} // namespace

class TestDaemonLifecycle : public QObject
{
    Q_OBJECT

private:
    FakeReddit m_reddit;
    QTemporaryDir m_dir;

    QStringList baseArgs() const { return unpacedDaemonArgs(m_reddit.port()); }

private slots:
    void initTestCase()
    {
        if (prawmp::test::daemonProgram().isEmpty())
            QSKIP("praw-multiprocess is not built");
        QVERIFY(m_reddit.listen());
        QVERIFY(m_dir.isValid());
    }
    void init() { m_reddit.clearLog(); }

    void printsTheListeningLine()
    {
        // A port chosen up front: the line must name it and the address.
        const quint16 wanted = prawmp::test::freeLoopbackPort();
        QVERIFY(wanted != 0);
        ProcessFixture daemon;
        QVERIFY2(daemon.start(prawmp::test::daemonProgram(),
                              baseArgs() + QStringList{"--addr", "127.0.0.1", "--port", QString::number(wanted)}),
                 qPrintable(daemon.describe()));
        const QStringList stdoutLines = daemon.standardOutput().split(u'\n', Qt::SkipEmptyParts);
        const QString expected = QStringLiteral("Listening on 127.0.0.1 port %1").arg(wanted);
        QVERIFY2(stdoutLines.contains(expected), qPrintable(daemon.describe()));
        QCOMPARE(daemon.port(), wanted);
        QVERIFY(prawmp::test::isPortOpen(wanted));
        QCOMPARE(fetch(wanted, get("/_mp/health")).status, 200);
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));

        // Default address (localhost) and --port 0: the real port is printed.
        ProcessFixture any;
        QVERIFY2(startDaemon(any, baseArgs()), qPrintable(any.describe()));
        QVERIFY(any.port() != 0);
        QVERIFY2(QRegularExpression(QStringLiteral("^Listening on (127\\.0\\.0\\.1|localhost|::1) port %1$").arg(any.port()))
                     .match(any.standardOutput().trimmed()).hasMatch(),
                 qPrintable(any.describe()));
        QCOMPARE(fetch(any.port(), get("/_mp/health")).status, 200);
        QVERIFY(any.stop());
    }

    void helpListsEveryContractOption()
    {
        ProcessFixture help;
        QVERIFY(help.launch(prawmp::test::daemonProgram(), {"--help"}));
        QVERIFY(help.waitForFinished());
        QCOMPARE(help.exitStatus(), QProcess::NormalExit);
        QCOMPARE(help.exitCode(), 0);
        const QString text = help.standardOutput();
        const QStringList contract{"addr", "port", "upstream", "route", "allow-host", "delay", "rate-mode",
                                   "cache-ttl", "cache-max-bytes", "upstream-timeout", "max-clients", "auth-token",
                                   "insecure", "redis", "config", "log-requests", "max-queue-wait", "help", "version"};
        for (const QString &name : contract) {
            const QRegularExpression option(QStringLiteral("(^|[\\s,])--%1([\\s=<]|$)")
                                                .arg(QRegularExpression::escape(name)),
                                            QRegularExpression::MultilineOption);
            QVERIFY2(option.match(text).hasMatch(), qPrintable(QStringLiteral("--%1 missing from:\n%2").arg(name, text)));
        }
        QVERIFY(text.contains(QStringLiteral("adaptive")) && text.contains(QStringLiteral("fixed")));

        ProcessFixture version;
        QVERIFY(version.launch(prawmp::test::daemonProgram(), {"--version"}));
        QVERIFY(version.waitForFinished());
        QCOMPARE(version.exitCode(), 0);
        QVERIFY2(version.standardOutput().contains(QStringLiteral(PRAWMP_VERSION)), qPrintable(version.describe()));

        // An unknown option is an error, not a daemon.
        ProcessFixture wrong;
        QVERIFY(wrong.launch(prawmp::test::daemonProgram(), {"--no-such-option"}));
        QVERIFY(wrong.waitForFinished());
        QVERIFY(wrong.exitCode() != 0);
        QVERIFY(wrong.standardError().contains(QStringLiteral("no-such-option")));
    }

    void bindFailureSaysWhyAndExits1()
    {
        QTcpServer squatter;
        QVERIFY(squatter.listen(QHostAddress::LocalHost, 0));
        const QString port = QString::number(squatter.serverPort());
        for (const QStringList &addr : {QStringList{"--addr", "127.0.0.1"}, QStringList{}}) {
            ProcessFixture daemon;
            QVERIFY(!daemon.start(prawmp::test::daemonProgram(), baseArgs() + addr + QStringList{"--port", port}, 5000));
            QVERIFY(daemon.waitForFinished());
            QVERIFY2(daemon.exitStatus() == QProcess::NormalExit && daemon.exitCode() == 1,
                     qPrintable(daemon.describe()));
            QVERIFY2(daemon.standardError().contains(port)
                         && daemon.standardError().contains(QStringLiteral("in use"), Qt::CaseInsensitive),
                     qPrintable(daemon.describe()));
            QVERIFY(!daemon.standardOutput().contains(QStringLiteral("Listening on")));
        }
        // Not an IP address at all.
        ProcessFixture bogus;
        QVERIFY(!bogus.start(prawmp::test::daemonProgram(), baseArgs() + QStringList{"--addr", "not an address"}, 5000));
        QVERIFY(bogus.waitForFinished());
        QVERIFY(bogus.exitCode() != 0);
        QVERIFY(!bogus.standardError().isEmpty());
    }

    void sighupReloadsTheConfigKeepingConnections()
    {
        const QString config = m_dir.filePath(QStringLiteral("reload.ini"));
        const QByteArray common = "upstream = " + upstreamArg(m_reddit.port()).toLatin1()
                                  + "\nrate-mode = fixed\ndelay = 0\n";
        QVERIFY(writeFile(config, common + "cache-ttl = 60\n"));
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, {"--config", config}), qPrintable(daemon.describe()));
        const quint16 p = daemon.port();

        RawClient client(p); // one keep-alive connection for the whole test
        QVERIFY(client.waitConnected());
        RawClient idle(p);   // and one that only waits
        QVERIFY(idle.waitConnected());
        QCOMPARE(client.request(get("/r/hup/about.json")).header("x-cache"), QByteArray("MISS"));
        QCOMPARE(client.request(get("/r/hup/about.json")).header("x-cache"), QByteArray("HIT"));
        QCOMPARE(client.request(get("/_mp/stats")).json()["cache"].toObject()["ttlSeconds"].toDouble(), 60.0);
        QElapsedTimer sinceStore;
        sinceStore.start();

        QVERIFY(writeFile(config, common + "cache-ttl = 1\n"));
        QVERIFY(daemon.sendSignal(SIGHUP));
        const auto ttl = [&] { return client.request(get("/_mp/stats")).json()["cache"].toObject()["ttlSeconds"].toDouble(); };
        QTRY_COMPARE_WITH_TIMEOUT(ttl(), 1.0, 3000);
        // Entries are kept, but judged by the new TTL.
        QTest::qWait(int(std::max<qint64>(0, 1100 - sinceStore.elapsed())));
        const RawResponse expired = client.request(get("/r/hup/about.json"));
        QCOMPARE(expired.header("x-cache"), QByteArray("MISS"));
        QCOMPARE(client.request(get("/r/hup/about.json")).header("x-cache"), QByteArray("HIT"));
        QTest::qWait(1100);
        QCOMPARE(client.request(get("/r/hup/about.json")).header("x-cache"), QByteArray("MISS"));
        QCOMPARE(m_reddit.targetCount("/r/hup/about.json"), 3);

        // A broken file is refused; the daemon keeps its configuration.
        QVERIFY(writeFile(config, common + "cache-ttl = soon\n"));
        const qsizetype from = daemon.lineCount();
        QVERIFY(daemon.sendSignal(SIGHUP));
        QVERIFY2(daemon.waitForOutput(QRegularExpression(QStringLiteral("reload failed")), 3000, from).hasMatch(),
                 qPrintable(daemon.describe()));
        QCOMPARE(ttl(), 1.0);

        // Nobody was disconnected.
        QVERIFY(client.isConnected());
        QVERIFY(idle.isConnected());
        QCOMPARE(idle.request(get("/_mp/health")).status, 200);
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }

    void sigtermLetsRequestsInFlightFinish()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs()), qPrintable(daemon.describe()));
        const quint16 p = daemon.port();
        std::vector<std::unique_ptr<RawClient>> busy;
        for (int i = 0; i < 3; ++i) {
            busy.push_back(std::make_unique<RawClient>(p));
            QVERIFY(busy.back()->waitConnected());
            busy.back()->write(get("/r/slow" + QByteArray::number(i) + "/hot.json?__delay_ms=1200"));
        }
        RawClient idle(p);
        QVERIFY(idle.waitConnected());
        QCOMPARE(idle.request(get("/_mp/health")).status, 200);
        QTRY_COMPARE_WITH_TIMEOUT(m_reddit.requestCount(), 3, 3000); // in flight upstream

        QElapsedTimer timer;
        timer.start();
        QVERIFY(daemon.sendSignal(SIGTERM));
        // Stops accepting at once; the idle keep-alive connection is closed.
        QTRY_VERIFY_WITH_TIMEOUT(!prawmp::test::isPortOpen(p, QHostAddress::LocalHost, 200), 1000);
        QVERIFY(idle.waitForClosed(1000));
        // The requests in flight get their whole answers.
        for (auto &c : busy) {
            QVERIFY(c->waitForResponses(1, 5000));
            const RawResponse &r = c->responses().first();
            QVERIFY2(r.status == 200, qPrintable(r.describe()));
            QCOMPARE(r.json()["data"].toObject()["children"].toArray().size(), 25);
        }
        QVERIFY(daemon.waitForFinished(5000));
        QVERIFY2(daemon.exitStatus() == QProcess::NormalExit && daemon.exitCode() == 0, qPrintable(daemon.describe()));
        QVERIFY2(timer.elapsed() >= 900, qPrintable(QString::number(timer.elapsed()))); // it did wait for them
    }

    void sigtermWhenIdleExitsAtOnce()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs()), qPrintable(daemon.describe()));
        RawClient idle(daemon.port());
        QVERIFY(idle.waitConnected());
        QCOMPARE(idle.request(get("/r/idle/about.json")).status, 200);
        QElapsedTimer timer;
        timer.start();
        QVERIFY2(daemon.stop(3000), qPrintable(daemon.describe()));
        QVERIFY2(timer.elapsed() < 1000, qPrintable(QString::number(timer.elapsed())));
        // SIGINT does the same.
        ProcessFixture second;
        QVERIFY2(startDaemon(second, baseArgs()), qPrintable(second.describe()));
        QVERIFY(second.sendSignal(SIGINT));
        QVERIFY(second.waitForFinished(3000));
        QCOMPARE(second.exitCode(), 0);
    }
};

QTEST_GUILESS_MAIN(TestDaemonLifecycle)
#include "tst_daemon_lifecycle.moc"
