// needs: praw-multiprocess fake-reddit
// serial
// PRAW 7 end to end: Debian's python3-praw, unmodified, in several processes
// at once, through the real praw-multiprocess daemon to the fake Reddit with
// a tight budget (30 requests per 5 s window). The PRAW programs are built
// from the snippets of docs/clients.md as written (tests/e2e/praw_bot.py
// runs them), so the README's instructions are what is proven here.
#include "FakeReddit.h"
#include "ProcessFixture.h"
#include "TestPrograms.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRegularExpression>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <limits>
#include <memory>
#include <vector>

using namespace prawmp::test;

namespace {

constexpr int kBudget = 30;          // requests per window: tight enough that pacing matters
constexpr double kWindowSeconds = 5;
constexpr double kLoadSeconds = 16;  // more than three windows of load
const QString kPython = QStringLiteral("/usr/bin/python3"); // Debian's, with python3-praw
const QString kClientId = QStringLiteral("prawmp-e2e");     // as in tests/e2e/praw_bot.py
const QString kClientSecret = QStringLiteral("e2e-secret");
const QString kPassword = QStringLiteral("hunter2");

QString e2eDir() { return sourceDir() + QStringLiteral("/tests/e2e"); }
QString docPath() { return sourceDir() + QStringLiteral("/docs/clients.md"); }

// Token of a request the upstream saw ("" when none).
QString bearerOf(const RequestRecord &record)
{
    const QByteArray auth = record.headers.value("Authorization").trimmed();
    return auth.toLower().startsWith("bearer ") ? QString::fromLatin1(auth.mid(7).trimmed()) : QString();
}

QJsonObject lastJsonLine(const ProcessFixture &process)
{
    const QStringList lines = process.standardOutput().split(u'\n', Qt::SkipEmptyParts);
    for (auto it = lines.crbegin(); it != lines.crend(); ++it) {
        if (it->startsWith(u'{'))
            return QJsonDocument::fromJson(it->toUtf8()).object();
    }
    return {};
}

QStringList toStringList(const QJsonValue &value)
{
    QStringList list;
    for (const QJsonValue &v : value.toArray())
        list.append(v.toString());
    return list;
}

} // namespace

class TestPrawE2E : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void prawSnippetsRunAsWritten();
    void unmodifiedProgramFollowsPrawIni();
    void severalPrawProcessesShareOneBudget_data();
    void severalPrawProcessesShareOneBudget();
    void processesSharingATokenShareCachedAnswers();
    void processesOfOneUserShareCachedAnswers();
    void prawProcessesOfTwoAppsEachUseTheirAppsBudget();
    void upstreamNeverSawAWindowOverBudget();

private:
    QProcessEnvironment pythonEnvironment() const;
    std::unique_ptr<ProcessFixture> launchPython(const QStringList &arguments,
                                                 const QProcessEnvironment &environment);
    std::unique_ptr<ProcessFixture> launchPython(const QStringList &arguments)
    {
        return launchPython(arguments, pythonEnvironment());
    }
    // A snippet of docs/clients.md with its placeholders replaced (doc_snippets.py).
    QString snippet(const QString &name, const QStringList &replacements);
    QString writeFile(const QString &name, const QString &text);
    QJsonObject daemonStats(const ProcessFixture &daemon);
    QJsonObject daemonStats() { return daemonStats(m_daemon); }
    // praw_bot.py processes, one per (username, client id), for `seconds` of load.
    QList<QJsonObject> runBots(const QList<QPair<QString, QString>> &usersAndApps, quint16 port,
                               const QStringList &extra);
    bool clearDaemonCache();
    QString daemonPortArgument() const { return QString::number(m_daemon.port()); }
    QList<RequestRecord> logSince(quint64 firstId) const;

    FakeReddit m_reddit;
    ProcessFixture m_daemon;
    QTemporaryDir m_dir;
    QNetworkAccessManager m_network;
};

QProcessEnvironment TestPrawE2E::pythonEnvironment() const
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    // Loopback only: no proxy of the machine's may take part.
    for (const char *name : {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY",
                             "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"})
        env.remove(QString::fromLatin1(name));
    env.insert(QStringLiteral("praw_check_for_updates"), QStringLiteral("False")); // no PyPI look-up
    env.insert(QStringLiteral("PYTHONDONTWRITEBYTECODE"), QStringLiteral("1"));   // no __pycache__ in the source tree
    env.insert(QStringLiteral("PYTHONUNBUFFERED"), QStringLiteral("1"));
    env.insert(QStringLiteral("PYTHONWARNINGS"), QStringLiteral("ignore::DeprecationWarning"));
    return env;
}

