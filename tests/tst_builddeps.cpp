// Every file the configured build loaded from the system — the CMake package
// configs configure found, the libraries it recorded and linked, the headers
// the compiler read — belongs to a Debian package in the dependency closure
// of `scripts/install-deps --list`. A package that is only installed by hand
// on this machine (as libqt6opengl6-dev once was, which qt6-charts-dev needs
// but does not depend on) makes this test fail here, instead of the product
// silently losing a part on a fresh machine.
//
// The build directory is the parent of this test's own directory; it must be
// a Ninja build that has been built (ninja's deps log names the headers).
#include "BuildTree.h"
#include "TestPrograms.h"

#include <QCoreApplication>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

using namespace Qt::Literals::StringLiterals;

namespace {

struct Output
{
    bool ok = false;
    QString text;
    QString error;
};

Output runProgram(const QString &program, const QStringList &arguments,
                  const QString &workingDirectory = {})
{
    QProcess p;
    if (!workingDirectory.isEmpty())
        p.setWorkingDirectory(workingDirectory);
    p.start(program, arguments);
    Output out;
    if (!p.waitForFinished(180'000)) {
        p.kill();
        p.waitForFinished();
        out.error = program + u" did not finish: "_s + p.errorString();
        return out;
    }
    out.text = QString::fromLocal8Bit(p.readAllStandardOutput());
    out.error = QString::fromLocal8Bit(p.readAllStandardError());
    out.ok = p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
    return out;
}

// Debian 12 merges /lib into /usr/lib; dpkg lists whichever the package uses.
QStringList spellings(const QString &path)
{
    QStringList s{path};
    if (path.startsWith(u"/usr/lib/"_s) || path.startsWith(u"/usr/bin/"_s)
        || path.startsWith(u"/usr/sbin/"_s))
        s << path.mid(4);
    else if (path.startsWith(u"/lib"_s) || path.startsWith(u"/bin/"_s) || path.startsWith(u"/sbin/"_s))
        s << u"/usr"_s + path;
    return s;
}

bool isLibrary(const QString &path)
{
    static const QRegularExpression lib(u"/lib[^/]*\\.(so(\\.[0-9]+)*|a)$"_s);
    return lib.match(path).hasMatch();
}

} // namespace

class tst_BuildDeps : public QObject
{
    Q_OBJECT

    QString m_build;
    QString m_source;
    QHash<QString, QString> m_cache;
    QSet<QString> m_closure;           // Debian packages install-deps brings in
    QHash<QString, QString> m_owner;   // path -> package, from dpkg's file lists
    QHash<QString, QStringList> m_usedByPackage; // package -> files the build loaded
    QStringList m_unowned;             // loaded files no package owns
    int m_configs = 0;
    int m_libraries = 0;
    int m_headers = 0;

    bool insideProject(const QString &path) const
    {
        return path.startsWith(m_source + u'/') || path.startsWith(m_build + u'/');
    }

    // Records one file the build loaded and the package that owns it.
    void loaded(const QString &rawPath)
    {
        const QString path = QDir::cleanPath(rawPath);
        if (!path.startsWith(u'/') || insideProject(path))
            return;
        QString owner;
        QStringList candidates = spellings(path);
        const QString canonical = QFileInfo(path).canonicalFilePath();
        if (!canonical.isEmpty() && canonical != path)
            candidates += spellings(canonical);
        for (const QString &candidate : std::as_const(candidates)) {
            owner = m_owner.value(candidate);
            if (!owner.isEmpty())
                break;
        }
        if (owner.isEmpty()) {
            if (!m_unowned.contains(path))
                m_unowned << path;
            return;
        }
        QStringList &files = m_usedByPackage[owner];
        if (!files.contains(path))
            files << path;
    }

    void readDpkgFileLists()
    {
        QDirIterator it(u"/var/lib/dpkg/info"_s, {u"*.list"_s}, QDir::Files);
        while (it.hasNext()) {
            const QFileInfo info(it.next());
            QString package = info.completeBaseName();
            package = package.section(u':', 0, 0); // libfoo:amd64 -> libfoo
            QFile list(info.filePath());
            if (!list.open(QIODevice::ReadOnly | QIODevice::Text))
                continue;
            const QList<QByteArray> lines = list.readAll().split('\n');
            for (const QByteArray &line : lines) {
                if (!line.isEmpty())
                    m_owner.insert(QString::fromUtf8(line), package);
            }
        }
    }

