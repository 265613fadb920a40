// AppIdentities: which Reddit app (OAuth client id) and identity a request's
// credentials stand for, learned from token answers; the rate domain and the
// cache identity derived from it; the owner-only state file.
#include "prawmp/AppIdentities.h"
#include "prawmp/RateLimiter.h"
#include "prawmp/Request.h"

#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>

using prawmp::AppIdentities;
using prawmp::HttpHeaders;
using prawmp::Request;
using namespace Qt::Literals::StringLiterals;

namespace {

QByteArray basic(const QByteArray &id, const QByteArray &secret = "s3cret")
{
    return "Basic " + (id + ':' + secret).toBase64();
}

Request tokenRequest(const QByteArray &clientId, const QByteArray &form)
{
    Request r;
    r.method = "POST";
    r.url = QUrl(u"https://www.reddit.com/api/v1/access_token"_s);
    r.headers.set("Authorization", basic(clientId));
    r.body = form;
    return r;
}

QByteArray tokenAnswer(const QByteArray &token, const QByteArray &scope = "*", int expiresIn = 3600)
{
    return R"({"access_token": ")" + token + R"(", "token_type": "bearer", "expires_in": )"
           + QByteArray::number(expiresIn) + R"(, "scope": ")" + scope + R"("})";
}

HttpHeaders bearer(const QByteArray &token)
{
    return HttpHeaders{{"Authorization", "bearer " + token}};
}

} // namespace

class tst_AppIdentities : public QObject
{
    Q_OBJECT

private slots:
    void rateDomainFollowsTheCredentials_data()
    {
        QTest::addColumn<QByteArray>("authorization");
        QTest::addColumn<QByteArray>("namedApp");
        QTest::addColumn<QString>("domain");
        QTest::newRow("no credentials: the host's anonymous domain")
            << QByteArray() << QByteArray() << u"oauth.reddit.com"_s;
        QTest::newRow("basic auth: the client id")
            << basic("appA") << QByteArray() << u"oauth.reddit.com app:appA"_s;
        QTest::newRow("basic auth wins over X-Mp-App")
            << basic("appA") << QByteArray("appB") << u"oauth.reddit.com app:appA"_s;
        QTest::newRow("learned token: its app")
            << QByteArray("bearer tokA1") << QByteArray() << u"oauth.reddit.com app:appA"_s;
        QTest::newRow("learned token wins over a contradicting X-Mp-App")
            << QByteArray("Bearer tokA1") << QByteArray("appB") << u"oauth.reddit.com app:appA"_s;
        QTest::newRow("unknown token: unidentified")
            << QByteArray("bearer unknown") << QByteArray() << u"oauth.reddit.com unidentified"_s;
        QTest::newRow("unknown token named by X-Mp-App")
            << QByteArray("bearer unknown") << QByteArray("appC") << u"oauth.reddit.com app:appC"_s;
        QTest::newRow("X-Mp-App that is no client id is ignored")
            << QByteArray("bearer unknown") << QByteArray("a b/c") << u"oauth.reddit.com unidentified"_s;
        QTest::newRow("undecodable basic auth: unidentified")
            << QByteArray("Basic !!!") << QByteArray() << u"oauth.reddit.com unidentified"_s;
    }

    void rateDomainFollowsTheCredentials()
    {
        QFETCH(QByteArray, authorization);
        QFETCH(QByteArray, namedApp);
        QFETCH(QString, domain);
        AppIdentities ids;
        QVERIFY(ids.learnFromTokenAnswer(tokenRequest("appA", "grant_type=client_credentials"), 200,
                                         tokenAnswer("tokA1")));
        HttpHeaders headers;
        if (!authorization.isEmpty())
            headers.set("Authorization", authorization);
        if (!namedApp.isEmpty())
            headers.set("X-Mp-App", namedApp);
        QCOMPARE(ids.rateDomain(u"OAuth.Reddit.com"_s, headers), domain);
        QCOMPARE(AppIdentities::hostOfDomain(domain), u"oauth.reddit.com"_s);
    }

    void hostRateKeyIsOneDomainPerHost()
    {
        AppIdentities ids(AppIdentities::RateKey::Host);
        QCOMPARE(ids.rateDomain(u"oauth.reddit.com"_s, HttpHeaders{{"Authorization", basic("appA")}}),
                 u"oauth.reddit.com"_s);
        QCOMPARE(AppIdentities::appOfDomain(u"oauth.reddit.com app:appA"_s), u"appA"_s);
        QVERIFY(AppIdentities::appOfDomain(u"oauth.reddit.com"_s).isEmpty());
    }

    void domainsAreShownByLabelWhenGiven()
    {
        prawmp::DomainState d;
        d.domain = u"oauth.reddit.com app:AbC-123"_s;
        d.app = AppIdentities::appOfDomain(d.domain);
        QCOMPARE(d.app, u"AbC-123"_s);
        QCOMPARE(d.displayName(), d.domain); // no label: the client id
        d.label = u"modbot"_s;
        QCOMPARE(d.displayName(), u"oauth.reddit.com app:modbot"_s);
        prawmp::DomainState host;
        host.domain = u"oauth.reddit.com"_s;
        host.label = u"ignored"_s; // not an app's domain
        QCOMPARE(host.displayName(), host.domain);
    }

