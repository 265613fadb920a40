// needs: prawmp_gui
// The dashboard's models and value types, without a daemon: the clients
// table updated in place, the bounded request log and its filter, server
// addresses and the recent-server list, the theme.
#include "ClientsModel.h"
#include "RequestLogModel.h"
#include "ServerAddress.h"
#include "Theme.h"

#include <QAbstractItemModelTester>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace prawmp;
using namespace prawmp::gui;

namespace {

ClientStats client(const QString &ua, quint64 requests, quint64 hits = 0)
{
    ClientStats c;
    c.peer = QStringLiteral("127.0.0.1");
    c.userAgent = ua;
    c.id = c.peer + QLatin1Char(' ') + ua;
    c.requests = requests;
    c.hits = hits;
    c.connectedSinceMs = 1'700'000'000'000;
    return c;
}

RequestRecord record(const QString &url, CacheStatus cache, int status = 200, qint64 at = 1'700'000'000'000)
{
    RequestRecord r;
    r.finishedAtMs = at;
    r.clientId = QStringLiteral("127.0.0.1 bot/1.0");
    r.method = "GET";
    r.url = url;
    r.status = status;
    r.cacheStatus = cache;
    r.waitMs = 3;
    r.totalMs = 5;
    return r;
}

} // namespace

class tst_GuiModels : public QObject
{
    Q_OBJECT

private slots:
    void clientsUpdatedInPlace();
    void clientsGoneAreRemoved();
    void clientsSortRoleIsNumeric();
    void logNewestFirstAndBounded();
    void logBatchLargerThanCapacityKeepsNewest();
    void logRedactsCredentials_data();
    void logRedactsCredentials();
    void logFilterNeedsEveryWord();
    void parseServerAddress_data();
    void parseServerAddress();
    void loopbackServers_data();
    void loopbackServers();
    void recentServersMostRecentFirst();
    void themeTellsDarkFromLight();
};

void tst_GuiModels::clientsUpdatedInPlace()
{
    ClientsModel model;
    QAbstractItemModelTester tester(&model);
    model.setClients({client(QStringLiteral("a"), 1), client(QStringLiteral("b"), 2)});
    QCOMPARE(model.rowCount(), 2);
    QPersistentModelIndex b(model.index(1, ClientsModel::Requests));
    QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);

    model.setClients({client(QStringLiteral("b"), 7), client(QStringLiteral("a"), 3), client(QStringLiteral("c"), 1)});
    QCOMPARE(resets.size(), 0);
    QCOMPARE(removed.size(), 0);
    QCOMPARE(inserted.size(), 1);
    QCOMPARE(model.rowCount(), 3);
    QVERIFY(b.isValid());
    QCOMPARE(b.row(), 1);
    QCOMPARE(b.data(ClientsModel::SortRole).toULongLong(), 7ull);
    QCOMPARE(model.index(2, ClientsModel::UserAgent).data().toString(), QStringLiteral("c"));
}

void tst_GuiModels::clientsGoneAreRemoved()
{
    ClientsModel model;
    QAbstractItemModelTester tester(&model);
    model.setClients({client(QStringLiteral("a"), 1), client(QStringLiteral("b"), 2), client(QStringLiteral("c"), 3)});
    QPersistentModelIndex c(model.index(2, 0));
    model.setClients({client(QStringLiteral("c"), 4)});
    QCOMPARE(model.rowCount(), 1);
    QVERIFY(c.isValid());
    QCOMPARE(c.row(), 0);
    model.setClients({});
    QCOMPARE(model.rowCount(), 0);
}

