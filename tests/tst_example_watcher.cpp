// needs: praw-multiprocess fake-reddit subreddit-watcher
// The example app (examples/subreddit-watcher, Qt Widgets, written against
// QNetworkAccessManager) run offscreen against the daemon and the fake
// upstream: its refreshes share the daemon's cache (the second is a HIT the
// upstream never sees) and its window shows the budget; with --plain (the
// one line undone) every refresh goes to the upstream itself.
#include "DaemonTestKit.h"
#include "ProcessFixture.h"
#include "TestPrograms.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QProcess>
#include <QRegularExpression>
#include <QTest>

using prawmp::test::FakeReddit;
using prawmp::test::ProcessFixture;
using namespace Qt::Literals::StringLiterals;

class TestExampleWatcher : public QObject
{
    Q_OBJECT

private:
    QString m_program;

    // Runs the watcher to its end; the in-process fake upstream keeps
    // serving because this thread's event loop runs meanwhile.
    QString runWatcher(const QStringList &args, const QString &server, int *exitCode)
    {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(u"QT_QPA_PLATFORM"_s, u"offscreen"_s);
        if (!server.isEmpty())
            env.insert(u"PRAWMP_SERVER"_s, server);
        p.setProcessEnvironment(env);
        p.start(m_program, args);
        if (!p.waitForStarted(10'000))
            return p.errorString();
        const bool done = QTest::qWaitFor([&p] { return p.state() == QProcess::NotRunning; }, 30'000);
        if (!done) {
            p.kill();
            p.waitForFinished(5'000);
        }
        *exitCode = done && p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
        return QString::fromUtf8(p.readAllStandardOutput()) + QString::fromUtf8(p.readAllStandardError());
    }

private slots:
    void initTestCase()
    {
        m_program = QCoreApplication::applicationDirPath() + u"/subreddit-watcher/subreddit-watcher"_s;
        QVERIFY2(QFileInfo(m_program).isExecutable(), qPrintable(m_program));
    }

    void refreshesShareTheDaemonsCache()
    {
        FakeReddit reddit;
        QVERIFY(reddit.listen());
        reddit.setBudget(100, 600); // so that answers carry X-Ratelimit-* headers
        ProcessFixture daemon;
        QVERIFY2(dtk::startDaemon(daemon, dtk::unpacedDaemonArgs(reddit.port())), qPrintable(daemon.describe()));

        int exitCode = -1;
        const QString out = runWatcher({u"--base"_s, reddit.baseUrl().toString(), u"--subreddit"_s, u"cpp"_s,
                                        u"--interval"_s, u"0.3"_s, u"--refreshes"_s, u"3"_s},
                                       QStringLiteral("127.0.0.1:%1").arg(daemon.port()), &exitCode);
        QVERIFY2(exitCode == 0, qPrintable(out));
        QVERIFY2(out.contains(u"refresh 1: 200 MISS 10 posts, first: new post 1 in r/cpp"_s), qPrintable(out));
        QVERIFY2(out.contains(u"refresh 2: 200 HIT 10 posts"_s), qPrintable(out));
        QVERIFY2(out.contains(u"refresh 3: 200 HIT 10 posts"_s), qPrintable(out));
        QCOMPARE(reddit.pathCount("/r/cpp/new.json"), 1);
        // The window's budget line follows the shared budget's headers.
        QVERIFY2(QRegularExpression(u"^budget: \\d+ of 100 left, reset in \\d+ s$"_s, QRegularExpression::MultilineOption)
                     .match(out).hasMatch(),
                 qPrintable(out));
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }

    void plainQnamGoesToTheUpstreamEveryTime()
    {
        FakeReddit reddit;
        QVERIFY(reddit.listen());
        int exitCode = -1;
        const QString out = runWatcher({u"--plain"_s, u"--base"_s, reddit.baseUrl().toString(), u"--subreddit"_s,
                                        u"cpp"_s, u"--interval"_s, u"0.2"_s, u"--refreshes"_s, u"2"_s},
                                       {}, &exitCode);
        QVERIFY2(exitCode == 0, qPrintable(out));
        QVERIFY2(out.contains(u"refresh 2: 200 - 10 posts"_s), qPrintable(out));
        QCOMPARE(reddit.pathCount("/r/cpp/new.json"), 2);
    }
};

QTEST_GUILESS_MAIN(TestExampleWatcher)
#include "tst_example_watcher.moc"
