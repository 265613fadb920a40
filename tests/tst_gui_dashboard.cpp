// needs: prawmp_gui
// The dashboard against a real daemon (a process), the in-process fake
// upstream and a scripted client load: charts, clients, log, actions,
// reconnection, the local-daemon offer, tokens. Runs offscreen.
#include "BudgetChart.h"
#include "BudgetGauges.h"
#include "ClientsTable.h"
#include "ConnectionIndicator.h"
#include "DaemonConnection.h"
#include "FakeReddit.h"
#include "HitRatioChart.h"
#include "LocalDaemon.h"
#include "MainWindow.h"
#include "ProcessFixture.h"
#include "QueueChart.h"
#include "RequestLogView.h"
#include "RequestsChart.h"
#include "StatusBanner.h"
#include "SummaryTiles.h"
#include "TestPorts.h"
#include "TestPrograms.h"
#include "Theme.h"

#include <QAbstractButton>
#include <QAction>
#include <QApplication>
#include <QChart>
#include <QClipboard>
#include <QInputDialog>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLineSeries>
#include <QMessageBox>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QSettings>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QToolButton>

#include <memory>

using namespace prawmp;
using namespace prawmp::gui;
using prawmp::test::FakeReddit;
using prawmp::test::FakeRedditOptions;
using prawmp::test::ProcessFixture;

namespace {

constexpr int kTimeoutMs = 10'000;

// A few programs using the daemon: each sends its requests with its own
// User-Agent every tick, over keep-alive connections, until stopped.
class ScriptedLoad : public QObject
{
public:
    ScriptedLoad(QUrl base, int clients, QObject *parent = nullptr)
        : QObject(parent), m_base(std::move(base)), m_clients(clients)
    {
        m_network.setProxy(QNetworkProxy::NoProxy);
        m_timer.setInterval(100);
        connect(&m_timer, &QTimer::timeout, this, [this] { tick(); });
    }
    void start() { m_timer.start(); }
    void stop() { m_timer.stop(); }
    int finished() const { return m_finished; }
    static QByteArray userAgent(int i) { return "tst-bot-" + QByteArray::number(i) + "/1.0"; }

    // One request now; the reply's X-Cache is handed to `done`.
    void get(const QString &path, const QByteArray &ua, std::function<void(QByteArray)> done = {})
    {
        QUrl url = m_base;
        const qsizetype q = path.indexOf(QLatin1Char('?'));
        url.setPath(q < 0 ? path : path.left(q));
        if (q >= 0)
            url.setQuery(path.mid(q + 1));
        QNetworkRequest request(url);
        request.setHeader(QNetworkRequest::UserAgentHeader, ua);
        request.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
        QNetworkReply *reply = m_network.get(request);
        connect(reply, &QNetworkReply::finished, this, [this, reply, done] {
            reply->deleteLater();
            ++m_finished;
            if (done)
                done(reply->rawHeader("X-Cache"));
        });
    }

private:
    void tick()
    {
        static const QStringList paths = {QStringLiteral("/r/python/hot.json"), QStringLiteral("/r/cpp/hot.json"),
                                          QStringLiteral("/r/qt/about.json")};
        for (int i = 1; i <= m_clients; ++i)
            get(paths[(m_tick + i) % paths.size()], userAgent(i));
        // One program that puts a credential in its query: it must never show.
        if (m_tick % 5 == 0)
            get(QStringLiteral("/r/python/new.json?access_token=SECRET-QUERY-TOKEN"), "tst-leaky/1.0");
        ++m_tick;
    }

    QNetworkAccessManager m_network;
    QTimer m_timer;
    QUrl m_base;
    int m_clients;
    int m_tick = 0;
    int m_finished = 0;
};

bool hasCacheRow(const RequestLogModel *model, const QString &status)
{
    for (int row = 0; row < model->rowCount(); ++row) {
        if (model->cacheText(row) == status)
            return true;
    }
    return false;
}

double seriesMax(const QXYSeries *series)
{
    double max = 0;
    for (const QPointF &p : series->points())
        max = std::max(max, p.y());
    return max;
}

QStringList userAgents(const ClientsModel *model)
{
    QStringList list;
    for (int row = 0; row < model->rowCount(); ++row)
        list << model->client(row).userAgent;
    return list;
}

} // namespace

