// needs: praw-multiprocess fake-reddit
// Plain HTTP clients end to end: curl and Python's requests, origin-form
// (the daemon's routes) and absolute-form (the daemon as an HTTP proxy with
// --allow-host), against the real daemon and the fake Reddit. The client
// commands are the snippets of docs/clients.md, run as written
// (tests/e2e/doc_snippets.py replaces only ports and credentials).
#include "FakeReddit.h"
#include "ProcessFixture.h"
#include "TestPrograms.h"

#include <QFileInfo>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <memory>
#include <vector>

using namespace prawmp::test;

namespace {

const QString kPython = QStringLiteral("/usr/bin/python3"); // Debian's, with python3-requests
const QString kBash = QStringLiteral("/bin/bash");
const QString kClientId = QStringLiteral("prawmp-e2e");
const QString kClientSecret = QStringLiteral("e2e-secret");
const QString kPassword = QStringLiteral("hunter2");
constexpr int kBudget = 100;
constexpr double kWindowSeconds = 10;

QString e2eDir() { return sourceDir() + QStringLiteral("/tests/e2e"); }
QString docPath() { return sourceDir() + QStringLiteral("/docs/clients.md"); }

QString bearerOf(const RequestRecord &record)
{
    const QByteArray auth = record.headers.value("Authorization").trimmed();
    return auth.toLower().startsWith("bearer ") ? QString::fromLatin1(auth.mid(7).trimmed()) : QString();
}

QStringList outputLines(const ProcessFixture &process)
{
    return process.standardOutput().split(u'\n', Qt::SkipEmptyParts);
}

QJsonObject lastJsonLine(const ProcessFixture &process)
{
    const QStringList lines = outputLines(process);
    for (auto it = lines.crbegin(); it != lines.crend(); ++it) {
        if (it->startsWith(u'{'))
            return QJsonDocument::fromJson(it->toUtf8()).object();
    }
    return {};
}

} // namespace

class TestHttpClientsE2E : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void docSnippetsAreTheOnesTested();
    void curlOriginFormSnippet();
    void requestsOriginFormSnippetKeepsUsersApart();
    void processesSharingOneTokenShareCachedAnswers();
    void commentsAreNeverCached();
    void curlAbsoluteFormSnippet();
    void requestsProxiesSnippet();
    void proxyRefusesOtherHostsAndTunnels();
    void budgetWasKept();

private:
    QProcessEnvironment environment() const;
    std::unique_ptr<ProcessFixture> launch(const QString &program, const QStringList &arguments,
                                           const QProcessEnvironment &env);
    std::unique_ptr<ProcessFixture> launch(const QString &program, const QStringList &arguments)
    {
        return launch(program, arguments, environment());
    }
    // Runs to the end; empty pointer and a warning when it did not succeed.
    std::unique_ptr<ProcessFixture> run(const QString &program, const QStringList &arguments,
                                        const QProcessEnvironment &env);
    std::unique_ptr<ProcessFixture> run(const QString &program, const QStringList &arguments)
    {
        return run(program, arguments, environment());
    }
    QString snippet(const QString &name, const QStringList &replacements);
    QString originPort() const { return QString::number(m_origin.port()); }
    QString proxyPort() const { return QString::number(m_proxy.port()); }
    QString fakePort() const { return QString::number(m_reddit.port()); }
    quint64 nextRecordId() const { return m_reddit.log().isEmpty() ? 1 : m_reddit.log().last().id + 1; }
    QList<RequestRecord> logSince(quint64 firstId) const;
    QJsonObject post(const QUrl &url);
    QString curlStatusLine(const QString &proxy, const QString &url, const QString &token);

    FakeReddit m_reddit;
    ProcessFixture m_origin; // --upstream fake: origin-form
    ProcessFixture m_proxy;  // as docs/clients.md starts it: --allow-host, absolute-form
    QTemporaryDir m_dir;
    QNetworkAccessManager m_network;
    QString m_curl;
};

