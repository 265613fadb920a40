// fake-reddit: FakeReddit as a process, for the demo, the benchmarks and
// tests that need the upstream outside the test process.
#include "FakeReddit.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QHostAddress>
#include <QSocketNotifier>

#include <csignal>
#include <cstdio>
#include <sys/socket.h>
#include <unistd.h>

namespace {

int signalPipe[2] = {-1, -1};

// Only async-signal-safe work here: the event loop does the rest.
void onSignal(int signal)
{
    const char byte = char(signal);
    [[maybe_unused]] const ssize_t n = ::write(signalPipe[1], &byte, 1);
}

bool installSignalHandlers()
{
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, signalPipe) != 0)
        return false;
    struct sigaction action = {};
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    return ::sigaction(SIGTERM, &action, nullptr) == 0 && ::sigaction(SIGINT, &action, nullptr) == 0;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("fake-reddit"));
    QCoreApplication::setApplicationVersion(QStringLiteral(PRAWMP_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "A loopback stand-in for Reddit's API with a budget window, fault injection and a "
        "request log (GET /__log, GET /__stats, POST /__reset, /__config, /__fault)."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption portOption(QStringLiteral("port"),
                                        QStringLiteral("Port to listen on (0: any free port)."),
                                        QStringLiteral("N"), QStringLiteral("0"));
    const QCommandLineOption hostOption(QStringLiteral("host"), QStringLiteral("Address to listen on."),
                                        QStringLiteral("ADDR"), QStringLiteral("127.0.0.1"));
    const QCommandLineOption budgetOption(QStringLiteral("budget"),
                                          QStringLiteral("Requests per window (<= 0: unlimited)."),
                                          QStringLiteral("B"), QStringLiteral("0"));
    const QCommandLineOption windowOption(QStringLiteral("window"),
                                          QStringLiteral("Window length in seconds."),
                                          QStringLiteral("W"), QStringLiteral("600"));
    const QCommandLineOption latencyOption(QStringLiteral("latency-ms"),
                                           QStringLiteral("Delay before every answer."),
                                           QStringLiteral("L"), QStringLiteral("0"));
    const QCommandLineOption resetOption(
        QStringLiteral("reset"),
        QStringLiteral("How X-Ratelimit-Reset rounds the seconds left: down (0..W-1), up (1..W, "
                       "as Reddit's code), down-never-0 (1..W-1)."),
        QStringLiteral("CONVENTION"), QStringLiteral("down"));
    const QCommandLineOption jitterOption(
        QStringLiteral("jitter-ms"),
        QStringLiteral("Random extra delay 0..J per answer: answers overtake each other."),
        QStringLiteral("J"), QStringLiteral("0"));
    const QCommandLineOption holdOption(
        QStringLiteral("hold-ms"),
        QStringLiteral("Hold answers until the oldest held one is H ms old, then release them "
                       "all at once."),
        QStringLiteral("H"), QStringLiteral("0"));
    const QCommandLineOption perClientOption(
        QStringLiteral("per-client-id"),
        QStringLiteral("One budget per OAuth client id (tokens it issued, token requests by their "
                       "Basic auth) and one anonymous bucket, as Reddit counts since 2023."));
    const QCommandLineOption ipv6Option(QStringLiteral("ipv6"),
                                        QStringLiteral("Also listen on ::1 (same port)."));
    parser.addOptions({portOption, hostOption, budgetOption, windowOption, latencyOption, resetOption,
                       jitterOption, holdOption, perClientOption, ipv6Option});
    parser.process(app);

    prawmp::test::FakeRedditOptions options;
    bool ok = true;
    const auto fail = [](const QString &message) {
        std::fprintf(stderr, "fake-reddit: %s\n", qPrintable(message));
        return 2;
    };
    const uint port = parser.value(portOption).toUInt(&ok);
    if (!ok || port > 65535)
        return fail(QStringLiteral("bad --port"));
    options.port = quint16(port);
    const QString host = parser.value(hostOption);
    options.address = host == u"localhost" ? QHostAddress(QHostAddress::LocalHost) : QHostAddress(host);
    if (options.address.isNull())
        return fail(QStringLiteral("bad --host ") + host);
    options.budget = parser.value(budgetOption).toInt(&ok);
    if (!ok)
        return fail(QStringLiteral("bad --budget"));
    options.windowSeconds = parser.value(windowOption).toDouble(&ok);
    if (!ok || options.windowSeconds <= 0)
        return fail(QStringLiteral("bad --window"));
    options.latencyMs = parser.value(latencyOption).toInt(&ok);
    if (!ok || options.latencyMs < 0)
        return fail(QStringLiteral("bad --latency-ms"));
    if (!prawmp::test::resetConventionFromName(parser.value(resetOption).toLatin1(),
                                               &options.resetConvention))
        return fail(QStringLiteral("bad --reset (down, up or down-never-0)"));
    options.jitterMs = parser.value(jitterOption).toInt(&ok);
    if (!ok || options.jitterMs < 0)
        return fail(QStringLiteral("bad --jitter-ms"));
    options.holdMs = parser.value(holdOption).toInt(&ok);
    if (!ok || options.holdMs < 0)
        return fail(QStringLiteral("bad --hold-ms"));
    options.alsoIpv6 = parser.isSet(ipv6Option);
    options.perClientId = parser.isSet(perClientOption);

    if (!installSignalHandlers())
        return fail(QStringLiteral("cannot install signal handlers"));
    QSocketNotifier notifier(signalPipe[0], QSocketNotifier::Read);
    QObject::connect(&notifier, &QSocketNotifier::activated, &app, [] {
        char byte = 0;
        [[maybe_unused]] const ssize_t n = ::read(signalPipe[0], &byte, 1);
        QCoreApplication::quit();
    });

    prawmp::test::FakeReddit reddit(options);
    if (!reddit.listen()) {
        std::fprintf(stderr, "fake-reddit: cannot listen on %s port %u: %s\n", qPrintable(host),
                     port, qPrintable(reddit.errorString()));
        return 1;
    }
    std::printf("Listening on %s port %u\n", qPrintable(reddit.address().toString()),
                unsigned(reddit.port()));
    std::fflush(stdout);
    return app.exec();
}
