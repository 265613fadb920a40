#include "SubredditWatcher.h"

#include <prawmp/RateBudget.h>

#include <QApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QListWidget>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTimer>
#include <QVBoxLayout>

#include <cstdio>

SubredditWatcher::SubredditWatcher(QNetworkAccessManager *nam, const QUrl &listing, int intervalMs, QWidget *parent)
    : QWidget(parent)
    , m_nam(nam)
    , m_listing(listing)
    , m_posts(new QListWidget(this))
    , m_status(new QLabel(tr("Loading..."), this))
    , m_budget(new QLabel(this))
    , m_timer(new QTimer(this))
{
    setWindowTitle(tr("Subreddit watcher: %1").arg(listing.path()));
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_posts);
    layout->addWidget(m_status);
    layout->addWidget(m_budget);
    m_budget->hide();
    m_timer->setInterval(intervalMs);
    connect(m_timer, &QTimer::timeout, this, &SubredditWatcher::refresh);
    m_timer->start();
}

void SubredditWatcher::showBudget(prawmp::RateBudget *budget)
{
    connect(budget, &prawmp::RateBudget::changed, m_budget, [this, budget] {
        m_budget->setText(tr("Budget: %1 of %2 left, window resets in %3 s")
                              .arg(budget->remaining()).arg(budget->budget()).arg(budget->resetSeconds()));
        m_budget->show();
        std::printf("budget: %d of %d left, reset in %d s\n", budget->remaining(), budget->budget(),
                    budget->resetSeconds());
        std::fflush(stdout);
    });
}

void SubredditWatcher::refresh()
{
    QNetworkRequest request(m_listing);
    request.setHeader(QNetworkRequest::UserAgentHeader, QByteArrayLiteral("qt:subreddit-watcher:1.0 (example)"));
    if (!m_token.isEmpty())
        request.setRawHeader("Authorization", "bearer " + m_token);
    QNetworkReply *reply = m_nam->get(request);
    connect(reply, &QNetworkReply::finished, this, [this, reply] {
        reply->deleteLater();
        showAnswer(reply);
    });
}

void SubredditWatcher::showAnswer(QNetworkReply *reply)
{
    ++m_refreshes;
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    // X-Cache comes from the daemon (HIT: no request spent); plain QNAM has none.
    const QByteArray cache = reply->hasRawHeader("X-Cache") ? reply->rawHeader("X-Cache") : QByteArray("-");
    if (reply->error() != QNetworkReply::NoError) {
        m_status->setText(tr("Error: %1").arg(reply->errorString()));
        std::printf("refresh %d: error %d %s\n", m_refreshes, int(reply->error()), qPrintable(reply->errorString()));
    } else {
        const QJsonArray children = QJsonDocument::fromJson(reply->readAll())
                                        .object().value(u"data").toObject().value(u"children").toArray();
        m_posts->clear();
        for (const QJsonValue &child : children)
            m_posts->addItem(child.toObject().value(u"data").toObject().value(u"title").toString());
        const bool cached = reply->attribute(QNetworkRequest::SourceIsFromCacheAttribute).toBool();
        m_status->setText(tr("%1 posts, %2").arg(children.size()).arg(cached ? tr("from the shared cache")
                                                                              : tr("fetched")));
        std::printf("refresh %d: %d %s %d posts, first: %s\n", m_refreshes, status, cache.constData(),
                    int(children.size()), children.isEmpty() ? "-" : qPrintable(m_posts->item(0)->text()));
    }
    std::fflush(stdout);
    if (m_quitAfter > 0 && m_refreshes >= m_quitAfter)
        QApplication::quit();
}