    // configure: every package config found (Foo_DIR holds FooConfig.cmake),
    // and every library find_library / pkg-config recorded.
    void collectFromCache()
    {
        for (auto it = m_cache.cbegin(); it != m_cache.cend(); ++it) {
            const QString key = it.key();
            const QString value = it.value();
            if (key.endsWith(u"_DIR"_s) && QFileInfo(value).isDir()) {
                const QString name = key.chopped(4);
                for (const QString &file : {name + u"Config.cmake"_s,
                                            name.toLower() + u"-config.cmake"_s}) {
                    const QString path = value + u'/' + file;
                    if (QFileInfo::exists(path)) {
                        ++m_configs;
                        loaded(path);
                    }
                }
            } else if (isLibrary(value) && QFileInfo::exists(value)) {
                ++m_libraries;
                loaded(value);
            }
        }
    }

    // build: every system library on a link line, every header in ninja's deps log.
    void collectFromNinja(const QString &ninja)
    {
        const Output commands = runProgram(ninja, {u"-C"_s, m_build, u"-t"_s, u"commands"_s});
        QVERIFY2(commands.ok, qPrintable(commands.error));
        static const QRegularExpression token(u"(?:^|[\\s;=:])(/[^\\s;:\"']+)"_s);
        auto words = token.globalMatch(commands.text);
        QSet<QString> seen;
        while (words.hasNext()) {
            const QString path = words.next().captured(1);
            if (isLibrary(path) && !insideProject(path) && !seen.contains(path) && QFileInfo::exists(path)) {
                seen.insert(path);
                ++m_libraries;
                loaded(path);
            }
        }

        const Output deps = runProgram(ninja, {u"-C"_s, m_build, u"-t"_s, u"deps"_s});
        QVERIFY2(deps.ok, qPrintable(deps.error));
        QSet<QString> headers;
        const QStringList lines = deps.text.split(u'\n');
        for (const QString &line : lines) {
            if (!line.startsWith(u' '))
                continue;
            const QString path = line.trimmed();
            if (path.startsWith(u'/') && !headers.contains(path)) {
                headers.insert(path);
                loaded(path);
            }
        }
        m_headers = int(headers.size());
    }

    void computeClosure()
    {
        const QString installDeps = m_source + u"/scripts/install-deps"_s;
        const Output list = runProgram(u"bash"_s, {installDeps, u"--list"_s});
        QVERIFY2(list.ok, qPrintable(u"scripts/install-deps --list failed: "_s + list.error));
        const QStringList packages = list.text.split(u'\n', Qt::SkipEmptyParts);
        QVERIFY2(packages.contains(u"qt6-base-dev"_s), qPrintable(list.text));

        // --installed: alternatives and providers that are not installed are
        // not part of what install-deps brought in.
        const Output depends = runProgram(u"apt-cache"_s,
            QStringList{u"depends"_s, u"--recurse"_s, u"--installed"_s, u"--no-recommends"_s,
                        u"--no-suggests"_s, u"--no-conflicts"_s, u"--no-breaks"_s,
                        u"--no-replaces"_s, u"--no-enhances"_s} + packages);
        QVERIFY2(depends.ok, qPrintable(depends.error));
        const QStringList lines = depends.text.split(u'\n', Qt::SkipEmptyParts);
        for (const QString &line : lines) {
            if (!line.startsWith(u' ') && !line.startsWith(u'<'))
                m_closure.insert(line.section(u':', 0, 0).trimmed());
        }
        for (const QString &p : packages)
            QVERIFY2(m_closure.contains(p), qPrintable(p + u" from install-deps is not installed"_s));
    }

private slots:
    void initTestCase()
    {
        m_build = prawmp::test::buildDirectory();
        m_cache = prawmp::test::readCMakeCache(m_build + u"/CMakeCache.txt"_s);
        QVERIFY2(!m_cache.isEmpty(), qPrintable(u"no CMakeCache.txt in "_s + m_build));
        m_source = QFileInfo(m_cache.value(u"PrawMultiprocess_SOURCE_DIR"_s)).canonicalFilePath();
        QCOMPARE(m_source, QFileInfo(prawmp::test::sourceDir()).canonicalFilePath());
        const QString ninja = m_cache.value(u"CMAKE_MAKE_PROGRAM"_s);
        QVERIFY2(ninja.endsWith(u"ninja"_s), qPrintable(u"not a Ninja build: "_s + ninja));

        readDpkgFileLists();
        QVERIFY2(m_owner.size() > 1000, "dpkg's file lists could not be read");
        computeClosure();
        collectFromCache();
        collectFromNinja(ninja);

        // Not vacuous: the build did load Qt's configs, libraries and headers.
        QVERIFY2(m_configs >= 3, qPrintable(QString::number(m_configs)));
        QVERIFY2(m_libraries >= 3, qPrintable(QString::number(m_libraries)));
        QVERIFY2(m_headers >= 100, qPrintable(QString::number(m_headers)));
        QVERIFY(m_usedByPackage.contains(u"qt6-base-dev"_s));
        qInfo("checked %d package configs, %d libraries, %d headers from %d packages",
              m_configs, m_libraries, m_headers, int(m_usedByPackage.size()));
    }

