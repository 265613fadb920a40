#include "MainWindow.h"

#include "BudgetChart.h"
#include "BudgetGauges.h"
#include "ClientsTable.h"
#include "ConnectDialog.h"
#include "ConnectionIndicator.h"
#include "HitRatioChart.h"
#include "LocalDaemon.h"
#include "QueueChart.h"
#include "RequestLogView.h"
#include "RequestsChart.h"
#include "StatusBanner.h"
#include "SummaryTiles.h"

#include <QAbstractButton>
#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QComboBox>
#include <QDateTime>
#include <QFile>
#include <QGridLayout>
#include <QIcon>
#include <QInputDialog>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QRegularExpression>
#include <QSplitter>
#include <QStatusBar>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>

// Resources of a static library are registered explicitly, at global scope.
static void initDashboardResources()
{
    Q_INIT_RESOURCE(dashboard);
}

namespace prawmp::gui {

namespace {

constexpr int kStatusMessageMs = 10'000;

QString formatUptime(double seconds)
{
    const qint64 s = qint64(seconds);
    if (s < 60)
        return QStringLiteral("%1 s").arg(s);
    if (s < 3600)
        return QStringLiteral("%1 min").arg(s / 60);
    if (s < 86400)
        return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60);
    return QStringLiteral("%1 d %2 h").arg(s / 86400).arg((s % 86400) / 3600);
}

QIcon applicationIcon()
{
    QIcon icon;
    for (int size : {16, 32, 48, 64, 128, 256})
        icon.addFile(QStringLiteral(":/icons/praw-multiprocess-%1.png").arg(size), QSize(size, size));
    return icon;
}

} // namespace

MainWindow::MainWindow(QWidget *parent) : QMainWindow(parent)
{
    initDashboardResources();
    setWindowIcon(applicationIcon());
    setWindowTitle(tr("praw-multiprocess dashboard"));

    m_connection = new DaemonConnection(this);
    m_localDaemon = new LocalDaemon(this);

    createActions();
    createCentralWidget();
    createMenus();
    createToolBar();

    m_indicator = new ConnectionIndicator(this);
    statusBar()->addPermanentWidget(m_indicator, 0);
    statusBar()->setSizeGripEnabled(true);

    m_countdown = new QTimer(this);
    m_countdown->setInterval(250);
    connect(m_countdown, &QTimer::timeout, this, &MainWindow::updateIndicator);

    connect(m_connection, &DaemonConnection::statsReceived, this, &MainWindow::onStats);
    connect(m_connection, &DaemonConnection::requestsReceived, m_requestLog, &RequestLogView::addRecords);
    connect(m_connection, &DaemonConnection::stateChanged, this, &MainWindow::onStateChanged);
    connect(m_connection, &DaemonConnection::failed, this, &MainWindow::onFailed);
    connect(m_connection, &DaemonConnection::controlFinished, this, &MainWindow::onControlFinished);

    connect(m_localDaemon, &LocalDaemon::listening, this, [this](quint16 port) {
        reportAction(tr("Local daemon started (pid %1) on port %2.").arg(m_localDaemon->processId()).arg(port));
        m_connection->open();
    });
    connect(m_localDaemon, &LocalDaemon::failed, this, [this](const QString &message) {
        m_startDaemonAction->setEnabled(true);
        m_stopDaemonAction->setEnabled(false);
        m_banner->showMessage(StatusBanner::Kind::Error, message, {m_startDaemonAction, m_connectAction});
        m_bannerForConnection = true;
    });
    connect(m_localDaemon, &LocalDaemon::stopped, this, [this] {
        m_startDaemonAction->setEnabled(true);
        m_stopDaemonAction->setEnabled(false);
        reportAction(tr("Local daemon stopped."));
    });

    restoreSettings();
    rebuildRecentServers();
    updateIndicator();
    setStale(true);
}

MainWindow::~MainWindow() = default;

ConnectDialog *MainWindow::connectDialog() const { return m_connectDialog; }
QInputDialog *MainWindow::evictDialog() const { return m_evictDialog; }
QMessageBox *MainWindow::clearConfirmation() const { return m_clearConfirmation; }
QMessageBox *MainWindow::aboutBox() const { return m_aboutBox; }

