// gui-latency-bench: is the dashboard still responsive with 200 connected
// clients and 500 requests/s of cache hits? Starts fake-reddit and the
// daemon, opens the dashboard (MainWindow, the same code the program runs)
// on it, measures the event loop's latency while idle, then while a second
// process (this program with --load) drives the load; prints a markdown table.
//
//   gui-latency-bench [--clients 200] [--rate 500] [--seconds 20] [--idle-seconds 5]
//
// Runs on the offscreen platform unless QT_QPA_PLATFORM says otherwise
// (widgets are still painted, into memory). Bounded: about idle + load + 10 s.
#include "ClientsTable.h"
#include "DaemonConnection.h"
#include "LatencyProbe.h"
#include "LoadGenerator.h"
#include "MainWindow.h"
#include "ProcessFixture.h"
#include "RequestLogView.h"
#include "RequestsChart.h"
#include "TestPrograms.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QSysInfo>
#include <QTableView>
#include <QTimer>

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <functional>

using namespace prawmp;
using namespace prawmp::gui;

namespace {

int runLoad(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    const QCommandLineOption load(QStringLiteral("load"));
    const QCommandLineOption port(QStringLiteral("port"), {}, QStringLiteral("N"));
    const QCommandLineOption clients(QStringLiteral("clients"), {}, QStringLiteral("N"), QStringLiteral("200"));
    const QCommandLineOption rate(QStringLiteral("rate"), {}, QStringLiteral("N"), QStringLiteral("500"));
    const QCommandLineOption seconds(QStringLiteral("seconds"), {}, QStringLiteral("N"), QStringLiteral("20"));
    const QCommandLineOption urls(QStringLiteral("urls"), {}, QStringLiteral("N"), QStringLiteral("20"));
    parser.addOptions({load, port, clients, rate, seconds, urls});
    parser.process(app);

    LoadGenerator generator(quint16(parser.value(port).toUInt()), parser.value(clients).toInt(),
                            parser.value(rate).toDouble(), parser.value(urls).toInt());
    const int runMs = parser.value(seconds).toInt() * 1000;
    QElapsedTimer clock;
    LoadGenerator::Stats atStart;
    QObject::connect(&generator, &LoadGenerator::ready, &app, [&] {
        atStart = generator.stats();
        std::printf("READY\n");
        std::fflush(stdout);
        generator.start();
        clock.start();
        QTimer::singleShot(runMs, &app, [&] {
            generator.stop();
            const LoadGenerator::Stats s = generator.stats();
            std::printf("RESULT %llu %llu %llu %llu %.3f\n", (unsigned long long)(s.answered - atStart.answered),
                        (unsigned long long)(s.hits - atStart.hits), (unsigned long long)(s.errors - atStart.errors),
                        (unsigned long long)(s.behind - atStart.behind), double(clock.elapsed()) / 1000.0);
            std::fflush(stdout);
            QCoreApplication::quit();
        });
    });
    // Never outlive a lost parent for long.
    QTimer::singleShot(runMs + 60'000, &app, [] { QCoreApplication::exit(3); });
    generator.prepare();
    return app.exec();
}

// Runs the event loop (sleeping when idle, unlike processEvents in a loop)
// until done() or the timeout; done() is polled every 10 ms.
bool waitUntil(const std::function<bool()> &done, int timeoutMs)
{
    if (done())
        return true;
    QEventLoop loop;
    QTimer poll;
    poll.setInterval(10);
    QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
        if (done())
            loop.quit();
    });
    QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
    poll.start();
    loop.exec();
    return done();
}

void runFor(int ms)
{
    QEventLoop loop;
    QTimer::singleShot(ms, &loop, &QEventLoop::quit);
    loop.exec();
}

double cpuSeconds()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double processCpuSeconds(qint64 pid)
{
    QFile f(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    const QByteArray line = f.readAll();
    const QList<QByteArray> fields = line.mid(line.lastIndexOf(')') + 2).split(' ');
    if (fields.size() < 13)
        return 0;
    return double(fields[11].toLongLong() + fields[12].toLongLong()) / double(sysconf(_SC_CLK_TCK));
}

QString cpuModel()
{
    QFile f(QStringLiteral("/proc/cpuinfo"));
    if (f.open(QIODevice::ReadOnly)) {
        for (const QByteArray &line : f.readAll().split('\n')) {
            if (line.startsWith("model name"))
                return QString::fromLatin1(line.mid(line.indexOf(':') + 1).trimmed());
        }
    }
    return QSysInfo::currentCpuArchitecture();
}

// Counts paint events of a widget, to show the dashboard really draws.
class PaintCounter : public QObject
{
public:
    using QObject::QObject;
    int paints = 0;

protected:
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (event->type() == QEvent::Paint)
            ++paints;
        return QObject::eventFilter(watched, event);
    }
};