class tst_GuiDashboard : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();

    void connectsAndShowsState();
    void chartsReceivePoints();
    void clientsTableListsConnectedClients();
    void clientsTableSortsByAnyColumn();
    void logShowsHitAndMissRows();
    void logFilterKeepsMatchingRows();
    void credentialsNeverShown();
    void evictFromDialogReachesDaemon();
    void clearAfterConfirmationReachesDaemon();
    void clearCancelledSendsNothing();
    void copiesStatsSnapshot();
    void survivesDaemonRestart();
    void aboutBoxShowsVersion();
    void aboutBoxShowsLicenceAndOffersAboutQt();
    void followsPalette();
    void offersLocalDaemonWhenNoneAnswers();
    void tokenIsSentAndNeverShown();
    void silentDaemonControlRequestFailsInTime();

private:
    bool startDaemon(ProcessFixture &daemon, quint16 port, const QStringList &extra = {});

    QTemporaryDir m_configDir;
    FakeReddit *m_reddit = nullptr;
    std::unique_ptr<ProcessFixture> m_daemon;
    quint16 m_port = 0;
    std::unique_ptr<MainWindow> m_window;
    ScriptedLoad *m_load = nullptr;
};

bool tst_GuiDashboard::startDaemon(ProcessFixture &daemon, quint16 port, const QStringList &extra)
{
    QStringList args{QStringLiteral("--port"), QString::number(port), QStringLiteral("--upstream"),
                     m_reddit->baseUrl().toString(), QStringLiteral("--cache-ttl"), QStringLiteral("120")};
    args += extra;
    return daemon.start(test::daemonProgram(), args);
}

void tst_GuiDashboard::initTestCase()
{
    if (test::daemonProgram().isEmpty())
        QSKIP("praw-multiprocess is not built");
    // Settings (recent servers, tokens) in a directory of this run only.
    QVERIFY(m_configDir.isValid());
    qputenv("XDG_CONFIG_HOME", QFile::encodeName(m_configDir.path()));
    QCoreApplication::setOrganizationName(QStringLiteral("praw-multiprocess-tests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_gui_dashboard"));
    QVERIFY(QSettings().fileName().startsWith(m_configDir.path()));

    FakeRedditOptions options;
    options.budget = 1000;
    options.windowSeconds = 60;
    m_reddit = new FakeReddit(options, this);
    QVERIFY2(m_reddit->listen(), qPrintable(m_reddit->errorString()));

    // A fixed port, so the daemon can come back on it in survivesDaemonRestart.
    m_port = test::freeLoopbackPort();
    m_daemon = std::make_unique<ProcessFixture>();
    QVERIFY2(startDaemon(*m_daemon, m_port), qPrintable(m_daemon->describe()));

    m_window = std::make_unique<MainWindow>();
    m_window->connection()->setRetryDelays(100, 500);
    m_window->show();
    m_window->connectTo({QStringLiteral("127.0.0.1"), m_port, {}});

    m_load = new ScriptedLoad(m_daemon->baseUrl(), 3, this);
    m_load->start();
}

void tst_GuiDashboard::cleanupTestCase()
{
    if (m_load)
        m_load->stop();
    m_window.reset();
    m_daemon.reset();
}

void tst_GuiDashboard::connectsAndShowsState()
{
    QTRY_COMPARE_WITH_TIMEOUT(m_window->connection()->state(), DaemonConnection::State::Connected, kTimeoutMs);
    QTRY_VERIFY_WITH_TIMEOUT(m_window->connection()->statsFrames() >= 1, kTimeoutMs);
    QVERIFY2(m_window->indicator()->text().startsWith(QStringLiteral("Connected to 127.0.0.1:")),
             qPrintable(m_window->indicator()->text()));
    QVERIFY(m_window->windowTitle().contains(QString::number(m_port)));
    QVERIFY(m_window->evictAction()->isEnabled());
    QVERIFY(!m_window->banner()->isVisible());
}

