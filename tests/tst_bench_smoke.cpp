// needs: praw-multiprocess fake-reddit
// serial
// The benchmark suite (bench/prawmp_bench.py, what bench/run-all runs) with
// tiny sizes, so that its programs cannot rot: every section runs, every
// table is written, and the daemon keeps its budget promise even here.
// Sections needing wrk or nginx report themselves skipped when those are
// not installed; the suite still has to run.
#include "TestPrograms.h"

#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace prawmp::test;

class TestBenchSmoke : public QObject
{
    Q_OBJECT

private:
    QString python() const
    {
        // Debian's interpreter first: alternative (c) uses its python3-prawcore.
        if (QFileInfo::exists(QStringLiteral("/usr/bin/python3")))
            return QStringLiteral("/usr/bin/python3");
        return QStandardPaths::findExecutable(QStringLiteral("python3"));
    }

    QTemporaryDir m_dir;
    QString m_report;
    QString m_log;
    int m_exitCode = -1;

private slots:
    void initTestCase()
    {
        if (python().isEmpty())
            QSKIP("python3 is not installed");
        if (daemonProgram().isEmpty() || fakeRedditProgram().isEmpty())
            QSKIP("praw-multiprocess or fake-reddit is not built");
        QVERIFY(m_dir.isValid());

        const QString out = m_dir.filePath(QStringLiteral("BENCHMARKS.md"));
        QProcess bench;
        bench.setProcessChannelMode(QProcess::MergedChannels);
        bench.start(python(), {sourceDir() + QStringLiteral("/bench/prawmp_bench.py"), QStringLiteral("--smoke"),
                               QStringLiteral("--daemon"), daemonProgram(), QStringLiteral("--fake"),
                               fakeRedditProgram(), QStringLiteral("--out"), out});
        QVERIFY2(bench.waitForStarted(), qPrintable(bench.errorString()));
        QSignalSpy finished(&bench, &QProcess::finished);
        QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), 200'000);
        m_log = QString::fromUtf8(bench.readAll());
        m_exitCode = bench.exitStatus() == QProcess::NormalExit ? bench.exitCode() : -1;
        QFile f(out);
        if (f.open(QIODevice::ReadOnly))
            m_report = QString::fromUtf8(f.readAll());
    }

    void suiteRunsToTheEnd()
    {
        QVERIFY2(m_exitCode == 0, qPrintable(m_log.right(4000)));
        QVERIFY2(!m_report.isEmpty(), qPrintable(m_log.right(4000)));
        QVERIFY2(!m_report.contains(QStringLiteral("This section failed")), qPrintable(m_report));
    }

    void everySectionIsWritten_data()
    {
        QTest::addColumn<QString>("heading");
        QTest::newRow("machine") << QStringLiteral("**Machine:**");
        QTest::newRow("budget") << QStringLiteral("## Rate budget");
        QTest::newRow("per window") << QStringLiteral("### Per window");
        QTest::newRow("conventions") << QStringLiteral("## Rate budget under each rounding of X-Ratelimit-Reset");
        QTest::newRow("apps") << QStringLiteral("## Two apps, one daemon: one budget per app");
        QTest::newRow("collapse") << QStringLiteral("## Collapsed forwarding");
        QTest::newRow("hits") << QStringLiteral("## Cache-hit throughput and latency");
        QTest::newRow("watched") << QStringLiteral("## Cache hits while the daemon is watched");
        QTest::newRow("tls") << QStringLiteral("## Cache hits over HTTPS");
        QTest::newRow("exactcount") << QStringLiteral("## Every request counted while watched");
        QTest::newRow("miss") << QStringLiteral("## Added latency on a miss");
        QTest::newRow("many") << QStringLiteral("## Many clients");
        QTest::newRow("fairness") << QStringLiteral("## Fairness");
        QTest::newRow("profile") << QStringLiteral("## Profile");
        QTest::newRow("commands") << QStringLiteral("## Commands");
    }

    void everySectionIsWritten()
    {
        QFETCH(QString, heading);
        QVERIFY2(m_report.contains(heading), qPrintable(heading + QStringLiteral(" missing from:\n") + m_report));
    }

    void tablesHaveTheirRatioColumns()
    {
        if (m_report.contains(QStringLiteral("wrk is not installed")))
            QSKIP("wrk is not installed here");
        QVERIFY(m_report.contains(QStringLiteral("| daemon/nginx |")) || !m_report.contains(QStringLiteral("nginx/")));
        QVERIFY(m_report.contains(QStringLiteral("| overhead p50 / p99 |")));
        // A data row of the hits table: req/s numbers, not dashes.
        QVERIFY2(m_report.contains(QRegularExpression(QStringLiteral("\\| one core \\| 1 \\| \\d+ \\|"))), qPrintable(m_report));
    }

    void everyRequestIsCountedWhileWatched()
    {
        // Section exactcount, 2 s of wrk in smoke mode (30 s in a real run).
        if (m_report.contains(QStringLiteral("wrk is not installed")))
            QSKIP("wrk is not installed here");
        const QRegularExpression row(QStringLiteral("^\\| \\d+ \\| (\\d+) \\| (\\d+) \\| (-?\\d+) \\|.*\\| \\*\\*(PASS|FAIL)\\*\\* \\|$"),
                                     QRegularExpression::MultilineOption);
        const auto m = row.match(m_report);
        QVERIFY2(m.hasMatch(), qPrintable(m_report));
        QVERIFY2(m.captured(1).toLongLong() > 0, qPrintable(m.captured(0)));
        QCOMPARE(m.captured(4), QStringLiteral("PASS"));
    }

    void adaptiveDaemonNeverOverspends()
    {
        // Saturation and bursts: no 429 and no window over budget, whatever the load of the machine.
        const QRegularExpression row(QStringLiteral(
            "^\\| [^|]+ \\| (saturation|bursts) \\| \\(a\\) daemon adaptive \\| \\d+ \\| [^|]+ \\| (\\d+) \\| (\\d+) / (\\d+) \\|"),
            QRegularExpression::MultilineOption);
        auto it = row.globalMatch(m_report);
        int rows = 0;
        while (it.hasNext()) {
            const auto m = it.next();
            ++rows;
            QVERIFY2(m.captured(2) == QLatin1String("0") && m.captured(3) == QLatin1String("0"),
                     qPrintable(m.captured(0)));
        }
        QCOMPARE(rows, 2);
    }

    void adaptiveDaemonNeverOverspendsUnderAnyResetRounding()
    {
        // "| shape | down | up | down-never-0 | windows over budget | 429s |", cells "min / mean".
        const QRegularExpression row(QStringLiteral("^\\| [^|]+ \\| (?:[^|]+ / [^|]+ \\| ){3}(\\d+) \\| (\\d+) \\|$"),
                                     QRegularExpression::MultilineOption);
        auto it = row.globalMatch(m_report);
        int rows = 0;
        while (it.hasNext()) {
            const auto m = it.next();
            ++rows;
            QVERIFY2(m.captured(1) == QLatin1String("0") && m.captured(2) == QLatin1String("0"),
                     qPrintable(m.captured(0)));
        }
        QCOMPARE(rows, 1);
    }

    void collapsedForwardingSendsOneRequest()
    {
        const QRegularExpression row(QStringLiteral("^\\| daemon \\| ([\\d.]+) \\|"), QRegularExpression::MultilineOption);
        const auto m = row.match(m_report);
        QVERIFY2(m.hasMatch(), qPrintable(m_report));
        QCOMPARE(m.captured(1), QStringLiteral("1.0"));
    }
};

QTEST_GUILESS_MAIN(TestBenchSmoke)
#include "tst_bench_smoke.moc"
