// needs: praw-multiprocess fake-reddit
// serial
// Packaging and embedding, as users meet them: `cmake --install` into a
// temporary prefix, an application (examples/) configured and built against
// that prefix alone and run against a daemon + fake upstream, pkg-config,
// the Debian package from `cpack -G DEB` (contents, Depends, conffiles,
// programs running from an extracted root), the systemd unit, the desktop
// entry, the man pages and the default config checked against --help, and
// one version everywhere.
//
// The build directory is the parent of this test's own directory; the test
// installs and packages whatever that build holds, so run it after a full
// build (ctest does). Heavy (a cmake configure + build, a cpack): serial.
#include "BuildTree.h"
#include "DaemonOptions.h"
#include "ProcessFixture.h"
#include "TestPrograms.h"

#include <QCoreApplication>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using prawmp::test::ProcessFixture;
using prawmp::test::readCMakeCache;
using namespace Qt::Literals::StringLiterals;

namespace {

// A program run to completion: exit code and output.
struct RunResult
{
    bool finished = false;
    int exitCode = -1;
    QString out;
    QString err;
    QString command;

    bool ok() const { return finished && exitCode == 0; }
    QString describe() const
    {
        return QStringLiteral("%1\n  finished: %2, exit code %3\n  stdout: %4\n  stderr: %5")
            .arg(command, finished ? u"yes"_s : u"no"_s).arg(exitCode)
            .arg(out.right(4000), err.right(4000));
    }
};

RunResult run(const QString &program, const QStringList &arguments,
              const QProcessEnvironment &environment = QProcessEnvironment::systemEnvironment(),
              const QString &workingDirectory = {}, int timeoutMs = 120'000)
{
    RunResult r;
    r.command = program + u' ' + arguments.join(u' ');
    QProcess p;
    p.setProcessEnvironment(environment);
    if (!workingDirectory.isEmpty())
        p.setWorkingDirectory(workingDirectory);
    p.start(program, arguments);
    if (!p.waitForStarted(10'000)) {
        r.err = p.errorString();
        return r;
    }
    r.finished = p.waitForFinished(timeoutMs) && p.exitStatus() == QProcess::NormalExit;
    if (!r.finished) {
        p.kill();
        p.waitForFinished(5'000);
    }
    r.exitCode = p.exitCode();
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

QProcessEnvironment envWith(const QString &name, const QString &value)
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(name, value);
    return env;
}

QByteArray readFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

bool writeFile(const QString &path, const QByteArray &content)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(content) == content.size();
}

// "KEY:TYPE=VALUE" lines of a CMakeCache.txt.
// One option of a QCommandLineParser help text: long name and default.
struct HelpOption
{
    QString name;
    QString defaultText; // from "(default: X)", empty if none
};

// Options of a --help text: lines "  -s, --server <HOST:PORT>  text" start an
// option (two spaces, then a dash); deeper-indented lines continue its text.
QList<HelpOption> parseHelpOptions(const QString &help)
{
    static const QRegularExpression start(QStringLiteral("^  (?:-\\w, )?--([a-z][a-z0-9-]*)"));
    static const QRegularExpression dflt(QStringLiteral("\\(default: ([^)]*)\\)"));
    QList<HelpOption> options;
    QStringList texts;
    bool inOptions = false;
    for (const QString &line : help.split(u'\n')) {
        if (line.startsWith(u"Options:")) {
            inOptions = true;
            continue;
        }
        if (!line.startsWith(u' ')) {
            inOptions = false;
            continue;
        }
        if (!inOptions)
            continue;
        const QRegularExpressionMatch m = start.match(line);
        if (m.hasMatch()) {
            options.append({m.captured(1), {}});
            texts.append(line);
        } else if (!texts.isEmpty()) {
            texts.last() += u' ' + line.trimmed();
        }
    }
    for (qsizetype i = 0; i < options.size(); ++i) {
        const QString text = texts[i].simplified();
        const QRegularExpressionMatch m = dflt.match(text);
        if (m.hasMatch())
            options[i].defaultText = m.captured(1).trimmed();
    }
    return options;
}

// "--name" as a whole option name in a text ("--burst" is not in "--bursty").
bool mentionsOption(const QString &text, const QString &name)
{
    return QRegularExpression(u"(^|[^a-z0-9-])--"_s + QRegularExpression::escape(name) + u"(?![a-z0-9-])"_s)
        .match(text).hasMatch();
}

QStringList names(const QList<HelpOption> &options)
{
    QStringList n;
    for (const HelpOption &o : options)
        n.append(o.name);
    return n;
}

// The man page as a reader sees it (groff, ASCII: "\-" is "-"); the roff
// source with its escapes undone when groff is absent.
QString renderManPage(const QString &path, QString *warnings)
{
    const QString groff = QStandardPaths::findExecutable(QStringLiteral("groff"));
    if (!groff.isEmpty()) {
        const RunResult r = run(groff, {QStringLiteral("-man"), QStringLiteral("-Tascii"),
                                        QStringLiteral("-P-cbou"), QStringLiteral("-ww"), path},
                                envWith(QStringLiteral("MANWIDTH"), QStringLiteral("200")));
        if (warnings)
            *warnings = r.ok() ? r.err.trimmed() : r.describe();
        return r.out;
    }
    QString text = QString::fromUtf8(readFile(path));
    text.replace(u"\\-"_s, u"-"_s);
    return text;
}

} // namespace

class TestPackaging : public QObject
{
    Q_OBJECT

private:
    QString m_build;        // the build tree that holds this test
    QHash<QString, QString> m_cache;
    QTemporaryDir m_tmp;
    QString m_prefix;       // `cmake --install --prefix` goes here
    QString m_libDir;       // m_prefix/lib (CMAKE_INSTALL_LIBDIR)
    QString m_example;      // examples/ built against m_prefix
    QString m_debRoot;      // `dpkg -x` of the package
    QStringList m_debFiles; // `dpkg-deb -c`, as "./usr/bin/..."
    QString m_deb;          // the package cpack built

    QString cmake() const { return m_cache.value(u"CMAKE_COMMAND"_s, u"cmake"_s); }
    QString cpack() const { return m_cache.value(u"CMAKE_CPACK_COMMAND"_s, u"cpack"_s); }
    QString libDirName() const { return m_cache.value(u"CMAKE_INSTALL_LIBDIR"_s, u"lib"_s); }
    QString installed(const QString &relative) const { return m_prefix + u'/' + relative; }
    QProcessEnvironment installedLibEnv() const { return envWith(u"LD_LIBRARY_PATH"_s, m_libDir); }

    // The programs this build made, as (name, path in the build tree).
    QList<QPair<QString, QString>> builtPrograms() const
    {
        QList<QPair<QString, QString>> programs{{u"praw-multiprocess"_s, prawmp::test::daemonProgram()}};
        if (!prawmp::test::clientProgram().isEmpty())
            programs.append({u"praw-multiprocess-client"_s, prawmp::test::clientProgram()});
        if (!prawmp::test::guiProgram().isEmpty())
            programs.append({u"praw-multiprocess-gui"_s, prawmp::test::guiProgram()});
        return programs;
    }

    static QString version() { return QStringLiteral(PRAWMP_VERSION); }

private slots:
    void initTestCase()
    {
        QDir dir(QCoreApplication::applicationDirPath());
        QVERIFY(dir.cdUp());
        m_build = dir.absolutePath();
        m_cache = readCMakeCache(m_build + u"/CMakeCache.txt"_s);
        QVERIFY2(!m_cache.isEmpty(), qPrintable(u"no CMakeCache.txt in "_s + m_build));
        QCOMPARE(QFileInfo(m_cache.value(u"PrawMultiprocess_SOURCE_DIR"_s)).canonicalFilePath(),
                 QFileInfo(prawmp::test::sourceDir()).canonicalFilePath());
        QVERIFY(QFileInfo::exists(m_build + u"/CPackConfig.cmake"_s));

        QVERIFY(m_tmp.isValid());
        m_prefix = m_tmp.filePath(u"prefix"_s);
        m_libDir = installed(libDirName());
        const RunResult install = run(cmake(), {u"--install"_s, m_build, u"--prefix"_s, m_prefix});
        QVERIFY2(install.ok(), qPrintable(install.describe()));
    }

    // ---- cmake --install -------------------------------------------------

    void installPutsEverythingUnderThePrefix()
    {
        QStringList expected{
            u"bin/praw-multiprocess"_s,
            libDirName() + u"/libprawmp_core.so"_s,
            libDirName() + u"/libprawmp_core.so."_s + version(),
            u"include/prawmp/Handler.h"_s,
            u"include/prawmp/DefaultHandler.h"_s,
            u"include/prawmp/MultiprocessHandler.h"_s,
            u"include/prawmp/Version.h"_s,
            libDirName() + u"/cmake/PrawMp/PrawMpConfig.cmake"_s,
            libDirName() + u"/cmake/PrawMp/PrawMpConfigVersion.cmake"_s,
            libDirName() + u"/cmake/PrawMp/PrawMpTargets.cmake"_s,
            libDirName() + u"/pkgconfig/prawmp-core.pc"_s,
            u"lib/systemd/system/praw-multiprocess.service"_s,
            u"lib/sysusers.d/praw-multiprocess.conf"_s,
            u"etc/praw-multiprocess.ini"_s,
            u"share/man/man1/praw-multiprocess.1.gz"_s,
            u"share/man/man1/praw-multiprocess-client.1.gz"_s,
            u"share/doc/praw-multiprocess/LICENSE"_s,
            u"share/doc/praw-multiprocess/copyright"_s,
        };
        if (!prawmp::test::clientProgram().isEmpty())
            expected << u"bin/praw-multiprocess-client"_s;
        if (!prawmp::test::guiProgram().isEmpty()) {
            expected << u"bin/praw-multiprocess-gui"_s
                     << u"share/applications/praw-multiprocess-gui.desktop"_s
                     << u"share/icons/hicolor/scalable/apps/praw-multiprocess.svg"_s
                     << u"share/icons/hicolor/48x48/apps/praw-multiprocess.png"_s;
        }
        for (const QString &file : std::as_const(expected))
            QVERIFY2(QFileInfo::exists(installed(file)), qPrintable(u"not installed: "_s + file));

        // The shared library carries its SONAME, and the .so.N link exists.
        const QString soname = u"libprawmp_core.so."_s + version().section(u'.', 0, 0);
        QVERIFY2(QFileInfo(m_libDir + u'/' + soname).isSymLink(), qPrintable(soname));
        const QString readelf = QStandardPaths::findExecutable(u"readelf"_s);
        if (!readelf.isEmpty()) {
            const RunResult r = run(readelf, {u"-d"_s, m_libDir + u"/libprawmp_core.so."_s + version()});
            QVERIFY2(r.ok(), qPrintable(r.describe()));
            QVERIFY2(r.out.contains(u"Library soname: ["_s + soname + u']'), qPrintable(r.out));
        }

        // Nothing installed points back into the source or build tree.
        const QString source = QFileInfo(prawmp::test::sourceDir()).canonicalFilePath();
        for (const QString &dir : {libDirName() + u"/cmake/PrawMp"_s, libDirName() + u"/pkgconfig"_s}) {
            QDirIterator it(installed(dir), QDir::Files);
            while (it.hasNext()) {
                const QString file = it.next();
                const QByteArray content = readFile(file);
                QVERIFY2(!content.contains(source.toUtf8()) && !content.contains(m_build.toUtf8()),
                         qPrintable(file + u" names the source or build tree"_s));
            }
        }

        // The unit installed under a prefix runs that prefix's program and config.
        const QString unit = QString::fromUtf8(readFile(installed(u"lib/systemd/system/praw-multiprocess.service"_s)));
        QVERIFY2(unit.contains(QStringLiteral("\nExecStart=%1/bin/praw-multiprocess --config %1/etc/praw-multiprocess.ini\n")
                                   .arg(m_prefix)),
                 qPrintable(unit));
        // The default config is the one in resources/.
        QCOMPARE(readFile(installed(u"etc/praw-multiprocess.ini"_s)),
                 readFile(prawmp::test::sourceDir() + u"/resources/praw-multiprocess.ini"_s));
    }

    void reinstallKeepsAnEditedConfig()
    {
        const QString prefix = m_tmp.filePath(u"reinstall"_s);
        const QStringList install{u"--install"_s, m_build, u"--prefix"_s, prefix};
        RunResult r = run(cmake(), install);
        QVERIFY2(r.ok(), qPrintable(r.describe()));
        const QString config = prefix + u"/etc/praw-multiprocess.ini"_s;
        QVERIFY(writeFile(config, "port = 10111\n"));
        r = run(cmake(), install);
        QVERIFY2(r.ok(), qPrintable(r.describe()));
        QCOMPARE(readFile(config), QByteArray("port = 10111\n"));
    }

    void everyProgramShowsTheProjectVersion()
    {
        // Run from the build tree and from the installation.
        for (const auto &[name, path] : builtPrograms()) {
            const QProcessEnvironment offscreen = envWith(u"QT_QPA_PLATFORM"_s, u"offscreen"_s);
            const RunResult built = run(path, {u"--version"_s}, offscreen, {}, 20'000);
            QVERIFY2(built.ok(), qPrintable(built.describe()));
            QVERIFY2(built.out.contains(version()), qPrintable(built.describe()));

            QProcessEnvironment env = installedLibEnv();
            env.insert(u"QT_QPA_PLATFORM"_s, u"offscreen"_s);
            const RunResult inst = run(installed(u"bin/"_s + name), {u"--version"_s}, env, {}, 20'000);
            QVERIFY2(inst.ok(), qPrintable(inst.describe()));
            QCOMPARE(inst.out, built.out);
        }
    }

    void pkgConfigDescribesTheInstalledLibrary()
    {
        const QString pkgConfig = QStandardPaths::findExecutable(u"pkg-config"_s);
        if (pkgConfig.isEmpty())
            QSKIP("pkg-config is not installed (Debian: pkgconf)");
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(u"PKG_CONFIG_PATH"_s, m_libDir + u"/pkgconfig"_s);
        const RunResult modversion = run(pkgConfig, {u"--modversion"_s, u"prawmp-core"_s}, env);
        QVERIFY2(modversion.ok(), qPrintable(modversion.describe()));
        QCOMPARE(modversion.out.trimmed(), version());
        const RunResult flags = run(pkgConfig, {u"--cflags"_s, u"--libs"_s, u"prawmp-core"_s}, env);
        QVERIFY2(flags.ok(), qPrintable(flags.describe()));
        QVERIFY2(flags.out.contains(u"-lprawmp_core"_s) && flags.out.contains(u"-lQt6Network"_s),
                 qPrintable(flags.out));

        // A program built with nothing but those flags links and runs.
        const QString compiler = m_cache.value(u"CMAKE_CXX_COMPILER"_s);
        QVERIFY(!compiler.isEmpty());
        const QString dir = m_tmp.filePath(u"pkgconfig-app"_s);
        QVERIFY(QDir().mkpath(dir));
        QVERIFY(writeFile(dir + u"/main.cpp"_s, R"(
#include <prawmp/Reply.h>
#include <prawmp/Request.h>
#include <prawmp/Version.h>
#include <cstdio>
int main()
{
    prawmp::Request request;
    request.method = "GET";
    std::printf("%s %s %d\n", PRAWMP_VERSION_STRING,
                prawmp::cacheStatusName(prawmp::CacheStatus::Hit).constData(),
                int(request.isCacheableMethod()));
    return 0;
}
)"));
        QStringList args{u"-std=c++20"_s, u"-o"_s, dir + u"/app"_s, dir + u"/main.cpp"_s};
        args += flags.out.simplified().split(u' ', Qt::SkipEmptyParts);
        const RunResult compile = run(compiler, args, env);
        QVERIFY2(compile.ok(), qPrintable(compile.describe()));
        const RunResult app = run(dir + u"/app"_s, {}, installedLibEnv());
        QVERIFY2(app.ok(), qPrintable(app.describe()));
        QCOMPARE(app.out.trimmed(), version() + u" HIT 1"_s);
    }

    // ---- examples/ against the installed package -------------------------

    void exampleBuildsAgainstTheInstalledPackageAlone()
    {
        const QString build = m_tmp.filePath(u"example-build"_s);
        QStringList configure{
            u"-S"_s, prawmp::test::sourceDir() + u"/examples"_s, u"-B"_s, build,
            u"-DCMAKE_PREFIX_PATH="_s + m_prefix,
            // Nothing but the prefix: no package registries, no build tree.
            u"-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"_s,
            u"-DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF"_s,
            u"-DCMAKE_BUILD_TYPE=Release"_s,
            u"-DCMAKE_CXX_COMPILER="_s + m_cache.value(u"CMAKE_CXX_COMPILER"_s),
        };
        const QString generator = m_cache.value(u"CMAKE_GENERATOR"_s);
        if (!generator.isEmpty())
            configure << u"-G"_s << generator;
        const QString make = m_cache.value(u"CMAKE_MAKE_PROGRAM"_s);
        if (!make.isEmpty())
            configure << u"-DCMAKE_MAKE_PROGRAM="_s + make;
        const RunResult conf = run(cmake(), configure);
        QVERIFY2(conf.ok(), qPrintable(conf.describe()));

        const QHash<QString, QString> cache = readCMakeCache(build + u"/CMakeCache.txt"_s);
        QCOMPARE(QFileInfo(cache.value(u"PrawMp_DIR"_s)).canonicalFilePath(),
                 QFileInfo(m_libDir + u"/cmake/PrawMp"_s).canonicalFilePath());

        const RunResult compile = run(cmake(), {u"--build"_s, build, u"-j"_s, u"2"_s});
        QVERIFY2(compile.ok(), qPrintable(compile.describe()));
        // Compiled with the installed headers only.
        const QByteArray rules = readFile(build + u"/build.ninja"_s) + readFile(build + u"/compile_commands.json"_s);
        QVERIFY2(!rules.contains(QFileInfo(prawmp::test::sourceDir()).canonicalFilePath().toUtf8() + "/core"),
                 "the example's build uses the source tree");
        m_example = build + u"/prawmp-fetch"_s;
        QVERIFY(QFileInfo(m_example).isExecutable());

        const RunResult v = run(m_example, {u"--version"_s});
        QVERIFY2(v.ok() && v.out.contains(version()), qPrintable(v.describe()));
    }

    void exampleFetchesThroughDaemonAndInProcess()
    {
        if (m_example.isEmpty())
            QSKIP("the example was not built (see exampleBuildsAgainstTheInstalledPackageAlone)");
        ProcessFixture reddit;
        QVERIFY2(reddit.start(prawmp::test::fakeRedditProgram(), {u"--port"_s, u"0"_s}),
                 qPrintable(reddit.describe()));
        const QString upstream = QStringLiteral("http://127.0.0.1:%1").arg(reddit.port());

        // The installed daemon with the installed default config file.
        ProcessFixture daemon;
        daemon.setEnv(u"LD_LIBRARY_PATH"_s, m_libDir);
        QVERIFY2(daemon.start(installed(u"bin/praw-multiprocess"_s),
                              {u"--config"_s, installed(u"etc/praw-multiprocess.ini"_s), u"--addr"_s,
                               u"127.0.0.1"_s, u"--port"_s, u"0"_s, u"--upstream"_s, upstream,
                               u"--rate-mode"_s, u"fixed"_s, u"--delay"_s, u"0"_s}),
                 qPrintable(daemon.describe()));

        // The example needs no LD_LIBRARY_PATH: it found the library by RUNPATH.
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove(u"LD_LIBRARY_PATH"_s);

        // MultiprocessHandler: a path, routed by the daemon; the second is a hit.
        const RunResult viaDaemon = run(m_example,
                                        {u"--multiprocess"_s, u"--server"_s,
                                         QStringLiteral("127.0.0.1:%1").arg(daemon.port()),
                                         u"/r/python/hot.json"_s, u"/r/python/hot.json"_s},
                                        env, {}, 30'000);
        QVERIFY2(viaDaemon.ok(), qPrintable(viaDaemon.describe() + daemon.describe()));
        QVERIFY2(QRegularExpression(u"^200 MISS \\d+ bytes /r/python/hot.json$"_s,
                                    QRegularExpression::MultilineOption).match(viaDaemon.out).hasMatch(),
                 qPrintable(viaDaemon.out));
        QVERIFY2(QRegularExpression(u"^200 HIT \\d+ bytes /r/python/hot.json$"_s,
                                    QRegularExpression::MultilineOption).match(viaDaemon.out).hasMatch(),
                 qPrintable(viaDaemon.out));
        QVERIFY2(viaDaemon.out.contains(u"post 1 in r/python"_s), qPrintable(viaDaemon.out));

        // DefaultHandler: the same work in the example's own process.
        const QString url = upstream + u"/r/cpp/new.json"_s;
        const RunResult inProcess = run(m_example, {url, url}, env, {}, 30'000);
        QVERIFY2(inProcess.ok(), qPrintable(inProcess.describe()));
        QVERIFY2(inProcess.out.contains(u"200 MISS "_s) && inProcess.out.contains(u"200 HIT "_s),
                 qPrintable(inProcess.out));
        QVERIFY2(inProcess.out.contains(u"post 1 in r/cpp"_s), qPrintable(inProcess.out));

        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
        QVERIFY2(reddit.stop(), qPrintable(reddit.describe()));
    }

    // ---- the Debian package ----------------------------------------------

    void debianPackageBuildsWithTheExpectedContents()
    {
        for (const char *tool : {"dpkg-deb", "dpkg"}) {
            if (QStandardPaths::findExecutable(QString::fromLatin1(tool)).isEmpty())
                QSKIP(qPrintable(QStringLiteral("%1 is not installed (Debian: dpkg)").arg(QLatin1String(tool))));
        }
        const QString out = m_tmp.filePath(u"deb"_s);
        QVERIFY(QDir().mkpath(out));
        const RunResult pack = run(cpack(), {u"-G"_s, u"DEB"_s, u"--config"_s, m_build + u"/CPackConfig.cmake"_s,
                                             u"-B"_s, out},
                                   QProcessEnvironment::systemEnvironment(), out, 240'000);
        QVERIFY2(pack.ok(), qPrintable(pack.describe()));
        const QStringList debs = QDir(out).entryList({u"*.deb"_s}, QDir::Files);
        QCOMPARE(debs.size(), 1);
        const QString deb = out + u'/' + debs.first();
        m_deb = deb;
        QVERIFY2(debs.first().startsWith(u"praw-multiprocess_"_s + version() + u'_'), qPrintable(debs.first()));

        // Control fields: name, the one version, Depends on the runtime packages.
        const RunResult fields = run(u"dpkg-deb"_s, {u"-f"_s, deb});
        QVERIFY2(fields.ok(), qPrintable(fields.describe()));
        QVERIFY2(fields.out.contains(u"\nPackage: praw-multiprocess\n"_s) || fields.out.startsWith(u"Package: praw-multiprocess\n"_s),
                 qPrintable(fields.out));
        QVERIFY2(fields.out.contains(u"\nVersion: "_s + version() + u'\n'), qPrintable(fields.out));
        const QRegularExpressionMatch depends =
            QRegularExpression(u"^Depends: (.*)$"_s, QRegularExpression::MultilineOption).match(fields.out);
        QVERIFY2(depends.hasMatch(), qPrintable(fields.out));
        const QString dependsText = depends.captured(1);

        // Every library a packaged program needs comes with its package.
        static const QList<QPair<QString, QString>> libraryPackages{
            {u"libQt6Core.so.6"_s, u"libqt6core6"_s},       {u"libQt6Network.so.6"_s, u"libqt6network6"_s},
            {u"libQt6Gui.so.6"_s, u"libqt6gui6"_s},         {u"libQt6Widgets.so.6"_s, u"libqt6widgets6"_s},
            {u"libQt6Charts.so.6"_s, u"libqt6charts6"_s},   {u"libhiredis.so.0.14"_s, u"libhiredis0.14"_s},
        };
        const QString readelf = QStandardPaths::findExecutable(u"readelf"_s);
        QSet<QString> needed;
        if (!readelf.isEmpty()) {
            for (const auto &program : builtPrograms()) {
                const RunResult r = run(readelf, {u"-d"_s, program.second});
                static const QRegularExpression lib(u"\\(NEEDED\\).*\\[(.*)\\]"_s);
                for (auto it = lib.globalMatch(r.out); it.hasNext();)
                    needed.insert(it.next().captured(1));
            }
            QVERIFY2(needed.contains(u"libQt6Core.so.6"_s), "readelf found no Qt library");
        } else {
            needed = {u"libQt6Core.so.6"_s, u"libQt6Network.so.6"_s};
        }
        for (const auto &[library, package] : libraryPackages) {
            if (needed.contains(library))
                QVERIFY2(QRegularExpression(u"(^|, )"_s + QRegularExpression::escape(package) + u"( |,|$)"_s)
                             .match(dependsText).hasMatch(),
                         qPrintable(QStringLiteral("%1 needs %2 but Depends is: %3").arg(library, package, dependsText)));
        }

        // The files.
        const RunResult contents = run(u"dpkg-deb"_s, {u"-c"_s, deb});
        QVERIFY2(contents.ok(), qPrintable(contents.describe()));
        m_debFiles.clear();
        for (const QString &line : contents.out.split(u'\n', Qt::SkipEmptyParts)) {
            QString path = line.section(u' ', 5, -1, QString::SectionSkipEmpty);
            path = path.section(u" -> "_s, 0, 0); // symlinks
            m_debFiles.append(path);
        }
        const QString lib = u"./usr/"_s + libDirName();
        QStringList expected{
            u"./usr/bin/praw-multiprocess"_s,
            lib + u"/libprawmp_core.so."_s + version(),
            lib + u"/libprawmp_core.so."_s + version().section(u'.', 0, 0),
            u"./usr/include/prawmp/Handler.h"_s,
            u"./usr/include/prawmp/Version.h"_s,
            lib + u"/cmake/PrawMp/PrawMpConfig.cmake"_s,
            lib + u"/pkgconfig/prawmp-core.pc"_s,
            u"./usr/lib/systemd/system/praw-multiprocess.service"_s,
            u"./usr/lib/sysusers.d/praw-multiprocess.conf"_s,
            u"./etc/praw-multiprocess.ini"_s,
            u"./usr/share/man/man1/praw-multiprocess.1.gz"_s,
            u"./usr/share/man/man1/praw-multiprocess-client.1.gz"_s,
            u"./usr/share/doc/praw-multiprocess/README.md"_s,
            u"./usr/share/doc/praw-multiprocess/LICENSE"_s,
            u"./usr/share/doc/praw-multiprocess/copyright"_s,
        };
        if (!prawmp::test::clientProgram().isEmpty())
            expected << u"./usr/bin/praw-multiprocess-client"_s;
        if (!prawmp::test::guiProgram().isEmpty()) {
            expected << u"./usr/bin/praw-multiprocess-gui"_s
                     << u"./usr/share/applications/praw-multiprocess-gui.desktop"_s
                     << u"./usr/share/icons/hicolor/scalable/apps/praw-multiprocess.svg"_s
                     << u"./usr/share/icons/hicolor/256x256/apps/praw-multiprocess.png"_s;
        }
        for (const QString &file : std::as_const(expected))
            QVERIFY2(m_debFiles.contains(file), qPrintable(file + u" is not in the package:\n"_s + contents.out));
        for (const QString &file : std::as_const(m_debFiles)) {
            QVERIFY2(file == u"./" || file.startsWith(u"./usr/"_s) || file.startsWith(u"./etc/"_s),
                     qPrintable(file + u": outside /usr and /etc"_s));
            QVERIFY2(!file.startsWith(u"./usr/local"_s), qPrintable(file));
        }

        // The maintainer scripts and the conffile.
        const QString control = m_tmp.filePath(u"deb-control"_s);
        const RunResult e = run(u"dpkg-deb"_s, {u"-e"_s, deb, control});
        QVERIFY2(e.ok(), qPrintable(e.describe()));
        QCOMPARE(readFile(control + u"/conffiles"_s).trimmed(), QByteArray("/etc/praw-multiprocess.ini"));
        // The shared library: shlibs for packages built against it, ldconfig on install.
        QVERIFY2(readFile(control + u"/shlibs"_s).startsWith("libprawmp_core " + version().section(u'.', 0, 0).toUtf8()),
                 readFile(control + u"/shlibs"_s).constData());
        QVERIFY(readFile(control + u"/triggers"_s).contains("activate-noawait ldconfig"));
        for (const QString &script : {u"postinst"_s, u"prerm"_s, u"postrm"_s}) {
            QVERIFY2(QFileInfo(control + u'/' + script).isExecutable(), qPrintable(script));
            const RunResult syntax = run(u"sh"_s, {u"-n"_s, control + u'/' + script});
            QVERIFY2(syntax.ok(), qPrintable(syntax.describe()));
        }
        QVERIFY(readFile(control + u"/postinst"_s).contains("systemd-sysusers praw-multiprocess.conf"));

        // Extracted into a root of its own, the daemon runs from there.
        m_debRoot = m_tmp.filePath(u"deb-root"_s);
        const RunResult x = run(u"dpkg"_s, {u"-x"_s, deb, m_debRoot});
        QVERIFY2(x.ok(), qPrintable(x.describe()));
        const QProcessEnvironment rootEnv = envWith(u"LD_LIBRARY_PATH"_s, m_debRoot + u"/usr/"_s + libDirName());
        const RunResult v = run(m_debRoot + u"/usr/bin/praw-multiprocess"_s, {u"--version"_s}, rootEnv);
        QVERIFY2(v.ok(), qPrintable(v.describe()));
        QCOMPARE(v.out.trimmed(), u"praw-multiprocess "_s + version());
        if (!prawmp::test::clientProgram().isEmpty()) {
            const RunResult c = run(m_debRoot + u"/usr/bin/praw-multiprocess-client"_s, {u"--version"_s}, rootEnv);
            QVERIFY2(c.ok() && c.out.contains(version()), qPrintable(c.describe()));
        }
        // ... with the packaged config file, and it names the packaged paths.
        ProcessFixture daemon;
        daemon.setEnv(u"LD_LIBRARY_PATH"_s, m_debRoot + u"/usr/"_s + libDirName());
        QVERIFY2(daemon.start(m_debRoot + u"/usr/bin/praw-multiprocess"_s,
                              {u"--config"_s, m_debRoot + u"/etc/praw-multiprocess.ini"_s, u"--port"_s, u"0"_s}),
                 qPrintable(daemon.describe()));
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
        const QByteArray unit = readFile(m_debRoot + u"/usr/lib/systemd/system/praw-multiprocess.service"_s);
        QVERIFY2(unit.contains("\nExecStart=/usr/bin/praw-multiprocess --config /etc/praw-multiprocess.ini\n"),
                 unit.constData());
    }

    // The licence travels with the package: Debian's machine-readable
    // copyright file names the project's licence and those of the libraries
    // it uses, and lintian finds nothing wrong with it.
    void debianPackageCarriesTheCopyrightFile()
    {
        if (m_debRoot.isEmpty())
            QSKIP("the package was not built (see debianPackageBuildsWithTheExpectedContents)");
        const QString docDir = m_debRoot + u"/usr/share/doc/praw-multiprocess/"_s;
        const QByteArray copyright = readFile(docDir + u"copyright"_s);
        QVERIFY(copyright.startsWith(
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"));
        QVERIFY(copyright.contains("\nFiles: *\n"));
        for (const char *license : {"BSD-2-Clause", "LGPL-3", "BSD-3-Clause", "Expat"})
            QVERIFY2(copyright.contains(QByteArray("\nLicense: ") + license + '\n'), license);
        for (const char *library : {"Qt 6", "hiredis", "llhttp"})
            QVERIFY2(copyright.contains(library), library);
        QVERIFY(readFile(docDir + u"LICENSE"_s).startsWith("BSD 2-Clause License\n"));

        const QString lintian = QStandardPaths::findExecutable(u"lintian"_s);
        QVERIFY2(!lintian.isEmpty(), "lintian is not installed (scripts/install-deps installs it)");
        const RunResult check = run(lintian, {u"--tag-display-limit"_s, u"0"_s, m_deb},
                                    QProcessEnvironment::systemEnvironment(), {}, 240'000);
        QVERIFY2(check.finished, qPrintable(check.describe()));
        // Lines are "E: package: tag [details]"; lintian exits 1 when it
        // reports any error, and this package is not a Debian upload (no
        // changelog, CPack's layout), so only copyright tags are asserted.
        static const QRegularExpression tagLine(u"^([EW]): [^:]+: (\\S+)"_s,
                                                QRegularExpression::MultilineOption);
        QStringList copyrightTags;
        auto it = tagLine.globalMatch(check.out);
        int tags = 0;
        while (it.hasNext()) {
            const auto m = it.next();
            ++tags;
            const QString tag = m.captured(2);
            if (tag.contains(u"copyright"_s) || tag.contains(u"dep5"_s) || tag.contains(u"license"_s))
                copyrightTags << m.captured(0);
        }
        QVERIFY2(copyrightTags.isEmpty(), qPrintable(copyrightTags.join(u'\n')));
        qInfo("lintian: %d errors and warnings, none about the copyright", tags);
    }

    // ---- systemd unit ----------------------------------------------------

    void systemdUnitIsValidAndHardened()
    {
        const QString source = prawmp::test::sourceDir() + u"/resources/praw-multiprocess.service"_s;
        // A parser check: sections and KEY=VALUE lines only, and what the service needs.
        QHash<QString, QStringList> keys; // "Section/Key" -> values
        QString section;
        const QStringList lines = QString::fromUtf8(readFile(source)).split(u'\n');
        for (qsizetype i = 0; i < lines.size(); ++i) {
            const QString line = lines[i].trimmed();
            if (line.isEmpty() || line.startsWith(u'#') || line.startsWith(u';'))
                continue;
            if (line.startsWith(u'[')) {
                QVERIFY2(line.endsWith(u']'), qPrintable(QStringLiteral("line %1: %2").arg(i + 1).arg(line)));
                section = line.mid(1, line.size() - 2);
                QVERIFY2((QStringList{u"Unit"_s, u"Service"_s, u"Install"_s}).contains(section), qPrintable(line));
                continue;
            }
            const qsizetype eq = line.indexOf(u'=');
            QVERIFY2(eq > 0 && !section.isEmpty(), qPrintable(QStringLiteral("line %1: %2").arg(i + 1).arg(line)));
            QVERIFY2(!line.endsWith(u'\\'), "no continuation lines expected");
            keys[section + u'/' + line.left(eq).trimmed()].append(line.mid(eq + 1).trimmed());
        }
        const QList<QPair<QString, QString>> required{
            {u"Service/ExecStart"_s, u"/usr/bin/praw-multiprocess --config /etc/praw-multiprocess.ini"_s},
            {u"Service/ExecReload"_s, u"/bin/kill -HUP $MAINPID"_s},
            {u"Service/User"_s, u"praw-multiprocess"_s},
            {u"Service/Restart"_s, u"on-failure"_s},
            {u"Service/NoNewPrivileges"_s, u"yes"_s},
            {u"Service/ProtectSystem"_s, u"strict"_s},
            {u"Service/ProtectHome"_s, u"yes"_s},
            {u"Service/PrivateTmp"_s, u"yes"_s},
            {u"Install/WantedBy"_s, u"multi-user.target"_s},
        };
        for (const auto &[key, value] : required)
            QVERIFY2(keys.value(key).contains(value), qPrintable(QStringLiteral("%1=%2 expected").arg(key, value)));
        // The sysusers.d entry creates the user the unit names.
        QVERIFY(readFile(prawmp::test::sourceDir() + u"/resources/praw-multiprocess.sysusers"_s)
                    .contains("\nu praw-multiprocess "));

        const QString analyze = QStandardPaths::findExecutable(u"systemd-analyze"_s);
        if (analyze.isEmpty())
            QSKIP("systemd-analyze is not installed (Debian: systemd): only the parser check ran");
        // The installed unit: its ExecStart exists (under the prefix), and
        // its Documentation= man page is found through MANPATH.
        const QString unit = installed(u"lib/systemd/system/praw-multiprocess.service"_s);
        const RunResult verify = run(analyze, {u"verify"_s, unit},
                                     envWith(u"MANPATH"_s, installed(u"share/man"_s)));
        QVERIFY2(verify.ok(), qPrintable(verify.describe()));
        // Unknown keys and bad values are only warnings (exit 0): none may concern our unit.
        QVERIFY2(!verify.err.contains(u"praw-multiprocess"_s), qPrintable(verify.describe()));
    }

    // ---- desktop entry ---------------------------------------------------

    void desktopEntryIsValid()
    {
        const QString source = prawmp::test::sourceDir() + u"/resources/praw-multiprocess-gui.desktop"_s;
        const QString text = QString::fromUtf8(readFile(source));
        QVERIFY(text.startsWith(u"[Desktop Entry]\n"_s));
        QVERIFY(text.contains(u"\nExec=praw-multiprocess-gui\n"_s));
        QVERIFY(text.contains(u"\nIcon=praw-multiprocess\n"_s));
        // The icon it names is what gui/ installs.
        QVERIFY(QFileInfo::exists(prawmp::test::sourceDir() + u"/resources/icons/praw-multiprocess.svg"_s));
        if (!prawmp::test::guiProgram().isEmpty())
            QVERIFY(QFileInfo::exists(installed(u"share/icons/hicolor/scalable/apps/praw-multiprocess.svg"_s)));

        const QString validate = QStandardPaths::findExecutable(u"desktop-file-validate"_s);
        if (validate.isEmpty())
            QSKIP("desktop-file-validate is not installed (Debian: desktop-file-utils)");
        const RunResult r = run(validate, {source});
        QVERIFY2(r.ok() && r.out.trimmed().isEmpty(), qPrintable(r.describe()));
    }

    // ---- man pages and default config against --help ---------------------

    void daemonManPageAndConfigCoverEveryOption()
    {
        const RunResult help = run(prawmp::test::daemonProgram(), {u"--help"_s});
        QVERIFY2(help.ok(), qPrintable(help.describe()));
        const QList<HelpOption> options = parseHelpOptions(help.out);
        // The parse of --help found what the parser declares.
        prawmp::DaemonOptionsParser parser;
        QStringList declared = parser.optionNames();
        declared.append(u"help-all"_s);
        QStringList found = names(options);
        declared.sort();
        found.sort();
        QCOMPARE(found, declared);

        // Man page: every option, as the reader sees it.
        QString warnings;
        const QString page = renderManPage(m_build + u"/man/praw-multiprocess.1"_s, &warnings);
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings));
        for (const HelpOption &o : options)
            QVERIFY2(mentionsOption(page, o.name), qPrintable(u"man page lacks --"_s + o.name));
        QVERIFY2(page.contains(u"praw-multiprocess "_s + version()), "man page footer lacks the version");

        // Default config: every option that is also a file key, commented,
        // with the default --help shows.
        const QString config = QString::fromUtf8(readFile(prawmp::test::sourceDir() + u"/resources/praw-multiprocess.ini"_s));
        QHash<QString, QString> commented; // key -> value
        static const QRegularExpression keyLine(u"^;([a-z][a-z0-9-]*) = ?(.*)$"_s);
        for (const QString &line : config.split(u'\n')) {
            const QRegularExpressionMatch m = keyLine.match(line);
            if (m.hasMatch()) {
                QVERIFY2(!commented.contains(m.captured(1)), qPrintable(u"twice: "_s + m.captured(1)));
                commented.insert(m.captured(1), m.captured(2).trimmed());
            } else {
                QVERIFY2(line.isEmpty() || line.startsWith(u"; "_s) || line == u";",
                         qPrintable(u"not a comment: "_s + line));
            }
        }
        const QSet<QString> notInFile{u"help"_s, u"help-all"_s, u"version"_s, u"config"_s};
        // Defaults --help computes for this machine (threads: one per core;
        // state-dir: under the user's home or systemd's StateDirectory).
        const QSet<QString> machineDependent{u"threads"_s, u"state-dir"_s};
        // What --help shows as a default, as the config file writes it.
        const QHash<QString, QString> spelled{{u"none"_s, QString()}, {u"Reddit's routes"_s, QString()},
                                              {u"off"_s, u"false"_s}};
        QStringList keys;
        for (const HelpOption &o : options) {
            if (notInFile.contains(o.name))
                continue;
            keys.append(o.name);
            QVERIFY2(commented.contains(o.name), qPrintable(u"default config lacks ;"_s + o.name + u" = ..."_s));
            QString expected = spelled.value(o.defaultText, o.defaultText);
            if (o.name == u"max-queue-wait")
                expected = u"none"_s; // a value the option takes
            if (machineDependent.contains(o.name))
                expected.clear(); // the file cannot know this machine's default
            QVERIFY2(commented.value(o.name) == expected,
                     qPrintable(QStringLiteral("%1 = '%2' in the config, default '%3' in --help")
                                    .arg(o.name, commented.value(o.name), o.defaultText)));
        }
        for (auto it = commented.cbegin(); it != commented.cend(); ++it)
            QVERIFY2(keys.contains(it.key()), qPrintable(u"the config names an unknown key: "_s + it.key()));

        // The file as shipped, and with every key given its default, is accepted.
        QString uncommented;
        for (const QString &line : config.split(u'\n')) {
            const QRegularExpressionMatch m = keyLine.match(line);
            if (m.hasMatch() && !m.captured(2).trimmed().isEmpty())
                uncommented += line.mid(1) + u'\n';
        }
        const QString all = m_tmp.filePath(u"all-defaults.ini"_s);
        QVERIFY(writeFile(all, uncommented.toUtf8()));
        for (const QString &file : {prawmp::test::sourceDir() + u"/resources/praw-multiprocess.ini"_s, all}) {
            ProcessFixture daemon;
            QVERIFY2(daemon.start(prawmp::test::daemonProgram(), {u"--config"_s, file, u"--port"_s, u"0"_s}),
                     qPrintable(file + u'\n' + daemon.describe()));
            QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
        }
    }

    void clientManPageCoversEveryOption()
    {
        const QString client = prawmp::test::clientProgram();
        if (client.isEmpty())
            QSKIP("praw-multiprocess-client is not built");
        const RunResult help = run(client, {u"--help"_s});
        QVERIFY2(help.ok(), qPrintable(help.describe()));
        QStringList options = names(parseHelpOptions(help.out));
        QVERIFY(options.contains(u"server"_s));

        // The commands, from the "Commands:" section ("  get URL ...").
        QStringList commands;
        bool inCommands = false;
        static const QRegularExpression commandLine(u"^  ([a-z]+)\\b"_s);
        for (const QString &line : help.out.split(u'\n')) {
            if (line.startsWith(u"Commands:"))
                inCommands = true;
            else if (!line.startsWith(u' '))
                inCommands = false;
            else if (const QRegularExpressionMatch m = commandLine.match(line); inCommands && m.hasMatch())
                commands.append(m.captured(1));
        }
        QVERIFY2(commands.size() >= 6, qPrintable(help.out));

        QString warnings;
        const QString page = renderManPage(m_build + u"/man/praw-multiprocess-client.1"_s, &warnings);
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings));
        QVERIFY2(page.contains(u"praw-multiprocess "_s + version()), "man page footer lacks the version");
        for (const QString &command : std::as_const(commands)) {
            QVERIFY2(QRegularExpression(u"^   "_s + command + u"\\b"_s, QRegularExpression::MultilineOption)
                         .match(page).hasMatch(),
                     qPrintable(u"man page lacks a section for the command "_s + command));
            const RunResult commandHelp = run(client, {command, u"--help"_s});
            QVERIFY2(commandHelp.ok(), qPrintable(commandHelp.describe()));
            options += names(parseHelpOptions(commandHelp.out));
        }
        options.removeDuplicates();
        for (const QString &o : std::as_const(options))
            QVERIFY2(mentionsOption(page, o), qPrintable(u"man page lacks --"_s + o));
    }

    void installedManPagesAreTheBuiltOnes()
    {
        const QString gzip = QStandardPaths::findExecutable(u"gzip"_s);
        if (gzip.isEmpty())
            QSKIP("gzip is not installed");
        for (const QString &page : {u"praw-multiprocess.1"_s, u"praw-multiprocess-client.1"_s}) {
            const RunResult r = run(gzip, {u"-dc"_s, installed(u"share/man/man1/"_s + page + u".gz"_s)});
            QVERIFY2(r.ok(), qPrintable(r.describe()));
            QCOMPARE(r.out.toUtf8(), readFile(m_build + u"/man/"_s + page));
            QVERIFY2(r.out.contains(u"\"praw-multiprocess "_s + version() + u'"'), qPrintable(page));
        }
    }
};

QTEST_GUILESS_MAIN(TestPackaging)
#include "tst_packaging.moc"