void tst_GuiDashboard::chartsReceivePoints()
{
    RequestsChart *requests = m_window->requestsChart();
    QTRY_VERIFY_WITH_TIMEOUT(requests->hitsSeries()->count() >= 4, kTimeoutMs);
    QVERIFY(requests->coalescedSeries()->count() >= 4);
    QVERIFY(requests->upstreamSeries()->count() >= 4);
    // Under load, some point shows hits.
    QTRY_VERIFY_WITH_TIMEOUT(seriesMax(requests->hitsSeries()) > 0, kTimeoutMs);

    QTRY_VERIFY_WITH_TIMEOUT(m_window->hitRatioChart()->recentSeries()->count() >= 2, kTimeoutMs);
    QVERIFY(m_window->hitRatioChart()->overallSeries()->count() >= 2);

    const QString domain = QStringLiteral("127.0.0.1");
    QTRY_VERIFY_WITH_TIMEOUT(m_window->budgetChart()->remainingSeries(domain)
                                 && m_window->budgetChart()->remainingSeries(domain)->count() >= 2,
                             kTimeoutMs);
    QTRY_VERIFY_WITH_TIMEOUT(m_window->queueChart()->queuedSeries(domain)
                                 && m_window->queueChart()->queuedSeries(domain)->count() >= 2,
                             kTimeoutMs);
    QVERIFY(m_window->queueChart()->waitSeries()->count() >= 2);

    // The pictures next to the charts follow too.
    QCOMPARE(m_window->budgetGauges()->domains().size(), 1);
    QVERIFY(m_window->budgetGauges()->domains().first().budgetKnown);
    QVERIFY(BudgetGauges::describe(m_window->budgetGauges()->domains().first()).contains(QStringLiteral("/ 1000 used")));
    QVERIFY(m_window->summaryTiles()->value(SummaryTiles::Budget).endsWith(QStringLiteral("/ 1000")));
    QTRY_VERIFY_WITH_TIMEOUT(m_window->summaryTiles()->value(SummaryTiles::Clients).toInt() >= 3, kTimeoutMs);
}

void tst_GuiDashboard::clientsTableListsConnectedClients()
{
    const ClientsModel *model = m_window->clientsTable()->model();
    QTRY_VERIFY_WITH_TIMEOUT(userAgents(model).contains(QString::fromLatin1(ScriptedLoad::userAgent(1)))
                                 && userAgents(model).contains(QString::fromLatin1(ScriptedLoad::userAgent(2)))
                                 && userAgents(model).contains(QString::fromLatin1(ScriptedLoad::userAgent(3))),
                             kTimeoutMs);
    for (int row = 0; row < model->rowCount(); ++row) {
        const ClientStats &c = model->client(row);
        QCOMPARE(c.peer, QStringLiteral("127.0.0.1"));
        QVERIFY(c.connectedSinceMs > 0);
    }
    // Rows are updated in place: a selected client stays selected across frames.
    const quint64 frames = m_window->connection()->statsFrames();
    QPersistentModelIndex first(model->index(0, ClientsModel::UserAgent));
    const QString ua = first.data().toString();
    QTRY_VERIFY_WITH_TIMEOUT(m_window->connection()->statsFrames() >= frames + 2, kTimeoutMs);
    QVERIFY(first.isValid());
    QCOMPARE(first.data().toString(), ua);
}