    void loadedPackageIsInstalledByInstallDeps_data()
    {
        QTest::addColumn<QString>("package");
        QTest::addColumn<QStringList>("files");
        QStringList packages = m_usedByPackage.keys();
        packages.sort();
        for (const QString &package : std::as_const(packages))
            QTest::newRow(qPrintable(package)) << package << m_usedByPackage.value(package);
    }

    void loadedPackageIsInstalledByInstallDeps()
    {
        QFETCH(QString, package);
        QFETCH(QStringList, files);
        files.sort();
        const QString example = files.first()
            + (files.size() > 1 ? u" and %1 more"_s.arg(files.size() - 1) : QString());
        QVERIFY2(m_closure.contains(package),
                 qPrintable(u"the build loaded %1 from %2, which scripts/install-deps does not "
                            u"install (add it to its list)"_s.arg(example, package)));
    }

    // A missing part is a configure error naming the Debian package; only
    // an explicit -DPRAWMP_BUILD_GUI=OFF leaves the dashboard out.
    void configureWithoutQtChartsFailsNamingThePackage()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const Output configure = runProgram(m_cache.value(u"CMAKE_COMMAND"_s),
            {u"-S"_s, m_source, u"-B"_s, dir.path(), u"-G"_s, u"Ninja"_s,
             u"-DCMAKE_DISABLE_FIND_PACKAGE_Qt6Charts=TRUE"_s});
        QVERIFY2(!configure.ok, "configure succeeded without Qt Charts");
        QVERIFY2(configure.error.contains(u"qt6-charts-dev"_s), qPrintable(configure.error));
        QVERIFY2(configure.error.contains(u"-DPRAWMP_BUILD_GUI=OFF"_s), qPrintable(configure.error));
    }

    void configureWithoutTheGuiOnPurposeLeavesOutOnlyItsSuites()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString cmake = m_cache.value(u"CMAKE_COMMAND"_s);
        const Output configure = runProgram(cmake,
            {u"-S"_s, m_source, u"-B"_s, dir.path(), u"-G"_s, u"Ninja"_s,
             u"-DCMAKE_DISABLE_FIND_PACKAGE_Qt6Charts=TRUE"_s, u"-DPRAWMP_BUILD_GUI=OFF"_s});
        QVERIFY2(configure.ok, qPrintable(configure.error));
        const Output listed = runProgram(QFileInfo(cmake).dir().filePath(u"ctest"_s),
                                         {u"--test-dir"_s, dir.path(), u"-N"_s});
        QVERIFY2(listed.ok, qPrintable(listed.error));
        const QStringList suites = QDir(m_source + u"/tests"_s).entryList({u"tst_*.cpp"_s});
        const QStringList guiSuites = suites.filter(u"tst_gui_"_s);
        QVERIFY(!guiSuites.isEmpty());
        // "  Test  #3: tst_cachekey": every suite but the GUI's, and the
        // reruns of some on another I/O backend ("<suite>_poll").
        QStringList tests;
        static const QRegularExpression testLine(u"Test +#\\d+: (\\S+)"_s);
        for (auto it = testLine.globalMatch(listed.text); it.hasNext();)
            tests << it.next().captured(1);
        QStringList expected;
        for (const QString &suite : suites)
            if (!guiSuites.contains(suite))
                expected << suite.chopped(4);
        for (const QString &test : std::as_const(tests))
            if (test.endsWith(u"_poll"_s) && expected.contains(test.chopped(5)) && !expected.contains(test))
                expected << test;
        tests.sort();
        expected.sort();
        QCOMPARE(tests, expected);
        QVERIFY2(listed.text.contains(u"Total Tests: %1\n"_s.arg(expected.size())), qPrintable(listed.text));
    }

    void everyLoadedFileComesFromAPackage()
    {
        QVERIFY2(m_unowned.isEmpty(),
                 qPrintable(u"the build loaded files no Debian package owns (installed by hand?): "_s
                            + m_unowned.mid(0, 20).join(u", "_s)));
    }
};

QTEST_GUILESS_MAIN(tst_BuildDeps)
#include "tst_builddeps.moc"