void tst_GuiModels::clientsSortRoleIsNumeric()
{
    ClientsModel model;
    model.setClients({client(QStringLiteral("a"), 9), client(QStringLiteral("b"), 10, 5)});
    // Display text is localised ("10"), the sort value a number: 9 < 10.
    QVERIFY(model.index(0, ClientsModel::Requests).data(ClientsModel::SortRole).toULongLong()
            < model.index(1, ClientsModel::Requests).data(ClientsModel::SortRole).toULongLong());
    QCOMPARE(model.index(1, ClientsModel::Hits).data(ClientsModel::RatioRole).toDouble(), 0.5);
    QVERIFY(!model.index(0, ClientsModel::Hits).data(ClientsModel::RatioRole).isValid() ||
            model.index(0, ClientsModel::Hits).data(ClientsModel::RatioRole).toDouble() == 0.0);
    QCOMPARE(model.index(1, ClientsModel::Hits).data().toString(), QStringLiteral("5 · 50%"));
    QCOMPARE(ClientsModel::formatDuration(59'000), QStringLiteral("59s"));
    QCOMPARE(ClientsModel::formatDuration(3'723'000), QStringLiteral("1h 02m"));
}

void tst_GuiModels::logNewestFirstAndBounded()
{
    RequestLogModel model;
    QAbstractItemModelTester tester(&model);
    model.setCapacity(5);
    QList<RequestRecord> batch;
    for (int i = 0; i < 4; ++i)
        batch << record(QStringLiteral("https://oauth.reddit.com/r/a/%1").arg(i), CacheStatus::Miss, 200, 1000 + i);
    model.addRecords(batch);
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(model.record(0).finishedAtMs, 1003); // newest first
    model.addRecords({record(QStringLiteral("https://oauth.reddit.com/r/b"), CacheStatus::Hit, 200, 2000),
                      record(QStringLiteral("https://oauth.reddit.com/r/c"), CacheStatus::Hit, 200, 2001)});
    QCOMPARE(model.rowCount(), 5);
    QCOMPARE(model.record(0).finishedAtMs, 2001);
    QCOMPARE(model.record(4).finishedAtMs, 1001); // the oldest one dropped out
    QCOMPARE(model.totalAdded(), 6ull);
    QCOMPARE(model.index(0, RequestLogModel::Cache).data().toString(), QStringLiteral("HIT"));
    QVERIFY(model.index(0, RequestLogModel::Cache).data(Qt::ForegroundRole).isValid());
}

void tst_GuiModels::logBatchLargerThanCapacityKeepsNewest()
{
    RequestLogModel model;
    QAbstractItemModelTester tester(&model);
    model.setCapacity(3);
    QList<RequestRecord> batch;
    for (int i = 0; i < 10; ++i)
        batch << record(QStringLiteral("https://x/%1").arg(i), CacheStatus::Hit, 200, i);
    model.addRecords(batch);
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.record(0).finishedAtMs, 9);
    QCOMPARE(model.record(2).finishedAtMs, 7);
}

void tst_GuiModels::logRedactsCredentials_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("secret");
    QTest::newRow("access_token") << "https://oauth.reddit.com/api/v1/me?access_token=abc123" << "abc123";
    QTest::newRow("password") << "https://www.reddit.com/api/login?user=u&passwd=hunter2" << "hunter2";
    QTest::newRow("user info") << "https://bob:pa55@oauth.reddit.com/r/x" << "pa55";
    QTest::newRow("code") << "https://www.reddit.com/cb?state=s&code=zz-code-zz" << "zz-code-zz";
}

void tst_GuiModels::logRedactsCredentials()
{
    QFETCH(QString, url);
    QFETCH(QString, secret);
    RequestLogModel model;
    model.addRecords({record(url, CacheStatus::Bypass)});
    for (int column = 0; column < RequestLogModel::ColumnCount; ++column) {
        for (int role : {int(Qt::DisplayRole), int(Qt::ToolTipRole), RequestLogModel::FilterRole})
            QVERIFY2(!model.index(0, column).data(role).toString().contains(secret),
                     qPrintable(model.index(0, column).data(role).toString()));
    }
    QVERIFY(!model.record(0).url.contains(secret));
}

void tst_GuiModels::logFilterNeedsEveryWord()
{
    RequestLogModel model;
    RequestLogFilter filter;
    filter.setSourceModel(&model);
    QAbstractItemModelTester tester(&filter);
    model.addRecords({record(QStringLiteral("https://oauth.reddit.com/r/python/hot"), CacheStatus::Hit),
                      record(QStringLiteral("https://oauth.reddit.com/r/python/new"), CacheStatus::Miss),
                      record(QStringLiteral("https://oauth.reddit.com/r/cpp/hot"), CacheStatus::Hit),
                      record(QStringLiteral("https://oauth.reddit.com/r/cpp/hot"), CacheStatus::Miss, 429)});
    filter.setFilterText(QStringLiteral("HIT python"));
    QCOMPARE(filter.rowCount(), 1);
    filter.setFilterText(QStringLiteral("hit"));
    QCOMPARE(filter.rowCount(), 2);
    filter.setFilterText(QStringLiteral("429"));
    QCOMPARE(filter.rowCount(), 1);
    // New rows are filtered as they arrive.
    model.addRecords({record(QStringLiteral("https://oauth.reddit.com/r/x"), CacheStatus::Miss, 429)});
    QCOMPARE(filter.rowCount(), 2);
    filter.setFilterText(QString());
    QCOMPARE(filter.rowCount(), 5);
}