void tst_GuiDashboard::clientsTableSortsByAnyColumn()
{
    QSortFilterProxyModel *proxy = m_window->clientsTable()->proxy();
    QTRY_VERIFY_WITH_TIMEOUT(proxy->rowCount() >= 3, kTimeoutMs);
    for (int column : {int(ClientsModel::UserAgent), int(ClientsModel::Requests), int(ClientsModel::Bytes)}) {
        proxy->sort(column, Qt::AscendingOrder);
        for (int row = 1; row < proxy->rowCount(); ++row) {
            const QVariant a = proxy->index(row - 1, column).data(ClientsModel::SortRole);
            const QVariant b = proxy->index(row, column).data(ClientsModel::SortRole);
            QVERIFY2(QVariant::compare(a, b) != QPartialOrdering::Greater,
                     qPrintable(QStringLiteral("column %1 row %2").arg(column).arg(row)));
        }
    }
    proxy->sort(ClientsModel::Requests, Qt::DescendingOrder);
}

void tst_GuiDashboard::logShowsHitAndMissRows()
{
    const RequestLogModel *model = m_window->requestLog()->model();
    QTRY_VERIFY_WITH_TIMEOUT(hasCacheRow(model, QStringLiteral("MISS")), kTimeoutMs);
    QTRY_VERIFY_WITH_TIMEOUT(hasCacheRow(model, QStringLiteral("HIT")), kTimeoutMs);
    // Newest first, every column filled.
    QVERIFY(model->record(0).finishedAtMs >= model->record(model->rowCount() - 1).finishedAtMs);
    const QModelIndex row0 = model->index(0, 0);
    for (int column = 0; column < RequestLogModel::ColumnCount; ++column)
        QVERIFY2(!model->index(0, column).data().toString().isEmpty(), qPrintable(QString::number(column)));
    QCOMPARE(model->index(0, RequestLogModel::Method).data().toString(), QStringLiteral("GET"));
    QVERIFY(model->index(0, RequestLogModel::Client).data().toString().contains(QStringLiteral("127.0.0.1")));
    QVERIFY(row0.isValid());
}

void tst_GuiDashboard::logFilterKeepsMatchingRows()
{
    RequestLogView *log = m_window->requestLog();
    QTRY_VERIFY_WITH_TIMEOUT(hasCacheRow(log->model(), QStringLiteral("HIT")), kTimeoutMs);
    log->setFilterText(QStringLiteral("hit cpp"));
    // Under load the first /r/cpp/ hit may come a few frames after the
    // first hit of another path: the filter keeps matching rows as they arrive.
    QTRY_VERIFY_WITH_TIMEOUT(log->filter()->rowCount() > 0, kTimeoutMs);
    QVERIFY(log->filter()->rowCount() < log->model()->rowCount());
    for (int row = 0; row < log->filter()->rowCount(); ++row) {
        QCOMPARE(log->filter()->index(row, RequestLogModel::Cache).data().toString(), QStringLiteral("HIT"));
        QVERIFY(log->filter()->index(row, RequestLogModel::Url).data().toString().contains(QStringLiteral("/r/cpp/")));
    }
    log->setFilterText(QString());
    QCOMPARE(log->filter()->rowCount(), log->model()->rowCount());
}

void tst_GuiDashboard::credentialsNeverShown()
{
    const RequestLogModel *model = m_window->requestLog()->model();
    const auto leakyRow = [model] {
        for (int row = 0; row < model->rowCount(); ++row) {
            if (model->record(row).url.contains(QStringLiteral("/r/python/new.json")))
                return row;
        }
        return -1;
    };
    QTRY_VERIFY_WITH_TIMEOUT(leakyRow() >= 0, kTimeoutMs);
    for (int row = 0; row < model->rowCount(); ++row) {
        for (int column = 0; column < RequestLogModel::ColumnCount; ++column)
            QVERIFY(!model->index(row, column).data().toString().contains(QStringLiteral("SECRET-QUERY-TOKEN")));
    }
    QVERIFY(model->index(leakyRow(), RequestLogModel::Url).data().toString().contains(QStringLiteral("REDACTED")));
}