struct Phase
{
    QString name;
    QString load;
    LatencySummary latency;
    double seconds = 0;
    double frames = 0, events = 0, paints = 0, guiCpu = 0, daemonCpu = 0;
    int clientsShown = 0;
};

} // namespace

int main(int argc, char *argv[])
{
    for (int i = 1; i < argc; ++i) {
        if (qstrcmp(argv[i], "--load") == 0)
            return runLoad(argc, argv);
    }
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    // The window's settings (recent servers) go to a directory of this run only.
    QTemporaryDir configDir;
    qputenv("XDG_CONFIG_HOME", QFile::encodeName(configDir.path()));
    QApplication app(argc, argv);
    QCoreApplication::setOrganizationName(QStringLiteral("praw-multiprocess-bench"));
    QCoreApplication::setApplicationName(QStringLiteral("gui-latency-bench"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Event-loop latency of the dashboard under load."));
    parser.addHelpOption();
    const QCommandLineOption clientsOption(QStringLiteral("clients"), QStringLiteral("Connected clients."),
                                           QStringLiteral("N"), QStringLiteral("200"));
    const QCommandLineOption rateOption(QStringLiteral("rate"), QStringLiteral("Requests per second (cache hits)."),
                                        QStringLiteral("N"), QStringLiteral("500"));
    const QCommandLineOption secondsOption(QStringLiteral("seconds"), QStringLiteral("Measured seconds under load."),
                                           QStringLiteral("N"), QStringLiteral("20"));
    const QCommandLineOption idleOption(QStringLiteral("idle-seconds"), QStringLiteral("Measured seconds idle."),
                                        QStringLiteral("N"), QStringLiteral("5"));
    parser.addOptions({clientsOption, rateOption, secondsOption, idleOption});
    parser.process(app);
    const int clients = parser.value(clientsOption).toInt();
    const double rate = parser.value(rateOption).toDouble();
    const int loadSeconds = std::max(1, parser.value(secondsOption).toInt());
    const int idleSeconds = std::max(1, parser.value(idleOption).toInt());

    if (test::daemonProgram().isEmpty() || test::fakeRedditProgram().isEmpty()) {
        std::fprintf(stderr, "gui-latency-bench: praw-multiprocess and fake-reddit must be built\n");
        return 2;
    }
    test::ProcessFixture reddit, daemon;
    // A large announced budget: the daemon paces by it, never in the way of the cache hits measured.
    if (!reddit.start(test::fakeRedditProgram(), {QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--budget"),
                                                  QStringLiteral("100000"), QStringLiteral("--window"),
                                                  QStringLiteral("600")})) {
        std::fprintf(stderr, "%s\n", qPrintable(reddit.describe()));
        return 1;
    }
    if (!daemon.start(test::daemonProgram(), {QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--upstream"),
                                              reddit.baseUrl().toString(), QStringLiteral("--cache-ttl"),
                                              QStringLiteral("3600")})) {
        std::fprintf(stderr, "%s\n", qPrintable(daemon.describe()));
        return 1;
    }

    MainWindow window;
    window.resize(1440, 900);
    window.show();
    window.connectTo({QStringLiteral("127.0.0.1"), daemon.port(), {}});
    if (!waitUntil([&] { return window.connection()->state() == DaemonConnection::State::Connected; }, 10'000)) {
        std::fprintf(stderr, "gui-latency-bench: the dashboard did not connect\n");
        return 1;
    }
    PaintCounter paints;
    window.requestsChart()->viewport()->installEventFilter(&paints);
    LatencyProbe probe(5);
    probe.start();

    const auto measure = [&](const QString &name, int ms) {
        Phase p;
        p.name = name;
        probe.take();
        const quint64 frames0 = window.connection()->statsFrames();
        const quint64 events0 = window.connection()->requestEvents();
        const int paints0 = paints.paints;
        const double cpu0 = cpuSeconds(), dcpu0 = processCpuSeconds(daemon.pid());
        QElapsedTimer t;
        t.start();
        runFor(ms);
        p.seconds = double(t.elapsed()) / 1000.0;
        p.latency = LatencySummary::of(probe.take());
        p.frames = double(window.connection()->statsFrames() - frames0) / p.seconds;
        p.events = double(window.connection()->requestEvents() - events0) / p.seconds;
        p.paints = double(paints.paints - paints0) / p.seconds;
        p.guiCpu = 100.0 * (cpuSeconds() - cpu0) / p.seconds;
        p.daemonCpu = 100.0 * (processCpuSeconds(daemon.pid()) - dcpu0) / p.seconds;
        p.clientsShown = window.clientsTable()->model()->rowCount();
        return p;
    };

    runFor(1000); // settle
    Phase idle = measure(QStringLiteral("idle (connected, no requests)"), idleSeconds * 1000);
    idle.load = QStringLiteral("0");

    QProcess load;
    load.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    load.start(QCoreApplication::applicationFilePath(),
               {QStringLiteral("--load"), QStringLiteral("--port"), QString::number(daemon.port()),
                QStringLiteral("--clients"), QString::number(clients), QStringLiteral("--rate"), QString::number(rate),
                QStringLiteral("--seconds"), QString::number(loadSeconds + 2)});
    QByteArray loadOut;
    if (!waitUntil([&] {
            loadOut += load.readAllStandardOutput();
            return loadOut.contains("READY\n") || load.state() == QProcess::NotRunning;
        }, 30'000) || !loadOut.contains("READY\n")) {
        std::fprintf(stderr, "gui-latency-bench: the load generator did not start\n%s\n", loadOut.constData());
        return 1;
    }
    runFor(1000); // let the rates and the table fill
    Phase loaded = measure(QStringLiteral("%1 clients, %2 req/s of cache hits").arg(clients).arg(rate), loadSeconds * 1000);
    if (!waitUntil([&] {
            loadOut += load.readAllStandardOutput();
            return loadOut.contains("RESULT");
        }, 15'000)) {
        std::fprintf(stderr, "gui-latency-bench: no result from the load generator\n");
        load.kill();
        return 1;
    }
    load.waitForFinished(5000);
    const QList<QByteArray> r = loadOut.mid(loadOut.indexOf("RESULT")).split('\n').first().split(' ');
    const double answered = r.value(1).toDouble(), hits = r.value(2).toDouble();
    const double errors = r.value(3).toDouble(), behind = r.value(4).toDouble(), secs = r.value(5).toDouble();
    loaded.load = QStringLiteral("%1 (%2% hits)").arg(secs > 0 ? answered / secs : 0, 0, 'f', 0)
                      .arg(answered > 0 ? 100.0 * hits / answered : 0, 0, 'f', 1);

    std::printf("\n## Dashboard responsiveness (gui-latency-bench)\n\n");
    std::printf("%s, %d cores; Qt %s, platform %s; %d s idle, %d s under load.\n\n", qPrintable(cpuModel()),
                QThread::idealThreadCount(), qVersion(), qPrintable(QGuiApplication::platformName()), idleSeconds,
                loadSeconds);
    std::printf("Event-loop latency = delay of an event posted to the GUI thread every 5 ms (what a click or key press waits).\n\n");
    std::printf("| Phase | Load req/s | Clients in table | Stats frames/s | Request events/s | Chart repaints/s | GUI CPU | Daemon CPU | Latency p50 | p95 | p99 | max | > 16 ms |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (const Phase &p : {idle, loaded}) {
        std::printf("| %s | %s | %d | %.1f | %.0f | %.1f | %.0f%% | %.0f%% | %.2f ms | %.2f ms | %.2f ms | %.1f ms | %.2f%% |\n",
                    qPrintable(p.name), qPrintable(p.load), p.clientsShown, p.frames, p.events, p.paints, p.guiCpu,
                    p.daemonCpu, p.latency.p50Ms, p.latency.p95Ms, p.latency.p99Ms, p.latency.maxMs,
                    p.latency.over16Percent);
    }
    std::printf("\nLoad generator: %.0f requests answered in %.1f s, %.0f errors, %.0f sends skipped (all clients busy).\n",
                answered, secs, errors, behind);
    std::printf("Request log: %d rows kept of %llu received.\n", window.requestLog()->model()->rowCount(),
                (unsigned long long)window.requestLog()->model()->totalAdded());
    probe.stop();
    return 0;
}