void tst_GuiModels::parseServerAddress_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::newRow("host:port") << "localhost:10101" << "localhost" << 10101;
    QTest::newRow("host only") << "example.org" << "example.org" << 10101;
    QTest::newRow("ipv4") << "192.168.1.5:8080" << "192.168.1.5" << 8080;
    QTest::newRow("ipv6") << "[::1]:9000" << "::1" << 9000;
    QTest::newRow("bare ipv6") << "::1" << "::1" << 10101;
    QTest::newRow("url") << "http://127.0.0.1:4242/" << "127.0.0.1" << 4242;
    QTest::newRow("spaces") << "  box:1  " << "box" << 1;
    QTest::newRow("bad port") << "box:99999" << "box" << 0;
}

void tst_GuiModels::parseServerAddress()
{
    QFETCH(QString, text);
    QFETCH(QString, host);
    QFETCH(int, port);
    const ServerAddress s = ServerAddress::parse(text);
    QCOMPARE(s.host, host);
    QCOMPARE(int(s.port), port);
    QVERIFY(s.token.isEmpty());
    if (port)
        QCOMPARE(ServerAddress::parse(s.displayName()).host, host);
}

void tst_GuiModels::loopbackServers_data()
{
    QTest::addColumn<QString>("host");
    QTest::addColumn<bool>("loopback");
    QTest::newRow("localhost") << "localhost" << true;
    QTest::newRow("LocalHost") << "LocalHost" << true;
    QTest::newRow("127.0.0.1") << "127.0.0.1" << true;
    QTest::newRow("127.1.2.3") << "127.1.2.3" << true;
    QTest::newRow("::1") << "::1" << true;
    QTest::newRow("10.0.0.1") << "10.0.0.1" << false;
    QTest::newRow("name") << "reddit-proxy.lan" << false;
}

void tst_GuiModels::loopbackServers()
{
    QFETCH(QString, host);
    QFETCH(bool, loopback);
    QCOMPARE((ServerAddress{host, 1, {}}.isLoopback()), loopback);
}

void tst_GuiModels::recentServersMostRecentFirst()
{
    QTemporaryDir dir;
    QSettings settings(dir.filePath(QStringLiteral("gui.ini")), QSettings::IniFormat);
    ServerHistory history(settings);
    QCOMPARE(history.last().displayName(), QStringLiteral("localhost:10101"));
    history.remember({QStringLiteral("a"), 1, QStringLiteral("tok-a")}, true);
    history.remember({QStringLiteral("b"), 2, QStringLiteral("tok-b")}, false);
    history.remember({QStringLiteral("::1"), 3, {}}, false);
    history.remember({QStringLiteral("a"), 1, QStringLiteral("tok-a")}, true);
    const QList<ServerAddress> recent = history.recent();
    QCOMPARE(recent.size(), 3);
    QCOMPARE(recent[0].displayName(), QStringLiteral("a:1"));
    QCOMPARE(recent[0].token, QStringLiteral("tok-a"));
    QCOMPARE(recent[1].displayName(), QStringLiteral("[::1]:3"));
    QCOMPARE(recent[2].token, QString()); // not asked to remember
    QVERIFY(QFile::permissions(settings.fileName()) & QFile::ReadOwner);
    QVERIFY(!(QFile::permissions(settings.fileName()) & QFile::ReadOther));
    for (int i = 0; i < 20; ++i)
        history.remember({QStringLiteral("h%1").arg(i), 1, {}}, false);
    QCOMPARE(history.recent().size(), ServerHistory::kMaxRecent);
    history.forget(history.last());
    QCOMPARE(history.recent().size(), ServerHistory::kMaxRecent - 1);
}

void tst_GuiModels::themeTellsDarkFromLight()
{
    QVERIFY(theme::isDark(theme::darkPalette()));
    QVERIFY(!theme::isDark(theme::lightPalette()));
    // Series colours differ between the two and stand out from the background.
    for (auto kind : {theme::Series::Hits, theme::Series::Upstream, theme::Series::Coalesced}) {
        const QColor onDark = theme::color(kind, theme::darkPalette());
        const QColor onLight = theme::color(kind, theme::lightPalette());
        QVERIFY(onDark != onLight);
        QVERIFY(onDark.lightness() > theme::darkPalette().color(QPalette::Base).lightness() + 60);
        QVERIFY(onLight.lightness() < theme::lightPalette().color(QPalette::Base).lightness() - 60);
    }
    QCOMPARE(theme::budgetColor(0.95, theme::darkPalette()), theme::color(theme::Series::Error, theme::darkPalette()));
}

QTEST_MAIN(tst_GuiModels)
#include "tst_gui_models.moc"
