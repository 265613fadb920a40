#pragma once
#include <QUrl>
#include <QWidget>

class QLabel;
class QListWidget;
class QNetworkAccessManager;
class QTimer;

namespace prawmp {
class RateBudget;
}

// Shows the newest posts of a subreddit and refreshes them every few
// seconds. It knows QNetworkAccessManager only; whether its requests share a
// daemon's budget and cache is decided where the manager is created (main.cpp).
class SubredditWatcher : public QWidget
{
    Q_OBJECT
public:
    SubredditWatcher(QNetworkAccessManager *nam, const QUrl &listing, int intervalMs, QWidget *parent = nullptr);

    // Each refresh is also printed on stdout (for scripts and the test);
    // after `count` refreshes (0: never) the application quits.
    void setQuitAfter(int count) { m_quitAfter = count; }
    // Sent as "Authorization: bearer TOKEN" (never shown).
    void setToken(const QByteArray &token) { m_token = token; }
    // Shows this budget (the shared one, when the manager has it).
    void showBudget(prawmp::RateBudget *budget);

    void refresh();

private:
    void showAnswer(class QNetworkReply *reply);

    QNetworkAccessManager *m_nam;
    QUrl m_listing;
    QByteArray m_token;
    QListWidget *m_posts;
    QLabel *m_status;
    QLabel *m_budget;
    QTimer *m_timer;
    int m_refreshes = 0;
    int m_quitAfter = 0;
};