void tst_GuiDashboard::evictFromDialogReachesDaemon()
{
    m_load->stop();
    // Make sure the entry is cached now.
    QByteArray cache;
    m_load->get(QStringLiteral("/r/python/hot.json"), "tst-evict/1.0", [&](QByteArray c) { cache = c; });
    QTRY_VERIFY_WITH_TIMEOUT(!cache.isEmpty(), kTimeoutMs);
    cache.clear();
    m_load->get(QStringLiteral("/r/python/hot.json"), "tst-evict/1.0", [&](QByteArray c) { cache = c; });
    QTRY_COMPARE_WITH_TIMEOUT(cache, QByteArray("HIT"), kTimeoutMs);

    QSignalSpy answers(m_window->connection(), &DaemonConnection::controlFinished);
    m_window->evictAction()->trigger();
    QInputDialog *dialog = m_window->evictDialog();
    QVERIFY(dialog);
    QVERIFY(dialog->isVisible());
    dialog->setTextValue(QStringLiteral("/r/python/hot.json"));
    dialog->accept();

    QTRY_COMPARE_WITH_TIMEOUT(answers.size(), 1, kTimeoutMs);
    const auto result = answers.first().first().value<DaemonConnection::ControlResult>();
    QVERIFY2(result.ok, qPrintable(result.message));
    QCOMPARE(result.action, DaemonConnection::ControlResult::Action::Evict);
    QCOMPARE(result.count, 1);
    QCOMPARE(result.json.value(QStringLiteral("evicted")).toInt(), 1);
    QVERIFY2(m_window->lastActionMessage().contains(QStringLiteral("Evicted 1")),
             qPrintable(m_window->lastActionMessage()));

    // The daemon really forgot it.
    cache.clear();
    m_load->get(QStringLiteral("/r/python/hot.json"), "tst-evict/1.0", [&](QByteArray c) { cache = c; });
    QTRY_COMPARE_WITH_TIMEOUT(cache, QByteArray("MISS"), kTimeoutMs);
}

void tst_GuiDashboard::clearAfterConfirmationReachesDaemon()
{
    m_load->stop();
    QTRY_VERIFY_WITH_TIMEOUT(m_window->connection()->lastStats().cacheEntries > 0, kTimeoutMs);

    QSignalSpy answers(m_window->connection(), &DaemonConnection::controlFinished);
    m_window->clearAction()->trigger();
    QMessageBox *box = m_window->clearConfirmation();
    QVERIFY(box);
    QVERIFY(box->isVisible());
    QVERIFY(box->text().contains(QString::number(m_port)));
    box->button(QMessageBox::Yes)->click();

    QTRY_COMPARE_WITH_TIMEOUT(answers.size(), 1, kTimeoutMs);
    const auto result = answers.first().first().value<DaemonConnection::ControlResult>();
    QVERIFY2(result.ok, qPrintable(result.message));
    QCOMPARE(result.action, DaemonConnection::ControlResult::Action::Clear);
    QVERIFY(result.count >= 1);
    // The daemon's own stats say the cache is empty.
    QTRY_COMPARE_WITH_TIMEOUT(m_window->connection()->lastStats().cacheEntries, quint64(0), kTimeoutMs);
    QTRY_COMPARE_WITH_TIMEOUT(m_window->summaryTiles()->value(SummaryTiles::Cache), QStringLiteral("0"), kTimeoutMs);
}

void tst_GuiDashboard::clearCancelledSendsNothing()
{
    QSignalSpy answers(m_window->connection(), &DaemonConnection::controlFinished);
    m_window->clearAction()->trigger();
    QMessageBox *box = m_window->clearConfirmation();
    QVERIFY(box);
    box->button(QMessageBox::Cancel)->click();
    QTRY_VERIFY(!m_window->clearConfirmation());
    QTest::qWait(200);
    QCOMPARE(answers.size(), 0);
}

