// needs: prawmp_server
#include "DaemonOptions.h"
#include "UnixSignals.h"

#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace prawmp;
using namespace Qt::Literals::StringLiterals;

Q_DECLARE_METATYPE(prawmp::RateMode)

class TestDaemonOptions : public QObject
{
    Q_OBJECT

private:
    static DaemonOptionsResult parse(const QStringList &args)
    {
        DaemonOptionsParser parser;
        return parser.parse(QStringList{u"praw-multiprocess"_s} + args);
    }
    QString writeIni(const QString &name, const QByteArray &content)
    {
        const QString path = m_dir.filePath(name);
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
            return {};
        f.write(content);
        return path;
    }

    QTemporaryDir m_dir;

private slots:
    void defaultsMatchTheContract()
    {
        const DaemonOptionsResult r = parse({});
        QVERIFY2(r.ok(), qPrintable(r.error));
        QCOMPARE(r.action, DaemonAction::Run);
        const DaemonOptions &o = r.options;
        QCOMPARE(o.addr, u"localhost"_s);
        QCOMPARE(o.port, quint16(10101));
        QVERIFY(o.upstream.isEmpty());
        QVERIFY(o.routes.isEmpty());
        QVERIFY(o.allowHosts.isEmpty());
        QCOMPARE(o.delaySeconds, 2.0);
        QCOMPARE(o.rateMode, RateMode::Adaptive);
        QCOMPARE(o.burstFraction, 0.5);
        QCOMPARE(o.cacheTtlSeconds, 30.0);
        QCOMPARE(o.cacheMaxBytes, 256ll * 1024 * 1024);
        QCOMPARE(o.upstreamTimeoutSeconds, 45.0);
        QCOMPARE(o.maxClients, 4096);
        QCOMPARE(o.threads, DaemonOptions::defaultThreads());
        QVERIFY(o.threads >= 1);
        QVERIFY(o.authToken.isEmpty());
        QVERIFY(!o.insecure);
        QVERIFY(o.redis.isEmpty());
        QCOMPARE(o.redisPrefix, u"prawmp:"_s);
        QVERIFY(o.configFile.isEmpty());
        QCOMPARE(o.logRequests, 0);
        QVERIFY(o.maxQueueWaitSeconds < 0);
        QCOMPARE(o, DaemonOptions{});

        const PipelineConfig p = o.pipelineConfig();
        QCOMPARE(p.rate.mode, RateMode::Adaptive);
        QCOMPARE(p.rate.delaySeconds, 2.0);
        QCOMPARE(p.rate.burstFraction, 0.5);
        QCOMPARE(p.cacheTtlSeconds, 30.0);
        QCOMPARE(p.cacheMaxBytes, 256ll * 1024 * 1024);
        QCOMPARE(p.upstreamTimeoutSeconds, 45.0);
    }

    void eachOptionIsParsed_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("field");
        QTest::addColumn<QVariant>("expected");