    void everyGrantTeachesTheTokensApp_data()
    {
        QTest::addColumn<QByteArray>("form");
        QTest::addColumn<QString>("user");
        QTest::newRow("password") << QByteArray("grant_type=password&username=Alice&password=pw") << u"alice"_s;
        QTest::newRow("client_credentials") << QByteArray("grant_type=client_credentials") << QString();
        QTest::newRow("installed_client")
            << QByteArray("grant_type=https%3A%2F%2Foauth.reddit.com%2Fgrants%2Finstalled_client&device_id=x")
            << QString();
        QTest::newRow("refresh_token") << QByteArray("grant_type=refresh_token&refresh_token=r") << QString();
    }

    void everyGrantTeachesTheTokensApp()
    {
        QFETCH(QByteArray, form);
        QFETCH(QString, user);
        AppIdentities ids;
        QVERIFY(ids.learnFromTokenAnswer(tokenRequest("myApp_1", form), 200, tokenAnswer("T", "read identity")));
        const auto identity = ids.identityOf(bearer("T"));
        QVERIFY(identity);
        QCOMPARE(identity->app, u"myApp_1"_s);
        QCOMPARE(identity->user, user);
        QCOMPARE(identity->scopes, u"identity read"_s);
        QVERIFY(identity->expires > QDateTime::currentDateTimeUtc().addSecs(3500));
    }

    void failedOrMalformedAnswersTeachNothing()
    {
        AppIdentities ids;
        QVERIFY(!ids.learnFromTokenAnswer(tokenRequest("a", "grant_type=password"), 401, tokenAnswer("T")));
        QVERIFY(!ids.learnFromTokenAnswer(tokenRequest("a", "grant_type=password"), 200, "<html>"));
        QVERIFY(!ids.learnFromTokenAnswer(tokenRequest("a", "grant_type=password"), 200, R"({"error": 401})"));
        Request noAuth = tokenRequest("a", "grant_type=password");
        noAuth.headers.remove("Authorization");
        QVERIFY(!ids.learnFromTokenAnswer(noAuth, 200, tokenAnswer("T")));
        QCOMPARE(ids.size(), 0);
    }

    void expiredTokensAreForgotten()
    {
        AppIdentities ids;
        QVERIFY(ids.learnFromTokenAnswer(tokenRequest("a", "grant_type=client_credentials"), 200,
                                         tokenAnswer("T", "*", -5)));
        // expires_in <= 0 means no expiry was given: kept.
        QVERIFY(ids.identityOf(bearer("T")));
        AppIdentities::Identity old{u"a"_s, {}, {}, QDateTime::currentDateTimeUtc().addSecs(-1)};
        ids.insert(AppIdentities::hashToken("OLD"), old);
        QVERIFY(!ids.identityOf(bearer("OLD")));
        QCOMPARE(ids.rateDomain(u"h"_s, bearer("OLD")), u"h unidentified"_s);
    }

    void cacheIdentitySharedOnlyByOneUsersTokensWithTheSameScopes()
    {
        AppIdentities ids;
        auto learn = [&](const QByteArray &app, const QByteArray &form, const QByteArray &token,
                         const QByteArray &scope) {
            QVERIFY(ids.learnFromTokenAnswer(tokenRequest(app, form), 200, tokenAnswer(token, scope)));
        };
        learn("appA", "grant_type=password&username=alice&password=1", "alice1", "read identity");
        learn("appA", "grant_type=password&username=ALICE&password=1", "alice2", "identity read");
        learn("appA", "grant_type=password&username=alice&password=1", "alice3", "read");
        learn("appA", "grant_type=password&username=bob&password=1", "bob1", "read identity");
        learn("appB", "grant_type=password&username=alice&password=1", "aliceB", "read identity");
        learn("appA", "grant_type=client_credentials", "appOnly1", "*");
        learn("appA", "grant_type=client_credentials", "appOnly2", "*");

        const QByteArray alice = ids.cacheIdentity(bearer("alice1"));
        QVERIFY(!alice.isEmpty());
        QCOMPARE(ids.cacheIdentity(bearer("alice2")), alice);
        QVERIFY(ids.cacheIdentity(bearer("alice3")) != alice);  // other scopes
        QVERIFY(ids.cacheIdentity(bearer("bob1")) != alice);    // other user
        QVERIFY(ids.cacheIdentity(bearer("aliceB")) != alice);  // other app
        QCOMPARE(ids.cacheIdentity(bearer("appOnly1")), ids.cacheIdentity(bearer("appOnly2")));
        QVERIFY(ids.cacheIdentity(bearer("appOnly1")) != alice);
        QVERIFY(ids.cacheIdentity(bearer("unknown")).isEmpty());
        QVERIFY(!alice.contains("alice1"));
    }