void MainWindow::createActions()
{
    m_connectAction = new QAction(tr("&Connect to Server…"), this);
    m_connectAction->setShortcut(QKeySequence(tr("Ctrl+L")));
    m_connectAction->setToolTip(tr("Choose the daemon to watch: host, port and token (Ctrl+L)"));
    connect(m_connectAction, &QAction::triggered, this, &MainWindow::showConnectDialog);

    m_otherServerAction = new QAction(tr("Connect to Another Server…"), this);
    connect(m_otherServerAction, &QAction::triggered, this, &MainWindow::showConnectDialog);

    m_reconnectAction = new QAction(tr("&Reconnect Now"), this);
    m_reconnectAction->setShortcut(QKeySequence::Refresh);
    m_reconnectAction->setToolTip(tr("Connect again at once instead of waiting for the next retry (F5)"));
    connect(m_reconnectAction, &QAction::triggered, this, [this] { m_connection->open(); });

    m_disconnectAction = new QAction(tr("&Disconnect"), this);
    connect(m_disconnectAction, &QAction::triggered, this, [this] { m_connection->close(); });

    m_evictAction = new QAction(tr("&Evict URL…"), this);
    m_evictAction->setShortcut(QKeySequence(tr("Ctrl+E")));
    m_evictAction->setToolTip(tr("Remove cached responses of some URLs from the daemon (Ctrl+E)"));
    connect(m_evictAction, &QAction::triggered, this, [this] { showEvictDialog(m_requestLog->selectedUrl()); });

    m_clearAction = new QAction(tr("C&lear Cache…"), this);
    m_clearAction->setShortcut(QKeySequence(tr("Ctrl+Shift+Del")));
    m_clearAction->setToolTip(tr("Remove every cached response from the daemon (Ctrl+Shift+Del)"));
    connect(m_clearAction, &QAction::triggered, this, &MainWindow::confirmClearCache);

    m_copyStatsAction = new QAction(tr("Copy &Stats Snapshot"), this);
    m_copyStatsAction->setShortcut(QKeySequence(tr("Ctrl+Shift+C")));
    m_copyStatsAction->setToolTip(tr("Copy the daemon's /_mp/stats JSON to the clipboard (Ctrl+Shift+C)"));
    connect(m_copyStatsAction, &QAction::triggered, this, &MainWindow::copyStatsSnapshot);

    m_startDaemonAction = new QAction(tr("&Start Local Daemon"), this);
    m_startDaemonAction->setToolTip(tr("Run praw-multiprocess on this machine, for as long as this window is open"));
    connect(m_startDaemonAction, &QAction::triggered, this, &MainWindow::startLocalDaemon);

    m_stopDaemonAction = new QAction(tr("S&top Local Daemon"), this);
    m_stopDaemonAction->setEnabled(false);
    connect(m_stopDaemonAction, &QAction::triggered, this, &MainWindow::stopLocalDaemon);

    m_pauseLogAction = new QAction(tr("&Pause Request Log"), this);
    m_pauseLogAction->setCheckable(true);
    m_pauseLogAction->setShortcut(QKeySequence(tr("Ctrl+Shift+P")));

    m_filterAction = new QAction(tr("&Filter Request Log"), this);
    m_filterAction->setShortcut(QKeySequence::Find);

    m_aboutAction = new QAction(tr("&About praw-multiprocess dashboard"), this);
    m_aboutAction->setShortcut(QKeySequence::HelpContents);
    connect(m_aboutAction, &QAction::triggered, this, &MainWindow::showAbout);

    m_quitAction = new QAction(tr("&Quit"), this);
    m_quitAction->setShortcut(QKeySequence::Quit);
    m_quitAction->setMenuRole(QAction::QuitRole);
    connect(m_quitAction, &QAction::triggered, this, &QWidget::close);
}

