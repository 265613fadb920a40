// praw-multiprocess-gui: reads the options, opens the dashboard window, runs the loop.
#include "LocalDaemon.h"
#include "MainWindow.h"
#include "Theme.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSettings>
#include <QTimer>

#include <cstdio>

using namespace prawmp::gui;

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("praw-multiprocess-gui"));
    QApplication::setOrganizationName(QStringLiteral("praw-multiprocess"));
    QApplication::setApplicationDisplayName(QStringLiteral("praw-multiprocess dashboard"));
    QApplication::setApplicationVersion(QStringLiteral(PRAWMP_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("praw-multiprocess-gui"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Dashboard of a running praw-multiprocess daemon: request rates, cache, rate budget, clients, requests."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption serverOption({QStringLiteral("s"), QStringLiteral("server")},
                                          QStringLiteral("The daemon to watch (default: the last one used, or "
                                                         "localhost:10101; or $PRAWMP_SERVER)."),
                                          QStringLiteral("HOST:PORT"));
    const QCommandLineOption tokenOption({QStringLiteral("t"), QStringLiteral("token")},
                                         QStringLiteral("Proxy token of a daemon started with --auth-token "
                                                        "(prefer $PRAWMP_TOKEN: arguments are visible to other users)."),
                                         QStringLiteral("TOKEN"));
    const QCommandLineOption themeOption(QStringLiteral("theme"),
                                         QStringLiteral("Colours: system (default), dark or light."),
                                         QStringLiteral("NAME"), QStringLiteral("system"));
    const QCommandLineOption daemonOption(QStringLiteral("daemon-program"),
                                          QStringLiteral("The praw-multiprocess to run for \"Start Local Daemon\"."),
                                          QStringLiteral("PATH"));
    // For documentation screenshots (scripts/screenshot-gui); see docs/gui.md.
    QCommandLineOption screenshotOption(QStringLiteral("screenshot"),
                                        QStringLiteral("Save the window as an image after --screenshot-delay, then quit."),
                                        QStringLiteral("FILE"));
    QCommandLineOption delayOption(QStringLiteral("screenshot-delay"),
                                   QStringLiteral("Milliseconds before the screenshot (default 5000)."),
                                   QStringLiteral("MS"), QStringLiteral("5000"));
    QCommandLineOption sizeOption(QStringLiteral("window-size"),
                                  QStringLiteral("Initial window size, e.g. 1400x900."), QStringLiteral("WxH"));
    for (QCommandLineOption *o : {&screenshotOption, &delayOption, &sizeOption})
        o->setFlags(QCommandLineOption::HiddenFromHelp);
    parser.addOptions({serverOption, tokenOption, themeOption, daemonOption, screenshotOption, delayOption, sizeOption});
    parser.process(app);

    if (!theme::apply(app, parser.value(themeOption))) {
        std::fprintf(stderr, "praw-multiprocess-gui: unknown theme '%s' (system, dark or light)\n",
                     qPrintable(parser.value(themeOption)));
        return 2;
    }

    MainWindow window;
    if (parser.isSet(daemonOption))
        window.localDaemon()->setProgram(QFileInfo(parser.value(daemonOption)).absoluteFilePath());

    if (parser.isSet(sizeOption)) {
        static const QRegularExpression re(QStringLiteral("^(\\d+)x(\\d+)$"));
        const QRegularExpressionMatch m = re.match(parser.value(sizeOption));
        if (!m.hasMatch()) {
            std::fprintf(stderr, "praw-multiprocess-gui: --window-size wants WxH, e.g. 1400x900\n");
            return 2;
        }
        window.resize(m.captured(1).toInt(), m.captured(2).toInt());
    }

    // The server: option, environment, last used, default.
    QSettings settings;
    ServerAddress server = ServerHistory(settings).last();
    QString serverText = parser.value(serverOption);
    if (serverText.isEmpty())
        serverText = qEnvironmentVariable("PRAWMP_SERVER");
    if (!serverText.isEmpty()) {
        server = ServerAddress::parse(serverText);
        if (!server.isValid()) {
            std::fprintf(stderr, "praw-multiprocess-gui: cannot read server '%s' (HOST:PORT)\n", qPrintable(serverText));
            return 2;
        }
    }
    QString token = parser.value(tokenOption);
    if (token.isEmpty())
        token = qEnvironmentVariable("PRAWMP_TOKEN");
    if (!token.isEmpty())
        server.token = token;
    window.show();
    window.connectTo(server, false);

    if (parser.isSet(screenshotOption)) {
        const QString file = QFileInfo(parser.value(screenshotOption)).absoluteFilePath();
        const int delay = std::max(0, parser.value(delayOption).toInt());
        QTimer::singleShot(delay, &window, [&window, file] {
            const bool ok = window.saveScreenshot(file);
            std::fprintf(ok ? stdout : stderr, ok ? "Saved %s\n" : "praw-multiprocess-gui: cannot write %s\n",
                         qPrintable(QDir::toNativeSeparators(file)));
            std::fflush(stdout);
            QApplication::exit(ok ? 0 : 1);
        });
    }
    return app.exec();
}