    void meAnswerTeachesTheUserOfARefreshedToken()
    {
        AppIdentities ids;
        QVERIFY(ids.learnFromTokenAnswer(tokenRequest("appA", "grant_type=refresh_token&refresh_token=r"), 200,
                                         tokenAnswer("R1", "identity read")));
        QVERIFY(ids.learnFromTokenAnswer(tokenRequest("appA", "grant_type=password&username=carol&password=p"),
                                         200, tokenAnswer("P1", "identity read")));
        QVERIFY(ids.cacheIdentity(bearer("R1")) != ids.cacheIdentity(bearer("P1")));
        // Until /me names its user, a refreshed token shares with nobody: two
        // users' refreshed tokens of one app and scopes must not meet.
        QVERIFY(ids.learnFromTokenAnswer(tokenRequest("appA", "grant_type=refresh_token&refresh_token=s"), 200,
                                         tokenAnswer("R2", "identity read")));
        QVERIFY(ids.cacheIdentity(bearer("R1")).isEmpty());
        QVERIFY(ids.cacheIdentity(bearer("R2")).isEmpty());
        Request me;
        me.url = QUrl(u"https://oauth.reddit.com/api/v1/me"_s);
        me.headers = bearer("R1");
        QVERIFY(ids.learnFromMeAnswer(me, 200, R"({"name": "Carol", "id": "t2_1"})"));
        QCOMPARE(ids.identityOf(bearer("R1"))->user, u"carol"_s);
        QCOMPARE(ids.cacheIdentity(bearer("R1")), ids.cacheIdentity(bearer("P1")));
        // An unknown token learns nothing from /me: its app stays unknown.
        me.headers = bearer("stranger");
        QVERIFY(!ids.learnFromMeAnswer(me, 200, R"({"name": "carol"})"));
        QCOMPARE(ids.size(), 3);
    }

    void learnedCallbackSeesOnlyHashes()
    {
        AppIdentities ids;
        QList<QByteArray> hashes;
        const int id = ids.addLearnedListener([&](const QByteArray &hash, const AppIdentities::Identity &identity) {
            hashes << hash + ' ' + AppIdentities::identityToJson(identity);
        });
        QVERIFY(ids.learnFromTokenAnswer(tokenRequest("appA", "grant_type=password&username=u&password=pw"), 200,
                                         tokenAnswer("SECRET-TOKEN")));
        QCOMPARE(hashes.size(), 1);
        QVERIFY(hashes.first().startsWith(AppIdentities::hashToken("SECRET-TOKEN")));
        QVERIFY(!hashes.first().contains("SECRET-TOKEN"));
        QVERIFY(!hashes.first().contains("pw"));
        ids.removeLearnedListener(id);
        QVERIFY(ids.learnFromTokenAnswer(tokenRequest("appA", "grant_type=client_credentials"), 200,
                                         tokenAnswer("OTHER")));
        QCOMPARE(hashes.size(), 1);
        ids.insert(AppIdentities::hashToken("X"), {u"appA"_s, {}, {}, {}}); // from elsewhere: not re-announced
        QCOMPARE(hashes.size(), 1);
    }

    void stateFileRoundTripsOwnerOnlyWithoutTokens()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(u"identities.json"_s);
        {
            AppIdentities ids;
            QVERIFY(ids.learnFromTokenAnswer(tokenRequest("appA", "grant_type=password&username=u&password=pw"),
                                             200, tokenAnswer("SECRET-A", "read")));
            QVERIFY(ids.learnFromTokenAnswer(tokenRequest("appB", "grant_type=client_credentials"), 200,
                                             tokenAnswer("SECRET-B")));
            ids.insert(AppIdentities::hashToken("EXPIRED"),
                       {u"appC"_s, {}, {}, QDateTime::currentDateTimeUtc().addSecs(-10)});
            QString error;
            QVERIFY2(ids.save(path, &error), qPrintable(error));
        }
        QCOMPARE(QFileInfo(path).permissions() & (QFileDevice::ReadGroup | QFileDevice::ReadOther
                                                  | QFileDevice::WriteGroup | QFileDevice::WriteOther),
                 QFileDevice::Permissions());
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray text = file.readAll();
        QVERIFY(!text.contains("SECRET"));
        QVERIFY(!text.contains("pw"));
        QVERIFY(!text.contains("appC")); // expired entries are not kept

        AppIdentities restored;
        QString error;
        QVERIFY2(restored.load(path, &error), qPrintable(error));
        QCOMPARE(restored.size(), 2);
        QCOMPARE(restored.rateDomain(u"h"_s, bearer("SECRET-A")), u"h app:appA"_s);
        QCOMPARE(restored.rateDomain(u"h"_s, bearer("SECRET-B")), u"h app:appB"_s);
        QCOMPARE(restored.identityOf(bearer("SECRET-A"))->user, u"u"_s);

        QVERIFY(restored.load(dir.filePath(u"absent.json"_s))); // first start
        QFile garbage(dir.filePath(u"garbage.json"_s));
        QVERIFY(garbage.open(QIODevice::WriteOnly));
        garbage.write("{not json");
        garbage.close();
        QVERIFY(!restored.load(garbage.fileName(), &error));
        QVERIFY(!error.isEmpty());
    }
};

QTEST_GUILESS_MAIN(tst_AppIdentities)
#include "tst_appidentities.moc"
