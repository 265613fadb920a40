// needs: praw-multiprocess praw-multiprocess-client
// praw-multiprocess-client as a user runs it: every command against a live
// daemon, the exit codes (404, unreachable daemon with --no-retry, bad
// arguments), --help everywhere, the proxy token, a client started before
// its daemon, and `stats --watch` drawing frames.
#include "FakeReddit.h"
#include "ProcessFixture.h"
#include "TestPorts.h"
#include "TestPrograms.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryFile>
#include <QTest>

using prawmp::test::FakeReddit;
using prawmp::test::ProcessFixture;

namespace {

struct Run
{
    int exitCode = -1;
    QString out;
    QString err;
    QString describe;
    QJsonObject json() const { return QJsonDocument::fromJson(out.toUtf8()).object(); }
};

} // namespace

class TestClientCli : public QObject
{
    Q_OBJECT

private:
    FakeReddit m_reddit;
    ProcessFixture m_daemon;

    QStringList daemonArgs(quint16 port, const QStringList &extra = {}) const
    {
        return QStringList{QStringLiteral("--port"), QString::number(port), QStringLiteral("--upstream"),
                           m_reddit.baseUrl().toString(), QStringLiteral("--rate-mode"), QStringLiteral("fixed"),
                           QStringLiteral("--delay"), QStringLiteral("0")}
               + extra;
    }

    QString server(quint16 port) const { return QStringLiteral("127.0.0.1:%1").arg(port); }

    // Runs the client to its end (the event loop keeps the fake upstream answering).
    Run client(const QStringList &arguments, int timeoutMs = 10'000)
    {
        ProcessFixture process;
        Run run;
        if (!process.launch(prawmp::test::clientProgram(), arguments) || !process.waitForFinished(timeoutMs)) {
            run.describe = process.describe();
            return run;
        }
        run.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
        run.out = process.standardOutput();
        run.err = process.standardError();
        run.describe = process.describe();
        return run;
    }

    // With --server of the shared daemon first.
    Run live(const QStringList &arguments) { return client(QStringList{QStringLiteral("--server"), server(m_daemon.port())} + arguments); }

private slots:
    void initTestCase()
    {
        if (prawmp::test::clientProgram().isEmpty() || prawmp::test::daemonProgram().isEmpty())
            QSKIP("praw-multiprocess or praw-multiprocess-client is not built");
        QVERIFY2(m_reddit.listen(), qPrintable(m_reddit.errorString()));
        QVERIFY2(m_daemon.start(prawmp::test::daemonProgram(), daemonArgs(0)), qPrintable(m_daemon.describe()));
    }

    void getPrintsTheBody()
    {
        const Run run = live({QStringLiteral("get"), QStringLiteral("/r/clisub/about.json")});
        QVERIFY2(run.exitCode == 0, qPrintable(run.describe));
        QCOMPARE(run.json().value("sub").toString(), QStringLiteral("clisub"));
        QVERIFY(run.err.isEmpty());

        // A path without its slash and an absolute URL do the same.
        const Run bare = live({QStringLiteral("get"), QStringLiteral("r/clisub2/about.json")});
        QVERIFY2(bare.exitCode == 0, qPrintable(bare.describe));
        QCOMPARE(bare.json().value("sub").toString(), QStringLiteral("clisub2"));
        const Run absolute = live({QStringLiteral("get"), m_reddit.url(QStringLiteral("/r/clisub3/about.json")).toString()});
        QVERIFY2(absolute.exitCode == 0, qPrintable(absolute.describe));
        QCOMPARE(absolute.json().value("sub").toString(), QStringLiteral("clisub3"));
    }

    void getSendsHeadersAndShowsTheHead()
    {
        const QString token = m_reddit.issueToken(QStringLiteral("alice"));
        const Run run = live({QStringLiteral("get"), QStringLiteral("/api/v1/me"), QStringLiteral("-H"),
                              QStringLiteral("Authorization: bearer ") + token, QStringLiteral("--include")});
        QVERIFY2(run.exitCode == 0, qPrintable(run.describe));
        QVERIFY2(run.out.startsWith(QStringLiteral("HTTP/1.1 200")), qPrintable(run.out));
        QVERIFY(run.out.contains(QStringLiteral("X-Cache: ")));
        QVERIFY(run.out.contains(QStringLiteral("\"alice\"")));
        // Our User-Agent unless the user gives one.
        QVERIFY(m_reddit.log().last().headers.value("user-agent").startsWith("praw-multiprocess-client/"));
    }

    void notFoundExitsWithOne()
    {
        const Run run = live({QStringLiteral("get"), QStringLiteral("/no/such/thing")});
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains(QStringLiteral("HTTP 404")), qPrintable(run.describe));
        QVERIFY(!run.out.isEmpty()); // the body still goes to stdout
    }