void tst_GuiDashboard::copiesStatsSnapshot()
{
    QApplication::clipboard()->clear();
    m_window->copyStatsAction()->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(!QApplication::clipboard()->text().isEmpty(), kTimeoutMs);
    const QJsonObject json = QJsonDocument::fromJson(QApplication::clipboard()->text().toUtf8()).object();
    QVERIFY(json.contains(QStringLiteral("totals")));
    QVERIFY(json.contains(QStringLiteral("domains")));
    QCOMPARE(json.value(QStringLiteral("version")).toString(), QStringLiteral(PRAWMP_VERSION));
}

void tst_GuiDashboard::survivesDaemonRestart()
{
    m_load->start();
    DaemonConnection *connection = m_window->connection();
    QTRY_COMPARE_WITH_TIMEOUT(connection->state(), DaemonConnection::State::Connected, kTimeoutMs);
    const int connections = connection->connectionsMade();

    m_daemon->kill();
    QTRY_VERIFY_WITH_TIMEOUT(connection->state() != DaemonConnection::State::Connected, kTimeoutMs);
    QTRY_VERIFY_WITH_TIMEOUT(m_window->indicator()->text().contains(QStringLiteral("Retrying")), kTimeoutMs);

    QVERIFY2(startDaemon(*m_daemon, m_port), qPrintable(m_daemon->describe()));
    QTRY_COMPARE_WITH_TIMEOUT(connection->state(), DaemonConnection::State::Connected, kTimeoutMs);
    QCOMPARE(connection->connectionsMade(), connections + 1);
    const quint64 frames = connection->statsFrames();
    const quint64 logged = m_window->requestLog()->model()->totalAdded();
    QTRY_VERIFY_WITH_TIMEOUT(connection->statsFrames() >= frames + 3, kTimeoutMs);
    // The new daemon's requests reach the log and its uptime restarted.
    QTRY_VERIFY_WITH_TIMEOUT(m_window->requestLog()->model()->totalAdded() > logged, kTimeoutMs);
    QVERIFY(connection->lastStats().uptimeSeconds < 30);
    QVERIFY(!m_window->banner()->isVisible());
    QVERIFY(m_window->indicator()->text().startsWith(QStringLiteral("Connected to")));
}

void tst_GuiDashboard::aboutBoxShowsVersion()
{
    m_window->aboutAction()->trigger();
    QMessageBox *box = m_window->aboutBox();
    QVERIFY(box);
    QVERIFY(box->text().contains(QStringLiteral(PRAWMP_VERSION)));
    QVERIFY(!box->iconPixmap().isNull());
    QVERIFY(!m_window->windowIcon().isNull());
    box->accept();
    QTRY_VERIFY(!m_window->aboutBox());
}

void tst_GuiDashboard::aboutBoxShowsLicenceAndOffersAboutQt()
{
    m_window->aboutAction()->trigger();
    QMessageBox *box = m_window->aboutBox();
    QVERIFY(box);
    QVERIFY(box->text().contains(QStringLiteral("BSD 2-Clause")));
    // The full text, from the LICENSE file compiled in.
    QVERIFY(box->detailedText().startsWith(QStringLiteral("BSD 2-Clause License")));
    QVERIFY(box->detailedText().contains(QStringLiteral("Redistribution and use in source and binary forms")));

    QAbstractButton *aboutQt = nullptr;
    for (QAbstractButton *button : box->buttons()) {
        if (button->text().remove(u'&') == QStringLiteral("About Qt"))
            aboutQt = button;
    }
    QVERIFY2(aboutQt, "the About box has no About Qt button");
    // Qt's own About Qt box is modal: close it from inside its event loop.
    QString seenTitle;
    QTimer::singleShot(50, this, [&seenTitle] {
        if (auto *qtBox = qobject_cast<QMessageBox *>(QApplication::activeModalWidget())) {
            seenTitle = qtBox->windowTitle();
            qtBox->accept();
        }
    });
    aboutQt->click();
    QTRY_COMPARE(seenTitle, QStringLiteral("About Qt"));
    if (m_window->aboutBox())
        m_window->aboutBox()->accept();
    QTRY_VERIFY(!m_window->aboutBox());
}

