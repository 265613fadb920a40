// prawmp-fetch: GETs Reddit API URLs through prawmp's Handler interface,
// either in this process (DefaultHandler: own cache and rate limiter) or
// through a praw-multiprocess daemon shared with other programs
// (MultiprocessHandler). The two differ in one line; see makeHandler().
//
//   prawmp-fetch [--multiprocess [--server HOST:PORT]] [--token TOKEN] URL...
//
// A URL is absolute or a path ("/r/python/hot.json"): DefaultHandler puts
// paths under --base, the daemon routes them itself. For each URL it prints
// the status, where the answer came from (MISS, HIT, COALESCED...) and the
// first titles of a listing. Exit status 0 when every request got a 2xx answer.
#include <prawmp/DefaultHandler.h>
#include <prawmp/MultiprocessHandler.h>
#include <prawmp/Version.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QUrl>

#include <algorithm>
#include <cstdio>
#include <memory>

namespace {

constexpr qsizetype kTitlesShown = 5;

struct Settings
{
    bool multiprocess = false;
    QString host = QStringLiteral("localhost");
    quint16 port = prawmp::MultiprocessHandler::kDefaultPort;
    QUrl base = QUrl(QStringLiteral("https://oauth.reddit.com"));
    QByteArray token;
    QStringList urls;
};

std::unique_ptr<prawmp::Handler> makeHandler(const Settings &settings)
{
    if (settings.multiprocess)
        return std::make_unique<prawmp::MultiprocessHandler>(settings.host, settings.port);
    return std::make_unique<prawmp::DefaultHandler>();
}

prawmp::Request makeRequest(const Settings &settings, const QString &text)
{
    prawmp::Request request;
    request.url = QUrl(text);
    // The daemon routes paths itself; in this process they go under --base.
    if (request.url.isRelative() && !settings.multiprocess)
        request.url = settings.base.resolved(request.url);
    request.headers.set("User-Agent", "prawmp-fetch/1.0 (example of libprawmp_core " PRAWMP_VERSION_STRING ")");
    if (!settings.token.isEmpty())
        request.headers.set("Authorization", "bearer " + settings.token);
    return request;
}

// The titles of a Reddit listing ({"data": {"children": [{"data": {"title"...}}]}}).
QStringList listingTitles(const QByteArray &body)
{
    QStringList titles;
    const QJsonArray children = QJsonDocument::fromJson(body)["data"]["children"].toArray();
    for (const QJsonValue &child : children)
        titles.append(child["data"]["title"].toString());
    return titles;
}

// Fetches the URLs one after the other (so a repeated URL shows the cache
// at work), then quits with the exit status.
class Fetcher
{
public:
    Fetcher(prawmp::Handler &handler, const Settings &settings)
        : m_handler(handler), m_settings(settings) {}

    void next()
    {
        if (m_index == m_settings.urls.size()) {
            QCoreApplication::exit(m_failed ? 1 : 0);
            return;
        }
        const prawmp::Request request = makeRequest(m_settings, m_settings.urls.at(m_index++));
        prawmp::Reply *reply = m_handler.request(request);
        QObject::connect(reply, &prawmp::Reply::finished, reply, [this, reply, request] {
            report(request, *reply);
            reply->deleteLater();
            next();
        });
    }

private:
    void report(const prawmp::Request &request, const prawmp::Reply &reply)
    {
        const QByteArray url = request.url.toEncoded();
        if (reply.error()) {
            std::printf("error %s: %s\n", url.constData(), qPrintable(reply.error().message));
            m_failed = true;
            return;
        }
        const prawmp::Response &response = reply.response();
        std::printf("%d %s %lld bytes %s\n", response.status,
                    prawmp::cacheStatusName(reply.cacheStatus()).constData(),
                    static_cast<long long>(response.body.size()), url.constData());
        const QStringList titles = listingTitles(response.body);
        for (const QString &title : titles.first(std::min<qsizetype>(titles.size(), kTitlesShown)))
            std::printf("  %s\n", qPrintable(title));
        if (titles.size() > kTitlesShown)
            std::printf("  ... and %lld more\n", static_cast<long long>(titles.size() - kTitlesShown));
        std::fflush(stdout);
        if (response.status < 200 || response.status > 299)
            m_failed = true;
    }

    prawmp::Handler &m_handler;
    const Settings &m_settings;
    qsizetype m_index = 0;
    bool m_failed = false;
};

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("prawmp-fetch"));
    QCoreApplication::setApplicationVersion(QStringLiteral(PRAWMP_VERSION_STRING));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("GETs Reddit API URLs with libprawmp_core."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption multiprocess(
        QStringLiteral("multiprocess"),
        QStringLiteral("Send the requests through a praw-multiprocess daemon (MultiprocessHandler) "
                       "instead of handling them in this process (DefaultHandler)."));
    const QCommandLineOption server(QStringLiteral("server"),
                                    QStringLiteral("The daemon (default localhost:10101)."),
                                    QStringLiteral("HOST:PORT"), QStringLiteral("localhost:10101"));
    const QCommandLineOption base(QStringLiteral("base"),
                                  QStringLiteral("Where paths go without a daemon (default https://oauth.reddit.com)."),
                                  QStringLiteral("URL"), QStringLiteral("https://oauth.reddit.com"));
    const QCommandLineOption token(QStringLiteral("token"),
                                   QStringLiteral("OAuth access token, sent as 'Authorization: bearer TOKEN'."),
                                   QStringLiteral("TOKEN"));
    parser.addOptions({multiprocess, server, base, token});
    parser.addPositionalArgument(QStringLiteral("URL"), QStringLiteral("Absolute URLs or paths such as /r/python/hot.json."),
                                 QStringLiteral("URL..."));
    parser.process(app);

    Settings settings;
    settings.multiprocess = parser.isSet(multiprocess);
    const QString serverText = parser.value(server);
    const qsizetype colon = serverText.lastIndexOf(QLatin1Char(':'));
    bool portOk = false;
    settings.host = serverText.left(colon);
    settings.port = serverText.mid(colon + 1).toUShort(&portOk);
    if (colon <= 0 || !portOk) {
        std::fprintf(stderr, "prawmp-fetch: --server wants HOST:PORT\n");
        return 2;
    }
    settings.base = QUrl(parser.value(base));
    settings.token = parser.value(token).toUtf8();
    settings.urls = parser.positionalArguments();
    if (settings.urls.isEmpty())
        parser.showHelp(2);

    const std::unique_ptr<prawmp::Handler> handler = makeHandler(settings);
    Fetcher fetcher(*handler, settings);
    fetcher.next();
    return app.exec();
}
