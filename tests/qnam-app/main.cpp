// prawmp-qnam-check: Qt networking code as applications write it, against
// QNetworkAccessManager's API only; the manager is a
// prawmp::NetworkAccessManager (one line), so the requests share the
// budget and cache of the praw-multiprocess daemon at $PRAWMP_SERVER.
//
//   prawmp-qnam-check --upstream http://127.0.0.1:PORT --closed-port N
//
// --upstream is where the daemon sends requests (the fake Reddit in the
// tests; its host is routed through the daemon as Reddit's hosts are).
// The daemon is expected to pace upstream requests (--rate-mode fixed
// --delay >= 1), so that a request can be aborted while it waits.
// Prints one line per check ("ok NAME" or "FAIL NAME: why"); exit status 0
// when every check passed.
#include <prawmp/NetworkAccessManager.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTimer>
#include <QUrlQuery>

#include <cstdio>
#include <functional>

namespace {

int g_failures = 0;

void check(const char *name, bool ok, const QString &why = {})
{
    if (ok) {
        std::printf("ok %s\n", name);
    } else {
        ++g_failures;
        std::printf("FAIL %s: %s\n", name, qPrintable(why));
    }
    std::fflush(stdout);
}

// Runs the event loop until the reply finished (or the bound ran out).
bool wait(QNetworkReply *reply, int timeoutMs = 20'000)
{
    if (reply->isFinished())
        return true;
    QEventLoop loop;
    QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    loop.exec();
    return reply->isFinished();
}

void sleepMs(int ms)
{
    QEventLoop loop;
    QTimer::singleShot(ms, &loop, &QEventLoop::quit);
    loop.exec();
}

QString describe(QNetworkReply *reply)
{
    return QStringLiteral("error %1 (%2), status %3, X-Cache %4")
        .arg(int(reply->error()))
        .arg(reply->errorString())
        .arg(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt())
        .arg(QString::fromLatin1(reply->rawHeader("X-Cache")));
}

bool fromCache(QNetworkReply *reply)
{
    return reply->attribute(QNetworkRequest::SourceIsFromCacheAttribute).toBool();
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    const QCommandLineOption upstreamOption(QStringLiteral("upstream"), QStringLiteral("The daemon's upstream."),
                                            QStringLiteral("URL"));
    const QCommandLineOption closedOption(QStringLiteral("closed-port"), QStringLiteral("A port nobody listens on."),
                                          QStringLiteral("PORT"));
    parser.addOptions({upstreamOption, closedOption});
    parser.process(app);
    const QUrl upstream(parser.value(upstreamOption));
    auto at = [&upstream](const QString &pathAndQuery) { return QUrl(upstream.toString() + pathAndQuery); };

    auto *shared = new prawmp::NetworkAccessManager(&app); // was: new QNetworkAccessManager(&app)
    shared->setRoutedHosts(shared->routedHosts() << upstream.host()); // the fake stands in for reddit.com
    QNetworkAccessManager *nam = shared;

    // GET: a miss, then a hit with the same body.
    QNetworkReply *miss = nam->get(QNetworkRequest(at(QStringLiteral("/r/qnamcheck/hot.json"))));
    wait(miss);
    const QByteArray body = miss->readAll();
    check("get-miss", miss->error() == QNetworkReply::NoError && miss->rawHeader("X-Cache") == "MISS"
                          && !fromCache(miss) && !body.isEmpty()
                          && miss->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt() == 200,
          describe(miss));
    QNetworkReply *hit = nam->get(QNetworkRequest(at(QStringLiteral("/r/qnamcheck/hot.json"))));
    wait(hit);
    check("get-hit", hit->error() == QNetworkReply::NoError && hit->rawHeader("X-Cache") == "HIT" && fromCache(hit)
                         && hit->readAll() == body,
          describe(hit));

    // POSTs with bodies: an OAuth token, then a comment with it.
    QNetworkRequest tokenRequest(at(QStringLiteral("/api/v1/access_token")));
    tokenRequest.setRawHeader("Authorization", "Basic " + QByteArray("qnamcheck:secret").toBase64());
    tokenRequest.setHeader(QNetworkRequest::ContentTypeHeader, "application/x-www-form-urlencoded");
    QNetworkReply *token = nam->post(tokenRequest, QByteArray("grant_type=password&username=qnamcheck&password=pw"));
    wait(token);
    const QString accessToken = QJsonDocument::fromJson(token->readAll()).object().value(u"access_token").toString();
    check("post-token", token->error() == QNetworkReply::NoError && token->rawHeader("X-Cache") == "BYPASS"
                            && !accessToken.isEmpty(),
          describe(token));
    QNetworkRequest commentRequest(at(QStringLiteral("/api/comment")));
    commentRequest.setRawHeader("Authorization", "bearer " + accessToken.toLatin1());
    commentRequest.setHeader(QNetworkRequest::ContentTypeHeader, "application/x-www-form-urlencoded");
    QNetworkReply *comment = nam->post(commentRequest, QByteArray("thing_id=t3_qnam&text=shared%20budget"));
    wait(comment);
    const QJsonObject commentJson = QJsonDocument::fromJson(comment->readAll()).object();
    const QString commentText = commentJson.value(u"json").toObject().value(u"data").toObject()
                                    .value(u"things").toArray().at(0).toObject()
                                    .value(u"data").toObject().value(u"body").toString();
    check("post-comment", comment->error() == QNetworkReply::NoError && comment->rawHeader("X-Cache") == "BYPASS"
                              && commentText == u"shared budget",
          describe(comment) + u' ' + commentText);

    // AlwaysNetwork: not from the cache.
    QNetworkRequest freshRequest(at(QStringLiteral("/r/qnamcheck/hot.json")));
    freshRequest.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysNetwork);
    QNetworkReply *fresh = nam->get(freshRequest);
    wait(fresh);
    check("always-network", fresh->error() == QNetworkReply::NoError && !fromCache(fresh)
                                && fresh->rawHeader("X-Cache") != "HIT",
          describe(fresh));

    // 404: ContentNotFoundError, its status, a readable body.
    QNetworkReply *missing = nam->get(QNetworkRequest(at(QStringLiteral("/qnamcheck/missing"))));
    wait(missing);
    const QByteArray missingBody = missing->readAll();
    check("not-found", missing->error() == QNetworkReply::ContentNotFoundError
                           && missing->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt() == 404
                           && QJsonDocument::fromJson(missingBody).isObject(),
          describe(missing) + QString::fromUtf8(missingBody.left(200)));

    // abort() while the request waits for budget (right after the 404, in
    // the same rate domain: no credentials): finished with
    // OperationCanceledError, and the upstream never sees it.
    QNetworkReply *queued = nam->get(QNetworkRequest(at(QStringLiteral("/r/qnamcheck_aborted/hot.json"))));
    int finishedSignals = 0;
    QObject::connect(queued, &QNetworkReply::finished, [&finishedSignals] { ++finishedSignals; });
    sleepMs(300);
    const bool stillWaiting = !queued->isFinished();
    queued->abort();
    check("abort-queued", stillWaiting && queued->isFinished() && finishedSignals == 1
                              && queued->error() == QNetworkReply::OperationCanceledError,
          QStringLiteral("waiting %1, ").arg(stillWaiting) + describe(queued));
    // Past the moment it would have been sent: a later request is answered,
    // and the upstream's log (asked with a plain QNAM) lacks the aborted one.
    sleepMs(2500);
    QNetworkReply *later = nam->get(QNetworkRequest(at(QStringLiteral("/r/qnamcheck_later/hot.json"))));
    wait(later);
    QNetworkAccessManager plain;
    QNetworkReply *logReply = plain.get(QNetworkRequest(at(QStringLiteral("/__log"))));
    wait(logReply);
    int aborted = 0, laterSeen = 0;
    const QJsonArray log = QJsonDocument::fromJson(logReply->readAll()).array();
    for (const QJsonValue &entry : log) {
        const QString target = entry.toObject().value(u"target").toString();
        aborted += target == u"/r/qnamcheck_aborted/hot.json";
        laterSeen += target == u"/r/qnamcheck_later/hot.json";
    }
    check("abort-never-sent", later->error() == QNetworkReply::NoError && !log.isEmpty() && aborted == 0
                                  && laterSeen == 1,
          QStringLiteral("aborted seen %1 times, later %2 times; ").arg(aborted).arg(laterSeen) + describe(later));

    // A host outside routedHosts() goes direct: refused by a closed port.
    const QUrl direct(QStringLiteral("http://localhost:%1/").arg(parser.value(closedOption)));
    QNetworkReply *refused = nam->get(QNetworkRequest(direct));
    wait(refused);
    check("direct-refused", refused->error() == QNetworkReply::ConnectionRefusedError, describe(refused));

    std::printf("%d failed\n", g_failures);
    return g_failures == 0 ? 0 : 1;
}
