// needs: praw-multiprocess fake-reddit prawmp-qnam-check
// serial
// The acceptance program of prawmp::NetworkAccessManager (tests/qnam-app:
// QNetworkAccessManager code with the manager replaced in one line), run
// as a process against the real daemon and the fake upstream: once as
// built in this tree, once built as an outside project against the
// package `cmake --install` puts in a temporary prefix. Both must pass the
// same checks; the fake upstream's log is also read here, independently of
// what the program says. Heavy (an install, a configure and a build): serial.
//
// The same install is where core's public API is checked: the headers it
// puts in include/prawmp are core/include/prawmp's (plus Version.h) and
// nothing of core/internal, every prawmp/ header they include is installed,
// and the outside build compiles all of them (tests/qnam-app/CMakeLists.txt
// generates a file including each).
#include "DaemonTestKit.h"
#include "ProcessFixture.h"
#include "TestPorts.h"
#include "TestPrograms.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

using prawmp::test::ProcessFixture;
using namespace Qt::Literals::StringLiterals;

namespace {

const QStringList kChecks{u"get-miss"_s, u"get-hit"_s, u"post-token"_s, u"post-comment"_s, u"always-network"_s,
                          u"not-found"_s, u"abort-queued"_s, u"abort-never-sent"_s, u"direct-refused"_s};

struct Run
{
    bool finished = false;
    int exitCode = -1;
    QString out;
    QString err;
    QString describe(const QString &command) const
    {
        return QStringLiteral("%1\n  finished %2, exit %3\n  stdout: %4\n  stderr: %5")
            .arg(command).arg(finished).arg(exitCode).arg(out.right(4000), err.right(4000));
    }
};

// Runs a program to its end while this thread's event loop keeps running.
Run run(const QString &program, const QStringList &arguments, const QProcessEnvironment &env, int timeoutMs)
{
    Run r;
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(program, arguments);
    if (!p.waitForStarted(10'000)) {
        r.err = p.errorString();
        return r;
    }
    r.finished = QTest::qWaitFor([&p] { return p.state() == QProcess::NotRunning; }, timeoutMs);
    if (!r.finished) {
        p.kill();
        p.waitForFinished(5'000);
    }
    r.exitCode = p.exitCode();
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

quint16 closedPort()
{
    return prawmp::test::freeLoopbackPort();
}

} // namespace

class TestQnamApp : public QObject
{
    Q_OBJECT

private:
    QString m_build; // the build tree holding this test
    QTemporaryDir m_tmp;
    QString m_prefix; // where installPackage() put the package, once

    // `cmake --install` of this build into a temporary prefix, once for the suite.
    void installPackage()
    {
        if (!m_prefix.isEmpty())
            return;
        const QString prefix = m_tmp.filePath(u"prefix"_s);
        const Run install = run(u"cmake"_s, {u"--install"_s, m_build, u"--prefix"_s, prefix},
                                QProcessEnvironment::systemEnvironment(), 180'000);
        QVERIFY2(install.finished && install.exitCode == 0, qPrintable(install.describe(u"cmake --install"_s)));
        m_prefix = prefix;
    }

    static QStringList headersIn(const QString &dir)
    {
        return QDir(dir).entryList({u"*.h"_s}, QDir::Files, QDir::Name);
    }

    // Fake upstream + daemon pacing 1.5 s apart (so a request can be
    // aborted while it waits), the program against them, and the upstream's
    // own log read afterwards.
    void passesEveryCheck(const QString &program)
    {
        QVERIFY2(QFileInfo(program).isExecutable(), qPrintable(program));
        ProcessFixture reddit;
        QVERIFY2(reddit.start(prawmp::test::fakeRedditProgram(), {u"--port"_s, u"0"_s}), qPrintable(reddit.describe()));
        ProcessFixture daemon;
        QVERIFY2(dtk::startDaemon(daemon, {u"--upstream"_s, dtk::upstreamArg(reddit.port()), u"--rate-mode"_s,
                                           u"fixed"_s, u"--delay"_s, u"1.5"_s}),
                 qPrintable(daemon.describe()));

        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(u"PRAWMP_SERVER"_s, QStringLiteral("127.0.0.1:%1").arg(daemon.port()));
        env.remove(u"LD_LIBRARY_PATH"_s); // the installed build finds its library by RUNPATH
        const QStringList args{u"--upstream"_s, dtk::upstreamArg(reddit.port()), u"--closed-port"_s,
                               QString::number(closedPort())};
        const Run r = run(program, args, env, 90'000);
        const QString what = r.describe(program) + u'\n' + daemon.describe();
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(what));
        for (const QString &check : kChecks)
            QVERIFY2(r.out.contains(u"\nok "_s + check + u'\n') || r.out.startsWith(u"ok "_s + check + u'\n'),
                     qPrintable(u"missing ok "_s + check + u'\n' + what));
        QVERIFY2(r.out.contains(u"\n0 failed\n"_s), qPrintable(what));

        // What reached the upstream, from its own log.
        const dtk::RawResponse logAnswer = dtk::fetch(reddit.port(), dtk::get("/__log"));
        QCOMPARE(logAnswer.status, 200);
        QHash<QString, int> targets;
        for (const QJsonValue &entry : QJsonDocument::fromJson(logAnswer.body).array())
            ++targets[entry.toObject().value(u"target"_s).toString()];
        QCOMPARE(targets.value(u"/r/qnamcheck_aborted/hot.json"_s), 0);
        QCOMPARE(targets.value(u"/r/qnamcheck_later/hot.json"_s), 1);
        QCOMPARE(targets.value(u"/r/qnamcheck/hot.json"_s), 2); // the miss and AlwaysNetwork; the hit is the daemon's
        QCOMPARE(targets.value(u"/api/comment"_s), 1);

        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
        QVERIFY2(reddit.stop(), qPrintable(reddit.describe()));
    }

private slots:
    void initTestCase()
    {
        QDir dir(QCoreApplication::applicationDirPath());
        QVERIFY(dir.cdUp());
        m_build = dir.absolutePath();
        QVERIFY(QFileInfo::exists(m_build + u"/CMakeCache.txt"_s));
        QVERIFY(m_tmp.isValid());
    }

    void programPassesAgainstTheDaemon()
    {
        passesEveryCheck(QCoreApplication::applicationDirPath() + u"/qnam-app/prawmp-qnam-check"_s);
    }

    void installedHeadersAreThePublicApiAlone()
    {
        installPackage();
        QVERIFY(!m_prefix.isEmpty());
        const QString installedDir = m_prefix + u"/include/prawmp"_s;
        const QStringList installed = headersIn(installedDir);
        const QStringList publicHeaders = headersIn(prawmp::test::sourceDir() + u"/core/include/prawmp"_s);
        const QStringList internalHeaders = headersIn(prawmp::test::sourceDir() + u"/core/internal/prawmp"_s);
        QVERIFY2(publicHeaders.contains(u"MultiprocessHandler.h"_s), qPrintable(publicHeaders.join(u' ')));
        QVERIFY2(internalHeaders.contains(u"RequestPipeline.h"_s), qPrintable(internalHeaders.join(u' ')));

        // Exactly the public headers and the generated Version.h: no internal
        // header, no private one from core/src.
        for (const QString &header : internalHeaders)
            QVERIFY2(!installed.contains(header), qPrintable(u"internal header installed: "_s + header));
        QStringList expected = publicHeaders;
        expected.append(u"Version.h"_s);
        expected.sort();
        QCOMPARE(installed, expected);

        // Every prawmp/ header an installed header includes is installed too.
        static const QRegularExpression include(u"^\\s*#\\s*include\\s*[<\"]prawmp/([^\">]+)[\">]"_s,
                                                QRegularExpression::MultilineOption);
        int includes = 0;
        for (const QString &header : installed) {
            QFile file(installedDir + u'/' + header);
            QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable(file.fileName()));
            const QString text = QString::fromUtf8(file.readAll());
            for (auto it = include.globalMatch(text); it.hasNext();) {
                const QString named = it.next().captured(1);
                ++includes;
                QVERIFY2(installed.contains(named),
                         qPrintable(header + u" includes prawmp/"_s + named + u", which is not installed"_s
                                    + (internalHeaders.contains(named) ? u" (an internal header)"_s : QString())));
            }
        }
        QVERIFY2(includes >= 10, qPrintable(QString::number(includes))); // not vacuous
    }

    void sameProgramBuiltAgainstTheInstalledPackage()
    {
        installPackage();
        QVERIFY(!m_prefix.isEmpty());
        const QString prefix = m_prefix;
        for (const QString &header : {u"NetworkAccessManager.h"_s, u"RateBudget.h"_s})
            QVERIFY2(QFileInfo::exists(prefix + u"/include/prawmp/"_s + header), qPrintable(header));

        // An outside project: nothing but the prefix to find PrawMp in.
        const QString build = m_tmp.filePath(u"check-build"_s);
        const Run configure = run(u"cmake"_s,
                                  {u"-S"_s, prawmp::test::sourceDir() + u"/tests/qnam-app"_s, u"-B"_s, build,
                                   u"-G"_s, u"Ninja"_s, u"-DCMAKE_PREFIX_PATH="_s + prefix,
                                   u"-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"_s,
                                   u"-DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF"_s,
                                   u"-DCMAKE_BUILD_TYPE=Release"_s},
                                  QProcessEnvironment::systemEnvironment(), 120'000);
        QVERIFY2(configure.finished && configure.exitCode == 0, qPrintable(configure.describe(u"cmake -S"_s)));
        QFile cache(build + u"/CMakeCache.txt"_s);
        QVERIFY(cache.open(QIODevice::ReadOnly));
        const QByteArray cacheText = cache.readAll();
        QVERIFY2(cacheText.contains("PrawMp_DIR:PATH=" + QDir(prefix).canonicalPath().toUtf8())
                     || cacheText.contains("PrawMp_DIR:PATH=" + prefix.toUtf8()),
                 "PrawMp was not found in the prefix");
        const Run compile = run(u"cmake"_s, {u"--build"_s, build, u"-j"_s, u"2"_s},
                                QProcessEnvironment::systemEnvironment(), 180'000);
        QVERIFY2(compile.finished && compile.exitCode == 0, qPrintable(compile.describe(u"cmake --build"_s)));

        // The program compiled every installed header, found in the prefix alone.
        QFile every(build + u"/every_public_header.cpp"_s);
        QVERIFY(every.open(QIODevice::ReadOnly));
        const QByteArray everyText = every.readAll();
        const QStringList installed = headersIn(prefix + u"/include/prawmp"_s);
        QVERIFY(!installed.isEmpty());
        for (const QString &header : installed)
            QVERIFY2(everyText.contains("#include <prawmp/" + header.toUtf8() + ">\n"), qPrintable(header));
        QFile ninja(build + u"/build.ninja"_s);
        QVERIFY(ninja.open(QIODevice::ReadOnly));
        QVERIFY2(!ninja.readAll().contains(QFileInfo(prawmp::test::sourceDir()).canonicalFilePath().toUtf8() + "/core"),
                 "the outside build uses core's source tree");

        passesEveryCheck(build + u"/prawmp-qnam-check"_s);
    }
};

QTEST_GUILESS_MAIN(TestQnamApp)
#include "tst_qnam_app.moc"