QProcessEnvironment TestHttpClientsE2E::environment() const
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const char *name : {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY",
                             "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "CURL_HOME"})
        env.remove(QString::fromLatin1(name));
    env.insert(QStringLiteral("PYTHONDONTWRITEBYTECODE"), QStringLiteral("1"));
    env.insert(QStringLiteral("HOME"), m_dir.path()); // no ~/.curlrc of the machine's
    return env;
}

std::unique_ptr<ProcessFixture> TestHttpClientsE2E::launch(const QString &program,
                                                           const QStringList &arguments,
                                                           const QProcessEnvironment &env)
{
    auto process = std::make_unique<ProcessFixture>();
    process->setEnvironment(env);
    process->setWorkingDirectory(m_dir.path());
    if (!process->launch(program, arguments))
        qWarning("cannot start: %s", qPrintable(process->describe()));
    return process;
}

std::unique_ptr<ProcessFixture> TestHttpClientsE2E::run(const QString &program,
                                                        const QStringList &arguments,
                                                        const QProcessEnvironment &env)
{
    auto process = launch(program, arguments, env);
    if (!process->waitForFinished(30'000) || process->exitStatus() != QProcess::NormalExit
        || process->exitCode() != 0) {
        qWarning("%s", qPrintable(process->describe()));
        return {};
    }
    return process;
}

QString TestHttpClientsE2E::snippet(const QString &name, const QStringList &replacements)
{
    const auto p = run(kPython, QStringList{e2eDir() + QStringLiteral("/doc_snippets.py"), docPath(), name}
                                    + replacements);
    return p ? p->standardOutput() : QString();
}

QList<RequestRecord> TestHttpClientsE2E::logSince(quint64 firstId) const
{
    QList<RequestRecord> records;
    for (const RequestRecord &r : m_reddit.log()) {
        if (r.id >= firstId)
            records.append(r);
    }
    return records;
}

QJsonObject TestHttpClientsE2E::post(const QUrl &url)
{
    QNetworkReply *reply = m_network.post(QNetworkRequest(url), QByteArray());
    QSignalSpy finished(reply, &QNetworkReply::finished);
    if (!reply->isFinished())
        finished.wait(10'000);
    const QJsonObject json = QJsonDocument::fromJson(reply->readAll()).object();
    reply->deleteLater();
    return json;
}

// "200 MISS" for one GET with curl, origin-form (proxy empty) or through -x.
QString TestHttpClientsE2E::curlStatusLine(const QString &proxy, const QString &url, const QString &token)
{
    QStringList args{QStringLiteral("-s"), QStringLiteral("-o"), QStringLiteral("/dev/null"),
                     QStringLiteral("-w"), QStringLiteral("%{http_code} %header{x-cache}")};
    if (!proxy.isEmpty())
        args << QStringLiteral("-x") << proxy;
    if (!token.isEmpty())
        args << QStringLiteral("-H") << QStringLiteral("Authorization: bearer ") + token;
    args << url;
    const auto p = run(m_curl, args);
    return p ? p->standardOutput().trimmed() : QString();
}

void TestHttpClientsE2E::initTestCase()
{
    m_curl = QStandardPaths::findExecutable(QStringLiteral("curl"));
    if (m_curl.isEmpty())
        QSKIP("curl is not installed");
    if (!QFileInfo(kPython).isExecutable() || !QFileInfo(kBash).isExecutable())
        QSKIP("/usr/bin/python3 or /bin/bash is missing");
    if (daemonProgram().isEmpty())
        QSKIP("praw-multiprocess is not built");
    QVERIFY(m_dir.isValid());
    {
        const auto probe = launch(kPython, {QStringLiteral("-c"), QStringLiteral("import requests")});
        if (!probe->waitForFinished(30'000) || probe->exitCode() != 0)
            QSKIP("Debian's python3-requests is not installed");
        const auto version = run(m_curl, {QStringLiteral("--version")});
        QVERIFY(version);
        // %header{...} in -w, which the snippets use, came with curl 7.84.
        const QRegularExpression re(QStringLiteral("^curl (\\d+)\\.(\\d+)"));
        const auto m = re.match(version->standardOutput());
        if (!m.hasMatch() || m.captured(1).toInt() * 100 + m.captured(2).toInt() < 784)
            QSKIP("curl older than 7.84");
    }

    m_reddit.setBudget(kBudget, kWindowSeconds);
    QVERIFY2(m_reddit.listen(), qPrintable(m_reddit.errorString()));
    QVERIFY2(m_origin.start(daemonProgram(),
                            {QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--upstream"),
                             m_reddit.baseUrl().toString(), QStringLiteral("--log-requests"),
                             QStringLiteral("1")}),
             qPrintable(m_origin.describe()));

    // The proxy daemon exactly as the README's command line starts it, on a free port.
    const QString command = snippet(QStringLiteral("proxy-daemon"), {}).trimmed();
    QStringList args = command.split(u' ', Qt::SkipEmptyParts);
    QVERIFY2(!args.isEmpty() && args.takeFirst() == u"praw-multiprocess", qPrintable(command));
    QVERIFY2(args.contains(u"--allow-host"), qPrintable(command));
    args << QStringLiteral("--port") << QStringLiteral("0") << QStringLiteral("--log-requests")
         << QStringLiteral("1");
    QVERIFY2(m_proxy.start(daemonProgram(), args), qPrintable(m_proxy.describe()));
}

// The snippets the tests run are the ones docs/clients.md shows, and README.md,
// where it shows them too, shows the same.
void TestHttpClientsE2E::docSnippetsAreTheOnesTested()
{
    const auto list = run(kPython, {e2eDir() + QStringLiteral("/doc_snippets.py"), docPath(),
                                    QStringLiteral("--list")});
    QVERIFY(list);
    const QStringList names = outputLines(*list);
    for (const char *name : {"praw-connect", "praw-use", "praw-ini", "praw-shared-token", "curl-origin",
                             "requests-origin", "proxy-daemon", "proxy-curl", "proxy-requests"})
        QVERIFY2(names.contains(QLatin1String(name)), name);
    const QString readme = sourceDir() + QStringLiteral("/README.md");
    if (QFileInfo::exists(readme)) {
        const auto compare = launch(kPython, {e2eDir() + QStringLiteral("/doc_snippets.py"), docPath(),
                                              QStringLiteral("--compare"), readme});
        QVERIFY(compare->waitForFinished(30'000));
        QVERIFY2(compare->exitCode() == 0, qPrintable(compare->describe()));
    }
}

// docs/clients.md's curl example: a token through the token route, then
// /api/v1/me, a listing twice (MISS, HIT) and a comment (BYPASS).
void TestHttpClientsE2E::curlOriginFormSnippet()
{
    const QString script = snippet(QStringLiteral("curl-origin"),
                                   {QStringLiteral("localhost:10101=localhost:") + originPort()});
    QVERIFY(!script.isEmpty());
    QProcessEnvironment env = environment();
    env.insert(QStringLiteral("CLIENT_ID"), kClientId);
    env.insert(QStringLiteral("CLIENT_SECRET"), kClientSecret);
    env.insert(QStringLiteral("REDDIT_USERNAME"), QStringLiteral("ivan"));
    env.insert(QStringLiteral("REDDIT_PASSWORD"), kPassword);
    const quint64 firstId = nextRecordId();
    const auto p = run(kBash, {QStringLiteral("-euo"), QStringLiteral("pipefail"), QStringLiteral("-c"), script}, env);
    QVERIFY(p);
    const QStringList lines = outputLines(*p);
    QVERIFY2(lines.size() == 4, qPrintable(p->describe()));
    QCOMPARE(QJsonDocument::fromJson(lines[0].toUtf8()).object().value(u"name").toString(),
             QStringLiteral("ivan"));
    QCOMPARE(lines[1], QStringLiteral("200 X-Cache: MISS"));
    QCOMPARE(lines[2], QStringLiteral("200 X-Cache: HIT"));
    QCOMPARE(lines[3], QStringLiteral("200 X-Cache: BYPASS"));

    // Upstream: each request once, all of ivan's with his token and his User-Agent.
    const QList<RequestRecord> records = logSince(firstId);
    QStringList seen;
    for (const RequestRecord &r : records) {
        seen << QString::fromLatin1(r.method + ' ' + r.target);
        QCOMPARE(r.headers.value("User-Agent"), QByteArray("my-script/1.0 by u/ivan"));
        if (r.path != "/api/v1/access_token")
            QCOMPARE(m_reddit.userForToken(bearerOf(r)), QStringLiteral("ivan"));
        QCOMPARE(r.status, 200);
    }
    QCOMPARE(seen, (QStringList{QStringLiteral("POST /api/v1/access_token"), QStringLiteral("GET /api/v1/me"),
                                QStringLiteral("GET /r/python/hot.json?limit=5"),
                                QStringLiteral("POST /api/comment")}));
}

// docs/clients.md's requests example, run by two users at once: each gets
// its own answer from the upstream (the cache never crosses tokens).
void TestHttpClientsE2E::requestsOriginFormSnippetKeepsUsersApart()
{
    const QStringList users{QStringLiteral("judy"), QStringLiteral("ken")};
    const quint64 firstId = nextRecordId();
    std::vector<std::unique_ptr<ProcessFixture>> processes;
    for (const QString &user : users) {
        const QString code = snippet(QStringLiteral("requests-origin"),
                                     {QStringLiteral("localhost:10101=localhost:") + originPort(),
                                      QStringLiteral("YOUR_CLIENT_ID=") + kClientId,
                                      QStringLiteral("YOUR_CLIENT_SECRET=") + kClientSecret,
                                      QStringLiteral("YOUR_USERNAME=") + user,
                                      QStringLiteral("YOUR_PASSWORD=") + kPassword});
        QVERIFY(!code.isEmpty());
        processes.push_back(launch(kPython, {QStringLiteral("-c"), code}));
    }
    for (qsizetype i = 0; i < users.size(); ++i) {
        ProcessFixture &p = *processes[size_t(i)];
        QVERIFY2(p.waitForFinished(30'000) && p.exitCode() == 0, qPrintable(p.describe()));
        QCOMPARE(outputLines(p), QStringList{users[i] + QStringLiteral(" 200 MISS 5")});
    }
    QHash<QString, int> listingsPerUser;
    for (const RequestRecord &r : logSince(firstId)) {
        if (r.path == "/r/python/hot.json")
            ++listingsPerUser[m_reddit.userForToken(bearerOf(r))];
    }
    QCOMPARE(listingsPerUser.value(users[0]), 1);
    QCOMPARE(listingsPerUser.value(users[1]), 1);
    QCOMPARE(listingsPerUser.size(), 2);
}

// Four processes (two curl, two requests) with one token read the same
// listing at once: it reached the upstream once per set of accepted codings
// (curl asks for none, requests for gzip and deflate: a gzip answer must not
// reach curl). Another user's read of it did not get that answer.
void TestHttpClientsE2E::processesSharingOneTokenShareCachedAnswers()
{
    const QString token = m_reddit.issueToken(QStringLiteral("lena"));
    const QString url = QStringLiteral("http://127.0.0.1:%1/r/qt/hot.json?limit=10").arg(originPort());
    const quint64 firstId = nextRecordId();
    std::vector<std::unique_ptr<ProcessFixture>> curls;
    std::vector<std::unique_ptr<ProcessFixture>> pythons;
    for (int i = 0; i < 2; ++i) {
        curls.push_back(launch(m_curl, {QStringLiteral("-s"), QStringLiteral("-w"),
                                        QStringLiteral("\n%{http_code} %header{x-cache}\n"), QStringLiteral("-H"),
                                        QStringLiteral("Authorization: bearer ") + token, url}));
        pythons.push_back(launch(kPython, {e2eDir() + QStringLiteral("/requests_client.py"),
                                           QStringLiteral("--url"), url, QStringLiteral("--token"), token,
                                           QStringLiteral("--repeat"), QStringLiteral("3")}));
    }
    QStringList xcache;
    QStringList curlXcache;
    for (auto &p : curls) {
        QVERIFY2(p->waitForFinished(30'000) && p->exitCode() == 0, qPrintable(p->describe()));
        const QStringList lines = outputLines(*p);
        QVERIFY2(lines.size() == 2, qPrintable(p->describe()));
        QCOMPARE(QJsonDocument::fromJson(lines[0].toUtf8()).object().value(u"user").toString(),
                 QStringLiteral("lena"));
        QVERIFY2(lines[1].startsWith(u"200 "), qPrintable(p->describe()));
        xcache << lines[1].mid(4);
        curlXcache << lines[1].mid(4);
    }
    for (auto &p : pythons) {
        QVERIFY2(p->waitForFinished(30'000) && p->exitCode() == 0, qPrintable(p->describe()));
        for (const QJsonValue &v : lastJsonLine(*p).value(u"answers").toArray()) {
            const QJsonObject a = v.toObject();
            QCOMPARE(a.value(u"status").toInt(), 200);
            QCOMPARE(a.value(u"who").toString(), QStringLiteral("lena"));
            xcache << a.value(u"x_cache").toString();
        }
    }
    QCOMPARE(xcache.size(), 8);
    QCOMPARE(xcache.count(QStringLiteral("MISS")), 2);
    QCOMPARE(curlXcache.count(QStringLiteral("MISS")), 1);
    for (const QString &x : std::as_const(xcache))
        QVERIFY2(x == u"MISS" || x == u"HIT" || x == u"COALESCED", qPrintable(xcache.join(u' ')));
    QCOMPARE(m_reddit.targetCount("/r/qt/hot.json?limit=10"), 2);

    // Another user, same URL, within the TTL: a fresh answer of their own.
    const QString other = m_reddit.issueToken(QStringLiteral("mallory"));
    const auto p = run(kPython, {e2eDir() + QStringLiteral("/requests_client.py"), QStringLiteral("--url"), url,
                                 QStringLiteral("--token"), other});
    QVERIFY(p);
    const QJsonObject a = lastJsonLine(*p).value(u"answers").toArray().first().toObject();
    QCOMPARE(a.value(u"x_cache").toString(), QStringLiteral("MISS"));
    QCOMPARE(a.value(u"who").toString(), QStringLiteral("mallory"));
    QCOMPARE(m_reddit.targetCount("/r/qt/hot.json?limit=10"), 3);
    for (const RequestRecord &r : logSince(firstId))
        QVERIFY(bearerOf(r) == token || bearerOf(r) == other);
}

// The same comment posted three times with one token: three upstream posts,
// never an answer from the cache.
void TestHttpClientsE2E::commentsAreNeverCached()
{
    const QString token = m_reddit.issueToken(QStringLiteral("lena"));
    const int before = m_reddit.pathCount("/api/comment");
    const auto p = run(kPython, {e2eDir() + QStringLiteral("/requests_client.py"), QStringLiteral("--url"),
                                 QStringLiteral("http://127.0.0.1:%1/api/comment").arg(originPort()),
                                 QStringLiteral("--token"), token, QStringLiteral("--method"),
                                 QStringLiteral("POST"), QStringLiteral("--data"),
                                 QStringLiteral("api_type=json&thing_id=t3_abc123&text=same text"),
                                 QStringLiteral("--repeat"), QStringLiteral("3")});
    QVERIFY(p);
    const QJsonArray answers = lastJsonLine(*p).value(u"answers").toArray();
    QCOMPARE(answers.size(), 3);
    for (const QJsonValue &v : answers) {
        QCOMPARE(v.toObject().value(u"status").toInt(), 200);
        QCOMPARE(v.toObject().value(u"x_cache").toString(), QStringLiteral("BYPASS"));
        QCOMPARE(v.toObject().value(u"who").toString(), QStringLiteral("lena"));
    }
    QCOMPARE(m_reddit.pathCount("/api/comment"), before + 3);
}

// docs/clients.md's curl -x example against the daemon started as it says.
void TestHttpClientsE2E::curlAbsoluteFormSnippet()
{
    QVERIFY(post(QUrl(QStringLiteral("http://127.0.0.1:%1/_mp/clear").arg(proxyPort()))).contains(u"cleared"));
    const QString script = snippet(QStringLiteral("proxy-curl"),
                                   {QStringLiteral("localhost:10101=localhost:") + proxyPort(),
                                    QStringLiteral("127.0.0.1:8080=127.0.0.1:") + fakePort()});
    QVERIFY(!script.isEmpty());
    const int before = m_reddit.targetCount("/r/python/hot.json?limit=5");
    QStringList lines;
    for (int i = 0; i < 2; ++i) {
        const auto p = run(kBash, {QStringLiteral("-euo"), QStringLiteral("pipefail"), QStringLiteral("-c"), script});
        QVERIFY(p);
        lines += outputLines(*p);
    }
    QCOMPARE(lines, (QStringList{QStringLiteral("200 X-Cache: MISS"), QStringLiteral("200 X-Cache: HIT")}));
    QCOMPARE(m_reddit.targetCount("/r/python/hot.json?limit=5"), before + 1);
}

// docs/clients.md's requests proxies= example.
void TestHttpClientsE2E::requestsProxiesSnippet()
{
    QVERIFY(post(QUrl(QStringLiteral("http://127.0.0.1:%1/_mp/clear").arg(proxyPort()))).contains(u"cleared"));
    const QString code = snippet(QStringLiteral("proxy-requests"),
                                 {QStringLiteral("localhost:10101=localhost:") + proxyPort(),
                                  QStringLiteral("127.0.0.1:8080=127.0.0.1:") + fakePort()});
    QVERIFY(!code.isEmpty());
    const quint64 firstId = nextRecordId();
    QStringList lines;
    for (int i = 0; i < 2; ++i) {
        const auto p = run(kPython, {QStringLiteral("-c"), code});
        QVERIFY(p);
        lines += outputLines(*p);
    }
    QCOMPARE(lines, (QStringList{QStringLiteral("200 MISS"), QStringLiteral("200 HIT")}));
    const QList<RequestRecord> records = logSince(firstId);
    QCOMPARE(records.size(), 1);
    QCOMPARE(records.first().target, QByteArray("/r/python/hot.json?limit=5"));
    QVERIFY(records.first().headers.value("User-Agent").startsWith("python-requests/"));
}

// The proxy is not an open one: other hosts get 403, https (CONNECT) 405,
// and nothing of it reaches any upstream.
void TestHttpClientsE2E::proxyRefusesOtherHostsAndTunnels()
{
    const QString proxy = QStringLiteral("http://localhost:") + proxyPort();
    const quint64 firstId = nextRecordId();
    // 127.0.0.2: loopback too, so nothing could leave the machine even if it were let through.
    QCOMPARE(curlStatusLine(proxy, QStringLiteral("http://127.0.0.2:%1/r/python/hot.json").arg(fakePort()), {}),
             QStringLiteral("403"));
    // A host name that must never be looked up or reached: refused before that.
    QCOMPARE(curlStatusLine(proxy, QStringLiteral("http://example.invalid/r/python/hot.json"), {}),
             QStringLiteral("403"));

    const auto p = launch(m_curl, {QStringLiteral("-s"), QStringLiteral("-o"), QStringLiteral("/dev/null"),
                                   QStringLiteral("-w"), QStringLiteral("%{http_connect}"), QStringLiteral("-x"),
                                   proxy, QStringLiteral("https://127.0.0.1:%1/r/python/hot.json").arg(fakePort())});
    QVERIFY(p->waitForFinished(30'000));
    QVERIFY2(p->exitCode() != 0, qPrintable(p->describe())); // curl: the tunnel failed
    QCOMPARE(p->standardOutput().trimmed(), QStringLiteral("405"));
    QCOMPARE(logSince(firstId).size(), 0);
}

void TestHttpClientsE2E::budgetWasKept()
{
    const WindowStats stats = m_reddit.windowStats();
    QVERIFY2(stats.withinBudget(kBudget), qPrintable(stats.describe()));
    QVERIFY2(m_origin.stop(), qPrintable(m_origin.describe()));
    QVERIFY2(m_proxy.stop(), qPrintable(m_proxy.describe()));
}

QTEST_GUILESS_MAIN(TestHttpClientsE2E)
#include "tst_http_clients_e2e.moc"
