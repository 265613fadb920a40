#pragma once
#include "DaemonConnection.h"
#include "ServerAddress.h"

#include <QMainWindow>
#include <QPointer>
#include <QSettings>

class QAction;
class QComboBox;
class QInputDialog;
class QMenu;
class QMessageBox;
class QSplitter;
class QTimer;

namespace prawmp::gui {

class BudgetChart;
class BudgetGauges;
class ClientsTable;
class ConnectDialog;
class ConnectionIndicator;
class HitRatioChart;
class LocalDaemon;
class QueueChart;
class RequestLogView;
class RequestsChart;
class StatusBanner;
class SummaryTiles;

// The dashboard window: headline tiles, four live charts, the connected
// clients and the recent requests of one daemon, with the actions on it
// (evict, clear, copy stats) and the connection to it. It owns the
// DaemonConnection and every widget; all dialogs are non-blocking (open()),
// so the event loop keeps drawing while one is up.
class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    explicit MainWindow(QWidget *parent = nullptr);
    ~MainWindow() override;

    // Connects (and keeps reconnecting) to `server`; remembers it as recent.
    void connectTo(const ServerAddress &server, bool rememberToken = false);
    ServerAddress server() const;

    // Without the dialogs (tests, scripts).
    void evictUrls(const QStringList &urls);
    void clearCache();

    // The dialogs, opened non-modally-blocking; the pointer while one is up.
    void showConnectDialog();
    void showEvictDialog(const QString &prefill = {});
    void confirmClearCache();
    void showAbout();
    ConnectDialog *connectDialog() const;
    QInputDialog *evictDialog() const;
    QMessageBox *clearConfirmation() const;
    QMessageBox *aboutBox() const;
    QString aboutText() const;
    // The project's licence (BSD-2-Clause), compiled in from LICENSE.
    static QString licenceText();

    void copyStatsSnapshot();
    void startLocalDaemon();
    void stopLocalDaemon();

    // Renders the window into an image file (PNG by extension).
    bool saveScreenshot(const QString &fileName);

    DaemonConnection *connection() const { return m_connection; }
    LocalDaemon *localDaemon() const { return m_localDaemon; }
    RequestsChart *requestsChart() const { return m_requestsChart; }
    HitRatioChart *hitRatioChart() const { return m_hitRatioChart; }
    BudgetChart *budgetChart() const { return m_budgetChart; }
    QueueChart *queueChart() const { return m_queueChart; }
    BudgetGauges *budgetGauges() const { return m_budgetGauges; }
    SummaryTiles *summaryTiles() const { return m_tiles; }
    ClientsTable *clientsTable() const { return m_clientsTable; }
    RequestLogView *requestLog() const { return m_requestLog; }
    StatusBanner *banner() const { return m_banner; }
    ConnectionIndicator *indicator() const { return m_indicator; }
    QString lastActionMessage() const { return m_lastActionMessage; }
    quint64 framesShown() const { return m_framesShown; }

    QAction *connectAction() const { return m_connectAction; }
    QAction *reconnectAction() const { return m_reconnectAction; }
    QAction *evictAction() const { return m_evictAction; }
    QAction *clearAction() const { return m_clearAction; }
    QAction *copyStatsAction() const { return m_copyStatsAction; }
    QAction *startDaemonAction() const { return m_startDaemonAction; }
    QAction *stopDaemonAction() const { return m_stopDaemonAction; }
    QAction *pauseLogAction() const { return m_pauseLogAction; }
    QAction *aboutAction() const { return m_aboutAction; }

signals:
    // Every stats frame once it is drawn into the widgets.
    void statsShown();
    // A control request (evict, clear, copy) came back; the message is in the status bar.
    void actionFinished(const QString &message);

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void createActions();
    void createMenus();
    void createToolBar();
    void createCentralWidget();
    void restoreSettings();
    void rebuildRecentServers();

    void onStats(const StatsSnapshot &stats);
    void onStateChanged(DaemonConnection::State state);
    void onFailed(const DaemonConnection::Failure &failure);
    void onControlFinished(const DaemonConnection::ControlResult &result);
    void updateIndicator();
    void setStale(bool stale);
    void reportAction(const QString &message);
    void showConnectionBanner(const DaemonConnection::Failure &failure);

    QSettings m_settings;
    DaemonConnection *m_connection = nullptr;
    LocalDaemon *m_localDaemon = nullptr;

    StatusBanner *m_banner = nullptr;
    SummaryTiles *m_tiles = nullptr;
    RequestsChart *m_requestsChart = nullptr;
    HitRatioChart *m_hitRatioChart = nullptr;
    BudgetChart *m_budgetChart = nullptr;
    BudgetGauges *m_budgetGauges = nullptr;
    QueueChart *m_queueChart = nullptr;
    ClientsTable *m_clientsTable = nullptr;
    RequestLogView *m_requestLog = nullptr;
    ConnectionIndicator *m_indicator = nullptr;
    QComboBox *m_serverBox = nullptr;
    QSplitter *m_mainSplitter = nullptr;
    QSplitter *m_tablesSplitter = nullptr;
    QMenu *m_recentMenu = nullptr;
    QTimer *m_countdown = nullptr;

    QAction *m_connectAction = nullptr;
    QAction *m_reconnectAction = nullptr;
    QAction *m_disconnectAction = nullptr;
    QAction *m_evictAction = nullptr;
    QAction *m_clearAction = nullptr;
    QAction *m_copyStatsAction = nullptr;
    QAction *m_startDaemonAction = nullptr;
    QAction *m_stopDaemonAction = nullptr;
    QAction *m_pauseLogAction = nullptr;
    QAction *m_filterAction = nullptr;
    QAction *m_aboutAction = nullptr;
    QAction *m_quitAction = nullptr;
    QAction *m_otherServerAction = nullptr;

    QPointer<ConnectDialog> m_connectDialog;
    QPointer<QInputDialog> m_evictDialog;
    QPointer<QMessageBox> m_clearConfirmation;
    QPointer<QMessageBox> m_aboutBox;

    bool m_everConnected = false; // to the current server
    bool m_bannerForConnection = false;
    bool m_connectionBannerClosed = false; // by the user: not raised again until connected

    bool m_copyPending = false;
    quint64 m_framesShown = 0;
    QString m_lastActionMessage;
};

} // namespace prawmp::gui
