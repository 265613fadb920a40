// needs: praw-multiprocess
// Credentials are never logged or shown: the request log of the real daemon
// at its most verbose (--log-requests 2, with bodies) while a client gets an
// OAuth token with a password grant, uses it, and sends secrets in a query;
// and the redaction of bodies and URLs by itself.
#include "DaemonTestKit.h"

#include "prawmp/RequestPipeline.h"

using namespace dtk;
using prawmp::RequestPipeline;
using prawmp::test::FakeReddit;

class TestRedaction : public QObject
{
    Q_OBJECT

private slots:
    void bodiesAreRedacted_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<QByteArray>("expected");
        QTest::newRow("password grant")
            << QByteArray("grant_type=password&username=bot&password=hunter2")
            << QByteArray("grant_type=password&username=bot&password=REDACTED");
        QTest::newRow("refresh token, encoded name")
            << QByteArray("refresh%5Ftoken=abc&x=1") << QByteArray("refresh%5Ftoken=REDACTED&x=1");
        QTest::newRow("token answer")
            << QByteArray("{\"access_token\": \"eyJhbGci\", \"token_type\": \"bearer\", \"expires_in\": 86400, \"scope\": \"*\"}")
            << QByteArray("{\"access_token\": \"REDACTED\", \"token_type\": \"REDACTED\", \"expires_in\": 86400, \"scope\": \"*\"}");
        QTest::newRow("nested, escaped, number")
            << QByteArray("{\"data\": {\"name\": \"x\", \"session_id\": \"a\\\"b\", \"api_key\": 12345}}")
            << QByteArray("{\"data\": {\"name\": \"x\", \"session_id\": \"REDACTED\", \"api_key\": \"REDACTED\"}}");
        QTest::newRow("cut short by the log bound")
            << QByteArray("{\"password\": \"hunter") << QByteArray("{\"password\": \"REDACTED\"");
        QTest::newRow("nothing secret") << QByteArray("thing_id=t3_x&text=hello") << QByteArray("thing_id=t3_x&text=hello");
        QTest::newRow("plain text") << QByteArray("just text, a=b\nwith lines") << QByteArray("just text, a=b\nwith lines");
        QTest::newRow("empty") << QByteArray() << QByteArray();
    }

    void bodiesAreRedacted()
    {
        QFETCH(QByteArray, body);
        QFETCH(QByteArray, expected);
        QCOMPARE(RequestPipeline::redactedBody(body), expected);
    }

    void urlsAreRedacted()
    {
        const QString url = RequestPipeline::redactedUrl(
            QUrl(QStringLiteral("https://user:pw@oauth.reddit.com/api/v1/me?access_token=abc&limit=5")));
        QCOMPARE(url, QStringLiteral("https://oauth.reddit.com/api/v1/me?access_token=REDACTED&limit=5"));
    }

    void requestLogShowsNoCredentials()
    {
        if (prawmp::test::daemonProgram().isEmpty())
            QSKIP("praw-multiprocess is not built");
        FakeReddit reddit;
        QVERIFY(reddit.listen());
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, {"--upstream", upstreamArg(reddit.port()), "--rate-mode", "fixed", "--delay",
                                      "0", "--log-requests", "2", "--auth-token", "ProxyT0kenValue"}),
                 qPrintable(daemon.describe()));
        const QByteArray proxyAuth = "Bearer ProxyT0kenValue";
        const QByteArray basic = "Basic " + QByteArray("myclientid:myclientsecret").toBase64();

        const QByteArray form = "grant_type=password&username=bot&password=hunter2secret";
        const RawResponse grant = fetch(daemon.port(), httpRequest("POST", "/api/v1/access_token",
                                                                   {{"Authorization", basic},
                                                                    {"Proxy-Authorization", proxyAuth},
                                                                    {"Content-Type", "application/x-www-form-urlencoded"}},
                                                                   form));
        QCOMPARE(grant.status, 200);
        const QString token = grant.json()["access_token"].toString();
        QVERIFY(!token.isEmpty());

        const RawResponse me = fetch(daemon.port(), get("/api/v1/me?session=s3ssionValue",
                                                        {{"Authorization", "bearer " + token.toLatin1()},
                                                         {"Proxy-Authorization", proxyAuth}}));
        QCOMPARE(me.status, 200);

        // Both requests logged, with their bodies...
        QVERIFY2(daemon.waitForOutput(QRegularExpression(QStringLiteral("GET \\S+/api/v1/me")), 5000).hasMatch(),
                 qPrintable(daemon.describe()));
        const QString log = daemon.standardOutput() + daemon.standardError();
        QVERIFY2(log.contains(QStringLiteral("POST ")), qPrintable(log));
        QVERIFY2(log.contains(QStringLiteral("request body: grant_type=password&username=bot&password=REDACTED")),
                 qPrintable(log));
        QVERIFY2(log.contains(QStringLiteral("REDACTED")), qPrintable(log));
        // ...and no secret anywhere in them.
        for (const QString &secret : {QStringLiteral("hunter2secret"), token, QStringLiteral("ProxyT0kenValue"),
                                      QStringLiteral("s3ssionValue"), QString::fromLatin1(basic.mid(6))})
            QVERIFY2(!log.contains(secret), qPrintable(QStringLiteral("%1 in the log:\n%2").arg(secret, log)));
        QVERIFY2(daemon.stop(), qPrintable(daemon.describe()));
    }
};

QTEST_GUILESS_MAIN(TestRedaction)
#include "tst_redaction.moc"