std::unique_ptr<ProcessFixture> TestPrawE2E::launchPython(const QStringList &arguments,
                                                          const QProcessEnvironment &environment)
{
    auto process = std::make_unique<ProcessFixture>();
    process->setEnvironment(environment);
    process->setWorkingDirectory(m_dir.path());
    if (!process->launch(kPython, arguments))
        qWarning("cannot start python: %s", qPrintable(process->describe()));
    return process;
}

QString TestPrawE2E::snippet(const QString &name, const QStringList &replacements)
{
    ProcessFixture extract;
    extract.setEnvironment(pythonEnvironment());
    if (!extract.launch(kPython, QStringList{e2eDir() + QStringLiteral("/doc_snippets.py"), docPath(), name}
                                     + replacements)
        || !extract.waitForFinished(10'000) || extract.exitCode() != 0) {
        qWarning("%s", qPrintable(extract.describe()));
        return {};
    }
    return extract.standardOutput();
}

QString TestPrawE2E::writeFile(const QString &name, const QString &text)
{
    const QString path = m_dir.filePath(name);
    QDir().mkpath(QFileInfo(path).path());
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return {};
    file.write(text.toUtf8());
    return path;
}

QJsonObject TestPrawE2E::daemonStats(const ProcessFixture &daemon)
{
    QUrl url = daemon.baseUrl();
    url.setPath(QStringLiteral("/_mp/stats"));
    QNetworkReply *reply = m_network.get(QNetworkRequest(url));
    QSignalSpy finished(reply, &QNetworkReply::finished);
    if (!reply->isFinished())
        finished.wait(10'000);
    const QJsonObject stats = QJsonDocument::fromJson(reply->readAll()).object();
    reply->deleteLater();
    return stats;
}

QList<QJsonObject> TestPrawE2E::runBots(const QList<QPair<QString, QString>> &usersAndApps, quint16 port,
                                        const QStringList &extra)
{
    std::vector<std::unique_ptr<ProcessFixture>> bots;
    for (const auto &[user, app] : usersAndApps) {
        bots.push_back(launchPython(QStringList{e2eDir() + QStringLiteral("/praw_bot.py"), QStringLiteral("--doc"),
                                                docPath(), QStringLiteral("--port"), QString::number(port),
                                                QStringLiteral("--username"), user, QStringLiteral("--password"),
                                                kPassword, QStringLiteral("--client-id"), app}
                                    + extra));
    }
    QList<QJsonObject> results;
    for (auto &bot : bots) {
        if (!bot->waitForFinished(int(kLoadSeconds * 1000) + 60'000) || bot->exitCode() != 0) {
            qWarning("%s", qPrintable(bot->describe()));
            results.append(QJsonObject());
            continue;
        }
        results.append(lastJsonLine(*bot));
    }
    return results;
}

bool TestPrawE2E::clearDaemonCache()
{
    QUrl url = m_daemon.baseUrl();
    url.setPath(QStringLiteral("/_mp/clear"));
    QNetworkReply *reply = m_network.post(QNetworkRequest(url), QByteArray());
    QSignalSpy finished(reply, &QNetworkReply::finished);
    if (!reply->isFinished())
        finished.wait(10'000);
    const bool ok = reply->error() == QNetworkReply::NoError;
    reply->deleteLater();
    return ok;
}

QList<RequestRecord> TestPrawE2E::logSince(quint64 firstId) const
{
    QList<RequestRecord> records;
    for (const RequestRecord &r : m_reddit.log()) {
        if (r.id >= firstId)
            records.append(r);
    }
    return records;
}

void TestPrawE2E::initTestCase()
{
    if (!QFileInfo(kPython).isExecutable())
        QSKIP("/usr/bin/python3 is missing");
    {
        ProcessFixture probe;
        probe.setEnvironment(pythonEnvironment());
        if (!probe.launch(kPython, {QStringLiteral("-c"), QStringLiteral("import praw, prawcore")})
            || !probe.waitForFinished(30'000) || probe.exitCode() != 0)
            QSKIP("Debian's python3-praw is not installed (scripts/install-deps installs it)");
    }
    if (daemonProgram().isEmpty())
        QSKIP("praw-multiprocess is not built");
    QVERIFY(m_dir.isValid());

    m_reddit.setBudget(kBudget, kWindowSeconds);
    QVERIFY2(m_reddit.listen(), qPrintable(m_reddit.errorString()));
    QVERIFY2(m_daemon.start(daemonProgram(),
                            {QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--upstream"),
                             m_reddit.baseUrl().toString(), QStringLiteral("--log-requests"),
                             QStringLiteral("1")}),
             qPrintable(m_daemon.describe()));
}

// The README's two PRAW snippets, as written, in two processes at once.
void TestPrawE2E::prawSnippetsRunAsWritten()
{
    const QStringList users{QStringLiteral("frank"), QStringLiteral("grace")};
    const quint64 firstId = m_reddit.log().isEmpty() ? 1 : m_reddit.log().last().id + 1;
    std::vector<std::unique_ptr<ProcessFixture>> processes;
    for (const QString &user : users) {
        const QString connect = snippet(QStringLiteral("praw-connect"),
                                        {QStringLiteral("localhost:10101=localhost:") + daemonPortArgument(),
                                         QStringLiteral("YOUR_CLIENT_ID=") + kClientId,
                                         QStringLiteral("YOUR_CLIENT_SECRET=") + kClientSecret,
                                         QStringLiteral("YOUR_USERNAME=") + user,
                                         QStringLiteral("YOUR_PASSWORD=") + kPassword});
        const QString use = snippet(QStringLiteral("praw-use"), {});
        QVERIFY(!connect.isEmpty() && !use.isEmpty());
        const QString script = writeFile(user + QStringLiteral("_readme.py"), connect + use);
        QVERIFY(!script.isEmpty());
        processes.push_back(launchPython({script}));
    }
    for (qsizetype i = 0; i < users.size(); ++i) {
        ProcessFixture &p = *processes[size_t(i)];
        QVERIFY2(p.waitForFinished(60'000) && p.exitCode() == 0,
                 qPrintable(p.describe() + u'\n' + m_daemon.describe(10)));
        const QRegularExpression expected(QStringLiteral("^%1: read 150 posts, commented \\w+$").arg(users[i]),
                                          QRegularExpression::MultilineOption);
        QVERIFY2(expected.match(p.standardOutput()).hasMatch(), qPrintable(p.describe()));
    }
    // Each comment reached the upstream under its author's own token.
    QStringList authors;
    for (const RequestRecord &r : logSince(firstId)) {
        if (r.path.startsWith("/api/comment"))
            authors.append(m_reddit.userForToken(bearerOf(r)));
    }
    authors.sort();
    QCOMPARE(authors, users);
}

// praw.ini alone sends a program that knows nothing of the daemon through it.
void TestPrawE2E::unmodifiedProgramFollowsPrawIni()
{
    const QString ini = snippet(QStringLiteral("praw-ini"),
                                {QStringLiteral("localhost:10101=localhost:") + daemonPortArgument()});
    QVERIFY(!ini.isEmpty());
    QVERIFY(!writeFile(QStringLiteral("xdg/praw.ini"), ini).isEmpty());

    QProcessEnvironment env = pythonEnvironment();
    env.insert(QStringLiteral("XDG_CONFIG_HOME"), m_dir.filePath(QStringLiteral("xdg")));
    env.insert(QStringLiteral("CLIENT_ID"), kClientId);
    env.insert(QStringLiteral("CLIENT_SECRET"), kClientSecret);
    env.insert(QStringLiteral("REDDIT_USERNAME"), QStringLiteral("heidi"));
    env.insert(QStringLiteral("REDDIT_PASSWORD"), kPassword);
    const int before = m_reddit.pathCount("/api/v1/access_token");
    auto process = launchPython({e2eDir() + QStringLiteral("/unmodified_bot.py")}, env);
    QVERIFY2(process->waitForFinished(60'000) && process->exitCode() == 0, qPrintable(process->describe()));
    const QJsonObject result = lastJsonLine(*process);
    QCOMPARE(result.value(u"me").toString(), QStringLiteral("heidi"));
    QCOMPARE(result.value(u"posts").toInt(), 5);
    QCOMPARE(result.value(u"oauth_url").toString(), QStringLiteral("http://localhost:") + daemonPortArgument());
    QCOMPARE(m_reddit.pathCount("/api/v1/access_token"), before + 1);
}

// The acceptance run: four PRAW processes with their own accounts, for more
// than three budget windows, reading (paged) listings, user.me() and
// posting comments, all through one daemon.
// Under each rounding of X-Ratelimit-Reset the fake can use (Reddit does
// not document its own), one after the other against the same daemon.
void TestPrawE2E::severalPrawProcessesShareOneBudget_data()
{
    QTest::addColumn<int>("convention");
    for (ResetConvention c : {ResetConvention::Down, ResetConvention::Up, ResetConvention::DownNever0})
        QTest::newRow(resetConventionName(c).constData()) << int(c);
}

void TestPrawE2E::severalPrawProcessesShareOneBudget()
{
    QFETCH(int, convention);
    m_reddit.setResetConvention(ResetConvention(convention));
    // Each row reads the shared listing afresh (the test counts its misses).
    QVERIFY(clearDaemonCache());
    const QStringList users{QStringLiteral("alice"), QStringLiteral("bob"), QStringLiteral("carol"),
                            QStringLiteral("erin")};
    const quint64 firstId = m_reddit.log().isEmpty() ? 1 : m_reddit.log().last().id + 1;
    std::vector<std::unique_ptr<ProcessFixture>> bots;
    for (const QString &user : users) {
        bots.push_back(launchPython({e2eDir() + QStringLiteral("/praw_bot.py"), QStringLiteral("--doc"),
                                     docPath(), QStringLiteral("--port"), daemonPortArgument(),
                                     QStringLiteral("--username"), user, QStringLiteral("--password"),
                                     kPassword, QStringLiteral("--seconds"),
                                     QString::number(kLoadSeconds)}));
    }
    QHash<QString, QJsonObject> results;
    for (qsizetype i = 0; i < users.size(); ++i) {
        ProcessFixture &bot = *bots[size_t(i)];
        QVERIFY2(bot.waitForFinished(int(kLoadSeconds * 1000) + 45'000),
                 qPrintable(bot.describe() + u'\n' + m_daemon.describe(20)));
        results.insert(users[i], lastJsonLine(bot));
        QVERIFY2(bot.exitCode() == 0 && !results[users[i]].isEmpty(),
                 qPrintable(bot.describe() + u'\n' + m_daemon.describe(20)));
    }

    int commentsPosted = 0;
    QString sleepSummary;
    for (const QString &user : users) {
        const QJsonObject r = results.value(user);
        const QString context = user + QStringLiteral(": ")
                                + QString::fromUtf8(QJsonDocument(r).toJson(QJsonDocument::Compact).left(3000));
        // Every call succeeded, and every HTTP answer PRAW saw was a 200 (no retried failures).
        QVERIFY2(r.value(u"errors").toArray().isEmpty(), qPrintable(context));
        // user.me() always answered this process's own account.
        const QStringList me = toStringList(r.value(u"me"));
        QVERIFY2(me.size() >= 2, qPrintable(context));
        QCOMPARE(me, QStringList(me.size(), user));
        // Paged listings: 150 posts each time (limit=150, then after=...).
        const QJsonArray shared = r.value(u"shared_reads").toArray();
        QVERIFY2(shared.size() >= 3, qPrintable(context));
        for (const QJsonValue &n : shared)
            QCOMPARE(n.toInt(), 150);
        QVERIFY2(r.value(u"private_listings").toInt() >= 3, qPrintable(context));

        int sharedMisses = 0;
        int comments = 0;
        for (const QJsonValue &v : r.value(u"responses").toArray()) {
            const QJsonObject answer = v.toObject();
            const QString path = answer.value(u"path").toString();
            const QString xcache = answer.value(u"x_cache").toString();
            QVERIFY2(answer.value(u"status").toInt() == 200, qPrintable(context));
            if (path.startsWith(u"/api/comment")) {
                ++comments;
                QVERIFY2(xcache == u"BYPASS", qPrintable(context)); // never from the cache
            } else if (path == u"/r/python/hot") {
                QVERIFY2(xcache == u"MISS" || xcache == u"HIT", qPrintable(context));
                sharedMisses += xcache == u"MISS";
            }
            // The daemon's view of the shared budget, in the numbers prawcore parses.
            QVERIFY2(!answer.value(u"remaining").toString().isEmpty(), qPrintable(context));
        }
        // The same process re-reading within the TTL: each page left once.
        QVERIFY2(sharedMisses == 2, qPrintable(context));
        const QJsonArray posted = r.value(u"comments").toArray();
        QVERIFY2(posted.size() >= 2 && posted.size() == comments, qPrintable(context));
        for (const QJsonValue &c : posted)
            QCOMPARE(c.toObject().value(u"author").toString(), user);
        commentsPosted += comments;
        const QJsonObject sleeps = r.value(u"praw_sleeps").toObject();
        sleepSummary += QStringLiteral("%1: %2 rounds, prawcore slept %3x %4 s (longest %5 s); ")
                            .arg(user)
                            .arg(r.value(u"rounds").toInt())
                            .arg(sleeps.value(u"count").toInt())
                            .arg(sleeps.value(u"seconds").toDouble())
                            .arg(sleeps.value(u"longest").toDouble());
    }
    qInfo("%s", qPrintable(sleepSummary));
    // Fair shares: the daemon serves waiting clients in turn, and its
    // X-Ratelimit-Reset never sends a PRAW process to sleep past the moment
    // its queue would have served it, so no bot falls far behind the others
    // (a reset rounded up left one bot with 4-5 rounds to the others' 17-29).
    // Not equal: at a window's start the burst goes to whoever asks first.
    int fewestRounds = std::numeric_limits<int>::max();
    int mostRounds = 0;
    for (const QString &user : users) {
        fewestRounds = std::min(fewestRounds, results.value(user).value(u"rounds").toInt());
        mostRounds = std::max(mostRounds, results.value(user).value(u"rounds").toInt());
    }
    QVERIFY2(3 * fewestRounds >= mostRounds, qPrintable(sleepSummary));

    // What the upstream saw.
    const QList<RequestRecord> records = logSince(firstId);
    QHash<QString, int> sharedPagesPerUser;
    QHash<QString, int> mePerUser;
    QSet<QString> tokens;
    int upstreamComments = 0;
    for (const RequestRecord &r : records) {
        QVERIFY2(r.status == 200, qPrintable(QStringLiteral("%1 %2 -> %3")
                                                 .arg(QString::fromLatin1(r.method),
                                                      QString::fromLatin1(r.target))
                                                 .arg(r.status)));
        if (r.path == "/api/v1/access_token")
            continue;
        const QString token = bearerOf(r);
        const QString user = m_reddit.userForToken(token);
        QVERIFY2(users.contains(user), r.target.constData());
        tokens.insert(token);
        if (r.path == "/r/python/hot")
            ++sharedPagesPerUser[user];
        else if (r.path == "/api/v1/me")
            ++mePerUser[user];
        else if (r.path.startsWith("/api/comment"))
            ++upstreamComments;
    }
    QVERIFY(m_reddit.pathCount("/api/v1/access_token") >= users.size());
    QCOMPARE(tokens.size(), users.size());
    for (const QString &user : users) {
        // Isolation: every user fetched the shared listing with their own
        // token, once per page, however often they read it.
        QCOMPARE(sharedPagesPerUser.value(user), 2);
        QCOMPARE(mePerUser.value(user), 1);
    }
    QCOMPARE(upstreamComments, commentsPosted); // each comment reached the upstream

    // The budget: never a 429, never a window over it, and pacing mattered
    // (demand filled windows) over at least three windows.
    const WindowStats stats = computeWindowStats(records);
    QVERIFY2(stats.withinBudget(kBudget), qPrintable(stats.describe()));
    QVERIFY2(stats.requestsPerWindow.size() >= 3, qPrintable(stats.describe()));
    QVERIFY2(stats.total > 2 * kBudget, qPrintable(stats.describe()));
    QVERIFY2(stats.maxPerWindow >= kBudget * 3 / 4, qPrintable(stats.describe()));
    qInfo("upstream (reset %s): %s", resetConventionName(ResetConvention(convention)).constData(),
          qPrintable(stats.describe()));
}

// Processes given one token (PRAW's implicit auth, the README's
// "praw-shared-token" snippet) share cached answers: a listing read by all
// of them within the TTL reached the upstream once per page.
void TestPrawE2E::processesSharingATokenShareCachedAnswers()
{
    const QString token = m_reddit.issueToken(QStringLiteral("dave"));
    const quint64 firstId = m_reddit.log().isEmpty() ? 1 : m_reddit.log().last().id + 1;
    const int readers = 3;
    std::vector<std::unique_ptr<ProcessFixture>> processes;
    for (int i = 0; i < readers; ++i) {
        processes.push_back(launchPython({e2eDir() + QStringLiteral("/praw_bot.py"), QStringLiteral("--doc"),
                                          docPath(), QStringLiteral("--port"), daemonPortArgument(),
                                          QStringLiteral("--username"), QStringLiteral("reader%1").arg(i),
                                          QStringLiteral("--token"), token, QStringLiteral("--reads"),
                                          QStringLiteral("3"), QStringLiteral("--shared-sub"),
                                          QStringLiteral("cpp")}));
    }
    int misses = 0;
    for (auto &p : processes) {
        QVERIFY2(p->waitForFinished(60'000) && p->exitCode() == 0,
                 qPrintable(p->describe() + u'\n' + m_daemon.describe(20)));
        const QJsonObject r = lastJsonLine(*p);
        const QString context = QString::fromUtf8(QJsonDocument(r).toJson(QJsonDocument::Compact));
        QVERIFY2(r.value(u"errors").toArray().isEmpty(), qPrintable(context));
        const QStringList me = toStringList(r.value(u"me"));
        QCOMPARE(me, QStringList(me.size(), QStringLiteral("dave")));
        QCOMPARE(r.value(u"shared_reads").toArray().size(), 3);
        for (const QJsonValue &v : r.value(u"responses").toArray()) {
            const QJsonObject answer = v.toObject();
            QCOMPARE(answer.value(u"status").toInt(), 200);
            if (answer.value(u"path").toString() == u"/r/cpp/hot")
                misses += answer.value(u"x_cache").toString() == u"MISS";
        }
    }
    int upstreamPages = 0;
    int upstreamMe = 0;
    for (const RequestRecord &r : logSince(firstId)) {
        QCOMPARE(bearerOf(r), token);
        upstreamPages += r.path == "/r/cpp/hot";
        upstreamMe += r.path == "/api/v1/me";
    }
    QCOMPARE(upstreamPages, 2); // 3 processes x 3 reads x 2 pages, 2 upstream requests
    QCOMPARE(upstreamMe, 1);
    QCOMPARE(misses, 2);        // the others were HIT or COALESCED
}

// PRAW processes logged in as one user (each with its own token, as PRAW
// gets one per process) share the daemon's cached answers: the identity the
// daemon learned from the password grants (app, user, scopes) keys them.
// Another user's process never gets theirs.
void TestPrawE2E::processesOfOneUserShareCachedAnswers()
{
    QVERIFY(clearDaemonCache());
    const quint64 firstId = m_reddit.log().isEmpty() ? 1 : m_reddit.log().last().id + 1;
    const quint64 acrossBefore =
        quint64(daemonStats().value(u"totals").toObject().value(u"servedAcrossTokens").toInteger());
    const QList<QPair<QString, QString>> bots{{QStringLiteral("ivan"), kClientId},
                                              {QStringLiteral("ivan"), kClientId},
                                              {QStringLiteral("ivan"), kClientId},
                                              {QStringLiteral("judy"), kClientId}};
    const QList<QJsonObject> results =
        runBots(bots, m_daemon.port(), {QStringLiteral("--reads"), QStringLiteral("3"), QStringLiteral("--shared-sub"),
                                        QStringLiteral("golang")});
    for (qsizetype i = 0; i < bots.size(); ++i) {
        const QJsonObject &r = results[i];
        const QString context = QString::fromUtf8(QJsonDocument(r).toJson(QJsonDocument::Compact).left(3000));
        QVERIFY2(!r.isEmpty() && r.value(u"errors").toArray().isEmpty(), qPrintable(context));
        const QStringList me = toStringList(r.value(u"me"));
        QVERIFY2(me.size() == 2 && me == QStringList(2, bots[i].first), qPrintable(context));
        QCOMPARE(r.value(u"shared_reads").toArray().size(), 3);
        for (const QJsonValue &n : r.value(u"shared_reads").toArray())
            QCOMPARE(n.toInt(), 150);
    }
    QHash<QString, int> pagesPerUser;
    QHash<QString, int> mePerUser;
    QSet<QString> tokens;
    for (const RequestRecord &r : logSince(firstId)) {
        if (r.path == "/api/v1/access_token")
            continue;
        const QString user = m_reddit.userForToken(bearerOf(r));
        tokens.insert(bearerOf(r));
        pagesPerUser[user] += r.path == "/r/golang/hot";
        mePerUser[user] += r.path == "/api/v1/me";
    }
    // Two pages per identity, not per process; one /api/v1/me per identity.
    QCOMPARE(pagesPerUser.value(QStringLiteral("ivan")), 2);
    QCOMPARE(pagesPerUser.value(QStringLiteral("judy")), 2);
    QCOMPARE(mePerUser.value(QStringLiteral("ivan")), 1);
    QCOMPARE(mePerUser.value(QStringLiteral("judy")), 1);
    QVERIFY(tokens.size() >= 2);
    // Ivan's other two processes were served what his first one asked for.
    const quint64 across =
        quint64(daemonStats().value(u"totals").toObject().value(u"servedAcrossTokens").toInteger()) - acrossBefore;
    QVERIFY2(across >= 2 * 3, qPrintable(QString::number(across)));
}

// Reddit counts per OAuth client id: three unmodified PRAW processes under
// app A and two under app B, through one daemon, to an upstream that keeps
// one window per client id. Each app gets its own budget, nearly all of it.
void TestPrawE2E::prawProcessesOfTwoAppsEachUseTheirAppsBudget()
{
    FakeRedditOptions options;
    options.budget = kBudget;
    options.windowSeconds = kWindowSeconds;
    options.perClientId = true;
    options.resetConvention = ResetConvention::Up; // as Reddit's own code rounds
    FakeReddit reddit(options);
    QVERIFY2(reddit.listen(), qPrintable(reddit.errorString()));
    QTemporaryDir state;
    ProcessFixture daemon;
    QVERIFY2(daemon.start(daemonProgram(), {QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--upstream"),
                                            reddit.baseUrl().toString(), QStringLiteral("--state-dir"), state.path()}),
             qPrintable(daemon.describe()));
    const QString appA = QStringLiteral("prawmp-app-a");
    const QString appB = QStringLiteral("prawmp-app-b");
    const QList<QPair<QString, QString>> bots{{QStringLiteral("anna"), appA}, {QStringLiteral("abe"), appA},
                                              {QStringLiteral("amy"), appA},  {QStringLiteral("ben"), appB},
                                              {QStringLiteral("bea"), appB}};
    const QList<QJsonObject> results =
        runBots(bots, daemon.port(), {QStringLiteral("--seconds"), QString::number(kLoadSeconds)});
    for (qsizetype i = 0; i < bots.size(); ++i) {
        const QJsonObject &r = results[i];
        const QString context = QString::fromUtf8(QJsonDocument(r).toJson(QJsonDocument::Compact).left(3000));
        // Every call answered, and with a 200.
        QVERIFY2(!r.isEmpty() && r.value(u"errors").toArray().isEmpty(), qPrintable(context + daemon.describe(20)));
        for (const QJsonValue &v : r.value(u"responses").toArray())
            QVERIFY2(v.toObject().value(u"status").toInt() == 200, qPrintable(context));
        const QStringList me = toStringList(r.value(u"me"));
        QVERIFY2(!me.isEmpty() && me == QStringList(me.size(), bots[i].first), qPrintable(context));
    }
    QCOMPARE(reddit.tooManyRequestsCount(), 0);
    for (const QString &app : {appA, appB}) {
        const WindowStats stats = reddit.windowStats(QStringLiteral("app:") + app);
        qInfo("%s upstream per window: %s", qPrintable(app), qPrintable(stats.describe()));
        const QString shortfall = stats.saturationShortfall(kBudget, 0.90, 3);
        QVERIFY2(shortfall.isEmpty(), qPrintable(app + QStringLiteral(": ") + shortfall));
    }
    QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
}

// Over the whole suite: no 429 and no window over the budget, as the
// upstream counted them and as the daemon saw them.
void TestPrawE2E::upstreamNeverSawAWindowOverBudget()
{
    const WindowStats stats = m_reddit.windowStats();
    QVERIFY2(stats.withinBudget(kBudget), qPrintable(stats.describe()));
    QCOMPARE(m_reddit.tooManyRequestsCount(), 0);
    const QJsonObject stats2 = daemonStats();
    QVERIFY2(!stats2.isEmpty(), qPrintable(m_daemon.describe()));
    QCOMPARE(stats2.value(u"totals").toObject().value(u"upstream429").toInt(-1), 0);
    QVERIFY2(m_daemon.stop(), qPrintable(m_daemon.describe()));
}

QTEST_GUILESS_MAIN(TestPrawE2E)
#include "tst_praw_e2e.moc"
