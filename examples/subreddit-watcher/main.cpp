// subreddit-watcher: the newest posts of a subreddit, refreshed every few
// seconds. Ordinary QNetworkAccessManager code; the one line that makes it
// share a praw-multiprocess daemon's rate budget and cache is marked below.
//
//   subreddit-watcher [--subreddit NAME] [--interval SECONDS] [--token TOKEN]
//                     [--base URL] [--plain] [--refreshes N]
//
// The daemon is the one at $PRAWMP_SERVER (HOST:PORT), else localhost:10101.
// --plain uses QNetworkAccessManager itself (no sharing), for comparison.
#include "SubredditWatcher.h"

#include <prawmp/NetworkAccessManager.h>

#include <QApplication>
#include <QCommandLineParser>
#include <QNetworkAccessManager>

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("subreddit-watcher"));
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Watches a subreddit through a shared praw-multiprocess daemon."));
    parser.addHelpOption();
    const QCommandLineOption subreddit(QStringLiteral("subreddit"), QStringLiteral("Subreddit to watch."),
                                       QStringLiteral("NAME"), QStringLiteral("python"));
    const QCommandLineOption interval(QStringLiteral("interval"), QStringLiteral("Seconds between refreshes."),
                                      QStringLiteral("SECONDS"), QStringLiteral("30"));
    const QCommandLineOption token(QStringLiteral("token"), QStringLiteral("OAuth bearer token."), QStringLiteral("TOKEN"));
    const QCommandLineOption base(QStringLiteral("base"), QStringLiteral("API base URL."), QStringLiteral("URL"),
                                  QStringLiteral("https://oauth.reddit.com"));
    const QCommandLineOption plain(QStringLiteral("plain"), QStringLiteral("Plain QNetworkAccessManager: no sharing."));
    const QCommandLineOption refreshes(QStringLiteral("refreshes"), QStringLiteral("Quit after N refreshes (0: never)."),
                                       QStringLiteral("N"), QStringLiteral("0"));
    parser.addOptions({subreddit, interval, token, base, plain, refreshes});
    parser.process(app);

    QString baseText = parser.value(base);
    while (baseText.endsWith(u'/'))
        baseText.chop(1);
    const QUrl baseUrl(baseText);
    const QUrl listing(baseText + QStringLiteral("/r/%1/new.json?limit=10").arg(parser.value(subreddit)));

    QNetworkAccessManager *nam = nullptr;
    prawmp::NetworkAccessManager *shared = nullptr;
    if (parser.isSet(plain)) {
        nam = new QNetworkAccessManager(&app);
    } else {
        nam = shared = new prawmp::NetworkAccessManager(&app); // the one line: was new QNetworkAccessManager(&app)
        // A base other than Reddit's (a test server) is routed through the daemon too.
        shared->setRoutedHosts(shared->routedHosts() << baseUrl.host());
    }

    SubredditWatcher watcher(nam, listing, int(parser.value(interval).toDouble() * 1000));
    watcher.setQuitAfter(parser.value(refreshes).toInt());
    watcher.setToken(parser.value(token).toUtf8());
    if (shared)
        watcher.showBudget(shared->rateBudget());
    watcher.resize(480, 600);
    watcher.show();
    watcher.refresh();
    return app.exec();
}