void tst_GuiDashboard::followsPalette()
{
    const QPalette original = QApplication::palette();
    for (const QPalette &palette : {theme::darkPalette(), theme::lightPalette()}) {
        QApplication::setPalette(palette);
        QTRY_COMPARE(m_window->requestsChart()->chart()->backgroundBrush().color(), palette.color(QPalette::Base));
        QCOMPARE(m_window->queueChart()->chart()->titleBrush().color(), palette.color(QPalette::WindowText));
        QCOMPARE(theme::isDark(palette), palette == theme::darkPalette());
        // The series colours change with the palette's brightness.
        QCOMPARE(m_window->queueChart()->waitSeries()->pen().color(), theme::color(theme::Series::Wait, palette));
        // Something is drawn at all in both.
        QVERIFY(!m_window->grab().isNull());
    }
    QApplication::setPalette(original);
}

void tst_GuiDashboard::offersLocalDaemonWhenNoneAnswers()
{
    MainWindow window;
    window.connection()->setRetryDelays(100, 400);
    window.localDaemon()->setProgram(test::daemonProgram());
    window.show();
    const quint16 port = test::freeLoopbackPort();
    window.connectTo({QStringLiteral("127.0.0.1"), port, {}});

    QTRY_VERIFY_WITH_TIMEOUT(window.banner()->isVisible(), kTimeoutMs);
    QCOMPARE(window.connection()->lastFailure().kind, DaemonConnection::Failure::Kind::Refused);
    QVERIFY2(window.banner()->text().contains(QStringLiteral("No daemon answers")), qPrintable(window.banner()->text()));
    QVERIFY(window.banner()->actions().contains(window.startDaemonAction()));
    QVERIFY(window.indicator()->text().contains(QStringLiteral("connection refused")));

    // Closed by the user, the banner stays closed while the retries go on.
    QToolButton *close = window.banner()->findChild<QToolButton *>();
    QVERIFY(close);
    close->click();
    QVERIFY(!window.banner()->isVisible());
    const int attempts = window.connection()->failedAttempts();
    QTRY_VERIFY_WITH_TIMEOUT(window.connection()->failedAttempts() >= attempts + 2, kTimeoutMs);
    QVERIFY(!window.banner()->isVisible());

    window.startDaemonAction()->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(window.localDaemon()->isRunning(), kTimeoutMs);
    QTRY_COMPARE_WITH_TIMEOUT(window.connection()->state(), DaemonConnection::State::Connected, kTimeoutMs);
    QTRY_VERIFY_WITH_TIMEOUT(window.connection()->statsFrames() >= 1, kTimeoutMs);
    QVERIFY(!window.banner()->isVisible());

    window.stopDaemonAction()->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(!window.localDaemon()->isRunning(), kTimeoutMs);
    QTRY_VERIFY_WITH_TIMEOUT(window.connection()->state() != DaemonConnection::State::Connected, kTimeoutMs);
}