void MainWindow::createMenus()
{
    QMenu *server = menuBar()->addMenu(tr("&Server"));
    server->addAction(m_connectAction);
    m_recentMenu = server->addMenu(tr("Recent Servers"));
    server->addAction(m_reconnectAction);
    server->addAction(m_disconnectAction);
    server->addSeparator();
    server->addAction(m_startDaemonAction);
    server->addAction(m_stopDaemonAction);
    server->addSeparator();
    server->addAction(m_quitAction);

    QMenu *cache = menuBar()->addMenu(tr("&Cache"));
    cache->addAction(m_evictAction);
    cache->addAction(m_clearAction);
    cache->addSeparator();
    cache->addAction(m_copyStatsAction);

    QMenu *view = menuBar()->addMenu(tr("&View"));
    view->addAction(m_filterAction);
    view->addAction(m_pauseLogAction);

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->addAction(m_aboutAction);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::createToolBar()
{
    QToolBar *bar = addToolBar(tr("Main"));
    bar->setObjectName(QStringLiteral("mainToolBar"));
    bar->setMovable(false);
    bar->setToolButtonStyle(Qt::ToolButtonTextOnly);
    bar->addWidget(new QLabel(tr(" Server: "), bar));
    m_serverBox = new QComboBox(bar);
    m_serverBox->setEditable(true);
    m_serverBox->setInsertPolicy(QComboBox::NoInsert);
    m_serverBox->setMinimumContentsLength(22);
    m_serverBox->setToolTip(tr("host:port of the daemon; Enter to connect"));
    m_serverBox->lineEdit()->setPlaceholderText(QStringLiteral("localhost:10101"));
    const auto connectTyped = [this] {
        ServerAddress s = ServerAddress::parse(m_serverBox->currentText());
        if (!s.isValid())
            return;
        // A remembered token goes with its server.
        ServerHistory history(m_settings);
        for (const ServerAddress &r : history.recent()) {
            if (r.host == s.host && r.port == s.port)
                s.token = r.token;
        }
        if (s.host == server().host && s.port == server().port)
            s.token = server().token;
        connectTo(s, !s.token.isEmpty());
    };
    connect(m_serverBox->lineEdit(), &QLineEdit::returnPressed, this, connectTyped);
    connect(m_serverBox, &QComboBox::activated, this, connectTyped);
    bar->addWidget(m_serverBox);
    bar->addAction(m_connectAction);
    bar->addAction(m_reconnectAction);
    bar->addSeparator();
    bar->addAction(m_evictAction);
    bar->addAction(m_clearAction);
    bar->addAction(m_copyStatsAction);
    bar->addSeparator();
    bar->addAction(m_pauseLogAction);
}

void MainWindow::createCentralWidget()
{
    auto *central = new QWidget(this);
    auto *layout = new QVBoxLayout(central);
    layout->setContentsMargins(8, 6, 8, 4);
    layout->setSpacing(6);

    m_banner = new StatusBanner(central);
    m_tiles = new SummaryTiles(central);

    m_requestsChart = new RequestsChart;
    m_hitRatioChart = new HitRatioChart;
    m_budgetChart = new BudgetChart;
    m_queueChart = new QueueChart;
    m_budgetGauges = new BudgetGauges;
    auto *budgetCard = new QWidget;
    auto *budgetLayout = new QVBoxLayout(budgetCard);
    budgetLayout->setContentsMargins(0, 0, 0, 0);
    budgetLayout->setSpacing(4);
    budgetLayout->addWidget(m_budgetGauges);
    budgetLayout->addWidget(m_budgetChart, 1);

    auto *charts = new QWidget;
    auto *grid = new QGridLayout(charts);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->setSpacing(6);
    grid->addWidget(m_requestsChart, 0, 0);
    grid->addWidget(m_hitRatioChart, 0, 1);
    grid->addWidget(budgetCard, 1, 0);
    grid->addWidget(m_queueChart, 1, 1);
    grid->setColumnStretch(0, 3);
    grid->setColumnStretch(1, 2);

    m_clientsTable = new ClientsTable;
    m_requestLog = new RequestLogView;
    m_tablesSplitter = new QSplitter(Qt::Horizontal);
    m_tablesSplitter->setObjectName(QStringLiteral("tablesSplitter"));
    m_tablesSplitter->addWidget(m_clientsTable);
    m_tablesSplitter->addWidget(m_requestLog);
    m_tablesSplitter->setStretchFactor(0, 2);
    m_tablesSplitter->setStretchFactor(1, 3);
    m_tablesSplitter->setChildrenCollapsible(false);

    m_mainSplitter = new QSplitter(Qt::Vertical);
    m_mainSplitter->setObjectName(QStringLiteral("mainSplitter"));
    m_mainSplitter->addWidget(charts);
    m_mainSplitter->addWidget(m_tablesSplitter);
    m_mainSplitter->setStretchFactor(0, 3);
    m_mainSplitter->setStretchFactor(1, 2);
    m_mainSplitter->setChildrenCollapsible(false);

    layout->addWidget(m_banner);
    layout->addWidget(m_tiles);
    layout->addWidget(m_mainSplitter, 1);
    setCentralWidget(central);

    connect(m_clientsTable, &ClientsTable::filterRequested, m_requestLog, &RequestLogView::setFilterText);
    connect(m_requestLog, &RequestLogView::evictRequested, this, &MainWindow::showEvictDialog);
    connect(m_pauseLogAction, &QAction::toggled, m_requestLog, &RequestLogView::setPaused);
    connect(m_requestLog, &RequestLogView::pausedChanged, m_pauseLogAction, &QAction::setChecked);
    connect(m_banner, &StatusBanner::closedByUser, this, [this] {
        if (m_bannerForConnection)
            m_connectionBannerClosed = true;
    });
    connect(m_filterAction, &QAction::triggered, m_requestLog, &RequestLogView::focusFilter);
}

void MainWindow::restoreSettings()
{
    resize(1360, 880);
    restoreGeometry(m_settings.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(m_settings.value(QStringLiteral("window/state")).toByteArray());
    // First run: charts a little over half the height, the log wider than the clients.
    if (!m_mainSplitter->restoreState(m_settings.value(QStringLiteral("window/mainSplitter")).toByteArray()))
        m_mainSplitter->setSizes({600, 340});
    if (!m_tablesSplitter->restoreState(m_settings.value(QStringLiteral("window/tablesSplitter")).toByteArray()))
        m_tablesSplitter->setSizes({640, 800});
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    m_settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    m_settings.setValue(QStringLiteral("window/state"), saveState());
    m_settings.setValue(QStringLiteral("window/mainSplitter"), m_mainSplitter->saveState());
    m_settings.setValue(QStringLiteral("window/tablesSplitter"), m_tablesSplitter->saveState());
    m_settings.sync();
    QMainWindow::closeEvent(event);
}

void MainWindow::rebuildRecentServers()
{
    ServerHistory history(m_settings);
    const QList<ServerAddress> recent = history.recent();
    m_recentMenu->clear();
    const QString current = m_serverBox->currentText();
    m_serverBox->blockSignals(true);
    m_serverBox->clear();
    for (const ServerAddress &s : recent) {
        m_serverBox->addItem(s.displayName());
        m_recentMenu->addAction(s.displayName(), this, [this, s] { connectTo(s, !s.token.isEmpty()); });
    }
    m_serverBox->setEditText(m_connection->server().isValid() && m_connection->state() != DaemonConnection::State::Disconnected
                                 ? m_connection->server().displayName()
                                 : current);
    m_serverBox->blockSignals(false);
    m_recentMenu->setEnabled(!recent.isEmpty());
}

ServerAddress MainWindow::server() const
{
    return m_connection->server();
}

void MainWindow::connectTo(const ServerAddress &server, bool rememberToken)
{
    const ServerAddress previous = m_connection->server();
    const bool otherDaemon = previous.host != server.host || previous.port != server.port;
    m_connection->close();
    if (otherDaemon) {
        m_everConnected = false;
        for (TimeChartView *chart : std::initializer_list<TimeChartView *>{m_requestsChart, m_hitRatioChart,
                                                                          m_budgetChart, m_queueChart})
            chart->clearHistory();
        m_requestLog->model()->clear();
        m_clientsTable->setClients({});
        m_budgetGauges->setDomains({});
    }
    m_connection->setServer(server);
    ServerHistory(m_settings).remember(server, rememberToken);
    setWindowTitle(tr("%1 — praw-multiprocess dashboard").arg(server.displayName()));
    rebuildRecentServers();
    m_serverBox->setEditText(server.displayName());
    if (m_bannerForConnection)
        m_banner->dismiss();
    m_connectionBannerClosed = false;
    m_connection->open();
}

void MainWindow::onStats(const StatsSnapshot &stats)
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    m_requestsChart->addSample(now, stats);
    m_hitRatioChart->addSample(now, stats);
    m_budgetChart->addSample(now, stats);
    m_queueChart->addSample(now, stats);
    m_budgetGauges->setDomains(stats.domains);
    m_tiles->setStats(stats, m_hitRatioChart->recentRatio(), m_queueChart->lastMeanWaitMs());
    m_clientsTable->setClients(stats.clients);
    ++m_framesShown;
    updateIndicator();
    emit statsShown();
}

void MainWindow::setStale(bool stale)
{
    m_tiles->setStale(stale);
    m_clientsTable->setStale(stale);
    m_budgetGauges->setStale(stale);
}

void MainWindow::onStateChanged(DaemonConnection::State state)
{
    const bool connected = state == DaemonConnection::State::Connected;
    setStale(!connected);
    m_evictAction->setEnabled(connected);
    m_clearAction->setEnabled(connected);
    m_disconnectAction->setEnabled(state != DaemonConnection::State::Disconnected);
    if (connected) {
        m_everConnected = true;
        m_connectionBannerClosed = false;
        if (m_bannerForConnection) {
            m_banner->dismiss();
            m_bannerForConnection = false;
        }
    }
    if (state == DaemonConnection::State::Retrying)
        m_countdown->start();
    else
        m_countdown->stop();
    updateIndicator();
}

void MainWindow::onFailed(const DaemonConnection::Failure &failure)
{
    // A daemon that restarts comes back within a retry or two: say so in
    // the status bar only, and raise the banner if it stays away.
    const bool transient = m_everConnected && m_connection->failedAttempts() < 2
                           && failure.kind != DaemonConnection::Failure::Kind::Unauthorized;
    if (!transient)
        showConnectionBanner(failure);
    updateIndicator();
}

void MainWindow::showConnectionBanner(const DaemonConnection::Failure &failure)
{
    using Kind = DaemonConnection::Failure::Kind;
    const ServerAddress s = m_connection->server();
    if (m_connectionBannerClosed)
        return; // the status bar still says what is going on
    m_bannerForConnection = true;
    if (failure.kind == Kind::Refused && s.isLoopback()) {
        if (m_localDaemon->isRunning()) {
            m_banner->showMessage(StatusBanner::Kind::Info, tr("Waiting for the local daemon to listen on %1…")
                                                                .arg(s.displayName()));
            return;
        }
        m_banner->showMessage(StatusBanner::Kind::Warning,
                              tr("No daemon answers on %1. Start one on this machine? It runs as long as this "
                                 "window is open. The dashboard keeps trying to connect meanwhile.")
                                  .arg(s.displayName()),
                              {m_startDaemonAction, m_otherServerAction});
        return;
    }
    if (failure.kind == Kind::Unauthorized) {
        m_banner->showMessage(StatusBanner::Kind::Error, failure.message, {m_connectAction});
        return;
    }
    const bool retrying = m_connection->state() != DaemonConnection::State::Disconnected;
    m_banner->showMessage(StatusBanner::Kind::Error,
                          retrying ? failure.message + QLatin1Char(' ') + tr("The dashboard keeps trying to connect.")
                                   : failure.message,
                          {m_reconnectAction, m_otherServerAction});
}

void MainWindow::updateIndicator()
{
    const ServerAddress s = m_connection->server();
    const DaemonConnection::State state = m_connection->state();
    QString text;
    bool failing = false;
    switch (state) {
    case DaemonConnection::State::Disconnected:
        if (m_connection->lastFailure().kind != DaemonConnection::Failure::Kind::None) {
            // Given up (a refused token, not a daemon): say why.
            text = m_connection->lastFailure().message;
            failing = true;
            break;
        }
        text = s.isValid() && m_connection->connectionsMade() > 0 ? tr("Disconnected from %1").arg(s.displayName())
                                                                  : tr("Not connected");
        break;
    case DaemonConnection::State::Connecting:
        text = tr("Connecting to %1…").arg(s.displayName());
        failing = m_connection->lastFailure().kind != DaemonConnection::Failure::Kind::None;
        break;
    case DaemonConnection::State::Retrying: {
        const int seconds = (m_connection->retryInMs() + 999) / 1000;
        text = tr("%1 Retrying in %2 s…").arg(m_connection->lastFailure().message).arg(seconds);
        failing = true;
        break;
    }
    case DaemonConnection::State::Connected: {
        text = tr("Connected to %1").arg(s.displayName());
        if (m_connection->hasStats()) {
            const StatsSnapshot &st = m_connection->lastStats();
            text += tr(" · daemon %1 · up %2 · %3").arg(st.version, formatUptime(st.uptimeSeconds), st.rateMode);
            if (!st.redisState.isEmpty() && st.redisState != QLatin1String("off"))
                text += tr(" · redis %1").arg(st.redisState);
        }
        break;
    }
    }
    m_indicator->setState(state, text, failing);
}

void MainWindow::reportAction(const QString &message)
{
    m_lastActionMessage = message;
    statusBar()->showMessage(message, kStatusMessageMs);
    emit actionFinished(message);
}

void MainWindow::onControlFinished(const DaemonConnection::ControlResult &result)
{
    using Action = DaemonConnection::ControlResult::Action;
    switch (result.action) {
    case Action::Evict:
        reportAction(result.ok ? tr("Evicted %n cached response(s).", nullptr, result.count)
                               : tr("Evict failed: %1").arg(result.message));
        break;
    case Action::Clear:
        reportAction(result.ok ? tr("Cache cleared: %n response(s) removed.", nullptr, result.count)
                               : tr("Clear failed: %1").arg(result.message));
        break;
    case Action::Stats: {
        if (!m_copyPending)
            break;
        m_copyPending = false;
        QJsonObject json = result.ok ? result.json : m_connection->lastStatsJson();
        if (json.isEmpty()) {
            reportAction(tr("No stats to copy: %1").arg(result.message));
            break;
        }
        QApplication::clipboard()->setText(QString::fromUtf8(QJsonDocument(json).toJson(QJsonDocument::Indented)));
        reportAction(result.ok ? tr("Stats snapshot copied to the clipboard.")
                               : tr("Copied the last stats frame (the daemon did not answer: %1).").arg(result.message));
        break;
    }
    }
}

void MainWindow::evictUrls(const QStringList &urls)
{
    if (urls.isEmpty())
        return;
    m_connection->evict(urls);
}

void MainWindow::clearCache()
{
    m_connection->clearCache();
}

void MainWindow::copyStatsSnapshot()
{
    m_copyPending = true;
    m_connection->fetchStats();
}

void MainWindow::showConnectDialog()
{
    if (m_connectDialog) {
        m_connectDialog->raise();
        return;
    }
    m_connectDialog = new ConnectDialog(ServerHistory(m_settings).recent(), m_connection->server(), this);
    m_connectDialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(m_connectDialog, &QDialog::accepted, this, [this] {
        const ServerAddress s = m_connectDialog->server();
        if (s.isValid())
            connectTo(s, m_connectDialog->rememberToken());
    });
    m_connectDialog->open();
}

void MainWindow::showEvictDialog(const QString &prefill)
{
    if (m_evictDialog) {
        m_evictDialog->raise();
        return;
    }
    m_evictDialog = new QInputDialog(this);
    m_evictDialog->setAttribute(Qt::WA_DeleteOnClose);
    m_evictDialog->setWindowTitle(tr("Evict from the cache"));
    m_evictDialog->setLabelText(tr("URLs to evict from %1, one per line.\nA path such as /r/python/hot.json "
                                   "(routed as clients' requests are) or a full URL.")
                                    .arg(m_connection->server().displayName()));
    m_evictDialog->setOption(QInputDialog::UsePlainTextEditForTextInput);
    m_evictDialog->setTextValue(prefill);
    m_evictDialog->setOkButtonText(tr("Evict"));
    connect(m_evictDialog, &QInputDialog::textValueSelected, this, [this](const QString &text) {
        static const QRegularExpression space(QStringLiteral("\\s+"));
        evictUrls(text.split(space, Qt::SkipEmptyParts));
    });
    m_evictDialog->open();
}

void MainWindow::confirmClearCache()
{
    if (m_clearConfirmation) {
        m_clearConfirmation->raise();
        return;
    }
    const quint64 entries = m_connection->hasStats() ? m_connection->lastStats().cacheEntries : 0;
    m_clearConfirmation = new QMessageBox(QMessageBox::Question, tr("Clear the cache?"),
                                          tr("Remove all %1 cached responses from the daemon at %2?")
                                              .arg(entries)
                                              .arg(m_connection->server().displayName()),
                                          QMessageBox::Yes | QMessageBox::Cancel, this);
    m_clearConfirmation->setInformativeText(
        tr("Clients will fetch them from upstream again, which spends rate budget."));
    m_clearConfirmation->button(QMessageBox::Yes)->setText(tr("Clear Cache"));
    m_clearConfirmation->setDefaultButton(QMessageBox::Cancel);
    m_clearConfirmation->setAttribute(Qt::WA_DeleteOnClose);
    QMessageBox *box = m_clearConfirmation;
    connect(box, &QMessageBox::buttonClicked, this, [this, box](QAbstractButton *button) {
        if (box->standardButton(button) == QMessageBox::Yes)
            clearCache();
    });
    m_clearConfirmation->open();
}

QString MainWindow::aboutText() const
{
    QString daemon;
    if (m_connection->hasStats())
        daemon = tr("<p>Connected daemon: %1, version %2.</p>")
                     .arg(m_connection->server().displayName().toHtmlEscaped(),
                          m_connection->lastStats().version.toHtmlEscaped());
    return tr("<h3>praw-multiprocess dashboard %1</h3>"
              "<p>Watches a praw-multiprocess daemon: the shared Reddit API rate budget, the response "
              "cache and the programs that use them.</p>%2"
              "<p>Built with Qt %3 (running on Qt %4).</p>"
              "<p>Free software under the BSD 2-Clause licence, as PRAW is "
              "(<i>Show Details</i> for its text). Qt is used under the LGPL-3 "
              "(<i>About Qt</i>).</p>")
        .arg(QStringLiteral(PRAWMP_VERSION), daemon, QStringLiteral(QT_VERSION_STR), QString::fromLatin1(qVersion()));
}

QString MainWindow::licenceText()
{
    QFile licence(QStringLiteral(":/doc/LICENSE"));
    return licence.open(QIODevice::ReadOnly) ? QString::fromUtf8(licence.readAll()) : QString();
}

void MainWindow::showAbout()
{
    if (m_aboutBox) {
        m_aboutBox->raise();
        return;
    }
    m_aboutBox = new QMessageBox(this);
    m_aboutBox->setWindowTitle(tr("About praw-multiprocess dashboard"));
    m_aboutBox->setTextFormat(Qt::RichText);
    m_aboutBox->setText(aboutText());
    m_aboutBox->setIconPixmap(windowIcon().pixmap(64, 64));
    m_aboutBox->setDetailedText(licenceText());
    m_aboutBox->setStandardButtons(QMessageBox::Ok);
    QAbstractButton *aboutQt = m_aboutBox->addButton(tr("About &Qt"), QMessageBox::HelpRole);
    connect(aboutQt, &QAbstractButton::clicked, qApp, &QApplication::aboutQt);
    m_aboutBox->setAttribute(Qt::WA_DeleteOnClose);
    m_aboutBox->open();
}

void MainWindow::startLocalDaemon()
{
    const ServerAddress s = m_connection->server();
    if (!s.isLoopback()) {
        m_banner->showMessage(StatusBanner::Kind::Error,
                              tr("A daemon can only be started for a server on this machine (localhost)."),
                              {m_connectAction});
        return;
    }
    m_startDaemonAction->setEnabled(false);
    m_stopDaemonAction->setEnabled(true);
    m_banner->showMessage(StatusBanner::Kind::Info, tr("Starting praw-multiprocess on %1…").arg(s.displayName()));
    m_bannerForConnection = true;
    m_localDaemon->start(s.host, s.port);
}

void MainWindow::stopLocalDaemon()
{
    m_localDaemon->stop();
}

bool MainWindow::saveScreenshot(const QString &fileName)
{
    m_requestLog->flush();
    return grab().save(fileName);
}

} // namespace prawmp::gui