    void daemonRefusalExitsWithOne()
    {
        const Run run = live({QStringLiteral("get"), QStringLiteral("https://elsewhere.example.com/x")});
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains(QStringLiteral("host_not_allowed")), qPrintable(run.describe));
    }

    void postSendsTheData()
    {
        const QString token = m_reddit.issueToken(QStringLiteral("bob"));
        const QByteArray data = "thing_id=t3_abc&text=from+the+cli";
        const Run run = live({QStringLiteral("post"), QStringLiteral("/api/comment"), QStringLiteral("--data"),
                              QString::fromUtf8(data), QStringLiteral("-H"), QStringLiteral("Authorization: bearer ") + token});
        QVERIFY2(run.exitCode == 0, qPrintable(run.describe));
        const auto record = m_reddit.log().last();
        QCOMPARE(record.method, QByteArray("POST"));
        QCOMPARE(record.path, QByteArray("/api/comment"));
        QCOMPARE(record.bodySize, data.size());
        QVERIFY(record.headers.value("content-type").startsWith("application/x-www-form-urlencoded"));

        QTemporaryFile file;
        QVERIFY(file.open());
        file.write("thing_id=t3_def&text=from+a+file");
        file.close();
        const Run fromFile = live({QStringLiteral("post"), QStringLiteral("/api/comment"), QStringLiteral("--data"),
                                   u'@' + file.fileName(), QStringLiteral("-H"), QStringLiteral("Authorization: bearer ") + token});
        QVERIFY2(fromFile.exitCode == 0, qPrintable(fromFile.describe));
        QCOMPARE(m_reddit.log().last().bodySize, qsizetype(32));
    }

    void evictAndClear()
    {
        QCOMPARE(live({QStringLiteral("get"), QStringLiteral("/r/evicted/about.json")}).exitCode, 0);
        const Run evict = live({QStringLiteral("evict"), QStringLiteral("/r/evicted/about.json"), QStringLiteral("/r/never/about.json")});
        QVERIFY2(evict.exitCode == 0, qPrintable(evict.describe));
        QCOMPARE(evict.json().value("evicted").toInt(-1), 1);

        QCOMPARE(live({QStringLiteral("get"), QStringLiteral("/r/cleared/about.json")}).exitCode, 0);
        const Run clear = live({QStringLiteral("clear")});
        QVERIFY2(clear.exitCode == 0, qPrintable(clear.describe));
        QVERIFY(clear.json().value("cleared").toInt(-1) >= 1);
    }

    void health()
    {
        const Run run = live({QStringLiteral("health")});
        QVERIFY2(run.exitCode == 0, qPrintable(run.describe));
        QCOMPARE(run.json().value("status").toString(), QStringLiteral("ok"));
    }

    void stats()
    {
        const Run view = live({QStringLiteral("stats")});
        QVERIFY2(view.exitCode == 0, qPrintable(view.describe));
        QVERIFY(view.out.contains(QStringLiteral("requests")));
        QVERIFY(view.out.contains(QStringLiteral("DOMAIN")));
        QVERIFY(view.out.contains(QStringLiteral("127.0.0.1")));

        const Run json = live({QStringLiteral("stats"), QStringLiteral("--json")});
        QVERIFY2(json.exitCode == 0, qPrintable(json.describe));
        QVERIFY(json.json().value("totals").isObject());
    }

    void statsWatchDrawsFrames()
    {
        // --count: ends after that many frames.
        const Run counted = live({QStringLiteral("stats"), QStringLiteral("--watch"), QStringLiteral("--count"), QStringLiteral("2")});
        QVERIFY2(counted.exitCode == 0, qPrintable(counted.describe));
        QCOMPARE(counted.out.count(QStringLiteral("praw-multiprocess ")), 2);
        QVERIFY(counted.out.contains(QStringLiteral("RECENT REQUESTS")));

        // --duration: ends after that long, with frames every 500 ms meanwhile.
        QElapsedTimer timer;
        timer.start();
        const Run timed = live({QStringLiteral("stats"), QStringLiteral("--watch"), QStringLiteral("--duration"), QStringLiteral("1.2")});
        QVERIFY2(timed.exitCode == 0, qPrintable(timed.describe));
        QVERIFY(timer.elapsed() >= 1100);
        QVERIFY2(timed.out.count(QStringLiteral("praw-multiprocess ")) >= 2, qPrintable(timed.out));

        // Killed by the user after its first frame, like Ctrl+C.
        ProcessFixture watch;
        QVERIFY(watch.launch(prawmp::test::clientProgram(),
                             {QStringLiteral("--server"), server(m_daemon.port()), QStringLiteral("stats"), QStringLiteral("-w")}));
        QVERIFY2(watch.waitForOutput(QRegularExpression(QStringLiteral("^DOMAIN")), 5000).hasMatch(), qPrintable(watch.describe()));
        QVERIFY(watch.isRunning());
        watch.kill();
    }

    void unreachableDaemonWithNoRetry()
    {
        const quint16 port = prawmp::test::freeLoopbackPort();
        QElapsedTimer timer;
        timer.start();
        const Run run = client({QStringLiteral("--server"), server(port), QStringLiteral("--no-retry"), QStringLiteral("get"),
                                QStringLiteral("/r/x/about.json")});
        QCOMPARE(run.exitCode, 3);
        QVERIFY(timer.elapsed() < 3000);
        QVERIFY2(run.err.contains(QStringLiteral("Cannot connect to multiprocess server")), qPrintable(run.describe));

        // Global options may come after the command too.
        for (const QString &command : {QStringLiteral("health"), QStringLiteral("clear"), QStringLiteral("stats")}) {
            const Run other = client({command, QStringLiteral("--no-retry"), QStringLiteral("--server"), server(port)});
            QVERIFY2(other.exitCode == 3, qPrintable(other.describe));
        }
    }

    void clientStartedBeforeTheDaemon()
    {
        const quint16 port = prawmp::test::freeLoopbackPort();
        ProcessFixture early;
        QVERIFY(early.launch(prawmp::test::clientProgram(),
                             {QStringLiteral("--server"), server(port), QStringLiteral("--retry-delay"), QStringLiteral("0.1"),
                              QStringLiteral("get"), QStringLiteral("/r/early/about.json")}));
        const QRegularExpression retrying(QStringLiteral(
            "Cannot connect to multiprocess server\\. Is it running\\? Retrying in 0\\.1 seconds\\."));
        QVERIFY2(early.waitForOutput(retrying, 5000).hasMatch(), qPrintable(early.describe()));
        QVERIFY(early.isRunning());

        ProcessFixture daemon;
        QVERIFY2(daemon.start(prawmp::test::daemonProgram(), daemonArgs(port)), qPrintable(daemon.describe()));
        QVERIFY2(early.waitForFinished(10'000), qPrintable(early.describe()));
        QVERIFY2(early.exitCode() == 0, qPrintable(early.describe()));
        QCOMPARE(QJsonDocument::fromJson(early.standardOutput().toUtf8()).object().value("sub").toString(), QStringLiteral("early"));
    }

    void proxyToken()
    {
        ProcessFixture daemon;
        QVERIFY2(daemon.start(prawmp::test::daemonProgram(), daemonArgs(0, {QStringLiteral("--auth-token"), QStringLiteral("t0ken")})),
                 qPrintable(daemon.describe()));
        const Run refused = client({QStringLiteral("--server"), server(daemon.port()), QStringLiteral("health")});
        QCOMPARE(refused.exitCode, 1);
        QVERIFY2(refused.err.contains(QStringLiteral("407")), qPrintable(refused.describe));
        const Run accepted = client({QStringLiteral("--server"), server(daemon.port()), QStringLiteral("--token"), QStringLiteral("t0ken"),
                                     QStringLiteral("get"), QStringLiteral("/r/tokened/about.json")});
        QVERIFY2(accepted.exitCode == 0, qPrintable(accepted.describe));
        const Run clear = client({QStringLiteral("clear"), QStringLiteral("--server"), server(daemon.port()), QStringLiteral("-t"),
                                  QStringLiteral("t0ken")});
        QVERIFY2(clear.exitCode == 0, qPrintable(clear.describe));
    }

    void badArguments_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::newRow("no command") << QStringList{};
        QTest::newRow("unknown command") << QStringList{QStringLiteral("fetch"), QStringLiteral("/x")};
        QTest::newRow("unknown option") << QStringList{QStringLiteral("--bogus"), QStringLiteral("health")};
        QTest::newRow("unknown command option") << QStringList{QStringLiteral("get"), QStringLiteral("--bogus"), QStringLiteral("/x")};
        QTest::newRow("get without URL") << QStringList{QStringLiteral("get")};
        QTest::newRow("get with two URLs") << QStringList{QStringLiteral("get"), QStringLiteral("/a"), QStringLiteral("/b")};
        QTest::newRow("header without colon") << QStringList{QStringLiteral("get"), QStringLiteral("/a"), QStringLiteral("-H"), QStringLiteral("nocolon")};
        QTest::newRow("post without data") << QStringList{QStringLiteral("post"), QStringLiteral("/api/comment")};
        QTest::newRow("post data file missing") << QStringList{QStringLiteral("post"), QStringLiteral("/api/comment"), QStringLiteral("--data"), QStringLiteral("@/nonexistent/file")};
        QTest::newRow("evict without URL") << QStringList{QStringLiteral("evict")};
        QTest::newRow("clear with argument") << QStringList{QStringLiteral("clear"), QStringLiteral("now")};
        QTest::newRow("bad port") << QStringList{QStringLiteral("--server"), QStringLiteral("localhost:99999"), QStringLiteral("health")};
        QTest::newRow("bad server") << QStringList{QStringLiteral("--server"), QStringLiteral("a b:1"), QStringLiteral("health")};
        QTest::newRow("bad retry delay") << QStringList{QStringLiteral("--retry-delay"), QStringLiteral("soon"), QStringLiteral("health")};
        QTest::newRow("count without watch") << QStringList{QStringLiteral("stats"), QStringLiteral("--count"), QStringLiteral("2")};
        QTest::newRow("watch and json") << QStringList{QStringLiteral("stats"), QStringLiteral("--watch"), QStringLiteral("--json")};
        QTest::newRow("zero frames") << QStringList{QStringLiteral("stats"), QStringLiteral("--watch"), QStringLiteral("--count"), QStringLiteral("0")};
    }

    void badArguments()
    {
        QFETCH(QStringList, arguments);
        // Pointed at nothing, so a bug that sends anyway cannot pass.
        const Run run = client(QStringList{QStringLiteral("--server"), server(prawmp::test::freeLoopbackPort()),
                                           QStringLiteral("--no-retry")} + arguments);
        QVERIFY2(run.exitCode == 2, qPrintable(run.describe));
        QVERIFY2(run.err.contains(QStringLiteral("Try '")), qPrintable(run.describe));
        QVERIFY(run.out.isEmpty());
    }

    void helpForEveryCommand_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("expected");
        QTest::newRow("program") << QStringList{QStringLiteral("--help")} << QStringLiteral("Commands:");
        QTest::newRow("help") << QStringList{QStringLiteral("help")} << QStringLiteral("Exit status");
        for (const char *command : {"get", "post", "evict", "clear", "stats", "health"}) {
            const QString name = QString::fromLatin1(command);
            QTest::newRow(command) << QStringList{name, QStringLiteral("--help")}
                                   << QStringLiteral("Usage: praw-multiprocess-client [options] %1").arg(name);
        }
        QTest::newRow("help get") << QStringList{QStringLiteral("help"), QStringLiteral("get")}
                                  << QStringLiteral("--header");
        QTest::newRow("version") << QStringList{QStringLiteral("--version")} << QStringLiteral("praw-multiprocess-client 0.");
    }

    void helpForEveryCommand()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, expected);
        const Run run = client(arguments);
        QVERIFY2(run.exitCode == 0, qPrintable(run.describe));
        QVERIFY2(run.out.contains(expected), qPrintable(run.out));
    }
};

QTEST_GUILESS_MAIN(TestClientCli)
#include "tst_client_cli.moc"