        QTest::newRow("addr") << QStringList{u"--addr"_s, u"127.0.0.2"_s} << u"addr"_s << QVariant(u"127.0.0.2"_s);
        QTest::newRow("addr=") << QStringList{u"--addr=::1"_s} << u"addr"_s << QVariant(u"::1"_s);
        QTest::newRow("port") << QStringList{u"--port"_s, u"10111"_s} << u"port"_s << QVariant(10111);
        QTest::newRow("port 0") << QStringList{u"--port"_s, u"0"_s} << u"port"_s << QVariant(0);
        QTest::newRow("upstream") << QStringList{u"--upstream"_s, u"http://127.0.0.1:8080"_s}
                                  << u"upstream"_s << QVariant(u"http://127.0.0.1:8080"_s);
        QTest::newRow("route") << QStringList{u"--route"_s, u"/api/v1/access_token=http://127.0.0.1:1"_s}
                               << u"routes"_s << QVariant(u"/api/v1/access_token=http://127.0.0.1:1"_s);
        QTest::newRow("routes") << QStringList{u"--route"_s, u"/a=http://x"_s, u"--route"_s, u"/a/b=https://y:8443/p"_s}
                                << u"routes"_s << QVariant(u"/a=http://x,/a/b=https://y:8443/p"_s);
        QTest::newRow("allow-host") << QStringList{u"--allow-host"_s, u"Example.COM"_s, u"--allow-host"_s, u"127.0.0.1"_s}
                                    << u"allowHosts"_s << QVariant(u"example.com,127.0.0.1"_s);
        QTest::newRow("delay") << QStringList{u"--delay"_s, u"0.25"_s} << u"delay"_s << QVariant(0.25);
        QTest::newRow("delay 0") << QStringList{u"--delay"_s, u"0"_s} << u"delay"_s << QVariant(0.0);
        QTest::newRow("rate-mode fixed") << QStringList{u"--rate-mode"_s, u"fixed"_s} << u"rateMode"_s << QVariant(int(RateMode::Fixed));
        QTest::newRow("rate-mode Adaptive") << QStringList{u"--rate-mode=Adaptive"_s} << u"rateMode"_s << QVariant(int(RateMode::Adaptive));
        QTest::newRow("burst") << QStringList{u"--burst"_s, u"0.2"_s} << u"burst"_s << QVariant(0.2);
        QTest::newRow("cache-ttl") << QStringList{u"--cache-ttl"_s, u"5"_s} << u"cacheTtl"_s << QVariant(5.0);
        QTest::newRow("cache-max-bytes plain") << QStringList{u"--cache-max-bytes"_s, u"1000"_s} << u"cacheMaxBytes"_s << QVariant(1000ll);
        QTest::newRow("cache-max-bytes k") << QStringList{u"--cache-max-bytes"_s, u"4k"_s} << u"cacheMaxBytes"_s << QVariant(4096ll);
        QTest::newRow("cache-max-bytes 64M") << QStringList{u"--cache-max-bytes"_s, u"64M"_s} << u"cacheMaxBytes"_s << QVariant(64ll << 20);
        QTest::newRow("cache-max-bytes 1G") << QStringList{u"--cache-max-bytes"_s, u"1G"_s} << u"cacheMaxBytes"_s << QVariant(1ll << 30);
        QTest::newRow("cache-max-bytes 2GiB") << QStringList{u"--cache-max-bytes"_s, u"2GiB"_s} << u"cacheMaxBytes"_s << QVariant(2ll << 30);
        QTest::newRow("cache-max-bytes 1.5MB") << QStringList{u"--cache-max-bytes"_s, u"1.5MB"_s} << u"cacheMaxBytes"_s << QVariant(3ll << 19);
        QTest::newRow("upstream-timeout") << QStringList{u"--upstream-timeout"_s, u"7.5"_s} << u"upstreamTimeout"_s << QVariant(7.5);
        QTest::newRow("max-clients") << QStringList{u"--max-clients"_s, u"12"_s} << u"maxClients"_s << QVariant(12);
        QTest::newRow("threads") << QStringList{u"--threads"_s, u"3"_s} << u"threads"_s << QVariant(3);
        QTest::newRow("threads 0") << QStringList{u"--threads=0"_s} << u"threads"_s << QVariant(0);
        QTest::newRow("auth-token") << QStringList{u"--auth-token"_s, u"s3cr3t"_s} << u"authToken"_s << QVariant(u"s3cr3t"_s);
        QTest::newRow("insecure") << QStringList{u"--insecure"_s} << u"insecure"_s << QVariant(true);
        QTest::newRow("redis") << QStringList{u"--redis"_s, u"redis://127.0.0.1:6379/2"_s} << u"redis"_s << QVariant(u"redis://127.0.0.1:6379/2"_s);
        QTest::newRow("redis-prefix") << QStringList{u"--redis-prefix"_s, u"bot:"_s} << u"redisPrefix"_s << QVariant(u"bot:"_s);
        QTest::newRow("log-requests") << QStringList{u"--log-requests"_s, u"2"_s} << u"logRequests"_s << QVariant(2);
        QTest::newRow("max-queue-wait") << QStringList{u"--max-queue-wait"_s, u"3"_s} << u"maxQueueWait"_s << QVariant(3.0);
        QTest::newRow("max-queue-wait none") << QStringList{u"--max-queue-wait"_s, u"none"_s} << u"maxQueueWait"_s << QVariant(-1.0);
        QTest::newRow("header-timeout") << QStringList{u"--header-timeout"_s, u"2"_s} << u"headerTimeoutMs"_s << QVariant(2000);
        QTest::newRow("idle-timeout") << QStringList{u"--idle-timeout"_s, u"0.5"_s} << u"idleTimeoutMs"_s << QVariant(500);
        QTest::newRow("max-body-bytes") << QStringList{u"--max-body-bytes"_s, u"1M"_s} << u"maxBodyBytes"_s << QVariant(1ll << 20);
        QTest::newRow("tls-cert") << QStringList{u"--tls-cert"_s, u"/etc/ssl/c.pem"_s, u"--tls-key"_s, u"/etc/ssl/k.pem"_s}
                                  << u"tlsCert"_s << QVariant(u"/etc/ssl/c.pem"_s);
        QTest::newRow("tls-key") << QStringList{u"--tls-cert"_s, u"/etc/ssl/c.pem"_s, u"--tls-key=/etc/ssl/k.pem"_s}
                                 << u"tlsKey"_s << QVariant(u"/etc/ssl/k.pem"_s);
        QTest::newRow("tls-cert relative") << QStringList{u"--tls-cert"_s, u"c.pem"_s, u"--tls-key"_s, u"k.pem"_s}
                                           << u"tlsCert"_s << QVariant(QDir::current().absoluteFilePath(u"c.pem"_s));
        QTest::newRow("last wins") << QStringList{u"--port"_s, u"1"_s, u"--port"_s, u"2"_s} << u"port"_s << QVariant(2);
    }

    void eachOptionIsParsed()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, field);
        QFETCH(QVariant, expected);

        const DaemonOptionsResult r = parse(args);
        QVERIFY2(r.ok(), qPrintable(r.error));
        const DaemonOptions &o = r.options;
        QStringList routes;
        for (const RouteSpec &route : o.routes)
            routes << route.prefix + u'=' + route.target.toString();
        const QHash<QString, QVariant> actual = {
            {u"addr"_s, o.addr},
            {u"port"_s, int(o.port)},
            {u"upstream"_s, o.upstream.toString()},
            {u"routes"_s, routes.join(u',')},
            {u"allowHosts"_s, o.allowHosts.join(u',')},
            {u"delay"_s, o.delaySeconds},
            {u"rateMode"_s, int(o.rateMode)},
            {u"burst"_s, o.burstFraction},
            {u"cacheTtl"_s, o.cacheTtlSeconds},
            {u"cacheMaxBytes"_s, o.cacheMaxBytes},
            {u"upstreamTimeout"_s, o.upstreamTimeoutSeconds},
            {u"maxClients"_s, o.maxClients},
            {u"threads"_s, o.threads},
            {u"authToken"_s, o.authToken},
            {u"insecure"_s, o.insecure},
            {u"redis"_s, o.redis},
            {u"redisPrefix"_s, o.redisPrefix},
            {u"logRequests"_s, o.logRequests},
            {u"maxQueueWait"_s, o.maxQueueWaitSeconds},
            {u"headerTimeoutMs"_s, o.httpLimits().headerTimeoutMs},
            {u"idleTimeoutMs"_s, o.httpLimits().idleTimeoutMs},
            {u"maxBodyBytes"_s, qint64(o.httpLimits().maxBodyBytes)},
            {u"tlsCert"_s, o.tlsCertificateFile},
            {u"tlsKey"_s, o.tlsKeyFile},
        };
        QVERIFY2(actual.contains(field), qPrintable(field));
        QCOMPARE(actual.value(field), expected);
    }

    void pipelineConfigCarriesTheOptions()
    {
        const DaemonOptionsResult r = parse({u"--rate-mode"_s, u"fixed"_s, u"--delay"_s, u"1"_s,
                                             u"--burst"_s, u"0.3"_s, u"--cache-ttl"_s, u"7"_s,
                                             u"--cache-max-bytes"_s, u"1M"_s,
                                             u"--upstream-timeout"_s, u"9"_s});
        QVERIFY2(r.ok(), qPrintable(r.error));
        const PipelineConfig p = r.options.pipelineConfig();
        QCOMPARE(p.rate.mode, RateMode::Fixed);
        QCOMPARE(p.rate.delaySeconds, 1.0);
        QCOMPARE(p.rate.burstFraction, 0.3);
        QCOMPARE(p.cacheTtlSeconds, 7.0);
        QCOMPARE(p.cacheMaxBytes, 1ll << 20);
        QCOMPARE(p.upstreamTimeoutSeconds, 9.0);
    }

    void badValuesAreRejected_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("expectedInMessage");

        QTest::newRow("unknown option") << QStringList{u"--prot"_s, u"1"_s} << u"prot"_s;
        QTest::newRow("missing value") << QStringList{u"--port"_s} << u"port"_s;
        QTest::newRow("positional") << QStringList{u"stray"_s} << u"stray"_s;
        QTest::newRow("port not a number") << QStringList{u"--port"_s, u"abc"_s} << u"--port"_s;
        QTest::newRow("port too large") << QStringList{u"--port"_s, u"65536"_s} << u"--port"_s;
        QTest::newRow("port negative") << QStringList{u"--port"_s, u"-1"_s} << u"--port"_s;
        QTest::newRow("delay not a number") << QStringList{u"--delay"_s, u"soon"_s} << u"--delay"_s;
        QTest::newRow("delay negative") << QStringList{u"--delay"_s, u"-2"_s} << u"--delay"_s;
        QTest::newRow("delay nan") << QStringList{u"--delay"_s, u"nan"_s} << u"--delay"_s;
        QTest::newRow("rate mode") << QStringList{u"--rate-mode"_s, u"turbo"_s} << u"turbo"_s;
        QTest::newRow("burst > 1") << QStringList{u"--burst"_s, u"1.5"_s} << u"--burst"_s;
        QTest::newRow("cache-ttl negative") << QStringList{u"--cache-ttl"_s, u"-1"_s} << u"--cache-ttl"_s;
        QTest::newRow("cache size suffix") << QStringList{u"--cache-max-bytes"_s, u"12Q"_s} << u"--cache-max-bytes"_s;
        QTest::newRow("cache size negative") << QStringList{u"--cache-max-bytes"_s, u"-5"_s} << u"--cache-max-bytes"_s;
        QTest::newRow("upstream-timeout zero") << QStringList{u"--upstream-timeout"_s, u"0"_s} << u"--upstream-timeout"_s;
        QTest::newRow("max-clients zero") << QStringList{u"--max-clients"_s, u"0"_s} << u"--max-clients"_s;
        QTest::newRow("threads negative") << QStringList{u"--threads"_s, u"-1"_s} << u"--threads"_s;
        QTest::newRow("threads too many") << QStringList{u"--threads"_s, u"257"_s} << u"--threads"_s;
        QTest::newRow("threads not a number") << QStringList{u"--threads"_s, u"all"_s} << u"--threads"_s;
        QTest::newRow("log-requests 3") << QStringList{u"--log-requests"_s, u"3"_s} << u"--log-requests"_s;
        QTest::newRow("max-queue-wait negative") << QStringList{u"--max-queue-wait"_s, u"-1"_s} << u"--max-queue-wait"_s;
        QTest::newRow("upstream not a URL") << QStringList{u"--upstream"_s, u"oauth.reddit.com"_s} << u"--upstream"_s;
        QTest::newRow("upstream ftp") << QStringList{u"--upstream"_s, u"ftp://x"_s} << u"--upstream"_s;
        QTest::newRow("upstream with query") << QStringList{u"--upstream"_s, u"http://x/?a=1"_s} << u"--upstream"_s;
        QTest::newRow("route without =") << QStringList{u"--route"_s, u"/api"_s} << u"PREFIX=URL"_s;
        QTest::newRow("route prefix") << QStringList{u"--route"_s, u"api=http://x"_s} << u"--route"_s;
        QTest::newRow("route bad URL") << QStringList{u"--route"_s, u"/api=nope"_s} << u"--route"_s;
        QTest::newRow("allow-host URL") << QStringList{u"--allow-host"_s, u"https://x.com"_s} << u"--allow-host"_s;
        QTest::newRow("allow-host junk") << QStringList{u"--allow-host"_s, u"a b"_s} << u"--allow-host"_s;
        QTest::newRow("redis scheme") << QStringList{u"--redis"_s, u"http://x"_s} << u"--redis"_s;
        QTest::newRow("redis db") << QStringList{u"--redis"_s, u"redis://x/abc"_s} << u"--redis"_s;
        QTest::newRow("empty token") << QStringList{u"--auth-token"_s, u""_s} << u"--auth-token"_s;
        QTest::newRow("config missing") << QStringList{u"--config"_s, u"/nonexistent/prawmp.ini"_s} << u"/nonexistent/prawmp.ini"_s;
        QTest::newRow("non-loopback") << QStringList{u"--addr"_s, u"0.0.0.0"_s} << u"--auth-token"_s;
        QTest::newRow("tls-cert without key") << QStringList{u"--tls-cert"_s, u"/c.pem"_s} << u"--tls-key"_s;
        QTest::newRow("tls-key without cert") << QStringList{u"--tls-key"_s, u"/k.pem"_s} << u"--tls-cert"_s;
    }

    void badValuesAreRejected()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, expectedInMessage);
        const DaemonOptionsResult r = parse(args);
        QVERIFY(!r.ok());
        QVERIFY2(r.error.contains(expectedInMessage), qPrintable(r.error));
        QVERIFY2(!r.error.contains(u'\n'), qPrintable(r.error));
    }

    void helpAndVersionAreActions()
    {
        QCOMPARE(parse({u"--help"_s}).action, DaemonAction::ShowHelp);
        QCOMPARE(parse({u"-h"_s}).action, DaemonAction::ShowHelp);
        QCOMPARE(parse({u"--version"_s}).action, DaemonAction::ShowVersion);
        DaemonOptionsParser parser;
        QVERIFY(parser.versionText().contains(QStringLiteral(PRAWMP_VERSION)));
    }

    void helpListsEveryContractOption_data()
    {
        QTest::addColumn<QString>("option");
        for (const char *name : {"--addr", "--port", "--upstream", "--route", "--allow-host",
                                 "--delay", "--rate-mode", "--cache-ttl", "--cache-max-bytes",
                                 "--upstream-timeout", "--max-clients", "--auth-token",
                                 "--insecure", "--redis", "--config", "--log-requests",
                                 "--max-queue-wait", "--help", "--version", "--burst"})
            QTest::newRow(name) << QString::fromLatin1(name);
    }

    void helpListsEveryContractOption()
    {
        QFETCH(QString, option);
        DaemonOptionsParser parser;
        const QString help = parser.helpText();
        QVERIFY2(help.contains(option), qPrintable(help));
        QVERIFY(parser.optionNames().contains(option.mid(2)));
    }

    void helpShowsDefaults()
    {
        DaemonOptionsParser parser;
        const QString help = parser.helpText().simplified();
        for (const char *text : {"(default: localhost)", "(default: 10101)", "(default: 2)",
                                 "(default: adaptive)", "(default: 30)", "(default: 256M)",
                                 "(default: 45)", "(default: 4096)", "(default: prawmp:)"})
            QVERIFY2(help.contains(QLatin1String(text)), text);
    }

    void configFileValuesAreRead()
    {
        const QString path = writeIni(u"values.ini"_s,
            "; comment\n"
            "# another comment\n"
            "port=10111\n"
            "rate-mode=fixed\n"
            "delay=0.5\n"
            "cache-ttl=12\n"
            "cache-max-bytes=64M\n"
            "insecure=true\n"
            "addr=0.0.0.0\n"
            "auth-token=file-token\n"
            "max-queue-wait=4\n"
            "log-requests=1\n"
            "route=/api/v1/access_token=http://127.0.0.1:9/, /x=https://example.com\n"
            "allow-host=a.example.com, b.example.com\n");
        const DaemonOptionsResult r = parse({u"--config"_s, path});
        QVERIFY2(r.ok(), qPrintable(r.error));
        const DaemonOptions &o = r.options;
        QCOMPARE(o.port, quint16(10111));
        QCOMPARE(o.rateMode, RateMode::Fixed);
        QCOMPARE(o.delaySeconds, 0.5);
        QCOMPARE(o.cacheTtlSeconds, 12.0);
        QCOMPARE(o.cacheMaxBytes, 64ll << 20);
        QVERIFY(o.insecure);
        QCOMPARE(o.addr, u"0.0.0.0"_s);
        QCOMPARE(o.authToken, u"file-token"_s);
        QCOMPARE(o.maxQueueWaitSeconds, 4.0);
        QCOMPARE(o.logRequests, 1);
        QCOMPARE(o.routes.size(), 2);
        QCOMPARE(o.routes[0].prefix, u"/api/v1/access_token"_s);
        QCOMPARE(o.routes[0].target, QUrl(u"http://127.0.0.1:9/"_s));
        QCOMPARE(o.routes[1].prefix, u"/x"_s);
        QCOMPARE(o.allowHosts, QStringList({u"a.example.com"_s, u"b.example.com"_s}));
        QCOMPARE(o.configFile, path);
    }

    void configFileAcceptsSettingsArrays()
    {
        const QString path = writeIni(u"arrays.ini"_s,
            "[route]\n"
            "size=2\n"
            "1\\prefix=/api/v1/access_token\n"
            "1\\url=http://127.0.0.1:9\n"
            "2\\prefix=/r\n"
            "2\\url=https://example.com\n"
            "[allow-host]\n"
            "size=1\n"
            "1\\host=c.example.com\n");
        const DaemonOptionsResult r = parse({u"--config"_s, path});
        QVERIFY2(r.ok(), qPrintable(r.error));
        QCOMPARE(r.options.routes.size(), 2);
        QCOMPARE(r.options.routes[1].prefix, u"/r"_s);
        QCOMPARE(r.options.routes[1].target, QUrl(u"https://example.com"_s));
        QCOMPARE(r.options.allowHosts, QStringList{u"c.example.com"_s});
    }

    void commandLineOverridesConfigFile()
    {
        const QString path = writeIni(u"override.ini"_s,
            "port=10111\ncache-ttl=12\nroute=/a=http://a.example\nlog-requests=2\n");
        const DaemonOptionsResult r = parse({u"--port"_s, u"10222"_s, u"--config"_s, path,
                                             u"--route"_s, u"/b=http://b.example"_s});
        QVERIFY2(r.ok(), qPrintable(r.error));
        QCOMPARE(r.options.port, quint16(10222));
        QCOMPARE(r.options.cacheTtlSeconds, 12.0);  // from the file
        QCOMPARE(r.options.logRequests, 2);         // from the file
        QCOMPARE(r.options.routes.size(), 1);       // the command line's list replaces the file's
        QCOMPARE(r.options.routes[0].prefix, u"/b"_s);
    }

    void badConfigFilesAreRejected_data()
    {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("expectedInMessage");

        QTest::newRow("unknown key") << QByteArray("port=1\ncolour=blue\n") << u"'colour'"_s;
        QTest::newRow("unknown section") << QByteArray("[server]\nport=1\n") << u"'server/port'"_s;
        QTest::newRow("config in config") << QByteArray("config=/x.ini\n") << u"'config'"_s;
        QTest::newRow("bad value") << QByteArray("port=http\n") << u"port"_s;
        QTest::newRow("bad rate mode") << QByteArray("rate-mode=slow\n") << u"rate-mode"_s;
        QTest::newRow("bad bool") << QByteArray("insecure=maybe\n") << u"insecure"_s;
        QTest::newRow("duplicate key") << QByteArray("route=/a=http://a\nroute=/b=http://b\n") << u"twice"_s;
        QTest::newRow("garbage line") << QByteArray("port 10101\n") << u":1:"_s;
        QTest::newRow("array without url") << QByteArray("[route]\nsize=1\n1\\prefix=/a\n") << u"route/1"_s;
    }

    void badConfigFilesAreRejected()
    {
        QFETCH(QByteArray, content);
        QFETCH(QString, expectedInMessage);
        const QString path = writeIni(u"bad.ini"_s, content);
        const DaemonOptionsResult r = parse({u"--config"_s, path});
        QVERIFY(!r.ok());
        QVERIFY2(r.error.contains(expectedInMessage), qPrintable(r.error));
        QVERIFY2(r.error.contains(path), qPrintable(r.error));
    }

    void unreadableConfigFileIsAnError()
    {
        // A directory cannot be read as a file, even by root.
        const QString path = m_dir.path();
        const DaemonOptionsResult r = parse({u"--config"_s, path});
        QVERIFY(!r.ok());
        QVERIFY2(r.error.contains(u"cannot read config file"_s), qPrintable(r.error));
        QVERIFY2(r.error.contains(path), qPrintable(r.error));
    }

    void reloadPicksUpChangedFileAndKeepsOverrides()
    {
        const QString path = writeIni(u"reload.ini"_s, "cache-ttl=10\nport=10111\n");
        DaemonOptionsParser parser;
        DaemonOptionsResult r = parser.parse({u"praw-multiprocess"_s, u"--config"_s, path,
                                              u"--port"_s, u"10333"_s});
        QVERIFY2(r.ok(), qPrintable(r.error));
        QCOMPARE(r.options.cacheTtlSeconds, 10.0);
        QCOMPARE(r.options.port, quint16(10333));

        writeIni(u"reload.ini"_s, "cache-ttl=99\nport=10112\n");
        r = parser.reload();
        QVERIFY2(r.ok(), qPrintable(r.error));
        QCOMPARE(r.options.cacheTtlSeconds, 99.0);
        QCOMPARE(r.options.port, quint16(10333)); // the command line still wins

        writeIni(u"reload.ini"_s, "cache-ttl=-4\n");
        r = parser.reload();
        QVERIFY(!r.ok());
        QVERIFY2(r.error.contains(u"cache-ttl"_s), qPrintable(r.error));
    }

    void tlsFilesFromTheConfigFile()
    {
        const QString path = writeIni(u"tls.ini"_s, "tls-cert=/etc/prawmp/cert.pem\ntls-key=/etc/prawmp/key.pem\n");
        DaemonOptionsResult r = parse({u"--config"_s, path});
        QVERIFY2(r.ok(), qPrintable(r.error));
        QVERIFY(r.options.usesTls());
        QCOMPARE(r.options.tlsCertificateFile, u"/etc/prawmp/cert.pem"_s);
        QCOMPARE(r.options.tlsKeyFile, u"/etc/prawmp/key.pem"_s);
        QVERIFY(r.options.describe().contains(u"tls-cert = /etc/prawmp/cert.pem"_s));
        // An empty value on the command line turns the file's TLS off (both, or it is an error).
        r = parse({u"--config"_s, path, u"--tls-cert="_s, u"--tls-key="_s});
        QVERIFY2(r.ok(), qPrintable(r.error));
        QVERIFY(!r.options.usesTls());
        r = parse({u"--config"_s, path, u"--tls-key="_s});
        QVERIFY(!r.ok());
        // Switching between plain HTTP and TLS needs a restart; new files under
        // other names are taken on SIGHUP.
        DaemonOptions plain;
        DaemonOptions tls = plain;
        tls.tlsCertificateFile = u"/c.pem"_s;
        tls.tlsKeyFile = u"/k.pem"_s;
        QCOMPARE(DaemonOptions::restartRequiredChanges(plain, tls), QStringList{u"tls-cert"_s});
        DaemonOptions renamed = tls;
        renamed.tlsCertificateFile = u"/c2.pem"_s;
        QVERIFY(DaemonOptions::restartRequiredChanges(tls, renamed).isEmpty());
    }

    void restartRequiredChangesAreNamed()
    {
        DaemonOptions a;
        DaemonOptions b;
        b.port = 1;
        b.cacheTtlSeconds = 5;
        QCOMPARE(DaemonOptions::restartRequiredChanges(a, b), QStringList{u"port"_s});
        QVERIFY(DaemonOptions::restartRequiredChanges(a, a).isEmpty());
        b.threads = a.threads + 1; // the serving threads are started once
        QCOMPARE(DaemonOptions::restartRequiredChanges(a, b), (QStringList{u"port"_s, u"threads"_s}));
    }

    void loopbackAddresses_data()
    {
        QTest::addColumn<QString>("addr");
        QTest::addColumn<bool>("loopback");
        QTest::newRow("localhost") << u"localhost"_s << true;
        QTest::newRow("LOCALHOST.") << u"LOCALHOST."_s << true;
        QTest::newRow("127.0.0.1") << u"127.0.0.1"_s << true;
        QTest::newRow("127.1.2.3") << u"127.1.2.3"_s << true;
        QTest::newRow("::1") << u"::1"_s << true;
        QTest::newRow("[::1]") << u"[::1]"_s << true;
        QTest::newRow("ip6-localhost") << u"ip6-localhost"_s << true;
        QTest::newRow("0.0.0.0") << u"0.0.0.0"_s << false;
        QTest::newRow("::") << u"::"_s << false;
        QTest::newRow("192.168.1.5") << u"192.168.1.5"_s << false;
        QTest::newRow("example.com") << u"example.com"_s << false;
        QTest::newRow("localhost.example.com") << u"localhost.example.com"_s << false;
    }

    void loopbackAddresses()
    {
        QFETCH(QString, addr);
        QFETCH(bool, loopback);
        QCOMPARE(DaemonOptions::isLoopbackAddress(addr), loopback);
    }

    void nonLoopbackNeedsTokenOrInsecure_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<bool>("accepted");
        QTest::newRow("0.0.0.0 alone") << QStringList{u"--addr"_s, u"0.0.0.0"_s} << false;
        QTest::newRow(":: alone") << QStringList{u"--addr"_s, u"::"_s} << false;
        QTest::newRow("host name alone") << QStringList{u"--addr"_s, u"myhost.lan"_s} << false;
        QTest::newRow("0.0.0.0 + token") << QStringList{u"--addr"_s, u"0.0.0.0"_s, u"--auth-token"_s, u"t0k"_s} << true;
        QTest::newRow("0.0.0.0 + insecure") << QStringList{u"--addr"_s, u"0.0.0.0"_s, u"--insecure"_s} << true;
        QTest::newRow("127.0.0.1") << QStringList{u"--addr"_s, u"127.0.0.1"_s} << true;
        // TLS hides the token on the wire; it does not replace it.
        QTest::newRow("0.0.0.0 + TLS alone") << QStringList{u"--addr"_s, u"0.0.0.0"_s, u"--tls-cert"_s, u"/c.pem"_s,
                                                            u"--tls-key"_s, u"/k.pem"_s} << false;
        QTest::newRow("0.0.0.0 + TLS + token") << QStringList{u"--addr"_s, u"0.0.0.0"_s, u"--tls-cert"_s, u"/c.pem"_s,
                                                              u"--tls-key"_s, u"/k.pem"_s, u"--auth-token"_s, u"t0k"_s} << true;
        QTest::newRow("::1") << QStringList{u"--addr"_s, u"::1"_s} << true;
    }

    void nonLoopbackNeedsTokenOrInsecure()
    {
        QFETCH(QStringList, args);
        QFETCH(bool, accepted);
        const DaemonOptionsResult r = parse(args);
        QCOMPARE(r.ok(), accepted);
        if (!accepted) {
            QVERIFY2(r.error.contains(u"--auth-token"_s), qPrintable(r.error));
            QVERIFY2(r.error.contains(u"--insecure"_s), qPrintable(r.error));
        }
    }

    void secretsAreRedacted()
    {
        const QString token = u"Sup3rS3cretT0ken"_s;
        const DaemonOptionsResult r = parse({u"--addr"_s, u"0.0.0.0"_s, u"--auth-token"_s, token,
                                             u"--redis"_s, u"redis://:hunter2pw@10.0.0.5:6379/1"_s});
        QVERIFY2(r.ok(), qPrintable(r.error));
        QCOMPARE(r.options.authToken, token);
        const QString text = r.options.describe();
        QVERIFY2(!text.contains(token), qPrintable(text));
        QVERIFY2(!text.contains(u"hunter2pw"_s), qPrintable(text));
        QVERIFY2(text.contains(u"<redacted>"_s), qPrintable(text));
        QVERIFY2(text.contains(u"10.0.0.5:6379/1"_s), qPrintable(text));
        QCOMPARE(r.options.redactedRedis(), u"redis://:<redacted>@10.0.0.5:6379/1"_s);

        // Errors never echo the token or the Redis password either.
        for (const QStringList &args : {
                 QStringList{u"--auth-token"_s, token, u"stray"_s},
                 QStringList{u"--auth-token="_s + token, u"--bogus"_s},
                 QStringList{u"--auth-token"_s, token, u"--port"_s, u"x"_s},
                 // --delay takes "--auth-token" as its value, the token is a stray argument.
                 QStringList{u"--delay"_s, u"--auth-token"_s, token},
                 QStringList{u"--redis"_s, u"redis://:hunter2pw@host/notadb"_s}}) {
            const DaemonOptionsResult bad = parse(args);
            QVERIFY(!bad.ok());
            QVERIFY2(!bad.error.contains(token), qPrintable(bad.error));
            QVERIFY2(!bad.error.contains(u"hunter2pw"_s), qPrintable(bad.error));
        }
    }

    void sighupEmitsReloadRequested()
    {
        UnixSignals signals_;
        QVERIFY2(signals_.isValid(), qPrintable(signals_.errorString()));
        QSignalSpy reload(&signals_, &UnixSignals::reloadRequested);
        QSignalSpy terminate(&signals_, &UnixSignals::terminateRequested);
        ::raise(SIGHUP);
        QTRY_COMPARE(reload.size(), 1);
        QCOMPARE(terminate.size(), 0);
        ::raise(SIGHUP);
        QTRY_COMPARE(reload.size(), 2);
    }

    void sigtermEmitsTerminateRequested()
    {
        UnixSignals signals_;
        QVERIFY(signals_.isValid());
        QSignalSpy terminate(&signals_, &UnixSignals::terminateRequested);
        ::raise(SIGTERM);
        QTRY_COMPARE(terminate.size(), 1);
        QCOMPARE(terminate.at(0).at(0).toInt(), int(SIGTERM));
        ::raise(SIGINT);
        QTRY_COMPARE(terminate.size(), 2);
        QCOMPARE(terminate.at(1).at(0).toInt(), int(SIGINT));
    }
};

QTEST_GUILESS_MAIN(TestDaemonOptions)
#include "tst_daemonoptions.moc"