void tst_GuiDashboard::tokenIsSentAndNeverShown()
{
    const QString token = QStringLiteral("tst-proxy-token-9f3a");
    ProcessFixture daemon;
    const quint16 port = test::freeLoopbackPort();
    QVERIFY2(startDaemon(daemon, port, {QStringLiteral("--auth-token"), token}), qPrintable(daemon.describe()));

    MainWindow window;
    window.connection()->setRetryDelays(100, 400);
    window.show();
    window.connectTo({QStringLiteral("127.0.0.1"), port, {}});
    QTRY_COMPARE_WITH_TIMEOUT(window.connection()->lastFailure().kind, DaemonConnection::Failure::Kind::Unauthorized,
                              kTimeoutMs);
    QTRY_VERIFY_WITH_TIMEOUT(window.banner()->isVisible(), kTimeoutMs);
    QVERIFY(window.banner()->text().contains(QStringLiteral("token")));
    // A wrong token stays wrong: no retries until the user connects again,
    // and the status bar says why.
    QCOMPARE(window.connection()->state(), DaemonConnection::State::Disconnected);
    QVERIFY2(window.indicator()->text().contains(QStringLiteral("token")), qPrintable(window.indicator()->text()));
    QTest::qWait(500);
    QCOMPARE(window.connection()->state(), DaemonConnection::State::Disconnected);

    window.connectTo({QStringLiteral("127.0.0.1"), port, token}, /*rememberToken=*/false);
    QTRY_COMPARE_WITH_TIMEOUT(window.connection()->state(), DaemonConnection::State::Connected, kTimeoutMs);
    QSignalSpy answers(window.connection(), &DaemonConnection::controlFinished);
    window.clearCache();
    QTRY_COMPARE_WITH_TIMEOUT(answers.size(), 1, kTimeoutMs);
    QVERIFY(answers.first().first().value<DaemonConnection::ControlResult>().ok);

    // Nowhere on screen, nor in the settings when not asked to remember it.
    for (const QString &text : {window.windowTitle(), window.indicator()->text(), window.banner()->text(),
                                window.aboutText(), window.lastActionMessage()})
        QVERIFY2(!text.contains(token), qPrintable(text));
    const QList<QWidget *> widgets = window.findChildren<QWidget *>();
    for (QWidget *w : widgets)
        QVERIFY(!w->toolTip().contains(token));
    QSettings settings;
    for (const QString &key : settings.allKeys())
        QVERIFY2(!settings.value(key).toString().contains(token), qPrintable(key));
    QVERIFY(ServerHistory(settings).recent().first().token.isEmpty());

    // Remembered when asked.
    window.connectTo({QStringLiteral("127.0.0.1"), port, token}, /*rememberToken=*/true);
    QCOMPARE(ServerHistory(settings).recent().first().token, token);
    QVERIFY(ServerHistory(settings).recent().first().displayName() == QStringLiteral("127.0.0.1:%1").arg(port));
}

// Something that accepts connections and never answers (a hung daemon):
// the user's Clear fails with a message saying so, instead of waiting forever.
void tst_GuiDashboard::silentDaemonControlRequestFailsInTime()
{
    QTcpServer silent;
    QVERIFY(silent.listen(QHostAddress::LocalHost, 0));
    int requests = 0;
    connect(&silent, &QTcpServer::newConnection, &silent, [&] {
        while (QTcpSocket *socket = silent.nextPendingConnection())
            connect(socket, &QTcpSocket::readyRead, socket, [&requests, socket] {
                if (socket->readAll().contains("/_mp/clear"))
                    ++requests;
            });
    });

    MainWindow window;
    window.connection()->setRetryDelays(100, 400);
    window.connection()->setControlTimeoutMs(2000);
    window.show();
    window.connectTo({QStringLiteral("127.0.0.1"), silent.serverPort(), {}});
    QSignalSpy answers(window.connection(), &DaemonConnection::controlFinished);
    QSignalSpy actions(&window, &MainWindow::actionFinished);
    window.clearCache();
    QTRY_COMPARE_WITH_TIMEOUT(requests, 1, kTimeoutMs);
    QTRY_COMPARE_WITH_TIMEOUT(answers.size(), 1, kTimeoutMs);
    const auto result = answers.first().first().value<DaemonConnection::ControlResult>();
    QCOMPARE(result.action, DaemonConnection::ControlResult::Action::Clear);
    QVERIFY(!result.ok);
    QVERIFY2(result.message.contains(QStringLiteral("did not answer POST /_mp/clear within 2 seconds")),
             qPrintable(result.message));
    QCOMPARE(actions.size(), 1);
    QVERIFY2(window.lastActionMessage().startsWith(QStringLiteral("Clear failed: ")), qPrintable(window.lastActionMessage()));
    QVERIFY(window.lastActionMessage().contains(QStringLiteral("did not answer")));
}

QTEST_MAIN(tst_GuiDashboard)
#include "tst_gui_dashboard.moc"
