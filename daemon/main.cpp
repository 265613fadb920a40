// praw-multiprocess: reads the options, starts the proxy server, runs the loop.
#include "DaemonOptions.h"
#include "ProxyServer.h"
#include "UnixSignals.h"

#include <QCoreApplication>
#include <QLoggingCategory>

#include <cstdio>

using namespace prawmp;

namespace {
// Requests in progress get this long to finish on SIGINT/SIGTERM.
constexpr int kShutdownGraceMs = 30'000;
} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("praw-multiprocess"));
    QCoreApplication::setApplicationVersion(QStringLiteral(PRAWMP_VERSION));
    qSetMessagePattern(QStringLiteral("%{if-category}%{category}: %{endif}%{message}"));

    DaemonOptionsParser parser;
    const DaemonOptionsResult parsed = parser.parse(QCoreApplication::arguments());
    if (!parsed.ok()) {
        std::fprintf(stderr, "praw-multiprocess: %s\nTry 'praw-multiprocess --help'.\n", qPrintable(parsed.error));
        return 2;
    }
    if (parsed.action == DaemonAction::ShowHelp) {
        std::fputs(qPrintable(parser.helpText()), stdout);
        return 0;
    }
    if (parsed.action == DaemonAction::ShowVersion) {
        std::fputs(qPrintable(parser.versionText()), stdout);
        return 0;
    }
    if (parsed.options.logRequests > 0)
        QLoggingCategory::setFilterRules(QStringLiteral("prawmp.requests.info=true"));

    UnixSignals unixSignals;
    ProxyServer server(parsed.options);
    QString error;
    if (!server.listen(&error)) {
        std::fprintf(stderr, "praw-multiprocess: %s\n", qPrintable(error));
        return 1;
    }

    QObject::connect(&unixSignals, &UnixSignals::reloadRequested, &server, [&] {
        const DaemonOptionsResult reloaded = parser.reload();
        if (!reloaded.ok()) {
            qWarning("reload failed, keeping the current configuration: %s", qPrintable(reloaded.error));
            return;
        }
        const QStringList fixed = DaemonOptions::restartRequiredChanges(server.options(), reloaded.options);
        if (!fixed.isEmpty())
            qWarning("these options need a restart and were not changed: %s", qPrintable(fixed.join(", ")));
        server.applyOptions(reloaded.options);
    });
    QObject::connect(&unixSignals, &UnixSignals::terminateRequested, &server, [&](int) {
        static int count = 0;
        if (++count > 1)
            QCoreApplication::exit(0); // a second signal: stop now
        server.shutdown(kShutdownGraceMs);
    });
    QObject::connect(&server, &ProxyServer::stopped, &app, [] { QCoreApplication::exit(0); });

    std::printf("Listening on %s port %u\n", qPrintable(server.listeningAddress()), unsigned(server.port()));
    std::fflush(stdout);
    return app.exec();
}
